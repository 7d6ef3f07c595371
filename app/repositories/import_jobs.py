"""Queries on import jobs, including the claim that lets exactly one worker run a job."""

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, defer

from models import ImportJob, utcnow


def add(session: Session, job: ImportJob) -> ImportJob:
    """Store a new job (queued)."""
    session.add(job)
    session.flush()
    return job


def get(session: Session, job_id: int, with_content: bool = False) -> ImportJob | None:
    """One job; its uploaded content only when asked (it can be megabytes)."""
    options = [] if with_content else [defer(ImportJob.content)]
    return session.get(ImportJob, job_id, options=options)


def listing(session: Session, user_id: int | None, limit: int = 50) -> list[ImportJob]:
    """Newest jobs first: one account's, or everyone's (user_id None); without their uploads
    and id lists."""
    stmt = (
        select(ImportJob)
        .options(defer(ImportJob.content), defer(ImportJob.ids))
        .order_by(ImportJob.id.desc())
    )
    if user_id is not None:
        stmt = stmt.where(ImportJob.user_id == user_id)
    return list(session.scalars(stmt.limit(limit)))


def position(session: Session, job: ImportJob) -> int:
    """How many queued jobs run before this one."""
    return (
        session.scalar(
            select(func.count())
            .select_from(ImportJob)
            .where(ImportJob.status == "queued", ImportJob.id < job.id)
        )
        or 0
    )


def claim_next(session: Session, me: str) -> int | None:
    """Mark the oldest queued job running for `me`; None when the queue is empty.

    A conditional UPDATE (status still 'queued') decides between workers that picked the same
    job: exactly one sees its row changed, on SQLite and PostgreSQL alike.
    """
    for job_id in session.scalars(
        select(ImportJob.id).where(ImportJob.status == "queued").order_by(ImportJob.id).limit(5)
    ).all():
        result = session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.status == "queued")
            .values(
                status="running",
                claimed_by=me,
                started_at=utcnow(),
                attempts=ImportJob.attempts + 1,
            )
        )
        if result.rowcount == 1:
            return job_id
    return None


def requeue_stale(
    session: Session, before: datetime, max_attempts: int, errors: list[dict]
) -> tuple[int, int]:
    """Jobs left running by a worker that died: queue them again, or fail them (with `errors`)
    after `max_attempts`. Returns (queued again, failed). Writes nothing when none is stale:
    every worker asks at each poll, and on SQLite a write takes the database's lock."""
    stale = ImportJob.status == "running", ImportJob.started_at < before
    if session.scalar(select(ImportJob.id).where(*stale).limit(1)) is None:
        return 0, 0
    failed = session.execute(
        update(ImportJob)
        .where(*stale, ImportJob.attempts >= max_attempts)
        .values(status="failed", finished_at=utcnow(), errors=errors)
    ).rowcount
    queued = session.execute(
        update(ImportJob).where(*stale).values(status="queued", claimed_by="")
    ).rowcount
    return queued, failed
