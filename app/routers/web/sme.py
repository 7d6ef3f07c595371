"""Console pages of the sme role: profile, fitting needs with explanations, interest, events."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.deps import IndexDep, PathId, SessionDep
from app.errors import DomainError, InvalidInput, NotFound
from app.routers.web.common import (
    COMPONENT_LABELS,
    CONTACT_NOTE,
    FormDep,
    SmeUser,
    bar_scale,
    chain_options,
    page_errors,
    redirect,
    render,
    status_of,
)
from app.routers.web.forms import SmeProfileForm
from app.schemas.auth import InterestCreate, InterestRead
from app.schemas.sme import SmeCreate, SmeRead, SmeUpdate
from app.services import access, demands, events, interests, matches, smes
from app.services.auth import Principal
from matching import vocab

router = APIRouter(include_in_schema=False)


def _my_profile(session: Session, user: Principal) -> SmeRead | None:
    if user.sme_id is None:
        return None
    try:
        return smes.get(session, user.sme_id)
    except NotFound:
        return None  # the profile was deleted by the staff


def _interest_state(session: Session, user: Principal) -> dict[int, dict[str, Any]]:
    """Per need: whether this SME expressed interest, the leader shortlisted it, both did."""
    state: dict[int, dict[str, Any]] = {}
    for row in interests.list_for(session, user):
        s = state.setdefault(row.demand_id, {"sme": False, "leader": False, "mutual": False})
        s[row.side] = True
        s["mutual"] = s["mutual"] or row.mutual
    return state


def _fitting(session: Session, index: IndexDep, user: Principal, limit: int) -> list[Any]:
    if user.sme_id is None:
        return []
    try:
        return matches.sme_matches(session, index, user.sme_id, limit, include_closed=False)
    except NotFound:
        return []


@router.get("/sme", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, index: IndexDep, user: SmeUser) -> HTMLResponse:
    """Profile summary, the best five needs, my interests and my meetings."""
    profile = _my_profile(session, user)
    rows = interests.list_for(session, user) if profile else []
    titles = {}
    for row in rows:
        try:
            titles[row.demand_id] = demands.get(session, row.demand_id).title
        except NotFound:
            titles[row.demand_id] = f"需求 {row.demand_id}（已删除）"
    return render(
        request,
        "web/sme/home.html",
        user,
        profile=profile,
        top=_fitting(session, index, user, 5),
        interests=[r for r in rows if r.side == "sme"],
        shortlisted=[r for r in rows if r.side == "leader"],
        titles=titles,
        events=[] if profile is None else events.party_events(session, user),
    )


# -- the profile --------------------------------------------------------------------------------


def _profile_page(
    request: Request,
    session: Session,
    user: Principal,
    form: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "web/sme/profile.html",
        user,
        status_code=status_code,
        form=form,
        errors=errors,
        editing=user.sme_id is not None,
        cities=[(c, c) for c in vocab.SHANDONG_CITIES],
        tiers=[(t.value, label) for t, label in vocab.TIER_LABELS.items()],
        sizes=[(s.value, label) for s, label in vocab.SIZE_CLASS_LABELS.items()],
        known_certs=list(vocab.KNOWN_CERTIFICATIONS.items()),
        chains=chain_options(session),
    )


@router.get("/sme/profile", response_class=HTMLResponse)
def profile_page(request: Request, session: SessionDep, user: SmeUser) -> HTMLResponse:
    """The profile form: empty for a new account, filled in for an existing profile."""
    profile = _my_profile(session, user)
    form = SmeProfileForm.new() if profile is None else SmeProfileForm.load(profile)
    return _profile_page(request, session, user, form, {})


@router.post("/sme/profile", response_class=HTMLResponse)
def profile_submit(
    request: Request, session: SessionDep, index: IndexDep, user: SmeUser, data: FormDep
) -> Response:
    """Create the profile (and bind it to this account) or save an edit of it."""
    form = SmeProfileForm.posted(data)
    try:
        if user.sme_id is None:
            smes.create(session, user, SmeCreate.model_validate(SmeProfileForm.create(form)), index)
            return redirect("/sme/needs", "企业档案已登记，以下是与贵企业适配的链主需求")
        stored = smes.get(session, user.sme_id)
        edit = SmeUpdate.model_validate(SmeProfileForm.update(form, stored))
        smes.update(session, user, user.sme_id, edit, None, index)
    except (ValidationError, InvalidInput, DomainError) as exc:
        errors = page_errors(exc)
        if status_of(exc) == 409 and "_" in errors:
            errors["_"] += "。您的修改尚未保存：请记下改动，打开“企业档案”重新载入后再提交。"
        return _profile_page(request, session, user, form, errors, status_of(exc))
    return redirect("/sme/profile", "企业档案已保存")


# -- fitting needs --------------------------------------------------------------------------------


@router.get("/sme/needs", response_class=HTMLResponse)
def demands_page(
    request: Request, session: SessionDep, index: IndexDep, user: SmeUser
) -> HTMLResponse:
    """Ranked open needs that fit this SME, each with its explanation."""
    profile = _my_profile(session, user)
    items = _fitting(session, index, user, 20)
    return render(
        request,
        "web/sme/demands.html",
        user,
        profile=profile,
        items=items,
        scale=bar_scale(items),
        labels=COMPONENT_LABELS,
        state=_interest_state(session, user) if profile else {},
    )


@router.post("/sme/needs/{demand_id}/interest")
def express_interest(demand_id: PathId, session: SessionDep, user: SmeUser) -> Response:
    """Record this SME's interest in a need (idempotent)."""
    back = f"/sme/needs/{demand_id}"
    if user.sme_id is None:
        return redirect("/sme/profile", "请先登记企业档案，再表达对接意向")
    try:
        row: InterestRead = interests.express(session, user, InterestCreate(demand_id=demand_id))
    except DomainError as exc:
        return redirect("/sme/needs", exc.message_zh)
    if row.mutual:
        msg = "已表达意向；链主也有意向，双方联系方式已可见"
    else:
        msg = "已表达意向，等待链主回应"
    return redirect(back, msg)


@router.get("/sme/needs/{demand_id}", response_class=HTMLResponse)
def demand_page(
    request: Request, demand_id: PathId, session: SessionDep, index: IndexDep, user: SmeUser
) -> HTMLResponse:
    """One need in full; the leader's contacts only once they are revealed."""
    demand = access.ContactView(session, user).demand(demands.get(session, demand_id, user))
    match = next((m for m in _fitting(session, index, user, 200) if m.demand_id == demand_id), None)
    return render(
        request,
        "web/sme/demand.html",
        user,
        demand=demand,
        match=match,
        scale=bar_scale([match] if match else []),
        labels=COMPONENT_LABELS,
        state=_interest_state(session, user).get(demand_id, {}),
        contact_note=CONTACT_NOTE,
        has_profile=user.sme_id is not None,
    )


@router.get("/sme/events", response_class=HTMLResponse)
def events_page(request: Request, session: SessionDep, user: SmeUser) -> HTMLResponse:
    """Docking events this SME is invited to, with its meetings and agenda links."""
    return render(request, "web/sme/events.html", user, events=events.party_events(session, user))
