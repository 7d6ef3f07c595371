"""Helpers shared by the use cases: bulk row validation, version checks, search text."""

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from app.errors import Conflict, FieldError, InvalidInput, field_errors_from_pydantic

M = TypeVar("M", bound=BaseModel)


def validate_rows(
    rows: list[Any], schema: type[M], max_rows: int
) -> tuple[list[M | None], list[FieldError]]:
    """Validate every row against `schema`; rows that fail are None and their errors collected."""
    if len(rows) > max_rows:
        raise InvalidInput.one(
            ("body",),
            f"at most {max_rows} rows per request, got {len(rows)}",
            f"每次最多 {max_rows} 行，实际 {len(rows)} 行",
            type="too_long",
        )
    if not rows:
        raise InvalidInput.one(("body",), "no rows", "没有数据行", type="too_short")
    adapter = TypeAdapter(schema)
    out: list[M | None] = []
    errors: list[FieldError] = []
    for i, row in enumerate(rows):
        try:
            out.append(adapter.validate_python(row))
        except ValidationError as exc:
            out.append(None)
            errors.extend(field_errors_from_pydantic(exc.errors(), prefix=("body", i), row=i))
    return out, errors


def check_version(current: int, expected: int | None) -> None:
    """Refuse a write made against an older version of the record."""
    if expected is not None and expected != current:
        raise Conflict(
            f"Version conflict: you edited version {expected}, the current one is {current}",
            f"版本冲突：您修改的是第 {expected} 版，当前已是第 {current} 版，请刷新后重试",
            current_version=current,
        )


def refuse_nulls(data: BaseModel, fields: Iterable[str]) -> None:
    """A PATCH may not set a required field to null."""
    errors = [
        FieldError(
            loc=("body", name),
            msg="may not be null",
            msg_zh="该字段不能为空",
            type="missing",
        )
        for name in fields
        if name in data.model_fields_set and getattr(data, name) is None
    ]
    if errors:
        raise InvalidInput(errors)


def search_text(*parts: Any) -> str:
    """Lower-cased searchable text from strings and lists of strings."""
    flat: list[str] = []
    for part in parts:
        if not part:
            continue
        if isinstance(part, str):
            flat.append(part)
        else:
            flat.extend(str(p) for p in part if p)
    return "\n".join(flat).lower()


def worksheet_value(value: Any) -> Any:
    """A value any worksheet can hold and no spreadsheet evaluates (see app.services.spreadsheet).

    Names and titles accept control characters through the API (only NUL and lone surrogates
    are refused) and openpyxl raises on them, which made an export a 500: they are dropped.
    Text a spreadsheet would read as a formula ("=HYPERLINK(...)", "+1", "＝1") gets a leading
    single quote; numbers and dates are returned unchanged.
    """
    from app.services.spreadsheet import xlsx_cell

    return xlsx_cell(value)
