"""The chain taxonomy (public)."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import SessionDep
from app.schemas.chain import ChainDetail, ChainSummary, LinkRead, TaxonomyVersionRead
from app.services import taxonomy as service

router = APIRouter(tags=["chains"])

VersionQuery = Annotated[
    str | None, Query(max_length=40, description="图谱版本，缺省为当前版本 / taxonomy version")
]


@router.get("/taxonomy-versions", summary="产业链图谱版本 / taxonomy versions")
def list_versions(session: SessionDep) -> list[TaxonomyVersionRead]:
    """Every loaded version of the chain list."""
    return service.list_versions(session)


@router.get("/chains", summary="产业链列表 / chains")
def list_chains(session: SessionDep, version: VersionQuery = None) -> list[ChainSummary]:
    """Chains of the current (or given) taxonomy version."""
    return service.list_chains(session, version)


@router.get("/chains/{code}", summary="产业链详情 / one chain with sub-chains and links")
def get_chain(code: str, session: SessionDep, version: VersionQuery = None) -> ChainDetail:
    """A chain with its sub-chains and links."""
    return service.get_chain(session, code, version)


@router.get("/chains/{code}/links/{link}", summary="产业链环节 / one link")
def get_link(code: str, link: str, session: SessionDep) -> LinkRead:
    """One link of a chain."""
    return LinkRead.from_model(service.get_link(session, code, link))
