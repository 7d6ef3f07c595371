"""SME capability profiles."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StringConstraints

from app.schemas.common import (
    CertificationList,
    City,
    CodeList,
    Email,
    LongText,
    Phone,
    ReadSchema,
    Schema,
    ShortText,
    SizeClassCode,
    TagList,
    Text200,
    TierCode,
    Uscc,
    partial_of,
    version_field,
)
from matching import vocab


class ProductIn(Schema):
    """A main product; a plain string means just its name."""

    name: Text200
    niche: ShortText | None = None
    capacity: ShortText | None = None
    market_share: ShortText | None = None


def _product_from_string(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


Product = Annotated[ProductIn, BeforeValidator(_product_from_string)]


class SmeBase(Schema):
    """Fields shared by create and update."""

    county: Annotated[str, StringConstraints(max_length=50)] | None = None
    size_class: SizeClassCode | None = None
    processes: TagList = Field(default_factory=list)
    certifications: CertificationList = Field(default_factory=list)
    invention_patents: int = Field(default=0, ge=0, le=1_000_000)
    utility_patents: int = Field(default=0, ge=0, le=1_000_000)
    rd_share: float | None = Field(default=None, ge=0, le=100, description="研发投入占营收比例，%")
    chains: CodeList = Field(default_factory=list, description="产业链代码")
    links: CodeList = Field(default_factory=list, description="产业链环节代码")
    leaders_supplied: TagList = Field(default_factory=list, description="已配套的链主企业")
    export: bool = False
    description: LongText = ""
    contact_name: ShortText | None = None
    contact_phone: Phone = None
    contact_email: Email = None


class SmeCreate(SmeBase):
    """A new SME profile."""

    name: Text200
    uscc: Uscc = Field(default=None, description="统一社会信用代码 (GB 32100-2015)")
    city: City
    tier: TierCode
    products: Annotated[list[Product], Field(min_length=1, max_length=50)]


# A partial update; `version` (or If-Match) guards against lost updates.
SmeUpdate = partial_of(
    SmeCreate,
    "SmeUpdate",
    "A partial update; `version` (or If-Match) guards against lost updates.",
    version=version_field(),
)


class ProductRead(ReadSchema):
    name: str
    niche: str | None = None
    capacity: str | None = None
    market_share: str | None = None


class SmeRead(ReadSchema):
    """An SME profile as the API returns it."""

    id: int
    name: str
    uscc: str | None
    city: str
    county: str | None
    size_class: str | None
    size_class_label: str | None
    tier: str
    tier_label: str
    products: list[ProductRead]
    processes: list[str]
    certifications: list[str]
    invention_patents: int
    utility_patents: int
    rd_share: float | None
    chains: list[str]
    links: list[str]
    leaders_supplied: list[str]
    export: bool
    description: str
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None
    # True when the contacts are withheld: shown once both sides expressed interest or met.
    contact_hidden: bool = False
    version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    @classmethod
    def from_model(cls, sme: Any) -> "SmeRead":
        """Build from an SmeProfile row with its enterprise loaded.

        The profile's columns of the same names fill the other fields (ReadSchema.of).
        """
        ent = sme.enterprise
        size = ent.size_class
        return cls.of(
            sme,
            **{name: getattr(ent, name) for name in ("name", "uscc", "city", "county")},
            size_class=size,
            size_class_label=vocab.SIZE_CLASS_LABELS.get(size) if size else None,
            tier_label=vocab.TIER_LABELS[vocab.Tier(sme.tier)],
            products=[ProductRead.model_validate(p) for p in sme.products],
            processes=list(sme.processes or []),
            certifications=[c.name for c in sme.certifications],
            chains=[c.code for c in sme.chains],
            links=[link.code for link in sme.links],
            leaders_supplied=list(sme.leaders_supplied or []),
        )


class BulkCreated(ReadSchema):
    """Result of an all-or-nothing bulk create: ids in input order."""

    ids: list[int]
    count: int
