"""Learning from use: what people do with the matches are labels for the fusion weights.

A leader's shortlist, an SME's interest, meeting requests and their answers at docking events,
and the outcomes of the meetings held are stored as graded (need, SME) pairs in
`match_feedback`, in the transaction of the write that produced them (no commit of their own).
`chainmatch tune --from-feedback` turns them into training queries (each need with feedback:
its candidates as the running matcher ranks them, labelled ones with their grade, the rest 0),
refits the fusion weights, optionally with the real set's train split as a prior, and reports
nDCG@10 on the real set's held-out test split under the current and the new weights. Only
`--apply` stores them (`ranking_weights`, one active row) and every process then reloads its
weights through the change log.
"""

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from app.errors import Conflict
from app.repositories import demands as demand_repo
from app.repositories import feedback as repo
from app.repositories import matching as matching_repo
from app.services import evaluation
from app.services.matching import MatchingRuntime
from matching.documents import LinkDoc
from matching.features import FusionWeights
from matching.matcher import ProfileFilter
from matching.tuning import FitReport, QueryFeatures, fit_pairwise, mean_ndcg, refine
from models import EventPair, Interest, MatchFeedback, Meeting, RankingWeights

# Grades of the signals, on the scale of the labelled sets (0 no fit, 1 partly, 2 relevant,
# 3 the supplier the need wants). One side asking to talk says the other side looked worth a
# conversation after reading it: a weak positive, 1. Both sides agreeing to spend a meeting slot
# on it is the first judgment of both: 2. A declined request is the asked side saying no after
# reading the other: 0.
LABELS: dict[str, int] = {
    # a leader's interest in an SME for one of its needs (the console's shortlist)
    "shortlist": 1,
    # an SME's interest in a need
    "interest": 1,
    "meeting_request": 1,
    "meeting_accepted": 2,
    "meeting_declined": 0,
}
# What came of a meeting held (app.schemas.event.OUTCOME_LABELS) is the strongest evidence there
# is, judged by both sides after talking. A signing or a written intention of cooperation is the
# fit the need was written for: 3 (signings often follow months later and are not always
# recorded again, so an intention counts as much). Still negotiating, or a contact both found
# valuable, is a relevant supplier without a deal (yet): 2. "No further contact" after meeting
# is the one explicit negative: 0. A no-show says nothing about the fit and gives no label.
OUTCOME_GRADES: dict[str, int] = {
    "signed": 3,
    "intention": 3,
    "negotiating": 2,
    "valuable": 2,
    "none": 0,
}
SOURCES = (*LABELS, "outcome")
# When a pair has several signals, the latest stage of the docking funnel decides (within a
# stage, the highest grade): shortlisted, met, then "no further contact" is 0; interested, then
# signed is 3; a request the other side declined is 0 whatever interest came before.
STAGE: dict[str, int] = {
    "shortlist": 1,
    "interest": 1,
    "meeting_request": 1,
    "meeting_accepted": 2,
    "meeting_declined": 2,
    "outcome": 3,
}
# Fewer needs with a positive signal than this teach nothing the held-out split could confirm.
MIN_DEMANDS = 5
# Candidates per need taken from the running matcher (its shortlist size by default).
DEPTH = 200
# `apply` refuses a weight set that loses more held-out nDCG@10 than this (unless forced).
TOLERANCE = 0.005


class NotEnoughFeedback(Conflict):
    """Too few needs carry a positive label to refit the weights."""


class HeldOutWorse(Conflict):
    """The new weights rank the held-out split worse than the current ones."""


# -- recording (inside the caller's transaction) ---------------------------------------------


def _user_id(session: Session, user_id: int | None) -> int | None:
    if user_id is not None:
        return user_id
    principal = session.info.get("principal")
    return getattr(principal, "user_id", None)


def record(
    session: Session,
    source: str,
    sme_id: int,
    *,
    demand_id: int | None = None,
    leader_id: int | None = None,
    label: int | None = None,
    detail: str = "",
    user_id: int | None = None,
) -> MatchFeedback:
    """Store one signal on a pair, or update its row when the same signal comes again.

    The grade is LABELS[source] unless given. Without a need (`demand_id` None) the row is
    keyed by the leader, and tuning attributes it to that leader's best-fitting need.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown feedback source {source!r}")
    grade = LABELS.get(source) if label is None else label
    if grade is None or not 0 <= grade <= 3:
        raise ValueError(f"a feedback label is a grade 0-3, not {grade!r}")
    row = repo.find(session, source, sme_id, demand_id, leader_id)
    values = {
        "label": grade,
        "detail": detail[:100],
        "user_id": _user_id(session, user_id),
        "leader_id": leader_id,
    }
    if row is None:
        row = MatchFeedback(demand_id=demand_id, sme_id=sme_id, source=source, **values)
        session.add(row)
    else:
        # Only what changed is written; an unknown user or leader keeps the stored one.
        for name, value in values.items():
            if value is not None and getattr(row, name) != value:
                setattr(row, name, value)
    session.flush()
    return row


def forget(
    session: Session,
    source: str,
    sme_id: int,
    *,
    demand_id: int | None = None,
    leader_id: int | None = None,
    detail_prefix: str = "",
) -> None:
    """Drop one signal of a pair (only the row whose detail starts with `detail_prefix`)."""
    row = repo.find(session, source, sme_id, demand_id, leader_id)
    if row is not None and row.detail.startswith(detail_prefix):
        session.delete(row)
        session.flush()


def interest_changed(session: Session, interest: Interest, withdrawn: bool = False) -> None:
    """A leader shortlisted an SME for a need, or an SME showed interest in a need; a
    withdrawal grades the same row 0."""
    record(
        session,
        "shortlist" if interest.side == "leader" else "interest",
        interest.sme_id,
        demand_id=interest.demand_id,
        leader_id=interest.leader_id,
        label=0 if withdrawn else None,
        detail="withdrawn" if withdrawn else "",
        user_id=None if withdrawn else interest.user_id,
    )


def meeting_requested(session: Session, pair: EventPair, demand_id: int | None) -> None:
    """One side of an event pair asked for a meeting."""
    record(
        session,
        "meeting_request",
        pair.sme_id,
        demand_id=demand_id,
        leader_id=pair.leader_id,
        detail=f"event {pair.event_id}, asked by the {pair.requested_by}",
    )


def meeting_answered(
    session: Session, pair: EventPair, demand_id: int | None, accepted: bool
) -> None:
    """The asked side accepted or declined; an answer replaces the opposite one."""
    source, other = (
        ("meeting_accepted", "meeting_declined")
        if accepted
        else ("meeting_declined", "meeting_accepted")
    )
    forget(session, other, pair.sme_id, demand_id=demand_id, leader_id=pair.leader_id)
    record(
        session,
        source,
        pair.sme_id,
        demand_id=demand_id,
        leader_id=pair.leader_id,
        detail=f"event {pair.event_id}",
    )


def outcome_recorded(session: Session, meeting: Meeting) -> None:
    """What came of a meeting; a no-show withdraws the label this meeting gave before."""
    tag = f"meeting {meeting.id}:"
    if meeting.held and meeting.outcome in OUTCOME_GRADES:
        record(
            session,
            "outcome",
            meeting.sme_id,
            demand_id=meeting.demand_id,
            leader_id=meeting.leader_id,
            label=OUTCOME_GRADES[meeting.outcome],
            detail=f"{tag} {meeting.outcome}",
        )
    else:
        forget(
            session,
            "outcome",
            meeting.sme_id,
            demand_id=meeting.demand_id,
            leader_id=meeting.leader_id,
            detail_prefix=tag,
        )


# -- training pairs ------------------------------------------------------------------------


def combine(signals: list[tuple[str, int]]) -> int:
    """One grade from a pair's signals: the latest funnel stage decides, then the highest."""
    top = max(STAGE[source] for source, _ in signals)
    return max(label for source, label in signals if STAGE[source] == top)


def _attribute(
    session: Session, runtime: MatchingRuntime, leader_id: int | None, sme_id: int
) -> int | None:
    """The leader's need that the SME fits best (as an event's match list pairs them)."""
    if leader_id is None:
        return None
    matcher = runtime.matcher
    best: tuple[float, int] | None = None
    for demand_id in demand_repo.ids_of_leader(session, leader_id):
        demand = matcher.demands.get(demand_id)
        if demand is None:
            continue
        ranked = matcher.rank_profiles(
            demand,
            matcher.demand_vectors.vector(demand_id),
            k=1,
            where=ProfileFilter(ids=frozenset({sme_id})),
        )
        if ranked and (best is None or ranked[0].score > best[0]):
            best = (ranked[0].score, demand_id)
    return best[1] if best else None


def pair_labels(session: Session, runtime: MatchingRuntime) -> tuple[dict, int]:
    """Per need, per SME: the combined grade; and how many signals went into them."""
    rows = repo.live(session)
    signals: dict[int, dict[int, list[tuple[str, int]]]] = {}
    attributed: dict[tuple[int | None, int], int | None] = {}
    for row in rows:
        demand_id = row.demand_id
        if demand_id is None:
            key = (row.leader_id, row.sme_id)
            if key not in attributed:
                attributed[key] = _attribute(session, runtime, row.leader_id, row.sme_id)
            demand_id = attributed[key]
            if demand_id is None:
                continue
        signals.setdefault(demand_id, {}).setdefault(row.sme_id, []).append((row.source, row.label))
    labels = {d: {s: combine(v) for s, v in smes.items()} for d, smes in signals.items()}
    return labels, len(rows)


@dataclass
class FeedbackSet:
    """Training queries from feedback: per need its candidates' components and the labels."""

    queries: dict[int, QueryFeatures]
    qrels: dict[int, dict[int, int]]
    signals: int
    labelled_demands: int

    @property
    def pairs(self) -> int:
        return sum(len(judged) for judged in self.qrels.values())


def collect(session: Session, runtime: MatchingRuntime, depth: int = DEPTH) -> FeedbackSet:
    """Each need with a positive label, ranked by the running matcher.

    Its `depth` best candidates, plus any labelled SME outside them, with their component
    values; labelled ones carry their grade, the others count as 0 (not chosen). Needs whose
    labels are all 0 have no order to learn and are left out.
    """
    labels, signals = pair_labels(session, runtime)
    matcher = runtime.matcher
    queries: dict[int, QueryFeatures] = {}
    qrels: dict[int, dict[int, int]] = {}
    for demand_id in sorted(labels):
        judged = labels[demand_id]
        demand = matcher.demands.get(demand_id)
        if demand is None or not any(g > 0 for g in judged.values()):
            continue
        vector = matcher.demand_vectors.vector(demand_id)
        ranked = matcher.rank_profiles(demand, vector, k=depth)
        seen = {m.id for m in ranked}
        missing = {s for s in judged if s not in seen and s in matcher.profiles}
        if missing:
            ranked += matcher.rank_profiles(
                demand, vector, k=len(missing), where=ProfileFilter(ids=frozenset(missing))
            )
        queries[demand_id] = QueryFeatures(
            ids=[m.id for m in ranked],
            matrix=np.array([m.features.vector() for m in ranked], dtype=np.float64),
        )
        qrels[demand_id] = judged
    return FeedbackSet(queries, qrels, signals, len(labels))


def ensure_enough(data: FeedbackSet, min_demands: int = MIN_DEMANDS) -> None:
    """Refuse to tune on fewer than `min_demands` needs with a positive label."""
    if len(data.queries) < min_demands:
        raise NotEnoughFeedback(
            f"only {len(data.queries)} need(s) have a positive feedback label "
            f"(shortlist, interest, meeting, outcome); at least {min_demands} are needed",
            f"仅有 {len(data.queries)} 个需求有正向反馈（入围、意向、会谈、成果），"
            f"至少需要 {min_demands} 个",
            demands=len(data.queries),
            required=min_demands,
        )


# -- refitting -------------------------------------------------------------------------------


@dataclass
class Refit:
    """New weights from feedback and how they compare with the current ones."""

    current: FusionWeights
    # What the fit chose (stored when applied) ...
    fitted: FusionWeights
    # ... and what would run: CHAINMATCH_MATCH_WEIGHTS still overrides the keys it sets.
    proposed: FusionWeights
    pinned: tuple[str, ...]
    fit: FitReport
    feedback: FeedbackSet
    prior_demands: int
    prior_weight: float
    feedback_weight: float
    heldout_demands: int
    heldout_before: float
    heldout_after: float
    feedback_before: float
    feedback_after: float

    @property
    def heldout_change(self) -> float:
        return self.heldout_after - self.heldout_before

    def as_dict(self) -> dict:
        return {
            "current": self.current.as_dict(),
            "fitted": self.fitted.as_dict(),
            "proposed": self.proposed.as_dict(),
            "pinned_by_environment": list(self.pinned),
            "feedback": {
                "demands": len(self.feedback.queries),
                "labelled_pairs": self.feedback.pairs,
                "signals": self.feedback.signals,
                "weight_per_demand": self.feedback_weight,
                "ndcg10_before": round(self.feedback_before, 4),
                "ndcg10_after": round(self.feedback_after, 4),
            },
            "prior": {
                "set": "real",
                "split": "train",
                "demands": self.prior_demands,
                "weight_per_demand": self.prior_weight,
            },
            "heldout": {
                "set": "real",
                "split": "test",
                "demands": self.heldout_demands,
                "ndcg10_before": round(self.heldout_before, 4),
                "ndcg10_after": round(self.heldout_after, 4),
            },
            "fit": {
                "C": self.fit.C,
                "cv_ndcg10": {str(c): round(v, 4) for c, v in self.fit.cv_ndcg.items()},
                "queries": self.fit.queries,
                "pairs": self.fit.pairs,
            },
        }


def refit(
    data: FeedbackSet,
    current: FusionWeights,
    pinned: dict[str, float],
    sets: dict,
    links: list[LinkDoc],
    prior_weight: float = 1.0,
    feedback_weight: float = 1.0,
) -> Refit:
    """Fit the fusion on the feedback queries (plus the real train split weighted as a prior).

    Each need with feedback weighs `feedback_weight` in the fit, each need of the real set's
    train split `prior_weight` (0: feedback alone). The result is scored on the real set's
    held-out test split, which neither the fit nor the refinement sees, and on the feedback
    queries themselves (fitted on them, so optimistic).
    """
    ensure_enough(data, 1)
    queries: dict[Hashable, QueryFeatures] = {("feedback", d): q for d, q in data.queries.items()}
    qrels: dict[Hashable, dict] = {("feedback", d): data.qrels[d] for d in data.queries}
    weight = dict.fromkeys(queries, feedback_weight)
    real = {"real": sets["real"]}
    prior_demands = 0
    if prior_weight > 0:
        train, train_qrels = evaluation.tuning_tables(real, links, "train", current)
        prior_demands = len(train)
        queries.update(train)
        qrels.update(train_qrels)
        weight.update(dict.fromkeys(train, prior_weight))
    fitted, report = fit_pairwise(queries, qrels, weight)
    fitted, _ = refine(queries, qrels, fitted, weight)
    proposed = FusionWeights.from_dict({**fitted.as_dict(), **pinned})
    test, test_qrels = evaluation.tuning_tables(real, links, "test", current)
    fb_qrels = {d: data.qrels[d] for d in data.queries}
    return Refit(
        current=current,
        fitted=fitted,
        proposed=proposed,
        pinned=tuple(sorted(pinned)),
        fit=report,
        feedback=data,
        prior_demands=prior_demands,
        prior_weight=prior_weight,
        feedback_weight=feedback_weight,
        heldout_demands=len(test),
        heldout_before=mean_ndcg(test, test_qrels, current),
        heldout_after=mean_ndcg(test, test_qrels, proposed),
        feedback_before=mean_ndcg(data.queries, fb_qrels, current),
        feedback_after=mean_ndcg(data.queries, fb_qrels, proposed),
    )


def apply(
    session: Session, result: Refit, force: bool = False, source: str = "feedback"
) -> RankingWeights:
    """Make the fitted weights the active set; every process reloads them (change log)."""
    if result.heldout_change < -TOLERANCE and not force:
        raise HeldOutWorse(
            f"the new weights lower held-out nDCG@10 from {result.heldout_before:.4f} to "
            f"{result.heldout_after:.4f}; nothing applied",
            f"新权重使留出集 nDCG@10 由 {result.heldout_before:.4f} 降至 "
            f"{result.heldout_after:.4f}，未应用",
        )
    for row in repo.active_rows(session):
        row.active = False
    row = RankingWeights(
        weights=result.fitted.as_dict(), source=source, report=result.as_dict(), active=True
    )
    session.add(row)
    session.flush()
    matching_repo.record_change(session, "weights", row.id)
    return row


def active(session: Session) -> RankingWeights | None:
    """The applied weight set, if any."""
    return repo.active_weights(session)
