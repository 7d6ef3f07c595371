import math

import pytest

from matching.evaluation import evaluate, ndcg_at_k, recall_at_k, reciprocal_rank


def test_ndcg_perfect_and_reversed() -> None:
    judged = {"a": 3, "b": 2, "c": 0}
    assert ndcg_at_k(["a", "b", "c"], judged) == pytest.approx(1.0)
    worse = ndcg_at_k(["c", "b", "a"], judged)
    expected = (3 / math.log2(3) + 7 / math.log2(4)) / (7 + 3 / math.log2(3))
    assert worse == pytest.approx(expected)
    assert ndcg_at_k(["x"], {}) == 0.0


def test_recall_and_mrr() -> None:
    judged = {"a": 3, "b": 2, "c": 1}
    assert recall_at_k(["z", "b"], judged, k=50) == 0.5
    assert reciprocal_rank(["z", "c", "b"], judged) == pytest.approx(1 / 3)
    assert reciprocal_rank(["z"], judged) == 0.0


def test_evaluate_averages_over_judged_queries() -> None:
    scores = evaluate({"q1": ["a"], "q2": ["b"], "q3": ["c"]}, {"q1": {"a": 3}, "q2": {"a": 3}})
    assert scores.queries == 2
    assert scores.ndcg10 == pytest.approx(0.5) and scores.mrr == pytest.approx(0.5)
