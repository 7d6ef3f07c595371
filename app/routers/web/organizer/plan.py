"""The actions on an event's plan: participants, preferences, the match list, the schedule build.

Each one goes back to the event page: with a notice and an anchor when it is done, or with the
reason in place when it is refused.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from app.deps import IndexDep, PathId, SessionDep
from app.routers.web.common import OrganizerUser, redirect, split_list, status_of
from app.routers.web.organizer.events import plan_page
from app.routers.web.organizer.shared import (
    Text,
    Texts,
    go,
    item_errors,
    messages,
    shown_in_place,
)
from app.schemas.event import ParticipantsIn, PreferencesIn
from app.services import events as service
from app.services.auth import Principal

router = APIRouter()

# Where the participant form shows each item field's errors.
PARTICIPANT_ERROR_FIELDS = {
    "leader_id": "ids",
    "sme_id": "ids",
    "demand_ids": "ids",
    "unavailable_slots": "unavailable",
}


def _on_refusal(
    request: Request,
    user: Principal,
    session: Session,
    event_id: int,
    shown: Callable[[Exception], dict[str, Any]],
) -> AbstractContextManager[None]:
    """Run a plan action; a refusal shows the plan page with what `shown` puts in place."""
    return shown_in_place(
        session,
        lambda exc: plan_page(request, user, session, event_id, status_of(exc), **shown(exc)),
    )


def _action_error(exc: Exception) -> dict[str, Any]:
    """A refused button (remove, match list, schedule): its reason above the page."""
    return {"action_error": "；".join(messages(exc))}


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
    if not chosen:
        errors = {"ids": "请在列表中选择或填写至少一家企业的编号"}
        return plan_page(request, user, session, event_id, 422, part_form=form, part_errors=errors)
    extra = {"cap": cap.strip()} if cap.strip() else {}
    slots = [u for u in unavailable if u.strip()]

    def shown(exc: Exception) -> dict[str, Any]:
        errors = item_errors(exc, PARTICIPANT_ERROR_FIELDS, labels=chosen)
        return {"part_form": form, "part_errors": errors}

    with _on_refusal(request, user, session, event_id, shown):
        data = ParticipantsIn.model_validate(
            {
                "participants": [
                    {key: value, **extra, "unavailable_slots": slots} for value in chosen
                ]
            }
        )
        service.add_participants(session, event_id, data)
    label = "链主企业" if kind == "leader" else "中小企业"
    return go(f"/organizer/events/{event_id}", f"已添加 {len(chosen)} 家{label}", "participants")


@router.post("/events/{event_id}/participants/{party}/remove", response_class=HTMLResponse)
def remove_participant(
    request: Request, event_id: PathId, party: str, user: OrganizerUser, session: SessionDep
) -> Response:
    """Take one participant off the event with its marks and meetings not yet held."""
    with _on_refusal(request, user, session, event_id, _action_error):
        service.remove_participant(session, event_id, party)
    return go(f"/organizer/events/{event_id}", f"已移除参会方 {party}", "participants")


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
    with _on_refusal(
        request,
        user,
        session,
        event_id,
        lambda exc: {"pref_form": form, "pref_errors": item_errors(exc)},
    ):
        data = PreferencesIn.model_validate({"preferences": [item]})
        service.set_preferences(session, event_id, data)
    return go(f"/organizer/events/{event_id}", "已保存配对标记", "preferences")


@router.post("/events/{event_id}/match-list", response_class=HTMLResponse)
def build_match_list(
    request: Request, event_id: PathId, user: OrganizerUser, session: SessionDep, index: IndexDep
) -> Response:
    """Choose the meetings by optimisation and report how it did against a greedy pass."""
    with _on_refusal(request, user, session, event_id, _action_error):
        result = service.build_match_list(session, index, event_id)
    ratio = f"，为贪心的 {result.ratio_to_greedy:.0%}" if result.ratio_to_greedy else ""
    summary = (
        f"已生成匹配清单：选定会谈 {len(result.meetings)} 场，"
        f"覆盖中小企业 {result.smes_met}/{result.smes_with_fit} 家"
        f"（贪心 {result.greedy_smes_met} 家）；"
        f"匹配质量目标值 {result.objective:.2f}（贪心 {result.greedy_objective:.2f}{ratio}）"
    )
    if result.unmet_must:
        summary += f"；{len(result.unmet_must)} 对必须见面的未能安排"
    return go(f"/organizer/events/{event_id}", summary, "actions")


@router.post("/events/{event_id}/schedule", response_class=HTMLResponse)
def build_schedule(
    request: Request, event_id: PathId, user: OrganizerUser, session: SessionDep
) -> Response:
    """Place the meetings in slots x tables, then show the grid."""
    with _on_refusal(request, user, session, event_id, _action_error):
        result = service.build_schedule(session, event_id)
    msg = f"已排定日程：{len(result.meetings)} 场会谈"
    if result.unplaced:
        msg += f"，{len(result.unplaced)} 场未能排入"
    msg += f"，空档 {result.idle_gaps} 个"
    return redirect(f"/organizer/events/{event_id}/schedule", msg)
