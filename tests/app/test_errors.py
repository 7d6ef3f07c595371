import json

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app


def test_malformed_json_is_422(client: TestClient) -> None:
    r = client.post(
        "/api/v1/smes", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "json_invalid"
    assert r.json()["detail"][0]["msg_zh"] == "JSON 格式错误"


def test_wrong_types_are_422(client: TestClient) -> None:
    r = client.post("/api/v1/smes", json=["a list"])
    assert r.status_code == 422
    r = client.get("/api/v1/smes/not-a-number")
    assert r.status_code == 422
    r = client.patch("/api/v1/smes/1", json={"description": "x"}, headers={"If-Match": "abc"})
    assert r.status_code == 422


def test_body_size_limit(settings: Settings, session_factory) -> None:
    app = create_app(settings.model_copy(update={"max_body_bytes": 1000}))
    app.state.session_factory = session_factory
    with TestClient(app) as c:
        r = c.post(
            "/api/v1/smes/bulk",
            content=b"[" + b" " * 2000 + b"]",
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 413
        assert "上限" in r.json()["message_zh"]


def test_openapi_documents_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in [
        "/api/v1/health",
        "/api/v1/chains",
        "/api/v1/chains/{code}",
        "/api/v1/smes",
        "/api/v1/smes/bulk",
        "/api/v1/smes/{sme_id}",
        "/api/v1/leaders",
        "/api/v1/leaders/{leader_id}",
        "/api/v1/demands",
        "/api/v1/demands/bulk",
        "/api/v1/demands/{demand_id}",
    ]:
        assert path in paths, path


def test_ids_beyond_the_database_range_are_422(client: TestClient) -> None:
    huge = "93107510206504992768"
    for method, url in [
        ("GET", f"/api/v1/demands/{huge}/matches"),
        ("GET", f"/api/v1/smes/{huge}"),
        ("PATCH", f"/api/v1/meetings/{huge}"),
        ("GET", f"/api/v1/events/{huge}"),
    ]:
        r = client.request(method, url, json={} if method == "PATCH" else None)
        assert r.status_code == 422, (url, r.status_code)
    r = client.post(
        "/api/v1/demands", json={"leader_id": int(huge), "title": "x", "demand_type": "服务"}
    )
    assert r.status_code == 422


def test_nul_and_lone_surrogates_are_422(client: TestClient) -> None:
    payload = {"name": "甲\u0000公司", "city": "青岛市", "tier": "小巨人", "products": ["\ud83d阀"]}
    r = client.post(
        "/api/v1/smes",
        content=json.dumps(payload),  # ASCII escapes carry the lone surrogate through
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["detail"]}
    assert {"name", "products"} <= fields
    assert "空字符" in r.json()["detail"][0]["msg_zh"]
    assert client.get("/api/v1/chains/%00").status_code == 422
    assert client.get("/api/v1/smes", params={"q": "a\u0000b"}).status_code == 422
    assert client.get("/api/v1/smes?q=%ff%fe").status_code == 422
