"""The organizer pages of the web console, through a signed-in browser-like client."""

import csv
import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.app.webforms import account, made
from tests.factories import demand_payload, leader_payload, sme_payload, uscc


def error_for(html: str, name: str) -> str:
    """The error message shown next to a field."""
    found = re.search(rf'data-error-for="{name}">([^<]*)<', html)
    assert found, f"no error shown for {name}"
    return found.group(1)


def cell(html: str, attr: str, value: str) -> str:
    """The HTML of the table row or element carrying attr="value"."""
    found = re.search(rf'<(\w+)[^>]*{attr}="{re.escape(value)}"[^>]*>(.*?)</\1>', html, re.S)
    assert found, f"no element with {attr}={value}"
    return found.group(2)


def grid_cell(html: str, slot: int, table: int) -> str:
    """The contents of one cell of the schedule grid."""
    found = re.search(rf'<td data-slot="{slot}" data-table="{table}">(.*?)</td>', html, re.S)
    assert found, f"no grid cell {slot}/{table}"
    return found.group(1)


@pytest.fixture
def organizer(client: TestClient) -> TestClient:
    return account(client, "organizer.wang", "organizer")


@pytest.fixture
def world(client: TestClient) -> dict[str, Any]:
    """Two leaders with one need each (equipment, it) and six SMEs of the equipment chain."""
    leaders = [
        made(client.post("/api/v1/leaders", json=leader_payload(name=f"链主{i}集团")))
        for i in range(2)
    ]
    demands = [
        made(
            client.post(
                "/api/v1/demands",
                json=demand_payload(
                    leaders[0]["id"], title="转向架构架焊接件", required_certifications=[]
                ),
            )
        ),
        made(
            client.post(
                "/api/v1/demands",
                json=demand_payload(
                    leaders[1]["id"],
                    title="IGBT功率模块国产替代",
                    chain="it",
                    keywords=["IGBT", "功率模块"],
                    required_certifications=[],
                ),
            )
        ),
    ]
    smes = []
    for i in range(6):
        product = "转向架构架焊接件" if i < 3 else "IGBT功率模块"
        smes.append(
            made(
                client.post(
                    "/api/v1/smes",
                    json=sme_payload(name=f"参会企业{i}有限公司", products=[product]),
                )
            )
        )
    return {"leaders": leaders, "demands": demands, "smes": smes}


EVENT_FORM = {
    "title": "高端装备产业链专场对接会",
    "chains": ["equipment", "it"],
    "date": "2027-03-18",
    "venue": "济南国际会展中心",
    "organizer": "省工信厅",
    "start_time": "10:30",
    "meeting_minutes": "30",
    "gap_minutes": "0",
    "slot_count": "4",
    "breaks": "11:30-13:00 午餐",
    "tables": "3",
    "leader_fixed_table": "1",
}


def make_event(web: TestClient, world: dict[str, Any]) -> int:
    """Create the event through the form and add every party; returns its id."""
    r = web.post("/organizer/events", data=EVENT_FORM, follow_redirects=False)
    assert r.status_code == 303, r.text
    event_id = int(re.search(r"/organizer/events/(\d+)", r.headers["location"]).group(1))
    leaders = [str(x["id"]) for x in world["leaders"]]
    r = web.post(
        f"/organizer/events/{event_id}/participants",
        data={"kind": "leader", "picked": leaders, "cap": "3"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    smes = ", ".join(str(x["id"]) for x in world["smes"])
    r = web.post(
        f"/organizer/events/{event_id}/participants",
        data={"kind": "sme", "ids": smes, "cap": "2"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return event_id


def test_dashboard_and_chain_map_show_counts_and_weak_links(
    client: TestClient, organizer: TestClient, world: dict
) -> None:
    r = organizer.get("/organizer")
    assert r.status_code == 200
    html = r.text
    assert "产业链看板" in html and "高端装备" in html
    coverage = made(client.get("/api/v1/chains/equipment/coverage"), 200)
    row = cell(html, "data-chain", "equipment")
    assert re.search(r'data-count="smes">6<', row)
    assert re.search(r'data-count="open_demands">1<', row)
    weak = len(coverage["weak_links"])
    assert weak > 0
    assert re.search(rf'data-count="weak_links">(<span[^>]*>)?{weak}<', row)
    it_row = cell(html, "data-chain", "it")
    assert re.search(r'data-count="open_demands">1<', it_row)
    assert 'href="/organizer/chains/equipment"' in html

    r = organizer.get("/organizer/chains/equipment")
    assert r.status_code == 200
    page = r.text
    assert f"薄弱环节（{weak}）" in page
    for code in coverage["weak_links"]:
        assert f'data-weak-link="{code}"' in page
    # every link of the chain appears once in the map, coloured by its stage
    for link in coverage["links"]:
        assert page.count(f'data-link="{link["link"]}"') == 1
    assert "上游" in page and "中游" in page and "下游" in page
    assert "stage-up" in page and "stage-down" in page
    # weak links are listed before the sub-chains
    assert page.index('id="weak"') < page.index('class="card sub-chain"')
    assert organizer.get("/organizer/chains/nope").status_code == 404


def test_event_form_errors_in_place_then_a_valid_event(organizer: TestClient) -> None:
    bad = {**EVENT_FORM, "date": "明天", "breaks": "13:30-12:00", "tables": "0"}
    r = organizer.post("/organizer/events", data=bad)
    assert r.status_code == 422
    assert "日期" in error_for(r.text, "date")
    assert "休息结束时间须晚于开始时间" in error_for(r.text, "breaks")
    assert error_for(r.text, "tables")
    # the form keeps what was typed
    assert 'value="高端装备产业链专场对接会"' in r.text and 'value="13:30-12:00"' in r.text
    r = organizer.post("/organizer/events", data={**EVENT_FORM, "breaks": "12:00"})
    assert r.status_code == 422 and "时间格式应为 HH:MM" in error_for(r.text, "breaks")
    r = organizer.post("/organizer/events", data={**EVENT_FORM, "title": ""})
    assert r.status_code == 422 and error_for(r.text, "title")
    assert (
        "高端装备产业链专场对接会"
        not in organizer.get("/organizer/events").text.split('id="new"')[0]
    )

    r = organizer.post("/organizer/events", data=EVENT_FORM)
    assert r.status_code == 200 and "已创建对接活动" in r.text
    assert "10:30-11:00" in r.text and "13:00-13:30" in r.text  # slots skip the lunch break
    listing = organizer.get("/organizer/events").text
    assert "高端装备产业链专场对接会" in listing


def test_plan_match_list_schedule_and_grid(
    client: TestClient, organizer: TestClient, world: dict
) -> None:
    event_id = make_event(organizer, world)
    plan = organizer.get(f"/organizer/events/{event_id}").text
    assert re.search(r'data-count="leaders">2<', plan) and re.search(r'data-count="smes">6<', plan)
    # a bad participant id is shown in place and adds nothing
    r = organizer.post(
        f"/organizer/events/{event_id}/participants", data={"kind": "sme", "ids": "999999, abc"}
    )
    assert r.status_code == 422
    message = error_for(r.text, "ids")
    assert "abc：应为整数" in message
    r = organizer.post(
        f"/organizer/events/{event_id}/participants", data={"kind": "sme", "ids": "999999"}
    )
    assert r.status_code == 422 and "中小企业档案 999999 不存在" in error_for(r.text, "ids")
    assert len(made(client.get(f"/api/v1/events/{event_id}/participants"), 200)) == 8

    l0 = world["leaders"][0]["id"]
    s0, s5 = world["smes"][0]["id"], world["smes"][5]["id"]
    r = organizer.post(
        f"/organizer/events/{event_id}/preferences",
        data={"leader_id": str(l0), "sme_id": str(s0), "side": "leader", "mark": "no"},
    )
    assert r.status_code == 200 and "已保存配对标记" in r.text and "不安排" in r.text
    r = organizer.post(
        f"/organizer/events/{event_id}/preferences",
        data={"leader_id": str(l0), "sme_id": str(s5), "side": "leader", "mark": "must"},
    )
    assert r.status_code == 200

    r = organizer.post(f"/organizer/events/{event_id}/match-list")
    assert r.status_code == 200 and "已生成匹配清单" in r.text
    assert "覆盖中小企业" in r.text and "贪心" in r.text
    # a participant can be taken off again (and a stranger is a 404, not a 500)
    extra = made(client.post("/api/v1/smes", json=sme_payload(name="临时参会企业有限公司")))
    organizer.post(
        f"/organizer/events/{event_id}/participants", data={"kind": "sme", "ids": str(extra["id"])}
    )
    r = organizer.post(f"/organizer/events/{event_id}/participants/S{extra['id']}/remove")
    assert r.status_code == 200 and f"已移除参会方 S{extra['id']}" in r.text
    assert len(made(client.get(f"/api/v1/events/{event_id}/participants"), 200)) == 8
    r = organizer.post(f"/organizer/events/{event_id}/participants/X1/remove")
    assert r.status_code == 404 and "X1 不是本活动的参会方" in r.text
    chosen = made(client.get(f"/api/v1/events/{event_id}/schedule"), 200)["unplaced"]
    pairs = {(m["leader_id"], m["sme_id"]) for m in chosen}
    assert (l0, s0) not in pairs and (l0, s5) in pairs

    r = organizer.post(f"/organizer/events/{event_id}/schedule")
    assert r.status_code == 200 and "已排定日程" in r.text
    schedule = made(client.get(f"/api/v1/events/{event_id}/schedule"), 200)
    assert schedule["meetings"] and schedule["conflicts"] == []
    grid = organizer.get(f"/organizer/events/{event_id}/schedule").text
    for m in schedule["meetings"]:
        td = grid_cell(grid, m["slot"], m["table"])
        assert f'data-meeting-id="{m["id"]}"' in td
        assert f"{m['leader_name']} ↔ {m['sme_name']}" in td
    must = next(m for m in schedule["meetings"] if m["sme_id"] == s5)
    assert re.search(rf'class="cell-meeting[^"]* must"[^>]*data-meeting-id="{must["id"]}"', grid)
    assert f"/api/v1/events/{event_id}/schedule?format=xlsx" in grid
    assert 'class="break-row"' in grid and "午餐" in grid
    assert f"/api/v1/events/{event_id}/agenda?party=S{s0}&amp;format=ics" in grid


def test_edit_basics_with_errors_in_place_and_a_stale_version(
    client: TestClient, organizer: TestClient
) -> None:
    r = organizer.post("/organizer/events", data=EVENT_FORM, follow_redirects=False)
    event_id = int(r.headers["location"].split("/")[-1].split("?")[0])
    page = organizer.get(f"/organizer/events/{event_id}").text
    assert 'name="version" value="1"' in page and 'value="11:30-13:00 午餐"' in page
    edit = {**EVENT_FORM, "status": "planning", "notes": "", "version": "1"}
    r = organizer.post(f"/organizer/events/{event_id}", data={**edit, "start_time": "25:00"})
    assert r.status_code == 422 and "时间无效" in error_for(r.text, "start_time")
    r = organizer.post(f"/organizer/events/{event_id}", data={**edit, "slot_count": "60"})
    assert r.status_code == 422 and "午夜" in error_for(r.text, "slot_count")
    r = organizer.post(f"/organizer/events/{event_id}", data={**edit, "venue": "青岛国际会议中心"})
    assert r.status_code == 200 and "已保存活动信息" in r.text
    event = made(client.get(f"/api/v1/events/{event_id}"), 200)
    assert event["venue"] == "青岛国际会议中心" and event["version"] == 2
    assert event["breaks"] == [{"start": "11:30", "end": "13:00", "title": "午餐"}]
    # a second save from the same (now stale) form is refused and changes nothing
    r = organizer.post(f"/organizer/events/{event_id}", data={**edit, "venue": "别处"})
    assert r.status_code == 409 and 'class="alert"' in r.text
    assert made(client.get(f"/api/v1/events/{event_id}"), 200)["venue"] == "青岛国际会议中心"
    assert organizer.get("/organizer/events/999999").status_code == 404


def test_conflicting_move_is_shown_and_changes_nothing(
    client: TestClient, organizer: TestClient, world: dict
) -> None:
    event_id = make_event(organizer, world)
    organizer.post(f"/organizer/events/{event_id}/match-list")
    organizer.post(f"/organizer/events/{event_id}/schedule")
    before = made(client.get(f"/api/v1/events/{event_id}/schedule"), 200)
    meetings = before["meetings"]
    a = meetings[0]
    clash = next(m for m in meetings if m["leader_id"] == a["leader_id"] and m["id"] != a["id"])
    r = organizer.post(
        f"/organizer/meetings/{a['id']}/move",
        data={"slot": str(clash["slot"]), "table": str(a["table"]), "version": str(a["version"])},
    )
    assert r.status_code == 409
    assert "调整后与日程冲突" in r.text and 'class="conflict-list"' in r.text
    assert a["leader_name"] in cell(r.text, "class", "conflict-list")
    assert "仍然保存（强制）" in r.text
    # the grid on the refused page shows what is stored, not the move the service flushed
    assert f'data-meeting-id="{a["id"]}"' in grid_cell(r.text, a["slot"], a["table"])
    assert f'data-meeting-id="{a["id"]}"' not in grid_cell(r.text, clash["slot"], a["table"])
    after = made(client.get(f"/api/v1/events/{event_id}/schedule"), 200)
    assert after["meetings"] == before["meetings"] and after["conflicts"] == []

    # a stale version is refused with the API's message, a tampered slot with the schema's
    r = organizer.post(
        f"/organizer/meetings/{a['id']}/move", data={"slot": "0", "table": "0", "version": "99"}
    )
    assert r.status_code == 409 and "未保存" in r.text
    r = organizer.post(f"/organizer/meetings/{a['id']}/move", data={"slot": "x", "table": "0"})
    assert r.status_code == 422 and "应为整数" in r.text
    assert made(client.get(f"/api/v1/events/{event_id}/schedule"), 200) == before

    # a free cell: the move is saved and locked; forcing a clash keeps it and lists it
    def busy(m: dict) -> set[int]:
        return {
            x["slot"]
            for x in meetings
            if x["id"] != m["id"]
            and (x["leader_id"] == m["leader_id"] or x["sme_id"] == m["sme_id"])
        }

    movable = next(m for m in meetings if set(range(4)) - busy(m) - {m["slot"]})
    free = min(set(range(4)) - busy(movable) - {movable["slot"]})
    r = organizer.post(
        f"/organizer/meetings/{movable['id']}/move",
        data={
            "slot": str(free),
            "table": str(movable["table"]),
            "version": str(movable["version"]),
        },
    )
    assert r.status_code == 200 and "已移动会谈" in r.text
    moved = next(
        m
        for m in made(client.get(f"/api/v1/events/{event_id}/schedule"), 200)["meetings"]
        if m["id"] == movable["id"]
    )
    assert moved["slot"] == free and moved["locked"] is True
    grid = organizer.get(f"/organizer/events/{event_id}/schedule").text
    assert f'data-meeting-id="{moved["id"]}"' in grid_cell(grid, free, moved["table"])
    assert 'class="cell-meeting locked' in grid
    r = organizer.post(
        f"/organizer/meetings/{a['id']}/move",
        data={"slot": str(clash["slot"]), "table": str(a["table"]), "force": "1"},
    )
    assert r.status_code == 200 and "强制保存" in r.text
    assert made(client.get(f"/api/v1/events/{event_id}/schedule"), 200)["conflicts"]
    r = organizer.post(f"/organizer/meetings/{a['id']}/cancel")
    assert r.status_code == 200 and "已取消会谈" in r.text
    assert made(client.get(f"/api/v1/events/{event_id}/schedule"), 200)["conflicts"] == []


def test_outcomes_and_report(client: TestClient, organizer: TestClient, world: dict) -> None:
    event_id = make_event(organizer, world)
    organizer.post(f"/organizer/events/{event_id}/match-list")
    organizer.post(f"/organizer/events/{event_id}/schedule")
    meetings = made(client.get(f"/api/v1/events/{event_id}/schedule"), 200)["meetings"]
    m0 = meetings[0]
    page = organizer.get(f"/organizer/events/{event_id}/outcomes")
    assert (
        page.status_code == 200 and f'action="/organizer/meetings/{m0["id"]}/outcome"' in page.text
    )
    r = organizer.post(
        f"/organizer/meetings/{m0['id']}/outcome",
        data={"held": "false", "outcome": "signed", "amount": ""},
    )
    assert r.status_code == 422 and "未到场的会谈不能有合作成果" in r.text
    r = organizer.post(
        f"/organizer/meetings/{m0['id']}/outcome",
        data={"held": "true", "outcome": "intention", "amount": "-5"},
    )
    assert r.status_code == 422 and error_for(r.text, "amount")
    r = organizer.post(
        f"/organizer/meetings/{m0['id']}/outcome",
        data={"held": "true", "outcome": "signed", "amount": "150", "note": "当场签约"},
    )
    assert r.status_code == 200 and "已登记会谈成果" in r.text
    report = organizer.get(f"/organizer/events/{event_id}/report")
    assert report.status_code == 200
    assert f'src="/api/v1/events/{event_id}/report?format=png"' in report.text
    assert "150.0" in report.text and "按链主" in report.text and "按产业链" in report.text
    totals = made(client.get(f"/api/v1/events/{event_id}/report"), 200)["totals"]
    assert totals["signings"] == 1 and totals["amount_wan_yuan"] == 150


def test_import_with_a_bad_row_lists_it_and_stores_nothing(
    client: TestClient, organizer: TestClient
) -> None:
    page = organizer.get("/organizer/import")
    assert page.status_code == 200 and "/api/v1/import/smes/template?format=xlsx" in page.text
    header = ["企业名称", "统一社会信用代码", "所在城市", "企业梯度", "主营产品"]
    rows = [
        ["济南示例精密有限公司", uscc(), "济南市", "专精特新中小企业", "精密齿轮"],
        ["苏州错误有限公司", "91370200163562681H", "苏州市", "大型", "轴承"],
    ]
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    before = made(client.get("/api/v1/smes"), 200)["total"]
    r = organizer.post(
        "/organizer/import",
        data={"kind": "smes", "mode": "insert"},
        files={"file": ("smes.csv", buf.getvalue().encode("utf-8"), "text/csv")},
    )
    assert r.status_code == 422
    table = cell(r.text, "class", "list problem-table")
    assert "<th>行</th><th>列</th><th>问题</th>" in table
    found = re.findall(r'<td data-label="行">(\d+)</td>\s*<td data-label="列">([^<]*)</td>', table)
    assert ("3", "所在城市") in found and ("3", "统一社会信用代码") in found
    assert all(row == "3" for row, _ in found)
    assert made(client.get("/api/v1/smes"), 200)["total"] == before

    r = organizer.post(
        "/organizer/import",
        data={"kind": "smes", "mode": "insert"},
        files={"file": ("smes.gbk.csv", "企业名称\n示例".encode("gbk"), "text/csv")},
    )
    assert r.status_code == 422 and "UTF-8" in r.text
    r = organizer.post("/organizer/import", data={"kind": "smes", "mode": "insert"})
    assert r.status_code == 422 and "请选择要上传的" in r.text

    buf = io.StringIO()
    csv.writer(buf).writerows([header, rows[0]])
    r = organizer.post(
        "/organizer/import",
        data={"kind": "smes", "mode": "upsert"},
        files={"file": ("smes.csv", buf.getvalue().encode("utf-8"), "text/csv")},
    )
    assert r.status_code == 200 and "导入成功" in r.text and "新增 1 条" in r.text
    assert made(client.get("/api/v1/smes"), 200)["total"] == before + 1


def test_a_large_upload_is_queued_and_its_page_follows_the_job(
    client: TestClient, organizer: TestClient, session_factory, settings
) -> None:
    from app.services import import_jobs

    # A threshold the test's files pass: the same flow a 10,000-row sheet takes.
    settings.console_import_job_bytes = 100
    header = ["企业名称", "统一社会信用代码", "所在城市", "企业梯度", "主营产品"]
    good = [
        [f"日照排队{i}号机械有限公司", uscc(), "日照市", "专精特新中小企业", "齿轮"]
        for i in range(3)
    ]
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *good])
    before = made(client.get("/api/v1/smes"), 200)["total"]
    r = organizer.post(
        "/organizer/import",
        data={"kind": "smes", "mode": "insert"},
        files={"file": ("big.csv", buf.getvalue().encode("utf-8"), "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    url = r.headers["location"]
    assert re.fullmatch(r"/organizer/import/jobs/\d+", url)
    page = organizer.get(url)
    assert "已排队导入" in page.text and "排队中" in page.text
    assert '<meta http-equiv="refresh" content="2">' in page.text
    assert made(client.get("/api/v1/smes"), 200)["total"] == before
    runtime = client.app.state.matching
    import_jobs.run_next(session_factory, settings, runtime, "w", runtime.after_commit)
    page = organizer.get(url)
    assert "已完成" in page.text and "新增 3 条" in page.text
    assert 'http-equiv="refresh"' not in page.text
    assert made(client.get("/api/v1/smes"), 200)["total"] == before + 3
    # A bad row: the job page lists it as the synchronous import does; nothing stored.
    buf = io.StringIO()
    csv.writer(buf).writerows(
        [header, *good[:1], ["外省有限公司", uscc(), "苏州市", "大型", "轴承"]]
    )
    r = organizer.post(
        "/organizer/import",
        data={"kind": "smes", "mode": "insert"},
        files={"file": ("bad.csv", buf.getvalue().encode("utf-8"), "text/csv")},
    )
    import_jobs.run_next(session_factory, settings, runtime, "w", runtime.after_commit)
    page = organizer.get(str(r.url))
    assert "未导入" in page.text
    found = re.findall(
        r'<td data-label="行">(\d+)</td>\s*<td data-label="列">([^<]*)</td>', page.text
    )
    assert ("3", "所在城市") in found
    assert made(client.get("/api/v1/smes"), 200)["total"] == before + 3
    # The import page lists this organizer's jobs; another organizer cannot open them.
    listing = organizer.get("/organizer/import").text
    assert f'href="{url}"' in listing and "（" in listing
    other = account(client, "organizer.li", "organizer")
    assert other.get(url).status_code == 404
    assert f'href="{url}"' not in other.get("/organizer/import").text


def test_other_roles_get_403_and_anonymous_users_go_to_login(
    client: TestClient, anon_client: TestClient, world: dict
) -> None:
    leader = account(client, "leader.zhang", "leader", leader_id=world["leaders"][0]["id"])
    sme = account(client, "sme.li", "sme", sme_id=world["smes"][0]["id"])
    for web in (leader, sme):
        for url in ("/organizer", "/organizer/events", "/organizer/import"):
            r = web.get(url)
            assert r.status_code == 403, url
            assert "无权访问" in r.text
        assert web.post("/organizer/events", data=EVENT_FORM).status_code == 403
    r = anon_client.get("/organizer/events", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_an_outcome_note_is_shown_again_and_kept_by_a_later_save(
    client: TestClient, organizer: TestClient, world: dict
) -> None:
    """Issue 14, data bug 1: the 备注 was saved but never shown again, and saving the outcome
    form later (amount 320 -> 350 万元) erased it."""
    from tests.app.webforms import rendered_form

    event_id = make_event(organizer, world)
    organizer.post(f"/organizer/events/{event_id}/match-list")
    organizer.post(f"/organizer/events/{event_id}/schedule")
    m0 = made(client.get(f"/api/v1/events/{event_id}/schedule"), 200)["meetings"][0]
    action = f"/organizer/meetings/{m0['id']}/outcome"
    first = {"held": "true", "outcome": "signed", "amount": "320", "note": "首批订单 2027Q1 交付"}
    assert organizer.post(action, data=first).status_code == 200
    fields = rendered_form(organizer, f"/organizer/events/{event_id}/outcomes", action)
    assert fields["note"] == ["首批订单 2027Q1 交付"]
    fields["amount"] = ["350"]
    assert organizer.post(action, data=fields).status_code == 200
    (stored,) = [
        m
        for m in made(client.get(f"/api/v1/events/{event_id}/schedule"), 200)["meetings"]
        if m["id"] == m0["id"]
    ]
    assert (stored["amount"], stored["note"]) == (350, "首批订单 2027Q1 交付")
