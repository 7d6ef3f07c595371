"""Queries on match feedback (labels from use) and applied ranking weights."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Demand, MatchFeedback, RankingWeights, SmeProfile


def _key(demand_id: int | None, leader_id: int | None, sme_id: int):
    """The row identity: (need, SME) when the need is known, else (leader, SME)."""
    if demand_id is not None:
        return (MatchFeedback.demand_id == demand_id, MatchFeedback.sme_id == sme_id)
    return (
        MatchFeedback.demand_id.is_(None),
        MatchFeedback.leader_id == leader_id,
        MatchFeedback.sme_id == sme_id,
    )


def find(
    session: Session, source: str, sme_id: int, demand_id: int | None, leader_id: int | None
) -> MatchFeedback | None:
    """The row of one signal on a pair."""
    return session.scalar(
        select(MatchFeedback)
        .where(MatchFeedback.source == source, *_key(demand_id, leader_id, sme_id))
        .order_by(MatchFeedback.id)
        .limit(1)
    )


def of_pair(session: Session, sme_id: int, demand_id: int | None = None, leader_id=None):
    """Every signal on a pair, oldest first."""
    return list(
        session.scalars(
            select(MatchFeedback)
            .where(*_key(demand_id, leader_id, sme_id))
            .order_by(MatchFeedback.id)
        )
    )


def live(session: Session) -> list[MatchFeedback]:
    """Every signal whose SME (and need, when known) is not deleted."""
    stmt = (
        select(MatchFeedback)
        .join(SmeProfile, SmeProfile.id == MatchFeedback.sme_id)
        .outerjoin(Demand, Demand.id == MatchFeedback.demand_id)
        .where(
            SmeProfile.deleted_at.is_(None),
            (MatchFeedback.demand_id.is_(None)) | (Demand.deleted_at.is_(None)),
        )
        .order_by(MatchFeedback.id)
    )
    return list(session.scalars(stmt))


def count(session: Session) -> int:
    return int(session.scalar(select(func.count(MatchFeedback.id))) or 0)


def active_weights(session: Session) -> RankingWeights | None:
    """The applied weight set, if any (the newest active one)."""
    return session.scalar(
        select(RankingWeights)
        .where(RankingWeights.active.is_(True))
        .order_by(RankingWeights.id.desc())
        .limit(1)
    )


def active_rows(session: Session) -> list[RankingWeights]:
    """Every weight set marked active (one, unless two were applied at the same moment)."""
    return list(session.scalars(select(RankingWeights).where(RankingWeights.active.is_(True))))
