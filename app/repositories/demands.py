"""Queries on needs."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from models import Chain, ChainLeader, ChainLink, Demand, Enterprise


@dataclass
class DemandFilters:
    """Filters of the need list; None means no filter."""

    leader_id: int | None = None
    chain: str | None = None
    link: str | None = None
    demand_type: str | None = None
    status: str | None = None
    city: str | None = None
    certification: str | None = None
    q: str | None = None
    # Only needs that are open (published or docking) and not past valid_until.
    open_on: date | None = None
    include_deleted: bool = False
    # Drafts shown: True for every leader's, a leader id for that leader's only, None for none.
    drafts_of: int | bool | None = True


def get(session: Session, demand_id: int, include_deleted: bool = False) -> Demand | None:
    """One need by id."""
    demand = session.get(Demand, demand_id)
    if demand is None or (demand.deleted_at is not None and not include_deleted):
        return None
    return demand


def list_page(
    session: Session, f: DemandFilters, version_id: int, limit: int, offset: int
) -> tuple[list[Demand], int]:
    """One page of needs, newest first, and the total count."""
    stmt = select(Demand)
    if not f.include_deleted:
        stmt = stmt.where(Demand.deleted_at.is_(None))
    if f.leader_id:
        stmt = stmt.where(Demand.leader_id == f.leader_id)
    if f.chain:
        stmt = stmt.where(
            Demand.chain_id.in_(
                select(Chain.id).where(
                    Chain.code == f.chain, Chain.taxonomy_version_id == version_id
                )
            )
        )
    if f.link:
        stmt = stmt.where(
            Demand.link_id.in_(
                select(ChainLink.id)
                .join(Chain)
                .where(ChainLink.code == f.link, Chain.taxonomy_version_id == version_id)
            )
        )
    if f.demand_type:
        stmt = stmt.where(Demand.demand_type == f.demand_type)
    if f.status:
        stmt = stmt.where(Demand.status == f.status)
    if f.drafts_of is None:
        stmt = stmt.where(Demand.status != "draft")
    elif f.drafts_of is not True:
        stmt = stmt.where(or_(Demand.status != "draft", Demand.leader_id == f.drafts_of))
    if f.city:
        stmt = stmt.where(
            Demand.leader_id.in_(
                select(ChainLeader.id)
                .join(Enterprise, ChainLeader.enterprise_id == Enterprise.id)
                .where(Enterprise.city == f.city)
            )
        )
    if f.certification:
        # Certificates sit in a small JSON list; a text match on the serialised list is portable.
        stmt = stmt.where(
            func.lower(cast(Demand.required_certifications, Text)).contains(
                f'"{f.certification.lower()}"', autoescape=True
            )
        )
    if f.q:
        stmt = stmt.where(Demand.search_text.contains(f.q.lower(), autoescape=True))
    if f.open_on:
        stmt = stmt.where(
            Demand.status.in_(("published", "docking")),
            or_(Demand.valid_until.is_(None), Demand.valid_until >= f.open_on),
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(Demand.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total or 0)


def leader_titles(session: Session) -> set[tuple[int, str]]:
    """(leader id, title) of every stored need, deleted ones included."""
    return {(lid, title) for lid, title in session.execute(select(Demand.leader_id, Demand.title))}


def leader_ids(session: Session, demand_ids: list[int]) -> dict[int, int]:
    """The leader of each need."""
    if not demand_ids:
        return {}
    rows = session.execute(select(Demand.id, Demand.leader_id).where(Demand.id.in_(demand_ids)))
    return {d: leader for d, leader in rows}


def open_ids_of_leader(session: Session, leader_id: int, today: date) -> list[int]:
    """A leader's needs that are open today."""
    return list(
        session.scalars(
            select(Demand.id).where(
                Demand.leader_id == leader_id,
                Demand.deleted_at.is_(None),
                Demand.status.in_(("published", "docking")),
                or_(Demand.valid_until.is_(None), Demand.valid_until >= today),
            )
        )
    )


def ids_of_leader(session: Session, leader_id: int) -> list[int]:
    """Every live need of a leader."""
    return list(
        session.scalars(
            select(Demand.id).where(Demand.leader_id == leader_id, Demand.deleted_at.is_(None))
        )
    )
