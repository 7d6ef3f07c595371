"""Queries on chain leaders."""

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import ChainLeader, Demand, Enterprise


def get(session: Session, leader_id: int, include_deleted: bool = False) -> ChainLeader | None:
    """One leader by id."""
    leader = session.get(ChainLeader, leader_id)
    if leader is None or (leader.deleted_at is not None and not include_deleted):
        return None
    return leader


def live_by_enterprise(session: Session, enterprise_ids: Iterable[int]) -> dict[int, int]:
    """Enterprise id -> id of its live leader record, for those among these that have one."""
    ids = set(enterprise_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(ChainLeader.enterprise_id, ChainLeader.id).where(
            ChainLeader.enterprise_id.in_(ids), ChainLeader.deleted_at.is_(None)
        )
    )
    return {enterprise_id: leader_id for enterprise_id, leader_id in rows}


def active_for_enterprises(session: Session, enterprise_ids: Iterable[int]) -> set[int]:
    """Ids of enterprises among these that already have a live leader record."""
    return set(live_by_enterprise(session, enterprise_ids))


def by_name(session: Session) -> dict[str, ChainLeader]:
    """Live leaders keyed by exact enterprise name, the last one on duplicates.

    For trusted data only (the demo set); user input names a leader through `identities`.
    """
    rows = session.scalars(
        select(ChainLeader)
        .join(Enterprise, ChainLeader.enterprise_id == Enterprise.id)
        .where(ChainLeader.deleted_at.is_(None))
    )
    return {r.enterprise.name: r for r in rows}


# Key of the PostgreSQL advisory lock that serialises leader-name checks ("leader" in ASCII).
_NAME_LOCK = 0x6C6561646572


def lock_names(session: Session) -> None:
    """Hold the name lock until the transaction ends, so check-then-write cannot interleave.

    SQLite needs none: its writing transactions begin IMMEDIATE and so already run one by one.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_NAME_LOCK)))


def identities(session: Session) -> list[tuple[int, str, str | None]]:
    """(id, enterprise name, credit code) of every live leader, in order of registration."""
    rows = session.execute(
        select(ChainLeader.id, Enterprise.name, Enterprise.uscc)
        .join(Enterprise, ChainLeader.enterprise_id == Enterprise.id)
        .where(ChainLeader.deleted_at.is_(None))
        .order_by(ChainLeader.id)
    )
    return [(lid, name, code) for lid, name, code in rows]


def existing_ids(session: Session, ids: Iterable[int]) -> set[int]:
    """The ids among these that name live leaders."""
    ids = set(ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(ChainLeader.id).where(ChainLeader.id.in_(ids), ChainLeader.deleted_at.is_(None))
        )
    )


def list_page(
    session: Session, q: str | None, city: str | None, limit: int, offset: int
) -> tuple[list[tuple[ChainLeader, int]], int]:
    """One page of leaders with the number of live needs each has."""
    stmt = (
        select(ChainLeader)
        .join(Enterprise, ChainLeader.enterprise_id == Enterprise.id)
        .where(ChainLeader.deleted_at.is_(None))
    )
    if q:
        stmt = stmt.where(Enterprise.name.contains(q, autoescape=True))
    if city:
        stmt = stmt.where(Enterprise.city == city)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    leaders = list(session.scalars(stmt.order_by(ChainLeader.id).limit(limit).offset(offset)))
    counts = demand_counts(session, [x.id for x in leaders])
    return [(x, counts.get(x.id, 0)) for x in leaders], int(total or 0)


def demand_counts(session: Session, leader_ids: list[int]) -> dict[int, int]:
    """Live needs per leader."""
    if not leader_ids:
        return {}
    rows = session.execute(
        select(Demand.leader_id, func.count())
        .where(Demand.leader_id.in_(leader_ids), Demand.deleted_at.is_(None))
        .group_by(Demand.leader_id)
    )
    return {lid: n for lid, n in rows}
