"""Hostile import files: bombs bounded before parsing, every parser error a clear 422.

Timings in comments were measured on the development machine (2 shared cores), before and after
the fix; the tests assert the answer, never the wall time.
"""

import codecs
import io
import zipfile

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook

from tests.factories import leader_payload

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
HEADERS = ("企业名称", "所在城市", "企业梯度", "主营产品")
GOOD_ROW = ("青岛甲精密有限公司", "青岛市", "专精特新中小企业", "液压阀")


def xlsx(
    sheet: str | bytes,
    shared: str | bytes | None = None,
    members: dict[str, str | bytes] | None = None,
) -> bytes:
    """A hand-made workbook: one sheet, optional shared strings, extra or replaced parts."""
    sst_type = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{CT}.sharedStrings+xml"/>'
    sst_rel = f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
    parts: dict[str, str | bytes] = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{CT}.worksheet+xml"/>'
            + (sst_type if shared is not None else "")
            + "</Types>"
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" '
            f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
            '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{PKG}">'
            f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            + (sst_rel if shared is not None else "")
            + "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": sheet,
    }
    if shared is not None:
        parts["xl/sharedStrings.xml"] = shared
    parts.update(members or {})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in parts.items():
            if data is not None:
                z.writestr(name, data)
    return out.getvalue()


def sheet(rows: str, dimension: str | None = None, prolog: str = "") -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'{prolog}<worksheet xmlns="{MAIN}">{dim}<sheetData>{rows}</sheetData></worksheet>'


def row(r: int, *values: str, cells: str = "") -> str:
    """A row of inline strings from column A, plus any raw cells."""
    inline = "".join(
        f'<c r="{chr(65 + i)}{r}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{r}">{inline}{cells}</row>'


GOOD_SHEET = row(1, *HEADERS) + row(2, *GOOD_ROW)


def upload(client: TestClient, name: str, content: bytes, kind: str = "smes"):
    return client.post(f"/api/v1/import/{kind}", files={"file": (name, content)})


def refused(r, *words: str) -> str:
    """Assert a clean 422 about the file; returns its Chinese message."""
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail and all(e["msg"] and e["msg_zh"] for e in detail)
    text = " ".join(e["msg_zh"] for e in detail)
    for word in words:
        assert word in text, text
    return text


# -- bombs: bounded by declared size, cells and rows before (or while) parsing --------------


def test_declared_dimension_bomb_is_refused(client: TestClient) -> None:
    # 1.5 KB declaring 30,000 x 16,384 cells: read_table took 9.8-19.7 s (and the import went
    # through) before; 0.00 s to the 422 after.
    rows = GOOD_SHEET + '<row r="30000"><c r="XFD30000"/></row>'
    r = upload(client, "bomb.xlsx", xlsx(sheet(rows, "A1:XFD30000")))
    refused(r, "行")
    # full height, no dimension: the empty rows in between count against the limit
    rows = GOOD_SHEET + '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    refused(upload(client, "tall.xlsx", xlsx(sheet(rows))), "行")
    refused(upload(client, "tall.xlsx", xlsx(sheet(GOOD_SHEET, "A1:D1048576"))), "行")


def test_too_many_columns_are_refused_or_not_read(client: TestClient) -> None:
    refused(upload(client, "wide.xlsx", xlsx(sheet(GOOD_SHEET, "A1:XFD2"))), "列")
    # 30,000 rows each ending at column XFD, no dimension: minutes of padding before
    tall_wide = "".join(f'<row r="{i}"><c r="XFD{i}"/></row>' for i in range(3, 30_003))
    refused(upload(client, "wide.xlsx", xlsx(sheet(GOOD_SHEET + tall_wide))), "行")
    # without a declared dimension, nothing beyond the first 64 columns is read
    wide = row(2, *GOOD_ROW, cells='<c r="XFD2" t="inlineStr"><is><t>x</t></is></c>')
    r = upload(client, "wide.xlsx", xlsx(sheet(row(1, *HEADERS) + wide)))
    assert r.status_code == 201, r.text


def test_shared_strings_bomb_is_refused_before_parsing(client: TestClient) -> None:
    # 819 KB zipped, 349 MB of XML: read_table took 5.0-11.8 s and +308 MB of resident memory
    # before; 0.00 s and no growth after (refused on the declared size, nothing inflated).
    n = 400_000
    strings = "<si><t>" + "铸" * 300 + "</t></si>"
    sst = f'<sst xmlns="{MAIN}" count="{n}" uniqueCount="{n}">{strings * n}</sst>'
    bomb = xlsx(sheet(row(1, *HEADERS) + '<row r="2"><c r="A2" t="s"><v>0</v></c></row>'), sst)
    assert len(bomb) < 1_000_000
    refused(upload(client, "sst.xlsx", bomb), "XLSX")


def test_too_many_cells_are_refused(client: TestClient) -> None:
    # 10,000 rows of 100 empty cells: under every byte limit, but a million cells to parse
    # (16.5 s per request before; 0.8 s after, mostly the scan that counts them).
    cells = "".join(
        f'<row r="{i}">' + "".join(f'<c r="{c}{i}"/>' for c in ("A", "B", "C", "D") * 25) + "</row>"
        for i in range(3, 10_003)
    )
    refused(upload(client, "cells.xlsx", xlsx(sheet(GOOD_SHEET + cells))), "单元格")


def test_highly_compressed_or_numerous_parts_are_refused(client: TestClient) -> None:
    zeros = xlsx(sheet(GOOD_SHEET), members={"xl/media/image1.bin": b"\0" * 8_000_000})
    refused(upload(client, "ratio.xlsx", zeros), "压缩")
    many = xlsx(sheet(GOOD_SHEET), members={f"xl/media/{i}.bin": b"" for i in range(3000)})
    refused(upload(client, "many.xlsx", many), "XLSX")


def test_style_and_sheet_amplifiers_are_refused(client: TestClient) -> None:
    # 30,000 cell formats in a few KB: openpyxl builds each (64,000 took 3.8 s, 300,000 14.8 s).
    xfs = "<xf/>" * 30_000
    styles = f'<styleSheet xmlns="{MAIN}"><cellXfs count="30000">{xfs}</cellXfs></styleSheet>'
    refused(
        upload(client, "styles.xlsx", xlsx(sheet(GOOD_SHEET), members={"xl/styles.xml": styles})),
        "样式",
    )
    # a thousand sheets on one part would have openpyxl parse that part a thousand times
    many = "".join(f'<sheet name="S{i}" sheetId="{i + 1}" r:id="rId1"/>' for i in range(1000))
    book = f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>{many}</sheets></workbook>'
    refused(
        upload(client, "sheets.xlsx", xlsx(sheet(GOOD_SHEET), members={"xl/workbook.xml": book})),
        "工作表",
    )
    two = many[: many.index('<sheet name="S2"')]
    book = f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>{two}</sheets></workbook>'
    refused(
        upload(client, "sheets.xlsx", xlsx(sheet(GOOD_SHEET), members={"xl/workbook.xml": book})),
        "工作表",
    )


# -- XML with a DTD, entities or another encoding: refused before any parser sees it -------

LAUGHS = "".join(f'<!ENTITY a{i} "{(f"&a{i - 1};" * 10) if i else "lol"}">' for i in range(10))


@pytest.mark.parametrize(
    ("part", "prolog", "cell"),
    [
        ("sheet", '<!DOCTYPE worksheet [<!ENTITY x "青岛市">]>', "&x;"),
        ("sheet", f"<!DOCTYPE worksheet [{LAUGHS}]>", "&a9;"),
        ("sheet", '<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "&x;"),
        ("sheet", '<!DOCTYPE worksheet SYSTEM "http://127.0.0.1:9/x.dtd">', "青岛市"),
        ("workbook", '<!DOCTYPE workbook [<!ENTITY x "S">]>', "青岛市"),
    ],
)
def test_xml_with_a_dtd_is_refused(client: TestClient, part: str, prolog: str, cell: str) -> None:
    decl = '<?xml version="1.0" encoding="UTF-8"?>'
    rows = row(1, *HEADERS) + row(2, GOOD_ROW[0], cell, *GOOD_ROW[2:])
    members = {}
    if part == "workbook":
        members["xl/workbook.xml"] = (
            f'{decl}{prolog}<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
            '<sheet name="&x;" sheetId="1" r:id="rId1"/></sheets></workbook>'
        )
        content = xlsx(sheet(rows), members=members)
    else:
        content = xlsx(sheet(rows, prolog=decl + prolog))
    refused(upload(client, "dtd.xlsx", content), "DTD")
    assert client.get("/api/v1/smes").json()["total"] == 0


def test_xml_in_another_encoding_is_refused(client: TestClient) -> None:
    dtd = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE worksheet [<!ENTITY x "青岛市">]>'
    utf16 = codecs.BOM_UTF16_LE + sheet(GOOD_SHEET, prolog=dtd).encode("utf-16-le")
    refused(upload(client, "utf16.xlsx", xlsx(utf16)), "XLSX")
    no_bom = sheet(GOOD_SHEET, prolog=dtd).encode("utf-16-be")
    refused(upload(client, "utf16.xlsx", xlsx(no_bom)), "XLSX")
    # single-byte encodings keep ASCII where it is (expat insists), so the DTD is still seen
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?><!DOCTYPE worksheet [<!ENTITY x "a">]>'
    refused(upload(client, "latin.xlsx", xlsx(sheet(GOOD_SHEET, prolog=latin))), "DTD")


# -- everything else a parser can choke on: 422 with a clear message, never a 500 ----------


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return out.getvalue()


def _encrypted_member() -> bytes:
    content = bytearray(xlsx(sheet(GOOD_SHEET)))
    # set the "encrypted" flag of every entry, local and central
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := content.find(sig, start)) != -1:
            content[start + offset] |= 1
            start += 4
    return bytes(content)


BROKEN = {
    "not a zip": b"PK\x03\x04 not really a workbook",
    "empty": b"",
    "text": "企业名称,所在城市\n甲,青岛市\n".encode(),
    "truncated": xlsx(sheet(GOOD_SHEET))[:-40],
    "no workbook": _zip({"[Content_Types].xml": b"<Types/>"}),
    "missing sheet": xlsx(sheet(GOOD_SHEET), members={"xl/worksheets/sheet1.xml": None}),
    "bad xml": xlsx(sheet(GOOD_SHEET).replace("</sheetData>", "")),
    "nul in xml": xlsx(sheet(GOOD_SHEET).replace("液压阀", "液压\0阀")),
    "nul reference": xlsx(sheet(GOOD_SHEET).replace("液压阀", "液压&#0;阀")),
    "bad dimension": xlsx(sheet(GOOD_SHEET, "A0:ZZZZZ9")),
    "bad cell ref": xlsx(sheet(GOOD_SHEET.replace('r="B2"', 'r="B-2"'))),
    "bad shared index": xlsx(
        sheet(row(1, *HEADERS) + '<row r="2"><c r="A2" t="s"><v>7</v></c></row>')
    ),
    "ole (encrypted xlsx or .xls)": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4000,
    "encrypted zip entries": _encrypted_member(),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_unreadable_workbooks_are_a_clear_422(client: TestClient, case: str) -> None:
    text = refused(upload(client, "broken.xlsx", BROKEN[case]))
    assert "XLSX" in text or "没有数据行" in text or "加密" in text


def test_encrypted_or_legacy_files_say_what_to_do(client: TestClient) -> None:
    ole = BROKEN["ole (encrypted xlsx or .xls)"]
    refused(upload(client, "secret.xlsx", ole), "密码")
    refused(upload(client, "old.xls", ole), ".xlsx")


def test_escaped_nul_in_a_cell_stays_text(client: TestClient) -> None:
    # XML cannot carry NUL (a raw or &#0; one is a parse error, see BROKEN); OOXML's _x0000_
    # escape is not expanded by openpyxl, so it arrives as the literal text, never as NUL.
    content = xlsx(sheet(row(1, *HEADERS) + row(2, "甲_x0000_公司", *GOOD_ROW[1:])))
    r = upload(client, "nul.xlsx", content)
    assert r.status_code == 201, r.text
    assert client.get(f"/api/v1/smes/{r.json()['ids'][0]}").json()["name"] == "甲_x0000_公司"


def test_a_formula_cell_imports_its_cached_value(client: TestClient) -> None:
    def inline(ref: str, text: str) -> str:
        return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'

    def workbook(name: str, city_cell: str) -> bytes:
        cells = inline("A2", name) + city_cell + inline("C2", GOOD_ROW[2]) + inline("D2", "阀")
        return xlsx(sheet(row(1, *HEADERS) + f'<row r="2">{cells}</row>'))

    formula = '<f>CONCATENATE("青岛","市")</f>'
    r = upload(
        client, "f.xlsx", workbook("甲公司", f'<c r="B2" t="str">{formula}<v>青岛市</v></c>')
    )
    assert r.status_code == 201, r.text
    assert client.get(f"/api/v1/smes/{r.json()['ids'][0]}").json()["city"] == "青岛市"
    # a formula without a cached value is an empty cell: the row error names it
    r = upload(client, "f.xlsx", workbook("乙公司", f'<c r="B2" t="str">{formula}</c>'))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["column"] == "所在城市"


def test_dates_import_as_dates(client: TestClient) -> None:
    from datetime import datetime

    leader = client.post("/api/v1/leaders", json=leader_payload()).json()
    wb = Workbook()
    ws = wb.active
    ws.append(["链主企业", "需求标题", "需求类型", "有效期至"])
    ws.append([leader["name"], "日期需求", "产品配套", datetime(2027, 6, 30)])
    buf = io.BytesIO()
    wb.save(buf)
    r = upload(client, "needs.xlsx", buf.getvalue(), kind="demands")
    assert r.status_code == 201, r.text
    assert client.get(f"/api/v1/demands/{r.json()['ids'][0]}").json()["valid_until"] == "2027-06-30"


# -- CSV: the field limit, NUL bytes, other encodings and dialects ------------------------

CSV_HEAD = ",".join(HEADERS)
CSV_ROW = ",".join(GOOD_ROW)


def test_csv_cell_over_the_field_limit_is_a_row_error(client: TestClient) -> None:
    body = f'{CSV_HEAD}\n{CSV_ROW}\n"{"甲" * 140_000}",青岛市,小巨人,阀门\n'
    refused(upload(client, "long.csv", body.encode()), "第 3 行")


def test_csv_with_nul_bytes_is_refused(client: TestClient) -> None:
    refused(upload(client, "nul.csv", f"{CSV_HEAD}\n甲\0公司,青岛市,小巨人,阀门\n".encode()))
    assert client.get("/api/v1/smes").json()["total"] == 0


def test_csv_empty_rows_count_against_the_limit(client: TestClient, settings) -> None:
    body = f"{CSV_HEAD}\n" + "\n" * (settings.max_bulk_rows + 5) + f"{CSV_ROW}\n"
    refused(upload(client, "blank.csv", body.encode()), "拆分")
    body = f"{CSV_HEAD}\n" + ",,,\n" * (settings.max_bulk_rows + 5) + f"{CSV_ROW}\n"
    refused(upload(client, "blank.csv", body.encode()), "拆分")


def test_csv_with_a_very_wide_row_is_refused(client: TestClient) -> None:
    body = f"{CSV_HEAD}\n{CSV_ROW}" + ",x" * 20_000 + "\n"
    refused(upload(client, "wide.csv", body.encode()), "列")


@pytest.mark.parametrize(
    ("label", "content"),
    [
        ("utf-8 bom", ("\ufeff" + f"{CSV_HEAD}\r\n{CSV_ROW}\r\n").encode()),
        (
            "utf-16 tab",
            ("\ufeff" + f"{CSV_HEAD}\n{CSV_ROW}\n".replace(",", "\t")).encode("utf-16-le"),
        ),
        ("utf-16 be", ("\ufeff" + f"{CSV_HEAD}\n{CSV_ROW}\n").encode("utf-16-be")),
        ("semicolons", f"{CSV_HEAD}\n{CSV_ROW}\n".replace(",", ";").encode()),
        ("old mac newlines", f"{CSV_HEAD}\r{CSV_ROW}\r".encode()),
        (
            "quoted newline",
            f'{CSV_HEAD}\n{GOOD_ROW[0]},青岛市,专精特新中小企业,"液压阀\n阀门"\n'.encode(),
        ),
    ],
)
def test_csv_dialects_and_encodings_import(client: TestClient, label: str, content: bytes) -> None:
    r = upload(client, "smes.csv", content)
    assert r.status_code == 201, (label, r.text)
    assert client.get(f"/api/v1/smes/{r.json()['ids'][0]}").json()["name"] == GOOD_ROW[0]


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe\x00",  # half a UTF-16 character
        "企业名称\n甲".encode("utf-32"),
        b'"unterminated,\n' * 3,
        b"PK\x03\x04" + b"\0" * 100,  # a workbook named .csv
        bytes(range(256)) * 4,
    ],
)
def test_odd_csv_bytes_are_a_clear_422(client: TestClient, content: bytes) -> None:
    refused(upload(client, "odd.csv", content))
