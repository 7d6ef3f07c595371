"""Docking events: the list with a form for a new one, and an event's page with its basics form.

The page of one event is its plan; the actions on it (participants, preferences, the match list,
the schedule build) are in plan.py and show their refusals on this page.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from app.deps import PathId, SessionDep
from app.routers.web.common import (
    FormDep,
    OrganizerUser,
    chain_options,
    form_errors,
    redirect,
    render,
    status_of,
)
from app.routers.web.forms import EventForm
from app.routers.web.organizer.shared import OrganizerPage
from app.schemas.event import EventCreate, EventUpdate
from app.services import console
from app.services import events as service
from app.services.auth import Principal

router = APIRouter()

STATUS_LABELS = {"planning": "筹备中", "scheduled": "已排程", "done": "已结束"}
MARK_LABELS = {"must": "必须见面", "no": "不安排", "neutral": "无偏好"}


def _events_page(
    request: Request,
    user: Principal,
    session: Session,
    form: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> HTMLResponse:
    chains = chain_options(session)
    return render(
        request,
        "web/organizer/events.html",
        user,
        status_code=status_code,
        events=service.list_events(session, 200, 0).items,
        chain_options=chains,
        chain_names=dict(chains),
        status_labels=STATUS_LABELS,
        form=form,
        errors=errors,
    )


@router.get("/events", response_class=HTMLResponse)
def events_page(request: Request, user: OrganizerUser, session: SessionDep) -> HTMLResponse:
    """The events and a form for a new one."""
    return _events_page(request, user, session, EventForm.new(), {})


@router.post("/events", response_class=HTMLResponse)
def create_event(page: OrganizerPage, data: FormDep) -> Response:
    """Create an event; field errors are shown in place."""
    form = EventForm.posted(data)
    with page.in_place(
        lambda exc: _events_page(
            page.request, page.user, page.session, form, form_errors(exc), status_of(exc)
        )
    ):
        data_in = EventCreate.model_validate(EventForm.create(form))
        event = service.create_event(page.session, data_in)
    return redirect(f"/organizer/events/{event.id}", f"已创建对接活动“{event.title}”")


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
        "basics": EventForm.load(event),
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
def update_event(event_id: PathId, page: OrganizerPage, data: FormDep) -> Response:
    """Change the basics of an event (with the version the form was read at)."""
    form = EventForm.posted(data)
    with page.in_place(
        lambda exc: plan_page(
            page.request,
            page.user,
            page.session,
            event_id,
            status_of(exc),
            basics=form,
            basics_errors=form_errors(exc),
        )
    ):
        stored = service.get_event(page.session, event_id)
        edit = EventUpdate.model_validate(EventForm.update(form, stored))
        service.update_event(page.session, event_id, edit, None)
    return redirect(f"/organizer/events/{event_id}", "已保存活动信息")
