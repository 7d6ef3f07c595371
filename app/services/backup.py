"""Export everything to JSON Lines (one file per table) and XLSX, and restore it identically."""

import base64
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import Connection, LargeBinary
from sqlalchemy.sql.sqltypes import Date, DateTime

from app.errors import Conflict
from app.repositories import backup as repo
from app.services.spreadsheet import append_row, save_workbook
from models import metadata

# Rows per INSERT when restoring.
CHUNK = 1000


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _decode(column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, LargeBinary) and isinstance(value, dict):
        return base64.b64decode(value["$b64"])
    if (
        isinstance(column.type, DateTime)
        or getattr(column.type, "impl", None).__class__ is DateTime
    ):
        return datetime.fromisoformat(value)
    if isinstance(column.type, Date):
        return date.fromisoformat(value)
    return value


def export_jsonl(conn: Connection, directory: Path) -> dict[str, int]:
    """Every table as <table>.jsonl, rows in primary-key order; returns row counts."""
    directory.mkdir(parents=True, exist_ok=True)
    counts = {}
    for table in metadata.sorted_tables:
        order = list(table.primary_key.columns) or list(table.columns)
        rows = repo.rows(conn, table, order)
        with (directory / f"{table.name}.jsonl").open("w", encoding="utf-8") as f:
            n = 0
            for row in rows:
                record = {k: _encode(v) for k, v in row._mapping.items()}
                f.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
                n += 1
        counts[table.name] = n
    (directory / "manifest.json").write_text(
        json.dumps(
            {"format": "chainmatch-jsonl-1", "tables": counts}, ensure_ascii=False, indent=1
        ),
        encoding="utf-8",
    )
    return counts


def export_xlsx(conn: Connection, path: Path) -> None:
    """The main tables as sheets, for people (the JSONL files are for restoring)."""
    wb = Workbook()
    wb.remove(wb.active)
    for name in ("enterprises", "chain_leaders", "sme_profiles", "demands", "events", "meetings"):
        table = metadata.tables[name]
        ws = wb.create_sheet(name)
        columns = [c.name for c in table.columns if not isinstance(c.type, LargeBinary)]
        append_row(ws, columns)
        for row in repo.rows(conn, table):
            # append_row makes user text inert (no formula cells) and writes aware datetimes
            # in UTC; lists and dicts are shown as JSON text.
            append_row(
                ws,
                [
                    json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v
                    for v in (row._mapping[c] for c in columns)
                ],
            )
    save_workbook(wb, path)


def restore_jsonl(conn: Connection, directory: Path) -> dict[str, int]:
    """Load an export into an empty database (same ids), then move the id sequences on."""
    for table in metadata.sorted_tables:
        if not repo.is_empty(conn, table):
            raise Conflict(
                f"table {table.name} is not empty; restore needs an empty database",
                f"数据表 {table.name} 非空，恢复需要空数据库",
            )
    counts = {}
    for table in metadata.sorted_tables:
        path = directory / f"{table.name}.jsonl"
        if not path.exists():
            counts[table.name] = 0
            continue
        batch: list[dict] = []
        n = 0
        with path.open(encoding="utf-8") as f:
            for line in f:
                raw = json.loads(line)
                batch.append({c.name: _decode(c, raw.get(c.name)) for c in table.columns})
                if len(batch) >= CHUNK:
                    repo.insert_rows(conn, table, batch)
                    n += len(batch)
                    batch = []
        if batch:
            repo.insert_rows(conn, table, batch)
            n += len(batch)
        counts[table.name] = n
    if conn.dialect.name == "postgresql":
        for table in metadata.sorted_tables:
            if "id" in table.columns and table.columns["id"].autoincrement is not False:
                repo.move_sequence_past_ids(conn, table)
    return counts
