"""Accounts, tokens, interests and the audit log as the API takes and returns them."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from app.schemas.common import ReadSchema, Schema

Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=64, pattern=r"^[\w.@-]+$"),
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
