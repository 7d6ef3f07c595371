"""Fixtures for the e2e tests: a live server on its own database, Chromium pages, screenshots.

    def test_x(live_server, page, screenshot):
        page.goto(f"{live_server.base_url}/")
        screenshot(page, "home")

Chromium is Debian's (/usr/bin/chromium, or CHAINMATCH_CHROMIUM). Without it (or without
playwright) the tests are skipped, except when CI or CHAINMATCH_E2E_REQUIRED is set: there they
fail, so CI cannot pass without running them.
"""

import contextlib
import os
import secrets
import shutil
import subprocess
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT
from app.db import make_engine, make_session_factory, unit_of_work
from app.services import taxonomy
from tests.dbutil import fresh_database, migrate
from tests.servers import running_server, server_env


def _required() -> bool:
    """Whether a missing browser fails the run instead of skipping (CI must run these)."""
    return bool(os.environ.get("CI") or os.environ.get("CHAINMATCH_E2E_REQUIRED"))


try:
    from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

    from tests.e2e import browser as chromium
except ImportError as exc:  # the dev extras are not installed
    if _required():
        raise
    # Outside CI, leave the e2e tests out with a warning instead of breaking collection.
    collect_ignore_glob = ["test_*.py"]
    warnings.warn(
        pytest.PytestWarning(f"tests/e2e left out, playwright is not installed: {exc}"),
        stacklevel=1,
    )

E2E_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e `e2e` (so `-m 'not e2e'` leaves them out)."""
    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the item, for the failure screenshot in `page`."""
    report = yield
    setattr(item, f"e2e_report_{report.when}", report)
    return report


def _unavailable(message: str) -> None:
    if _required():
        pytest.fail(f"{message} (CI or CHAINMATCH_E2E_REQUIRED is set)", pytrace=False)
    pytest.skip(message)


# --- the server ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveServer:
    """A uvicorn process of the app on a migrated database with the chain taxonomy."""

    base_url: str  # http://127.0.0.1:PORT
    api: str  # http://127.0.0.1:PORT/api/v1
    admin_token: str  # sent as CHAINMATCH_ADMIN_TOKEN
    database_url: str
    log_path: Path  # the server's stderr
    process: subprocess.Popen = field(repr=False)

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real server on its own fresh database (not the one the other tests share)."""
    tmp = tmp_path_factory.mktemp("e2e")
    with fresh_database(tmp) as url:
        migrate(url)
        engine = make_engine(url)
        with unit_of_work(make_session_factory(engine)) as session:
            taxonomy.load_taxonomy_dir(session, PROJECT_ROOT / "data" / "chains", "sd-2022")
        engine.dispose()
        token = secrets.token_urlsafe(24)
        env = server_env(
            url,
            admin_token=token,
            demo="0",
            index_poll_seconds="0.5",
            encode_poll_seconds="0.5",
        )
        log_path = tmp / "server.log"
        with (
            log_path.open("wb") as log,
            running_server(env, stderr=log) as (api, process),
        ):
            yield LiveServer(
                base_url=api.removesuffix("/api/v1"),
                api=api,
                admin_token=token,
                database_url=url,
                log_path=log_path,
                process=process,
            )


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator["Browser"]:
    """Headless Chromium from the system, shared by the whole run."""
    wanted = chromium.chromium_path()
    executable = shutil.which(wanted)
    if executable is None:
        _unavailable(
            f"no Chromium at {wanted}: apt-get install chromium fonts-noto-cjk, "
            "or point CHAINMATCH_CHROMIUM at one"
        )
    with sync_playwright() as playwright:
        browser = chromium.launch(playwright, executable)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageLog:
    """What went wrong on the test's pages besides assertions."""

    blocked: list[str] = field(default_factory=list)  # aborted non-local request URLs
    errors: list[str] = field(default_factory=list)  # uncaught JavaScript exceptions


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def make_context(
    browser: "Browser", page_log: PageLog
) -> Iterator[Callable[..., "BrowserContext"]]:
    """Open contexts: make_context() desktop, make_context(phone=True) 390x844 mobile.

    Keyword arguments go to Browser.new_context; all are closed after the test.
    """
    contexts: list[BrowserContext] = []

    def make(*, phone: bool = False, **overrides) -> "BrowserContext":
        context = chromium.new_context(
            browser, phone=phone, on_blocked=page_log.blocked.append, **overrides
        )
        context.on("weberror", lambda e: page_log.errors.append(str(e.error)))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def _page(request: pytest.FixtureRequest, context: "BrowserContext", name: str) -> Iterator["Page"]:
    page = context.new_page()
    yield page
    report = getattr(request.node, "e2e_report_call", None)
    if report is not None and report.failed and not page.is_closed():
        # The screenshot is a courtesy: it must never mask the failure.
        with contextlib.suppress(Exception):
            chromium.save_screenshot(page, f"FAILED-{request.node.name}-{name}")
    page.close()


@pytest.fixture
def page(request: pytest.FixtureRequest, make_context) -> Iterator["Page"]:
    """A fresh page in a new 1280x900 zh-CN context."""
    yield from _page(request, make_context(), "desktop")


@pytest.fixture
def phone_page(request: pytest.FixtureRequest, make_context) -> Iterator["Page"]:
    """A fresh page in a new phone-size (390x844, mobile, touch) zh-CN context."""
    yield from _page(request, make_context(phone=True), "phone")


@pytest.fixture
def screenshot() -> Callable[["Page", str], Path]:
    """screenshot(page, name): a full-page PNG at var/screenshots/<name>.png; returns the path."""
    return chromium.save_screenshot
