"""Ranked matches with their score breakdown and reasons."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from app.schemas.common import City, Code, ReadSchema, Schema, TierCode
from app.schemas.demand import CertRequirements, RegionIn


class RankedMatch(BaseModel):
    """A match item's ranking: its score breakdown and reasons."""

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


class SmeMatch(RankedMatch):
    """An SME suggested for a need."""

    sme_id: int
    name: str
    city: str | None
    tier: str | None


class DemandMatch(RankedMatch):
    """A need suggested for an SME."""

    demand_id: int
    title: str
    leader_id: int | None
    leader_name: str | None


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


class PlacementRead(ReadSchema):
    """A suggested chain link."""

    chain: str
    link: str
    name: str
    score: float
    matched_keywords: list[str]


class LinkSupplier(ReadSchema):
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
    open_demands: int
    weak: bool = Field(description="没有任何供应商 / no supplier at all")


class ChainCoverage(BaseModel):
    chain: str
    name: str
    links: list[LinkCoverage]
    weak_links: list[str]


class IndexStatus(BaseModel):
    """The matcher index of the answering process and the encoding queue."""

    encoder: str
    dim: int
    profiles: int
    profiles_with_vectors: int
    demands: int
    pending_encodings: int = Field(
        description="待编码文本（全部进程）/ texts waiting for a vector, every process's"
    )
    links_encoded: bool
    applied_weights: int | None
    encoded_by_this_process: int
    instance: str
    lexical_writes_pending: int = Field(
        description="词法索引待合并的写入 / profile writes not yet in the lexical snapshot's IDF"
    )
    encoding_active: bool = Field(description="编码队列正在运行 / the queue is encoding now")
    encoding_done: int = Field(description="本轮已编码 / texts encoded in the current or last run")
    encoding_total: int | None = Field(
        description="本轮总数 / texts of the current or last run (done + pending at its start)"
    )
    encoding_rate: float | None = Field(
        description="编码速率（条/秒，近60秒）/ texts per second over the last minute"
    )
    encoding_eta_seconds: float | None = Field(
        description="预计剩余秒数 / seconds left: pending over this process's rate"
    )
    encoding_started_at: datetime | None
    encoding_finished_at: datetime | None
    encoding_threads: int | None = Field(
        description="队列最快的线程数 / the queue's fastest thread count so far"
    )
