"""Chain-leader firms."""

from fastapi import APIRouter, Response, status

from app.deps import IfMatchDep, IndexDep, PageDep, PathId, SessionDep
from app.routers.filters import CityQuery, TextQuery
from app.schemas.common import Page
from app.schemas.leader import LeaderCreate, LeaderRead, LeaderUpdate
from app.services import leaders as service

router = APIRouter(prefix="/leaders", tags=["leaders"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="登记链主企业 / create leader")
def create_leader(data: LeaderCreate, session: SessionDep, response: Response) -> LeaderRead:
    """Register a chain-leader firm."""
    leader = service.create(session, data)
    response.headers["Location"] = f"/api/v1/leaders/{leader.id}"
    return leader


@router.get("", summary="链主企业列表 / list leaders")
def list_leaders(
    session: SessionDep, page: PageDep, q: TextQuery = None, city: CityQuery = None
) -> Page[LeaderRead]:
    """Leaders filtered by name and city."""
    return service.list_page(session, q, city, page.limit, page.offset)


@router.get("/{leader_id}", summary="链主企业 / one leader")
def get_leader(leader_id: PathId, session: SessionDep) -> LeaderRead:
    """One leader."""
    return service.get(session, leader_id)


@router.patch("/{leader_id}", summary="修改链主企业 / update leader")
def update_leader(
    leader_id: PathId,
    data: LeaderUpdate,
    session: SessionDep,
    expected: IfMatchDep,
    index: IndexDep,
) -> LeaderRead:
    """Change some fields."""
    return service.update(session, leader_id, data, expected, index)
