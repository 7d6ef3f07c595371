"""Two API processes on one database stay in step, and no write is encoded twice."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import PROJECT_ROOT
from app.db import make_engine, make_session_factory, unit_of_work
from app.services import taxonomy
from tests.dbutil import fresh_database, migrate
from tests.factories import demand_payload, leader_payload, sme_payload


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


@pytest.fixture
def two_instances(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with fresh_database(tmp_path) as url:
        migrate(url)
        engine = make_engine(url)
        with unit_of_work(make_session_factory(engine)) as session:
            taxonomy.load_taxonomy_dir(session, PROJECT_ROOT / "data" / "chains", "sd-2022")
        engine.dispose()
        env = {
            **os.environ,
            "CHAINMATCH_DATABASE_URL": url,
            "CHAINMATCH_ENCODER": "hashing",
            "CHAINMATCH_INDEX_POLL_SECONDS": "0.5",
            "CHAINMATCH_ENCODE_POLL_SECONDS": "0.5",
        }
        procs, bases = [], []
        with contextlib.ExitStack() as logs:
            for i in range(2):
                port = _free_port()
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port)],
                        cwd=PROJECT_ROOT,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=logs.enter_context(open(tmp_path / f"server{i}.log", "wb")),
                    )
                )
                bases.append(f"http://127.0.0.1:{port}/api/v1")
            try:
                for base in bases:
                    _wait(f"{base}/health", time.monotonic() + 60)
                yield bases[0], bases[1]
            finally:
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    proc.wait(timeout=20)


def _poll(fn, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.25)
    return fn()


def test_a_profile_written_through_one_instance_is_ranked_by_the_other(
    two_instances: tuple[str, str],
) -> None:
    a, b = two_instances
    r = httpx.post(f"{a}/leaders", json=leader_payload())
    assert r.status_code == 201, r.text
    leader = r.json()
    need = httpx.post(
        f"{a}/demands", json=demand_payload(leader["id"], title="转向架构架焊接件配套")
    ).json()
    sme = httpx.post(
        f"{a}/smes",
        json=sme_payload(products=["转向架构架焊接件"], certifications=["CRCC"]),
    )
    assert sme.status_code == 201, sme.text
    sme_id = sme.json()["id"]

    def ranked_by_b() -> bool:
        r = httpx.get(f"{b}/demands/{need['id']}/matches")
        return r.status_code == 200 and sme_id in [x["sme_id"] for x in r.json()["items"]]

    assert _poll(ranked_by_b), "instance B never ranked the profile written through A"

    # A bulk write through B is encoded exactly once across both processes.
    before = sum(httpx.get(f"{x}/index/status").json()["encoded_by_this_process"] for x in (a, b))
    rows = [sme_payload(name=f"横向扩展企业{i}有限公司") for i in range(6)]
    assert httpx.post(f"{b}/smes/bulk", json=rows).status_code == 201

    def drained() -> bool:
        return all(httpx.get(f"{x}/index/status").json()["pending_encodings"] == 0 for x in (a, b))

    assert _poll(drained, 30)
    after = sum(httpx.get(f"{x}/index/status").json()["encoded_by_this_process"] for x in (a, b))
    assert after - before == 6

    def both_have_vectors() -> bool:
        return all(
            httpx.get(f"{x}/index/status").json()["profiles_with_vectors"] == 7 for x in (a, b)
        )

    assert _poll(both_have_vectors)
    # and a delete through B disappears from A's rankings
    assert httpx.delete(f"{b}/smes/{sme_id}").status_code == 204
    assert _poll(lambda: not ranked_by_b()) is True
    gone_from_a = _poll(
        lambda: (
            sme_id
            not in [
                x["sme_id"] for x in httpx.get(f"{a}/demands/{need['id']}/matches").json()["items"]
            ]
        )
    )
    assert gone_from_a
