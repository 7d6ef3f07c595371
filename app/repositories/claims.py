"""Queries on claims to act for a firm."""

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import EnterpriseClaim, SmeProfile


def get(session: Session, claim_id: int) -> EnterpriseClaim | None:
    """One claim by id."""
    return session.get(EnterpriseClaim, claim_id)


def listing(
    session: Session, user_id: int | None = None, status: str | None = None
) -> list[EnterpriseClaim]:
    """Claims, newest first: one account's, or everyone's (user_id None)."""
    stmt = (
        select(EnterpriseClaim)
        .options(selectinload(EnterpriseClaim.user), selectinload(EnterpriseClaim.enterprise))
        .order_by(EnterpriseClaim.id.desc())
    )
    if user_id is not None:
        stmt = stmt.where(EnterpriseClaim.user_id == user_id)
    if status is not None:
        stmt = stmt.where(EnterpriseClaim.status == status)
    return list(session.scalars(stmt.limit(1000)))


def find(session: Session, user_id: int, enterprise_id: int, status: str) -> EnterpriseClaim | None:
    """This account's claim on this firm in this state, if any."""
    return session.scalars(
        select(EnterpriseClaim).filter_by(
            user_id=user_id, enterprise_id=enterprise_id, status=status
        )
    ).first()


def sme_of(session: Session, enterprise_id: int) -> SmeProfile | None:
    """The firm's SME profile, a live one first, else the latest deleted one."""
    rows = session.scalars(
        select(SmeProfile)
        .where(SmeProfile.enterprise_id == enterprise_id)
        .order_by(SmeProfile.deleted_at.is_not(None), SmeProfile.id.desc())
    )
    return rows.first()
