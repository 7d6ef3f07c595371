"""Bulk import from CSV or XLSX files, and their templates."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, UploadFile, status

from app.deps import IndexDep, SessionDep, SettingsDep, require_roles
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
