"""The encoding queue's progress (texts done, rate, time left), read sessions, batch invariance."""

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.repositories import matching as repo
from app.services import match_docs
from app.services.matching import EncodeProgress, MatchingRuntime, _encoding_text
from models import SmeProfile
from tests.factories import sme_payload

PROGRESS_FIELDS = {
    "encoding_active",
    "encoding_done",
    "encoding_total",
    "encoding_rate",
    "encoding_eta_seconds",
    "encoding_started_at",
    "encoding_finished_at",
    "encoding_threads",
}


@pytest.fixture
def runtime(client: TestClient) -> MatchingRuntime:
    return client.app.state.matching


def bulk(client: TestClient, n: int, **overrides: Any) -> list[int]:
    rows = [
        sme_payload(
            name=f"进度测试{i}机械有限公司", products=["液压阀", f"阀体{i % 2}"], **overrides
        )
        for i in range(n)
    ]
    r = client.post("/api/v1/smes/bulk", json=rows)
    assert r.status_code == 201, r.text
    return r.json()["ids"] if isinstance(r.json(), dict) else r.json()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_rate_and_time_left_over_a_recent_window() -> None:
    clock = FakeClock()
    p = EncodeProgress(window=10, clock=clock)
    assert p.snapshot()["encoding_rate"] is None
    p.start(100)
    clock.now = 2
    p.advance(10)
    snap = p.snapshot()
    assert snap["encoding_active"] and snap["encoding_done"] == 10
    assert snap["encoding_total"] == 100
    assert snap["encoding_rate"] == pytest.approx(5.0)
    assert snap["encoding_eta_seconds"] == pytest.approx(90 / 5.0)
    # The database's backlog (every process's) wins over this process's own count.
    assert p.snapshot(pending=45)["encoding_eta_seconds"] == pytest.approx(9.0)
    # Only the last window counts: the machine got slower.
    for t in range(3, 30):
        clock.now = t
        p.advance(1)
    assert p.snapshot()["encoding_rate"] == pytest.approx(1.0)
    clock.now = 100  # nothing finished for a whole window while running: no honest rate
    assert p.snapshot()["encoding_rate"] is None
    p.finish()
    assert not p.snapshot()["encoding_active"] and p.snapshot()["encoding_finished_at"]


def test_status_shows_progress_after_encoding(client: TestClient, runtime: MatchingRuntime) -> None:
    status = client.get("/api/v1/index/status").json()
    assert set(status) >= PROGRESS_FIELDS
    assert status["encoding_done"] == 0 and status["encoding_active"] is False
    bulk(client, 4)
    assert client.get("/api/v1/index/status").json()["pending_encodings"] == 4
    assert runtime.encode_pending() == 4
    runtime.sync()  # what the poll loop does
    status = client.get("/api/v1/index/status").json()
    assert status["pending_encodings"] == 0
    assert status["encoding_done"] == 4 and status["encoding_total"] == 4
    assert status["encoding_active"] is False and status["encoding_finished_at"]
    assert status["encoding_eta_seconds"] is None  # nothing left
    assert status["encoding_rate"] is None or status["encoding_rate"] > 0
    # the existing fields stay
    assert status["encoded_by_this_process"] == 4 and status["profiles_with_vectors"] >= 4


def test_status_during_a_run_counts_down(
    client: TestClient, runtime: MatchingRuntime, monkeypatch
) -> None:
    monkeypatch.setattr(runtime.settings, "encode_batch", 2)
    bulk(client, 5)
    seen: list[dict] = []
    assert runtime.encode_pending(progress=lambda n: seen.append(runtime.status())) == 5
    assert [s["encoding_done"] for s in seen] == [2, 4, 5]
    assert [s["pending_encodings"] for s in seen] == [3, 1, 0]
    assert all(s["encoding_active"] and s["encoding_total"] == 5 for s in seen)
    for s in seen[:-1]:  # time left is the backlog over the rate, when a rate is known
        if s["encoding_rate"]:
            assert s["encoding_eta_seconds"] == pytest.approx(
                s["pending_encodings"] / s["encoding_rate"], rel=0.01, abs=0.06
            )


class CountingFactory:
    """A session factory that counts the sessions it opens."""

    def __init__(self, inner) -> None:
        self.inner, self.opened = inner, 0

    def __call__(self, **kw):
        self.opened += 1
        return self.inner(**kw)


def test_status_and_sync_read_with_the_read_factory(settings, session_factory, client) -> None:
    bulk(client, 2)
    writes, reads = CountingFactory(session_factory), CountingFactory(session_factory)
    rt = MatchingRuntime(settings, writes, read_session_factory=reads)
    try:
        rt.load()
        writes_after_load = writes.opened
        assert writes_after_load >= 1 and reads.opened == 0
        rt.status()
        rt.sync()
        assert writes.opened == writes_after_load and reads.opened == 2
        plain = MatchingRuntime(settings, session_factory)
        assert plain.read_session_factory is session_factory
        plain.stop()
    finally:
        rt.stop()


def test_vectors_do_not_depend_on_batching(
    client: TestClient, runtime: MatchingRuntime, session_factory, monkeypatch
) -> None:
    """Each text alone, and 32 at a time with repeated products: the same stored vectors."""
    ids = bulk(client, 6)
    monkeypatch.setattr(runtime.settings, "encode_batch", 32)
    assert runtime.encode_pending() == 6
    with session_factory() as session:
        together = {
            i: repo.from_bytes(e.vector)
            for i, e in repo.embeddings_for(session, "sme", ids, runtime.encoder.name).items()
        }
        repo.delete_embeddings(session, runtime.encoder.name)
        session.commit()
    monkeypatch.setattr(runtime.settings, "encode_batch", 1)
    runtime.passage_cache.clear()
    assert runtime.encode_pending() >= 6
    with session_factory() as session:
        stored = repo.embeddings_for(session, "sme", ids, runtime.encoder.name)
        for i in ids:
            alone = repo.from_bytes(stored[i].vector).reshape(-1, stored[i].dim)
            both = together[i].reshape(-1, stored[i].dim)
            assert alone.shape == both.shape == (3, stored[i].dim)  # profile + 2 products
            assert np.min(np.sum(alone * both, axis=1)) > 1 - 1e-5


def test_plain_rows_give_the_orm_encoding_text(client: TestClient, session_factory) -> None:
    """Start-up reads profiles with Core queries: the same text (and hash) as the ORM model."""
    ids = bulk(client, 3, certifications=["CRCC", "ISO 9001"])
    with session_factory() as session:
        rows = repo.profile_rows(session, ids)
        repo.attach_profile_parts(session, rows, everything=False)
        for sme in session.scalars(select(SmeProfile).where(SmeProfile.id.in_(ids))):
            text = _encoding_text(match_docs.profile_doc(rows[sme.id]))
            assert text == match_docs.sme_encoding_text(sme)
            assert match_docs.text_hash(text) == sme.match_text_hash
            assert match_docs.profile_doc(rows[sme.id]) == match_docs.profile_doc(sme)
