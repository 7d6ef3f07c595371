"""Learning from use: what people did with the matches (labels), and applied fusion weights."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TimestampMixin, UtcDateTime, utcnow


class MatchFeedback(TimestampMixin, Base):
    """One signal on a (need, SME) pair, graded 0-3 like the labelled sets.

    One row per (need, SME, source); when the need is not known (a meeting request between a
    leader and an SME at an event) per (leader, SME, source) with `demand_id` NULL. A repeated
    signal updates its row. The grades are in app/services/feedback.py (LABELS).
    """

    __tablename__ = "match_feedback"
    __table_args__ = (
        UniqueConstraint("demand_id", "sme_id", "source"),
        CheckConstraint("label BETWEEN 0 AND 3", name="label_grade"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int | None] = mapped_column(
        ForeignKey("demands.id", ondelete="CASCADE"), index=True
    )
    leader_id: Mapped[int | None] = mapped_column(
        ForeignKey("chain_leaders.id", ondelete="CASCADE"), index=True
    )
    sme_id: Mapped[int] = mapped_column(
        ForeignKey("sme_profiles.id", ondelete="CASCADE"), index=True
    )
    # shortlist | interest | meeting_request | meeting_accepted | meeting_declined | outcome
    source: Mapped[str] = mapped_column(String(20))
    label: Mapped[int] = mapped_column(Integer)
    # What the grade was read from, e.g. the outcome level or the event.
    detail: Mapped[str] = mapped_column(String(100), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class RankingWeights(Base):
    """A set of fusion weights applied to the matcher; at most one row is active."""

    __tablename__ = "ranking_weights"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    weights: Mapped[dict] = mapped_column(JSON)
    # feedback (chainmatch tune --from-feedback), ...
    source: Mapped[str] = mapped_column(String(50))
    # The figures shown before it was applied (held-out nDCG@10 before and after, counts).
    report: Mapped[dict] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
