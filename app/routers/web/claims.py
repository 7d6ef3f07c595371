"""Console pages of the claim flow: an SME account claims a firm on record, an organizer decides."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from app.deps import IndexDep, PathId, SessionDep
from app.errors import DomainError, InvalidInput
from app.routers.web.common import (
    OrganizerUser,
    SmeUser,
    form_errors,
    redirect,
    render,
    status_of,
)
from app.schemas.claim import ClaimCreate, ClaimDecision
from app.services import claims

router = APIRouter()
Text = Annotated[str, Form()]


@router.get("/sme/claim", response_class=HTMLResponse)
def claim_page(request: Request, session: SessionDep, user: SmeUser) -> HTMLResponse:
    """The claim form, and this account's claims with their answers."""
    return render(
        request,
        "web/sme/claim.html",
        user,
        claims=claims.listing(session, user),
        form={"uscc": request.query_params.get("uscc", "")[:18], "note": ""},
        errors={},
    )


@router.post("/sme/claim", response_class=HTMLResponse)
def claim_submit(
    request: Request, session: SessionDep, user: SmeUser, uscc: Text = "", note: Text = ""
) -> Response:
    """File a claim; errors are shown next to their fields."""
    form = {"uscc": uscc, "note": note}
    try:
        claims.create(session, user, ClaimCreate(uscc=uscc, note=note))
    except (ValidationError, InvalidInput, DomainError) as exc:
        return render(
            request,
            "web/sme/claim.html",
            user,
            status_code=status_of(exc),
            claims=claims.listing(session, user),
            form=form,
            errors=form_errors(exc),
        )
    return redirect("/sme/claim", "认领申请已提交，组织方核实后会为您绑定企业档案")


@router.get("/organizer/claims", response_class=HTMLResponse)
def claims_page(request: Request, session: SessionDep, user: OrganizerUser) -> HTMLResponse:
    """Claims waiting for a decision first, then the decided ones."""
    rows = claims.listing(session, user)
    rows.sort(key=lambda c: c.status != "pending")
    return render(request, "web/organizer/claims.html", user, claims=rows)


@router.post("/organizer/claims/{claim_id}/{decision}", response_class=HTMLResponse)
def claim_decide(
    claim_id: PathId,
    decision: str,
    session: SessionDep,
    index: IndexDep,
    user: OrganizerUser,
    note: Text = "",
) -> Response:
    """Approve or reject one claim, with the reason the claimant reads."""
    if decision not in ("approve", "reject"):
        return redirect("/organizer/claims", "未知操作")
    try:
        done = claims.decide(
            session, user, claim_id, decision == "approve", ClaimDecision(note=note), index
        )
    except (ValidationError, DomainError) as exc:
        message = exc.message_zh if isinstance(exc, DomainError) else "备注不能超过 500 字"
        return redirect("/organizer/claims", message)
    verb = "已通过" if done.status == "approved" else "已驳回"
    return redirect("/organizer/claims", f"{verb}：{done.username} 认领 {done.enterprise_name}")
