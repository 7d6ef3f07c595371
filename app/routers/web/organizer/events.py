"""Docking events: the list with a form for a new one, and an event's page with its basics form.

The page of one event is its plan; the actions on it (participants, preferences, the match list,
the schedule build) are in plan.py and show their refusals on this page.
"""

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from app.deps import PathId, SessionDep
from app.routers.web.common import (
    OrganizerUser,
    chain_options,
    form_errors,
    redirect,
    render,
    split_list,
    status_of,
)
from app.routers.web.organizer.shared import USER_ERRORS, Text, Texts
from app.schemas.event import EventCreate, EventUpdate
from app.services import console
from app.services import events as service
from app.services.auth import Principal

router = APIRouter()

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
        chain_options=chain_options(session),
        chain_names=dict(chain_options(session)),
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
        event = service.create_event(session, data)
    except USER_ERRORS as exc:
        return _events_page(request, user, session, form, form_errors(exc), status_of(exc))
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


def plan_page(
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
    chains = chain_options(session)
    context: dict[str, Any] = {
        "event": event,
        "participants": participants,
        "leaders": [p for p in participants if p.kind == "leader"],
        "smes": [p for p in participants if p.kind == "sme"],
        "pairs": service.list_pairs(session, event_id),
        "names": {p.party: p.name for p in participants},
        "schedule": service.get_schedule(session, event_id),
        "leader_options": console.leader_options(session),
        "sme_options": console.sme_options(session, event.chains),
        "chain_options": chains,
        "chain_names": dict(chains),
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
    return plan_page(request, user, session, event_id)


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
        service.update_event(session, event_id, data, None)
    except USER_ERRORS as exc:
        # An event that does not exist: the plan page raises NotFound, the console's 404 page.
        return plan_page(
            request,
            user,
            session,
            event_id,
            status_of(exc),
            basics=form,
            basics_errors=form_errors(exc),
        )
    return redirect(f"/organizer/events/{event_id}", "已保存活动信息")
