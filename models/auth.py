"""Accounts, tokens, login failures, mutual interest and the audit log."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TimestampMixin, UtcDateTime, utcnow


class User(TimestampMixin, Base):
    """A person who signs in: admin, organizer, or bound to a leader firm or an SME."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    # admin | organizer | leader | sme
    role: Mapped[str] = mapped_column(String(20), index=True)
    leader_id: Mapped[int | None] = mapped_column(
        ForeignKey("chain_leaders.id", ondelete="SET NULL"), index=True
    )
    sme_id: Mapped[int | None] = mapped_column(
        ForeignKey("sme_profiles.id", ondelete="SET NULL"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuthToken(Base):
    """A bearer token: a login session or a personal API token; only its hash is stored."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # session | personal
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so a person can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class LoginFailure(Base):
    """A failed password login, counted for the rate limit."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    ip: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class Interest(Base):
    """One side's interest in a leader-SME pair about a need; both sides reveal contacts."""

    __tablename__ = "interests"
    __table_args__ = (UniqueConstraint("side", "demand_id", "sme_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # leader | sme
    side: Mapped[str] = mapped_column(String(10))
    demand_id: Mapped[int] = mapped_column(ForeignKey("demands.id", ondelete="CASCADE"))
    leader_id: Mapped[int] = mapped_column(
        ForeignKey("chain_leaders.id", ondelete="CASCADE"), index=True
    )
    sme_id: Mapped[int] = mapped_column(
        ForeignKey("sme_profiles.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AuditEntry(Base):
    """One recorded write: who, what, when, the values before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    # No foreign key: the record outlives the account.
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    # create | update | delete
    action: Mapped[str] = mapped_column(String(10))
    entity: Mapped[str] = mapped_column(String(50), index=True)
    entity_id: Mapped[str] = mapped_column(String(100), index=True)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    request: Mapped[str] = mapped_column(String(300), default="")
