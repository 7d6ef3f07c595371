"""FastAPI dependencies shared by the routers."""

import re
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import SAFE_METHODS, get_session
from app.errors import Forbidden, InvalidInput, Unauthorized
from app.schemas.common import Page
from app.services import auth
from app.services.auth import Principal
from app.services.matching import MatchingRuntime

T = TypeVar("T")

# Function scope: the commit happens before the response is sent, so a failed commit is an error
# response, not a lost write behind a 201.
# Database ids are 32-bit: larger numbers are refused as input errors, not overflow crashes.
MAX_ID = 2_147_483_647
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]

SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_read_session_factory(request: Request) -> sessionmaker[Session]:
    """Sessions that only read, apart from the request's (on SQLite they take no write lock)."""
    return request.app.state.read_session_factory


ReadSessionsDep = Annotated[sessionmaker[Session], Depends(get_read_session_factory)]


def get_settings(request: Request) -> Settings:
    """The settings the app was started with."""
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


@dataclass
class PageParams:
    limit: int
    offset: int

    def page(self, items: list[T], total: int) -> Page[T]:
        """This page of a list whose `total` rows match."""
        return Page(items=items, total=total, limit=self.limit, offset=self.offset)


def page_params(
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="每页条数 / page size")] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="偏移 / offset")] = 0,
) -> PageParams:
    """Pagination, capped at the configured page size."""
    return PageParams(limit=min(limit, settings.max_page_size), offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')


def if_match(
    value: Annotated[
        str | None,
        Header(alias="If-Match", description="记录版本号 / expected record version"),
    ] = None,
) -> int | None:
    """The record version a client edited, from an If-Match header."""
    if value is None or value.strip() == "*":
        return None
    match = _ETAG.match(value)
    if not match:
        raise InvalidInput.one(
            ("header", "If-Match"),
            'If-Match must carry the record version, e.g. "3"',
            'If-Match 应为记录版本号，例如 "3"',
        )
    return int(match.group(1))


IfMatchDep = Annotated[int | None, Depends(if_match)]


def get_index(request: Request) -> MatchingRuntime:
    """The process's matcher runtime."""
    return request.app.state.matching


IndexDep = Annotated[MatchingRuntime, Depends(get_index)]


SESSION_COOKIE = "chainmatch_session"


def _bearer(request: Request) -> str | None:
    """The token of a request: the bearer header, else the session cookie."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized(
                "send 'Authorization: Bearer <token>'", "请使用 Authorization: Bearer <令牌> 认证"
            )
        return value.strip()
    return request.cookies.get(SESSION_COOKIE) or None


def optional_principal(
    request: Request, session: SessionDep, settings: SettingsDep, reader: ReadSessionsDep
) -> Principal | None:
    """Who is calling, or None for an anonymous request; bad credentials are a 401."""
    token = _bearer(request)
    if token is None:
        return None
    if request.method in SAFE_METHODS or reader is request.app.state.session_factory:
        # A read, or a database whose readers never wait for a writer (PostgreSQL).
        principal = auth.authenticate(session, settings, token)
    else:
        # Looked up apart from the request's transaction, which on SQLite holds the write lock
        # from its first statement on: a handler can still hash a password before it begins.
        with reader() as read:
            principal = auth.authenticate(read, settings, token, record_use_in=session)
    return bind_principal(request, session, principal)


def bind_principal(request: Request, session: Session, principal: Principal) -> Principal:
    """Name the caller for the audit log.

    A write a browser sends from another site never gets here: app.guards refuses it first.
    """
    session.info["principal"] = principal
    session.info["request"] = f"{request.method} {request.url.path}"
    return principal


_BEARER_SCHEME = HTTPBearer(auto_error=False, description="POST /api/v1/auth/login 获取令牌")


def require_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
    # Declares the bearer scheme in OpenAPI (the Authorize button of /docs); read above.
    _scheme: Annotated[object, Depends(_BEARER_SCHEME)] = None,
) -> Principal:
    """A signed-in caller; 401 otherwise."""
    if principal is None:
        raise Unauthorized(
            "sign in first: send a bearer token (POST /api/v1/auth/login)",
            "请先登录：请求需携带令牌（POST /api/v1/auth/login）",
        )
    return principal


OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]


def require_roles(*roles: str):
    """A dependency that admits only the given roles (admins always)."""
    allowed = set(roles) | {"admin"}
    labels = "、".join(auth.ROLE_LABELS[r] for r in sorted(allowed))

    def check(principal: PrincipalDep) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(
                f"this needs one of the roles: {', '.join(sorted(allowed))}",
                f"无权操作：需要以下角色之一：{labels}",
            )
        return principal

    return check


StaffDep = Annotated[Principal, Depends(require_roles("organizer"))]
AdminDep = Annotated[Principal, Depends(require_roles("admin"))]
