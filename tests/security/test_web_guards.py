"""Console-wide guards: login CSRF, spoofed notices, security headers."""

import pytest
from fastapi.testclient import TestClient

from tests.app.test_web_organizer import EVENT_FORM

ORGANIZER = {"username": "org.guard", "password": "long enough 1", "role": "organizer"}


@pytest.fixture
def web(client: TestClient) -> TestClient:
    """A browser-like client of the same app with an organizer account to sign in with."""
    assert client.post("/api/v1/users", json=ORGANIZER).status_code == 201
    return TestClient(client.app, raise_server_exceptions=False)


LOGIN = {"username": ORGANIZER["username"], "password": ORGANIZER["password"]}


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/forms/login.html"},  # a browser that sends no Origin
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
@pytest.mark.parametrize(
    "path,form",
    [
        ("/login", LOGIN),
        ("/signup", {"username": "victim.x", "password": "long enough 1", "display_name": "x"}),
        ("/api/v1/auth/login", None),
    ],
)
def test_sign_in_and_sign_up_from_another_site_are_refused(
    web: TestClient, headers: dict, path: str, form: dict | None
) -> None:
    """Login CSRF: another site must not sign the victim's browser into the attacker's account."""
    if form is None:
        r = web.post(path, json=LOGIN, headers=headers, follow_redirects=False)
    else:
        r = web.post(path, data=form, headers=headers, follow_redirects=False)
    assert r.status_code == 403 and "跨站" in r.json()["message_zh"]
    assert not web.cookies.get("chainmatch_session")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://testserver"},
        {"Referer": "http://testserver/login"},
        {"Sec-Fetch-Site": "same-origin"},
    ],
)
def test_sign_in_from_this_site_or_a_script_still_works(web: TestClient, headers: dict) -> None:
    r = web.post("/login", data=LOGIN, headers=headers, follow_redirects=False)
    assert r.status_code == 303 and web.cookies.get("chainmatch_session")


def test_a_notice_in_the_url_is_not_shown(web: TestClient) -> None:
    """?msg= on any console page showed attacker-chosen text as an official notice."""
    web.post("/login", data=LOGIN)
    spoof = "您的账号已冻结，请致电 400-000-0000 解冻"
    for path in ("/organizer", "/login"):
        page = web.get(path, params={"msg": spoof})
        assert page.status_code == 200 and spoof not in page.text


def test_a_redirect_notice_shows_once(web: TestClient) -> None:
    web.post("/login", data=LOGIN)
    r = web.post("/organizer/events", data=EVENT_FORM, follow_redirects=False)
    assert r.status_code == 303 and "msg=" not in r.headers["location"]
    r = web.get(r.headers["location"])
    notice = r.text.split('class="notice"', 1)
    assert len(notice) == 2, "the redirect's notice shows on the page it leads to"
    assert 'class="notice"' not in web.get("/organizer").text  # once only


@pytest.mark.parametrize("path", ["/login", "/organizer", "/api/v1/health", "/docs"])
def test_pages_and_api_answers_carry_the_security_headers(web: TestClient, path: str) -> None:
    web.post("/login", data=LOGIN)
    r = web.get(path)
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
