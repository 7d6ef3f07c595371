"""Queries on the audit log."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import AuditEntry


@dataclass
class AuditFilters:
    entity: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    since: datetime | None = None


def page(
    session: Session, filters: AuditFilters, limit: int, offset: int
) -> tuple[list[AuditEntry], int]:
    """Entries newest first, and how many match."""
    query = select(AuditEntry)
    if filters.entity:
        query = query.where(AuditEntry.entity == filters.entity)
    if filters.entity_id:
        query = query.where(AuditEntry.entity_id == filters.entity_id)
    if filters.actor:
        query = query.where(AuditEntry.actor == filters.actor)
    if filters.since:
        query = query.where(AuditEntry.at >= filters.since)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total
