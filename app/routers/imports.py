"""Bulk import from CSV or XLSX files, and their templates."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Response, UploadFile, status

from app.deps import IndexDep, PathId, PrincipalDep, SessionDep, SettingsDep, require_roles
from app.schemas.import_job import ImportJobRead, ImportKind
from app.services import import_jobs
from app.services import imports as service

router = APIRouter(
    prefix="/import", tags=["import"], dependencies=[Depends(require_roles("organizer"))]
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KINDS = {"smes": service.SME_COLUMNS, "demands": service.DEMAND_COLUMNS}


@router.get("/{kind}/template", summary="下载导入模板 / import template")
def template(
    kind: Literal["smes", "demands"],
    format: Annotated[Literal["xlsx", "csv"], Query()] = "xlsx",
) -> Response:
    """An empty file with the Chinese headers and one example row."""
    media = XLSX if format == "xlsx" else "text/csv; charset=utf-8"
    return Response(
        service.template(KINDS[kind], format),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{kind}-template.{format}"'},
    )


def _read(file: UploadFile, limit: int) -> bytes:
    # Sync handlers run in the thread pool, so parsing a large file never blocks the event loop.
    content = file.file.read(limit + 1)
    if len(content) > limit:
        raise service.file_error(
            f"file over {limit} bytes", f"文件超过 {limit // (1024 * 1024)} MB 上限"
        )
    return content


@router.post("/smes", status_code=status.HTTP_201_CREATED, summary="导入中小企业 / import SMEs")
def import_smes(
    file: UploadFile,
    session: SessionDep,
    settings: SettingsDep,
    index: IndexDep,
    mode: Annotated[
        Literal["insert", "upsert"],
        Query(description="upsert: 信用代码已登记的行更新原档案 / update by credit code"),
    ] = "insert",
) -> dict:
    """All or nothing: 201 with counts, or 422 listing every bad row and column."""
    content = _read(file, settings.max_body_bytes)
    result = service.import_smes(
        session, file.filename or "", content, settings, index, upsert=mode == "upsert"
    )
    return {"created": result.created, "updated": result.updated, "ids": result.ids}


@router.post("/demands", status_code=status.HTTP_201_CREATED, summary="导入需求 / import needs")
def import_demands(
    file: UploadFile, session: SessionDep, settings: SettingsDep, index: IndexDep
) -> dict:
    """All or nothing: 201 with counts, or 422 listing every bad row and column.

    Each row names its leader by 链主编号 (leader number), 链主信用代码 (credit code), or a
    链主企业 name that exactly one registered leader has.
    """
    content = _read(file, settings.max_body_bytes)
    result = service.import_demands(session, file.filename or "", content, settings, index)
    return {"created": result.created, "updated": result.updated, "ids": result.ids}


def _accepted(response: Response, job: ImportJobRead) -> ImportJobRead:
    response.headers["Location"] = f"/api/v1/import/jobs/{job.id}"
    return job


UpsertMode = Annotated[
    Literal["insert", "upsert"],
    Query(description="upsert: 信用代码已登记的行更新原档案(仅中小企业) / update by credit code"),
]


@router.post(
    "/jobs/{kind}",
    status_code=status.HTTP_202_ACCEPTED,
    summary="提交导入任务(文件) / queue a file import",
)
def submit_file_job(
    kind: ImportKind,
    file: UploadFile,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    response: Response,
    mode: UpsertMode = "insert",
) -> ImportJobRead:
    """Queue a CSV or XLSX file; a worker imports it all or nothing (poll the Location)."""
    content = _read(file, settings.max_body_bytes)
    job = import_jobs.submit_file(
        session, principal, kind, file.filename or "", content, upsert=mode == "upsert"
    )
    return _accepted(response, job)


@router.post(
    "/jobs/{kind}/rows",
    status_code=status.HTTP_202_ACCEPTED,
    summary="提交导入任务(JSON) / queue a JSON import",
)
def submit_rows_job(
    kind: ImportKind,
    rows: Annotated[list[Any], Body(description="档案或需求数组，最多 10,000 条")],
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    response: Response,
    mode: UpsertMode = "insert",
) -> ImportJobRead:
    """Queue rows in the bodies POST /smes or /demands take; imported all or nothing."""
    job = import_jobs.submit_rows(session, principal, kind, rows, settings, upsert=mode == "upsert")
    return _accepted(response, job)


@router.get("/jobs", summary="我的导入任务 / my import jobs")
def list_jobs(session: SessionDep, principal: PrincipalDep) -> list[ImportJobRead]:
    """The caller's 50 latest import jobs, newest first (an admin's: everyone's); the ids of
    the stored rows are in each job's own GET."""
    return import_jobs.listing(session, principal)


@router.get("/jobs/{job_id}", summary="导入任务状态 / import job status")
def get_job(job_id: PathId, session: SessionDep, principal: PrincipalDep) -> ImportJobRead:
    """Queued, running, done (counts and ids) or failed (every bad row; nothing stored)."""
    return import_jobs.get(session, principal, job_id)
