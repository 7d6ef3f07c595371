"""Ranked matches with their score breakdown and reasons."""

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from app.schemas.common import City, Code, Schema, TierCode
from app.schemas.demand import CertRequirements, RegionIn


class SmeMatch(BaseModel):
    """An SME suggested for a need."""

    sme_id: int
    name: str
    city: str | None
    tier: str | None
    score: float
    rank: int
    eligible: bool = Field(description="满足全部必备资质 / holds every must certificate")
    components: dict[str, float]
    reasons: list[str]
    matched_terms: list[str]
    # Of the need's required certificates: those the SME holds and those it lacks (must first).
    certifications_held: list[str] = Field(
        default_factory=list, description="需求要求且企业具备的资质 / required and held"
    )
    certifications_missing: list[str] = Field(
        default_factory=list, description="需求要求但企业缺少的资质 / required but missing"
    )
    certifications_missing_must: list[str] = Field(
        default_factory=list, description="其中缺少的必备资质 / missing must certificates"
    )


class DemandMatch(BaseModel):
    """A need suggested for an SME."""

    demand_id: int
    title: str
    leader_id: int | None
    leader_name: str | None
    score: float
    rank: int
    eligible: bool
    components: dict[str, float]
    reasons: list[str]
    matched_terms: list[str]
    # Of the need's required certificates: those the SME holds and those it lacks (must first).
    certifications_held: list[str] = Field(
        default_factory=list, description="需求要求且企业具备的资质 / required and held"
    )
    certifications_missing: list[str] = Field(
        default_factory=list, description="需求要求但企业缺少的资质 / required but missing"
    )
    certifications_missing_must: list[str] = Field(
        default_factory=list, description="其中缺少的必备资质 / missing must certificates"
    )


class SmeMatchList(BaseModel):
    items: list[SmeMatch]


class DemandMatchList(BaseModel):
    items: list[DemandMatch]


class FreeTextMatch(Schema):
    """An organizer's search: free text plus optional structure and filters."""

    text: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    keywords: list[Annotated[str, StringConstraints(max_length=100)]] = Field(
        default_factory=list, max_length=30
    )
    chain: Code | None = None
    link: Code | None = None
    city: City | None = None
    tier: TierCode | None = None
    certification: Annotated[str, StringConstraints(max_length=100)] | None = None
    required_certifications: CertRequirements = Field(default_factory=list)
    region_preference: RegionIn = None
    min_tier: TierCode | None = None
    limit: int = Field(default=20, ge=1, le=200)


class PlacementRead(BaseModel):
    """A suggested chain link."""

    chain: str
    link: str
    name: str
    score: float
    matched_keywords: list[str]


class LinkSupplier(BaseModel):
    """A supplier of a link: declared by the SME, or suggested by placement."""

    sme_id: int
    name: str
    city: str | None
    tier: str | None
    declared: bool
    score: float | None


class LinkCoverage(BaseModel):
    """How well a link is served."""

    link: str
    name: str
    stage: str
    sub_chain: str | None
    declared_suppliers: int
    suggested_suppliers: int
    open_needs: int
    weak: bool = Field(description="没有任何供应商 / no supplier at all")


class ChainCoverage(BaseModel):
    chain: str
    name: str
    links: list[LinkCoverage]
    weak_links: list[str]
