"""Import jobs: a bulk load run by a worker, and what came of it."""

from datetime import datetime
from typing import Any, Literal

from app.schemas.common import ReadSchema

ImportKind = Literal["smes", "demands"]
JobStatus = Literal["queued", "running", "done", "failed"]
JOB_STATUS_LABELS = {"queued": "排队中", "running": "导入中", "done": "已完成", "failed": "未导入"}


class ImportJobRead(ReadSchema):
    id: int
    kind: ImportKind
    format: Literal["json", "xlsx", "csv"]
    filename: str
    upsert: bool
    size_bytes: int
    status: JobStatus
    status_label: str
    # Queued jobs that run before this one (0 once it runs).
    queued_ahead: int = 0
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    created: int
    updated: int
    ids: list[int]
    # Every bad row (the 422 body's `detail` of a synchronous import); nothing was stored.
    errors: list[dict[str, Any]]
