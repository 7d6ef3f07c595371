"""Chain-leader firms."""

from fastapi import APIRouter, Depends, Response, status

from app.deps import (
    IfMatchDep,
    IndexDep,
    PageDep,
    PathId,
    PrincipalDep,
    SessionDep,
    StaffDep,
    require_principal,
)
from app.routers.filters import CityQuery, TextQuery
from app.schemas.common import Page
from app.schemas.leader import LeaderCreate, LeaderRead, LeaderUpdate
from app.services import access
from app.services import leaders as service

router = APIRouter(prefix="/leaders", tags=["leaders"], dependencies=[Depends(require_principal)])


@router.post("", status_code=status.HTTP_201_CREATED, summary="登记链主企业 / create leader")
def create_leader(
    data: LeaderCreate, session: SessionDep, response: Response, _staff: StaffDep
) -> LeaderRead:
    """Register a chain-leader firm."""
    leader = service.create(session, data)
    response.headers["Location"] = f"/api/v1/leaders/{leader.id}"
    return leader


@router.get("", summary="链主企业列表 / list leaders")
def list_leaders(
    session: SessionDep,
    page: PageDep,
    principal: PrincipalDep,
    q: TextQuery = None,
    city: CityQuery = None,
) -> Page[LeaderRead]:
    """Leaders filtered by name and city."""
    result = service.list_page(session, q, city, page.limit, page.offset)
    view = access.ContactView(session, principal)
    return result.model_copy(update={"items": view.leaders(result.items)})


@router.get("/{leader_id}", summary="链主企业 / one leader")
def get_leader(leader_id: PathId, session: SessionDep, principal: PrincipalDep) -> LeaderRead:
    """One leader."""
    return access.ContactView(session, principal).leader(service.get(session, leader_id))


@router.patch("/{leader_id}", summary="修改链主企业 / update leader")
def update_leader(
    leader_id: PathId,
    data: LeaderUpdate,
    session: SessionDep,
    expected: IfMatchDep,
    index: IndexDep,
    principal: PrincipalDep,
) -> LeaderRead:
    """Change some fields (the leader itself or an admin)."""
    return service.update(session, principal, leader_id, data, expected, index)
