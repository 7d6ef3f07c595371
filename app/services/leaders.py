"""Chain-leader firms."""

import unicodedata

from sqlalchemy.orm import Session

from app.errors import Conflict, FieldError, InvalidInput, NotFound
from app.repositories import demands as demand_repo
from app.repositories import enterprises as enterprise_repo
from app.repositories import leaders as repo
from app.schemas.common import Page
from app.schemas.leader import LeaderCreate, LeaderRead, LeaderUpdate
from app.services import access
from app.services.auth import Principal
from app.services.common import check_version, refuse_nulls
from app.services.matching import MatchingRuntime
from app.services.taxonomy import CodeBook
from models import ChainLeader, Enterprise, utcnow

ENTERPRISE_FIELDS = ("name", "city", "county", "size_class")
LEADER_FIELDS = ("description", "contact_name", "contact_phone", "contact_email")


# Every bracket form people type into firm names (NFKC already folds full-width and small forms).
_BRACKETS = str.maketrans("[]{}【】〔〕〖〗〘〙", "()()()()()()")


def name_key(name: str) -> str:
    """A firm name as names are compared: NFKC, case-blind, no spaces or invisible marks."""
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    text = text.translate(_BRACKETS)
    # Categories C (control, format such as zero-width spaces, unassigned) and Z (separators)
    # render as nothing or as a space: a name differing only in them looks the same.
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in "CZ")


def ensure_name_free(session: Session, name: str, leader_id: int | None = None) -> None:
    """Refuse (409) a name that another live leader holds, compared through `name_key`.

    Needs are imported by leader name and contacts are revealed per leader, so a firm that could
    take a competitor's name could receive that competitor's needs.
    """
    key = name_key(name)
    if not key:
        raise InvalidInput(
            [
                FieldError(
                    loc=("body", "name"),
                    msg="the name has no visible characters",
                    msg_zh="企业名称没有可见字符",
                )
            ]
        )
    repo.lock_names(session)
    for other_id, other_name, _code in repo.identities(session):
        if other_id != leader_id and name_key(other_name) == key:
            raise Conflict(
                f"the name {other_name!r} is registered by chain leader {other_id}",
                f"名称“{other_name}”已由链主企业（编号 {other_id}）登记，不能重复使用",
                field="name",
            )


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
    ensure_name_free(session, data.name)
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
    principal: Principal,
    leader_id: int,
    data: LeaderUpdate,
    if_match: int | None = None,
    index: MatchingRuntime | None = None,
) -> LeaderRead:
    """Change the fields given (the leader itself or an admin)."""
    access.ensure_leader_editor(principal, leader_id)
    leader = repo.get(session, leader_id)
    if leader is None:
        raise _not_found(leader_id)
    check_version(leader.version, data.version if data.version is not None else if_match)
    refuse_nulls(data, ("name", "city", "chains"))
    fields = data.model_fields_set - {"version"}
    if "name" in fields and data.name is not None:
        ensure_name_free(session, data.name, leader.id)
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
