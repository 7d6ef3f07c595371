"""What came of an event: a form per meeting for its outcome, and the report (对接成效)."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from app.deps import PathId, SessionDep
from app.routers.web.common import OrganizerUser, chain_options, form_errors, render, status_of
from app.routers.web.organizer.shared import Text, go, meeting_event, shown_in_place
from app.schemas.event import OUTCOME_LABELS, OutcomeIn
from app.services import console
from app.services import event_exports as exports
from app.services import events as service
from app.services.auth import Principal

router = APIRouter()


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
    event_id = meeting_event(session, meeting_id)
    form = {"held": held, "outcome": outcome, "amount": amount, "note": note}
    payload: dict[str, Any] = {k: v for k, v in form.items() if k != "note" and v.strip()}
    payload["note"] = note

    def refused(exc: Exception) -> HTMLResponse:
        failed = {"meeting_id": meeting_id, "form": form, "errors": form_errors(exc)}
        return _outcomes_page(request, user, session, event_id, status_of(exc), failed)

    with shown_in_place(session, refused):
        data = OutcomeIn.model_validate(payload)
        service.record_outcome(session, meeting_id, data)
    return go(f"/organizer/events/{event_id}/outcomes", "已登记会谈成果", f"m{meeting_id}")


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
        chain_names=dict(chain_options(session)),
    )
