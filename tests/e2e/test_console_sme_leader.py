"""SME and leader pages in a real browser: sign up, register, post a need, see explained matches."""

import re
import secrets

import httpx
from playwright.sync_api import Page, expect

from tests.factories import demand_payload, leader_payload, sme_payload, uscc

PASSWORD = "correct horse 42"
# The form's own button: the nav's 退出 is a submit button too.
SUBMIT = "form.form button.primary[type=submit]"


def api_post(live_server, path: str, payload: dict) -> dict:
    """Seed through the API with the admin token."""
    r = httpx.post(f"{live_server.api}{path}", json=payload, headers=live_server.admin_headers)
    assert r.status_code == 201, r.text
    return r.json()


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#f-username", username)
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]")


def no_sideways_scroll(page: Page) -> None:
    """The page fits the viewport's width (a phone must not scroll sideways)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


def test_sme_signs_up_registers_and_sees_explained_demands(
    live_server, page: Page, phone_page: Page, screenshot
) -> None:
    tag = secrets.token_hex(3)
    leader = api_post(live_server, "/leaders", leader_payload(name=f"中车示范链主{tag}"))
    demand = api_post(
        live_server,
        "/demands",
        demand_payload(leader["id"], title=f"高铁转向架构架焊接件配套{tag}"),
    )
    base = live_server.base_url
    username = f"sme{tag}"

    page.goto(f"{base}/signup")
    page.fill("#f-username", username)
    page.fill("#f-display_name", "王经理")
    page.fill("#f-password", PASSWORD)
    page.fill("#f-password2", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/sme/profile$"))
    expect(page.locator("h1")).to_have_text("登记企业档案")

    # A wrong check character is refused next to its field; what was typed stays.
    page.fill("#f-name", f"青岛恒瑞精密机械有限公司{tag}")
    page.fill("#f-uscc", "91370200163562681H")
    page.select_option("#f-city", "青岛市")
    page.fill("#f-county", "城阳区")
    page.select_option("#f-size_class", "small")
    page.select_option("#f-tier", "specialized")
    page.fill("#f-products", "转向架构架焊接件|年产1200套\n制动夹钳铸件")
    page.fill("#f-processes", "机器人焊接、整体退火、五轴数控加工")
    page.check("input[name=certifications][value='ISO 9001']")
    page.check("input[name=certifications][value=CRCC]")
    page.fill("#f-invention_patents", "6")
    page.fill("#f-rd_share", "5.2")
    page.check("input[name=chains][value=equipment]")
    page.fill("#f-description", "专业从事轨道交通转向架构架焊接与机加工，拥有焊接机器人12台。")
    page.fill("#f-contact_phone", "0532-80000001")
    page.click(SUBMIT)
    expect(page.locator("[data-error-for=uscc]")).to_contain_text("校验码错误")
    expect(page.locator("#f-products")).to_have_value("转向架构架焊接件|年产1200套\n制动夹钳铸件")
    screenshot(page, "sme-profile")

    page.fill("#f-uscc", uscc())
    page.click(SUBMIT)
    expect(page).to_have_url(re.compile(r"/sme/needs"))
    expect(page.locator(".notice")).to_contain_text("企业档案已登记")
    card = page.locator(f"article[data-demand-id='{demand['id']}']")
    expect(card).to_contain_text(demand["title"])
    expect(card.locator(".reasons li").first).to_be_visible()
    expect(card.locator(".components .bar").first).to_be_visible()
    expect(card.locator(".tag.ok", has_text="CRCC")).to_be_visible()
    screenshot(page, "sme-needs")

    card.get_by_role("button", name="表达意向").click()
    expect(page.locator(".notice")).to_contain_text("已表达意向")
    expect(page.get_by_text("双方表达意向或安排会谈后可见联系方式")).to_be_visible()

    # The organizer invites the SME to an event and places a meeting with the leader.
    found = httpx.get(
        f"{live_server.api}/smes",
        params={"q": f"青岛恒瑞精密机械有限公司{tag}"},
        headers=live_server.admin_headers,
    ).json()["items"]
    sme_id = found[0]["id"]
    event = api_post(
        live_server,
        "/events",
        {"title": f"轨道交通装备专场对接会{tag}", "chains": ["equipment"], "date": "2027-03-18"},
    )
    r = httpx.post(
        f"{live_server.api}/events/{event['id']}/participants",
        json={"participants": [{"leader_id": leader["id"]}, {"sme_id": sme_id}]},
        headers=live_server.admin_headers,
    )
    assert r.status_code == 200, r.text
    api_post(
        live_server,
        f"/events/{event['id']}/meetings",
        {
            "leader_id": leader["id"],
            "sme_id": sme_id,
            "demand_id": demand["id"],
            "slot": 2,
            "table": 4,
        },
    )

    page.goto(f"{base}/sme")
    expect(page.locator("h2", has_text=f"青岛恒瑞精密机械有限公司{tag}")).to_be_visible()
    meetings = page.locator("section.event", has_text=event["title"])
    expect(meetings).to_contain_text(leader["name"])
    expect(meetings).to_contain_text("5 号桌")
    expect(meetings.get_by_role("link", name="下载日历 (ICS)")).to_have_attribute(
        "href", f"/api/v1/events/{event['id']}/agenda?party=S{sme_id}&format=ics"
    )
    expect(page.locator("section", has_text="我的对接意向")).to_contain_text(demand["title"])
    screenshot(page, "sme-home")

    sign_in(phone_page, base, username)
    phone_page.goto(f"{base}/sme/needs")
    expect(phone_page.locator(f"article[data-demand-id='{demand['id']}']")).to_be_visible()
    expect(phone_page.locator("#nav")).to_be_hidden()
    no_sideways_scroll(phone_page)
    screenshot(phone_page, "sme-needs-phone")
    for path in ("/sme", "/sme/profile", f"/sme/needs/{demand['id']}", "/sme/events"):
        phone_page.goto(f"{base}{path}")
        expect(phone_page.locator("h1")).to_be_visible()
        no_sideways_scroll(phone_page)
    screenshot(phone_page, "sme-events-phone")


def test_leader_posts_a_demand_and_sees_ranked_smes(
    live_server, page: Page, phone_page: Page, screenshot
) -> None:
    tag = secrets.token_hex(3)
    leader = api_post(live_server, "/leaders", leader_payload(name=f"山东轨交链主集团{tag}"))
    fit = api_post(live_server, "/smes", sme_payload(name=f"青岛转向架焊接有限公司{tag}"))
    api_post(
        live_server,
        "/smes",
        sme_payload(name=f"淄博构架焊接科技有限公司{tag}", city="淄博市", certifications=[]),
    )
    api_post(
        live_server,
        "/smes",
        sme_payload(
            name=f"烟台海工涂装有限公司{tag}",
            city="烟台市",
            products=["船舶涂装"],
            processes=["喷涂"],
            certifications=["CCS"],
            chains=[],
            description="船舶与海工装备防腐涂装。",
            leaders_supplied=[],
        ),
    )
    username = f"leader{tag}"
    api_post(
        live_server,
        "/users",
        {"username": username, "password": PASSWORD, "role": "leader", "leader_id": leader["id"]},
    )
    base = live_server.base_url

    sign_in(page, base, username)
    expect(page).to_have_url(re.compile(r"/leader$"))
    expect(page.locator("h1")).to_have_text("链主首页")
    screenshot(page, "leader-home")

    page.get_by_role("link", name="发布需求").first.click()
    expect(page).to_have_url(re.compile(r"/leader/needs/new$"))
    page.fill("#f-title", f"转向架构架焊接件配套{tag}")
    page.fill("#f-description", "面向时速350公里动车组，采购转向架构架焊接件，需整体退火消除应力。")
    page.select_option("#f-demand_type", "supply")
    page.select_option("#f-chain", "equipment")
    page.fill("#f-keywords", "转向架、构架、焊接")
    page.fill("#f-specification", "材质Q345E，-40℃冲击功≥34J")
    page.fill("#f-quantity", "800")
    page.fill("#f-unit", "套/年")
    page.fill("#f-budget", "下个月再说")
    page.fill("input[name=cert_name_0]", "CRCC")
    page.fill("input[name=cert_name_1]", "ISO 14001")
    page.uncheck("input[name=cert_must_1]")
    page.fill("#f-valid_until", "2027-06-30")
    page.click(SUBMIT)
    expect(page.locator("[data-error-for=budget]")).to_contain_text("预算格式错误")
    expect(page.locator("#f-title")).to_have_value(f"转向架构架焊接件配套{tag}")
    page.fill("#f-budget", "200-500")
    screenshot(page, "leader-need-form")
    page.click(SUBMIT)

    expect(page).to_have_url(re.compile(r"/leader/needs/\d+"))
    expect(page.locator(".notice")).to_contain_text("需求已发布")
    cards = page.locator("article.match-card")
    expect(cards.first).to_be_visible()
    first = page.locator(f"article[data-sme-id='{fit['id']}']")
    expect(first.locator(".reasons li").first).to_be_visible()
    expect(first.locator("mark").first).to_be_visible()
    expect(first.locator(".tag.ok", has_text="CRCC")).to_be_visible()
    uncertified = page.locator("article.match-card", has_text=f"淄博构架焊接科技有限公司{tag}")
    expect(uncertified.locator(".tag.missing", has_text="CRCC")).to_be_visible()
    # The certified SME ranks above the one without the must certificate.
    ranks = page.locator("article.match-card .match-head .title").all_inner_texts()
    assert ranks.index(fit["name"]) < ranks.index(f"淄博构架焊接科技有限公司{tag}")

    first.get_by_role("button", name="加入候选").click()
    expect(page.locator(".notice")).to_contain_text("已加入候选")
    expect(page.locator("#shortlist")).to_contain_text(fit["name"])
    expect(page.locator("#shortlist")).to_contain_text("双方表达意向或安排会谈后可见联系方式")
    screenshot(page, "leader-matches")

    sign_in(phone_page, base, username)
    phone_page.goto(page.url)
    expect(phone_page.locator("article.match-card").first).to_be_visible()
    no_sideways_scroll(phone_page)
    screenshot(phone_page, "leader-matches-phone")
    for path in ("/leader", "/leader/needs/new", "/leader/events"):
        phone_page.goto(f"{base}{path}")
        expect(phone_page.locator("h1")).to_be_visible()
        no_sideways_scroll(phone_page)
    screenshot(phone_page, "leader-events-phone")
