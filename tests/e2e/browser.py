"""Launching the system Chromium and making contexts and screenshots for the e2e tests.

Playwright drives the browser Debian installs (`apt-get install chromium`); nothing is
downloaded, `playwright install` is never run.
"""

import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Page, Playwright

from app.config import PROJECT_ROOT

DEFAULT_CHROMIUM = "/usr/bin/chromium"
SCREENSHOT_DIR = PROJECT_ROOT / "var" / "screenshots"

# --no-sandbox: the suite runs as root, where Chromium's sandbox refuses to start.
# The background-networking, component-update, sync and QUIC flags stop Chromium phoning
# home; on the closed network those connections are refused and only add noise and delay.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 1,
}
# Hosts a page may load from; anything else (a CDN, say) is aborted and recorded.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Milliseconds a locator or navigation waits before the test fails (Playwright's is 30 s).
TIMEOUT_MS = 10_000


def chromium_path() -> str:
    """The Chromium executable: CHAINMATCH_CHROMIUM, else Debian's /usr/bin/chromium."""
    return os.environ.get("CHAINMATCH_CHROMIUM") or DEFAULT_CHROMIUM


def launch(playwright: Playwright, executable: str) -> Browser:
    return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)


def _is_external(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS


def new_context(
    browser: Browser,
    *,
    phone: bool = False,
    on_blocked: Callable[[str], None] | None = None,
    **overrides,
) -> BrowserContext:
    """A context in zh-CN at desktop (1280x900) or phone (390x844, mobile) size.

    Requests to any host but the local server are aborted (the machines are offline, and a
    page should not need a CDN); `on_blocked` is told each aborted URL.
    """
    options = {**(PHONE if phone else DESKTOP), "locale": "zh-CN", **overrides}
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)

    def abort(route) -> None:
        if on_blocked is not None:
            on_blocked(route.request.url)
        route.abort("internetdisconnected")

    context.route(_is_external, abort)
    return context


def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name, flags=re.UNICODE).strip("-") or "page"


def save_screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as var/screenshots/<name>.png and return its path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{_slug(name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def platform_fonts(page: Page, selector: str) -> list[str]:
    """The system font families Chromium actually drew the first `selector` match with.

    Without fonts-noto-cjk Chinese comes out as boxes; without <html lang="zh-CN"> it is
    drawn in "Noto Sans CJK JP" (Japanese glyph forms) rather than "Noto Sans CJK SC".
    """
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        if not node:
            raise LookupError(selector)
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        return [f["familyName"] for f in fonts]
    finally:
        cdp.detach()
