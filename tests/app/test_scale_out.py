"""Two API processes on one database stay in step, and no write is encoded twice."""

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
from tests.servers import ADMIN_HEADERS, running_server, server_env

http = httpx.Client(headers=ADMIN_HEADERS)


@pytest.fixture
def two_instances(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with fresh_database(tmp_path) as url:
        migrate(url)
        engine = make_engine(url)
        with unit_of_work(make_session_factory(engine)) as session:
            taxonomy.load_taxonomy_dir(session, PROJECT_ROOT / "data" / "chains", "sd-2022")
        engine.dispose()
        env = server_env(url, index_poll_seconds="0.5", encode_poll_seconds="0.5")
        with running_server(env) as (a, _), running_server(env) as (b, _):
            yield a, b


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
    r = http.post(f"{a}/leaders", json=leader_payload())
    assert r.status_code == 201, r.text
    leader = r.json()
    demand = http.post(
        f"{a}/demands", json=demand_payload(leader["id"], title="转向架构架焊接件配套")
    ).json()
    sme = http.post(
        f"{a}/smes",
        json=sme_payload(products=["转向架构架焊接件"], certifications=["CRCC"]),
    )
    assert sme.status_code == 201, sme.text
    sme_id = sme.json()["id"]

    def ranked_by_b() -> bool:
        r = http.get(f"{b}/demands/{demand['id']}/matches")
        return r.status_code == 200 and sme_id in [x["sme_id"] for x in r.json()["items"]]

    assert _poll(ranked_by_b), "instance B never ranked the profile written through A"

    # A bulk write through B is encoded exactly once across both processes.
    before = sum(http.get(f"{x}/index/status").json()["encoded_by_this_process"] for x in (a, b))
    rows = [sme_payload(name=f"横向扩展企业{i}有限公司") for i in range(6)]
    assert http.post(f"{b}/smes/bulk", json=rows).status_code == 201

    def drained() -> bool:
        return all(http.get(f"{x}/index/status").json()["pending_encodings"] == 0 for x in (a, b))

    assert _poll(drained, 30)
    after = sum(http.get(f"{x}/index/status").json()["encoded_by_this_process"] for x in (a, b))
    assert after - before == 6

    def both_have_vectors() -> bool:
        return all(
            http.get(f"{x}/index/status").json()["profiles_with_vectors"] == 7 for x in (a, b)
        )

    assert _poll(both_have_vectors)
    # and a delete through B disappears from A's rankings
    assert http.delete(f"{b}/smes/{sme_id}").status_code == 204
    assert _poll(lambda: not ranked_by_b()) is True
    gone_from_a = _poll(
        lambda: (
            sme_id
            not in [
                x["sme_id"] for x in http.get(f"{a}/demands/{demand['id']}/matches").json()["items"]
            ]
        )
    )
    assert gone_from_a
