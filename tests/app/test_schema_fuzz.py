"""A bounded schemathesis run over the whole OpenAPI schema against a real server process with
the demo data: no input may cause a 5xx."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT
from tests.app.test_scale_out import _free_port, _wait
from tests.dbutil import fresh_database, migrate

pytest.importorskip("schemathesis")
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    with fresh_database(tmp) as url:
        migrate(url)
        env = {
            **os.environ,
            "CHAINMATCH_DATABASE_URL": url,
            "CHAINMATCH_ENCODER": "hashing",
            "CHAINMATCH_INDEX_POLL_SECONDS": "0",
            "CHAINMATCH_ENCODE_POLL_SECONDS": "0",
        }
        cli = [sys.executable, "-m", "app.cli"]
        subprocess.run(
            [*cli, "seed-demo"], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True
        )
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(f"{base}/api/v1/health", time.monotonic() + 60)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=20)


def test_no_input_causes_a_server_error(base_url: str) -> None:
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{base_url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "10",
            "--workers",
            "1",
            "--seed",
            "20261122",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:]
