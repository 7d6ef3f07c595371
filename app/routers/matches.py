"""Ranked matches, free-text search, chain placement and link coverage."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.deps import IndexDep, PathId, PrincipalDep, SessionDep, require_principal, require_roles
from app.routers.filters import CertQuery, CityQuery, CodeQuery, TierQuery
from app.schemas.match import (
    ChainCoverage,
    DemandMatchList,
    FreeTextMatch,
    IndexStatus,
    LinkSupplier,
    PlacementRead,
    SmeMatchList,
)
from app.services import access, demands
from app.services import matches as service
from matching.matcher import ProfileFilter

router = APIRouter(tags=["matching"], dependencies=[Depends(require_principal)])

Limit = Annotated[int, Query(ge=1, le=200, description="返回条数 / how many")]


@router.get("/demands/{demand_id}/matches", summary="需求的匹配企业 / SMEs for a need")
def demand_matches(
    demand_id: PathId,
    session: SessionDep,
    index: IndexDep,
    principal: PrincipalDep,
    limit: Limit = 20,
    chain: CodeQuery = None,
    city: CityQuery = None,
    tier: TierQuery = None,
    certification: CertQuery = None,
    include_ineligible: Annotated[
        bool, Query(description="包含缺少必备资质的企业(排在后面) / keep ineligible SMEs")
    ] = True,
) -> SmeMatchList:
    """SMEs ranked for a need, with the score breakdown and reasons in Chinese."""
    access.ensure_demand_reader(session, principal, demand_id)
    where = ProfileFilter(
        chain=chain, city=city, tier=str(tier) if tier else None, certification=certification
    )
    items = service.demand_matches(session, index, demand_id, limit, where, include_ineligible)
    return SmeMatchList(items=items)


@router.get("/smes/{sme_id}/matches", summary="企业可对接的需求 / needs for an SME")
def sme_matches(
    sme_id: PathId,
    session: SessionDep,
    index: IndexDep,
    principal: PrincipalDep,
    limit: Limit = 20,
    include_closed: Annotated[bool, Query(description="包含已关闭或过期的需求")] = False,
) -> DemandMatchList:
    """Open needs ranked for an SME."""
    access.ensure_sme_reader(principal, sme_id)
    return DemandMatchList(items=service.sme_matches(session, index, sme_id, limit, include_closed))


@router.post(
    "/match",
    summary="自由文本找企业 / free-text search for SMEs",
    dependencies=[Depends(require_roles("organizer", "leader"))],
)
def free_text_match(query: FreeTextMatch, session: SessionDep, index: IndexDep) -> SmeMatchList:
    """Rank SMEs for a free-text need, with optional structure and filters."""
    return SmeMatchList(items=service.free_text_matches(session, index, query))


@router.get("/smes/{sme_id}/placement", summary="企业的产业链环节归类 / suggested links")
def sme_placement(
    sme_id: PathId, session: SessionDep, index: IndexDep, limit: Limit = 3
) -> list[PlacementRead]:
    """The chain links an SME profile most likely belongs to."""
    return service.sme_placement(session, index, sme_id, limit)


@router.get("/demands/{demand_id}/placement", summary="需求的产业链环节归类 / suggested links")
def demand_placement(
    demand_id: PathId,
    session: SessionDep,
    index: IndexDep,
    principal: PrincipalDep,
    limit: Limit = 3,
) -> list[PlacementRead]:
    """The chain links a need most likely belongs to (a draft: for its leader and the staff)."""
    demands.get(session, demand_id, principal)  # 404 for a need the caller may not read
    return service.demand_placement(session, index, demand_id, limit)


@router.get("/chains/{code}/links/{link}/smes", summary="环节的供应商 / suppliers of a link")
def link_suppliers(
    code: str, link: str, session: SessionDep, index: IndexDep, limit: Limit = 50
) -> list[LinkSupplier]:
    """SMEs that declare the link, then those placement suggests for it."""
    return service.link_suppliers(session, index, code, link, limit)


@router.get("/chains/{code}/coverage", summary="产业链环节覆盖与薄弱环节 / link coverage")
def chain_coverage(code: str, session: SessionDep, index: IndexDep) -> ChainCoverage:
    """Suppliers and open needs per link; links with no supplier are the chain's weak links."""
    return service.chain_coverage(session, index, code)


@router.get("/index/status", summary="匹配索引状态 / matcher index status")
def index_status(index: IndexDep) -> IndexStatus:
    """Index size and the encoding backlog (0 pending: every profile is searchable by meaning)."""
    return IndexStatus(**index.status())
