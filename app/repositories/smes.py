"""Queries on SME profiles."""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from models import (
    Chain,
    ChainLink,
    Enterprise,
    SmeCertification,
    SmeProfile,
    sme_chains,
    sme_links,
)


@dataclass
class SmeFilters:
    """Filters of the SME list; None means no filter."""

    chain: str | None = None
    link: str | None = None
    city: str | None = None
    tier: str | None = None
    certification: str | None = None
    q: str | None = None
    include_deleted: bool = False


def get(session: Session, sme_id: int, include_deleted: bool = False) -> SmeProfile | None:
    """One profile by id (soft-deleted ones only when asked)."""
    sme = session.get(SmeProfile, sme_id)
    if sme is None or (sme.deleted_at is not None and not include_deleted):
        return None
    return sme


def active_for_enterprises(session: Session, enterprise_ids: Iterable[int]) -> set[int]:
    """Ids of enterprises among these that already have a live SME profile."""
    ids = set(enterprise_ids)
    if not ids:
        return set()
    rows = session.scalars(
        select(SmeProfile.enterprise_id).where(
            SmeProfile.enterprise_id.in_(ids), SmeProfile.deleted_at.is_(None)
        )
    )
    return set(rows)


def live_by_enterprise(session: Session, enterprise_ids: Iterable[int]) -> dict[int, SmeProfile]:
    """The live profile of each of these enterprises that has one."""
    ids = set(enterprise_ids)
    if not ids:
        return {}
    rows = session.scalars(
        select(SmeProfile).where(SmeProfile.enterprise_id.in_(ids), SmeProfile.deleted_at.is_(None))
    )
    return {r.enterprise_id: r for r in rows}


def _filtered(f: SmeFilters, version_id: int) -> Select:
    stmt = select(SmeProfile).join(Enterprise, SmeProfile.enterprise_id == Enterprise.id)
    if not f.include_deleted:
        stmt = stmt.where(SmeProfile.deleted_at.is_(None))
    if f.city:
        stmt = stmt.where(Enterprise.city == f.city)
    if f.tier:
        stmt = stmt.where(SmeProfile.tier == f.tier)
    if f.chain:
        stmt = stmt.where(
            exists()
            .where(sme_chains.c.sme_id == SmeProfile.id)
            .where(sme_chains.c.chain_id == Chain.id)
            .where(Chain.code == f.chain, Chain.taxonomy_version_id == version_id)
        )
    if f.link:
        stmt = stmt.where(
            exists()
            .where(sme_links.c.sme_id == SmeProfile.id)
            .where(sme_links.c.link_id == ChainLink.id)
            .where(ChainLink.code == f.link)
            .where(ChainLink.chain_id == Chain.id, Chain.taxonomy_version_id == version_id)
        )
    if f.certification:
        stmt = stmt.where(
            exists().where(
                SmeCertification.sme_id == SmeProfile.id,
                SmeCertification.name == f.certification,
            )
        )
    if f.q:
        stmt = stmt.where(SmeProfile.search_text.contains(f.q.lower(), autoescape=True))
    return stmt


def list_page(
    session: Session, f: SmeFilters, version_id: int, limit: int, offset: int
) -> tuple[list[SmeProfile], int]:
    """One page of profiles, newest first, and the total count."""
    stmt = _filtered(f, version_id)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = session.scalars(stmt.order_by(SmeProfile.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total or 0)


def count(session: Session) -> int:
    """Number of live profiles."""
    return int(
        session.scalar(
            select(func.count()).select_from(SmeProfile).where(SmeProfile.deleted_at.is_(None))
        )
        or 0
    )


def id_by_uscc(session: Session, uscc: str) -> int | None:
    """The live SME profile of the firm with this credit code."""
    return session.scalar(
        select(SmeProfile.id)
        .join(Enterprise, Enterprise.id == SmeProfile.enterprise_id)
        .where(Enterprise.uscc == uscc, SmeProfile.deleted_at.is_(None))
    )
