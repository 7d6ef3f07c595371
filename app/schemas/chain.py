"""The chain taxonomy as the API returns it."""

from datetime import date

from pydantic import BaseModel

from matching import vocab


class LinkRead(BaseModel):
    code: str
    name: str
    stage: str
    stage_label: str
    sub_chain: str | None
    keywords: list[str]
    gbt_classes: list[str]
    description: str

    @classmethod
    def from_model(cls, link) -> "LinkRead":
        return cls(
            code=link.code,
            name=link.name,
            stage=link.stage,
            stage_label=vocab.STAGE_LABELS[vocab.Stage(link.stage)],
            sub_chain=link.sub_chain.code if link.sub_chain else None,
            keywords=list(link.keywords or []),
            gbt_classes=list(link.gbt_classes or []),
            description=link.description,
        )


class SubChainRead(BaseModel):
    code: str
    name: str
    links: list[LinkRead]


class ReferenceLeader(BaseModel):
    name: str
    evidence: str | None = None


class ChainSummary(BaseModel):
    code: str
    name: str
    description: str
    taxonomy_version: str
    sub_chain_count: int
    link_count: int


class ChainDetail(ChainSummary):
    reference_leaders: list[ReferenceLeader]
    sub_chains: list[SubChainRead]
    # Links that belong to no sub-chain.
    links: list[LinkRead]


class TaxonomyVersionRead(BaseModel):
    code: str
    name: str
    valid_from: date | None
    valid_to: date | None
    source: str
    is_current: bool
    chain_count: int
