"""Bulk import of SME profiles or needs from a CSV/XLSX file; a large file becomes a queued job."""

from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import HTMLResponse, Response

from app.deps import IndexDep, PathId, SettingsDep
from app.errors import DomainError, InvalidInput
from app.routers.web.common import redirect
from app.routers.web.organizer.shared import OrganizerPage, Page, Text
from app.services import import_jobs
from app.services import imports as import_service

router = APIRouter()

IMPORT_KIND_LABELS = {"smes": "中小企业档案", "demands": "需求"}


def _import_page(
    page: Page, form: dict[str, str], status_code: int = 200, **shown: Any
) -> HTMLResponse:
    """The upload form; `shown` adds a job, this user's recent jobs or a file's problems."""
    context = {"problems": None, "job": None, "jobs": []} | shown
    return page.render(
        "web/organizer/import.html",
        status_code,
        form=form,
        kind_labels=IMPORT_KIND_LABELS,
        **context,
    )


@router.get("/import", response_class=HTMLResponse)
def import_page(page: OrganizerPage) -> HTMLResponse:
    """Upload a CSV/XLSX of SMEs or needs; template downloads; this user's recent jobs."""
    jobs = import_jobs.listing(page.session, page.user, 10)
    return _import_page(page, {"kind": "smes", "mode": "insert"}, jobs=jobs)


@router.get("/import/jobs/{job_id}", response_class=HTMLResponse)
def import_job_page(page: OrganizerPage, job_id: PathId) -> HTMLResponse:
    """A queued import: its progress (the page refreshes itself), counts, or every bad row."""
    job = import_jobs.get(page.session, page.user, job_id)
    problems = [
        {"row": e.get("row"), "column": e.get("column") or "", "message": e["msg_zh"]}
        for e in job.errors
    ]
    form = {"kind": job.kind, "mode": "upsert" if job.upsert else "insert"}
    return _import_page(page, form, problems=problems or None, job=job)


@router.post("/import", response_class=HTMLResponse)
def import_file(
    page: OrganizerPage,
    settings: SettingsDep,
    index: IndexDep,
    kind: Text = "smes",
    mode: Text = "insert",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """All or nothing: the counts, or a table of every bad row and column."""
    form = {"kind": kind, "mode": mode}
    # The problems go in a table of their own (row, column); the page reads nothing stored, so
    # the refusal it raises is all it takes to roll the import back.
    try:
        if kind not in ("smes", "demands") or mode not in ("insert", "upsert"):
            raise import_service.file_error("unknown import kind", "请选择导入类型与方式")
        if file is None or not file.filename:
            raise import_service.file_error("choose a file", "请选择要上传的 CSV 或 XLSX 文件")
        content = file.file.read(settings.max_body_bytes + 1)
        if len(content) > settings.max_body_bytes:
            raise import_service.file_error(
                "file too large", f"文件超过 {settings.max_body_bytes // (1024 * 1024)} MB 上限"
            )
        if len(content) > settings.console_import_job_bytes:
            job = import_jobs.submit_file(
                page.session, page.user, kind, file.filename, content, upsert=mode == "upsert"
            )
            return redirect(
                f"/organizer/import/jobs/{job.id}",
                "文件较大，已排队导入；本页自动刷新显示进度",
            )
        if kind == "smes":
            result = import_service.import_smes(
                page.session, file.filename, content, settings, index, upsert=mode == "upsert"
            )
        else:
            result = import_service.import_demands(
                page.session, file.filename, content, settings, index
            )
    except InvalidInput as exc:
        problems = [
            {"row": e.row, "column": e.column or "", "message": e.msg_zh} for e in exc.errors
        ]
        return _import_page(page, form, 422, problems=problems)
    except DomainError as exc:
        problems = [{"row": None, "column": "", "message": exc.message_zh}]
        return _import_page(page, form, exc.status_code, problems=problems)
    label = IMPORT_KIND_LABELS[kind]
    return redirect(
        "/organizer/import",
        f"导入成功：{label}新增 {result.created} 条，更新 {result.updated} 条",
    )
