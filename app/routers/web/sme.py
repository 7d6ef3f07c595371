"""Console pages of the sme role: profile, fitting needs with explanations, interest, events."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

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
    split_list,
    status_of,
)
from app.schemas.auth import InterestCreate, InterestRead
from app.schemas.sme import SmeCreate, SmeRead, SmeUpdate
from app.services import access, auth, demands, events, interests, matches, smes
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


def _profile_form(sme: SmeRead) -> dict[str, Any]:
    """The form fields of a stored profile."""
    known = set(vocab.KNOWN_CERTIFICATIONS)
    products = [
        f"{p.name}|{p.capacity}" if p.capacity else p.name for p in sme.products
    ]  # "name|capacity", as typed
    return {
        "name": sme.name,
        "uscc": sme.uscc or "",
        "city": sme.city,
        "county": sme.county or "",
        "size_class": sme.size_class or "",
        "tier": sme.tier,
        "products": "\n".join(products),
        "processes": "\n".join(sme.processes),
        "certifications": [c for c in sme.certifications if c in known],
        "certifications_other": "、".join(c for c in sme.certifications if c not in known),
        "invention_patents": str(sme.invention_patents),
        "utility_patents": str(sme.utility_patents),
        "rd_share": "" if sme.rd_share is None else f"{sme.rd_share:g}",
        "chains": sme.chains,
        "description": sme.description,
        "contact_name": sme.contact_name or "",
        "contact_phone": sme.contact_phone or "",
        "contact_email": sme.contact_email or "",
        "version": str(sme.version),
    }


def _posted_profile(data: FormData) -> dict[str, Any]:
    """The form as typed, for showing it again."""
    form: dict[str, Any] = {k: str(v).strip() for k, v in data.items()}
    form["certifications"] = [str(v) for v in data.getlist("certifications")]
    form["chains"] = [str(v) for v in data.getlist("chains")]
    return form


def _product(line: str) -> dict[str, str] | str:
    # "产品名|产能": the part after the bar is the annual capacity.
    name, _, capacity = line.partition("|")
    if not capacity.strip():
        return name.strip()
    return {"name": name.strip(), "capacity": capacity.strip()}


def _keep_unshown(products: list[dict[str, str] | str], stored: SmeRead) -> list[dict[str, Any]]:
    """The products as typed, with what the form does not show kept from the stored ones.

    The form shows a product as "name|capacity"; its niche and market share (set through the
    API or an import, and the niche feeds matching) come back from the stored product of the
    same name, so saving the form never erases them.
    """
    by_name: dict[str, list[Any]] = {}
    for product in stored.products:
        by_name.setdefault(product.name, []).append(product)
    out: list[dict[str, Any]] = []
    for typed in products:
        item: dict[str, Any] = {"name": typed} if isinstance(typed, str) else dict(typed)
        same = by_name.get(item["name"])
        if same:
            old = same.pop(0)
            item.setdefault("niche", old.niche)
            item.setdefault("market_share", old.market_share)
        out.append(item)
    return out


def _profile_payload(form: dict[str, Any]) -> dict[str, Any]:
    """The API's input shape from the form; blank boxes mean "not given"."""

    def opt(name: str) -> str | None:
        return form.get(name) or None

    certs = list(form["certifications"]) + split_list(form.get("certifications_other"))
    return {
        "name": form.get("name", ""),
        "uscc": opt("uscc"),
        "city": form.get("city", ""),
        "county": opt("county"),
        "size_class": opt("size_class"),
        "tier": form.get("tier", ""),
        "products": [_product(x) for x in (form.get("products") or "").splitlines() if x.strip()],
        "processes": split_list(form.get("processes")),
        "certifications": list(dict.fromkeys(certs)),
        "invention_patents": form.get("invention_patents") or 0,
        "utility_patents": form.get("utility_patents") or 0,
        "rd_share": opt("rd_share"),
        "chains": form["chains"],
        "description": form.get("description", ""),
        "contact_name": opt("contact_name"),
        "contact_phone": opt("contact_phone"),
        "contact_email": opt("contact_email"),
    }


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
    if profile is not None:
        form = _profile_form(profile)
    else:
        form = {"certifications": [], "chains": [], "tier": "specialized"}
    return _profile_page(request, session, user, form, {})


@router.post("/sme/profile", response_class=HTMLResponse)
def profile_submit(
    request: Request, session: SessionDep, index: IndexDep, user: SmeUser, data: FormDep
) -> Response:
    """Create the profile (and bind it to this account) or save an edit of it."""
    form = _posted_profile(data)
    payload = _profile_payload(form)
    try:
        if user.sme_id is None:
            access.ensure_can_create_sme(user)
            created = smes.create(session, SmeCreate.model_validate(payload), index, user)
            if user.role == "sme" and user.user_id is not None:
                auth.bind_sme(session, user.user_id, created.id)
            return redirect("/sme/needs", "企业档案已登记，以下是与贵企业适配的链主需求")
        access.ensure_sme_editor(user, user.sme_id)
        payload["products"] = _keep_unshown(payload["products"], smes.get(session, user.sme_id))
        payload["version"] = form.get("version") or None
        smes.update(session, user.sme_id, SmeUpdate.model_validate(payload), None, index)
    except (ValidationError, InvalidInput, DomainError) as exc:
        errors = page_errors(exc)
        if status_of(exc) == 409 and "_" in errors:
            errors["_"] += "。您的修改尚未保存：请记下改动，打开“企业档案”重新载入后再提交。"
        return _profile_page(request, session, user, form, errors, status_of(exc))
    return redirect("/sme/profile", "企业档案已保存")


# -- fitting needs --------------------------------------------------------------------------------


@router.get("/sme/needs", response_class=HTMLResponse)
def needs_page(
    request: Request, session: SessionDep, index: IndexDep, user: SmeUser
) -> HTMLResponse:
    """Ranked open needs that fit this SME, each with its explanation."""
    profile = _my_profile(session, user)
    items = _fitting(session, index, user, 20)
    return render(
        request,
        "web/sme/needs.html",
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
def need_page(
    request: Request, demand_id: PathId, session: SessionDep, index: IndexDep, user: SmeUser
) -> HTMLResponse:
    """One need in full; the leader's contacts only once they are revealed."""
    try:
        need = access.ContactView(session, user).demand(demands.get(session, demand_id, user))
    except NotFound as exc:
        return render(
            request, "web/sme/missing.html", user, status_code=404, message=exc.message_zh
        )
    match = next((m for m in _fitting(session, index, user, 200) if m.demand_id == demand_id), None)
    return render(
        request,
        "web/sme/need.html",
        user,
        need=need,
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
