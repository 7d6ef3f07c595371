"""Shared field types: each accepts the forms people type and stores one canonical form."""

from collections.abc import Callable
from typing import Annotated, Any, Generic, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
    field_validator,
)

from matching import vocab
from matching.uscc import normalize_uscc, uscc_error

T = TypeVar("T")


def has_bad_characters(value: Any) -> bool:
    """NUL or a lone surrogate anywhere in a string, list or mapping (PostgreSQL stores neither)."""
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, list | tuple):
        return any(has_bad_characters(v) for v in value)
    if isinstance(value, dict):
        return any(has_bad_characters(k) or has_bad_characters(v) for k, v in value.items())
    return False


class Schema(BaseModel):
    """Base of all API schemas: unknown fields are refused so typos do not vanish silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bad_characters(cls, value: Any) -> Any:
        if has_bad_characters(value):
            raise ValueError(
                "含有空字符(NUL)或无效的 Unicode 字符 / contains a NUL or invalid Unicode character"
            )
        return value


def partial_of(
    model: type[Schema],
    name: str,
    doc: str,
    base: type[Schema] = Schema,
    exclude: tuple[str, ...] = (),
    **extra: Any,
) -> Any:
    """The update schema of a create schema: the same fields and rules, each optional and unset.

    Derived rather than written out, so a field added to the create schema can be changed too;
    `base` carries model validators (it may declare fields: these become optional as well) and
    `exclude` names fields an update never changes (the owner), and `extra` adds fields only an
    update has (`version`, a status move) as (type, FieldInfo).
    """
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        if field_name in exclude:
            continue
        inner = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        optional = Field(
            default=None,
            alias=info.alias,
            validation_alias=info.validation_alias,
            title=info.title,
            description=info.description,
        )
        fields[field_name] = (inner | None, optional)
    fields.update(extra)
    return create_model(name, __base__=base, __doc__=doc, __module__=model.__module__, **fields)


class ReadSchema(BaseModel):
    """Base of response schemas."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, obj: Any, **values: Any) -> Self:
        """The response for `obj`: the fields `values` names from them, the others from the
        attributes of `obj` of the same names."""
        for name in cls.model_fields.keys() - values.keys():
            if hasattr(obj, name):
                values[name] = getattr(obj, name)
        return cls(**values)


def version_field() -> tuple[Any, Any]:
    """The `version` an update names (or If-Match) so that it never overwrites a newer one."""
    return (int | None, Field(default=None, ge=1, le=2_147_483_647))


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    total: int
    limit: int
    offset: int


def _vocab(parse: Callable[[str], Any], zh: str, en: str, allowed: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value is None or not isinstance(value, str):
            return value
        try:
            return str(parse(value))
        except ValueError:
            raise ValueError(
                f"{zh}“{value}”无效，可选：{allowed} / unknown {en} {value!r}"
            ) from None

    return check


def _labels(labels: dict) -> str:
    return "、".join(f"{v}({k})" for k, v in labels.items())


def _city_allowed() -> str:
    return "、".join(vocab.CITIES)


Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=10_000)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=100)]

City = Annotated[str, BeforeValidator(_vocab(vocab.parse_city, "城市", "city", _city_allowed()))]
TierCode = Annotated[
    vocab.Tier,
    BeforeValidator(_vocab(vocab.parse_tier, "企业梯度", "tier", _labels(vocab.TIER_LABELS))),
]
SizeClassCode = Annotated[
    vocab.SizeClass,
    BeforeValidator(
        _vocab(vocab.parse_size_class, "企业规模", "size class", _labels(vocab.SIZE_CLASS_LABELS))
    ),
]
DemandTypeCode = Annotated[
    vocab.DemandType,
    BeforeValidator(
        _vocab(vocab.parse_demand_type, "需求类型", "need type", _labels(vocab.DEMAND_TYPE_LABELS))
    ),
]
DemandStatusCode = Annotated[
    vocab.DemandStatus,
    BeforeValidator(
        _vocab(vocab.parse_demand_status, "需求状态", "status", _labels(vocab.DEMAND_STATUS_LABELS))
    ),
]


def _check_uscc(value: str | None) -> str | None:
    if value is None:
        return None
    code = normalize_uscc(value)
    if not code:
        return None
    problem = uscc_error(code)
    if problem:
        raise ValueError(problem)
    return code


Uscc = Annotated[str | None, AfterValidator(_check_uscc)]
RequiredUscc = Annotated[str, StringConstraints(min_length=1), AfterValidator(_check_uscc)]


def _check_email(value: str | None) -> str | None:
    if value and ("@" not in value or value.startswith("@") or value.endswith("@")):
        raise ValueError(f"邮箱格式错误“{value}” / invalid e-mail address")
    return value or None


Email = Annotated[str | None, StringConstraints(max_length=200), AfterValidator(_check_email)]
Phone = Annotated[str | None, StringConstraints(max_length=50)]


def _tidy_list(items: list[str]) -> list[str]:
    """Strip, drop blanks and duplicates while keeping order."""
    seen: dict[str, None] = {}
    for item in items:
        item = item.strip()
        if item:
            seen.setdefault(item, None)
    return list(seen)


TagList = Annotated[
    list[Annotated[str, StringConstraints(max_length=200)]],
    Field(max_length=100),
    AfterValidator(_tidy_list),
]
CodeList = Annotated[list[Code], Field(max_length=50), AfterValidator(_tidy_list)]


def _normalize_certs(items: list[str]) -> list[str]:
    return _tidy_list([vocab.normalize_certification(i) for i in items if i.strip()])


CertificationList = Annotated[
    list[Annotated[str, StringConstraints(max_length=100)]],
    Field(max_length=50),
    AfterValidator(_normalize_certs),
]


class CodeName(BaseModel):
    """A reference to a coded thing with its display name."""

    code: str
    name: str
