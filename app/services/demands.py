"""Needs of chain leaders: create (one or in bulk), read, update along the lifecycle, delete."""

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import Conflict, FieldError, InvalidInput, NotFound
from app.repositories import demands as repo
from app.repositories import leaders as leader_repo
from app.schemas.common import Page
from app.schemas.demand import DemandCreate, DemandRead, DemandUpdate
from app.services import access
from app.services.auth import Principal
from app.services.common import check_version, refuse_nulls, search_text, validate_rows
from app.services.matching import MatchingRuntime
from app.services.taxonomy import CodeBook
from matching import vocab
from models import Demand, utcnow

# Fields stored in another shape (budget, region), resolved (leader, chain, link) or as a list.
SHAPED_FIELDS = (
    "leader_id",
    "chain",
    "link",
    "budget",
    "required_certifications",
    "region_preference",
)
# Every other field is a column of the same name: derived from the schema, not listed again.
PLAIN_FIELDS = tuple(name for name in DemandCreate.model_fields if name not in SHAPED_FIELDS)
NOT_NULL = ("title", "demand_type", "status")


def _not_found(demand_id: int) -> NotFound:
    return NotFound(f"need {demand_id} not found", f"需求 {demand_id} 不存在")


def _apply(demand: Demand, data: DemandCreate | DemandUpdate, fields: set[str]) -> None:
    for name in PLAIN_FIELDS:
        if name in fields:
            value = getattr(data, name)
            setattr(demand, name, str(value) if isinstance(value, vocab.StrEnum) else value)
    if "budget" in fields:
        budget = data.budget
        demand.budget_min = budget.min if budget else None
        demand.budget_max = budget.max if budget else None
        demand.budget_negotiable = bool(budget and budget.negotiable)
    if "required_certifications" in fields:
        demand.required_certifications = [
            c.model_dump() for c in data.required_certifications or []
        ]
    if "region_preference" in fields:
        region = data.region_preference
        demand.region_scope = str(region.scope) if region else "any"
        demand.region_cities = list(region.cities) if region else []
    demand.search_text = search_text(
        demand.title,
        demand.description,
        demand.keywords,
        demand.specification,
        demand.material_process,
        demand.leader.enterprise.name if demand.leader else "",
    )


def _leader_missing(leader_id: int, prefix: tuple, row: int | None) -> FieldError:
    return FieldError(
        loc=(*prefix, "leader_id"),
        msg=f"chain leader {leader_id} does not exist",
        msg_zh=f"链主企业 {leader_id} 不存在",
        row=row,
    )


# Dates are the programme's (China Standard Time), whatever the server's zone.
PROGRAMME_ZONE = ZoneInfo("Asia/Shanghai")


def _expired(
    valid_until: date | None, status: str, prefix: tuple, row: int | None
) -> FieldError | None:
    """A published need valid until a day already past: refused.

    A draft is seen by no one yet; a closed or signed need imported from an earlier programme
    may carry a past date.
    """
    today = datetime.now(PROGRAMME_ZONE).date()
    if valid_until is None or valid_until >= today or status != vocab.DemandStatus.PUBLISHED:
        return None
    return FieldError(
        loc=(*prefix, "valid_until"),
        msg=f"valid_until {valid_until} is already past (today is {today})",
        msg_zh=f"有效期至 {valid_until} 已过（今天是 {today}），请填写今天或以后的日期",
        row=row,
    )


# A need posted one at a time starts here; later states are reached along the lifecycle
# (PATCH), or carried by an organizer's bulk import of needs that already ran elsewhere.
INITIAL_STATUSES = (vocab.DemandStatus.DRAFT, vocab.DemandStatus.PUBLISHED)


def create(
    session: Session, principal: Principal, data: DemandCreate, index: MatchingRuntime | None = None
) -> DemandRead:
    """Post one need of the principal's firm (or an admin's), as a draft or published."""
    access.ensure_leader_editor(principal, data.leader_id)
    errors: list[FieldError] = []
    if vocab.DemandStatus(data.status) not in INITIAL_STATUSES:
        errors.append(
            FieldError(
                loc=("body", "status"),
                msg="a new need is a draft or published; later states follow the lifecycle",
                msg_zh="新需求只能是草稿或已发布，之后的状态随对接进展修改",
            )
        )
    leader = leader_repo.get(session, data.leader_id)
    if leader is None:
        errors.append(_leader_missing(data.leader_id, ("body",), None))
    if past := _expired(data.valid_until, data.status, ("body",), None):
        errors.append(past)
    chain, link = CodeBook.load(session).chain_and_link(data.chain, data.link, errors)
    if errors:
        raise InvalidInput(errors)
    demand = Demand(leader=leader, chain=chain, link=link)
    session.add(demand)
    _apply(demand, data, set(DemandCreate.model_fields))
    if index:
        index.record_demand(session, demand)
    session.flush()
    return DemandRead.from_model(demand)


def bulk_create(
    session: Session,
    rows: list[Any],
    settings: Settings,
    index: MatchingRuntime | None = None,
) -> list[int]:
    """Post many needs, all or nothing; every bad row is reported (vectors are queued)."""
    parsed, errors = validate_rows(rows, DemandCreate, settings.max_bulk_rows)
    book = CodeBook.load(session)
    leaders = {lid: leader_repo.get(session, lid) for lid in {d.leader_id for d in parsed if d}}
    resolved = []
    for i, data in enumerate(parsed):
        if data is None:
            resolved.append(None)
            continue
        if leaders.get(data.leader_id) is None:
            errors.append(_leader_missing(data.leader_id, ("body", i), i))
        if past := _expired(data.valid_until, data.status, ("body", i), i):
            errors.append(past)
        resolved.append(book.chain_and_link(data.chain, data.link, errors, ("body", i), i))
    if errors:
        errors.sort(key=lambda e: e.row if e.row is not None else -1)
        raise InvalidInput(errors)
    demands = []
    fields = set(DemandCreate.model_fields)
    for data, (chain, link) in zip(parsed, resolved, strict=True):
        demand = Demand(leader=leaders[data.leader_id], chain=chain, link=link)
        session.add(demand)
        _apply(demand, data, fields)
        demands.append(demand)
    if index:
        index.queue_demands(session, demands)
    session.flush()
    return [d.id for d in demands]


def get(session: Session, demand_id: int, principal: Principal | None = None) -> DemandRead:
    """One live need; a draft only for its leader and the staff (others get a 404)."""
    demand = repo.get(session, demand_id)
    if demand is None or (
        principal is not None and not access.sees_demand(principal, demand.leader_id, demand.status)
    ):
        raise _not_found(demand_id)
    return DemandRead.from_model(demand)


def list_page(
    session: Session, filters: repo.DemandFilters, limit: int, offset: int
) -> Page[DemandRead]:
    """A filtered page of needs."""
    version_id = CodeBook.load(session).version.id
    rows, total = repo.list_page(session, filters, version_id, limit, offset)
    return Page[DemandRead](
        items=[DemandRead.from_model(r) for r in rows], total=total, limit=limit, offset=offset
    )


def update(
    session: Session,
    principal: Principal,
    demand_id: int,
    data: DemandUpdate,
    if_match: int | None = None,
    index: MatchingRuntime | None = None,
) -> DemandRead:
    """Change the fields given (its leader or an admin); the status follows the lifecycle."""
    access.ensure_demand_editor(session, principal, demand_id)
    demand = repo.get(session, demand_id)
    if demand is None:
        raise _not_found(demand_id)
    check_version(demand.version, data.version if data.version is not None else if_match)
    refuse_nulls(data, NOT_NULL)
    fields = data.model_fields_set - {"version"}
    # A form sends the stored date back unchanged: a new date, or publishing, is checked.
    valid_until = data.valid_until if "valid_until" in fields else demand.valid_until
    status = data.status if "status" in fields else demand.status
    changed = valid_until != demand.valid_until or status != demand.status
    if changed and (past := _expired(valid_until, status, ("body",), None)):
        raise InvalidInput([past])
    if "status" in fields:
        current = vocab.DemandStatus(demand.status)
        target = vocab.DemandStatus(data.status)
        if not vocab.can_transition(current, target):
            allowed = sorted(vocab.DEMAND_TRANSITIONS[current])
            raise Conflict(
                f"status cannot move from {current} to {target}; allowed: {', '.join(allowed)}",
                f"需求状态不能从“{vocab.DEMAND_STATUS_LABELS[current]}”改为"
                f"“{vocab.DEMAND_STATUS_LABELS[target]}”，可改为："
                + "、".join(vocab.DEMAND_STATUS_LABELS[s] for s in allowed),
                field="status",
                allowed=allowed,
            )
    if "chain" in fields or "link" in fields:
        errors: list[FieldError] = []
        chain_code = data.chain if "chain" in fields else None
        link_code = data.link if "link" in fields else None
        if "chain" not in fields and demand.chain:
            chain_code = demand.chain.code
        chain, link = CodeBook.load(session).chain_and_link(chain_code, link_code, errors)
        if errors:
            raise InvalidInput(errors)
        if "link" not in fields and demand.link and chain and demand.link.chain_id != chain.id:
            link = None  # the old link no longer fits the new chain
        elif "link" not in fields:
            link = demand.link
        demand.chain, demand.link = chain, link
    _apply(demand, data, fields)
    demand.updated_at = utcnow()
    if index:
        index.record_demand(session, demand)
    session.flush()
    return DemandRead.from_model(demand)


def delete(
    session: Session,
    principal: Principal,
    demand_id: int,
    if_match: int | None = None,
    index: MatchingRuntime | None = None,
) -> None:
    """Soft-delete a need (its leader or an admin); it can be restored."""
    access.ensure_demand_editor(session, principal, demand_id)
    demand = repo.get(session, demand_id)
    if demand is None:
        raise _not_found(demand_id)
    check_version(demand.version, if_match)
    demand.deleted_at = utcnow()
    session.flush()
    if index:
        index.record_deleted(session, "demand", demand.id)


def restore(
    session: Session, principal: Principal, demand_id: int, index: MatchingRuntime | None = None
) -> DemandRead:
    """Undo a soft delete (its leader or an admin)."""
    access.ensure_demand_editor(session, principal, demand_id)
    demand = repo.get(session, demand_id, include_deleted=True)
    if demand is None:
        raise _not_found(demand_id)
    demand.deleted_at = None
    if index:
        index.record_demand(session, demand)
    session.flush()
    return DemandRead.from_model(demand)
