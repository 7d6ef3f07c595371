"""The SME and leader pages of the web console, through a signed-in browser-like client."""

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.app.webforms import PASSWORD, account, made, rendered_form
from tests.factories import demand_payload, leader_payload, sme_payload, uscc

CONTACT_NOTE = "双方表达意向或安排会谈后可见联系方式"


def browser(client: TestClient) -> TestClient:
    """A fresh client of the same app without the admin header: it carries only its cookie."""
    return TestClient(client.app, raise_server_exceptions=False)


def error_for(html: str, name: str) -> str:
    """The error message shown next to a field."""
    found = re.search(rf'data-error-for="{name}">([^<]*)<', html)
    assert found, f"no error shown for {name}"
    return found.group(1)


def profile_form(**overrides: Any) -> dict[str, Any]:
    """The profile form as a browser posts it."""
    form: dict[str, Any] = {
        "name": "青岛恒瑞轨道装备有限公司",
        "uscc": uscc(),
        "city": "青岛市",
        "county": "城阳区",
        "size_class": "small",
        "tier": "specialized",
        "products": "转向架构架焊接件|年产1200套\n制动夹钳铸件",
        "processes": "机器人焊接、整体退火",
        "certifications": ["ISO 9001", "CRCC"],
        "certifications_other": "",
        "invention_patents": "6",
        "utility_patents": "21",
        "rd_share": "5.2",
        "chains": ["equipment"],
        "description": "专业从事轨道交通转向架构架焊接与机加工，拥有焊接机器人12台。",
        "contact_name": "王经理",
        "contact_phone": "0532-80000001",
        "contact_email": "",
        "version": "",
    }
    form.update(overrides)
    return form


def demand_form(**overrides: Any) -> dict[str, Any]:
    """The need form as a browser posts it."""
    form: dict[str, Any] = {
        "title": "高铁转向架构架焊接件配套",
        "description": "面向时速350公里动车组，采购转向架构架焊接件，需整体退火消除应力。",
        "demand_type": "supply",
        "chain": "equipment",
        "link": "",
        "keywords": "转向架、构架、焊接",
        "specification": "材质Q345E",
        "material_process": "",
        "quantity": "800",
        "unit": "套/年",
        "budget": "200-500",
        "lead_time_days": "60",
        "valid_until": "2027-06-30",
        "status": "published",
        "cert_name_0": "CRCC",
        "cert_must_0": "1",
        "cert_name_1": "ISO 14001",
        "cert_name_2": "",
        "region_scope": "province",
        "min_tier": "",
        "contact_name": "张经理",
        "contact_phone": "0532-89990000",
        "contact_email": "",
        "version": "",
    }
    form.update(overrides)
    return form


def test_pages_send_visitors_to_the_login(anon_client: TestClient) -> None:
    for path in ("/sme", "/sme/profile", "/sme/needs", "/leader", "/leader/needs/new"):
        r = anon_client.get(path, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=")


def test_sme_signs_up_registers_and_sees_fitting_demands(client: TestClient) -> None:
    leader = made(client.post("/api/v1/leaders", json=leader_payload()))
    demand = made(
        client.post(
            "/api/v1/demands",
            json=demand_payload(leader["id"], contact_phone="0532-81234567"),
        )
    )
    web = browser(client)
    r = web.post(
        "/signup",
        data={"username": "hengrui", "password": PASSWORD, "password2": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/sme/profile"
    # Before the profile exists, home and needs ask for it.
    for path in ("/sme", "/sme/needs"):
        page = web.get(path)
        assert page.status_code == 200 and "登记企业档案" in page.text

    bad = web.post("/sme/profile", data=profile_form(name="", uscc="91370200163562681H"))
    assert bad.status_code == 422
    assert "校验码错误" in error_for(bad.text, "uscc")
    assert error_for(bad.text, "name").startswith("内容过短或为空")
    # What was typed is kept.
    assert "转向架构架焊接件|年产1200套" in bad.text

    ok = web.post("/sme/profile", data=profile_form(), follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].startswith("/sme/needs")
    demands = web.get(ok.headers["location"])
    assert demands.status_code == 200
    assert demand["title"] in demands.text and "企业档案已登记" in demands.text
    assert 'class="bar"' in demands.text and "具备资质" in demands.text
    assert "表达意向</button>" in demands.text

    detail = web.get(f"/sme/needs/{demand['id']}")
    assert detail.status_code == 200 and CONTACT_NOTE in detail.text
    assert "0532-81234567" not in detail.text
    r = web.post(f"/sme/needs/{demand['id']}/interest", follow_redirects=False)
    assert r.status_code == 303
    assert "已表达意向" in web.get("/sme/needs").text
    home = web.get("/sme")
    assert home.status_code == 200 and demand["title"] in home.text and "已表达意向" in home.text

    # The profile is now edited, guarded by its version.
    form = web.get("/sme/profile").text
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    saved = web.post(
        "/sme/profile",
        data=profile_form(name="青岛恒瑞轨道装备股份有限公司", version=version),
        follow_redirects=False,
    )
    assert saved.status_code == 303
    stale = web.post("/sme/profile", data=profile_form(version=version))
    assert stale.status_code == 409 and "版本冲突" in stale.text
    assert web.get("/sme").text.count("青岛恒瑞轨道装备股份有限公司") >= 1


def test_sme_cannot_open_leader_pages(client: TestClient) -> None:
    sme = made(client.post("/api/v1/smes", json=sme_payload()))
    web = account(client, "sme.only", "sme", sme_id=sme["id"])
    for path in ("/leader", "/leader/needs/new", "/leader/events"):
        assert web.get(path).status_code == 403
    assert web.post("/leader/needs/new", data=demand_form()).status_code == 403


def test_leader_posts_a_demand_and_shortlists_ranked_smes(client: TestClient) -> None:
    leader = made(client.post("/api/v1/leaders", json=leader_payload()))
    fit = made(client.post("/api/v1/smes", json=sme_payload(contact_phone="0532-80000077")))
    made(
        client.post(
            "/api/v1/smes",
            json=sme_payload(name="青岛无铁路认证焊接有限公司", certifications=["ISO 9001"]),
        )
    )
    web = account(client, "leader.zhang", "leader", leader_id=leader["id"])
    assert "尚未发布需求" in web.get("/leader").text
    form_page = web.get("/leader/needs/new")
    assert form_page.status_code == 200 and 'name="cert_must_0"' in form_page.text

    bad = web.post("/leader/needs/new", data=demand_form(valid_until="2027-13-45", budget="很多"))
    assert bad.status_code == 422
    assert "日期" in error_for(bad.text, "valid_until")
    assert "预算格式错误" in error_for(bad.text, "budget")
    assert 'value="高铁转向架构架焊接件配套"' in bad.text

    ok = web.post("/leader/needs/new", data=demand_form(), follow_redirects=False)
    assert ok.status_code == 303
    demand_id = int(re.search(r"/leader/needs/(\d+)", ok.headers["location"]).group(1))
    page = web.get(ok.headers["location"])
    assert page.status_code == 200
    assert "青岛无铁路认证焊接有限公司" in page.text and fit["name"] in page.text
    assert "<mark>" in page.text
    assert 'class="tag ok" title="具备">✓ CRCC' in page.text
    assert "✗ CRCC（必备）" in page.text
    # The API carries the same split of the need's certificates.
    api = made(client.get(f"/api/v1/demands/{demand_id}/matches?limit=5"), 200)["items"]
    by_id = {x["sme_id"]: x for x in api}
    assert by_id[fit["id"]]["certifications_held"] == ["CRCC"]
    assert by_id[fit["id"]]["certifications_missing"] == ["ISO 14001"]
    assert "CRCC" in next(x for x in api if not x["eligible"])["certifications_missing_must"]
    # Contacts stay hidden before the SME answers.
    assert "0532-80000077" not in page.text

    r = web.post(f"/leader/needs/{demand_id}/shortlist/{fit['id']}", follow_redirects=False)
    assert r.status_code == 303
    page = web.get(f"/leader/needs/{demand_id}").text
    assert "已加入候选" in page and CONTACT_NOTE in page and "0532-80000077" not in page

    # The SME answers: both sides see each other's contacts.
    sme_web = account(client, "sme.fit", "sme", sme_id=fit["id"])
    sme_page = sme_web.get("/sme/needs").text
    assert "链主已将贵企业列入候选" in sme_page
    made(sme_web.post(f"/sme/needs/{demand_id}/interest", follow_redirects=False), 303)
    page = web.get(f"/leader/needs/{demand_id}").text
    assert "双方有意向" in page and "0532-80000077" in page
    detail = sme_web.get(f"/sme/needs/{demand_id}").text
    assert "0532-89990000" in detail and CONTACT_NOTE not in detail

    home = web.get("/leader").text
    assert "高铁转向架构架焊接件配套" in home and "已发布" in home

    # Edit: the form is filled in; a bad status move shows at the status field.
    edit = web.get(f"/leader/needs/{demand_id}/edit")
    assert edit.status_code == 200 and 'value="200-500"' in edit.text
    version = re.search(r'name="version" value="(\d+)"', edit.text).group(1)
    moved = web.post(
        f"/leader/needs/{demand_id}/edit",
        data=demand_form(status="signed", title="不应保存的标题", version=version),
    )
    assert moved.status_code == 409 and "需求状态不能从" in error_for(moved.text, "status")
    # A refused form keeps nothing: neither the status nor the other fields of the same post.
    kept = client.get(f"/api/v1/demands/{demand_id}").json()
    assert kept["title"] != "不应保存的标题" and kept["status"] == "published"
    assert str(kept["version"]) == version
    saved = web.post(
        f"/leader/needs/{demand_id}/edit",
        data=demand_form(title="转向架构架焊接件年度配套", version=version),
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert "转向架构架焊接件年度配套" in web.get("/leader").text


def test_leader_cannot_touch_another_leaders_demand(client: TestClient) -> None:
    mine, theirs = (made(client.post("/api/v1/leaders", json=leader_payload())) for _ in range(2))
    other = made(client.post("/api/v1/demands", json=demand_payload(theirs["id"])))
    sme = made(client.post("/api/v1/smes", json=sme_payload()))
    web = account(client, "leader.mine", "leader", leader_id=mine["id"])
    assert web.get(f"/leader/needs/{other['id']}/edit").status_code == 403
    r = web.post(f"/leader/needs/{other['id']}/edit", data=demand_form(title="改掉"))
    assert r.status_code == 403 and "只能修改本链主企业" in r.text
    assert web.get(f"/leader/needs/{other['id']}").status_code == 403
    assert web.post(f"/leader/needs/{other['id']}/shortlist/{sme['id']}").status_code == 403
    assert made(client.get(f"/api/v1/demands/{other['id']}"), 200)["title"] != "改掉"
    assert web.get("/leader/needs/999999/edit").status_code == 404


def test_meetings_show_with_agenda_links(client: TestClient) -> None:
    leader = made(client.post("/api/v1/leaders", json=leader_payload()))
    demand = made(client.post("/api/v1/demands", json=demand_payload(leader["id"])))
    sme = made(client.post("/api/v1/smes", json=sme_payload()))
    event = made(
        client.post(
            "/api/v1/events",
            json={"title": "轨道交通专场对接会", "chains": ["equipment"], "date": "2027-03-18"},
        )
    )
    made(
        client.post(
            f"/api/v1/events/{event['id']}/participants",
            json={"participants": [{"leader_id": leader["id"]}, {"sme_id": sme["id"]}]},
        ),
        200,
    )
    made(
        client.post(
            f"/api/v1/events/{event['id']}/meetings",
            json={
                "leader_id": leader["id"],
                "sme_id": sme["id"],
                "demand_id": demand["id"],
                "slot": 1,
                "table": 2,
            },
        )
    )
    sme_web = account(client, "sme.meets", "sme", sme_id=sme["id"])
    page = sme_web.get("/sme/events").text
    assert "轨道交通专场对接会" in page and leader["name"] in page and "3 号桌" in page
    agenda = f"/api/v1/events/{event['id']}/agenda?party=S{sme['id']}&amp;format=html"
    assert agenda in page
    assert sme_web.get(agenda.replace("&amp;", "&")).status_code == 200
    assert "轨道交通专场对接会" in sme_web.get("/sme").text
    leader_web = account(client, "leader.meets", "leader", leader_id=leader["id"])
    page = leader_web.get("/leader/events").text
    assert sme["name"] in page and f"party=L{leader['id']}" in page


def test_odd_form_input_is_a_422_never_a_500(client: TestClient) -> None:
    leader = made(client.post("/api/v1/leaders", json=leader_payload()))
    web = account(client, "leader.odd", "leader", leader_id=leader["id"])
    odd_demands = [
        {"title": "\x00", "demand_type": "bogus"},
        {"quantity": "1e999", "lead_time_days": "1.5", "status": "nowhere"},
        {"region_scope": "cities", "chain": "no-such-chain", "link": "no-such-link"},
        {"cert_name_0": "x" * 500, "budget": "80-50", "min_tier": "大型"},
        {"contact_email": "not-an-email", "contact_phone": "电话" * 50},
    ]
    for odd in odd_demands:
        r = web.post("/leader/needs/new", data=demand_form(**odd))
        assert r.status_code == 422, (odd, r.status_code)
        assert 'class="error"' in r.text
    cities = web.post("/leader/needs/new", data=demand_form(region_scope="cities"))
    assert "指定城市优先时须填写城市" in error_for(cities.text, "region_preference")

    web = browser(client)
    web.post("/signup", data={"username": "odd.sme", "password": PASSWORD, "password2": PASSWORD})
    odd_profiles = [
        {"city": "苏州市", "tier": "大型", "size_class": "huge"},
        {"products": "", "invention_patents": "-1", "rd_share": "200"},
        {"chains": ["no-such-chain"], "name": "x" * 300},
        {"products": "|年产100套", "certifications_other": "CRCC\x00"},
    ]
    for odd in odd_profiles:
        r = web.post("/sme/profile", data=profile_form(**odd))
        assert r.status_code == 422, (odd, r.status_code, r.text[:300])
    assert "请先登记企业档案" in web.post("/sme/needs/1/interest").text


def test_saving_the_profile_form_keeps_what_it_does_not_show(client: TestClient) -> None:
    """Issue 13, bug 1: a description-only edit in the console nulled every product's niche
    and market share (set through the API), which feed matching."""
    payload = sme_payload(
        products=[
            {
                "name": "转向架构架焊接件",
                "niche": "轨道交通焊接构架",
                "capacity": "年产1200套",
                "market_share": "国内约15%",
            },
            {"name": "制动夹钳铸件", "niche": "制动系统铸件", "market_share": "约8%"},
        ],
        export=True,
        leaders_supplied=["中车青岛四方机车车辆"],
    )
    sme = made(client.post("/api/v1/smes", json=payload))
    web = account(client, "hengrui.edit", "sme", sme_id=sme["id"])
    fields: dict[str, Any] = rendered_form(web, "/sme/profile")
    assert fields["products"][0].startswith("转向架构架焊接件|年产1200套")
    fields["description"] = ["新的企业简介：扩建焊接车间"]
    saved = web.post("/sme/profile", data=fields, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    after = made(client.get(f"/api/v1/smes/{sme['id']}"), 200)
    assert after["description"] == "新的企业简介：扩建焊接车间"
    for key in set(sme) - {"description", "version", "updated_at"}:
        assert after[key] == sme[key], key
