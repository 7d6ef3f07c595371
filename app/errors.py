"""Domain errors and their HTTP form: field-level, bilingual, never a 500 for user input."""

from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

T = TypeVar("T")

# Chinese wording of pydantic's error types; the English comes from pydantic itself.
_ZH_BY_TYPE = {
    "missing": "必填字段缺失",
    "string_type": "应为字符串",
    "string_too_short": "内容过短或为空",
    "string_too_long": "内容过长",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为布尔值",
    "bool_parsing": "应为布尔值(true/false)",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "date_type": "应为日期(YYYY-MM-DD)",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "greater_than": "数值过小",
    "greater_than_equal": "数值过小",
    "less_than": "数值过大",
    "less_than_equal": "数值过大",
    "too_short": "条目过少",
    "too_long": "条目过多",
    "extra_forbidden": "不支持的字段",
    "json_invalid": "JSON 格式错误",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "value_error": "取值无效",
    "url_parsing": "网址格式错误",
    "union_tag_invalid": "类型无效",
}


@dataclass
class FieldError:
    """One problem with one input field."""

    loc: tuple[str | int, ...]
    msg: str
    msg_zh: str
    type: str = "value_error"
    row: int | None = None
    # The spreadsheet column header, for file imports.
    column: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form used in 422 bodies."""
        out: dict[str, Any] = {
            "type": self.type,
            "loc": list(self.loc),
            "field": ".".join(str(p) for p in self.loc if p != "body"),
            "msg": self.msg,
            "msg_zh": self.msg_zh,
        }
        if self.row is not None:
            out["row"] = self.row
        if self.column is not None:
            out["column"] = self.column
        return out


class DomainError(Exception):
    """Base of errors the service layer raises for the HTTP layer to map.

    A subclass names its HTTP status and its code in the class header (see NotFound).
    """

    status_code = 400
    code = "error"

    def __init_subclass__(cls, status_code: int | None = None, code: str | None = None) -> None:
        super().__init_subclass__()
        if status_code is not None:
            cls.status_code = status_code
        if code is not None:
            cls.code = code

    def __init__(self, message: str, message_zh: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh or message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """JSON body of the error response."""
        return {
            "error": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
            "detail": f"{self.message_zh} / {self.message}",
            **self.extra,
        }


class NotFound(DomainError, status_code=404, code="not_found"):
    """No such record, or none the caller may see."""


class Conflict(DomainError, status_code=409, code="conflict"):
    """The request clashes with the stored state."""


class Unauthorized(DomainError, status_code=401, code="unauthorized"):
    """No valid credentials: sign in or send a bearer token."""


class Forbidden(DomainError, status_code=403, code="forbidden"):
    """Valid credentials, but the wrong party for this record or action."""


class TooManyRequests(DomainError, status_code=429, code="too_many_requests"):
    """Too many attempts in the window; `retry_after` says when to try again."""


@dataclass
class InvalidInput(Exception):
    """Input that passed the schema but not the rules that need the database."""

    errors: list[FieldError] = field(default_factory=list)

    @classmethod
    def one(
        cls, loc: tuple[str | int, ...], msg: str, msg_zh: str, type: str = "value_error"
    ) -> "InvalidInput":
        """The 422 of a single problem with one field."""
        return cls([FieldError(loc=loc, msg=msg, msg_zh=msg_zh, type=type)])


def found(value: T | None, error: DomainError) -> T:
    """`value`, unless it is None: then `error` (a NotFound, mostly) is raised."""
    if value is None:
        raise error
    return value


def split_message(message: str) -> tuple[str, str]:
    """Split our bilingual 'zh / en' validator messages into (en, zh)."""
    message = message.removeprefix("Value error, ")
    if " / " in message:
        zh, en = message.split(" / ", 1)
        return en, zh
    return message, message


def field_errors_from_pydantic(
    errors: list[dict[str, Any]], prefix: tuple[str | int, ...] = (), row: int | None = None
) -> list[FieldError]:
    """Turn pydantic error dicts into FieldErrors with Chinese text."""
    out = []
    for err in errors:
        kind = err.get("type", "value_error")
        loc = tuple(prefix) + tuple(err.get("loc", ()))
        if kind == "value_error":
            msg, zh = split_message(str(err.get("msg", "")))
        else:
            msg = str(err.get("msg", ""))
            zh = _ZH_BY_TYPE.get(kind, "取值无效")
            ctx = err.get("ctx") or {}
            limit = next(
                (ctx[k] for k in ("max_length", "min_length", "gt", "ge", "lt", "le") if k in ctx),
                None,
            )
            if limit is not None:
                zh = f"{zh}（限制：{limit}）"
        out.append(FieldError(loc=loc, msg=msg, msg_zh=zh, type=kind, row=row))
    return out


def _validation_response(errors: list[FieldError]) -> JSONResponse:
    return JSONResponse(
        status_code=422,
        content={
            "error": "validation_error",
            "message": f"Invalid input: {len(errors)} problem(s)",
            "message_zh": f"输入有误：共 {len(errors)} 处",
            "detail": [e.as_dict() for e in errors],
        },
    )


def domain_response(exc: DomainError) -> JSONResponse:
    """The JSON answer to a domain error (with its authentication or retry header)."""
    headers = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyRequests) and "retry_after" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after"])
    return JSONResponse(status_code=exc.status_code, content=exc.body(), headers=headers)


# Errors answered with a 4xx: the user's input or the state of the data, never a bug.
USER_ERROR_TYPES = (
    RequestValidationError,
    ValidationError,
    InvalidInput,
    DomainError,
    StaleDataError,
    IntegrityError,
)


def as_user_error(exc: Exception) -> DomainError | InvalidInput:
    """One of USER_ERROR_TYPES as the domain error or field errors the answer is made of."""
    if isinstance(exc, RequestValidationError):
        return InvalidInput(field_errors_from_pydantic(list(exc.errors())))
    if isinstance(exc, ValidationError):
        return InvalidInput(field_errors_from_pydantic(exc.errors(), prefix=("body",)))
    if isinstance(exc, StaleDataError):
        return Conflict(
            "The record was changed by someone else; reload and try again",
            "记录已被他人修改，请刷新后重试",
        )
    if isinstance(exc, IntegrityError):
        return Conflict("The data conflicts with an existing record", "数据与已有记录冲突")
    if isinstance(exc, DomainError | InvalidInput):
        return exc
    raise TypeError(f"not a user error: {type(exc).__name__}")


def error_response(exc: Exception) -> JSONResponse:
    """The JSON answer to one of USER_ERROR_TYPES."""
    error = as_user_error(exc)
    if isinstance(error, InvalidInput):
        return _validation_response(error.errors)
    return domain_response(error)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error a clear JSON body."""

    async def _answer(_: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    for kind in USER_ERROR_TYPES:
        app.add_exception_handler(kind, _answer)
