"""Queries on the chain taxonomy."""

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from models import Chain, ChainLink, SubChain, TaxonomyVersion


def get_version(session: Session, code: str) -> TaxonomyVersion | None:
    """The taxonomy version with this code."""
    return session.scalar(select(TaxonomyVersion).where(TaxonomyVersion.code == code))


def current_version(session: Session) -> TaxonomyVersion | None:
    """The version marked current, if any."""
    return session.scalar(
        select(TaxonomyVersion).where(TaxonomyVersion.is_current.is_(True)).limit(1)
    )


def list_versions(session: Session) -> list[tuple[TaxonomyVersion, int]]:
    """All versions with their chain counts."""
    counts = (
        select(Chain.taxonomy_version_id, func.count().label("n"))
        .group_by(Chain.taxonomy_version_id)
        .subquery()
    )
    rows = session.execute(
        select(TaxonomyVersion, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.taxonomy_version_id == TaxonomyVersion.id)
        .order_by(TaxonomyVersion.id)
    )
    return [(v, n) for v, n in rows]


def list_chains(session: Session, version_id: int) -> list[Chain]:
    """Chains of a version with their sub-chains and links loaded."""
    return list(
        session.scalars(
            select(Chain)
            .where(Chain.taxonomy_version_id == version_id)
            .options(selectinload(Chain.sub_chains), selectinload(Chain.links))
            .order_by(Chain.position)
        )
    )


def get_chain(session: Session, version_id: int, code: str) -> Chain | None:
    """One chain with sub-chains and links (each link with its sub-chain)."""
    return session.scalar(
        select(Chain)
        .where(Chain.taxonomy_version_id == version_id, Chain.code == code)
        .options(
            selectinload(Chain.sub_chains).selectinload(SubChain.links),
            selectinload(Chain.links).selectinload(ChainLink.sub_chain),
        )
    )


def chains_by_code(session: Session, version_id: int, codes: Iterable[str]) -> dict[str, Chain]:
    """Chains of a version keyed by code, for the codes that exist."""
    codes = set(codes)
    if not codes:
        return {}
    rows = session.scalars(
        select(Chain).where(Chain.taxonomy_version_id == version_id, Chain.code.in_(codes))
    )
    return {c.code: c for c in rows}


def links_by_code(session: Session, version_id: int, codes: Iterable[str]) -> dict[str, ChainLink]:
    """Links of a version keyed by code, for the codes that exist."""
    codes = set(codes)
    if not codes:
        return {}
    rows = session.scalars(
        select(ChainLink)
        .join(Chain)
        .where(Chain.taxonomy_version_id == version_id, ChainLink.code.in_(codes))
    )
    return {link.code: link for link in rows}


def all_chains_by_code(session: Session, version_id: int) -> dict[str, Chain]:
    """Every chain of a version keyed by code."""
    rows = session.scalars(select(Chain).where(Chain.taxonomy_version_id == version_id))
    return {c.code: c for c in rows}


def all_links_by_code(session: Session, version_id: int) -> dict[str, ChainLink]:
    """Every link of a version keyed by code."""
    rows = session.scalars(
        select(ChainLink).join(Chain).where(Chain.taxonomy_version_id == version_id)
    )
    return {link.code: link for link in rows}
