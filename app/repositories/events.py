"""Queries on docking events."""

from collections.abc import Iterable

from sqlalchemy import Select, exists, func, literal, select, union_all
from sqlalchemy.orm import Session, selectinload

from models import (
    Chain,
    ChainLeader,
    Demand,
    Enterprise,
    Event,
    EventPair,
    EventParticipant,
    Meeting,
    SmeProfile,
    sme_chains,
)

# session.info key: the events a session loaded. The identity map holds its objects weakly, so
# an event a service has done with would be read again by the next call of the same request;
# held here, each event (and its participants) is read once per session.
_KEPT = "events_kept"


def meeting(session: Session, meeting_id: int) -> Meeting | None:
    """One meeting by id."""
    return session.get(Meeting, meeting_id)


def get(session: Session, event_id: int) -> Event | None:
    """One live event with its participants, read once per session."""
    event = session.get(Event, event_id, options=[selectinload(Event.participants)])
    if event is None or event.deleted_at is not None:
        return None
    session.info.setdefault(_KEPT, {})[event.id] = event
    return event


def forget_participants(session: Session, event: Event) -> None:
    """Participants were added or removed: read them again when next asked for."""
    session.expire(event, ["participants"])


def _page(session: Session, stmt: Select, limit: int, offset: int) -> tuple[list[Event], int]:
    """One page of these events, latest date first, and their total."""
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(
        stmt.order_by(Event.event_date.desc(), Event.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


def list_page(session: Session, limit: int, offset: int) -> tuple[list[Event], int]:
    """Events, latest date first."""
    return _page(session, select(Event).where(Event.deleted_at.is_(None)), limit, offset)


def _party_column(kind: str):
    return EventParticipant.leader_id if kind == "leader" else EventParticipant.sme_id


def list_page_of_party(
    session: Session,
    kind: str,
    party_id: int,
    limit: int,
    offset: int,
    with_participants: bool = False,
) -> tuple[list[Event], int]:
    """Live events a leader or an SME takes part in, latest date first (with every
    participant of each, in one more query, when asked)."""
    joined = select(EventParticipant.event_id).where(
        EventParticipant.kind == kind, _party_column(kind) == party_id
    )
    stmt = select(Event).where(Event.deleted_at.is_(None), Event.id.in_(joined))
    if with_participants:
        stmt = stmt.options(selectinload(Event.participants))
    return _page(session, stmt, limit, offset)


def participant_counts(session: Session, event_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Participants per event and kind ("leader", "sme"), in one query for a whole list."""
    ids = set(event_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(EventParticipant.event_id, EventParticipant.kind, func.count())
        .where(EventParticipant.event_id.in_(ids))
        .group_by(EventParticipant.event_id, EventParticipant.kind)
    )
    out: dict[int, dict[str, int]] = {}
    for event_id, kind, n in rows:
        out.setdefault(event_id, {})[kind] = n
    return out


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
    return meetings_of(session, [event_id], include_cancelled)


def meetings_of(
    session: Session, event_ids: Iterable[int], include_cancelled: bool = True
) -> list[Meeting]:
    """Meetings of these events in grid order, in one query."""
    ids = set(event_ids)
    if not ids:
        return []
    stmt = select(Meeting).where(Meeting.event_id.in_(ids))
    if not include_cancelled:
        stmt = stmt.where(Meeting.status != "cancelled")
    return list(session.scalars(stmt.order_by(Meeting.slot, Meeting.table_no, Meeting.id)))


def events_between(session: Session, year: int | None) -> list[Event]:
    """Live events, optionally of one year."""
    stmt = select(Event).where(Event.deleted_at.is_(None))
    rows = list(session.scalars(stmt.order_by(Event.event_date)))
    return [e for e in rows if year is None or e.event_date.year == year]


def party_names(session: Session, kind: str, ids: Iterable[int]) -> dict[int, str]:
    """Enterprise names of chain leaders (kind "leader") or SME profiles by id."""
    ids = set(ids)
    if not ids:
        return {}
    party = ChainLeader if kind == "leader" else SmeProfile
    rows = session.execute(
        select(party.id, Enterprise.name)
        .join(Enterprise, party.enterprise_id == Enterprise.id)
        .where(party.id.in_(ids))
    )
    return {i: name for i, name in rows}


def live_demands(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, str | None]]:
    """Title and chain code of each of these needs that is not deleted, in one query."""
    ids = set(ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Demand.id, Demand.title, Chain.code)
        .outerjoin(Chain, Demand.chain_id == Chain.id)
        .where(Demand.id.in_(ids), Demand.deleted_at.is_(None))
    )
    return {i: (title, code) for i, title, code in rows}


def leader_choices(session: Session, limit: int) -> list[tuple[int, str]]:
    """(id, name) of live chain leaders, in order of registration."""
    rows = session.execute(
        select(ChainLeader.id, Enterprise.name)
        .join(Enterprise, ChainLeader.enterprise_id == Enterprise.id)
        .where(ChainLeader.deleted_at.is_(None))
        .order_by(ChainLeader.id)
        .limit(limit)
    )
    return [(i, name) for i, name in rows]


def sme_choices(
    session: Session, version_id: int, chains: list[str], limit: int
) -> list[tuple[int, str]]:
    """(id, name) of live SME profiles, newest first: up to `limit` of each chain in turn
    (of every chain when none is named), in one query; a profile of two chains comes twice."""

    def newest(rank: int, code: str | None):
        stmt = (
            select(SmeProfile.id, Enterprise.name, literal(rank).label("rank"))
            .join(Enterprise, SmeProfile.enterprise_id == Enterprise.id)
            .where(SmeProfile.deleted_at.is_(None))
        )
        if code is not None:
            stmt = stmt.where(
                exists()
                .where(sme_chains.c.sme_id == SmeProfile.id)
                .where(sme_chains.c.chain_id == Chain.id)
                .where(Chain.code == code, Chain.taxonomy_version_id == version_id)
            )
        # A subquery each: a part of a UNION may not have its own ORDER BY / LIMIT in SQLite.
        return select(stmt.order_by(SmeProfile.id.desc()).limit(limit).subquery())

    parts = union_all(*(newest(i, code) for i, code in enumerate(chains or [None]))).subquery()
    rows = session.execute(
        select(parts.c.id, parts.c.name).order_by(parts.c.rank, parts.c.id.desc())
    )
    return [(i, name) for i, name in rows]
