"""Console pages of the leader role: needs, ranked SMEs with explanations, shortlist, events."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.deps import IndexDep, PathId, SessionDep
from app.errors import DomainError, Forbidden, InvalidInput, NotFound
from app.repositories.demands import DemandFilters
from app.routers.web.common import (
    COMPONENT_LABELS,
    CONTACT_NOTE,
    FormDep,
    LeaderUser,
    bar_scale,
    page_errors,
    redirect,
    render,
    status_of,
)
from app.routers.web.forms import DemandForm
from app.schemas.auth import InterestCreate
from app.schemas.demand import DemandCreate, DemandRead, DemandUpdate
from app.services import access, demands, events, interests, matches, smes
from app.services.auth import Principal
from app.services.taxonomy import CodeBook
from matching import vocab
from matching.matcher import ProfileFilter

router = APIRouter(include_in_schema=False)

# Blank certificate rows offered below the ones a need already has.
EXTRA_CERT_ROWS = 3
REGION_SCOPES = [(s.value, label) for s, label in vocab.REGION_SCOPE_LABELS.items()]


NO_LEADER = Forbidden("this account is bound to no chain leader", "本账号未绑定链主企业")


def _interested(session: Session, user: Principal) -> dict[int, dict[int, dict[str, bool]]]:
    """demand id -> SME id -> which sides showed interest, and whether it is mutual."""
    out: dict[int, dict[int, dict[str, bool]]] = {}
    for row in interests.list_for(session, user):
        s = out.setdefault(row.demand_id, {}).setdefault(
            row.sme_id, {"sme": False, "leader": False, "mutual": False}
        )
        s[row.side] = True
        s["mutual"] = s["mutual"] or row.mutual
    return out


@router.get("/leader", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, user: LeaderUser) -> HTMLResponse:
    """This leader's needs with their status and how many SMEs are interested."""
    posted: list[DemandRead] = []
    if user.leader_id is not None:
        page = demands.list_page(session, DemandFilters(leader_id=user.leader_id), 200, 0)
        posted = page.items
    interested = _interested(session, user)
    counts = {d: sum(1 for s in per_sme.values() if s["sme"]) for d, per_sme in interested.items()}
    shortlisted = {
        d: sum(1 for s in per_sme.values() if s["leader"]) for d, per_sme in interested.items()
    }
    return render(
        request,
        "web/leader/home.html",
        user,
        demands=posted,
        counts=counts,
        shortlisted=shortlisted,
        events=events.party_events(session, user),
    )


# -- the need form --------------------------------------------------------------------------------


def _link_groups(session: Session) -> list[tuple[str, list[tuple[str, str]]]]:
    """Links of the current taxonomy grouped by chain name, for one select box."""
    book = CodeBook.load(session)
    names = {c.id: c.name for c in book.chains.values()}
    groups: dict[str, list[tuple[str, str]]] = {}
    for link in sorted(book.links.values(), key=lambda x: (x.chain_id, x.code)):
        groups.setdefault(names.get(link.chain_id, ""), []).append((link.code, link.name))
    return list(groups.items())


def _demand_page(
    request: Request,
    session: Session,
    user: Principal,
    form: dict[str, Any],
    errors: dict[str, str],
    demand_id: int | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    book = CodeBook.load(session)
    certs = list(form.get("certs") or [])
    rows = certs + [("", True)] * EXTRA_CERT_ROWS
    statuses = [(s.value, label) for s, label in vocab.DEMAND_STATUS_LABELS.items()]
    if demand_id is None:
        # A new need is published or kept as a draft; later moves follow the lifecycle.
        statuses = [x for x in statuses if x[0] in ("draft", "published")]
    return render(
        request,
        "web/leader/demand_form.html",
        user,
        status_code=status_code,
        form=form,
        errors=errors,
        demand_id=demand_id,
        cert_rows=rows,
        chains=sorted(((c.code, c.name) for c in book.chains.values()), key=lambda x: x[0]),
        link_groups=_link_groups(session),
        demand_types=[(t.value, label) for t, label in vocab.DEMAND_TYPE_LABELS.items()],
        tiers=[(t.value, label) for t, label in vocab.TIER_LABELS.items()],
        statuses=statuses,
        scopes=REGION_SCOPES,
        cities=list(vocab.SHANDONG_CITIES),
        known_certs=list(vocab.KNOWN_CERTIFICATIONS.items()),
    )


@router.get("/leader/needs/new", response_class=HTMLResponse)
def new_demand(request: Request, session: SessionDep, user: LeaderUser) -> HTMLResponse:
    """An empty need form."""
    if user.leader_id is None:
        raise NO_LEADER
    return _demand_page(request, session, user, DemandForm.new(), {})


@router.post("/leader/needs/new", response_class=HTMLResponse)
def create_demand(
    request: Request, session: SessionDep, index: IndexDep, user: LeaderUser, data: FormDep
) -> Response:
    """Post a need for this leader; then show its ranked SMEs."""
    if user.leader_id is None:
        raise NO_LEADER
    form = DemandForm.posted(data)
    try:
        payload = DemandForm.create(form, leader_id=user.leader_id)
        demand = demands.create(session, user, DemandCreate.model_validate(payload), index)
    except (ValidationError, InvalidInput, DomainError) as exc:
        return _demand_page(request, session, user, form, page_errors(exc), None, status_of(exc))
    return redirect(f"/leader/needs/{demand.id}", "需求已发布，以下是系统推荐的中小企业")


@router.get("/leader/needs/{demand_id}/edit", response_class=HTMLResponse)
def edit_demand(
    request: Request, demand_id: PathId, session: SessionDep, user: LeaderUser
) -> HTMLResponse:
    """The form of one of this leader's needs."""
    # A need of another leader, or none: the console's one error page (403 or 404).
    access.ensure_demand_editor(session, user, demand_id)
    demand = demands.get(session, demand_id)
    return _demand_page(request, session, user, DemandForm.load(demand), {}, demand_id)


@router.post("/leader/needs/{demand_id}/edit", response_class=HTMLResponse)
def update_demand(
    request: Request,
    demand_id: PathId,
    session: SessionDep,
    index: IndexDep,
    user: LeaderUser,
    data: FormDep,
) -> Response:
    """Save an edit; the version from the form guards against overwriting a newer one."""
    access.ensure_demand_editor(session, user, demand_id)
    stored = demands.get(session, demand_id)
    form = DemandForm.posted(data)
    try:
        edit = DemandUpdate.model_validate(DemandForm.update(form, stored))
        demands.update(session, user, demand_id, edit, None, index)
    except (ValidationError, InvalidInput, DomainError) as exc:
        errors = page_errors(exc)
        if status_of(exc) == 409 and "_" in errors:
            errors["_"] += "。您的修改尚未保存：请重新打开本页载入最新内容后再修改。"
        return _demand_page(request, session, user, form, errors, demand_id, status_of(exc))
    return redirect(f"/leader/needs/{demand_id}", "需求已保存")


# -- ranked SMEs and the shortlist ------------------------------------------------------------


@router.get("/leader/needs/{demand_id}", response_class=HTMLResponse)
def demand_matches(
    request: Request, demand_id: PathId, session: SessionDep, index: IndexDep, user: LeaderUser
) -> HTMLResponse:
    """Ranked SMEs for one of this leader's needs, with explanations and the shortlist."""
    access.ensure_demand_reader(session, user, demand_id)
    demand = demands.get(session, demand_id)
    ranked = matches.demand_matches(session, index, demand_id, 20, ProfileFilter(), True)
    view = access.ContactView(session, user)
    per_sme = _interested(session, user).get(demand_id, {})
    profiles = {}
    wanted = {m.sme_id for m in ranked} | set(per_sme)
    for sme_id in sorted(wanted):
        try:
            profiles[sme_id] = view.sme(smes.get(session, sme_id))
        except NotFound:
            continue  # deleted since
    shortlist = [(profiles[i], s) for i, s in per_sme.items() if s["leader"] and i in profiles]
    # SMEs that asked for this need but are not on the shortlist yet.
    volunteers = [
        (profiles[i], s)
        for i, s in per_sme.items()
        if s["sme"] and not s["leader"] and i in profiles
    ]
    return render(
        request,
        "web/leader/demand.html",
        user,
        demand=demand,
        items=[m for m in ranked if m.sme_id in profiles],
        profiles=profiles,
        state=per_sme,
        shortlist=shortlist,
        volunteers=volunteers,
        scale=bar_scale(ranked),
        labels=COMPONENT_LABELS,
        contact_note=CONTACT_NOTE,
    )


@router.post("/leader/needs/{demand_id}/shortlist/{sme_id}")
def shortlist(
    request: Request, demand_id: PathId, sme_id: PathId, session: SessionDep, user: LeaderUser
) -> Response:
    """Put an SME on this need's shortlist (the leader's side of the interest)."""
    try:
        row = interests.express(session, user, InterestCreate(demand_id=demand_id, sme_id=sme_id))
    except Forbidden:
        raise  # another leader's need: the console's error page
    except (DomainError, InvalidInput) as exc:
        msg = exc.message_zh if isinstance(exc, DomainError) else "无法加入候选"
        return redirect(f"/leader/needs/{demand_id}", msg)
    msg = "已加入候选；该企业也有意向，双方联系方式已可见" if row.mutual else "已加入候选名单"
    return redirect(f"/leader/needs/{demand_id}", msg)


@router.get("/leader/events", response_class=HTMLResponse)
def events_page(request: Request, session: SessionDep, user: LeaderUser) -> HTMLResponse:
    """Docking events this leader takes part in, with its meetings and agenda links."""
    return render(
        request, "web/leader/events.html", user, events=events.party_events(session, user)
    )
