"""Ranking metrics on graded judgments: nDCG@k, Recall@k, MRR."""

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

Qrels = Mapping[Hashable, Mapping[Hashable, int]]


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain with exponential gains (2^g - 1)."""
    return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranking: Sequence[Hashable], judged: Mapping[Hashable, int], k: int = 10) -> float:
    """nDCG@k of one ranking; unjudged items count as 0."""
    ideal = dcg(sorted(judged.values(), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([judged.get(x, 0) for x in ranking[:k]]) / ideal


def recall_at_k(
    ranking: Sequence[Hashable], judged: Mapping[Hashable, int], k: int = 50, min_grade: int = 2
) -> float:
    """Share of the relevant items (grade >= min_grade) found in the top k."""
    relevant = {x for x, g in judged.items() if g >= min_grade}
    if not relevant:
        return 0.0
    return len(relevant & set(ranking[:k])) / len(relevant)


def reciprocal_rank(
    ranking: Sequence[Hashable], judged: Mapping[Hashable, int], min_grade: int = 2
) -> float:
    """1 / rank of the first relevant item."""
    for i, x in enumerate(ranking, start=1):
        if judged.get(x, 0) >= min_grade:
            return 1.0 / i
    return 0.0


@dataclass(frozen=True)
class Scores:
    """Mean metrics over a set of queries."""

    ndcg10: float
    recall50: float
    mrr: float
    queries: int

    def as_dict(self) -> dict[str, float]:
        return {
            "nDCG@10": round(self.ndcg10, 4),
            "Recall@50": round(self.recall50, 4),
            "MRR": round(self.mrr, 4),
            "queries": self.queries,
        }


def evaluate(rankings: Mapping[Hashable, Sequence[Hashable]], qrels: Qrels) -> Scores:
    """Mean nDCG@10, Recall@50 and MRR over the queries that have judgments."""
    queries = [q for q in rankings if q in qrels]
    if not queries:
        return Scores(0.0, 0.0, 0.0, 0)
    n = len(queries)
    return Scores(
        ndcg10=sum(ndcg_at_k(rankings[q], qrels[q], 10) for q in queries) / n,
        recall50=sum(recall_at_k(rankings[q], qrels[q], 50) for q in queries) / n,
        mrr=sum(reciprocal_rank(rankings[q], qrels[q]) for q in queries) / n,
        queries=n,
    )
