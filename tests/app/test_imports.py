"""CSV and XLSX imports: templates, header mapping, every bad row reported, all or nothing."""

import io

from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from tests.factories import leader_payload, uscc

HEAD = "企业名称,统一社会信用代码,所在城市,企业梯度,主营产品,资质证书,所属产业链代码,是否出口"


def upload(client: TestClient, kind: str, name: str, content: bytes, **params):
    return client.post(f"/api/v1/import/{kind}", params=params, files={"file": (name, content)})


def test_templates_have_chinese_headers(client: TestClient) -> None:
    r = client.get("/api/v1/import/smes/template")
    ws = load_workbook(io.BytesIO(r.content)).active
    headers = [c.value for c in ws[1]]
    assert headers[:3] == ["企业名称", "统一社会信用代码", "所在城市"]
    csv_template = client.get("/api/v1/import/demands/template", params={"format": "csv"})
    assert csv_template.content.decode("utf-8-sig").startswith("链主企业,需求标题")


def test_csv_import_then_upsert(client: TestClient) -> None:
    code = uscc()
    body = (
        f"{HEAD}\n"
        f"青岛甲有限公司,{code},青岛,专精特新中小企业,转向架构架、制动夹钳,ISO9001；CRCC,equipment,否\n"
        f"淄博乙有限公司,,淄博市,创新型中小企业,氧化锆陶瓷,,materials,是\n"
    )
    r = upload(client, "smes", "smes.csv", body.encode("utf-8-sig"))
    assert r.status_code == 201, r.text
    assert r.json()["created"] == 2 and r.json()["updated"] == 0
    first = client.get(f"/api/v1/smes/{r.json()['ids'][0]}").json()
    assert first["city"] == "青岛市" and first["certifications"] == ["ISO 9001", "CRCC"]
    assert [p["name"] for p in first["products"]] == ["转向架构架", "制动夹钳"]
    # the same file again: refused without upsert, idempotent with it
    again = upload(client, "smes", "smes.csv", body.encode("utf-8"))
    assert again.status_code == 422
    assert (
        again.json()["detail"][0]["row"] == 2
        and again.json()["detail"][0]["column"] == "统一社会信用代码"
    )
    up = upload(client, "smes", "smes.csv", body.encode("utf-8"), mode="upsert")
    assert up.status_code == 201 and up.json()["updated"] == 1 and up.json()["created"] == 1
    assert up.json()["ids"][0] == first["id"]
    assert client.get("/api/v1/smes").json()["total"] == 3  # the row without a code is new again


def test_every_bad_row_and_column_is_reported(client: TestClient) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["企业名称", "信用代码", "城市", "梯度", "产品", "研发投入占比"])
    ws.append(["好企业有限公司", uscc(), "济南市", "小巨人", "液压阀", "5"])
    ws.append(["坏企业一", "91370200163562681H", "苏州市", "小巨人", "液压阀", "abc"])
    ws.append(["", uscc(), "济南市", "大型", "", ""])
    buf = io.BytesIO()
    wb.save(buf)
    r = upload(client, "smes", "smes.xlsx", buf.getvalue())
    assert r.status_code == 422
    cells = {(e["row"], e["column"]) for e in r.json()["detail"]}
    assert {(3, "统一社会信用代码"), (3, "所在城市"), (3, "研发投入占比(%)")} <= cells
    assert {(4, "企业名称"), (4, "企业梯度"), (4, "主营产品")} <= cells
    assert all(e["row"] != 2 for e in r.json()["detail"])
    assert client.get("/api/v1/smes").json()["total"] == 0


def test_unreadable_files_are_refused_clearly(client: TestClient) -> None:
    gbk = f"{HEAD}\n青岛甲有限公司,,青岛市,专精特新中小企业,阀门,,,否\n".encode("gbk")
    r = upload(client, "smes", "smes.csv", gbk)
    assert r.status_code == 422 and "GBK" in r.json()["detail"][0]["msg_zh"]
    r = upload(client, "smes", "smes.xlsx", b"PK\x03\x04 not really a workbook")
    assert r.status_code == 422 and "XLSX" in r.json()["detail"][0]["msg_zh"]
    r = upload(client, "smes", "smes.txt", b"x")
    assert r.status_code == 422
    r = upload(client, "smes", "smes.csv", "企业名称,奇怪的列\n甲,乙\n".encode())
    assert "奇怪的列" in r.json()["detail"][0]["msg_zh"]
    r = upload(client, "smes", "smes.csv", f"{HEAD}\n".encode())
    assert "没有数据行" in r.json()["detail"][0]["msg_zh"]


def test_too_many_rows_are_refused(client: TestClient, settings) -> None:
    line = "甲有限公司,,青岛市,专精特新中小企业,阀门,,,否\n"
    body = (HEAD + "\n" + line * (settings.max_bulk_rows + 1)).encode()
    r = upload(client, "smes", "big.csv", body)
    assert r.status_code == 422 and "拆分" in r.json()["detail"][0]["msg_zh"]


def test_demand_import_names_the_leader(client: TestClient) -> None:
    leader = client.post("/api/v1/leaders", json=leader_payload(name="导入链主集团")).json()
    body = (
        "链主企业,需求标题,需求类型,产业链代码,必备资质,优先资质,预算(万元),有效期至\n"
        "导入链主集团,液压油缸配套,产品配套,construction-machinery,"
        "ISO 9001,ISO 14001,面议,2027-12-31\n"
        "不存在的集团,某需求,产品配套,,,,,\n"
        "导入链主集团,,买东西,,,,,明年\n"
    )
    r = upload(client, "demands", "needs.csv", body.encode())
    assert r.status_code == 422
    cells = {(e["row"], e["column"]) for e in r.json()["detail"]}
    assert cells == {(3, "链主企业"), (4, "需求标题"), (4, "需求类型"), (4, "有效期至")}
    ok = upload(client, "demands", "needs.csv", "\n".join(body.splitlines()[:2]).encode())
    assert ok.status_code == 201, ok.text
    demand = client.get(f"/api/v1/demands/{ok.json()['ids'][0]}").json()
    assert demand["leader_id"] == leader["id"]
    assert demand["required_certifications"] == [
        {"name": "ISO 9001", "must": True},
        {"name": "ISO 14001", "must": False},
    ]
    assert demand["budget"]["negotiable"] is True


def test_a_duplicate_credit_code_names_the_sheet_row_it_repeats(client: TestClient) -> None:
    """Issue 14, data bug 4: row 4 repeating row 2's code was reported as "与第 1 行重复"."""
    code = uscc()
    body = (
        f"{HEAD}\n"
        f"青岛甲有限公司,{code},青岛市,专精特新中小企业,转向架构架,,equipment,否\n"
        f"淄博乙有限公司,{uscc()},淄博市,创新型中小企业,氧化锆陶瓷,,materials,否\n"
        f"青岛丙有限公司,{code},青岛市,专精特新中小企业,制动夹钳,,equipment,否\n"
    )
    r = upload(client, "smes", "smes.csv", body.encode("utf-8"))
    assert r.status_code == 422
    (error,) = r.json()["detail"]
    assert (error["row"], error["column"]) == (4, "统一社会信用代码")
    assert "与第 2 行重复" in error["msg_zh"]


def test_the_template_example_row_is_not_imported(client: TestClient) -> None:
    """Issue 14, data bug 4: the template's example row imported as a real record."""
    template = client.get("/api/v1/import/smes/template", params={"format": "csv"}).content
    lines = template.decode("utf-8-sig").splitlines()
    own = f"青岛甲有限公司,{uscc()},青岛市,,,专精特新中小企业,转向架构架"
    body = "\n".join([*lines, own]) + "\n"
    r = upload(client, "smes", "smes.csv", body.encode("utf-8"))
    assert r.status_code == 201, r.text
    assert r.json()["created"] == 1
    names = [s["name"] for s in client.get("/api/v1/smes").json()["items"]]
    assert names == ["青岛甲有限公司"]
    # Only the example itself: nothing to import, said plainly.
    r = upload(client, "smes", "smes.csv", template)
    assert r.status_code == 422 and "示例" in r.text


def test_a_past_valid_until_is_refused(client: TestClient) -> None:
    """Issue 14, data bug 4: a need valid until a past date was accepted."""
    leader = client.post("/api/v1/leaders", json=leader_payload()).json()
    body = (
        "链主编号,需求标题,需求类型,有效期至\n"
        f"{leader['id']},转向架构架焊接件配套,产品配套,2020-01-31\n"
    )
    r = upload(client, "demands", "demands.csv", body.encode("utf-8"))
    assert r.status_code == 422
    (error,) = r.json()["detail"]
    assert (error["row"], error["column"]) == (2, "有效期至")
    assert "已过" in error["msg_zh"]


def test_chains_and_links_are_read_by_chinese_name_as_well_as_code(client: TestClient) -> None:
    """Issue 14: the import refused Chinese chain names and pointed users at /api/v1/chains."""
    body = (
        "企业名称,所在城市,企业梯度,主营产品,所属产业链,产业链环节\n"
        "青岛甲有限公司,青岛市,专精特新中小企业,构架焊接件,高端装备产业链、新能源装备,转向架\n"
    )
    r = upload(client, "smes", "smes.csv", body.encode("utf-8"))
    assert r.status_code == 201, r.text
    sme = client.get(f"/api/v1/smes/{r.json()['ids'][0]}").json()
    assert (sme["chains"], sme["links"]) == (["equipment", "new-energy"], ["equipment-07"])
    leader = client.post("/api/v1/leaders", json=leader_payload()).json()
    body = (
        "链主编号,需求标题,需求类型,产业链,产业链环节\n"
        f"{leader['id']},构架配套,产品配套,高端装备,转向架\n"
    )
    r = upload(client, "demands", "demands.csv", body.encode("utf-8"))
    assert r.status_code == 201, r.text
    need = client.get(f"/api/v1/demands/{r.json()['ids'][0]}").json()
    assert (need["chain"], need["link"]) == ("equipment", "equipment-07")
    bad = (
        "企业名称,所在城市,企业梯度,主营产品,所属产业链\n"
        "乙有限公司,青岛市,专精特新中小企业,阀门,火星产业\n"
    )
    r = upload(client, "smes", "smes.csv", bad.encode("utf-8"))
    assert r.status_code == 422
    message = r.json()["detail"][0]["msg_zh"]
    assert "火星产业" in message and "名称或代码" in message and "/api/" not in message
