"""SME capability profiles."""

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
from app.repositories.smes import SmeFilters
from app.routers.filters import CertQuery, CityQuery, CodeQuery, TextQuery, TierQuery
from app.schemas.common import Page
from app.schemas.sme import BulkCreated, SmeCreate, SmeRead, SmeUpdate
from app.services import access
from app.services import smes as service

router = APIRouter(prefix="/smes", tags=["smes"], dependencies=[Depends(require_principal)])


@router.post("", status_code=status.HTTP_201_CREATED, summary="登记中小企业档案 / create profile")
def create_sme(
    data: SmeCreate,
    session: SessionDep,
    index: IndexDep,
    response: Response,
    principal: PrincipalDep,
) -> SmeRead:
    """Register an SME profile; an SME account registering its own becomes bound to it."""
    sme = service.create(session, principal, data, index)
    response.headers["Location"] = f"/api/v1/smes/{sme.id}"
    response.headers["ETag"] = f'"{sme.version}"'
    return sme


@router.post(
    "/bulk",
    status_code=status.HTTP_201_CREATED,
    summary="批量登记(全部成功或全部不存) / bulk create, all or nothing",
)
def bulk_create_smes(
    rows: Annotated[list[Any], Body(description="档案数组，最多 10,000 条")],
    session: SessionDep,
    settings: SettingsDep,
    index: IndexDep,
    _staff: StaffDep,
) -> BulkCreated:
    """Create up to 10,000 profiles in one transaction, or report every bad row and store none.

    Vectors are computed after the commit by the encoding queue; GET /index/status shows the
    backlog.
    """
    ids = service.bulk_create(session, rows, settings, index)
    return BulkCreated(ids=ids, count=len(ids))


@router.get("", summary="中小企业档案列表 / list profiles")
def list_smes(
    session: SessionDep,
    page: PageDep,
    principal: PrincipalDep,
    chain: CodeQuery = None,
    link: CodeQuery = None,
    city: CityQuery = None,
    tier: TierQuery = None,
    certification: CertQuery = None,
    q: TextQuery = None,
    include_deleted: Annotated[bool, Query(description="包含已删除")] = False,
) -> Page[SmeRead]:
    """Profiles filtered by chain, link, city, tier, certificate and text."""
    filters = SmeFilters(
        chain=chain,
        link=link,
        city=city,
        tier=tier,
        certification=certification,
        q=q,
        # Deleted records are for the staff (a restore is theirs or the owner's to ask for).
        include_deleted=include_deleted and principal.is_staff,
    )
    result = service.list_page(session, filters, page.limit, page.offset)
    view = access.ContactView(session, principal)
    return result.model_copy(update={"items": view.smes(result.items)})


@router.get("/{sme_id}", summary="中小企业档案 / one profile")
def get_sme(
    sme_id: PathId, session: SessionDep, response: Response, principal: PrincipalDep
) -> SmeRead:
    """One profile; contacts only for staff, the SME itself, and leaders it agreed to meet."""
    sme = service.get(session, sme_id)
    response.headers["ETag"] = f'"{sme.version}"'
    return access.ContactView(session, principal).sme(sme)


@router.patch("/{sme_id}", summary="修改档案 / update profile")
def update_sme(
    sme_id: PathId,
    data: SmeUpdate,
    session: SessionDep,
    expected: IfMatchDep,
    index: IndexDep,
    response: Response,
    principal: PrincipalDep,
) -> SmeRead:
    """Change some fields; send `version` or If-Match to guard against lost updates."""
    sme = service.update(session, principal, sme_id, data, expected, index)
    response.headers["ETag"] = f'"{sme.version}"'
    return sme


@router.delete(
    "/{sme_id}", status_code=status.HTTP_204_NO_CONTENT, summary="删除档案(可恢复) / delete"
)
def delete_sme(
    sme_id: PathId,
    session: SessionDep,
    expected: IfMatchDep,
    index: IndexDep,
    principal: PrincipalDep,
) -> None:
    """Soft-delete a profile (restore with POST /smes/{id}/restore)."""
    service.delete(session, principal, sme_id, expected, index)


@router.post("/{sme_id}/restore", summary="恢复已删除档案 / undo delete")
def restore_sme(
    sme_id: PathId, session: SessionDep, index: IndexDep, principal: PrincipalDep
) -> SmeRead:
    """Undo a delete."""
    return service.restore(session, principal, sme_id, index)
