"""Choosing fusion weights on labelled data: coordinate ascent on mean nDCG@10."""

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from matching.evaluation import ndcg_at_k
from matching.features import COMPONENTS, FusionWeights

# Values each weight may take during the search.
GRID = {
    "dense": (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
    "lexical": (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0),
    "terms": (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0),
    "link": (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5),
    "certificates": (0.0, 0.1, 0.25, 0.5, 1.0),
    "tier": (0.0, 0.25, 0.5, 1.0, 2.0),
    "region": (0.0, 0.1, 0.25, 0.5, 1.0),
    "capacity": (0.0, 0.1, 0.25, 0.5),
    "supplied": (0.0, 0.1, 0.25, 0.5),
    "must_missing": (0.5, 1.0, 2.0, 3.0, 5.0),
}


@dataclass
class QueryFeatures:
    """Candidate ids and their component matrix for one query."""

    ids: Sequence[Hashable]
    matrix: np.ndarray  # rows: candidates, columns: COMPONENTS


def _signs() -> np.ndarray:
    return np.array([-1.0 if c == "must_missing" else 1.0 for c in COMPONENTS])


def mean_ndcg(
    queries: Mapping[Hashable, QueryFeatures],
    qrels: Mapping[Hashable, Mapping[Hashable, int]],
    weights: FusionWeights,
) -> float:
    """Mean nDCG@10 of the rankings the weights produce."""
    w = np.array([getattr(weights, c) for c in COMPONENTS]) * _signs()
    total = 0.0
    for q, feats in queries.items():
        scores = feats.matrix @ w
        order = np.argsort(-scores, kind="stable")[:10]
        total += ndcg_at_k([feats.ids[i] for i in order], qrels.get(q, {}), 10)
    return total / max(len(queries), 1)


def coordinate_ascent(
    queries: Mapping[Hashable, QueryFeatures],
    qrels: Mapping[Hashable, Mapping[Hashable, int]],
    start: FusionWeights | None = None,
    rounds: int = 4,
) -> tuple[FusionWeights, float]:
    """Improve one weight at a time over GRID until no change helps."""
    best = start or FusionWeights()
    best_score = mean_ndcg(queries, qrels, best)
    for _ in range(rounds):
        improved = False
        for name, values in GRID.items():
            for value in values:
                trial = FusionWeights.from_dict({**best.as_dict(), name: value})
                score = mean_ndcg(queries, qrels, trial)
                if score > best_score + 1e-6:
                    best, best_score, improved = trial, score, True
        if not improved:
            break
    return best, best_score
