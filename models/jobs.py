"""Import jobs: a bulk load queued by the API and run by a worker, in a transaction of its own."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TimestampMixin, UtcDateTime


class ImportJob(TimestampMixin, Base):
    """One bulk load (a file or JSON rows), all or nothing, with its outcome.

    queued -> running -> done | failed. The rows and the job's `done` commit together, so a
    worker that dies mid-way leaves the job `running` with nothing stored; it is queued again
    after a while (app/services/import_jobs.py).
    """

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # smes | demands
    kind: Mapped[str] = mapped_column(String(10))
    # json (a list of API create bodies) | xlsx | csv
    format: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str] = mapped_column(String(255), default="")
    upsert: Mapped[bool] = mapped_column(Boolean, default=False)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    # queued | running | done | failed
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    actor: Mapped[str] = mapped_column(String(100), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    ids: Mapped[list] = mapped_column(JSON, default=list)
    # FieldError.as_dict() of every bad row, or one entry for a job that could not run.
    errors: Mapped[list] = mapped_column(JSON, default=list)
