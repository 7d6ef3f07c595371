"""A bounded schemathesis run over the whole OpenAPI schema against a real server process with
the demo data: no input may cause a 5xx."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT
from tests.dbutil import fresh_database, migrate
from tests.servers import ADMIN_TOKEN, running_server, server_env

pytest.importorskip("schemathesis")
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    with fresh_database(tmp) as url:
        migrate(url)
        env = server_env(url, index_poll_seconds="0", encode_poll_seconds="0")
        subprocess.run(
            [sys.executable, "-m", "app.cli", "seed-demo"],
            cwd=PROJECT_ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        with running_server(env) as (base, _):
            yield base.removesuffix("/api/v1")


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
            "--header",
            f"Authorization: Bearer {ADMIN_TOKEN}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:]
