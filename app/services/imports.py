"""Bulk import from CSV or XLSX: templates with Chinese headers, header mapping, a report of
every bad row and column, all or nothing, optional upsert."""

import csv
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import FieldError, InvalidInput
from app.repositories import leaders as leader_repo
from app.services import demands, smes
from app.services.matching import MatchingRuntime

_SPLIT = re.compile(r"[、,，;；\n]+")


@dataclass(frozen=True)
class Column:
    """One importable column: the field, its Chinese header, aliases, and how to read a cell."""

    field: str
    header: str
    kind: str = "text"  # text | list | int | float | bool | products
    example: str = ""
    aliases: tuple[str, ...] = ()


SME_COLUMNS = (
    Column("name", "企业名称", example="青岛示例精密机械有限公司"),
    Column("uscc", "统一社会信用代码", example="91370200MA3C8PQX0X", aliases=("信用代码",)),
    Column("city", "所在城市", example="青岛市", aliases=("城市", "地市")),
    Column("county", "区县", example="城阳区", aliases=("县区",)),
    Column("size_class", "企业规模", example="小型", aliases=("规模",)),
    Column("tier", "企业梯度", example="专精特新中小企业", aliases=("梯度", "企业类型")),
    Column("products", "主营产品", "products", "转向架构架焊接件、制动夹钳", ("产品",)),
    Column("processes", "工艺能力", "list", "机器人焊接、五轴数控加工", ("工艺",)),
    Column("certifications", "资质证书", "list", "ISO 9001、CRCC", ("资质", "认证")),
    Column("invention_patents", "发明专利数", "int", "6", ("发明专利",)),
    Column("utility_patents", "实用新型专利数", "int", "21", ("实用新型",)),
    Column("rd_share", "研发投入占比(%)", "float", "5.2", ("研发投入占比", "研发占比")),
    Column("chains", "所属产业链代码", "list", "equipment", ("产业链",)),
    Column("links", "产业链环节代码", "list", "equipment-07", ("环节",)),
    Column("leaders_supplied", "已配套链主", "list", "中车青岛四方机车车辆"),
    Column("export", "是否出口", "bool", "否", ("出口",)),
    Column("description", "企业简介", example="轨道交通焊接结构件，拥有焊接机器人12台。"),
    Column("contact_name", "联系人", example="王经理"),
    Column("contact_phone", "联系电话", example="0532-80000001", aliases=("电话",)),
    Column("contact_email", "电子邮箱", example="sales@example.cn", aliases=("邮箱",)),
)

DEMAND_COLUMNS = (
    Column("leader", "链主企业", example="中车青岛四方机车车辆"),
    Column("title", "需求标题", example="转向架构架焊接件配套", aliases=("标题",)),
    Column(
        "description", "需求描述", example="时速350公里动车组构架，整体退火。", aliases=("描述",)
    ),
    Column("chain", "产业链代码", example="equipment", aliases=("产业链",)),
    Column("link", "环节代码", example="equipment-07", aliases=("环节",)),
    Column("need_type", "需求类型", example="产品配套", aliases=("类型",)),
    Column("keywords", "关键词", "list", "转向架、构架、焊接"),
    Column("specification", "技术指标", example="材质Q345E，-40℃冲击功≥34J"),
    Column("material_process", "材料工艺", example="焊接+整体退火"),
    Column("quantity", "年需求量", "float", "800", ("数量",)),
    Column("unit", "单位", example="套/年"),
    Column("budget", "预算(万元)", example="200-500", aliases=("预算",)),
    Column("must_certifications", "必备资质", "list", "CRCC、ISO 9001"),
    Column("preferred_certifications", "优先资质", "list", "ISO 14001"),
    Column("region_preference", "地区偏好", example="省内优先"),
    Column("min_tier", "最低梯度", example="专精特新中小企业"),
    Column("lead_time_days", "交付周期(天)", "int", "90", ("交付周期",)),
    Column("valid_until", "有效期至", example="2027-06-30", aliases=("有效期",)),
    Column("status", "状态", example="已发布"),
    Column("contact_name", "联系人", example="张经理"),
    Column("contact_phone", "联系电话", example="0532-80000002", aliases=("电话",)),
    Column("contact_email", "电子邮箱", example="", aliases=("邮箱",)),
)


def template(columns: tuple[Column, ...], fmt: str) -> bytes:
    """An empty import file with the Chinese headers and one example row."""
    headers = [c.header for c in columns]
    example = [c.example for c in columns]
    if fmt == "csv":
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out)
        writer.writerows([headers, example])
        return out.getvalue().encode("utf-8")
    wb = Workbook()
    ws = wb.active
    ws.title = "导入模板"
    ws.append(headers)
    ws.append(example)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def file_error(message: str, message_zh: str) -> InvalidInput:
    return InvalidInput([FieldError(loc=("file",), msg=message, msg_zh=message_zh, type="file")])


def read_table(filename: str, content: bytes, max_rows: int) -> tuple[list[str], list[list[str]]]:
    """Header and data rows of a CSV (UTF-8) or XLSX file; refuses what it cannot read."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        try:
            wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise file_error(
                f"not a readable XLSX file ({type(exc).__name__})",
                "无法读取该 XLSX 文件，请确认文件未损坏、为 Excel 2007 及以上格式",
            ) from None
        rows_iter = (
            ["" if v is None else str(v).strip() for v in row]
            for row in wb.worksheets[0].iter_rows(values_only=True)
        )
    elif name.endswith(".csv"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            hint = ""
            try:
                content.decode("gbk")
                hint = "（疑似 GBK 编码）"
            except UnicodeDecodeError:
                pass
            raise file_error(
                "the CSV file is not UTF-8; save it as 'CSV UTF-8'",
                f"CSV 文件不是 UTF-8 编码{hint}，请在 Excel 中另存为“CSV UTF-8(逗号分隔)”",
            ) from None
        rows_iter = ([cell.strip() for cell in row] for row in csv.reader(io.StringIO(text)))
    else:
        raise file_error("upload a .csv or .xlsx file", "请上传 .csv 或 .xlsx 文件")
    header: list[str] | None = None
    rows: list[list[str]] = []
    for row in rows_iter:
        if not any(row):
            continue
        if header is None:
            header = row
            continue
        rows.append(row)
        if len(rows) > max_rows:
            raise file_error(
                f"more than {max_rows} data rows; split the file",
                f"数据行超过 {max_rows} 行，请拆分后分批导入",
            )
    if header is None or not rows:
        raise file_error("the file has no data rows", "文件中没有数据行")
    return header, rows


def _map_headers(header: list[str], columns: tuple[Column, ...]) -> dict[int, Column]:
    lookup: dict[str, Column] = {}
    for c in columns:
        for key in (c.header, c.field, *c.aliases):
            lookup[re.sub(r"\s+", "", key).lower()] = c
    mapping, unknown = {}, []
    for i, text in enumerate(header):
        key = re.sub(r"\s+", "", text).lower()
        if not key:
            continue
        if key in lookup:
            mapping[i] = lookup[key]
        else:
            unknown.append(text)
    if unknown:
        raise InvalidInput(
            [
                FieldError(
                    loc=("file", "header"),
                    msg=f"unknown column(s): {', '.join(unknown)}; see the template",
                    msg_zh=f"无法识别的列：{'、'.join(unknown)}，请对照导入模板",
                    type="file",
                )
            ]
        )
    return mapping


def _cell(column: Column, text: str) -> Any:
    if column.kind in ("list", "products"):
        return [x.strip() for x in _SPLIT.split(text) if x.strip()]
    if column.kind == "bool":
        lowered = text.lower()
        if lowered in ("是", "y", "yes", "true", "1"):
            return True
        if lowered in ("否", "n", "no", "false", "0"):
            return False
        return text  # the schema reports it
    if column.kind in ("int", "float"):
        return text.replace(",", "")
    return text


def to_payloads(
    header: list[str], rows: list[list[str]], columns: tuple[Column, ...]
) -> list[dict]:
    """Rows as API payloads; empty cells are left out so defaults (or stored values) apply."""
    mapping = _map_headers(header, columns)
    out = []
    for row in rows:
        payload = {}
        for i, text in enumerate(row):
            column = mapping.get(i)
            if column is not None and text != "":
                payload[column.field] = _cell(column, text)
        out.append(payload)
    return out


def _report(errors: list[FieldError], columns: tuple[Column, ...]) -> InvalidInput:
    """Errors with the sheet row (header is row 1) and the Chinese column header."""
    headers = {c.field: c.header for c in columns}
    headers.update(
        {
            "leader_id": "链主企业",
            "required_certifications": "必备资质",
        }
    )
    out = []
    for e in errors:
        field = next((str(p) for p in e.loc[2:] if isinstance(p, str)), "")
        out.append(
            FieldError(
                loc=e.loc,
                msg=e.msg,
                msg_zh=e.msg_zh,
                type=e.type,
                row=(e.row + 2) if e.row is not None else None,
                column=headers.get(field, field),
            )
        )
    return InvalidInput(out)


@dataclass
class ImportResult:
    created: int
    updated: int
    ids: list[int]


def import_smes(
    session: Session,
    filename: str,
    content: bytes,
    settings: Settings,
    index: MatchingRuntime | None,
    upsert: bool,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import SME profiles; with `upsert`, rows whose credit code exists update that profile."""
    header, rows = read_table(filename, content, settings.max_bulk_rows)
    payloads = to_payloads(header, rows, SME_COLUMNS)
    try:
        ids, updated = smes.bulk_upsert(session, payloads, settings, index, upsert=upsert)
    except InvalidInput as exc:
        raise _report(exc.errors, SME_COLUMNS) from None
    if progress:
        progress(len(ids))
    return ImportResult(created=len(ids) - updated, updated=updated, ids=ids)


def import_demands(
    session: Session,
    filename: str,
    content: bytes,
    settings: Settings,
    index: MatchingRuntime | None,
) -> ImportResult:
    """Import needs; the leader is named by its registered name."""
    header, rows = read_table(filename, content, settings.max_bulk_rows)
    payloads = to_payloads(header, rows, DEMAND_COLUMNS)
    leaders = leader_repo.by_name(session)
    errors: list[FieldError] = []
    for i, p in enumerate(payloads):
        name = p.pop("leader", "")
        leader = leaders.get(name)
        if leader is None:
            errors.append(
                FieldError(
                    loc=("body", i, "leader"),
                    msg=f"no registered chain leader named {name!r}",
                    msg_zh=f"未登记名为“{name}”的链主企业",
                    row=i,
                )
            )
        else:
            p["leader_id"] = leader.id
        certs = [{"name": c, "must": True} for c in p.pop("must_certifications", [])]
        certs += [{"name": c, "must": False} for c in p.pop("preferred_certifications", [])]
        if certs:
            p["required_certifications"] = certs
    flagged = {e.row for e in errors}
    try:
        ids = demands.bulk_create(session, payloads, settings, index)
    except InvalidInput as exc:
        # A row without a known leader also lacks leader_id: report the leader once.
        errors += [e for e in exc.errors if not (e.row in flagged and e.loc[-1] == "leader_id")]
    if errors:
        errors.sort(key=lambda e: e.row if e.row is not None else -1)
        raise _report(errors, DEMAND_COLUMNS)
    return ImportResult(created=len(ids), updated=0, ids=ids)
