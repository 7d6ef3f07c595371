"""Docking events: plan, participants, preferences, match list, schedule, exports, outcomes."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, PlainTextResponse

from app.deps import (
    IfMatchDep,
    IndexDep,
    PageDep,
    PathId,
    PrincipalDep,
    SessionDep,
    require_principal,
    require_roles,
)
from app.schemas.common import Page
from app.schemas.event import (
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
)
from app.services import event_exports as exports
from app.services import events as service

router = APIRouter(tags=["events"], dependencies=[Depends(require_principal)])
STAFF = [Depends(require_roles("organizer"))]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Party = Annotated[str, Query(pattern=r"^[LS]\d+$", description="L<链主id> 或 S<企业id>")]


def _download(content: bytes | str, media: str, filename: str) -> Response:
    return Response(
        content=content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post(
    "/events",
    status_code=status.HTTP_201_CREATED,
    summary="创建对接活动 / new event",
    dependencies=STAFF,
)
def create_event(data: EventCreate, session: SessionDep, response: Response) -> EventRead:
    """Plan a docking event: date, venue, meeting length, slots with breaks, tables."""
    event = service.create_event(session, data)
    response.headers["Location"] = f"/api/v1/events/{event.id}"
    return event


@router.get("/events", summary="对接活动列表 / events")
def list_events(session: SessionDep, page: PageDep, principal: PrincipalDep) -> Page[EventRead]:
    """Staff see every event; a leader or an SME only those it takes part in, without notes."""
    return service.visible_events(session, principal, page.limit, page.offset)


@router.get("/events/{event_id}", summary="对接活动 / one event")
def get_event(event_id: PathId, session: SessionDep, principal: PrincipalDep) -> EventRead:
    """Staff see any event in full; a participant its own without notes; others get a 404."""
    return service.event_for(session, principal, event_id)


@router.patch("/events/{event_id}", summary="修改对接活动 / update event", dependencies=STAFF)
def update_event(
    event_id: PathId, data: EventUpdate, session: SessionDep, expected: IfMatchDep
) -> EventRead:
    return service.update_event(session, event_id, data, expected)


@router.get("/events/{event_id}/participants", summary="参会方 / participants")
def list_participants(
    event_id: PathId, session: SessionDep, principal: PrincipalDep
) -> list[ParticipantRead]:
    """Staff see everyone; a participant itself and the other side's firms by name only."""
    return service.participants_for(session, principal, event_id)


@router.post(
    "/events/{event_id}/participants", summary="添加参会方 / add participants", dependencies=STAFF
)
def add_participants(
    event_id: PathId, data: ParticipantsIn, session: SessionDep
) -> list[ParticipantRead]:
    """Leaders with the needs they bring and invited SMEs, each with a cap and unavailability."""
    return service.add_participants(session, event_id, data)


@router.delete(
    "/events/{event_id}/participants/{party}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="移除参会方 / remove a participant",
    dependencies=STAFF,
)
def remove_participant(
    event_id: PathId,
    party: Annotated[str, PathParam(pattern=r"^[LS]\d{1,10}$")],
    session: SessionDep,
) -> None:
    """Remove a leader (L<id>) or SME (S<id>) with its marks and meetings not yet held."""
    service.remove_participant(session, event_id, party)


@router.post("/events/{event_id}/preferences", summary="意向标记与会谈请求 / preferences")
def set_preferences(
    event_id: PathId, data: PreferencesIn, session: SessionDep, principal: PrincipalDep
) -> list[PairRead]:
    """Must-meet / no-thanks marks of either side, meeting requests and their answers.

    Organizers set any side and get every pair back; a leader or an SME account sets only its
    own side of its own pairs and gets back only those, without the other side's marks.
    """
    return service.mark_pairs(session, principal, event_id, data)


@router.post(
    "/events/{event_id}/match-list",
    summary="生成匹配清单 / choose the meetings",
    dependencies=STAFF,
)
def match_list(event_id: PathId, session: SessionDep, index: IndexDep) -> MatchListRead:
    """Choose the meetings by optimisation (must-meet first, every fitting SME, quality)."""
    return service.build_match_list(session, index, event_id)


@router.post(
    "/events/{event_id}/schedule", summary="排定日程 / build the schedule", dependencies=STAFF
)
def build_schedule(event_id: PathId, session: SessionDep) -> ScheduleRead:
    """Place the meetings in slots x tables; locked meetings keep their place."""
    return service.build_schedule(session, event_id)


@router.get(
    "/events/{event_id}/schedule",
    summary="日程 / the schedule (json, csv, xlsx)",
    dependencies=STAFF,
)
def get_schedule(
    event_id: PathId,
    session: SessionDep,
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
):
    schedule = service.get_schedule(session, event_id)
    if format == "csv":
        return _download(
            exports.schedule_csv(schedule), "text/csv; charset=utf-8", f"schedule-{event_id}.csv"
        )
    if format == "xlsx":
        event = service.get_event_row(session, event_id)
        return _download(exports.schedule_xlsx(event, schedule), XLSX, f"schedule-{event_id}.xlsx")
    return schedule


@router.get("/events/{event_id}/agenda", summary="参会方日程 / a participant's agenda")
def agenda(
    event_id: PathId,
    session: SessionDep,
    party: Party,
    principal: PrincipalDep,
    format: Annotated[Literal["html", "ics"], Query()] = "html",
):
    """Printable HTML agenda or an ICS calendar file for one participant."""
    service.ensure_agenda_reader(session, principal, event_id, party)
    if format == "ics":
        return PlainTextResponse(
            exports.agenda_ics(session, event_id, party),
            media_type="text/calendar; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="agenda-{event_id}-{party}.ics"'
            },
        )
    return HTMLResponse(exports.agenda_html(session, event_id, party))


@router.post(
    "/events/{event_id}/meetings",
    status_code=status.HTTP_201_CREATED,
    summary="添加会谈",
    dependencies=STAFF,
)
def add_meeting(event_id: PathId, data: MeetingCreate, session: SessionDep) -> dict:
    change = service.add_meeting(session, event_id, data)
    return {"meeting": change.meeting, "conflicts": change.conflicts}


@router.patch(
    "/meetings/{meeting_id}", summary="调整会谈 / move, lock, cancel a meeting", dependencies=STAFF
)
def update_meeting(
    meeting_id: PathId, data: MeetingUpdate, session: SessionDep, expected: IfMatchDep
) -> dict:
    """A move that causes a conflict is refused with 409 listing it, unless force=true."""
    change = service.update_meeting(session, meeting_id, data, expected)
    return {"meeting": change.meeting, "conflicts": change.conflicts}


@router.post(
    "/meetings/{meeting_id}/outcome",
    summary="登记会谈成果 / record the outcome",
    dependencies=STAFF,
)
def record_outcome(meeting_id: PathId, data: OutcomeIn, session: SessionDep) -> MeetingRead:
    return service.record_outcome(session, meeting_id, data)


@router.get(
    "/events/{event_id}/report",
    summary="对接成效 / event report (json, xlsx, png)",
    dependencies=STAFF,
)
def report(
    event_id: PathId,
    session: SessionDep,
    format: Annotated[Literal["json", "xlsx", "png"], Query()] = "json",
):
    data = exports.event_report(session, event_id)
    if format == "xlsx":
        return _download(exports.report_xlsx(data), XLSX, f"report-{event_id}.xlsx")
    if format == "png":
        return Response(exports.report_png(data), media_type="image/png")
    return data


@router.get(
    "/reports/summary", summary="跨活动汇总 / summary per chain and year", dependencies=STAFF
)
def summary(
    session: SessionDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    chain: Annotated[str | None, Query(max_length=100)] = None,
) -> dict:
    return exports.summary(session, year, chain)
