"""Docking events: plan, pre-match, schedule, adjust, record outcomes, report."""

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from app.errors import Conflict, FieldError, InvalidInput, NotFound
from app.repositories import demands as demand_repo
from app.repositories import events as repo
from app.repositories import leaders as leader_repo
from app.repositories import smes as sme_repo
from app.schemas.common import Page
from app.schemas.event import (
    OUTCOME_LABELS,
    ConflictRead,
    EventCreate,
    EventRead,
    EventUpdate,
    MatchListRead,
    MeetingCreate,
    MeetingRead,
    MeetingUpdate,
    OutcomeIn,
    PairRead,
    ParticipantRead,
    ParticipantsIn,
    PreferencesIn,
    ScheduleRead,
    SlotRead,
)
from app.services import access, feedback, match_docs
from app.services.auth import Principal
from app.services.common import check_version
from app.services.matching import MatchingRuntime
from matching import docking
from matching.matcher import ProfileFilter
from matching.timeslots import Slot, hhmm, slot_times
from models import Event, EventPair, EventParticipant, Meeting, utcnow

# Pairs per need kept as candidates: the organizer's shortlist is about 15 SMEs per leader.
CANDIDATES_PER_DEMAND = 15


def _not_found(event_id: int) -> NotFound:
    return NotFound(f"event {event_id} not found", f"对接活动 {event_id} 不存在")


def get_event_row(session: Session, event_id: int) -> Event:
    event = repo.get(session, event_id)
    if event is None:
        raise _not_found(event_id)
    return event


def slots_of(event: Event) -> list[Slot]:
    """The event's meeting slots."""
    return slot_times(
        event.start_time,
        event.meeting_minutes,
        event.gap_minutes,
        event.slot_count,
        [(b["start"], b["end"]) for b in event.breaks or []],
    )


def _read(event: Event, kinds: dict[str, int] | None = None) -> EventRead:
    """An event as read; `kinds` counts its participants by kind (else its own are counted)."""
    if kinds is None:
        kinds = Counter(p.kind for p in event.participants)
    return EventRead.of(
        event,
        chains=list(event.chains or []),
        date=event.event_date,
        breaks=list(event.breaks or []),
        slots=[
            SlotRead(index=s.index, start=hhmm(s.start), end=hhmm(s.end)) for s in slots_of(event)
        ],
        leaders=kinds.get("leader", 0),
        smes=kinds.get("sme", 0),
    )


def _reads(session: Session, rows: list[Event]) -> list[EventRead]:
    """A list of events as read, their participants counted in one query."""
    counts = repo.participant_counts(session, [e.id for e in rows])
    return [_read(e, counts.get(e.id, {})) for e in rows]


def _check_slots(data: EventCreate | EventUpdate, event: Event | None = None) -> None:
    values = {
        k: getattr(data, k) if getattr(data, k, None) is not None else getattr(event, k)
        for k in ("start_time", "meeting_minutes", "gap_minutes", "slot_count")
    }
    breaks = data.breaks if data.breaks is not None else (event.breaks if event else [])
    try:
        slot_times(
            values["start_time"],
            values["meeting_minutes"],
            values["gap_minutes"],
            values["slot_count"],
            [(b.start, b.end) if hasattr(b, "start") else (b["start"], b["end"]) for b in breaks],
        )
    except ValueError:
        raise InvalidInput(
            [
                FieldError(
                    loc=("body", "slot_count"),
                    msg="the slots run past midnight",
                    msg_zh="会谈场次排到了午夜之后，请减少场次或提前开始",
                )
            ]
        ) from None


def create_event(session: Session, data: EventCreate) -> EventRead:
    """Plan an event."""
    _check_slots(data)
    # The fields are the columns, by name (the breaks as plain dicts).
    event = Event(**data.model_dump())
    session.add(event)
    session.flush()
    return _read(event, {})


def get_event(session: Session, event_id: int) -> EventRead:
    return _read(get_event_row(session, event_id))


def list_events(session: Session, limit: int, offset: int) -> Page[EventRead]:
    rows, total = repo.list_page(session, limit, offset)
    return Page[EventRead](items=_reads(session, rows), total=total, limit=limit, offset=offset)


def update_event(
    session: Session, event_id: int, data: EventUpdate, if_match: int | None
) -> EventRead:
    """Change an event's plan."""
    event = get_event_row(session, event_id)
    check_version(event.version, data.version if data.version is not None else if_match)
    _check_slots(data, event)
    for name in data.model_fields_set - {"version"}:
        value = getattr(data, name)
        if value is None:
            continue
        if name == "breaks":
            value = [b.model_dump() for b in value]
        setattr(event, name, value)
    event.updated_at = utcnow()
    session.flush()
    return _read(event)


# -- participants and preferences ----------------------------------------------------------


def party_key(kind: str, party_id: int) -> str:
    """A participant as the API names it: L<leader id> or S<SME profile id>."""
    return f"{'L' if kind == 'leader' else 'S'}{party_id}"


def _party(p: EventParticipant) -> str:
    return party_key(p.kind, p.leader_id if p.kind == "leader" else p.sme_id)


# session.info key: the participants' names a session has read ("L1" -> name), so that the
# pages and exports that show an event's names in several parts read each name once.
_NAMES = "event_party_names"


def _names(session: Session, people: list[EventParticipant]) -> dict[str, str]:
    """Display names of the participants, read in two queries whatever the event's size."""
    known: dict[str, str] = session.info.setdefault(_NAMES, {})
    missing = {_party(p) for p in people} - known.keys()
    for kind, prefix in (("leader", "L"), ("sme", "S")):
        ids = [int(key[1:]) for key in missing if key[0] == prefix]
        found = repo.party_names(session, kind, ids)
        known.update({f"{prefix}{i}": name for i, name in found.items()})
    return {
        _party(p): known.get(
            _party(p), f"链主{p.leader_id}" if p.kind == "leader" else f"企业{p.sme_id}"
        )
        for p in people
    }


def _participant_read(p: EventParticipant, names: dict[str, str]) -> ParticipantRead:
    return ParticipantRead(
        id=p.id,
        kind=p.kind,
        party=_party(p),
        leader_id=p.leader_id,
        sme_id=p.sme_id,
        name=names.get(_party(p), ""),
        demand_ids=list(p.demand_ids or []),
        cap=p.cap,
        unavailable_slots=list(p.unavailable_slots or []),
    )


def list_participants(session: Session, event_id: int) -> list[ParticipantRead]:
    people = get_event_row(session, event_id).participants
    names = _names(session, people)
    return [_participant_read(p, names) for p in people]


def add_participants(
    session: Session, event_id: int, data: ParticipantsIn
) -> list[ParticipantRead]:
    """Add leaders and SMEs (adding one again updates its needs, cap and unavailability)."""
    event = get_event_row(session, event_id)
    errors: list[FieldError] = []
    existing = {_party(p): p for p in event.participants}
    for i, item in enumerate(data.participants):
        loc = ("body", "participants", i)
        for slot in item.unavailable_slots:
            if slot >= event.slot_count:
                errors.append(
                    FieldError(
                        loc=(*loc, "unavailable_slots"),
                        msg=f"slot {slot} is outside the event's {event.slot_count} slots",
                        msg_zh=f"场次 {slot} 超出本活动的 {event.slot_count} 场",
                    )
                )
        if item.leader_id is not None:
            leader = leader_repo.get(session, item.leader_id)
            if leader is None:
                errors.append(
                    FieldError(
                        loc=(*loc, "leader_id"),
                        msg=f"chain leader {item.leader_id} does not exist",
                        msg_zh=f"链主企业 {item.leader_id} 不存在",
                    )
                )
                continue
            for j, demand_id in enumerate(item.demand_ids):
                demand = demand_repo.get(session, demand_id)
                if demand is None or demand.leader_id != item.leader_id:
                    errors.append(
                        FieldError(
                            loc=(*loc, "demand_ids", j),
                            msg=f"need {demand_id} is not a need of leader {item.leader_id}",
                            msg_zh=f"需求 {demand_id} 不属于该链主",
                        )
                    )
        elif sme_repo.get(session, item.sme_id) is None:
            errors.append(
                FieldError(
                    loc=(*loc, "sme_id"),
                    msg=f"SME profile {item.sme_id} does not exist",
                    msg_zh=f"中小企业档案 {item.sme_id} 不存在",
                )
            )
    if errors:
        raise InvalidInput(errors)
    for item in data.participants:
        kind = "leader" if item.leader_id is not None else "sme"
        key = f"L{item.leader_id}" if kind == "leader" else f"S{item.sme_id}"
        p = existing.get(key)
        if p is None:
            p = EventParticipant(
                event_id=event_id, kind=kind, leader_id=item.leader_id, sme_id=item.sme_id
            )
            session.add(p)
            existing[key] = p
        p.demand_ids = list(item.demand_ids)
        p.cap = item.cap
        p.unavailable_slots = sorted(set(item.unavailable_slots))
    session.flush()
    repo.forget_participants(session, event)
    return list_participants(session, event_id)


def remove_participant(session: Session, event_id: int, party: str) -> None:
    """Take a participant off the event with its marks and the meetings without an outcome."""
    event = get_event_row(session, event_id)
    match = {_party(p): p for p in event.participants}.get(party)
    if match is None:
        raise NotFound(f"{party} is not a participant", f"{party} 不是本活动的参会方")
    column = "leader_id" if match.kind == "leader" else "sme_id"
    value = getattr(match, column)
    for m in repo.meetings(session, event_id):
        if getattr(m, column) == value:
            if m.held is not None:
                raise Conflict(
                    "the participant has meetings with recorded outcomes",
                    "该参会方已有登记成果的会谈，不能移除",
                )
            session.delete(m)
    for pair in repo.pairs(session, event_id):
        if getattr(pair, column) == value:
            session.delete(pair)
    session.delete(match)
    session.flush()
    repo.forget_participants(session, event)


def set_preferences(session: Session, event_id: int, data: PreferencesIn) -> list[PairRead]:
    """Marks (must-meet / no-thanks / neutral) and meeting requests with their answers."""
    people = get_event_row(session, event_id).participants
    present = {_party(p) for p in people}
    # The need a request is about, when the leader brought exactly one (else tuning picks it).
    demand_of = {
        p.leader_id: p.demand_ids[0]
        for p in people
        if p.kind == "leader" and len(p.demand_ids or []) == 1
    }
    errors: list[FieldError] = []
    for i, pref in enumerate(data.preferences):
        for key, field in ((f"L{pref.leader_id}", "leader_id"), (f"S{pref.sme_id}", "sme_id")):
            if key not in present:
                errors.append(
                    FieldError(
                        loc=("body", "preferences", i, field),
                        msg="not a participant of this event",
                        msg_zh="不是本活动的参会方",
                    )
                )
    if errors:
        raise InvalidInput(errors)
    touched: dict[tuple[int, int], EventPair] = {}
    for i, pref in enumerate(data.preferences):
        key = (pref.leader_id, pref.sme_id)
        pair = touched.get(key) or repo.pair(session, event_id, *key)
        if pair is None:
            pair = EventPair(
                event_id=event_id,
                leader_id=pref.leader_id,
                sme_id=pref.sme_id,
                leader_mark="neutral",
                sme_mark="neutral",
            )
            session.add(pair)
        touched[key] = pair
        if pref.mark:
            setattr(pair, f"{pref.side}_mark", pref.mark)
        if pref.request == "request":
            pair.requested_by, pair.request_status = pref.side, "pending"
            feedback.meeting_requested(session, pair, demand_of.get(pref.leader_id))
        elif pref.request in ("accept", "decline"):
            if pair.requested_by is None or pair.requested_by == pref.side:
                raise Conflict(
                    "only the other side can answer a meeting request",
                    "只有被邀请的一方才能接受或拒绝会谈请求",
                    field=f"preferences.{i}.request",
                )
            pair.request_status = "accepted" if pref.request == "accept" else "declined"
            feedback.meeting_answered(
                session, pair, demand_of.get(pref.leader_id), pref.request == "accept"
            )
    session.flush()
    return list_pairs(session, event_id)


def list_pairs(session: Session, event_id: int) -> list[PairRead]:
    """The marked or requested pairs of an event."""
    return [PairRead.model_validate(p, from_attributes=True) for p in repo.pairs(session, event_id)]


# -- who sees what: staff everything, a participant only what concerns it --------------------


def party_of(principal: Principal) -> tuple[str, int] | None:
    """The participant kind and id a leader or SME account speaks for, else None."""
    if principal.role == "leader" and principal.leader_id is not None:
        return "leader", principal.leader_id
    if principal.role == "sme" and principal.sme_id is not None:
        return "sme", principal.sme_id
    return None


def ensure_participant(
    session: Session, principal: Principal, event_id: int
) -> EventParticipant | None:
    """Staff reach every event (None); others only one they take part in (their row).

    Anyone else gets the very 404 of an event that does not exist: the answer must not confirm
    that the event is there.
    """
    event = get_event_row(session, event_id)
    if principal.is_staff:
        return None
    party = party_of(principal)
    me = next((p for p in event.participants if party and _party(p) == party_key(*party)), None)
    if me is None:
        raise _not_found(event_id)
    return me


def _participant_event(read: EventRead) -> EventRead:
    """An event as a participant sees it: the organizer's notes are internal."""
    return read.model_copy(update={"notes": ""})


def visible_events(
    session: Session, principal: Principal, limit: int, offset: int
) -> Page[EventRead]:
    """Staff list every event; a leader or an SME only those it takes part in."""
    if principal.is_staff:
        return list_events(session, limit, offset)
    party = party_of(principal)
    if party is None:
        return Page[EventRead](items=[], total=0, limit=limit, offset=offset)
    rows, total = repo.list_page_of_party(session, *party, limit, offset)
    return Page[EventRead](
        items=[_participant_event(r) for r in _reads(session, rows)],
        total=total,
        limit=limit,
        offset=offset,
    )


def event_for(session: Session, principal: Principal, event_id: int) -> EventRead:
    """One event, in full for the staff, without internal notes for a participant."""
    me = ensure_participant(session, principal, event_id)
    read = get_event(session, event_id)
    return read if me is None else _participant_event(read)


def participants_for(
    session: Session, principal: Principal, event_id: int
) -> list[ParticipantRead]:
    """Staff see everyone; a participant itself in full and the other side's firms by name.

    Firms of its own kind (an SME's competitors, a leader's peers) are not its counterparts.
    """
    me = ensure_participant(session, principal, event_id)
    everyone = list_participants(session, event_id)
    if me is None:
        return everyone
    return [
        p
        if p.id == me.id
        else p.model_copy(
            update={"demand_ids": [], "cap": None, "unavailable_slots": [], "details_hidden": True}
        )
        for p in everyone
        if p.id == me.id or p.kind != me.kind
    ]


def pairs_of(session: Session, event_id: int, me: EventParticipant) -> list[PairRead]:
    """A participant's own pairs with its own mark; the other side's mark stays hidden.

    A pair it neither marked nor has a request on is left out: its mere existence would tell
    that the other side marked it.
    """
    own, other = ("leader", "sme") if me.kind == "leader" else ("sme", "leader")
    own_id = me.leader_id if me.kind == "leader" else me.sme_id
    return [
        p.model_copy(update={f"{other}_mark": None})
        for p in list_pairs(session, event_id)
        if getattr(p, f"{own}_id") == own_id
        and (getattr(p, f"{own}_mark") != "neutral" or p.requested_by is not None)
    ]


def mark_pairs(
    session: Session, principal: Principal, event_id: int, data: PreferencesIn
) -> list[PairRead]:
    """Marks and requests of a participant (its own side only) or of the staff (any side).

    The answer is what the caller may see: every pair for the staff, its own for a participant.
    """
    for pref in data.preferences:
        access.ensure_own_side(principal, pref.side, pref.leader_id, pref.sme_id)
    me = ensure_participant(session, principal, event_id)
    pairs = set_preferences(session, event_id, data)
    return pairs if me is None else pairs_of(session, event_id, me)


def ensure_agenda_reader(session: Session, principal: Principal, event_id: int, party: str) -> None:
    """An agenda is for its own participant, at an event it takes part in, and the staff."""
    access.ensure_party(principal, party)
    ensure_participant(session, principal, event_id)


@dataclass
class PartyEvent:
    """An event of one participant, with that participant's meetings only."""

    event: EventRead
    party: str
    meetings: list[MeetingRead]
    unplaced: list[MeetingRead]


# The console lists a participant's events on one page.
PARTY_EVENTS_SHOWN = 200


def party_events(session: Session, principal: Principal) -> list[PartyEvent]:
    """The events a leader or SME account takes part in, latest first, with its meetings."""
    party = party_of(principal)
    if party is None:
        return []
    kind, party_id = party
    rows, _ = repo.list_page_of_party(
        session, kind, party_id, PARTY_EVENTS_SHOWN, 0, with_participants=True
    )
    # Every event's meetings and names at once, not a few queries per event.
    planned: dict[int, list[Meeting]] = {e.id: [] for e in rows}
    for m in repo.meetings_of(session, planned, include_cancelled=False):
        planned[m.event_id].append(m)
    _names(session, [p for e in rows for p in e.participants])
    out = []
    for event in rows:
        schedule = _schedule(session, event, planned[event.id])

        def mine(m: MeetingRead) -> bool:
            return (m.leader_id if kind == "leader" else m.sme_id) == party_id

        def shown(ms: list[MeetingRead]) -> list[MeetingRead]:
            # "must" comes from either side's marks: the other side's are not for this one; the
            # outcome note is the organizer's.
            return [m.model_copy(update={"must": False, "note": ""}) for m in ms if mine(m)]

        out.append(
            PartyEvent(
                event=_participant_event(_read(event)),
                party=party_key(kind, party_id),
                meetings=sorted(shown(schedule.meetings), key=lambda m: m.slot or 0),
                unplaced=shown(schedule.unplaced),
            )
        )
    return out


# -- match list and schedule ----------------------------------------------------------------


def _parties(people: list[EventParticipant]) -> list[docking.Party]:
    return [
        docking.Party(
            id=_party(p),
            kind=p.kind,
            cap=p.cap,
            unavailable=frozenset(p.unavailable_slots or []),
        )
        for p in people
    ]


def _candidates(
    session: Session, runtime: MatchingRuntime, event_id: int, people: list[EventParticipant]
) -> list[docking.Candidate]:
    """Pairs worth a meeting: each need's best eligible SMEs, plus every marked or asked pair."""
    sme_ids = {p.sme_id for p in people if p.kind == "sme"}
    marks = {(x.leader_id, x.sme_id): x for x in repo.pairs(session, event_id)}
    best: dict[tuple[int, int], tuple[float, int | None]] = {}
    today = date.today()
    for p in people:
        if p.kind != "leader":
            continue
        ids = list(p.demand_ids or []) or demand_repo.open_ids_of_leader(
            session, p.leader_id, today
        )
        for demand_id in ids:
            demand = runtime.matcher.demands.get(demand_id)
            if demand is None:
                demand = demand_repo.get(session, demand_id)
                if demand is None:
                    continue
                demand = match_docs.demand_doc(demand)
            ranked = runtime.matcher.rank_profiles(
                demand,
                runtime.matcher.demand_vectors.vector(demand_id),
                k=len(sme_ids),
                where=ProfileFilter(ids=frozenset(sme_ids)),
            )
            kept = 0
            for m in ranked:
                key = (p.leader_id, m.id)
                marked = key in marks
                if kept >= CANDIDATES_PER_DEMAND and not marked:
                    continue
                if m.features.certs_missing_must and not marked:
                    continue
                kept += 1
                if key not in best or m.score > best[key][0]:
                    best[key] = (m.score, demand_id)
    out = []
    for key in set(best) | set(marks):
        score, demand_id = best.get(key, (0.0, None))
        pair = marks.get(key)
        must = bool(
            pair
            and (
                "must" in (pair.leader_mark, pair.sme_mark)
                or (pair.requested_by and pair.request_status == "accepted")
            )
        )
        blocked = bool(
            pair
            and ("no" in (pair.leader_mark, pair.sme_mark) or pair.request_status == "declined")
        )
        out.append(
            docking.Candidate(
                leader=f"L{key[0]}",
                sme=f"S{key[1]}",
                quality=round(score, 4),
                must=must and not blocked,
                blocked=blocked,
                demand=str(demand_id) if demand_id else None,
            )
        )
    return sorted(out, key=lambda c: (c.leader, c.sme))


def _meeting_read(m: Meeting, slots: list[Slot], names: dict[str, str]) -> MeetingRead:
    slot = slots[m.slot] if m.slot is not None and m.slot < len(slots) else None
    return MeetingRead(
        id=m.id,
        slot=m.slot,
        table=m.table_no,
        start=hhmm(slot.start) if slot else None,
        end=hhmm(slot.end) if slot else None,
        demand_id=m.demand_id,
        leader_id=m.leader_id,
        sme_id=m.sme_id,
        leader_name=names.get(f"L{m.leader_id}", ""),
        sme_name=names.get(f"S{m.sme_id}", ""),
        quality=m.quality,
        must=m.must,
        locked=m.locked,
        status=m.status,
        held=m.held,
        outcome=m.outcome,
        outcome_label=OUTCOME_LABELS.get(m.outcome) if m.outcome else None,
        amount=m.amount,
        note=m.outcome_note or "",
        version=m.version,
    )


def _meeting_reads(session: Session, event: Event, meetings: list[Meeting]) -> list[MeetingRead]:
    """Meetings of an event as read, with their times and the parties' names."""
    names = _names(session, event.participants)
    slots = slots_of(event)
    return [_meeting_read(m, slots, names) for m in meetings]


def build_match_list(session: Session, runtime: MatchingRuntime, event_id: int) -> MatchListRead:
    """Choose the meetings by optimisation; keeps locked meetings, replaces the other plans."""
    event = get_event_row(session, event_id)
    people = event.participants
    if not any(p.kind == "leader" for p in people) or not any(p.kind == "sme" for p in people):
        raise Conflict(
            "an event needs at least one leader and one SME before matching",
            "请先添加至少一家链主和一家中小企业",
        )
    candidates = _candidates(session, runtime, event_id, people)
    parties = _parties(people)
    result = docking.choose_meetings(parties, candidates, event.slot_count, event.tables)
    greedy = docking.greedy_meetings(parties, candidates, event.slot_count, event.tables)
    current = repo.meetings(session, event_id)
    kept = {(m.leader_id, m.sme_id) for m in current if m.locked and m.status == "planned"}
    for m in current:
        if not m.locked and m.held is None:
            session.delete(m)
    for c in result.meetings:
        key = (int(c.leader[1:]), int(c.sme[1:]))
        if key in kept:
            continue
        session.add(
            Meeting(
                event_id=event_id,
                leader_id=key[0],
                sme_id=key[1],
                demand_id=int(c.demand) if c.demand else None,
                quality=c.quality,
                must=c.must,
            )
        )
    session.flush()
    return MatchListRead(
        meetings=_meeting_reads(
            session, event, repo.meetings(session, event_id, include_cancelled=False)
        ),
        objective=round(result.objective, 4),
        greedy_objective=round(result.greedy_objective, 4),
        ratio_to_greedy=round(result.objective / result.greedy_objective, 4)
        if result.greedy_objective > 0
        else None,
        smes_with_fit=result.smes_with_fit,
        smes_met=result.smes_met,
        greedy_smes_met=len({c.sme for c in greedy}),
        unmet_must=[{"leader": c.leader, "sme": c.sme} for c in result.unmet_must],
        solver=result.solver,
    )


def _to_grid(m: Meeting) -> docking.Meeting:
    return docking.Meeting(
        leader=f"L{m.leader_id}",
        sme=f"S{m.sme_id}",
        slot=m.slot,
        table=m.table_no,
        demand=str(m.demand_id) if m.demand_id else None,
        locked=m.locked,
    )


def conflict_message(c: docking.Conflict, names: dict[str, str], slots: int, tables: int) -> str:
    """A conflict in the organizer's words, parties by name (第1场, 1号桌: counted from 1)."""
    name = [names.get(p, p) for p in c.parties]
    n = c.slot + 1 if c.slot is not None else None
    if c.kind == "outside_grid":
        return (
            f"{name[0]}与{name[1]}的会谈排在第{n}场{c.table + 1}号桌，"
            f"超出{slots}场×{tables}桌的范围"
        )
    if c.kind == "unavailable" and c.reason == "break":
        return f"第{n}场是休息时段，却排了{name[0]}与{name[1]}的会谈"
    if c.kind == "unavailable":
        return f"{name[0]}在第{n}场不能参会，却排了与{name[1]}的会谈"
    if c.kind == "double_booked":
        return f"{name[0]}在第{n}场同时有{c.meetings}场会谈（与{'、'.join(name[1:])}）"
    if c.kind == "table_clash":
        return f"第{n}场{c.table + 1}号桌同时排了{c.meetings}场会谈"
    why = "场次或桌位已排满" if c.reason == "full" else "双方没有共同的空闲场次"
    return f"{name[0]}与{name[1]}的会谈未能排入：{why}"


def _conflicts(session: Session, conflicts, event: Event) -> list[ConflictRead]:
    names = _names(session, event.participants)
    return [
        ConflictRead(
            kind=c.kind,
            message=conflict_message(c, names, event.slot_count, event.tables),
            parties=list(c.parties),
            slot=c.slot,
        )
        for c in conflicts
    ]


def build_schedule(session: Session, event_id: int) -> ScheduleRead:
    """Place the planned meetings in slots x tables; locked meetings stay where they are."""
    event = get_event_row(session, event_id)
    people = event.participants
    planned = repo.meetings(session, event_id, include_cancelled=False)
    locked = [m for m in planned if m.locked and m.slot is not None and m.table_no is not None]
    movable = [m for m in planned if m not in locked]
    schedule = docking.build_schedule(
        _parties(people),
        [
            docking.Candidate(
                leader=f"L{m.leader_id}",
                sme=f"S{m.sme_id}",
                quality=m.quality,
                must=m.must,
                demand=str(m.demand_id) if m.demand_id else None,
            )
            for m in movable
        ],
        event.slot_count,
        event.tables,
        locked=[_to_grid(m) for m in locked],
        leader_fixed_table=event.leader_fixed_table,
    )
    placed = {(x.leader, x.sme): x for x in schedule.meetings if not x.locked}
    unplaced = []
    for m in movable:
        spot = placed.get((f"L{m.leader_id}", f"S{m.sme_id}"))
        if spot is None:
            m.slot, m.table_no = None, None
            unplaced.append(m)
        else:
            m.slot, m.table_no = spot.slot, spot.table
    event.status = "scheduled"
    session.flush()
    planned = repo.meetings(session, event_id, include_cancelled=False)
    return ScheduleRead(
        meetings=_meeting_reads(session, event, [m for m in planned if m.slot is not None]),
        conflicts=_conflicts(session, schedule.conflicts, event),
        unplaced=_meeting_reads(session, event, unplaced),
        idle_gaps=schedule.idle_gaps,
    )


def get_schedule(session: Session, event_id: int) -> ScheduleRead:
    """The current grid with every conflict it has."""
    event = get_event_row(session, event_id)
    return _schedule(session, event, repo.meetings(session, event_id, include_cancelled=False))


def _schedule(session: Session, event: Event, planned: list[Meeting]) -> ScheduleRead:
    """The grid of these meetings (an event's not cancelled) with every conflict it has."""
    people = event.participants
    placed = [m for m in planned if m.slot is not None and m.table_no is not None]
    grid = [_to_grid(m) for m in placed]
    conflicts = docking.check_schedule(_parties(people), grid, event.slot_count, event.tables)
    return ScheduleRead(
        meetings=_meeting_reads(session, event, placed),
        conflicts=_conflicts(session, conflicts, event),
        unplaced=_meeting_reads(session, event, [m for m in planned if m.slot is None]),
        idle_gaps=docking.idle_gaps(grid),
    )


@dataclass
class MeetingChange:
    meeting: MeetingRead
    conflicts: list[ConflictRead]


def _meeting_row(session: Session, meeting_id: int) -> Meeting:
    m = repo.meeting(session, meeting_id)
    if m is None:
        raise NotFound(f"meeting {meeting_id} not found", f"会谈 {meeting_id} 不存在")
    return m


def _verify(session: Session, event: Event, changed: Meeting, force: bool) -> list[ConflictRead]:
    """Conflicts the change causes; refused with 409 unless forced."""
    people = event.participants
    planned = [
        m
        for m in repo.meetings(session, event.id, include_cancelled=False)
        if m.slot is not None and m.table_no is not None
    ]
    conflicts = docking.check_schedule(
        _parties(people), [_to_grid(m) for m in planned], event.slot_count, event.tables
    )
    mine = {f"L{changed.leader_id}", f"S{changed.sme_id}"}
    relevant = [
        c for c in conflicts if (c.slot is None or c.slot == changed.slot) and mine & set(c.parties)
    ]
    found = _conflicts(session, relevant, event)
    if found and not force:
        raise Conflict(
            "the change conflicts with the schedule; send force=true to keep it anyway",
            "调整后与日程冲突：" + "；".join(c.message for c in found),
            conflicts=[c.model_dump() for c in found],
        )
    return found


def update_meeting(
    session: Session, meeting_id: int, data: MeetingUpdate, if_match: int | None
) -> MeetingChange:
    """Move, lock, cancel or re-instate a meeting; conflicts are refused unless forced."""
    m = _meeting_row(session, meeting_id)
    event = get_event_row(session, m.event_id)
    check_version(m.version, data.version if data.version is not None else if_match)
    if data.slot is not None:
        m.slot = data.slot
    if data.table is not None:
        m.table_no = data.table
    if data.locked is not None:
        m.locked = data.locked
    if data.status is not None:
        m.status = data.status
    if "slot" in data.model_fields_set or "table" in data.model_fields_set:
        m.locked = True if data.locked is None else data.locked
    session.flush()
    conflicts = _verify(session, event, m, data.force) if m.status == "planned" else []
    return MeetingChange(_meeting_reads(session, event, [m])[0], conflicts)


def add_meeting(session: Session, event_id: int, data: MeetingCreate) -> MeetingChange:
    """Add a meeting by hand (locked where placed)."""
    event = get_event_row(session, event_id)
    present = {_party(p) for p in event.participants}
    missing = [k for k in (f"L{data.leader_id}", f"S{data.sme_id}") if k not in present]
    if missing:
        raise InvalidInput(
            [
                FieldError(
                    loc=("body", "leader_id" if k.startswith("L") else "sme_id"),
                    msg="not a participant of this event",
                    msg_zh="不是本活动的参会方",
                )
                for k in missing
            ]
        )
    m = Meeting(
        event_id=event_id,
        leader_id=data.leader_id,
        sme_id=data.sme_id,
        demand_id=data.demand_id,
        slot=data.slot,
        table_no=data.table,
        locked=data.locked,
    )
    session.add(m)
    session.flush()
    conflicts = _verify(session, event, m, data.force) if m.slot is not None else []
    return MeetingChange(_meeting_reads(session, event, [m])[0], conflicts)


def record_outcome(session: Session, meeting_id: int, data: OutcomeIn) -> MeetingRead:
    """Held or no-show, then the outcome level and amount; can be updated later."""
    m = _meeting_row(session, meeting_id)
    event = get_event_row(session, m.event_id)
    if m.status == "cancelled":
        raise Conflict("a cancelled meeting has no outcome", "已取消的会谈不能登记成果")
    m.held = data.held
    m.outcome = (data.outcome or "none") if data.held else None
    m.amount = data.amount
    m.outcome_note = data.note
    m.outcome_at = utcnow()
    session.flush()
    feedback.outcome_recorded(session, m)
    return _meeting_reads(session, event, [m])[0]
