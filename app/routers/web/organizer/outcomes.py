"""What came of an event: a form per meeting for its outcome, and the report (对接成效)."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from app.deps import PathId
from app.routers.web.common import FormDep, chain_options, form_errors, status_of
from app.routers.web.organizer.shared import OrganizerPage, Page, go, meeting_event, typed
from app.schemas.event import OUTCOME_LABELS, OutcomeIn
from app.services import console
from app.services import event_exports as exports
from app.services import events as service

router = APIRouter()


def _outcomes(
    page: Page, event_id: int, status_code: int = 200, failed: dict[str, Any] | None = None
) -> HTMLResponse:
    """The outcome forms; `failed` is the one refused, with what was typed and the errors."""
    event = service.get_event(page.session, event_id)
    schedule = service.get_schedule(page.session, event_id)
    meetings = sorted(
        schedule.meetings + schedule.unplaced,
        key=lambda m: (m.slot is None, m.slot or 0, m.table or 0, m.id),
    )
    demands = [m.demand_id for m in meetings if m.demand_id]
    return page.render(
        "web/organizer/outcomes.html",
        status_code,
        event=event,
        meetings=meetings,
        demands=console.demand_titles(page.session, demands),
        outcome_labels=OUTCOME_LABELS,
        failed=failed,
    )


@router.get("/events/{event_id}/outcomes", response_class=HTMLResponse)
def outcomes_page(page: OrganizerPage, event_id: PathId) -> HTMLResponse:
    """A form per meeting: held or not, outcome, amount (万元), note."""
    return _outcomes(page, event_id)


@router.post("/meetings/{meeting_id}/outcome", response_class=HTMLResponse)
def record_outcome(page: OrganizerPage, meeting_id: PathId, data: FormDep) -> Response:
    """Record (or update, months later) what came of a meeting."""
    event_id = meeting_event(page.session, meeting_id)
    form = typed(data, held="", outcome="", amount="", note="")
    payload: dict[str, Any] = {k: v for k, v in form.items() if k != "note" and v.strip()}
    payload["note"] = form["note"]

    def refused(exc: Exception) -> HTMLResponse:
        failed = {"meeting_id": meeting_id, "form": form, "errors": form_errors(exc)}
        return _outcomes(page, event_id, status_of(exc), failed)

    with page.in_place(refused):
        outcome = OutcomeIn.model_validate(payload)
        service.record_outcome(page.session, meeting_id, outcome)
    return go(f"/organizer/events/{event_id}/outcomes", "已登记会谈成果", f"m{meeting_id}")


@router.get("/events/{event_id}/report", response_class=HTMLResponse)
def report_page(page: OrganizerPage, event_id: PathId) -> HTMLResponse:
    """对接成效: totals, per leader, per chain, the chart and the XLSX download."""
    event = service.get_event(page.session, event_id)
    return page.render(
        "web/organizer/report.html",
        event=event,
        report=exports.event_report(page.session, event_id),
        headers=exports.REPORT_HEADERS,
        chain_names=dict(chain_options(page.session)),
    )
