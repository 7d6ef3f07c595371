"""The change-log cursor (each change applied once, late commits caught) and the settled heap."""

from datetime import timedelta

from app.services.matching import LOOKBACK, ChangeCursor
from models import utcnow

T0 = utcnow()


def test_ids_in_order_are_each_fresh_once() -> None:
    cursor = ChangeCursor()
    assert cursor.start([1, 2, 3], 3, T0) == {1, 2, 3}
    assert cursor.high == 3 and cursor.ranges() == []
    assert cursor.advance([4, 5], T0) == {4, 5}
    assert cursor.advance([], T0) == set() and cursor.high == 5


def test_a_lower_id_committed_later_is_applied_once() -> None:
    cursor = ChangeCursor()
    cursor.start([], 4, T0)
    # 6 is written but not committed yet when 5 and 7 are read: it is awaited.
    assert cursor.advance([5, 7], T0) == {5, 7}
    assert (6, 6) in cursor.ranges()
    assert cursor.advance([6, 8], T0 + timedelta(seconds=1)) == {6, 8}
    # The gap's range is read again on later polls: 6 is not applied twice.
    assert cursor.advance([6, 9], T0 + timedelta(seconds=2)) == {9}


def test_a_rolled_back_id_is_given_up_after_the_lookback() -> None:
    cursor = ChangeCursor()
    cursor.start([], 0, T0)
    cursor.advance([1, 3], T0)
    assert cursor.ranges() == [(2, 2)]
    cursor.advance([4], T0 + LOOKBACK + timedelta(seconds=1))
    assert cursor.ranges() == [] and cursor.high == 4


def test_the_first_poll_awaits_ids_below_its_window() -> None:
    cursor = ChangeCursor()
    # The window read ids 10 and 12; 11 and anything below 10 may still commit.
    assert cursor.start([10, 12], 12, T0) == {10, 12}
    assert cursor.ranges() == [(1, 9), (11, 11)]
    assert cursor.advance([9, 11, 13], T0) == {9, 11, 13}
    assert cursor.advance([9, 11], T0) == set()
    # An empty log: nothing awaited, the next id is fresh.
    empty = ChangeCursor()
    assert empty.start([], 0, T0) == set() and empty.ranges() == []
    assert empty.advance([1], T0) == {1}


def test_the_loaded_index_is_kept_out_of_full_collections(settings, session_factory) -> None:
    import gc

    from app.services.matching import MatchingRuntime

    gc.unfreeze()
    runtime = MatchingRuntime(settings.model_copy(update={"gc_freeze": True}), session_factory)
    try:
        runtime.load()
        assert gc.get_freeze_count() > 0
        assert "settle" in runtime.load_timings
    finally:
        gc.unfreeze()
        runtime.stop()


def test_a_bulk_write_reaches_another_process_whole_in_chunks(
    client, settings, session_factory, monkeypatch
) -> None:
    from app.services import matching
    from app.services.matching import MatchingRuntime
    from tests.factories import sme_payload

    other = MatchingRuntime(settings, session_factory)
    other.load()
    other.sync()
    monkeypatch.setattr(matching, "SYNC_CHUNK", 2)
    monkeypatch.setattr(matching, "SYNC_PAUSE", 0)
    r = client.post("/api/v1/smes/bulk", json=[sme_payload() for _ in range(5)])
    assert r.status_code == 201, r.text
    assert other.sync() == 5
    assert set(r.json()["ids"]) <= set(other.matcher.profiles)
    assert other.sync() == 0  # nothing read twice
    other.stop()
