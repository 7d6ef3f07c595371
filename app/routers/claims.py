"""Claims to act for a firm already on record (see app.services.claims)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status

from app.deps import IndexDep, PathId, PrincipalDep, SessionDep, StaffDep, require_principal
from app.schemas.claim import ClaimCreate, ClaimDecision, ClaimRead
from app.services import claims as service

router = APIRouter(prefix="/claims", tags=["claims"], dependencies=[Depends(require_principal)])


@router.post("", status_code=status.HTTP_201_CREATED, summary="认领企业 / claim a firm on record")
def create_claim(data: ClaimCreate, session: SessionDep, principal: PrincipalDep) -> ClaimRead:
    """An SME account asks to act for the firm of a credit code already on record."""
    return service.create(session, principal, data)


@router.get("", summary="认领申请 / claims")
def list_claims(
    session: SessionDep,
    principal: PrincipalDep,
    claim_status: Annotated[
        Literal["pending", "approved", "rejected"] | None, Query(alias="status")
    ] = None,
) -> list[ClaimRead]:
    """Every claim for organizers; an SME account sees its own."""
    return service.listing(session, principal, claim_status)


@router.post("/{claim_id}/approve", summary="通过认领 / approve a claim")
def approve_claim(
    claim_id: PathId,
    data: ClaimDecision,
    session: SessionDep,
    index: IndexDep,
    principal: StaffDep,
) -> ClaimRead:
    """Bind the claimant to the firm's SME profile (restoring a deleted one)."""
    return service.decide(session, principal, claim_id, True, data, index)


@router.post("/{claim_id}/reject", summary="驳回认领 / reject a claim")
def reject_claim(
    claim_id: PathId, data: ClaimDecision, session: SessionDep, principal: StaffDep
) -> ClaimRead:
    """Refuse the claim, with the reason the claimant will read."""
    return service.decide(session, principal, claim_id, False, data)
