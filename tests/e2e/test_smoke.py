"""The browser, the live server and the screenshots work together."""

import re

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.e2e.browser import platform_fonts


def test_health_page_shows_the_service_is_up(live_server, page, screenshot) -> None:
    response = page.goto(f"{live_server.api}/health")
    assert response is not None and response.status == 200
    body = page.locator("body")
    expect(body).to_be_visible()
    expect(body).to_contain_text('"status":"ok"')
    expect(body).to_contain_text('"taxonomy_version":"sd-2022"')
    assert screenshot(page, "smoke-health").stat().st_size > 0


def test_docs_page_and_its_schema_load(live_server, page) -> None:
    response = page.goto(f"{live_server.base_url}/docs")
    assert response is not None and response.status == 200
    expect(page).to_have_title(re.compile("链配 chainmatch"))
    # FastAPI's Swagger UI loads its script and CSS from cdn.jsdelivr.net, which the page
    # fixtures block: the page is served, whether it renders is not checked here.
    expect(page.locator("#swagger-ui")).to_be_attached()

    page.goto(f"{live_server.base_url}/openapi.json")
    expect(page.locator("body")).to_contain_text("链配 chainmatch")


def test_phone_page_has_the_phone_viewport(live_server, phone_page) -> None:
    # /docs carries <meta name="viewport" content="width=device-width">; a mobile page without
    # it is laid out 980 px wide, as on a real phone.
    phone_page.goto(f"{live_server.base_url}/docs")
    assert phone_page.evaluate("[innerWidth, navigator.language]") == [390, "zh-CN"]
    assert phone_page.evaluate("matchMedia('(pointer: coarse)').matches")


def test_server_runs_on_its_own_database(live_server, database_url) -> None:
    assert live_server.database_url != database_url
    assert httpx.get(f"{live_server.api}/health").json()["status"] == "ok"


def test_requests_off_the_local_server_are_blocked_and_logged(page, page_log) -> None:
    with pytest.raises(PlaywrightError, match="ERR_INTERNET_DISCONNECTED"):
        page.goto("https://cdn.example.com/lib.js")
    assert page_log.blocked == ["https://cdn.example.com/lib.js"]


def test_uncaught_script_errors_are_logged(page, page_log) -> None:
    page.set_content("<p>链配</p><script>throw new Error('boom')</script>")
    expect(page.locator("p")).to_have_text("链配")
    page.wait_for_function("true")
    assert any("boom" in e for e in page_log.errors)


def test_chinese_text_renders_in_the_simplified_chinese_font(page, screenshot) -> None:
    # Without fonts-noto-cjk Chromium draws boxes (tofu) and no assertion on text notices.
    page.set_content(
        "<html lang='zh-CN'><p id='t' style='font-size:32px'>链配 山东省标志性产业链 专精特新</p>"
    )
    # (Without lang="zh-CN" Chromium here picks "Noto Sans CJK JP": Japanese glyph forms.)
    assert platform_fonts(page, "#t") == ["Noto Sans CJK SC"]
    screenshot(page, "smoke-cjk")


def test_the_admin_token_authenticates(live_server) -> None:
    me = httpx.get(f"{live_server.api}/auth/me", headers=live_server.admin_headers)
    assert me.status_code == 200, me.text
    assert httpx.get(f"{live_server.api}/auth/me").status_code == 401
