"""The actions on an event's plan: participants, preferences, the match list, the schedule build.

Each one goes back to the event page: with a notice and an anchor when it is done, or with the
reason in place when it is refused.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from app.deps import IndexDep, PathId
from app.routers.web.common import FormDep, redirect, split_list, status_of
from app.routers.web.organizer.events import plan_page
from app.routers.web.organizer.shared import OrganizerPage, Page, go, item_errors, messages, typed
from app.schemas.event import ParticipantsIn, PreferencesIn
from app.services import events as service

router = APIRouter()

# Where the participant form shows each item field's errors.
PARTICIPANT_ERROR_FIELDS = {
    "leader_id": "ids",
    "sme_id": "ids",
    "demand_ids": "ids",
    "unavailable_slots": "unavailable",
}


def _plan(page: Page, event_id: int, status_code: int, **override: Any) -> HTMLResponse:
    """The plan page again, with a form's values or errors in place (see plan_page)."""
    return plan_page(page.request, page.user, page.session, event_id, status_code, **override)


def _replan(
    page: Page, event_id: int, shown: Callable[[Exception], dict[str, Any]]
) -> AbstractContextManager[None]:
    """Run a plan action; a refusal shows the plan page with what `shown` puts in place."""
    return page.in_place(lambda exc: _plan(page, event_id, status_of(exc), **shown(exc)))


def _action_error(exc: Exception) -> dict[str, Any]:
    """A refused button (remove, match list, schedule): its reason above the page."""
    return {"action_error": "；".join(messages(exc))}


def _ids(values: list[str]) -> list[str]:
    """The ids picked and typed, each once, in the order given."""
    out: list[str] = []
    for value in values:
        for part in split_list(value):
            if part not in out:
                out.append(part)
    return out


@router.post("/events/{event_id}/participants", response_class=HTMLResponse)
def add_participants(page: OrganizerPage, event_id: PathId, data: FormDep) -> Response:
    """Add leaders or SMEs (picked in the list or typed as ids) with a cap and unavailable slots."""
    form: dict[str, Any] = typed(data, kind="sme", ids="", cap="")
    form |= {name: [str(v) for v in data.getlist(name)] for name in ("picked", "unavailable")}
    key = "leader_id" if form["kind"] == "leader" else "sme_id"
    chosen = _ids([*form["picked"], form["ids"]])
    if not chosen:
        errors = {"ids": "请在列表中选择或填写至少一家企业的编号"}
        return _plan(page, event_id, 422, part_form=form, part_errors=errors)
    cap = form["cap"].strip()
    slots = [u for u in form["unavailable"] if u.strip()]
    item = {**({"cap": cap} if cap else {}), "unavailable_slots": slots}

    def shown(exc: Exception) -> dict[str, Any]:
        errors = item_errors(exc, PARTICIPANT_ERROR_FIELDS, labels=chosen)
        return {"part_form": form, "part_errors": errors}

    with _replan(page, event_id, shown):
        people = ParticipantsIn.model_validate(
            {"participants": [{key: value, **item} for value in chosen]}
        )
        service.add_participants(page.session, event_id, people)
    label = "链主企业" if key == "leader_id" else "中小企业"
    return go(f"/organizer/events/{event_id}", f"已添加 {len(chosen)} 家{label}", "participants")


@router.post("/events/{event_id}/participants/{party}/remove", response_class=HTMLResponse)
def remove_participant(page: OrganizerPage, event_id: PathId, party: str) -> Response:
    """Take one participant off the event with its marks and meetings not yet held."""
    with _replan(page, event_id, _action_error):
        service.remove_participant(page.session, event_id, party)
    return go(f"/organizer/events/{event_id}", f"已移除参会方 {party}", "participants")


@router.post("/events/{event_id}/preferences", response_class=HTMLResponse)
def set_preference(page: OrganizerPage, event_id: PathId, data: FormDep) -> Response:
    """One side's must-meet / no-thanks mark on a pair."""
    form = typed(data, leader_id="", sme_id="", side="", mark="")
    item = {k: v for k, v in form.items() if v.strip()}
    with _replan(page, event_id, lambda exc: {"pref_form": form, "pref_errors": item_errors(exc)}):
        marks = PreferencesIn.model_validate({"preferences": [item]})
        service.set_preferences(page.session, event_id, marks)
    return go(f"/organizer/events/{event_id}", "已保存配对标记", "preferences")


@router.post("/events/{event_id}/match-list", response_class=HTMLResponse)
def build_match_list(page: OrganizerPage, event_id: PathId, index: IndexDep) -> Response:
    """Choose the meetings by optimisation and report how it did against a greedy pass."""
    with _replan(page, event_id, _action_error):
        result = service.build_match_list(page.session, index, event_id)
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
def build_schedule(page: OrganizerPage, event_id: PathId) -> Response:
    """Place the meetings in slots x tables, then show the grid."""
    with _replan(page, event_id, _action_error):
        result = service.build_schedule(page.session, event_id)
    msg = f"已排定日程：{len(result.meetings)} 场会谈"
    if result.unplaced:
        msg += f"，{len(result.unplaced)} 场未能排入"
    msg += f"，空档 {result.idle_gaps} 个"
    return redirect(f"/organizer/events/{event_id}/schedule", msg)
