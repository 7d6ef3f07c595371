"""A real uvicorn process of the app for tests that need one (scale-out, kill, fuzz)."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from app.config import PROJECT_ROOT

# The static admin token of test servers and test clients.
ADMIN_TOKEN = "test-admin-token"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def server_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a test server: hashing encoder, given database, extra settings."""
    env = {
        **os.environ,
        "CHAINMATCH_DATABASE_URL": database_url,
        "CHAINMATCH_ENCODER": "hashing",
        "CHAINMATCH_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    env.update({f"CHAINMATCH_{k.upper()}": v for k, v in settings.items()})
    return env


@contextmanager
def running_server(
    env: dict[str, str], stderr=subprocess.DEVNULL
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start `uvicorn app.main:app` on a free port; yield its /api/v1 base URL and process."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        wait_healthy(f"{base}/health", time.monotonic() + 60)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)
