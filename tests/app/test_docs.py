"""The API docs work without internet access and declare the bearer scheme."""

from fastapi.testclient import TestClient


def test_docs_are_served_locally(anon_client: TestClient) -> None:
    page = anon_client.get("/docs")
    assert page.status_code == 200
    assert "/swagger-ui/swagger-ui-bundle.js" in page.text and "cdn" not in page.text
    js = anon_client.get("/swagger-ui/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    schema = anon_client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    smes = schema["paths"]["/api/v1/smes"]["get"]
    assert smes["security"] == [{"HTTPBearer": []}]
    assert "security" not in schema["paths"]["/api/v1/health"]["get"]
