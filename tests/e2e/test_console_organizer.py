"""Organizer pages in a real browser: chain dashboard, an event from plan to report, import."""

import re
import secrets
from pathlib import Path

import httpx
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.factories import demand_payload, leader_payload, sme_payload, uscc

PASSWORD = "correct horse 42"


def api(live_server, method: str, path: str, payload: dict | None = None, code: int = 200):
    """Seed or read through the API with the admin token."""
    r = httpx.request(
        method, f"{live_server.api}{path}", json=payload, headers=live_server.admin_headers
    )
    assert r.status_code == code, r.text
    return r.json()


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#f-username", username)
    page.fill("#f-password", PASSWORD)
    page.click("form.form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/organizer$"))


def seed(live_server, tag: str) -> dict:
    """Two leaders with a need each, six SMEs (three per need) and an organizer account."""
    leaders = [
        api(live_server, "POST", "/leaders", leader_payload(name=f"链主{i}集团{tag}"), 201)
        for i in range(2)
    ]
    demands = [
        api(
            live_server,
            "POST",
            "/demands",
            demand_payload(
                leaders[0]["id"], title=f"转向架构架焊接件{tag}", required_certifications=[]
            ),
            201,
        ),
        api(
            live_server,
            "POST",
            "/demands",
            demand_payload(
                leaders[1]["id"],
                title=f"IGBT功率模块国产替代{tag}",
                chain="it",
                keywords=["IGBT", "功率模块"],
                required_certifications=[],
            ),
            201,
        ),
    ]
    smes = [
        api(
            live_server,
            "POST",
            "/smes",
            sme_payload(
                name=f"参会企业{i}有限公司{tag}",
                products=["转向架构架焊接件" if i < 3 else "IGBT功率模块"],
                chains=["equipment"] if i < 3 else ["it"],
            ),
            201,
        )
        for i in range(6)
    ]
    username = f"organizer{tag}"
    api(
        live_server,
        "POST",
        "/users",
        {"username": username, "password": PASSWORD, "role": "organizer"},
        201,
    )
    return {"leaders": leaders, "demands": demands, "smes": smes, "username": username}


def no_sideways_scroll(page: Page) -> None:
    """The page fits the viewport's width; wide tables scroll inside their .table-wrap."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


def test_organizer_plans_schedules_adjusts_and_exports_an_event(
    live_server, page: Page, phone_page: Page, screenshot, tmp_path: Path
) -> None:
    tag = secrets.token_hex(3)
    world = seed(live_server, tag)
    base = live_server.base_url
    sign_in(page, base, world["username"])

    # The chain dashboard and one chain's map.
    expect(page.locator("h1")).to_have_text("产业链看板")
    row = page.locator("tr[data-chain=equipment]")
    expect(row).to_contain_text("高端装备")
    coverage = api(live_server, "GET", "/chains/equipment/coverage")
    expect(row.locator("[data-count=weak_links]")).to_have_text(str(len(coverage["weak_links"])))
    screenshot(page, "organizer-dashboard")
    row.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/organizer/chains/equipment$"))
    expect(page.locator("#weak h2")).to_contain_text("薄弱环节")
    expect(page.locator(".sub-chain").first).to_be_visible()
    expect(page.locator(".stage-up h3").first).to_have_text("上游")
    screenshot(page, "organizer-chain-map")

    # Create the event: a bad break is refused in place, then corrected.
    page.click("nav >> text=对接活动")
    expect(page).to_have_url(re.compile(r"/organizer/events$"))
    title = f"高端装备产业链专场对接会{tag}"
    page.fill("#f-title", title)
    page.check("input[name=chains][value=equipment]")
    page.check("input[name=chains][value=it]")
    page.fill("#f-date", "2027-03-18")
    page.fill("#f-venue", "济南国际会展中心")
    page.fill("#f-organizer", "省工信厅")
    page.fill("#f-start_time", "10:30")
    page.fill("#f-meeting_minutes", "30")
    page.fill("#f-gap_minutes", "0")
    page.fill("#f-slot_count", "4")
    page.fill("#f-tables", "3")
    page.fill("#f-breaks", "13:00-11:30")
    page.click("#new button[type=submit]")
    expect(page.locator("[data-error-for=breaks]")).to_contain_text("休息结束时间须晚于开始时间")
    expect(page.locator("#f-title")).to_have_value(title)
    page.fill("#f-breaks", "11:30-13:00 午餐")
    page.click("#new button[type=submit]")
    expect(page).to_have_url(re.compile(r"/organizer/events/\d+"))
    expect(page.locator(".notice")).to_contain_text("已创建对接活动")
    event_id = int(re.search(r"/organizer/events/(\d+)", page.url).group(1))

    # Participants: leaders picked from the list, SMEs typed as ids.
    page.select_option("#pick-leader", [str(x["id"]) for x in world["leaders"]])
    page.fill("#cap-leader", "3")
    page.click("#add-leader button[type=submit]")
    expect(page.locator(".notice")).to_contain_text("已添加 2 家链主企业")
    page.fill("#ids-sme", "、".join(str(x["id"]) for x in world["smes"]))
    page.fill("#cap-sme", "2")
    page.click("#add-sme button[type=submit]")
    expect(page.locator(".notice")).to_contain_text("已添加 6 家中小企业")
    expect(page.locator("[data-count=leaders]")).to_have_text("2")
    expect(page.locator("[data-count=smes]")).to_have_text("6")

    page.get_by_role("button", name="生成匹配清单").click()
    expect(page.locator(".notice")).to_contain_text("已生成匹配清单")
    expect(page.locator(".notice")).to_contain_text("覆盖中小企业")
    screenshot(page, "organizer-event")

    page.get_by_role("button", name="排定日程").click()
    expect(page).to_have_url(re.compile(rf"/organizer/events/{event_id}/schedule"))
    expect(page.locator(".notice")).to_contain_text("已排定日程")
    schedule = api(live_server, "GET", f"/events/{event_id}/schedule")
    meetings = schedule["meetings"]
    assert meetings and schedule["conflicts"] == []
    expect(page.locator("#grid .cell-meeting")).to_have_count(len(meetings))

    # Move a meeting to a slot free for both its parties.
    def busy(m: dict) -> set[int]:
        return {
            x["slot"]
            for x in meetings
            if x["id"] != m["id"]
            and (x["leader_id"] == m["leader_id"] or x["sme_id"] == m["sme_id"])
        }

    movable = next(m for m in meetings if set(range(4)) - busy(m) - {m["slot"]})
    free = min(set(range(4)) - busy(movable) - {movable["slot"]})
    row = page.locator(f"#m{movable['id']}")
    row.locator("select[name=slot]").select_option(str(free))
    row.get_by_role("button", name="移动").click()
    expect(page.locator(".notice")).to_contain_text("已移动会谈")
    cell = page.locator(f"#grid td[data-slot='{free}'][data-table='{movable['table']}']")
    expect(cell.locator(f"[data-meeting-id='{movable['id']}']")).to_have_class(re.compile("locked"))
    expect(page.locator(f"#grid [data-meeting-id='{movable['id']}']")).to_have_count(1)
    screenshot(page, "organizer-schedule")

    # The XLSX: an overview with one row per meeting and a sheet per leader.
    with page.expect_download() as info:
        page.click("#download-xlsx")
    path = tmp_path / "schedule.xlsx"
    info.value.save_as(path)
    wb = load_workbook(path)
    assert wb.sheetnames[0] == "总览"
    rows = list(wb["总览"].iter_rows(values_only=True))
    assert len(rows) == len(meetings) + 1
    text = "\n".join(" ".join(str(c) for c in r if c is not None) for r in rows)
    for m in meetings:
        assert m["leader_name"] in text and m["sme_name"] in text
    leader_sheets = {m["leader_name"][:31] for m in meetings}
    assert leader_sheets <= set(wb.sheetnames)

    # Outcomes: a signing with its amount, then the report.
    page.click(".event-nav >> text=成果登记")
    first = page.locator(".outcome-item").first
    first.locator("select[name=held]").select_option("true")
    first.locator("select[name=outcome]").select_option("signed")
    first.locator("input[name=amount]").fill("150")
    first.get_by_role("button", name="保存").click()
    expect(page.locator(".notice")).to_contain_text("已登记会谈成果")
    expect(page.locator(".outcome-item .tag.ok", has_text="已签约")).to_have_count(1)
    screenshot(page, "organizer-outcomes")
    page.click(".event-nav >> text=对接成效")
    expect(page.locator(".report-totals")).to_contain_text("150")
    chart = page.locator("img.report-chart")
    expect(chart).to_be_visible()
    page.wait_for_function("document.querySelector('img.report-chart').naturalWidth > 0")
    screenshot(page, "organizer-report")

    # An import with bad rows: every problem listed, nothing stored.
    before = api(live_server, "GET", "/smes?limit=1")["total"]
    bad = (
        "企业名称,统一社会信用代码,所在城市,企业梯度,主营产品\n"
        f"济南示例精密{tag}有限公司,{uscc()},济南市,专精特新中小企业,精密齿轮\n"
        f"苏州错误{tag}有限公司,91370200163562681H,苏州市,大型,轴承\n"
    )
    page.click("nav >> text=批量导入")
    page.set_input_files(
        "#f-file", files=[{"name": "smes.csv", "mimeType": "text/csv", "buffer": bad.encode()}]
    )
    page.click("form.form button.primary[type=submit]")
    table = page.locator("table.problem-table")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr").first).to_contain_text("3")
    expect(table).to_contain_text("所在城市")
    expect(table).to_contain_text("统一社会信用代码")
    assert api(live_server, "GET", "/smes?limit=1")["total"] == before
    screenshot(page, "organizer-import-errors")

    # The grid on a phone: the page itself does not scroll sideways, the grid does.
    sign_in(phone_page, base, world["username"])
    phone_page.goto(f"{base}/organizer/events/{event_id}/schedule")
    expect(phone_page.locator("#grid .cell-meeting")).to_have_count(len(meetings))
    no_sideways_scroll(phone_page)
    screenshot(phone_page, "organizer-schedule-phone")
    phone_page.goto(f"{base}/organizer")
    no_sideways_scroll(phone_page)
