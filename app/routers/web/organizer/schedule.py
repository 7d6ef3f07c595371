"""The schedule grid of an event: slots down, tables across; move, lock or cancel a meeting."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from app.deps import PathId
from app.errors import Conflict
from app.routers.web.common import FormDep, status_of
from app.routers.web.organizer.shared import OrganizerPage, Page, go, meeting_event, messages, typed
from app.schemas.event import MeetingRead, MeetingUpdate
from app.services import console
from app.services import events as service

router = APIRouter()


def _grid(
    page: Page, event_id: int, status_code: int = 200, problem: dict[str, Any] | None = None
) -> HTMLResponse:
    """The grid page; `problem` is a refused change to a meeting, shown above the grid."""
    event = service.get_event(page.session, event_id)
    schedule = service.get_schedule(page.session, event_id)
    cells: dict[tuple[int, int], list[MeetingRead]] = {}
    for m in schedule.meetings:
        cells.setdefault((m.slot, m.table), []).append(m)
    # Columns: the event's tables, plus any a forced move put beyond them.
    tables = sorted({*range(event.tables), *(m.table for m in schedule.meetings)})
    demands = [m.demand_id for m in schedule.meetings + schedule.unplaced if m.demand_id]
    return page.render(
        "web/organizer/schedule.html",
        status_code,
        event=event,
        schedule=schedule,
        cells=cells,
        tables=tables,
        demands=console.demand_titles(page.session, demands),
        ordered=sorted(schedule.meetings, key=lambda m: (m.slot, m.table, m.id)),
        participants=service.list_participants(page.session, event_id),
        slot_labels={s.index: f"{s.start}-{s.end}" for s in event.slots},
        problem=problem,
    )


@router.get("/events/{event_id}/schedule", response_class=HTMLResponse)
def schedule_page(page: OrganizerPage, event_id: PathId) -> HTMLResponse:
    """Slots down, tables across; per meeting: move, lock, cancel; exports and agendas."""
    return _grid(page, event_id)


def _change_meeting(page: Page, meeting_id: int, payload: dict[str, Any], done: str) -> Response:
    """Apply a MeetingUpdate; a refusal re-shows the grid with the reason (and a force form)."""
    event_id = meeting_event(page.session, meeting_id)

    def refused(exc: Exception) -> HTMLResponse:
        conflicts = exc.extra.get("conflicts", []) if isinstance(exc, Conflict) else []
        problem = {
            "meeting_id": meeting_id,
            "messages": [] if conflicts else messages(exc),
            "conflicts": [c["message"] for c in conflicts],
            "payload": payload,
        }
        return _grid(page, event_id, status_of(exc), problem)

    with page.in_place(refused):
        data = MeetingUpdate.model_validate(payload)
        change = service.update_meeting(page.session, meeting_id, data, None)
    msg = done
    if change.conflicts and payload.get("force") and ("slot" in payload or "table" in payload):
        msg += f"（仍有 {len(change.conflicts)} 处冲突，已按要求强制保存）"
    return go(f"/organizer/events/{event_id}/schedule", msg, f"m{meeting_id}")


def _posted(data: FormData, **defaults: str) -> dict[str, Any]:
    """The boxes of a meeting's form that were filled in (the version among them)."""
    return {k: v for k, v in typed(data, version="", **defaults).items() if v.strip()}


@router.post("/meetings/{meeting_id}/move", response_class=HTMLResponse)
def move_meeting(page: OrganizerPage, meeting_id: PathId, data: FormDep) -> Response:
    """Move a meeting to another slot and table; a conflict is refused unless forced."""
    payload = _posted(data, slot="", table="") | {"force": bool(data.get("force"))}
    return _change_meeting(page, meeting_id, payload, "已移动会谈")


@router.post("/meetings/{meeting_id}/lock", response_class=HTMLResponse)
def lock_meeting(page: OrganizerPage, meeting_id: PathId, data: FormDep) -> Response:
    """Lock a meeting in place (re-scheduling keeps it) or release it."""
    on = typed(data, locked="1")["locked"] not in ("0", "false")
    # Locking moves nothing, so conflicts the grid already has must not block it.
    payload = {"locked": on, "force": True} | _posted(data)
    return _change_meeting(page, meeting_id, payload, "已锁定会谈" if on else "已解除锁定")


@router.post("/meetings/{meeting_id}/cancel", response_class=HTMLResponse)
def cancel_meeting(page: OrganizerPage, meeting_id: PathId, data: FormDep) -> Response:
    """Cancel a meeting (it leaves the grid)."""
    payload = {"status": "cancelled"} | _posted(data)
    return _change_meeting(page, meeting_id, payload, "已取消会谈")
