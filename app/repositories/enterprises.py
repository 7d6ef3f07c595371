"""Queries on enterprises."""

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Enterprise


def by_uscc(session: Session, codes: Iterable[str]) -> dict[str, Enterprise]:
    """Enterprises keyed by credit code, for the codes that exist."""
    codes = {c for c in codes if c}
    if not codes:
        return {}
    rows = session.scalars(select(Enterprise).where(Enterprise.uscc.in_(codes)))
    return {e.uscc: e for e in rows if e.uscc}
