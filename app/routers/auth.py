"""Sign-in, tokens, accounts, interests and the audit log."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from app.deps import (
    AdminDep,
    PageDep,
    PathId,
    PrincipalDep,
    ReadSessionsDep,
    SessionDep,
    SettingsDep,
)
from app.repositories import audit as audit_repo
from app.repositories import users as user_repo
from app.schemas.auth import (
    AuditRead,
    InterestCreate,
    InterestRead,
    LoginIn,
    LoginRead,
    PersonalTokenCreate,
    SignupIn,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from app.schemas.common import Page
from app.services import auth as service
from app.services import interests
from app.services.auth import Principal

router = APIRouter(tags=["auth"])


def principal_read(p: Principal) -> UserRead:
    return UserRead.of(p, id=p.user_id)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/auth/login", summary="登录 / sign in")
def login(
    data: LoginIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    reader: ReadSessionsDep,
) -> LoginRead:
    """Exchange a username and password for a session token (429 after repeated failures).

    A known-device cookie from the console (`chainmatch_device`), sent along, keeps the account
    reachable while strangers' failed guesses have it limited.
    """
    device = request.cookies.get(service.DEVICE_COOKIE)
    token, row, user = service.login(
        session, settings, **data.model_dump(), ip=client_ip(request), reader=reader, device=device
    )
    return LoginRead(access_token=token, expires_at=row.expires_at, user=service.user_read(user))


@router.post(
    "/auth/signup", status_code=status.HTTP_201_CREATED, summary="中小企业注册账号 / SME sign-up"
)
def signup(
    data: SignupIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    reader: ReadSessionsDep,
) -> LoginRead:
    """An SME opens its own account and is signed in; it then registers its profile (POST /smes).

    Attempts per address are limited (429, as for logins), and a name that cannot be had gets
    one answer whether it is taken, reserved or a lookalike.
    """
    user = service.sme_signup(
        session, settings, **data.model_dump(), ip=client_ip(request), reader=reader
    )
    # The password was set just now: no second Argon2 check while the account is being written.
    token, row = service.start_session(session, settings, user)
    return LoginRead(access_token=token, expires_at=row.expires_at, user=service.user_read(user))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, summary="退出 / sign out")
def logout(principal: PrincipalDep, session: SessionDep) -> None:
    """Revoke the token this request came with."""
    if principal.token_id is not None:
        service.revoke(session, principal, principal.token_id)


@router.get("/auth/me", summary="当前用户 / who am I")
def me(principal: PrincipalDep) -> UserRead:
    return principal_read(principal)


@router.get("/auth/tokens", summary="我的令牌 / my tokens")
def my_tokens(principal: PrincipalDep, session: SessionDep) -> list[TokenRead]:
    """Active tokens of the caller (hashes are never shown)."""
    if principal.user_id is None:
        return []
    return [TokenRead.model_validate(t) for t in user_repo.tokens_of(session, principal.user_id)]


@router.post(
    "/auth/tokens", status_code=status.HTTP_201_CREATED, summary="创建个人令牌 / personal token"
)
def create_token(
    data: PersonalTokenCreate, principal: PrincipalDep, session: SessionDep
) -> TokenRead:
    """A personal API token for scripts; the token itself is shown only in this response."""
    token, row = service.create_personal_token(session, principal, data.name, data.days)
    return TokenRead.model_validate(row).model_copy(update={"token": token})


@router.delete(
    "/auth/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="注销令牌 / revoke"
)
def revoke_token(token_id: PathId, principal: PrincipalDep, session: SessionDep) -> None:
    service.revoke(session, principal, token_id)


@router.post("/users", status_code=status.HTTP_201_CREATED, summary="创建账号 / new account")
def create_user(data: UserCreate, session: SessionDep, _admin: AdminDep) -> UserRead:
    user = service.create_user(
        session,
        data.username,
        data.password,
        data.role,
        display_name=data.display_name,
        leader_id=data.leader_id,
        sme_id=data.sme_id,
    )
    return service.user_read(user)


@router.get("/users", summary="账号列表 / accounts")
def list_users(session: SessionDep, page: PageDep, _admin: AdminDep) -> Page[UserRead]:
    rows, total = user_repo.list_page(session, page.limit, page.offset)
    return page.page([service.user_read(u) for u in rows], total)


@router.patch("/users/{user_id}", summary="修改账号 / change an account")
def update_user(
    user_id: PathId, data: UserUpdate, session: SessionDep, _admin: AdminDep
) -> UserRead:
    """Role, binding, name, active flag or a new password (which ends its sessions)."""
    return service.user_read(
        service.update_user(session, user_id, data.model_dump(exclude_unset=True))
    )


@router.post(
    "/interests", status_code=status.HTTP_201_CREATED, summary="表达对接意向 / express interest"
)
def express_interest(
    data: InterestCreate, principal: PrincipalDep, session: SessionDep
) -> InterestRead:
    """A leader in an SME for one of its needs, or an SME in a need; both ways reveal contacts."""
    return interests.express(session, principal, data)


@router.get("/interests", summary="对接意向 / interests on my pairs")
def list_interests(principal: PrincipalDep, session: SessionDep) -> list[InterestRead]:
    return interests.list_for(session, principal)


@router.delete(
    "/interests/{interest_id}", status_code=status.HTTP_204_NO_CONTENT, summary="撤回意向"
)
def withdraw_interest(interest_id: PathId, principal: PrincipalDep, session: SessionDep) -> None:
    interests.withdraw(session, principal, interest_id)


@router.get("/audit", summary="操作日志 / audit log")
def audit_log(
    session: SessionDep,
    page: PageDep,
    _admin: AdminDep,
    entity: Annotated[str | None, Query(max_length=50)] = None,
    entity_id: Annotated[str | None, Query(max_length=100)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    since: datetime | None = None,
) -> Page[AuditRead]:
    """Every recorded write, newest first: who, what, when, before and after."""
    filters = audit_repo.AuditFilters(entity=entity, entity_id=entity_id, actor=actor, since=since)
    rows, total = audit_repo.page(session, filters, page.limit, page.offset)
    return page.page([AuditRead.model_validate(r) for r in rows], total)
