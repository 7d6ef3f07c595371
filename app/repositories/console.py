"""Read-only queries behind the organizer console (counts per chain, need titles)."""

from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models import Chain, Demand, Meeting, SmeProfile, sme_chains


def sme_counts_by_chain(session: Session, version_id: int) -> dict[str, int]:
    """Live SME profiles that declare each chain of a taxonomy version, by chain code."""
    rows = session.execute(
        select(Chain.code, func.count(sme_chains.c.sme_id))
        .join(sme_chains, sme_chains.c.chain_id == Chain.id)
        .join(SmeProfile, SmeProfile.id == sme_chains.c.sme_id)
        .where(Chain.taxonomy_version_id == version_id, SmeProfile.deleted_at.is_(None))
        .group_by(Chain.code)
    )
    return {code: int(n) for code, n in rows}


def open_demand_counts_by_chain(session: Session, version_id: int, today: date) -> dict[str, int]:
    """Needs open today (published or in docking, not expired) per chain code."""
    rows = session.execute(
        select(Chain.code, func.count(Demand.id))
        .join(Demand, Demand.chain_id == Chain.id)
        .where(
            Chain.taxonomy_version_id == version_id,
            Demand.deleted_at.is_(None),
            Demand.status.in_(("published", "docking")),
            or_(Demand.valid_until.is_(None), Demand.valid_until >= today),
        )
        .group_by(Chain.code)
    )
    return {code: int(n) for code, n in rows}


def demand_titles(session: Session, ids: list[int]) -> dict[int, str]:
    """Titles of these needs (deleted ones included: a meeting keeps its need's name)."""
    if not ids:
        return {}
    rows = session.execute(select(Demand.id, Demand.title).where(Demand.id.in_(set(ids))))
    return {i: title for i, title in rows}


def meeting_event_id(session: Session, meeting_id: int) -> int | None:
    """The event a meeting belongs to, or None when there is no such meeting."""
    return session.scalar(select(Meeting.event_id).where(Meeting.id == meeting_id))
