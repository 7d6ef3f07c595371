"""Accounts, tokens, interests and the audit log as the API takes and returns them."""

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints

from app.schemas.common import ReadSchema, Schema

USERNAME_MAX = 64
_USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{2,63}")
# How a username's skeleton is made from its key, in order: separators go, then the ASCII
# lookalikes fold together (rn/m, vv/w, 0/o, 1/i/l). Also run in SQL (app.repositories.users).
SKELETON_STEPS: tuple[tuple[str, str], ...] = (
    (".", ""),
    ("_", ""),
    ("-", ""),
    ("rn", "m"),
    ("vv", "w"),
    ("0", "o"),
    ("1", "l"),
    ("i", "l"),
)


def clean_username(raw: str) -> str:
    """A username as it is stored: NFKC (fullwidth forms become ASCII), surrounding blanks cut."""
    return unicodedata.normalize("NFKC", raw).strip()


def username_key(raw: str) -> str:
    """What identifies an account: NFKC + casefold, stripped; every lookup and count uses it."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).casefold())
    return folded.strip()[:USERNAME_MAX]


def username_skeleton(raw: str) -> str:
    """The form two usernames that look alike share ("Adm1n", "ad.min" and "admin": "admln")."""
    skeleton = username_key(raw)
    for old, new in SKELETON_STEPS:
        skeleton = skeleton.replace(old, new)
    return skeleton


def username_problem(name: str) -> tuple[str, str] | None:
    """Why `name` (as `clean_username` gives it) cannot be a new username: (en, zh), or None.

    The rule: 3 to 64 ASCII letters, digits and `. _ - @`, starting with a letter or a digit.
    Fullwidth forms are folded to ASCII first (NFKC); anything else outside ASCII is refused:
    other scripts' lookalikes (Cyrillic "а", Greek "α", Latin "ɑ"), invisible and direction
    characters. Case does not tell accounts apart (the key is casefolded), and a name whose
    skeleton (`username_skeleton`) equals an existing or reserved one's is refused by the
    service. Chinese names belong in `display_name`, which stays free text.
    """
    if _USERNAME_RE.fullmatch(name):
        return None
    return (
        "a username has 3 to 64 ASCII letters, digits or . _ - @ and starts with a letter or digit",
        "用户名只能使用英文字母、数字和 . _ - @（3 至 64 位），并以字母或数字开头；"
        "中文名称请填写在联系人姓名中",
    )


def _valid_username(raw: str) -> str:
    name = clean_username(raw)
    problem = username_problem(name)
    if problem is not None:
        en, zh = problem
        raise ValueError(f"{zh} / {en}")
    return name


Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=USERNAME_MAX),
    AfterValidator(_valid_username),
]
Password = Annotated[str, StringConstraints(strip_whitespace=False, min_length=8, max_length=256)]
Role = Literal["admin", "organizer", "leader", "sme"]
DbId = Annotated[int, Field(ge=1, le=2_147_483_647)]


class LoginIn(Schema):
    """Username and password."""

    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[
        str, StringConstraints(strip_whitespace=False, min_length=1, max_length=256)
    ]


class UserCreate(Schema):
    """A new account; leader and SME accounts name the firm they speak for."""

    username: Username
    password: Password
    role: Role
    display_name: Annotated[str, StringConstraints(max_length=100)] = ""
    leader_id: DbId | None = None
    sme_id: DbId | None = None


class SignupIn(Schema):
    """An SME's own account."""

    username: Username
    password: Password
    display_name: Annotated[str, StringConstraints(max_length=100)] = ""


class UserUpdate(Schema):
    """Changes an admin makes to an account; a new password or deactivation ends its sessions."""

    role: Role | None = None
    display_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    leader_id: DbId | None = None
    sme_id: DbId | None = None
    active: bool | None = None
    password: Password | None = None


class UserRead(ReadSchema):
    id: int | None
    username: str
    display_name: str
    role: str
    role_label: str
    leader_id: int | None
    sme_id: int | None
    active: bool = True


class LoginRead(ReadSchema):
    """A session token: send it as `Authorization: Bearer <access_token>`."""

    access_token: str
    token_type: str = "bearer"
    expires_at: datetime | None
    user: UserRead


class PersonalTokenCreate(Schema):
    """A token for scripts and automation."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    days: Annotated[int, Field(ge=1, le=3650)] | None = Field(
        default=365, description="有效天数，null 为长期 / days valid, null for no expiry"
    )


class TokenRead(ReadSchema):
    id: int
    kind: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    # Only in the response that creates it: the token is never shown again.
    token: str | None = None


class InterestCreate(Schema):
    """Interest in a pair about a need: a leader names the SME, an SME names the need."""

    demand_id: DbId
    sme_id: DbId | None = None
    note: Annotated[str, StringConstraints(max_length=500)] = ""


class InterestRead(ReadSchema):
    id: int
    side: str
    demand_id: int
    leader_id: int
    sme_id: int
    note: str
    created_at: datetime
    # Both sides have shown interest: contacts are visible to each other.
    mutual: bool


class AuditRead(ReadSchema):
    id: int
    at: datetime
    user_id: int | None
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request: str
