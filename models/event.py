"""Docking events (专场对接): participants, pair preferences, meetings and their outcomes."""

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin, UtcDateTime, VersionedMixin


class Event(VersionedMixin, Base):
    """A docking event: a day of short 1:1 meetings in slots x tables."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    chains: Mapped[list] = mapped_column(default=list)
    event_date: Mapped[date] = mapped_column(Date, index=True)
    venue: Mapped[str] = mapped_column(String(200), default="")
    organizer: Mapped[str] = mapped_column(String(200), default="")
    start_time: Mapped[str] = mapped_column(String(5), default="09:00")
    meeting_minutes: Mapped[int] = mapped_column(Integer, default=20)
    # Minutes between two meetings (changeover).
    gap_minutes: Mapped[int] = mapped_column(Integer, default=5)
    slot_count: Mapped[int] = mapped_column(Integer, default=12)
    # [{"start": "12:00", "end": "13:30", "title": "午餐"}]: no meeting overlaps a break.
    breaks: Mapped[list] = mapped_column(default=list)
    tables: Mapped[int] = mapped_column(Integer, default=10)
    leader_fixed_table: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default="planning")
    notes: Mapped[str] = mapped_column(Text, default="")

    participants: Mapped[list["EventParticipant"]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="EventParticipant.id"
    )


class EventParticipant(TimestampMixin, Base):
    """A leader (with the needs it brings) or an invited SME at an event."""

    __tablename__ = "event_participants"
    __table_args__ = (
        UniqueConstraint("event_id", "leader_id"),
        UniqueConstraint("event_id", "sme_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    leader_id: Mapped[int | None] = mapped_column(
        ForeignKey("chain_leaders.id", ondelete="CASCADE")
    )
    sme_id: Mapped[int | None] = mapped_column(ForeignKey("sme_profiles.id", ondelete="CASCADE"))
    # Needs a leader brings (ids); empty means all its open needs.
    demand_ids: Mapped[list] = mapped_column(default=list)
    cap: Mapped[int | None] = mapped_column(Integer)
    unavailable_slots: Mapped[list] = mapped_column(default=list)

    event: Mapped[Event] = relationship(back_populates="participants")


class EventPair(TimestampMixin, Base):
    """Both sides' marks on a leader-SME pair, and a meeting request between them."""

    __tablename__ = "event_pairs"
    __table_args__ = (UniqueConstraint("event_id", "leader_id", "sme_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("chain_leaders.id", ondelete="CASCADE"))
    sme_id: Mapped[int] = mapped_column(ForeignKey("sme_profiles.id", ondelete="CASCADE"))
    # must | no | neutral
    leader_mark: Mapped[str] = mapped_column(String(10), default="neutral")
    sme_mark: Mapped[str] = mapped_column(String(10), default="neutral")
    # leader | sme | None; status: pending | accepted | declined
    requested_by: Mapped[str | None] = mapped_column(String(10))
    request_status: Mapped[str | None] = mapped_column(String(10))


class Meeting(VersionedMixin, Base):
    """A 1:1 meeting of an event, its place in the grid and its outcome."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("chain_leaders.id", ondelete="CASCADE"))
    sme_id: Mapped[int] = mapped_column(ForeignKey("sme_profiles.id", ondelete="CASCADE"))
    demand_id: Mapped[int | None] = mapped_column(ForeignKey("demands.id", ondelete="SET NULL"))
    quality: Mapped[float] = mapped_column(Float, default=0.0)
    must: Mapped[bool] = mapped_column(Boolean, default=False)
    slot: Mapped[int | None] = mapped_column(Integer)
    table_no: Mapped[int | None] = mapped_column(Integer)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    # planned | cancelled
    status: Mapped[str] = mapped_column(String(20), default="planned")
    # None until recorded; then held or a no-show
    held: Mapped[bool | None] = mapped_column(Boolean)
    # none | valuable | negotiating | intention | signed
    outcome: Mapped[str | None] = mapped_column(String(20))
    amount: Mapped[float | None] = mapped_column(Float)
    outcome_note: Mapped[str] = mapped_column(Text, default="")
    outcome_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
