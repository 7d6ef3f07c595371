"""Console pages of the organizer role: chain dashboard, docking events, schedule, import."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.deps import IndexDep, PathId, SessionDep, SettingsDep
from app.errors import Conflict, DomainError, InvalidInput, NotFound, field_errors_from_pydantic
from app.routers.web.common import OrganizerUser, form_errors, redirect, render, split_list
from app.schemas.event import (
    OUTCOME_LABELS,
    EventCreate,
    EventUpdate,
    MeetingRead,
    MeetingUpdate,
    OutcomeIn,
    ParticipantsIn,
    PreferencesIn,
)
from app.services import console, import_jobs, taxonomy
from app.services import event_exports as exports
from app.services import events as service
from app.services import imports as import_service
from app.services.auth import Principal

router = APIRouter(prefix="/organizer", include_in_schema=False)

Text = Annotated[str, Form()]
Texts = Annotated[list[str], Form()]
USER_ERRORS = (ValidationError, InvalidInput, DomainError)
EVENT_FIELDS = (
    "title",
    "date",
    "venue",
    "organizer",
    "start_time",
    "meeting_minutes",
    "gap_minutes",
    "slot_count",
    "tables",
)
STATUS_LABELS = {"planning": "筹备中", "scheduled": "已排程", "done": "已结束"}
MARK_LABELS = {"must": "必须见面", "no": "不安排", "neutral": "无偏好"}
# Dashes people type between two times: 12:00-13:30, 12:00－13:30, 12:00~13:30, 12:00至13:30.
_DASHES = re.compile(r"\s*[-－–—~～至]\s*")


@contextmanager
def attempt(session: Session) -> Iterator[None]:
    """Run a write in a savepoint: a refused write leaves nothing behind.

    The request's session commits whatever the handler leaves when it returns normally, and a
    page that shows an error returns normally; some services flush before they refuse.
    """
    with session.begin_nested():
        yield


def _messages(exc: Exception) -> list[str]:
    """Every Chinese message of a user error, in order, without repeats."""
    if isinstance(exc, ValidationError):
        errors = field_errors_from_pydantic(exc.errors())
    elif isinstance(exc, InvalidInput):
        errors = exc.errors
    elif isinstance(exc, DomainError):
        return [exc.message_zh]
    else:
        raise exc
    return list(dict.fromkeys(e.msg_zh for e in errors))


def _item_errors(
    exc: Exception, rename: dict[str, str] | None = None, labels: list[str] | None = None
) -> dict[str, str]:
    """Errors of list items (participants, preferences) keyed by the item's field.

    With `labels`, each message names the item it is about (the id the user typed).
    """
    if isinstance(exc, DomainError):
        return {"_": exc.message_zh}
    errors = (
        field_errors_from_pydantic(exc.errors()) if isinstance(exc, ValidationError) else exc.errors
    )
    out: dict[str, list[str]] = {}
    for err in errors:
        names = [p for p in err.loc if isinstance(p, str) and p != "body"]
        key = names[-1] if len(names) > 1 else "_"
        field = key
        key = (rename or {}).get(key, key)
        message = err.msg_zh
        index = next((p for p in err.loc if isinstance(p, int)), None)
        # Only the id errors name their item; a bad cap is the same for every id.
        if (
            labels
            and field in ("leader_id", "sme_id")
            and index is not None
            and index < len(labels)
        ):
            message = f"{labels[index]}：{message}"
        if message not in out.setdefault(key, []):
            out[key].append(message)
    return {k: "；".join(v) for k, v in out.items()}


def _go(path: str, msg: str, anchor: str = "") -> RedirectResponse:
    """303 with a notice; the #anchor goes after the query, where browsers look for it."""
    response = redirect(path, msg)
    if anchor:
        response.headers["location"] += f"#{anchor}"
    return response


def _status(exc: Exception) -> int:
    return getattr(exc, "status_code", 422) if isinstance(exc, DomainError) else 422


# -- the chain dashboard ---------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def dashboard(
    request: Request, user: OrganizerUser, session: SessionDep, index: IndexDep
) -> HTMLResponse:
    """Each chain of the current taxonomy with SMEs, open needs and weak links."""
    chains = console.chain_overview(session, index)
    recent = service.list_events(session, 5, 0).items
    return render(request, "web/organizer/dashboard.html", user, chains=chains, events=recent)


@router.get("/chains/{code}", response_class=HTMLResponse)
def chain_page(
    request: Request, code: str, user: OrganizerUser, session: SessionDep, index: IndexDep
) -> HTMLResponse:
    """The chain map: sub-chains, links by stage, suppliers and needs per link, weak links."""
    chain = console.chain_map(session, index, code)
    return render(request, "web/organizer/chain.html", user, chain=chain)


# -- events: list, create, plan ---------------------------------------------------------------


def _parse_breaks(text: str) -> list[dict[str, str]]:
    """Breaks typed as "12:00-13:30 午餐, 15:00-15:15"; the schema judges each time."""
    out = []
    for part in split_list(text):
        times, _, title = part.partition(" ")
        start, _, end = _DASHES.sub("-", times.strip(), count=1).partition("-")
        item = {"start": start.strip(), "end": end.strip()}
        if title.strip():
            item["title"] = title.strip()
        out.append(item)
    return out


def _breaks_text(breaks: list[dict]) -> str:
    return "，".join(
        f"{b['start']}-{b['end']}"
        + (f" {b['title']}" if b.get("title") not in (None, "", "休息") else "")
        for b in breaks
    )


def _event_payload(form: dict[str, str], chains: list[str], fixed: bool) -> dict[str, Any]:
    # Empty boxes are left out so the schema's defaults apply (or, for required ones, it says so).
    payload: dict[str, Any] = {k: form[k] for k in EVENT_FIELDS if form.get(k, "").strip()}
    payload["chains"] = [c for c in chains if c]
    payload["breaks"] = _parse_breaks(form.get("breaks", ""))
    payload["leader_fixed_table"] = fixed
    return payload


def _event_form(
    title: str,
    date: str,
    venue: str,
    organizer: str,
    start_time: str,
    meeting_minutes: str,
    gap_minutes: str,
    slot_count: str,
    breaks: str,
    tables: str,
) -> dict[str, str]:
    return {
        "title": title,
        "date": date,
        "venue": venue,
        "organizer": organizer,
        "start_time": start_time,
        "meeting_minutes": meeting_minutes,
        "gap_minutes": gap_minutes,
        "slot_count": slot_count,
        "breaks": breaks,
        "tables": tables,
    }


def _chain_options(session: Session) -> list[tuple[str, str]]:
    try:
        return [(c.code, c.name) for c in taxonomy.list_chains(session, None)]
    except NotFound:
        return []


def _events_page(
    request: Request,
    user: Principal,
    session: Session,
    form: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "web/organizer/events.html",
        user,
        status_code=status_code,
        events=service.list_events(session, 200, 0).items,
        chain_options=_chain_options(session),
        chain_names=dict(_chain_options(session)),
        status_labels=STATUS_LABELS,
        form=form,
        errors=errors,
    )


NEW_EVENT = {
    "start_time": "09:00",
    "meeting_minutes": "20",
    "gap_minutes": "5",
    "slot_count": "12",
    "tables": "10",
    "breaks": "12:00-13:30",
    "chains": [],
    "leader_fixed_table": True,
}


@router.get("/events", response_class=HTMLResponse)
def events_page(request: Request, user: OrganizerUser, session: SessionDep) -> HTMLResponse:
    """The events and a form for a new one."""
    return _events_page(request, user, session, dict(NEW_EVENT), {})


@router.post("/events", response_class=HTMLResponse)
def create_event(
    request: Request,
    user: OrganizerUser,
    session: SessionDep,
    title: Text = "",
    date: Text = "",
    venue: Text = "",
    organizer: Text = "",
    start_time: Text = "",
    meeting_minutes: Text = "",
    gap_minutes: Text = "",
    slot_count: Text = "",
    breaks: Text = "",
    tables: Text = "",
    chains: Texts = [],  # noqa: B006 - FastAPI copies defaults per request
    leader_fixed_table: Text = "",
) -> Response:
    """Create an event; field errors are shown in place."""
    form: dict[str, Any] = _event_form(
        title,
        date,
        venue,
        organizer,
        start_time,
        meeting_minutes,
        gap_minutes,
        slot_count,
        breaks,
        tables,
    )
    form |= {"chains": chains, "leader_fixed_table": bool(leader_fixed_table)}
    try:
        data = EventCreate.model_validate(_event_payload(form, chains, bool(leader_fixed_table)))
        with attempt(session):
            event = service.create_event(session, data)
    except USER_ERRORS as exc:
        return _events_page(request, user, session, form, form_errors(exc), _status(exc))
    return redirect(f"/organizer/events/{event.id}", f"已创建对接活动“{event.title}”")


def _event_values(event) -> dict[str, Any]:
    """An event as the basics form shows it."""
    return {
        "title": event.title,
        "date": str(event.date),
        "venue": event.venue,
        "organizer": event.organizer,
        "start_time": event.start_time,
        "meeting_minutes": str(event.meeting_minutes),
        "gap_minutes": str(event.gap_minutes),
        "slot_count": str(event.slot_count),
        "breaks": _breaks_text(event.breaks),
        "tables": str(event.tables),
        "chains": list(event.chains),
        "leader_fixed_table": event.leader_fixed_table,
        "status": event.status,
        "notes": event.notes,
        "version": str(event.version),
    }


def _plan_page(
    request: Request,
    user: Principal,
    session: Session,
    event_id: int,
    status_code: int = 200,
    **override: Any,
) -> HTMLResponse:
    """The event plan page; `override` replaces a form's values or errors after a refusal."""
    event = service.get_event(session, event_id)
    participants = service.list_participants(session, event_id)
    schedule = service.get_schedule(session, event_id)
    names = {p.party: p.name for p in participants}
    context: dict[str, Any] = {
        "event": event,
        "participants": participants,
        "leaders": [p for p in participants if p.kind == "leader"],
        "smes": [p for p in participants if p.kind == "sme"],
        "pairs": service.list_pairs(session, event_id),
        "names": names,
        "schedule": schedule,
        "leader_options": console.leader_options(session),
        "sme_options": console.sme_options(session, event.chains),
        "chain_options": _chain_options(session),
        "chain_names": dict(_chain_options(session)),
        "status_labels": STATUS_LABELS,
        "mark_labels": MARK_LABELS,
        "basics": _event_values(event),
        "basics_errors": {},
        "part_form": {"kind": "sme", "ids": "", "cap": "", "picked": [], "unavailable": []},
        "part_errors": {},
        "pref_form": {"side": "leader", "mark": "must"},
        "pref_errors": {},
        "action_error": None,
    }
    context.update(override)
    return render(request, "web/organizer/event.html", user, status_code=status_code, **context)


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event_page(
    request: Request, event_id: PathId, user: OrganizerUser, session: SessionDep
) -> HTMLResponse:
    """The plan of an event: basics, participants, preferences, match list and schedule."""
    return _plan_page(request, user, session, event_id)


@router.post("/events/{event_id}", response_class=HTMLResponse)
def update_event(
    request: Request,
    event_id: PathId,
    user: OrganizerUser,
    session: SessionDep,
    title: Text = "",
    date: Text = "",
    venue: Text = "",
    organizer: Text = "",
    start_time: Text = "",
    meeting_minutes: Text = "",
    gap_minutes: Text = "",
    slot_count: Text = "",
    breaks: Text = "",
    tables: Text = "",
    chains: Texts = [],  # noqa: B006 - FastAPI copies defaults per request
    leader_fixed_table: Text = "",
    status: Text = "",
    notes: Text = "",
    version: Text = "",
) -> Response:
    """Change the basics of an event (with the version the form was read at)."""
    form: dict[str, Any] = _event_form(
        title,
        date,
        venue,
        organizer,
        start_time,
        meeting_minutes,
        gap_minutes,
        slot_count,
        breaks,
        tables,
    )
    form |= {
        "chains": chains,
        "leader_fixed_table": bool(leader_fixed_table),
        "status": status,
        "notes": notes,
        "version": version,
    }
    payload = _event_payload(form, chains, bool(leader_fixed_table))
    payload["notes"] = notes
    for key in ("status", "version"):
        if form[key].strip():
            payload[key] = form[key]
    try:
        data = EventUpdate.model_validate(payload)
        with attempt(session):
            service.update_event(session, event_id, data, None)
    except NotFound:
        raise
    except USER_ERRORS as exc:
        return _plan_page(
            request,
            user,
            session,
            event_id,
            _status(exc),
            basics=form,
            basics_errors=form_errors(exc),
        )
    return redirect(f"/organizer/events/{event_id}", "已保存活动信息")


def _ids(values: list[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        for part in split_list(value):
            if part not in out:
                out.append(part)
    return out


@router.post("/events/{event_id}/participants", response_class=HTMLResponse)
def add_participants(
    request: Request,
    event_id: PathId,
    user: OrganizerUser,
    session: SessionDep,
    kind: Text = "sme",
    ids: Text = "",
    picked: Texts = [],  # noqa: B006 - FastAPI copies defaults per request
    cap: Text = "",
    unavailable: Texts = [],  # noqa: B006
) -> Response:
    """Add leaders or SMEs (picked in the list or typed as ids) with a cap and unavailable slots."""
    form = {"kind": kind, "ids": ids, "cap": cap, "picked": picked, "unavailable": unavailable}
    key = "leader_id" if kind == "leader" else "sme_id"
    chosen = _ids([*picked, ids])
    try:
        if not chosen:
            raise InvalidInput([])
        data = ParticipantsIn.model_validate(
            {
                "participants": [
                    {
                        key: value,
                        **({"cap": cap.strip()} if cap.strip() else {}),
                        "unavailable_slots": [u for u in unavailable if u.strip()],
                    }
                    for value in chosen
                ]
            }
        )
        with attempt(session):
            service.add_participants(session, event_id, data)
    except NotFound:
        raise
    except USER_ERRORS as exc:
        errors = _item_errors(
            exc,
            {
                "leader_id": "ids",
                "sme_id": "ids",
                "demand_ids": "ids",
                "unavailable_slots": "unavailable",
            },
            labels=chosen,
        )
        if not chosen:
            errors = {"ids": "请在列表中选择或填写至少一家企业的编号"}
        return _plan_page(
            request,
            user,
            session,
            event_id,
            _status(exc),
            part_form=form,
            part_errors=errors,
        )
    label = "链主企业" if kind == "leader" else "中小企业"
    return _go(f"/organizer/events/{event_id}", f"已添加 {len(chosen)} 家{label}", "participants")


@router.post("/events/{event_id}/participants/{party}/remove", response_class=HTMLResponse)
def remove_participant(
    request: Request, event_id: PathId, party: str, user: OrganizerUser, session: SessionDep
) -> Response:
    """Take one participant off the event with its marks and meetings not yet held."""
    try:
        with attempt(session):
            service.remove_participant(session, event_id, party)
    except NotFound:
        raise
    except DomainError as exc:
        return _plan_page(
            request, user, session, event_id, exc.status_code, action_error=exc.message_zh
        )
    return _go(f"/organizer/events/{event_id}", f"已移除参会方 {party}", "participants")


@router.post("/events/{event_id}/preferences", response_class=HTMLResponse)
def set_preference(
    request: Request,
    event_id: PathId,
    user: OrganizerUser,
    session: SessionDep,
    leader_id: Text = "",
    sme_id: Text = "",
    side: Text = "",
    mark: Text = "",
) -> Response:
    """One side's must-meet / no-thanks mark on a pair."""
    form = {"leader_id": leader_id, "sme_id": sme_id, "side": side, "mark": mark}
    item = {k: v for k, v in form.items() if v.strip()}
    try:
        data = PreferencesIn.model_validate({"preferences": [item]})
        with attempt(session):
            service.set_preferences(session, event_id, data)
    except NotFound:
        raise
    except USER_ERRORS as exc:
        return _plan_page(
            request,
            user,
            session,
            event_id,
            _status(exc),
            pref_form=form,
            pref_errors=_item_errors(exc),
        )
    return _go(f"/organizer/events/{event_id}", "已保存配对标记", "preferences")


@router.post("/events/{event_id}/match-list", response_class=HTMLResponse)
def build_match_list(
    request: Request, event_id: PathId, user: OrganizerUser, session: SessionDep, index: IndexDep
) -> Response:
    """Choose the meetings by optimisation and report how it did against a greedy pass."""
    try:
        with attempt(session):
            result = service.build_match_list(session, index, event_id)
    except NotFound:
        raise
    except DomainError as exc:
        return _plan_page(
            request, user, session, event_id, exc.status_code, action_error=exc.message_zh
        )
    ratio = f"，为贪心的 {result.ratio_to_greedy:.0%}" if result.ratio_to_greedy else ""
    summary = (
        f"已生成匹配清单：选定会谈 {len(result.meetings)} 场，"
        f"覆盖中小企业 {result.smes_met}/{result.smes_with_fit} 家"
        f"（贪心 {result.greedy_smes_met} 家）；"
        f"匹配质量目标值 {result.objective:.2f}（贪心 {result.greedy_objective:.2f}{ratio}）"
    )
    if result.unmet_must:
        summary += f"；{len(result.unmet_must)} 对必须见面的未能安排"
    return _go(f"/organizer/events/{event_id}", summary, "actions")


@router.post("/events/{event_id}/schedule", response_class=HTMLResponse)
def build_schedule(
    request: Request, event_id: PathId, user: OrganizerUser, session: SessionDep
) -> Response:
    """Place the meetings in slots x tables, then show the grid."""
    try:
        with attempt(session):
            result = service.build_schedule(session, event_id)
    except NotFound:
        raise
    except DomainError as exc:
        return _plan_page(
            request, user, session, event_id, exc.status_code, action_error=exc.message_zh
        )
    msg = f"已排定日程：{len(result.meetings)} 场会谈"
    if result.unplaced:
        msg += f"，{len(result.unplaced)} 场未能排入"
    msg += f"，空档 {result.idle_gaps} 个"
    return redirect(f"/organizer/events/{event_id}/schedule", msg)


# -- the schedule grid ----------------------------------------------------------------------


def _schedule_page(
    request: Request,
    user: Principal,
    session: Session,
    event_id: int,
    status_code: int = 200,
    problem: dict[str, Any] | None = None,
) -> HTMLResponse:
    event = service.get_event(session, event_id)
    schedule = service.get_schedule(session, event_id)
    participants = service.list_participants(session, event_id)
    cells: dict[tuple[int, int], list[MeetingRead]] = {}
    for m in schedule.meetings:
        cells.setdefault((m.slot, m.table), []).append(m)
    # Columns: the event's tables, plus any a forced move put beyond them.
    tables = sorted({*range(event.tables), *(m.table for m in schedule.meetings)})
    needs = console.demand_titles(
        session, [m.demand_id for m in schedule.meetings + schedule.unplaced if m.demand_id]
    )
    ordered = sorted(schedule.meetings, key=lambda m: (m.slot, m.table, m.id))
    return render(
        request,
        "web/organizer/schedule.html",
        user,
        status_code=status_code,
        event=event,
        schedule=schedule,
        cells=cells,
        tables=tables,
        needs=needs,
        ordered=ordered,
        participants=participants,
        slot_labels={s.index: f"{s.start}-{s.end}" for s in event.slots},
        problem=problem,
    )


@router.get("/events/{event_id}/schedule", response_class=HTMLResponse)
def schedule_page(
    request: Request, event_id: PathId, user: OrganizerUser, session: SessionDep
) -> HTMLResponse:
    """Slots down, tables across; per meeting: move, lock, cancel; exports and agendas."""
    return _schedule_page(request, user, session, event_id)


def _change_meeting(
    request: Request,
    user: Principal,
    session: Session,
    meeting_id: int,
    payload: dict[str, Any],
    done: str,
) -> Response:
    """Apply a MeetingUpdate; a refusal re-shows the grid with the reason (and a force form)."""
    event_id = console.meeting_event_id(session, meeting_id)
    if event_id is None:
        raise NotFound(f"meeting {meeting_id}", f"会谈 {meeting_id} 不存在")
    try:
        data = MeetingUpdate.model_validate(payload)
        with attempt(session):
            change = service.update_meeting(session, meeting_id, data, None)
    except USER_ERRORS as exc:
        conflicts = exc.extra.get("conflicts", []) if isinstance(exc, Conflict) else []
        problem = {
            "meeting_id": meeting_id,
            "messages": _messages(exc) if not conflicts else [],
            "conflicts": [c["message"] for c in conflicts],
            "payload": payload,
        }
        return _schedule_page(request, user, session, event_id, _status(exc), problem)
    msg = done
    if change.conflicts and payload.get("force") and ("slot" in payload or "table" in payload):
        msg += f"（仍有 {len(change.conflicts)} 处冲突，已按要求强制保存）"
    return _go(f"/organizer/events/{event_id}/schedule", msg, f"m{meeting_id}")


def _version(value: str) -> dict[str, str]:
    return {"version": value} if value.strip() else {}


@router.post("/meetings/{meeting_id}/move", response_class=HTMLResponse)
def move_meeting(
    request: Request,
    meeting_id: PathId,
    user: OrganizerUser,
    session: SessionDep,
    slot: Text = "",
    table: Text = "",
    version: Text = "",
    force: Text = "",
) -> Response:
    """Move a meeting to another slot and table; a conflict is refused unless forced."""
    payload: dict[str, Any] = {k: v for k, v in (("slot", slot), ("table", table)) if v.strip()}
    payload |= _version(version) | {"force": bool(force)}
    return _change_meeting(request, user, session, meeting_id, payload, "已移动会谈")


@router.post("/meetings/{meeting_id}/lock", response_class=HTMLResponse)
def lock_meeting(
    request: Request,
    meeting_id: PathId,
    user: OrganizerUser,
    session: SessionDep,
    locked: Text = "1",
    version: Text = "",
) -> Response:
    """Lock a meeting in place (re-scheduling keeps it) or release it."""
    on = locked not in ("", "0", "false")
    # Locking moves nothing, so conflicts the grid already has must not block it.
    payload = {"locked": on, "force": True} | _version(version)
    return _change_meeting(
        request, user, session, meeting_id, payload, "已锁定会谈" if on else "已解除锁定"
    )


@router.post("/meetings/{meeting_id}/cancel", response_class=HTMLResponse)
def cancel_meeting(
    request: Request,
    meeting_id: PathId,
    user: OrganizerUser,
    session: SessionDep,
    version: Text = "",
) -> Response:
    """Cancel a meeting (it leaves the grid)."""
    payload = {"status": "cancelled"} | _version(version)
    return _change_meeting(request, user, session, meeting_id, payload, "已取消会谈")


# -- outcomes and report ----------------------------------------------------------------------


def _outcomes_page(
    request: Request,
    user: Principal,
    session: Session,
    event_id: int,
    status_code: int = 200,
    failed: dict[str, Any] | None = None,
) -> HTMLResponse:
    event = service.get_event(session, event_id)
    schedule = service.get_schedule(session, event_id)
    meetings = sorted(
        schedule.meetings + schedule.unplaced,
        key=lambda m: (m.slot is None, m.slot or 0, m.table or 0, m.id),
    )
    return render(
        request,
        "web/organizer/outcomes.html",
        user,
        status_code=status_code,
        event=event,
        meetings=meetings,
        needs=console.demand_titles(session, [m.demand_id for m in meetings if m.demand_id]),
        outcome_labels=OUTCOME_LABELS,
        failed=failed,
    )


@router.get("/events/{event_id}/outcomes", response_class=HTMLResponse)
def outcomes_page(
    request: Request, event_id: PathId, user: OrganizerUser, session: SessionDep
) -> HTMLResponse:
    """A form per meeting: held or not, outcome, amount (万元), note."""
    return _outcomes_page(request, user, session, event_id)


@router.post("/meetings/{meeting_id}/outcome", response_class=HTMLResponse)
def record_outcome(
    request: Request,
    meeting_id: PathId,
    user: OrganizerUser,
    session: SessionDep,
    held: Text = "",
    outcome: Text = "",
    amount: Text = "",
    note: Text = "",
) -> Response:
    """Record (or update, months later) what came of a meeting."""
    event_id = console.meeting_event_id(session, meeting_id)
    if event_id is None:
        raise NotFound(f"meeting {meeting_id}", f"会谈 {meeting_id} 不存在")
    form = {"held": held, "outcome": outcome, "amount": amount, "note": note}
    payload: dict[str, Any] = {k: v for k, v in form.items() if k != "note" and v.strip()}
    payload["note"] = note
    try:
        data = OutcomeIn.model_validate(payload)
        with attempt(session):
            service.record_outcome(session, meeting_id, data)
    except USER_ERRORS as exc:
        failed = {"meeting_id": meeting_id, "form": form, "errors": form_errors(exc)}
        return _outcomes_page(request, user, session, event_id, _status(exc), failed)
    return _go(f"/organizer/events/{event_id}/outcomes", "已登记会谈成果", f"m{meeting_id}")


@router.get("/events/{event_id}/report", response_class=HTMLResponse)
def report_page(
    request: Request, event_id: PathId, user: OrganizerUser, session: SessionDep
) -> HTMLResponse:
    """对接成效: totals, per leader, per chain, the chart and the XLSX download."""
    event = service.get_event(session, event_id)
    report = exports.event_report(session, event_id)
    return render(
        request,
        "web/organizer/report.html",
        user,
        event=event,
        report=report,
        headers=exports.REPORT_HEADERS,
        chain_names=dict(_chain_options(session)),
    )


# -- bulk import ------------------------------------------------------------------------------

IMPORT_KIND_LABELS = {"smes": "中小企业档案", "demands": "需求"}


def _import_page(
    request: Request,
    user: Principal,
    form: dict[str, str],
    status_code: int = 200,
    problems: list[dict[str, Any]] | None = None,
    job: Any = None,
    jobs: list | None = None,
) -> HTMLResponse:
    return render(
        request,
        "web/organizer/import.html",
        user,
        status_code=status_code,
        form=form,
        problems=problems,
        job=job,
        jobs=jobs or [],
        kind_labels=IMPORT_KIND_LABELS,
    )


@router.get("/import", response_class=HTMLResponse)
def import_page(request: Request, user: OrganizerUser, session: SessionDep) -> HTMLResponse:
    """Upload a CSV/XLSX of SMEs or needs; template downloads; this user's recent jobs."""
    return _import_page(
        request,
        user,
        {"kind": "smes", "mode": "insert"},
        jobs=import_jobs.listing(session, user, 10),
    )


@router.get("/import/jobs/{job_id}", response_class=HTMLResponse)
def import_job_page(
    request: Request, user: OrganizerUser, session: SessionDep, job_id: PathId
) -> HTMLResponse:
    """A queued import: its progress (the page refreshes itself), counts, or every bad row."""
    job = import_jobs.get(session, user, job_id)
    problems = [
        {"row": e.get("row"), "column": e.get("column") or "", "message": e["msg_zh"]}
        for e in job.errors
    ]
    form = {"kind": job.kind, "mode": "upsert" if job.upsert else "insert"}
    return _import_page(request, user, form, problems=problems or None, job=job)


@router.post("/import", response_class=HTMLResponse)
def import_file(
    request: Request,
    user: OrganizerUser,
    session: SessionDep,
    settings: SettingsDep,
    index: IndexDep,
    kind: Text = "smes",
    mode: Text = "insert",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """All or nothing: the counts, or a table of every bad row and column."""
    form = {"kind": kind, "mode": mode}
    try:
        if kind not in ("smes", "demands") or mode not in ("insert", "upsert"):
            raise import_service.file_error("unknown import kind", "请选择导入类型与方式")
        if file is None or not file.filename:
            raise import_service.file_error("choose a file", "请选择要上传的 CSV 或 XLSX 文件")
        content = file.file.read(settings.max_body_bytes + 1)
        if len(content) > settings.max_body_bytes:
            raise import_service.file_error(
                "file too large", f"文件超过 {settings.max_body_bytes // (1024 * 1024)} MB 上限"
            )
        if len(content) > settings.console_import_job_bytes:
            job = import_jobs.submit_file(
                session, user, kind, file.filename, content, upsert=mode == "upsert"
            )
            return redirect(
                f"/organizer/import/jobs/{job.id}",
                "文件较大，已排队导入；本页自动刷新显示进度",
            )
        with attempt(session):
            if kind == "smes":
                result = import_service.import_smes(
                    session, file.filename, content, settings, index, upsert=mode == "upsert"
                )
            else:
                result = import_service.import_demands(
                    session, file.filename, content, settings, index
                )
    except InvalidInput as exc:
        problems = [
            {"row": e.row, "column": e.column or "", "message": e.msg_zh} for e in exc.errors
        ]
        return _import_page(request, user, form, 422, problems)
    except DomainError as exc:
        problems = [{"row": None, "column": "", "message": exc.message_zh}]
        return _import_page(request, user, form, exc.status_code, problems)
    label = IMPORT_KIND_LABELS[kind]
    return redirect(
        "/organizer/import",
        f"导入成功：{label}新增 {result.created} 条，更新 {result.updated} 条",
    )
