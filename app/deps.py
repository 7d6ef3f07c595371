"""FastAPI dependencies shared by the routers."""

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import get_session
from app.errors import FieldError, InvalidInput
from app.services.matching import MatchingRuntime

# Function scope: the commit happens before the response is sent, so a failed commit is an error
# response, not a lost write behind a 201.
# Database ids are 32-bit: larger numbers are refused as input errors, not overflow crashes.
MAX_ID = 2_147_483_647
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]

SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_settings(request: Request) -> Settings:
    """The settings the app was started with."""
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


@dataclass
class PageParams:
    limit: int
    offset: int


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
        raise InvalidInput(
            [
                FieldError(
                    loc=("header", "If-Match"),
                    msg='If-Match must carry the record version, e.g. "3"',
                    msg_zh='If-Match 应为记录版本号，例如 "3"',
                )
            ]
        )
    return int(match.group(1))


IfMatchDep = Annotated[int | None, Depends(if_match)]


def get_index(request: Request) -> MatchingRuntime:
    """The process's matcher runtime."""
    return request.app.state.matching


IndexDep = Annotated[MatchingRuntime, Depends(get_index)]
