"""Interest in a pair: either side says it wants to talk; both sides reveal contacts."""

from sqlalchemy.orm import Session

from app.errors import Forbidden, InvalidInput, NotFound
from app.repositories import demands as demand_repo
from app.repositories import smes as sme_repo
from app.repositories import users as repo
from app.schemas.auth import InterestCreate, InterestRead
from app.services import access, feedback
from app.services.auth import Principal
from models import Interest


def _read(row: Interest, mutual: bool) -> InterestRead:
    return InterestRead.of(row, mutual=mutual)


def _mutual(session: Session, rows: list[Interest]) -> set[tuple[int, int]]:
    """The (need, SME) pairs among `rows` where both sides have shown interest."""
    pairs = {(r.demand_id, r.sme_id) for r in rows}
    if not pairs:
        return set()
    sides: dict[tuple[int, int], set[str]] = {}
    demand_ids = {p[0] for p in pairs}
    sme_ids = {p[1] for p in pairs}
    for demand_id, sme_id, side in repo.interest_sides(session, demand_ids, sme_ids):
        sides.setdefault((demand_id, sme_id), set()).add(side)
    return {p for p, s in sides.items() if s == {"leader", "sme"}}


def express(session: Session, principal: Principal, data: InterestCreate) -> InterestRead:
    """Record the caller's interest (idempotent): a leader in an SME, an SME in a need."""
    demand = demand_repo.get(session, data.demand_id, include_deleted=True)
    if (
        demand is None
        or demand.deleted_at is not None
        or not access.sees_demand(principal, demand.leader_id, demand.status)
    ):
        raise NotFound(f"need {data.demand_id} not found", f"需求 {data.demand_id} 不存在")
    if principal.role == "leader":
        if principal.leader_id != demand.leader_id:
            raise Forbidden("this need belongs to another leader", "该需求属于其他链主企业")
        if data.sme_id is None:
            raise InvalidInput.one(("body", "sme_id"), "name the SME", "请指明感兴趣的中小企业")
        side, sme_id = "leader", data.sme_id
    elif principal.role == "sme" and principal.sme_id is not None:
        if data.sme_id not in (None, principal.sme_id):
            raise Forbidden("an SME speaks only for itself", "只能以本企业名义表达意向")
        side, sme_id = "sme", principal.sme_id
    else:
        raise Forbidden(
            "interest is expressed by a leader or an SME account",
            "只有链主企业或中小企业账号可以表达对接意向",
        )
    sme = sme_repo.get(session, sme_id, include_deleted=True)
    if sme is None or sme.deleted_at is not None:
        raise NotFound(f"SME profile {sme_id} not found", f"中小企业档案 {sme_id} 不存在")
    row = repo.interest(session, side, demand.id, sme_id)
    if row is None:
        row = Interest(
            side=side,
            demand_id=demand.id,
            leader_id=demand.leader_id,
            sme_id=sme_id,
            user_id=principal.user_id,
            note=data.note,
        )
        session.add(row)
        session.flush()
    # A label for the matcher: the leader's shortlist, or the SME's interest in the need.
    feedback.interest_changed(session, row)
    return _read(row, (row.demand_id, row.sme_id) in _mutual(session, [row]))


def list_for(session: Session, principal: Principal) -> list[InterestRead]:
    """Interests on the caller's pairs, from both sides (staff: all)."""
    if principal.role == "leader":
        rows = repo.interests(session, leader_id=principal.leader_id or -1)
    elif principal.role == "sme":
        rows = repo.interests(session, sme_id=principal.sme_id or -1)
    else:
        rows = repo.interests(session)
    mutual = _mutual(session, rows)
    return [_read(r, (r.demand_id, r.sme_id) in mutual) for r in rows]


def withdraw(session: Session, principal: Principal, interest_id: int) -> None:
    """Take back one's own interest."""
    row = repo.interest_by_id(session, interest_id)
    own = row is not None and (
        principal.role == "admin"
        or (
            row.side == "leader"
            and principal.role == "leader"
            and principal.leader_id == row.leader_id
        )
        or (row.side == "sme" and principal.role == "sme" and principal.sme_id == row.sme_id)
    )
    if not own:
        raise NotFound(f"interest {interest_id} not found", f"意向 {interest_id} 不存在")
    feedback.interest_changed(session, row, withdrawn=True)
    session.delete(row)
    session.flush()
