"""Chain-leader firms."""

from sqlalchemy.orm import Session

from app.errors import Conflict, FieldError, InvalidInput, NotFound
from app.repositories import demands as demand_repo
from app.repositories import enterprises as enterprise_repo
from app.repositories import leaders as repo
from app.schemas.common import Page
from app.schemas.leader import LeaderCreate, LeaderRead, LeaderUpdate
from app.services.common import check_version, refuse_nulls
from app.services.matching import MatchingRuntime
from app.services.taxonomy import CodeBook
from models import ChainLeader, Enterprise, utcnow

ENTERPRISE_FIELDS = ("name", "city", "county", "size_class")
LEADER_FIELDS = ("description", "contact_name", "contact_phone", "contact_email")


def _not_found(leader_id: int) -> NotFound:
    return NotFound(f"chain leader {leader_id} not found", f"链主企业 {leader_id} 不存在")


def _apply(leader: ChainLeader, data: LeaderCreate | LeaderUpdate, fields: set[str]) -> None:
    for name in LEADER_FIELDS:
        if name in fields:
            setattr(leader, name, getattr(data, name))
    for name in ENTERPRISE_FIELDS:
        if name in fields:
            value = getattr(data, name)
            setattr(leader.enterprise, name, str(value) if value is not None else None)


def _chains(session: Session, codes: list[str]):
    errors: list[FieldError] = []
    chains = CodeBook.load(session).chain_list(codes, ("body", "chains"), errors)
    if errors:
        raise InvalidInput(errors)
    return chains


def create(session: Session, data: LeaderCreate) -> LeaderRead:
    """Register a chain leader."""
    chains = _chains(session, data.chains)
    enterprise = None
    if data.uscc:
        enterprise = enterprise_repo.by_uscc(session, [data.uscc]).get(data.uscc)
        if enterprise and repo.active_for_enterprises(session, [enterprise.id]):
            raise Conflict(
                f"credit code {data.uscc} is already registered as a chain leader",
                f"统一社会信用代码 {data.uscc} 已登记为链主企业",
                field="uscc",
            )
    if enterprise is None:
        enterprise = Enterprise(name=data.name, uscc=data.uscc, city=data.city)
    leader = ChainLeader(enterprise=enterprise, chains=chains)
    session.add(leader)
    _apply(leader, data, set(LeaderCreate.model_fields))
    session.flush()
    return LeaderRead.from_model(leader)


def get(session: Session, leader_id: int) -> LeaderRead:
    """One leader with its count of needs."""
    leader = repo.get(session, leader_id)
    if leader is None:
        raise _not_found(leader_id)
    return LeaderRead.from_model(leader, repo.demand_counts(session, [leader.id]).get(leader.id, 0))


def list_page(
    session: Session, q: str | None, city: str | None, limit: int, offset: int
) -> Page[LeaderRead]:
    """A filtered page of leaders."""
    rows, total = repo.list_page(session, q, city, limit, offset)
    return Page[LeaderRead](
        items=[LeaderRead.from_model(x, n) for x, n in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


def update(
    session: Session,
    leader_id: int,
    data: LeaderUpdate,
    if_match: int | None = None,
    index: MatchingRuntime | None = None,
) -> LeaderRead:
    """Change the fields given."""
    leader = repo.get(session, leader_id)
    if leader is None:
        raise _not_found(leader_id)
    check_version(leader.version, data.version if data.version is not None else if_match)
    refuse_nulls(data, ("name", "city", "chains"))
    fields = data.model_fields_set - {"version"}
    if "chains" in fields:
        leader.chains = _chains(session, data.chains or [])
    if "uscc" in fields and data.uscc != leader.enterprise.uscc:
        if data.uscc and enterprise_repo.by_uscc(session, [data.uscc]):
            raise Conflict(
                f"credit code {data.uscc} belongs to another enterprise",
                f"统一社会信用代码 {data.uscc} 已属于其他企业",
                field="uscc",
            )
        leader.enterprise.uscc = data.uscc
    _apply(leader, data, fields)
    leader.updated_at = utcnow()
    session.flush()
    if index and fields & {"name", "city"}:
        # Needs carry their leader's name and city into matching (supplied-before, region).
        for demand_id in demand_repo.ids_of_leader(session, leader.id):
            index.record_deleted(session, "demand", demand_id)
    return get(session, leader.id)
