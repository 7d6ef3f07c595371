"""Console plumbing: a page that answers with an error keeps nothing the handler wrote."""

from fastapi import Request
from fastapi.testclient import TestClient

from app.deps import SessionDep
from app.routers.web.common import render
from app.schemas.leader import LeaderCreate
from app.services import leaders
from tests.factories import leader_payload


def test_an_error_page_rolls_back_what_the_handler_wrote(client: TestClient) -> None:
    app = client.app

    @app.post("/_test/write-then-refuse/{status}")
    def write_then_refuse(status: int, request: Request, session: SessionDep):
        leaders.create(session, LeaderCreate.model_validate(leader_payload(name=f"留下{status}")))
        return render(request, "web/forbidden.html", status_code=status)

    assert client.post("/_test/write-then-refuse/422").status_code == 422
    assert client.post("/_test/write-then-refuse/200").status_code == 200
    names = {x["name"] for x in client.get("/api/v1/leaders?limit=200").json()["items"]}
    assert "留下200" in names and "留下422" not in names


def test_highlight_escapes_and_marks_longest_terms() -> None:
    from app.routers.web.common import highlight_terms

    html = str(highlight_terms("<b>焊接件</b> & 焊接 lt", ["焊接", "焊接件", "lt", "amp"]))
    assert html == (
        "&lt;b&gt;<mark>焊接件</mark>&lt;/b&gt; &amp; <mark>焊接</mark> <mark>lt</mark>"
    )
    assert str(highlight_terms("IGBT模块", ["igbt"])) == "<mark>IGBT</mark>模块"
    assert str(highlight_terms(None, ["x"])) == ""


def test_console_writes_from_another_site_are_refused(client: TestClient) -> None:
    client.post(
        "/api/v1/users",
        json={"username": "org.x", "password": "long enough 1", "role": "organizer"},
    )
    web = TestClient(client.app, raise_server_exceptions=False)
    r = web.post("/login", data={"username": "org.x", "password": "long enough 1"})
    assert r.status_code == 200 and web.cookies.get("chainmatch_session")
    forged = web.post("/logout", headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert forged.status_code == 403 and "跨站" in forged.json()["message_zh"]
    assert web.get("/organizer").status_code == 200  # the session survived
    own = web.post("/logout", headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert own.status_code == 303


def test_a_domain_error_on_any_console_page_is_one_html_page_and_rolls_back(
    client: TestClient,
) -> None:
    from app.errors import NotFound
    from tests.app.webforms import account

    app = client.app

    @app.post("/_test/write-then-missing")
    def write_then_missing(session: SessionDep):
        leaders.create(session, LeaderCreate.model_validate(leader_payload(name="不该留下")))
        raise NotFound("gone", "该记录不存在")

    r = client.post("/_test/write-then-missing")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert "该记录不存在" in r.text and "返回首页" in r.text
    names = {x["name"] for x in client.get("/api/v1/leaders?limit=200").json()["items"]}
    assert "不该留下" not in names
    # A signed-in organizer gets the page with the way back to its own pages.
    web = account(client, "organizer.zhao", "organizer")
    page = web.get("/organizer/events/99999")
    assert page.status_code == 404 and 'href="/organizer/events"' in page.text
    assert "不存在" in page.text
    # The API keeps its JSON answers.
    api = client.get("/api/v1/events/99999")
    assert api.status_code == 404 and api.json()["message_zh"]


def test_a_bad_id_in_a_console_link_is_the_error_page_not_json(client) -> None:
    """Validation errors on console pages go to the one HTML error handler; the API keeps JSON."""
    from tests.app.webforms import account

    web = account(client, "bad.link.sme", "sme")
    page = web.get("/sme/needs/abc")
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "输入有误" in page.text and "<h1>无法完成操作</h1>" in page.text
    api = client.get("/api/v1/demands/abc")
    assert api.status_code == 422 and api.json()["error"] == "validation_error"
