"""Accounts and credentials: passwords, login sessions, personal tokens, the login rate limit."""

import base64
import hashlib
import hmac
import ipaddress
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
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
    found,
)
from app.repositories import leaders as leader_repo
from app.repositories import smes as sme_repo
from app.repositories import users as repo
from app.schemas.auth import (
    SKELETON_STEPS,
    UserRead,
    clean_username,
    username_key,
    username_problem,
    username_skeleton,
)
from models import AuthToken, LoginFailure, User, utcnow

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

# The known-device cookie: set by a console sign-in, it lets its owner in while strangers'
# failures block the username (see _refuse_when_limited).
DEVICE_COOKIE = "chainmatch_device"
DEVICE_DAYS = 180
# Failures of one username from all addresses, as a multiple of settings.login_max_failures,
# before devices that never signed in are refused: bounds guessing spread over many addresses.
ACCOUNT_FAILURE_FACTOR = 20
# Sign-up attempts that reach the name check, per address within settings.login_window_seconds:
# each attempt tells whether a name is free, so this bounds probing for accounts.
SIGNUP_MAX_ATTEMPTS_PER_IP = 20
# Sources a LoginFailure row is counted against besides a client address.
_DEVICE_SOURCE = "device:"
# Names nobody takes by signing up (nor anything that looks like them): they read as official.
RESERVED_USERNAMES = frozenset(
    {
        "admin",
        "administrator",
        "root",
        "system",
        "sysadmin",
        "superuser",
        "support",
        "security",
        "staff",
        "official",
        "organizer",
        "operator",
        "moderator",
        "service",
        "helpdesk",
        "webmaster",
        "postmaster",
        "noreply",
        "chainmatch",
        "lianpei",
        "guanliyuan",
        "kefu",
    }
)
_RESERVED_SKELETONS = frozenset(username_skeleton(name) for name in RESERVED_USERNAMES)


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
        raise InvalidInput.one(
            ("body", "password"),
            "password must have 8 to 256 characters",
            "密码长度应为 8 至 256 个字符",
            type="string_too_short",
        )


def _check_binding(session: Session, role: str, leader_id: int | None, sme_id: int | None) -> None:
    """The role is known and the bound firm fits it and exists."""
    if role not in ROLES:
        raise InvalidInput.one(("body", "role"), f"role must be one of {ROLES}", "角色取值无效")
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
    if leader_id is not None and leader_repo.get(session, leader_id, include_deleted=True) is None:
        errors.append(
            FieldError(
                ("body", "leader_id"),
                f"leader {leader_id} not found",
                f"链主企业 {leader_id} 不存在",
            )
        )
    if sme_id is not None and sme_repo.get(session, sme_id, include_deleted=True) is None:
        errors.append(
            FieldError(
                ("body", "sme_id"),
                f"SME profile {sme_id} not found",
                f"中小企业档案 {sme_id} 不存在",
            )
        )
    if errors:
        raise InvalidInput(errors)


def _checked_name(username: str) -> str:
    """The username to store, or a 422 when it breaks the rule (app.schemas.auth)."""
    name = clean_username(username)
    problem = username_problem(name)
    if problem is not None:
        raise InvalidInput.one(("body", "username"), *problem)
    return name


def find_user(session: Session, username: str) -> User | None:
    """The account a typed username names: same NFKC-casefolded key (the oldest on a tie)."""
    key = username_key(username)
    for user in repo.username_candidates(session, key):
        if username_key(user.username) == key:
            return user
    return None


def _similar_user(session: Session, name: str) -> User | None:
    """An account named `name` (in any spelling), else one whose name looks like it."""
    key, skeleton = username_key(name), username_skeleton(name)
    rows = repo.username_candidates(session, key, skeleton, SKELETON_STEPS)
    same = next((u for u in rows if username_key(u.username) == key), None)
    return same or next((u for u in rows if username_skeleton(u.username) == skeleton), None)


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
    """A new account made by an admin; no two usernames are the same or look alike.

    The username is stored as typed after NFKC (so "Li.Ming" shows as such) and identified by
    its casefolded key; see app.schemas.auth.username_problem for the rule.
    """
    name = _checked_name(username)
    _check_password_rules(password)
    password_hash = hash_password(password)
    _check_binding(session, role, leader_id, sme_id)
    similar = _similar_user(session, name)
    if similar is not None and username_key(similar.username) == username_key(name):
        raise Conflict(f"username {name} is taken", f"用户名 {name} 已被使用")
    if similar is not None:
        raise Conflict(
            f"username {name} looks like the existing account {similar.username}",
            f"用户名 {name} 与已有账号 {similar.username} 过于相似，请换一个",
        )
    return _insert_user(
        session,
        name,
        password_hash,
        role,
        display_name=display_name,
        leader_id=leader_id,
        sme_id=sme_id,
    )


def _insert_user(
    session: Session, name: str, password_hash: str, role: str, **binding: str | int | None
) -> User:
    """Store a new account; `binding`: its display name and the firm it speaks for, if any."""
    user = User(username=name, password_hash=password_hash, role=role, **binding)
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, user_id: int) -> User:
    missing = NotFound(f"user {user_id} not found", f"用户 {user_id} 不存在")
    return found(repo.get(session, user_id), missing)


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
        # An admin's reset lifts the lockout; the new hash also retires its known devices.
        repo.clear_failures(session, username_key(user.username))
    if "active" in changes and changes["active"] is not None:
        user.active = bool(changes["active"])
        if not user.active:
            revoke_all(session, user.id)
    session.flush()
    return user


def sme_signup(
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    display_name: str = "",
    *,
    ip: str,
    reader: Callable[[], Session],
) -> User:
    """An SME opens its own account, where the deployment allows it; then it adds its profile.

    A sign-up must say when a name cannot be had, so it can be used to probe for accounts; as
    public services do, the probing is bounded instead: SIGNUP_MAX_ATTEMPTS_PER_IP attempts
    that reach the name check (accepted or not) per address and window, then the 429 of a
    limited login. The refusal is one answer for a taken name, a reserved one and a lookalike
    of either, so it does not even confirm that an account exists.
    """
    if not settings.sme_signup:
        raise Forbidden(
            "self sign-up is closed; ask the platform administrator for an account",
            "本平台未开放自助注册，请联系平台管理员开通账号",
        )
    name = _checked_name(username)
    _check_password_rules(password)
    now = utcnow()
    source = (repo.SIGNUP_SOURCE_PREFIX + client_address(ip))[:64]
    # Read apart from the write transaction, which on SQLite holds the write lock: Argon2 runs
    # between the two (see `login`).
    with reader() as read:
        _refuse_signup_when_limited(read, settings, source, now)
    password_hash = hash_password(password)
    _refuse_signup_when_limited(session, settings, source, now)
    session.add(LoginFailure(username=username_key(name), ip=source, at=now))
    if _similar_user(session, name) is not None or username_skeleton(name) in _RESERVED_SKELETONS:
        # The attempt is kept although the request fails: the caller commits it.
        session.info["commit_on_error"] = True
        raise Conflict(
            "this username cannot be registered; choose another one",
            "该用户名无法注册，请换一个用户名",
        )
    return _insert_user(session, name, password_hash, "sme", display_name=display_name)


def _refuse_signup_when_limited(
    session: Session, settings: Settings, source: str, now: datetime
) -> None:
    """429 when this address made SIGNUP_MAX_ATTEMPTS_PER_IP sign-up attempts in the window."""
    retry = _retry_after(session, settings, now, SIGNUP_MAX_ATTEMPTS_PER_IP, None, source)
    if retry is not None:
        raise TooManyRequests(
            f"too many sign-up attempts from this address; try again in {retry} s",
            f"注册尝试次数过多，请 {retry} 秒后再试",
            retry_after=retry,
        )


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


def _retry_after(
    session: Session,
    settings: Settings,
    now: datetime,
    limit: int,
    username: str | None,
    source: str | None,
) -> int | None:
    """Seconds until a full bucket of failures has room again; None while it has room."""
    since = now - timedelta(seconds=settings.login_window_seconds)
    count = repo.count_failures(session, since, username, source)
    if count < limit:
        return None
    # Room comes back when the failure that put the count at the limit leaves the window.
    at = repo.nth_failure_at(session, since, count - limit, username, source) or now
    return max(1, math.ceil((at - since).total_seconds()))


def client_address(ip: str) -> str:
    """The address rate limits count against: an IPv6 client's /64 network, an IPv4 as is."""
    # One host usually holds a whole IPv6 /64: rotating addresses inside it must gain nothing.
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _source(ip: str, device_id: str | None) -> str:
    """What a failure is counted against: the known device, else the client address."""
    return (_DEVICE_SOURCE + device_id if device_id else client_address(ip))[:64]


def _refuse_when_limited(
    session: Session, settings: Settings, key: str, ip: str, device_id: str | None, now: datetime
) -> None:
    """429 while a bucket of failures this attempt falls in is full.

    From a known device (a valid DEVICE_COOKIE of this account) only that device's own failures
    count, `login_max_failures` of them: nothing done elsewhere keeps the owner out. Otherwise
    three bounds apply: `login_max_failures` per (username, address), so that one attacker's
    guesses block only the attacker's address; `login_max_failures_per_ip` per address, over
    all usernames; and ACCOUNT_FAILURE_FACTOR times `login_max_failures` per username from all
    addresses, so that guessing spread over many addresses stays bounded too. Only the last
    one refuses the owner on a new device, and only while such a run lasts; its message says
    how to get in. Unknown usernames are counted alike: a 429 says nothing about an account.
    """
    limit = settings.login_max_failures
    source = _source(ip, device_id)
    if device_id is not None:
        buckets = [(None, source, limit, False)]
    else:
        buckets = [
            (key, source, limit, False),
            (None, source, settings.login_max_failures_per_ip, False),
            (key, None, limit * ACCOUNT_FAILURE_FACTOR, True),
        ]
    retry, by_account = 0, False
    for username, bucket_source, bucket_limit, account_wide in buckets:
        wait = _retry_after(session, settings, now, bucket_limit, username, bucket_source)
        if wait is not None and wait > retry:
            retry, by_account = wait, account_wide
    if retry and by_account:
        raise TooManyRequests(
            "too many failed logins for this username from many addresses; sign in on a device "
            f"that signed in before, or try again in {retry} s",
            "该用户名近期在多处登录失败次数过多：请在曾成功登录过的设备上登录，"
            f"或 {retry} 秒后再试",
            retry_after=retry,
        )
    if retry:
        raise TooManyRequests(
            f"too many failed logins; try again in {retry} s",
            f"登录失败次数过多，请 {retry} 秒后再试",
            retry_after=retry,
        )


def device_cookie(user: User, now: datetime | None = None) -> str:
    """The known-device cookie for a user who just proved the password on this device."""
    payload = f"{user.id}.{int((now or utcnow()).timestamp())}"
    return f"{payload}.{_device_mac(user.password_hash, payload)}"


def _device_mac(password_hash: str, payload: str) -> str:
    # Keyed by the password hash, which only the server knows: a new password (or a rehash)
    # retires every known device, and no extra secret must be shared between processes.
    key = hashlib.sha256(b"chainmatch known device\x00" + password_hash.encode("utf-8")).digest()
    digest = hmac.new(key, payload.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def _known_device(
    user_id: int, password_hash: str, cookie: str | None, now: datetime
) -> str | None:
    """The id of the device behind a valid cookie of this account, else None."""
    if not cookie or len(cookie) > 100:
        return None
    parts = cookie.split(".")
    if len(parts) != 3 or parts[0] != str(user_id):
        return None
    issued = parts[1]
    if not (issued.isascii() and issued.isdigit()):
        return None
    age = now.timestamp() - int(issued)
    # A minute of clock difference between processes is tolerated.
    if not -60 <= age <= DEVICE_DAYS * 86400:
        return None
    expected = _device_mac(password_hash, f"{parts[0]}.{issued}")
    if not hmac.compare_digest(expected.encode("ascii"), parts[2].encode("utf-8")):
        return None
    return parts[2][:16]


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
    device: str | None = None,
) -> tuple[str, AuthToken, User]:
    """Check a password and open a session token; too many failures are refused for a while.

    Every spelling of a username (case, fullwidth forms, the Kelvin sign...) names one account
    and counts its failures under one key; `device` is the caller's DEVICE_COOKIE, if any.
    """
    now = utcnow()
    key = username_key(username)
    # Read what the check needs in a session that only reads (`reader`, see
    # app.db.make_read_session_factory) and verify outside any transaction: on SQLite the write
    # transaction of `session` holds the database's write lock until the request ends.
    with reader() as read:
        found = find_user(read, key)
        user_id, seen_hash = (found.id, found.password_hash) if found else (None, None)
        device_id = (
            _known_device(found.id, found.password_hash, device, now) if found and device else None
        )
        _refuse_when_limited(read, settings, key, ip, device_id, now)
    # The dummy hash keeps an unknown username as slow as a wrong password.
    ok = verify_password(seen_hash or _DUMMY_HASH, password) and seen_hash is not None
    rehashed = hash_password(password) if ok and _hasher.check_needs_rehash(seen_hash) else None

    # Counted again in the write transaction: guesses that ran in parallel with this one may
    # have failed meanwhile, and their results stay unanswered past the limit.
    _refuse_when_limited(session, settings, key, ip, device_id, now)
    user = repo.get(session, user_id) if user_id is not None else None
    # A password changed since the read is not the one verified: refuse as a wrong one.
    if not ok or user is None or not user.active or user.password_hash != seen_hash:
        # The failure must be kept even though the request fails: the caller commits it.
        session.add(LoginFailure(username=key, ip=_source(ip, device_id), at=now))
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
    row = repo.token(session, token_id)
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
        repo.record_token_use(write, token_id, now)

    write_at_end(session, work)


def user_read(user: User) -> UserRead:
    """An account as the API shows it."""
    return UserRead.of(user, role_label=ROLE_LABELS[user.role])
