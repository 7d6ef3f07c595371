"""Learning fusion weights on labelled data: pairwise logistic regression, then refinement."""

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from matching.evaluation import ndcg_at_k
from matching.features import COMPONENTS, FusionWeights


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
    query_weight: Mapping[Hashable, float] | None = None,
) -> float:
    """Mean nDCG@10 of the rankings the weights produce (weighted by `query_weight`)."""
    w = np.array([getattr(weights, c) for c in COMPONENTS]) * _signs()
    total = mass = 0.0
    for q, feats in queries.items():
        scores = feats.matrix @ w
        order = np.argsort(-scores, kind="stable")[:10]
        weight = 1.0 if query_weight is None else query_weight.get(q, 1.0)
        total += weight * ndcg_at_k([feats.ids[i] for i in order], qrels.get(q, {}), 10)
        mass += weight
    return total / mass if mass else 0.0


STEPS = (0.0, 0.5, 0.75, 1.25, 1.5, 2.0)


def refine(
    queries: Mapping[Hashable, QueryFeatures],
    qrels: Mapping[Hashable, Mapping[Hashable, int]],
    start: FusionWeights,
    query_weight: Mapping[Hashable, float] | None = None,
    rounds: int = 3,
) -> tuple[FusionWeights, float]:
    """Coordinate ascent on nDCG@10 itself, scaling one weight at a time by STEPS."""
    best = start
    best_score = mean_ndcg(queries, qrels, best, query_weight)
    for _ in range(rounds):
        improved = False
        for name in COMPONENTS:
            for step in STEPS:
                value = round(max(getattr(best, name) * step, FLOORS.get(name, -np.inf)), 4)
                trial = FusionWeights.from_dict({**best.as_dict(), name: value})
                score = mean_ndcg(queries, qrels, trial, query_weight)
                if score > best_score + 1e-4:
                    best, best_score, improved = trial, score, True
        if not improved:
            break
    return best, best_score


@dataclass
class FitReport:
    """What `fit_pairwise` chose and how it scored under cross-validation."""

    C: float
    cv_ndcg: dict[float, float]
    folds: int
    queries: int
    pairs: int


def _pairs(
    feats: QueryFeatures, judged: Mapping[Hashable, int], rng: np.random.Generator, per_item: int
) -> np.ndarray:
    """Feature differences (better minus worse) of judged pairs within one query."""
    grades = np.array([judged.get(i, 0) for i in feats.ids])
    rows = []
    for a in np.flatnonzero(grades > 0):
        worse = np.flatnonzero(grades < grades[a])
        if worse.size == 0:
            continue
        pick = rng.choice(worse, size=min(per_item, worse.size), replace=False)
        rows.append(feats.matrix[a] - feats.matrix[pick])
    return np.vstack(rows) if rows else np.zeros((0, feats.matrix.shape[1]))


# Weights of rules the user states (a minimum tier, a must certificate): learning may raise
# them but never drops them below these, whatever a labelled set grades.
FLOORS = {"tier": 1.0, "must_missing": 5.0}


def _weights_from_coef(coef: np.ndarray) -> FusionWeights:
    values = dict(zip(COMPONENTS, (coef * _signs()).tolist(), strict=True))
    return FusionWeights.from_dict(
        {k: round(max(v, FLOORS.get(k, -np.inf)), 4) for k, v in values.items()}
    )


def fit_pairwise(
    queries: Mapping[Hashable, QueryFeatures],
    qrels: Mapping[Hashable, Mapping[Hashable, int]],
    query_weight: Mapping[Hashable, float] | None = None,
    grid: Sequence[float] = (0.01, 0.1, 1.0),
    folds: int = 5,
    per_item: int = 60,
    seed: int = 0,
) -> tuple[FusionWeights, FitReport]:
    """Fusion weights from a pairwise logistic regression (a linear RankNet / RankSVM).

    Every judged candidate is paired with up to `per_item` worse candidates of the same query;
    the model learns which of two differs for the better, with no intercept, so its
    coefficients are the weights of a linear score and the components still add up to it.
    Each query weighs `query_weight[q]` in total however many pairs it has. The L2 strength is
    chosen by cross-validation over queries (mean nDCG@10 of the held-out folds), then the
    model is refitted on all queries.
    """
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    keys = list(queries)
    diffs = {q: _pairs(queries[q], qrels.get(q, {}), rng, per_item) for q in keys}
    keys = [q for q in keys if len(diffs[q])]
    order = rng.permutation(len(keys))
    fold_of = {keys[i]: n % folds for n, i in enumerate(order)}

    def fit(train: list[Hashable], C: float) -> np.ndarray:
        X = np.vstack([diffs[q] for q in train])
        weight = np.concatenate(
            [
                np.full(len(diffs[q]), (query_weight or {}).get(q, 1.0) / len(diffs[q]))
                for q in train
            ]
        )
        # Both orientations, so the classes balance and no intercept is needed.
        model = LogisticRegression(C=C, fit_intercept=False, max_iter=5000)
        model.fit(
            np.vstack([X, -X]),
            np.r_[np.ones(len(X)), np.zeros(len(X))],
            sample_weight=np.r_[weight, weight] * len(train),
        )
        return model.coef_[0]

    cv: dict[float, float] = {}
    for C in grid:
        scores = []
        for f in range(folds):
            coef = fit([q for q in keys if fold_of[q] != f], C)
            held = {q: queries[q] for q in keys if fold_of[q] == f}
            scores.append(mean_ndcg(held, qrels, _weights_from_coef(coef)) * len(held))
        cv[C] = sum(scores) / len(keys)
    best = max(cv, key=lambda c: cv[c])
    weights = _weights_from_coef(fit(keys, best))
    return weights, FitReport(best, cv, folds, len(keys), sum(len(diffs[q]) for q in keys))
