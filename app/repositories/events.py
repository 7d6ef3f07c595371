"""Queries on docking events."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import ChainLeader, Enterprise, Event, EventPair, EventParticipant, Meeting, SmeProfile


def meeting(session: Session, meeting_id: int) -> Meeting | None:
    """One meeting by id."""
    return session.get(Meeting, meeting_id)


def get(session: Session, event_id: int) -> Event | None:
    """One live event."""
    event = session.get(Event, event_id)
    return None if event is None or event.deleted_at is not None else event


def list_page(session: Session, limit: int, offset: int) -> tuple[list[Event], int]:
    """Events, latest date first."""
    stmt = select(Event).where(Event.deleted_at.is_(None))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(
        stmt.order_by(Event.event_date.desc(), Event.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


def _party_column(kind: str):
    return EventParticipant.leader_id if kind == "leader" else EventParticipant.sme_id


def list_page_of_party(
    session: Session, kind: str, party_id: int, limit: int, offset: int
) -> tuple[list[Event], int]:
    """Live events a leader or an SME takes part in, latest date first."""
    joined = select(EventParticipant.event_id).where(
        EventParticipant.kind == kind, _party_column(kind) == party_id
    )
    stmt = select(Event).where(Event.deleted_at.is_(None), Event.id.in_(joined))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(
        stmt.order_by(Event.event_date.desc(), Event.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


def participant(
    session: Session, event_id: int, kind: str, party_id: int
) -> EventParticipant | None:
    """A leader's or an SME's place at one event, if it has one."""
    return session.scalar(
        select(EventParticipant).where(
            EventParticipant.event_id == event_id,
            EventParticipant.kind == kind,
            _party_column(kind) == party_id,
        )
    )


def participants(session: Session, event_id: int) -> list[EventParticipant]:
    """Everyone at an event."""
    return list(
        session.scalars(
            select(EventParticipant)
            .where(EventParticipant.event_id == event_id)
            .order_by(EventParticipant.id)
        )
    )


def pairs(session: Session, event_id: int) -> list[EventPair]:
    """Marks and requests of an event."""
    return list(session.scalars(select(EventPair).where(EventPair.event_id == event_id)))


def pair(session: Session, event_id: int, leader_id: int, sme_id: int) -> EventPair | None:
    return session.scalar(
        select(EventPair).where(
            EventPair.event_id == event_id,
            EventPair.leader_id == leader_id,
            EventPair.sme_id == sme_id,
        )
    )


def meetings(session: Session, event_id: int, include_cancelled: bool = True) -> list[Meeting]:
    """Meetings of an event in grid order."""
    stmt = select(Meeting).where(Meeting.event_id == event_id)
    if not include_cancelled:
        stmt = stmt.where(Meeting.status != "cancelled")
    return list(session.scalars(stmt.order_by(Meeting.slot, Meeting.table_no, Meeting.id)))


def events_between(session: Session, year: int | None) -> list[Event]:
    """Live events, optionally of one year."""
    stmt = select(Event).where(Event.deleted_at.is_(None))
    rows = list(session.scalars(stmt.order_by(Event.event_date)))
    return [e for e in rows if year is None or e.event_date.year == year]


def leader_names(session: Session, ids: list[int]) -> dict[int, str]:
    """Enterprise names of chain leaders by id."""
    if not ids:
        return {}
    rows = session.execute(
        select(ChainLeader.id, Enterprise.name)
        .join(Enterprise, ChainLeader.enterprise_id == Enterprise.id)
        .where(ChainLeader.id.in_(ids))
    )
    return {i: name for i, name in rows}


def sme_names(session: Session, ids: list[int]) -> dict[int, str]:
    """Enterprise names of SME profiles by id."""
    if not ids:
        return {}
    rows = session.execute(
        select(SmeProfile.id, Enterprise.name)
        .join(Enterprise, SmeProfile.enterprise_id == Enterprise.id)
        .where(SmeProfile.id.in_(ids))
    )
    return {i: name for i, name in rows}
