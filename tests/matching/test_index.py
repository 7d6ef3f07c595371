import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.index import VectorIndex, top_k


def unit_rows(n: int, dim: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_search_equals_brute_force() -> None:
    x = unit_rows(500, 16)
    index = VectorIndex(16, capacity=4)  # forces growth
    index.upsert(list(range(500)), x)
    q = unit_rows(1, 16, seed=1)[0]
    ids, scores = index.search(q, 10)
    expected = np.argsort(-(x @ q))[:10]
    assert ids == expected.tolist()
    assert np.allclose(scores, (x @ q)[expected])


def test_upsert_replaces_and_remove_moves_last_row() -> None:
    x = unit_rows(5, 8)
    index = VectorIndex(8)
    index.upsert(["a", "b", "c", "d", "e"], x)
    index.upsert(["b"], x[4:5])
    assert np.allclose(index.vector("b"), x[4])
    index.remove(["a", "zzz"])
    assert len(index) == 4 and "a" not in index
    assert np.allclose(index.vector("e"), x[4]) and np.allclose(index.vector("c"), x[2])
    ids, _ = index.search(x[2], 1)
    assert ids == ["c"]


def test_batch_matches_single() -> None:
    x = unit_rows(200, 12)
    index = VectorIndex(12)
    index.upsert(list(range(200)), x)
    queries = unit_rows(5, 12, seed=3)
    for (ids, scores), q in zip(index.search_batch(queries, 7), queries, strict=True):
        single_ids, single_scores = index.search(q, 7)
        assert ids == single_ids and np.allclose(scores, single_scores)


def test_top_k_edges() -> None:
    assert top_k(np.array([], dtype=np.float32), 5).size == 0
    assert top_k(np.array([0.1, 0.9, 0.5]), 10).tolist() == [1, 2, 0]
    assert top_k(np.array([0.1, 0.9, 0.5]), 0).size == 0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=40))
def test_random_upserts_and_removes_stay_consistent(ops: list[str]) -> None:
    index = VectorIndex(4, capacity=1)
    model: dict[str, np.ndarray] = {}
    rng = np.random.default_rng(0)
    for i, key in enumerate(ops):
        if i % 3 == 2 and key in model:
            index.remove([key])
            del model[key]
        else:
            v = rng.standard_normal(4).astype(np.float32)
            index.upsert([key], v[None, :])
            model[key] = v
    assert sorted(index.ids) == sorted(model)
    for key, v in model.items():
        assert np.allclose(index.vector(key), v)
