"""Import jobs: bulk loads queued by the API and run apart from the requests that rank.

Why: an import of 10,000 rows takes a core for about 15-30 s. Inside an API process it holds
the interpreter lock against every ranking of that process (measured with bench/load.py: ranking
p99 from 0.4 s to 2.5 s while it ran). Queued, it runs in `chainmatch import-worker` (a process
of its own, at a lower priority) or, where no worker runs (CHAINMATCH_IMPORT_POLL_SECONDS > 0,
the embedded default), in a background thread of the API process. Either way the same service
functions run as for a synchronous import: all or nothing, every bad row reported, and the rows
and the job's `done` commit in one transaction.
"""

import json
import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import PurePath
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.errors import FieldError, InvalidInput, NotFound
from app.repositories import import_jobs as repo
from app.schemas.import_job import JOB_STATUS_LABELS, ImportJobRead
from app.services import demands, imports, smes
from app.services.auth import Principal
from app.services.matching import MatchingRuntime
from models import ImportJob, utcnow

log = logging.getLogger(__name__)

# A job running this long was left by a worker that died (10,000 rows take under a minute).
STALE_AFTER = timedelta(minutes=30)
MAX_ATTEMPTS = 3
FILE_FORMATS = (".xlsx", ".csv")
WORKER_LOST = FieldError(
    loc=(),
    msg="the import stopped before it finished; nothing was stored",
    msg_zh="导入未完成即中断，未保存任何数据，请重新提交",
    type="worker_lost",
)
INTERNAL_ERROR = FieldError(
    loc=(),
    msg="the import failed inside the service; nothing was stored",
    msg_zh="服务内部错误，未保存任何数据",
    type="internal_error",
)


def _read(session: Session, job: ImportJob, with_ids: bool = True) -> ImportJobRead:
    return ImportJobRead.of(
        job,
        status_label=JOB_STATUS_LABELS[job.status],
        queued_ahead=repo.position(session, job) if job.status == "queued" else 0,
        ids=list(job.ids or []) if with_ids else [],
        errors=list(job.errors or []),
    )


def _queue(session: Session, principal: Principal, **fields: Any) -> ImportJobRead:
    job = repo.add(
        session,
        ImportJob(
            user_id=principal.user_id,
            actor=principal.actor,
            size_bytes=len(fields["content"]),
            **fields,
        ),
    )
    return _read(session, job)


def submit_file(
    session: Session,
    principal: Principal,
    kind: str,
    filename: str,
    content: bytes,
    upsert: bool = False,
) -> ImportJobRead:
    """Queue a CSV or XLSX file (read and checked by the worker, as a synchronous import)."""
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in FILE_FORMATS:
        raise imports.file_error(
            "only .xlsx and .csv files can be imported", "仅支持导入 .xlsx 或 .csv 文件"
        )
    return _queue(
        session,
        principal,
        kind=kind,
        format=suffix[1:],
        filename=PurePath(filename).name[:255],
        upsert=upsert and kind == "smes",
        content=content,
    )


def submit_rows(
    session: Session,
    principal: Principal,
    kind: str,
    rows: list[Any],
    settings: Settings,
    upsert: bool = False,
) -> ImportJobRead:
    """Queue JSON rows (the bodies POST /smes or /demands takes), at most max_bulk_rows."""
    if len(rows) > settings.max_bulk_rows:
        raise InvalidInput.one(
            ("body",),
            f"at most {settings.max_bulk_rows} rows a job",
            f"每次最多导入 {settings.max_bulk_rows} 条",
        )
    content = json.dumps(rows, ensure_ascii=False).encode("utf-8")
    return _queue(
        session,
        principal,
        kind=kind,
        format="json",
        upsert=upsert and kind == "smes",
        content=content,
    )


def _visible(principal: Principal, job: ImportJob) -> bool:
    # Admins see every job; anyone else only their own (the rows and errors are theirs).
    return principal.role == "admin" or (
        principal.user_id is not None and job.user_id == principal.user_id
    )


def get(session: Session, principal: Principal, job_id: int) -> ImportJobRead:
    """One job its submitter (or an admin) may see; 404 otherwise."""
    job = repo.get(session, job_id)
    if job is None or not _visible(principal, job):
        raise NotFound(f"import job {job_id} not found", f"导入任务 {job_id} 不存在")
    return _read(session, job)


def listing(session: Session, principal: Principal, limit: int = 50) -> list[ImportJobRead]:
    """The caller's recent jobs (an admin's: everyone's), newest first; `ids` only in `get`."""
    user_id = None if principal.role == "admin" else principal.user_id
    if user_id is None and principal.role != "admin":
        return []
    return [_read(session, j, with_ids=False) for j in repo.listing(session, user_id, limit)]


def _execute(
    session: Session, job: ImportJob, settings: Settings, runtime: MatchingRuntime | None
) -> tuple[int, int, list[int]]:
    """Run the job's rows through the same service as a synchronous import."""
    if job.format == "json":
        rows = json.loads(job.content.decode("utf-8"))
        if job.kind == "smes":
            ids, updated = smes.bulk_upsert(session, rows, settings, runtime, upsert=job.upsert)
        else:
            ids, updated = demands.bulk_create(session, rows, settings, runtime), 0
        return len(ids) - updated, updated, ids
    if job.kind == "smes":
        result = imports.import_smes(
            session, job.filename, job.content, settings, runtime, upsert=job.upsert
        )
    else:
        result = imports.import_demands(session, job.filename, job.content, settings, runtime)
    return result.created, result.updated, result.ids


def _fail(factory: sessionmaker[Session], job_id: int, errors: list[dict]) -> None:
    with factory() as session:
        job = repo.get(session, job_id)
        if job is not None:
            job.status = "failed"
            job.errors = errors
            job.finished_at = utcnow()
            session.commit()


def run_next(
    factory: sessionmaker[Session],
    settings: Settings,
    runtime: MatchingRuntime | None,
    me: str,
    after_commit: Callable[[], None] | None = None,
) -> ImportJobRead | None:
    """Claim the oldest queued job and run it; what came of it, or None when none was queued.

    `runtime` records the change log and the encoding queue; `after_commit` (an API process's
    `runtime.after_commit`) applies the rows to this process's index at once.
    """
    with factory() as session:
        queued, failed = repo.requeue_stale(
            session, utcnow() - STALE_AFTER, MAX_ATTEMPTS, [WORKER_LOST.as_dict()]
        )
        if queued or failed:
            log.warning("import jobs left running: %d queued again, %d failed", queued, failed)
        job_id = repo.claim_next(session, me)
        session.commit()
    if job_id is None:
        return None
    try:
        with factory() as session:
            job = repo.get(session, job_id, with_content=True)
            session.info["actor"] = job.actor or "import-job"
            created, updated, ids = _execute(session, job, settings, runtime)
            job.status = "done"
            job.created, job.updated, job.ids = created, updated, ids
            job.finished_at = utcnow()
            # The rows are in their tables now; the upload is not kept twice.
            job.content = b""
            session.commit()
    except InvalidInput as exc:
        _fail(factory, job_id, [e.as_dict() for e in exc.errors])
    except Exception:
        log.exception("import job %d failed", job_id)
        _fail(factory, job_id, [INTERNAL_ERROR.as_dict()])
    else:
        if after_commit is not None:
            after_commit()
    with factory() as session:
        return _read(session, repo.get(session, job_id))


class ImportLoop:
    """Runs queued jobs in a background thread of an API process (no worker deployed)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        runtime: MatchingRuntime | None,
        me: str,
        poll_seconds: float,
    ) -> None:
        self.factory, self.settings, self.runtime, self.me = factory, settings, runtime, me
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start polling the queue."""
        self._thread = threading.Thread(target=self._run, name="import-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the job in hand (it commits or rolls back whole)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ran = run_next(
                    self.factory,
                    self.settings,
                    self.runtime,
                    self.me,
                    self.runtime.after_commit if self.runtime else None,
                )
            except Exception:  # pragma: no cover - keep polling through transient faults
                log.exception("import queue failed")
                ran = None
            if ran is None:
                self._stop.wait(self.poll_seconds)
