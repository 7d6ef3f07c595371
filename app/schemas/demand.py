"""Chain leaders' needs."""

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    model_validator,
)

from app.schemas.common import (
    City,
    Code,
    DemandStatusCode,
    DemandTypeCode,
    Email,
    LongText,
    Phone,
    ReadSchema,
    Schema,
    ShortText,
    TagList,
    Text200,
    TierCode,
    partial_of,
    version_field,
)
from matching import vocab

NEGOTIABLE_WORDS = {"面议", "议价", "negotiable"}


class CertRequirement(Schema):
    """A certificate a need asks for; `must` false means a preference."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    must: bool = True

    @model_validator(mode="after")
    def _normalise(self) -> "CertRequirement":
        self.name = vocab.normalize_certification(self.name)
        return self


def _cert_from_string(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


def _dedupe_certs(items: list[CertRequirement]) -> list[CertRequirement]:
    seen: dict[str, CertRequirement] = {}
    for item in items:
        # A certificate listed as both a must and a preference is a must.
        if item.name not in seen or item.must:
            seen[item.name] = item
    return list(seen.values())


CertRequirements = Annotated[
    list[Annotated[CertRequirement, BeforeValidator(_cert_from_string)]],
    Field(max_length=30),
]


class Budget(Schema):
    """Budget in 万元 (10,000 CNY); `negotiable` is 面议."""

    min: float | None = Field(default=None, ge=0, le=1e9)
    max: float | None = Field(default=None, ge=0, le=1e9)
    negotiable: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> "Budget":
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("预算下限不能大于上限 / budget min must not exceed max")
        return self


_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:[-~～至到]\s*(\d+(?:\.\d+)?))?\s*(?:万元|万)?\s*$")
# One bound only, as people write it: "200以上", "≥200", "不超过500万", "500以内".
_AMOUNT = r"\s*(\d+(?:\.\d+)?)\s*(?:万元|万)?\s*"
_AT_LEAST = re.compile(rf"^\s*(?:≥|>=|不低于|不少于)?{_AMOUNT}(以上|起)?\s*$")
_AT_MOST = re.compile(rf"^\s*(?:≤|<=|不超过|不高于)?{_AMOUNT}(以内|以下)?\s*$")


def _budget_from_scalar(value: Any) -> Any:
    if value is None or isinstance(value, dict | Budget):
        return value
    if isinstance(value, bool):
        raise ValueError("预算格式错误 / invalid budget")
    if isinstance(value, int | float):
        return {"min": value, "max": value}
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.lower() in NEGOTIABLE_WORDS:
            return {"negotiable": True}
        for pattern, bound in ((_AT_LEAST, "min"), (_AT_MOST, "max")):
            one = pattern.match(text)
            # A bare number is the range of one value (below); a word or sign names one bound.
            if one and (one.group(2) or not text[0].isdigit()):
                return {bound: float(one.group(1))}
        match = _RANGE.match(text)
        if match:
            low, high = match.group(1), match.group(2) or match.group(1)
            return {"min": float(low), "max": float(high)}
    raise ValueError(
        f"预算格式错误“{value}”，可填数字(万元)、区间如“50-80”、“200以上”、“500以内”或“面议” / "
        "budget must be a number in 10k CNY, a range like '50-80', '200以上', '500以内' or '面议'"
    )


BudgetIn = Annotated[Budget | None, BeforeValidator(_budget_from_scalar)]


class RegionPreference(Schema):
    """Where suppliers should preferably be: anywhere, in Shandong, or in given cities."""

    scope: vocab.RegionScope = vocab.RegionScope.ANY
    cities: list[City] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _consistent(self) -> "RegionPreference":
        if self.scope == vocab.RegionScope.CITIES and not self.cities:
            raise ValueError("指定城市优先时须填写城市 / scope 'cities' needs at least one city")
        if self.scope != vocab.RegionScope.CITIES:
            self.cities = []
        return self


_ANY_WORDS = {"不限", "无", "any", "全国"}
_PROVINCE_WORDS = {"省内", "省内优先", "山东省内", "山东", "山东省", "province", "in_province"}


def _region_from_scalar(value: Any) -> Any:
    if value is None or isinstance(value, dict | RegionPreference):
        return value
    if isinstance(value, list):
        return {"scope": "cities", "cities": value}
    if isinstance(value, str):
        text = value.strip()
        if not text or text in _ANY_WORDS:
            return {"scope": "any"}
        if text in _PROVINCE_WORDS:
            return {"scope": "province"}
        parts = [p for p in re.split(r"[、,，;；\s]+", text.removesuffix("优先")) if p]
        return {"scope": "cities", "cities": parts}
    raise ValueError("地区偏好格式错误 / invalid region preference")


RegionIn = Annotated[RegionPreference | None, BeforeValidator(_region_from_scalar)]


class DemandBase(Schema):
    """Fields shared by create and update."""

    description: LongText = ""
    chain: Code | None = None
    link: Code | None = None
    keywords: TagList = Field(default_factory=list)
    specification: LongText | None = None
    material_process: LongText | None = None
    quantity: float | None = Field(default=None, ge=0, le=1e12)
    unit: Annotated[str, StringConstraints(max_length=50)] | None = None
    budget: BudgetIn = None
    required_certifications: CertRequirements = Field(default_factory=list)
    region_preference: RegionIn = None
    min_tier: TierCode | None = None
    lead_time_days: int | None = Field(default=None, ge=0, le=3650)
    valid_until: date | None = None
    contact_name: ShortText | None = None
    contact_phone: Phone = None
    contact_email: Email = None

    @model_validator(mode="after")
    def _tidy(self) -> "DemandBase":
        if self.required_certifications:
            self.required_certifications = _dedupe_certs(self.required_certifications)
        return self


class DemandCreate(DemandBase):
    """A new need; published unless told otherwise (imports may carry a later status)."""

    leader_id: int = Field(ge=1, le=2_147_483_647)
    title: Text200
    # Also read as `need_type`, the name the data sets and earlier API clients use.
    demand_type: DemandTypeCode = Field(validation_alias=AliasChoices("demand_type", "need_type"))
    status: DemandStatusCode = vocab.DemandStatus.PUBLISHED


DemandUpdate = partial_of(
    DemandCreate,
    "DemandUpdate",
    "A partial update; status moves only along the lifecycle.",
    base=DemandBase,
    exclude=("leader_id",),
    version=version_field(),
)


class LeaderRef(BaseModel):
    id: int
    name: str
    city: str


class BudgetRead(BaseModel):
    min: float | None
    max: float | None
    negotiable: bool
    unit: str = "万元"


class RegionRead(BaseModel):
    scope: str
    scope_label: str
    cities: list[str]


class DemandRead(ReadSchema):
    """A need as the API returns it."""

    id: int
    leader_id: int
    leader: LeaderRef
    title: str
    description: str
    chain: str | None
    link: str | None
    demand_type: str
    demand_type_label: str
    keywords: list[str]
    specification: str | None
    material_process: str | None
    quantity: float | None
    unit: str | None
    budget: BudgetRead | None
    required_certifications: list[dict[str, Any]]
    region_preference: RegionRead
    min_tier: str | None
    min_tier_label: str | None
    lead_time_days: int | None
    valid_until: date | None
    status: str
    status_label: str
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
    def from_model(cls, d: Any) -> "DemandRead":
        """Build from a Demand row with leader, chain and link loaded.

        The need's columns of the same names fill the other fields (ReadSchema.of).
        """
        has_budget = d.budget_negotiable or d.budget_min is not None or d.budget_max is not None
        scope = vocab.RegionScope(d.region_scope)
        ent = d.leader.enterprise
        return cls.of(
            d,
            leader=LeaderRef(id=d.leader.id, name=ent.name, city=ent.city),
            chain=d.chain.code if d.chain else None,
            link=d.link.code if d.link else None,
            demand_type_label=vocab.DEMAND_TYPE_LABELS[vocab.DemandType(d.demand_type)],
            keywords=list(d.keywords or []),
            budget=BudgetRead(min=d.budget_min, max=d.budget_max, negotiable=d.budget_negotiable)
            if has_budget
            else None,
            required_certifications=list(d.required_certifications or []),
            region_preference=RegionRead(
                scope=scope.value,
                scope_label=vocab.REGION_SCOPE_LABELS[scope],
                cities=list(d.region_cities or []),
            ),
            min_tier_label=vocab.TIER_LABELS[vocab.Tier(d.min_tier)] if d.min_tier else None,
            status_label=vocab.DEMAND_STATUS_LABELS[vocab.DemandStatus(d.status)],
        )
