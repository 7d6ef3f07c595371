"""SME capability profiles."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response, status

from app.deps import IfMatchDep, IndexDep, PageDep, PathId, SessionDep, SettingsDep
from app.repositories.smes import SmeFilters
from app.routers.filters import CertQuery, CityQuery, CodeQuery, TextQuery, TierQuery
from app.schemas.common import Page
from app.schemas.sme import BulkCreated, SmeCreate, SmeRead, SmeUpdate
from app.services import smes as service

router = APIRouter(prefix="/smes", tags=["smes"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="登记中小企业档案 / create profile")
def create_sme(
    data: SmeCreate, session: SessionDep, index: IndexDep, response: Response
) -> SmeRead:
    """Register an SME profile."""
    sme = service.create(session, data, index)
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
        include_deleted=include_deleted,
    )
    return service.list_page(session, filters, page.limit, page.offset)


@router.get("/{sme_id}", summary="中小企业档案 / one profile")
def get_sme(sme_id: PathId, session: SessionDep, response: Response) -> SmeRead:
    """One profile."""
    sme = service.get(session, sme_id)
    response.headers["ETag"] = f'"{sme.version}"'
    return sme


@router.patch("/{sme_id}", summary="修改档案 / update profile")
def update_sme(
    sme_id: PathId,
    data: SmeUpdate,
    session: SessionDep,
    expected: IfMatchDep,
    index: IndexDep,
    response: Response,
) -> SmeRead:
    """Change some fields; send `version` or If-Match to guard against lost updates."""
    sme = service.update(session, sme_id, data, expected, index)
    response.headers["ETag"] = f'"{sme.version}"'
    return sme


@router.delete(
    "/{sme_id}", status_code=status.HTTP_204_NO_CONTENT, summary="删除档案(可恢复) / delete"
)
def delete_sme(sme_id: PathId, session: SessionDep, expected: IfMatchDep, index: IndexDep) -> None:
    """Soft-delete a profile (restore with POST /smes/{id}/restore)."""
    service.delete(session, sme_id, expected, index)


@router.post("/{sme_id}/restore", summary="恢复已删除档案 / undo delete")
def restore_sme(sme_id: PathId, session: SessionDep, index: IndexDep) -> SmeRead:
    """Undo a delete."""
    return service.restore(session, sme_id, index)
