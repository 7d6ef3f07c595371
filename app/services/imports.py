"""Bulk import from CSV or XLSX: templates with Chinese headers, header mapping, a report of
every bad row and column, all or nothing, optional upsert."""

import codecs
import csv
import io
import logging
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.reader.excel import ExcelReader
from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import FieldError, InvalidInput
from app.repositories import leaders as leader_repo
from app.services import demands, leaders, smes
from app.services.matching import MatchingRuntime
from matching.uscc import normalize_uscc

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
    Column("chains", "所属产业链", "list", "高端装备", ("产业链", "所属产业链代码")),
    Column("links", "产业链环节", "list", "转向架", ("环节", "产业链环节代码")),
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
    Column("chain", "产业链", example="高端装备", aliases=("产业链代码",)),
    Column("link", "产业链环节", example="转向架", aliases=("环节", "环节代码")),
    Column("demand_type", "需求类型", example="产品配套", aliases=("类型",)),
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
    # Names are not unique identifiers: either of these names the leader for certain (at the end
    # so that templates already in use keep their column order).
    Column("leader_uscc", "链主信用代码", aliases=("链主统一社会信用代码",)),
    Column("leader_no", "链主编号", aliases=("链主ID", "leader_id")),
)
LEADER_COLUMNS = ("leader", "leader_uscc", "leader_no")


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
    """A 422 about the uploaded file as a whole."""
    return InvalidInput([FieldError(loc=("file",), msg=message, msg_zh=message_zh, type="file")])


# Bounds of what an import may make the server parse. A workbook is a zip of XML: a file of a
# few kilobytes can declare millions of cells or inflate to gigabytes, and openpyxl's cost
# follows the XML, not the upload, so the zip and its XML are measured before openpyxl opens it.
# The widest template has 24 columns; no sheet is read wider than MAX_COLUMNS.
MAX_COLUMNS = 64
MAX_ZIP_ENTRIES = 1000
# Per part and in all, uncompressed. A 10,000-row sheet of the SME template with inline strings
# is 14 MB of XML; Excel's shared strings make it smaller.
MAX_PART_BYTES = 64 * 1024 * 1024
MAX_UNZIPPED_BYTES = 128 * 1024 * 1024
# Office XML deflates 5-20:1; beyond this a part over 1 MB is a bomb, not a spreadsheet.
MAX_RATIO = 100
RATIO_FLOOR = 1024 * 1024
MAX_SHEETS = 64
# openpyxl builds an object per style record even in read-only mode (64,000 formats took 3.8 s);
# Excel itself allows 64,000 cell formats, real workbooks have a few hundred.
MAX_STYLES = 20_000
MAX_DEFINED_NAMES = 10_000
_STYLE_TAGS = (b"xf", b"font", b"fill", b"border", b"numFmt", b"dxf", b"cellStyle")
# A start tag with the local names counted (any namespace prefix); matches start with "<".
_COUNTED = re.compile(
    rb"<(?:[A-Za-z_][\w.\-]*:)?(c|si|sheet|definedName|" + b"|".join(_STYLE_TAGS) + rb")[\s/>]"
)
# A document type declaration is how XML gets entities (billion laughs, external files).
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CHUNK = 1024 * 1024

log = logging.getLogger("chainmatch.imports")


def _mb(n: int) -> int:
    return n // (1024 * 1024)


def _legacy_or_encrypted() -> InvalidInput:
    return file_error(
        "an encrypted workbook or an old .xls file: remove the password and save as .xlsx",
        "该文件是设有密码（加密）的工作簿或旧版 .xls 文件：请取消密码保护，"
        "在 Excel 中另存为 .xlsx 后再导入",
    )


def _unreadable(exc: Exception) -> InvalidInput:
    return file_error(
        f"not a readable XLSX file ({type(exc).__name__})",
        "无法读取该 XLSX 文件，请确认文件未损坏、为 Excel 2007 及以上格式",
    )


def _too_many_rows(max_rows: int) -> InvalidInput:
    return file_error(
        f"more than {max_rows} rows (empty rows count too); split the file",
        f"数据行超过 {max_rows} 行（空行也计入），请删除多余空行或拆分后分批导入",
    )


def _too_many_columns() -> InvalidInput:
    return file_error(
        f"more than {MAX_COLUMNS} columns; delete the columns beyond the data",
        f"列数超过 {MAX_COLUMNS} 列，请删除数据以外的多余列后再导入",
    )


class _XmlBudget:
    """Counts what openpyxl would have to build from the package, refusing past the bounds."""

    def __init__(self, max_rows: int) -> None:
        self.max_cells = (max_rows + 1) * MAX_COLUMNS
        # Every cell is up to three elements (c, is, t), every shared string two.
        self.max_elements = 4 * self.max_cells
        self.elements = 0
        self.counts: dict[bytes, int] = {}

    def add(self, region: bytes) -> None:
        self.elements += region.count(b"<") - region.count(b"</")
        for tag in _COUNTED.findall(region):
            self.counts[tag] = self.counts.get(tag, 0) + 1
        cells = max(self.counts.get(b"c", 0), self.counts.get(b"si", 0))
        if cells > self.max_cells or self.elements > self.max_elements:
            raise file_error(
                f"the workbook holds more than {self.max_cells} cells or strings",
                f"XLSX 文件包含超过 {self.max_cells} 个单元格或字符串，请只保留要导入的数据",
            )
        if sum(self.counts.get(t, 0) for t in _STYLE_TAGS) > MAX_STYLES:
            raise file_error(
                f"more than {MAX_STYLES} cell styles; paste the values into a new workbook",
                f"XLSX 文件的单元格样式超过 {MAX_STYLES} 个，请将数据“选择性粘贴为数值”到新工作簿",
            )
        if self.counts.get(b"sheet", 0) > MAX_SHEETS:
            raise file_error(
                f"more than {MAX_SHEETS} sheets", f"XLSX 文件的工作表超过 {MAX_SHEETS} 个"
            )
        if self.counts.get(b"definedName", 0) > MAX_DEFINED_NAMES:
            raise file_error(
                f"more than {MAX_DEFINED_NAMES} defined names",
                f"XLSX 文件的名称定义超过 {MAX_DEFINED_NAMES} 个",
            )


def _scan_part(name: str, part: IO[bytes], budget: _XmlBudget) -> None:
    """Stream one part: no DTD, UTF-8 (where the byte checks hold), within the budget."""
    carry = b""
    first = True
    while True:
        chunk = part.read(_CHUNK)
        buf = carry + chunk
        if first:
            first = False
            # expat reads UTF-16 when a part starts so; the byte patterns below would miss it.
            if buf[:2] in (b"\xfe\xff", b"\xff\xfe", b"<\x00", b"\x00<"):
                raise file_error(
                    f"part {name} is not UTF-8 XML",
                    f"XLSX 文件中的 {name} 不是 UTF-8 编码的 XML，请用 Excel 另存为 .xlsx",
                )
        if chunk:
            # Keep a tail that may hold the start of a tag cut by the chunk boundary; every
            # pattern starts with "<", so cutting before the last "<" of the tail splits none.
            cut = buf.rfind(b"<", max(0, len(buf) - 64))
            cut = len(buf) if cut == -1 else cut
        else:
            cut = len(buf)
        region, carry = buf[:cut], buf[cut:]
        if _DTD.search(region):
            raise file_error(
                f"part {name} declares a DTD or entities, which are refused",
                f"XLSX 文件中的 {name} 含有 DTD 或实体声明（<!DOCTYPE>/<!ENTITY>），"
                "出于安全原因不予读取，请用 Excel 重新保存",
            )
        budget.add(region)
        if not chunk:
            return


def _check_package(content: bytes, max_rows: int) -> None:
    """Bound the zip (entries, sizes, ratios) and its XML before openpyxl parses any of it."""
    # zipfile reads the whole central directory at open; count its entries first.
    if content.count(b"PK\x01\x02") > MAX_ZIP_ENTRIES:
        raise file_error(
            f"more than {MAX_ZIP_ENTRIES} parts in the zip",
            f"XLSX 文件包含超过 {MAX_ZIP_ENTRIES} 个部件，不是正常的 Excel 工作簿",
        )
    archive = zipfile.ZipFile(io.BytesIO(content))
    infos = [i for i in archive.infolist() if not i.is_dir()]
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise file_error("the workbook is encrypted", "XLSX 文件已加密，请取消密码保护后再导入")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise file_error(
                f"part {info.filename} uses an unsupported compression",
                f"XLSX 文件中的 {info.filename} 压缩方式不受支持，请用 Excel 重新保存",
            )
        # zipfile stops at the declared size (and fails the CRC), so it bounds the reading.
        total += info.file_size
        if info.file_size > MAX_PART_BYTES or total > MAX_UNZIPPED_BYTES:
            raise file_error(
                f"the workbook inflates beyond {_mb(MAX_PART_BYTES)} MB per part or "
                f"{_mb(MAX_UNZIPPED_BYTES)} MB in all ({info.filename})",
                f"XLSX 文件解压后过大（{info.filename}；单个部件上限 {_mb(MAX_PART_BYTES)} MB，"
                f"合计上限 {_mb(MAX_UNZIPPED_BYTES)} MB），请拆分后分批导入",
            )
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise file_error(
                f"part {info.filename} is compressed {ratio}:1, a zip bomb",
                f"XLSX 文件中的 {info.filename} 压缩比异常（{ratio}:1），疑似压缩炸弹，不予读取",
            )
    budget = _XmlBudget(max_rows)
    for info in infos:
        with archive.open(info) as part:
            _scan_part(info.filename, part, budget)


def _open_workbook(content: bytes) -> Any:
    """openpyxl's read-only workbook, refusing sheets that share a part (each is parsed)."""
    reader = ExcelReader(io.BytesIO(content), read_only=True, data_only=True, keep_links=False)
    reader.read_manifest()
    reader.read_workbook()
    targets = [rel.target for _sheet, rel in reader.parser.find_sheets()]
    if len(set(targets)) != len(targets):
        raise file_error(
            "two sheets point to the same part", "XLSX 文件中有多个工作表指向同一份数据"
        )
    reader.read()
    return reader.wb


def _xlsx_rows(wb: Any, max_rows: int) -> Iterator[Sequence[Any]]:
    """Rows of the first sheet, bounded by its declared size and by ours."""
    if not wb.worksheets:
        raise file_error("the workbook has no worksheet", "XLSX 文件中没有工作表")
    ws = wb.worksheets[0]
    # The sheet's <dimension ref>: refuse at once what could not be imported anyway.
    if ws.max_row is not None and ws.max_row > max_rows + 1:
        raise file_error(
            f"the sheet declares {ws.max_row} rows, over the limit of {max_rows}",
            f"工作表声明了 {ws.max_row} 行，超过 {max_rows} 行上限（空行也计入），"
            "请删除多余的空行或拆分后分批导入",
        )
    if ws.max_column is not None and ws.max_column > MAX_COLUMNS:
        raise file_error(
            f"the sheet declares {ws.max_column} columns, over the limit of {MAX_COLUMNS}",
            f"工作表声明了 {ws.max_column} 列，超过 {MAX_COLUMNS} 列上限，请删除多余的列",
        )
    # Our own bounds, not the declared ones: one row past each limit shows it is exceeded.
    yield from ws.iter_rows(max_row=max_rows + 2, max_col=MAX_COLUMNS + 1, values_only=True)


def _text(value: Any) -> str:
    """A cell as text; dates as ISO dates, whole numbers without '.0'."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value).strip()


def _collect(rows: Iterable[Sequence[Any]], max_rows: int) -> tuple[list[str], list[list[str]]]:
    """Header and non-empty rows; every row read counts against the limit, empty ones too."""
    header: list[str] | None = None
    out: list[list[str]] = []
    for number, raw in enumerate(rows, start=1):
        if number > max_rows + 1:
            raise _too_many_rows(max_rows)
        if len(raw) > MAX_COLUMNS and any(_text(v) for v in raw[MAX_COLUMNS:]):
            raise _too_many_columns()
        cells = [_text(v) for v in raw[:MAX_COLUMNS]]
        while cells and not cells[-1]:
            cells.pop()
        if any("\x00" in c for c in cells):
            # PostgreSQL cannot store NUL; OOXML smuggles it as _x0000_.
            raise file_error(
                f"row {number} contains a NUL character (binary data?)",
                f"第 {number} 行含有 NUL 空字符，疑似二进制内容，请检查文件",
            )
        if not cells:
            continue
        if header is None:
            header = cells
        else:
            out.append(cells)
    if header is None or not out:
        raise file_error("the file has no data rows", "文件中没有数据行")
    return header, out


def _read_xlsx(content: bytes, max_rows: int) -> tuple[list[str], list[list[str]]]:
    if content.startswith(_OLE_MAGIC):
        raise _legacy_or_encrypted()
    try:
        _check_package(content, max_rows)
        wb = _open_workbook(content)
        try:
            return _collect(_xlsx_rows(wb, max_rows), max_rows)
        finally:
            wb.close()
    except InvalidInput:
        raise
    except Exception as exc:
        # Whatever openpyxl or zipfile raise on a malformed file is the file's fault, not ours:
        # zipfile.BadZipFile, KeyError for a missing part, ParseError, ValueError, IndexError...
        log.info("unreadable XLSX upload: %r", exc)
        raise _unreadable(exc) from None


def _decode_csv(content: bytes) -> str:
    if content.startswith(b"PK\x03\x04"):
        raise file_error(
            "this is an XLSX workbook; upload it with the .xlsx extension",
            "该文件是 XLSX 工作簿，请以 .xlsx 扩展名上传",
        )
    if content.startswith(_OLE_MAGIC):
        raise _legacy_or_encrypted()
    # Excel's "Unicode text" is UTF-16 with a byte order mark (and tabs).
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError:
            raise file_error(
                "the CSV file is not valid UTF-16", "CSV 文件的 UTF-16 编码有误"
            ) from None
    try:
        return content.decode("utf-8-sig")
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


def _delimiter(text: str) -> str:
    """Comma, tab or semicolon: whichever the header line holds most of (comma on a tie)."""
    first = next((line for line in text[:65536].splitlines() if line.strip()), "")
    return max((",", "\t", ";"), key=first.count)


def _read_csv(content: bytes, max_rows: int) -> tuple[list[str], list[list[str]]]:
    text = _decode_csv(content)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise file_error(
            f"line {line} contains a NUL character (binary data?)",
            f"第 {line} 行含有 NUL 空字符，疑似二进制内容，请检查文件",
        )
    # newline="" lets the csv module see quoted line breaks and bare \r line ends.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        return _collect(reader, max_rows)
    except csv.Error as exc:
        line = reader.line_num
        if "field limit" in str(exc):
            limit = csv.field_size_limit()
            raise file_error(
                f"line {line}: a cell is longer than {limit} characters",
                f"第 {line} 行有单元格超过 {limit} 个字符，请检查引号是否成对",
            ) from None
        raise file_error(
            f"line {line} cannot be read as CSV ({exc})",
            f"第 {line} 行无法按 CSV 格式读取（{exc}）",
        ) from None


def read_table(filename: str, content: bytes, max_rows: int) -> tuple[list[str], list[list[str]]]:
    """Header and data rows of a CSV or XLSX file; refuses, with a 422, what it cannot read."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        return _read_xlsx(content, max_rows)
    if name.endswith(".csv"):
        return _read_csv(content, max_rows)
    if name.endswith(".xls"):
        raise _legacy_or_encrypted()
    raise file_error("upload a .csv or .xlsx file", "请上传 .csv 或 .xlsx 文件")


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


def _data_rows(
    header: list[str], rows: list[list[str]], columns: tuple[Column, ...]
) -> tuple[list[dict], list[int]]:
    """The rows as payloads, with the sheet row number of each; the template's example row,
    left in place by many users, is not data and is left out."""
    payloads = to_payloads(header, rows, columns)
    (example,) = to_payloads([c.header for c in columns], [[c.example for c in columns]], columns)
    kept = [(p, i + 2) for i, p in enumerate(payloads) if p != example]
    if payloads and not kept:
        raise file_error(
            "the file holds only the template's example row; add your rows below the header",
            "文件中只有模板的示例行：请在表头下方填写贵方的数据（示例行可删除）",
        )
    return [p for p, _ in kept], [n for _, n in kept]


def _report(
    errors: list[FieldError], columns: tuple[Column, ...], numbers: list[int]
) -> InvalidInput:
    """Errors with the sheet row (`numbers`: of each payload) and the Chinese column header."""
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
                row=numbers[e.row] if e.row is not None else None,
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
    payloads, numbers = _data_rows(header, rows, SME_COLUMNS)
    try:
        ids, updated = smes.bulk_upsert(
            session, payloads, settings, index, upsert=upsert, row_numbers=numbers
        )
    except InvalidInput as exc:
        raise _report(exc.errors, SME_COLUMNS, numbers) from None
    if progress:
        progress(len(ids))
    return ImportResult(created=len(ids) - updated, updated=updated, ids=ids)


class _LeaderBook:
    """Live leaders by id, credit code and normalised name, to resolve the rows of an import."""

    def __init__(self, session: Session) -> None:
        self.names: dict[int, str] = {}
        self.by_code: dict[str, int] = {}
        self.by_key: dict[str, list[int]] = {}
        for leader_id, name, code in leader_repo.identities(session):
            self.names[leader_id] = name
            if code:
                self.by_code[code] = leader_id
            self.by_key.setdefault(leaders.name_key(name), []).append(leader_id)

    def resolve(
        self, row: int, name: str, code: str, number: str
    ) -> tuple[int | None, FieldError | None]:
        """The one leader a row names, or the error that says why it names none."""

        def error(field: str, msg: str, msg_zh: str) -> tuple[None, FieldError]:
            return None, FieldError(loc=("body", row, field), msg=msg, msg_zh=msg_zh, row=row)

        chosen: int | None = None
        if number:
            digits = unicodedata.normalize("NFKC", number).strip()
            leader_id = int(digits) if digits.isascii() and digits.isdigit() else None
            if leader_id is None or leader_id not in self.names:
                return error(
                    "leader_no",
                    f"no registered chain leader has the number {number!r}",
                    f"没有编号为“{number}”的链主企业",
                )
            chosen = leader_id
        if code:
            leader_id = self.by_code.get(normalize_uscc(code))
            if leader_id is None:
                return error(
                    "leader_uscc",
                    f"no registered chain leader has the credit code {code!r}",
                    f"没有统一社会信用代码为“{code}”的链主企业",
                )
            if chosen is not None and chosen != leader_id:
                return error(
                    "leader_uscc",
                    f"credit code {code} and leader number {chosen} name different leaders",
                    f"链主信用代码 {code} 与链主编号 {chosen} 不是同一家链主企业",
                )
            chosen = leader_id
        if name:
            ids = self.by_key.get(leaders.name_key(name), [])
            if chosen is not None:
                if chosen not in ids:
                    return error(
                        "leader",
                        f"leader {chosen} is registered as {self.names[chosen]!r}, not {name!r}",
                        f"编号 {chosen} 的链主企业登记名称为“{self.names[chosen]}”，与“{name}”不符",
                    )
            elif not ids:
                return error(
                    "leader",
                    f"no registered chain leader named {name!r}",
                    f"未登记名为“{name}”的链主企业",
                )
            elif len(ids) > 1:
                listed = ", ".join(str(i) for i in ids)
                listed_zh = "、".join(str(i) for i in ids)
                return error(
                    "leader",
                    f"{len(ids)} chain leaders are named {name!r} (numbers {listed}); "
                    "add a 链主信用代码 (credit code) or 链主编号 (leader number) column",
                    f"有 {len(ids)} 家链主企业名为“{name}”（编号 {listed_zh}），"
                    "无法确定是哪一家：请增加“链主信用代码”或“链主编号”列",
                )
            else:
                chosen = ids[0]
        if chosen is None:
            return error(
                "leader",
                "name the chain leader (链主企业, 链主信用代码 or 链主编号)",
                "请填写链主企业名称、链主信用代码或链主编号",
            )
        return chosen, None


def import_demands(
    session: Session,
    filename: str,
    content: bytes,
    settings: Settings,
    index: MatchingRuntime | None,
) -> ImportResult:
    """Import needs; each row names its leader by number, credit code or an unambiguous name."""
    header, rows = read_table(filename, content, settings.max_bulk_rows)
    payloads, numbers = _data_rows(header, rows, DEMAND_COLUMNS)
    book = _LeaderBook(session)
    errors: list[FieldError] = []
    for i, p in enumerate(payloads):
        name, code, number = (str(p.pop(field, "")) for field in LEADER_COLUMNS)
        leader_id, problem = book.resolve(i, name, code, number)
        if problem is not None:
            errors.append(problem)
        else:
            p["leader_id"] = leader_id
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
        raise _report(errors, DEMAND_COLUMNS, numbers)
    return ImportResult(created=len(ids), updated=0, ids=ids)
