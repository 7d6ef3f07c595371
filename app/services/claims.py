"""Claims to act for a firm already on record: the only way a credit code binds an account.

What a collision means: a self-service SME sign-up that registers a profile under a credit code
the service already knows (a chain leader's firm, a deleted SME profile, a firm an organizer
entered) is refused with a 409 that points to this flow, never bound to that record. The
account files a claim with a note saying why it speaks for the firm; an organizer checks it
(the licence, a phone call to the firm) and approves or rejects. On approval the account is
bound to the firm's SME profile (a deleted one is restored); a firm without one lets the
account register it under that code. Every step is a write, so it is in the audit log.
"""

from sqlalchemy.orm import Session

from app.errors import Conflict, Forbidden, InvalidInput, NotFound, found
from app.repositories import claims as repo
from app.repositories import enterprises as enterprise_repo
from app.schemas.claim import CLAIM_STATUS_LABELS, ClaimCreate, ClaimDecision, ClaimRead
from app.services import auth, smes
from app.services.auth import Principal
from app.services.matching import MatchingRuntime
from models import EnterpriseClaim, utcnow


def _read(claim: EnterpriseClaim) -> ClaimRead:
    user, firm = claim.user, claim.enterprise
    return ClaimRead.of(
        claim,
        username=user.username,
        enterprise_name=firm.name,
        uscc=firm.uscc,
        status_label=CLAIM_STATUS_LABELS[claim.status],
        sme_id=user.sme_id if claim.status == "approved" else None,
    )


def _not_found(claim_id: int) -> NotFound:
    return NotFound(f"claim {claim_id} not found", f"认领申请 {claim_id} 不存在")


def create(session: Session, principal: Principal, data: ClaimCreate) -> ClaimRead:
    """File (or find again) this SME account's claim on the firm of a credit code."""
    if principal.role != "sme" or principal.user_id is None:
        raise Forbidden("only SME accounts claim a firm", "只有中小企业账号可以认领企业")
    if principal.sme_id is not None:
        raise Forbidden(
            f"this account already has SME profile {principal.sme_id}",
            f"本账号已绑定企业档案 {principal.sme_id}",
        )
    enterprise = enterprise_repo.by_uscc(session, [data.uscc]).get(data.uscc)
    if enterprise is None:
        raise InvalidInput.one(
            ("body", "uscc"),
            "no firm is on record under this credit code: register the profile",
            "该统一社会信用代码尚无登记记录，请直接登记企业档案",
        )
    for status in ("pending", "approved"):
        found = repo.find(session, principal.user_id, enterprise.id, status)
        if found is not None:
            return _read(found)
    claim = EnterpriseClaim(user_id=principal.user_id, enterprise=enterprise, note=data.note)
    session.add(claim)
    session.flush()
    return _read(claim)


def listing(session: Session, principal: Principal, status: str | None = None) -> list[ClaimRead]:
    """Every claim for the staff; an SME account its own."""
    if principal.is_staff:
        rows = repo.listing(session, status=status)
    elif principal.role == "sme" and principal.user_id is not None:
        rows = repo.listing(session, user_id=principal.user_id, status=status)
    else:
        raise Forbidden(
            "claims are for SME accounts and organizers", "只有中小企业账号和组织方可查看认领申请"
        )
    return [_read(c) for c in rows]


def decide(
    session: Session,
    principal: Principal,
    claim_id: int,
    approve: bool,
    decision: ClaimDecision,
    index: MatchingRuntime | None = None,
) -> ClaimRead:
    """An organizer approves (binding the account to the firm) or rejects a pending claim."""
    if not principal.is_staff:
        raise Forbidden("organizers decide claims", "认领申请由组织方审核")
    claim = found(repo.get(session, claim_id), _not_found(claim_id))
    if claim.status != "pending":
        raise Conflict(
            f"claim {claim_id} is already {claim.status}",
            f"认领申请 {claim_id} 已审核（{CLAIM_STATUS_LABELS[claim.status]}）",
        )
    if approve:
        user = auth.get_user(session, claim.user_id)
        if user.sme_id is not None:
            raise Conflict(
                f"account {user.username} is already bound to SME profile {user.sme_id}",
                f"账号 {user.username} 已绑定企业档案 {user.sme_id}",
            )
        profile = repo.sme_of(session, claim.enterprise_id)
        if profile is not None:
            if profile.deleted_at is not None:
                smes.undelete(session, profile.id, index)
            auth.bind_sme(session, user.id, profile.id)
    claim.status = "approved" if approve else "rejected"
    claim.decided_by = principal.user_id
    claim.decided_at = utcnow()
    claim.decision_note = decision.note
    session.flush()
    return _read(claim)
