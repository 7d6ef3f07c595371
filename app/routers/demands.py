"""Needs posted by chain leaders."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response, status

from app.deps import (
    IfMatchDep,
    IndexDep,
    PageDep,
    PathId,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    StaffDep,
    require_principal,
)
from app.repositories.demands import DemandFilters
from app.routers.filters import (
    CertQuery,
    CityQuery,
    CodeQuery,
    DemandTypeQuery,
    StatusQuery,
    TextQuery,
)
from app.schemas.common import Page
from app.schemas.demand import DemandCreate, DemandRead, DemandUpdate
from app.schemas.sme import BulkCreated
from app.services import access
from app.services import demands as service

router = APIRouter(prefix="/demands", tags=["demands"], dependencies=[Depends(require_principal)])


@router.post("", status_code=status.HTTP_201_CREATED, summary="发布需求 / post a need")
def create_demand(
    data: DemandCreate,
    session: SessionDep,
    index: IndexDep,
    response: Response,
    principal: PrincipalDep,
) -> DemandRead:
    """Post a need of a chain leader (its own account, or an admin)."""
    demand = service.create(session, principal, data, index)
    response.headers["Location"] = f"/api/v1/demands/{demand.id}"
    response.headers["ETag"] = f'"{demand.version}"'
    return demand


@router.post(
    "/bulk",
    status_code=status.HTTP_201_CREATED,
    summary="批量发布(全部成功或全部不存) / bulk create, all or nothing",
)
def bulk_create_demands(
    rows: Annotated[list[Any], Body(description="需求数组，最多 10,000 条")],
    session: SessionDep,
    settings: SettingsDep,
    index: IndexDep,
    _staff: StaffDep,
) -> BulkCreated:
    """Create up to 10,000 needs in one transaction, or report every bad row and store none."""
    ids = service.bulk_create(session, rows, settings, index)
    return BulkCreated(ids=ids, count=len(ids))


@router.get("", summary="需求列表 / list needs")
def list_demands(
    session: SessionDep,
    page: PageDep,
    principal: PrincipalDep,
    leader_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    chain: CodeQuery = None,
    link: CodeQuery = None,
    demand_type: DemandTypeQuery = None,
    status: StatusQuery = None,
    city: CityQuery = None,
    certification: CertQuery = None,
    q: TextQuery = None,
    open_only: Annotated[
        bool, Query(alias="open", description="只看进行中且未过期的需求 / open needs only")
    ] = False,
    include_deleted: Annotated[bool, Query(description="包含已删除")] = False,
) -> Page[DemandRead]:
    """Needs filtered by leader, chain, link, type, status, the leader's city, certificate, text."""
    filters = DemandFilters(
        leader_id=leader_id,
        chain=chain,
        link=link,
        demand_type=demand_type,
        status=status,
        city=city,
        certification=certification,
        q=q,
        open_on=date.today() if open_only else None,
        # Deleted records are for the staff (a restore is theirs or the owner's to ask for).
        include_deleted=include_deleted and principal.is_staff,
        drafts_of=access.drafts_visible_to(principal),
    )
    result = service.list_page(session, filters, page.limit, page.offset)
    view = access.ContactView(session, principal)
    return result.model_copy(update={"items": view.demands(result.items)})


@router.get("/{demand_id}", summary="需求详情 / one need")
def get_demand(
    demand_id: PathId, session: SessionDep, response: Response, principal: PrincipalDep
) -> DemandRead:
    """One need."""
    demand = service.get(session, demand_id, principal)
    response.headers["ETag"] = f'"{demand.version}"'
    return access.ContactView(session, principal).demand(demand)


@router.patch("/{demand_id}", summary="修改需求 / update a need")
def update_demand(
    demand_id: PathId,
    data: DemandUpdate,
    session: SessionDep,
    expected: IfMatchDep,
    index: IndexDep,
    response: Response,
    principal: PrincipalDep,
) -> DemandRead:
    """Change some fields; status moves along draft → published → docking → intention → signed."""
    demand = service.update(session, principal, demand_id, data, expected, index)
    response.headers["ETag"] = f'"{demand.version}"'
    return demand


@router.delete(
    "/{demand_id}", status_code=status.HTTP_204_NO_CONTENT, summary="删除需求(可恢复) / delete"
)
def delete_demand(
    demand_id: PathId,
    session: SessionDep,
    expected: IfMatchDep,
    index: IndexDep,
    principal: PrincipalDep,
) -> None:
    """Soft-delete a need (restore with POST /demands/{id}/restore)."""
    service.delete(session, principal, demand_id, expected, index)


@router.post("/{demand_id}/restore", summary="恢复已删除需求 / undo delete")
def restore_demand(
    demand_id: PathId, session: SessionDep, index: IndexDep, principal: PrincipalDep
) -> DemandRead:
    """Undo a delete."""
    return service.restore(session, principal, demand_id, index)
