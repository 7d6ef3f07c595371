"""Cells for CSV and XLSX exports that no spreadsheet will evaluate (OWASP "CSV injection").

Every export that writes user text into a CSV or XLSX file goes through this module:
`csv_text` for CSV; `append_row`, `sheet_title` and `workbook_bytes` / `save_workbook` (which
sweep the whole workbook once more before saving) for XLSX.
Excel, WPS and LibreOffice read a cell starting with "=", "+", "-", "@" (also full-width, and
after invisible characters, a tab or a CR) as a formula: `=HYPERLINK(...)` leaks data, DDE
payloads (`=cmd|' /C calc'!A0`) run programs. Such text gets a leading single quote, the mark
spreadsheets themselves use for "this is text"; real numbers and dates stay numeric cells.
"""

import csv
import io
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet.worksheet import Worksheet

# First characters that make a spreadsheet parse a cell as a formula. Full-width and small
# forms are included too: East-Asian input methods and WPS may normalise them to ASCII.
FORMULA_TRIGGERS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b")
TEXT_MARK = "'"
# The longest text an Excel cell holds; longer text makes Excel "repair" the file.
XLSX_MAX_TEXT = 32_767
# Excel refuses sheet names longer than 31 characters (UTF-16 units), with []:*?/\ in them,
# starting or ending with an apostrophe, or named "History" (reserved).
_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_TITLE_MAX = 31
_RESERVED_TITLES = {"history"}


def _invisible(ch: str) -> bool:
    # Spreadsheets skip leading blanks, control and format characters (zero-width space,
    # BOM ...) before they look for "=", so those cannot hide a trigger.
    return ch.isspace() or unicodedata.category(ch)[0] in "CZ"


def looks_like_formula(text: str) -> bool:
    """True if a spreadsheet could read this text as a formula (or DDE command)."""
    for ch in text:
        if ch in FORMULA_TRIGGERS:
            return True
        if not _invisible(ch):
            return False
    return False


def inert_text(text: str) -> str:
    """The text, prefixed with a single quote when a spreadsheet would evaluate it."""
    return TEXT_MARK + text if looks_like_formula(text) else text


def _clean(text: str) -> str:
    # Control characters XLSX forbids (openpyxl raises on them): dropped before the formula
    # check, so "\x01=1+1" cannot turn into a bare "=1+1" afterwards.
    return ILLEGAL_CHARACTERS_RE.sub("", text)


def _plain(value: Any) -> Any:
    """Numbers, dates, booleans and None as they are; anything else as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime):
        # Excel has no time zones: aware datetimes are written in UTC.
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if hasattr(value, "isoformat") or hasattr(value, "as_tuple"):  # date, time, Decimal
        return value
    return str(value)


def xlsx_cell(value: Any) -> Any:
    """A value for an XLSX cell: text cleaned, inert and not too long; numbers untouched."""
    value = _plain(value)
    if not isinstance(value, str):
        return value
    return inert_text(_clean(value))[:XLSX_MAX_TEXT]


def csv_cell(value: Any) -> Any:
    """A value for a CSV field: text cleaned and inert; numbers untouched."""
    value = _plain(value)
    return inert_text(_clean(value)) if isinstance(value, str) else value


def csv_text(rows: Iterable[Sequence[Any]], bom: bool = True) -> str:
    """Rows as CSV with every field made inert (a UTF-8 BOM so Excel reads Chinese right)."""
    out = io.StringIO()
    if bom:
        out.write("\ufeff")
    # Every field quoted: where the list separator is ";" (some locales, WPS and LibreOffice
    # guessing it), "甲;=1+1" must stay one field instead of starting a new, live one.
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()


def append_row(ws: Worksheet, row: Sequence[Any]) -> None:
    """Append a row of inert cells: text is always a string cell, never a formula or error."""
    ws.append([xlsx_cell(v) for v in row])
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, str):
            # openpyxl infers "f" for "=..." and "e" for "#N/A"-like text: force plain text.
            cell.data_type = "s"


def sheet_title(name: str, used: set[str], fallback: str = "Sheet") -> str:
    """A valid, unique (case-insensitive) sheet name from user text; records it in `used`."""
    title = _TITLE_FORBIDDEN.sub("", _clean(name))
    # A title is no formula, but it is shown and copied like one: no trigger, no apostrophe.
    while title and (_invisible(title[0]) or title[0] in FORMULA_TRIGGERS or title[0] == TEXT_MARK):
        title = title[1:]
    title = _utf16_cut(title.strip(), _TITLE_MAX).rstrip(TEXT_MARK).strip() or fallback
    base, i = title, 2
    while title.casefold() in used or title.casefold() in _RESERVED_TITLES:
        suffix = f"-{i}"
        title = _utf16_cut(base, _TITLE_MAX - len(suffix)).rstrip(TEXT_MARK) + suffix
        i += 1
    used.add(title.casefold())
    return title


def _utf16_cut(text: str, units: int) -> str:
    out, n = [], 0
    for ch in text:
        n += 2 if ord(ch) > 0xFFFF else 1
        if n > units:
            break
        out.append(ch)
    return "".join(out)


def neutralise_workbook(wb: Workbook) -> None:
    """Make every cell of a workbook inert, whoever wrote it (the last line of defence)."""
    used: set[str] = set()
    for ws in wb.worksheets:
        if looks_like_formula(ws.title) or ws.title.startswith(TEXT_MARK):
            ws.title = sheet_title(ws.title, used | {s.casefold() for s in wb.sheetnames})
        used.add(ws.title.casefold())
        for row in ws.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, str) and (cell.data_type != "s" or looks_like_formula(value)):
                    cell.value = xlsx_cell(value)
                    cell.data_type = "s"


def workbook_bytes(wb: Workbook) -> bytes:
    """The workbook, every cell neutralised, as XLSX bytes."""
    neutralise_workbook(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def save_workbook(wb: Workbook, path: Path) -> None:
    """The workbook, every cell neutralised, saved to a file."""
    neutralise_workbook(wb)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
