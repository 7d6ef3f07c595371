"""Accounts and credentials: passwords, login sessions, personal tokens, the login rate limit."""

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.config import Settings
from app.db import write_at_end
from app.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from app.repositories import users as repo
from models import AuthToken, ChainLeader, LoginFailure, SmeProfile, User, utcnow

ROLES = ("admin", "organizer", "leader", "sme")
ROLE_LABELS = {
    "admin": "管理员",
    "organizer": "活动组织方",
    "leader": "链主企业",
    "sme": "中小企业",
}
TOKEN_PREFIX = "cm_"
_hasher = PasswordHasher()
# Verifying against this keeps an unknown username as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("chainmatch-dummy-password")


@dataclass(frozen=True)
class Principal:
    """Who is making a request, and which firm they speak for."""

    role: str
    user_id: int | None = None
    username: str = ""
    display_name: str = ""
    leader_id: int | None = None
    sme_id: int | None = None
    token_id: int | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return self.username or f"<{self.role}>"

    @property
    def is_staff(self) -> bool:
        """Admins and organizers read everything."""
        return self.role in ("admin", "organizer")

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


STATIC_ADMIN = Principal(role="admin", username="admin-token", display_name="管理员令牌")


# Argon2 takes tens of milliseconds on purpose: the functions below call it before their write
# transaction begins (or after a read), as on SQLite that transaction holds the write lock.


def hash_password(password: str) -> str:
    """The Argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches the stored hash (a malformed hash does not)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _principal(user: User, token_id: int | None = None) -> Principal:
    return Principal(
        role=user.role,
        user_id=user.id,
        username=user.username,
        display_name=user.display_name or user.username,
        leader_id=user.leader_id,
        sme_id=user.sme_id,
        token_id=token_id,
    )


def _check_password_rules(password: str) -> None:
    if len(password) < 8 or len(password) > 256:
        raise InvalidInput(
            [
                FieldError(
                    loc=("body", "password"),
                    msg="password must have 8 to 256 characters",
                    msg_zh="密码长度应为 8 至 256 个字符",
                    type="string_too_short",
                )
            ]
        )


def _check_binding(session: Session, role: str, leader_id: int | None, sme_id: int | None) -> None:
    """The role is known and the bound firm fits it and exists."""
    if role not in ROLES:
        raise InvalidInput(
            [FieldError(("body", "role"), f"role must be one of {ROLES}", "角色取值无效")]
        )
    errors = []
    if role == "leader" and leader_id is None:
        errors.append(
            FieldError(
                ("body", "leader_id"),
                "a leader account names its leader firm",
                "链主账号须绑定链主企业",
            )
        )
    if role != "leader" and leader_id is not None:
        errors.append(
            FieldError(
                ("body", "leader_id"),
                "only leader accounts bind a leader",
                "只有链主账号可绑定链主企业",
            )
        )
    if role != "sme" and sme_id is not None:
        errors.append(
            FieldError(
                ("body", "sme_id"),
                "only SME accounts bind an SME",
                "只有中小企业账号可绑定企业档案",
            )
        )
    if leader_id is not None and session.get(ChainLeader, leader_id) is None:
        errors.append(
            FieldError(
                ("body", "leader_id"),
                f"leader {leader_id} not found",
                f"链主企业 {leader_id} 不存在",
            )
        )
    if sme_id is not None and session.get(SmeProfile, sme_id) is None:
        errors.append(
            FieldError(
                ("body", "sme_id"),
                f"SME profile {sme_id} not found",
                f"中小企业档案 {sme_id} 不存在",
            )
        )
    if errors:
        raise InvalidInput(errors)


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str = "",
    leader_id: int | None = None,
    sme_id: int | None = None,
) -> User:
    """A new account; the username is unique regardless of case."""
    _check_password_rules(password)
    password_hash = hash_password(password)
    _check_binding(session, role, leader_id, sme_id)
    if repo.by_username(session, username) is not None:
        raise Conflict(f"username {username} is taken", f"用户名 {username} 已被使用")
    user = User(
        username=username,
        display_name=display_name,
        password_hash=password_hash,
        role=role,
        leader_id=leader_id,
        sme_id=sme_id,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, user_id: int) -> User:
    user = repo.get(session, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found", f"用户 {user_id} 不存在")
    return user


def update_user(session: Session, user_id: int, changes: dict) -> User:
    """Change role, binding, name, active flag or password; deactivating revokes its tokens."""
    new_hash = None
    if changes.get("password") is not None:
        _check_password_rules(changes["password"])
        new_hash = hash_password(changes["password"])
    user = get_user(session, user_id)
    role = changes.get("role", user.role)
    leader_id = changes.get("leader_id", user.leader_id)
    sme_id = changes.get("sme_id", user.sme_id)
    _check_binding(session, role, leader_id, sme_id)
    user.role, user.leader_id, user.sme_id = role, leader_id, sme_id
    if "display_name" in changes:
        user.display_name = changes["display_name"] or ""
    if new_hash is not None:
        user.password_hash = new_hash
        revoke_all(session, user.id)
    if "active" in changes and changes["active"] is not None:
        user.active = bool(changes["active"])
        if not user.active:
            revoke_all(session, user.id)
    session.flush()
    return user


def sme_signup(
    session: Session, settings: Settings, username: str, password: str, display_name: str = ""
) -> User:
    """An SME opens its own account, where the deployment allows it; then it adds its profile."""
    if not settings.sme_signup:
        raise Forbidden(
            "self sign-up is closed; ask the platform administrator for an account",
            "本平台未开放自助注册，请联系平台管理员开通账号",
        )
    return create_user(session, username, password, "sme", display_name=display_name)


def bind_sme(session: Session, user_id: int, sme_id: int) -> None:
    """An SME account that registers its profile becomes bound to it."""
    user = get_user(session, user_id)
    user.sme_id = sme_id
    session.flush()


def _issue(
    session: Session, user: User, kind: str, name: str, expires_at: datetime | None
) -> tuple[str, AuthToken]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = AuthToken(
        user_id=user.id,
        kind=kind,
        name=name,
        token_hash=hash_token(token),
        prefix=token[:10],
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return token, row


def _refuse_when_limited(
    session: Session, settings: Settings, username: str, ip: str, now: datetime
) -> None:
    """429 when this username or address failed too often within the window."""
    since = now - timedelta(seconds=settings.login_window_seconds)
    by_user, by_ip = repo.recent_failures(session, since, username, ip)
    if by_user >= settings.login_max_failures or by_ip >= settings.login_max_failures_per_ip:
        oldest = repo.oldest_failure(session, since, username) or now
        retry = max(1, int((oldest - since).total_seconds()))
        raise TooManyRequests(
            f"too many failed logins; try again in {retry} s",
            f"登录失败次数过多，请 {retry} 秒后再试",
            retry_after=retry,
        )


def start_session(
    session: Session, settings: Settings, user: User, now: datetime | None = None
) -> tuple[str, AuthToken]:
    """Open a login session token for a user whose password was just checked or set."""
    now = now or utcnow()
    user.last_login_at = now
    expires = now + timedelta(hours=settings.session_hours)
    return _issue(session, user, "session", "login", expires)


def login(
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    ip: str,
    reader: Callable[[], Session],
) -> tuple[str, AuthToken, User]:
    """Check a password and open a session token; too many failures are refused for a while."""
    now = utcnow()
    # Read what the check needs in a session that only reads (`reader`, see
    # app.db.make_read_session_factory) and verify outside any transaction: on SQLite the write
    # transaction of `session` holds the database's write lock until the request ends.
    with reader() as read:
        _refuse_when_limited(read, settings, username, ip, now)
        found = repo.by_username(read, username)
        user_id, seen_hash = (found.id, found.password_hash) if found else (None, None)
    # The dummy hash keeps an unknown username as slow as a wrong password.
    ok = verify_password(seen_hash or _DUMMY_HASH, password) and seen_hash is not None
    rehashed = hash_password(password) if ok and _hasher.check_needs_rehash(seen_hash) else None

    # Counted again in the write transaction: guesses that ran in parallel with this one may
    # have failed meanwhile, and their results stay unanswered past the limit.
    _refuse_when_limited(session, settings, username, ip, now)
    user = repo.get(session, user_id) if user_id is not None else None
    # A password changed since the read is not the one verified: refuse as a wrong one.
    if not ok or user is None or not user.active or user.password_hash != seen_hash:
        # The failure must be kept even though the request fails: the caller commits it.
        session.add(LoginFailure(username=username[:64], ip=ip[:64], at=now))
        session.info["commit_on_error"] = True
        raise Unauthorized("wrong username or password", "用户名或密码错误")
    if rehashed is not None:
        user.password_hash = rehashed
    token, row = start_session(session, settings, user, now)
    return token, row, user


def create_personal_token(
    session: Session, principal: Principal, name: str, days: int | None
) -> tuple[str, AuthToken]:
    """A long-lived token for scripts; shown once, stored only as a hash."""
    if principal.user_id is None:
        raise Conflict(
            "the static admin token cannot own tokens; sign in as a user",
            "静态管理令牌不能创建个人令牌，请以用户身份登录",
        )
    user = get_user(session, principal.user_id)
    expires = utcnow() + timedelta(days=days) if days else None
    return _issue(session, user, "personal", name, expires)


def revoke(session: Session, principal: Principal, token_id: int) -> None:
    """Revoke one of one's own tokens (admins: anyone's)."""
    row = session.get(AuthToken, token_id)
    if row is None or (principal.role != "admin" and row.user_id != principal.user_id):
        raise NotFound(f"token {token_id} not found", f"令牌 {token_id} 不存在")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    session.flush()


def revoke_all(session: Session, user_id: int) -> None:
    for row in repo.tokens_of(session, user_id):
        row.revoked_at = utcnow()


def authenticate(
    session: Session, settings: Settings, token: str, record_use_in: Session | None = None
) -> Principal:
    """The principal a bearer token stands for; 401 when it is unknown, expired or revoked.

    The token is looked up in `session`; its use is recorded at the end of the request whose
    session is `record_use_in` (default: `session`).
    """
    if settings.admin_token and hmac.compare_digest(
        token.encode("utf-8"), settings.admin_token.encode("utf-8")
    ):
        return STATIC_ADMIN
    found = (
        repo.token_by_hash(session, hash_token(token)) if token.startswith(TOKEN_PREFIX) else None
    )
    if found is None:
        raise Unauthorized("invalid token", "令牌无效，请重新登录")
    row, user = found
    now = utcnow()
    if row.revoked_at is not None:
        raise Unauthorized("the token was revoked", "令牌已注销，请重新登录")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("the token has expired", "登录已过期，请重新登录")
    if not user.active:
        raise Unauthorized("the account is disabled", "账号已停用")
    # Written at most once a minute: every request would otherwise be a write.
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        _record_use(record_use_in or session, row, now)
    return _principal(user, row.id)


def _record_use(session: Session, row: AuthToken, now: datetime) -> None:
    """Note a token's use; written when the request ends (app.db.write_at_end)."""
    token_id = row.id
    # The loaded row shows the new time in this response without becoming a pending write.
    set_committed_value(row, "last_used_at", now)

    def work(write: Session) -> None:
        write.execute(
            update(AuthToken).where(AuthToken.id == token_id).values(last_used_at=now),
            execution_options={"synchronize_session": False},
        )

    write_at_end(session, work)
