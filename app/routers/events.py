"""Docking events: plan, participants, preferences, match list, schedule, exports, outcomes."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse

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
from app.schemas import event as schemas
from app.schemas.common import Page
from app.services import event_exports as exports
from app.services import events as service

router = APIRouter(tags=["events"], dependencies=[Depends(require_principal)])
STAFF = [Depends(require_roles("organizer"))]


def staff(route, path: str, summary: str, **options):
    """`route` (router.get, router.post...) of `path`, for organizers and admins only."""
    return route(path, summary=summary, dependencies=STAFF, **options)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Party = Annotated[str, Query(pattern=r"^[LS]\d+$", description="L<链主id> 或 S<企业id>")]
ScheduleFormat = Annotated[Literal["json", "csv", "xlsx"], Query()]
AgendaFormat = Annotated[Literal["html", "ics"], Query()]
ReportFormat = Annotated[Literal["json", "xlsx", "png"], Query()]


def _download(content: bytes | str, media: str, filename: str) -> Response:
    return Response(
        content=content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@staff(router.post, "/events", "创建对接活动 / new event", status_code=status.HTTP_201_CREATED)
def create_event(
    data: schemas.EventCreate, session: SessionDep, response: Response
) -> schemas.EventRead:
    """Plan a docking event: date, venue, meeting length, slots with breaks, tables."""
    event = service.create_event(session, data)
    response.headers["Location"] = f"/api/v1/events/{event.id}"
    return event


@router.get("/events", summary="对接活动列表 / events")
def list_events(
    session: SessionDep, page: PageDep, principal: PrincipalDep
) -> Page[schemas.EventRead]:
    """Staff see every event; a leader or an SME only those it takes part in, without notes."""
    return service.visible_events(session, principal, page.limit, page.offset)


@router.get("/events/{event_id}", summary="对接活动 / one event")
def get_event(event_id: PathId, session: SessionDep, principal: PrincipalDep) -> schemas.EventRead:
    """Staff see any event in full; a participant its own without notes; others get a 404."""
    return service.event_for(session, principal, event_id)


@staff(router.patch, "/events/{event_id}", "修改对接活动 / update event")
def update_event(
    event_id: PathId, data: schemas.EventUpdate, session: SessionDep, expected: IfMatchDep
) -> schemas.EventRead:
    return service.update_event(session, event_id, data, expected)


@router.get("/events/{event_id}/participants", summary="参会方 / participants")
def list_participants(
    event_id: PathId, session: SessionDep, principal: PrincipalDep
) -> list[schemas.ParticipantRead]:
    """Staff see everyone; a participant itself and the other side's firms by name only."""
    return service.participants_for(session, principal, event_id)


@staff(router.post, "/events/{event_id}/participants", "添加参会方 / add participants")
def add_participants(
    event_id: PathId, data: schemas.ParticipantsIn, session: SessionDep
) -> list[schemas.ParticipantRead]:
    """Leaders with the needs they bring and invited SMEs, each with a cap and unavailability."""
    return service.add_participants(session, event_id, data)


@staff(
    router.delete,
    "/events/{event_id}/participants/{party}",
    "移除参会方 / remove a participant",
    status_code=status.HTTP_204_NO_CONTENT,
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
    event_id: PathId, data: schemas.PreferencesIn, session: SessionDep, principal: PrincipalDep
) -> list[schemas.PairRead]:
    """Must-meet / no-thanks marks of either side, meeting requests and their answers.

    Organizers set any side and get every pair back; a leader or an SME account sets only its
    own side of its own pairs and gets back only those, without the other side's marks.
    """
    return service.mark_pairs(session, principal, event_id, data)


@staff(router.post, "/events/{event_id}/match-list", "生成匹配清单 / choose the meetings")
def match_list(event_id: PathId, session: SessionDep, index: IndexDep) -> schemas.MatchListRead:
    """Choose the meetings by optimisation (must-meet first, every fitting SME, quality)."""
    return service.build_match_list(session, index, event_id)


@staff(router.post, "/events/{event_id}/schedule", "排定日程 / build the schedule")
def build_schedule(event_id: PathId, session: SessionDep) -> schemas.ScheduleRead:
    """Place the meetings in slots x tables; locked meetings keep their place."""
    return service.build_schedule(session, event_id)


@staff(router.get, "/events/{event_id}/schedule", "日程 / the schedule (json, csv, xlsx)")
def get_schedule(event_id: PathId, session: SessionDep, format: ScheduleFormat = "json"):
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
    format: AgendaFormat = "html",
):
    """Printable HTML agenda or an ICS calendar file for one participant."""
    service.ensure_agenda_reader(session, principal, event_id, party)
    if format == "ics":
        return _download(
            exports.agenda_ics(session, event_id, party),
            "text/calendar; charset=utf-8",
            f"agenda-{event_id}-{party}.ics",
        )
    return HTMLResponse(exports.agenda_html(session, event_id, party))


@staff(router.post, "/events/{event_id}/meetings", "添加会谈", status_code=status.HTTP_201_CREATED)
def add_meeting(event_id: PathId, data: schemas.MeetingCreate, session: SessionDep) -> dict:
    change = service.add_meeting(session, event_id, data)
    return {"meeting": change.meeting, "conflicts": change.conflicts}


@staff(router.patch, "/meetings/{meeting_id}", "调整会谈 / move, lock, cancel a meeting")
def update_meeting(
    meeting_id: PathId, data: schemas.MeetingUpdate, session: SessionDep, expected: IfMatchDep
) -> dict:
    """A move that causes a conflict is refused with 409 listing it, unless force=true."""
    change = service.update_meeting(session, meeting_id, data, expected)
    return {"meeting": change.meeting, "conflicts": change.conflicts}


@staff(router.post, "/meetings/{meeting_id}/outcome", "登记会谈成果 / record the outcome")
def record_outcome(
    meeting_id: PathId, data: schemas.OutcomeIn, session: SessionDep
) -> schemas.MeetingRead:
    return service.record_outcome(session, meeting_id, data)


@staff(router.get, "/events/{event_id}/report", "对接成效 / event report (json, xlsx, png)")
def report(event_id: PathId, session: SessionDep, format: ReportFormat = "json"):
    data = exports.event_report(session, event_id)
    if format == "xlsx":
        return _download(exports.report_xlsx(data), XLSX, f"report-{event_id}.xlsx")
    if format == "png":
        return Response(exports.report_png(data), media_type="image/png")
    return data


@staff(router.get, "/reports/summary", "跨活动汇总 / summary per chain and year")
def summary(
    session: SessionDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    chain: Annotated[str | None, Query(max_length=100)] = None,
) -> dict:
    return exports.summary(session, year, chain)
