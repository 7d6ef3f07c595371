"""The schedule grid of an event: slots down, tables across; move, lock or cancel a meeting."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from app.deps import PathId, SessionDep
from app.errors import Conflict
from app.routers.web.common import OrganizerUser, render, status_of
from app.routers.web.organizer.shared import Text, go, meeting_event, messages, shown_in_place
from app.schemas.event import MeetingRead, MeetingUpdate
from app.services import console
from app.services import events as service
from app.services.auth import Principal

router = APIRouter()


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
    event_id = meeting_event(session, meeting_id)

    def refused(exc: Exception) -> HTMLResponse:
        conflicts = exc.extra.get("conflicts", []) if isinstance(exc, Conflict) else []
        problem = {
            "meeting_id": meeting_id,
            "messages": messages(exc) if not conflicts else [],
            "conflicts": [c["message"] for c in conflicts],
            "payload": payload,
        }
        return _schedule_page(request, user, session, event_id, status_of(exc), problem)

    with shown_in_place(session, refused):
        data = MeetingUpdate.model_validate(payload)
        change = service.update_meeting(session, meeting_id, data, None)
    msg = done
    if change.conflicts and payload.get("force") and ("slot" in payload or "table" in payload):
        msg += f"（仍有 {len(change.conflicts)} 处冲突，已按要求强制保存）"
    return go(f"/organizer/events/{event_id}/schedule", msg, f"m{meeting_id}")


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
