from typing import Any

from fastapi.testclient import TestClient

from tests.app.test_smes import errors_by_field, link_codes
from tests.factories import demand_payload, leader_payload

API = "/api/v1/demands"


def new_leader(client: TestClient, **kw: Any) -> dict:
    r = client.post("/api/v1/leaders", json=leader_payload(**kw))
    assert r.status_code == 201, r.text
    return r.json()


def test_leader_create_read_update(client: TestClient) -> None:
    leader = new_leader(client, city="济南")
    assert leader["city"] == "济南市" and leader["chains"] == ["equipment"]
    assert leader["size_class"] == "large"
    got = client.get(f"/api/v1/leaders/{leader['id']}").json()
    assert got["demand_count"] == 0
    r = client.patch(f"/api/v1/leaders/{leader['id']}", json={"chains": ["it", "equipment"]})
    assert r.status_code == 200 and r.json()["chains"] == ["it", "equipment"]
    assert client.get("/api/v1/leaders/424242").status_code == 404
    assert set(errors_by_field(client.post("/api/v1/leaders", json={"city": "x"}))) == {
        "name",
        "city",
    }
    listed = client.get("/api/v1/leaders", params={"q": leader["name"]}).json()
    assert [x["id"] for x in listed["items"]] == [leader["id"]]


def test_demand_create_normalises_input(client: TestClient) -> None:
    leader = new_leader(client)
    link = link_codes(client, "equipment")[0]
    r = client.post(API, json=demand_payload(leader["id"], link=link))
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["leader"]["name"] == leader["name"]
    assert d["demand_type"] == "supply" and d["demand_type_label"] == "产品配套"
    assert d["status"] == "published"
    assert d["chain"] == "equipment" and d["link"] == link
    assert d["budget"] == {"min": 200.0, "max": 500.0, "negotiable": False, "unit": "万元"}
    assert d["required_certifications"] == [
        {"name": "CRCC", "must": True},
        {"name": "ISO 9001", "must": True},
    ]
    assert d["region_preference"]["scope"] == "province"
    assert d["min_tier"] == "specialized"
    assert d["valid_until"] == "2027-06-30"
    assert client.get(f"/api/v1/leaders/{leader['id']}").json()["demand_count"] == 1


def test_budget_and_region_forms(client: TestClient) -> None:
    leader = new_leader(client)
    cases = [
        ("面议", None, {"min": None, "max": None, "negotiable": True, "unit": "万元"}),
        (300, "青岛、烟台", {"min": 300.0, "max": 300.0, "negotiable": False, "unit": "万元"}),
        ("50-80万元", ["济南市"], {"min": 50.0, "max": 80.0, "negotiable": False, "unit": "万元"}),
        (None, "不限", None),
    ]
    for budget, region, expected in cases:
        r = client.post(
            API, json=demand_payload(leader["id"], budget=budget, region_preference=region)
        )
        assert r.status_code == 201, r.text
        assert r.json()["budget"] == expected
    last = client.get(API, params={"leader_id": leader["id"], "limit": 10}).json()["items"]
    regions = [d["region_preference"] for d in reversed(last)]
    assert regions[1]["cities"] == ["青岛市", "烟台市"] and regions[1]["scope"] == "cities"
    assert regions[0]["scope"] == "any" and regions[3]["scope"] == "any"
    bad = client.post(
        API, json=demand_payload(leader["id"], budget="很多", region_preference="火星")
    )
    assert set(errors_by_field(bad)) == {"budget", "region_preference.cities.0"}
    bad = client.post(API, json=demand_payload(leader["id"], budget={"min": 9, "max": 1}))
    assert "下限" in errors_by_field(bad)["budget"]["msg_zh"]


def test_certificate_preferences(client: TestClient) -> None:
    leader = new_leader(client)
    r = client.post(
        API,
        json=demand_payload(
            leader["id"],
            required_certifications=[
                {"name": "ISO14001", "must": False},
                "iatf16949",
                {"name": "ISO 14001", "must": True},
            ],
        ),
    )
    assert r.json()["required_certifications"] == [
        {"name": "ISO 14001", "must": True},
        {"name": "IATF 16949", "must": True},
    ]


def test_demand_reference_errors(client: TestClient) -> None:
    leader = new_leader(client)
    it_link = link_codes(client, "it")[0]
    r = client.post(API, json=demand_payload(leader["id"], chain="equipment", link=it_link))
    assert "不属于" in errors_by_field(r)["link"]["msg_zh"]
    r = client.post(API, json=demand_payload(999999, chain="nope"))
    assert set(errors_by_field(r)) == {"leader_id", "chain"}
    r = client.post(API, json=demand_payload(leader["id"], status="finished"))
    assert "需求状态" in errors_by_field(r)["status"]["msg_zh"]
    r = client.post(
        API, json=demand_payload(leader["id"], demand_type="买东西", valid_until="明天")
    )
    assert set(errors_by_field(r)) == {"demand_type", "valid_until"}


def test_status_lifecycle(client: TestClient) -> None:
    leader = new_leader(client)
    d = client.post(API, json=demand_payload(leader["id"], status="草稿")).json()
    assert d["status"] == "draft"
    url = f"{API}/{d['id']}"
    refused = client.patch(url, json={"status": "signed"})
    assert refused.status_code == 409
    assert refused.json()["allowed"] == ["closed", "published"]
    assert client.get(url).json()["status"] == "draft"
    for step in ["published", "对接中", "intention", "signed", "closed"]:
        r = client.patch(url, json={"status": step})
        assert r.status_code == 200, (step, r.text)
    assert client.get(url).json()["status"] == "closed"
    assert client.patch(url, json={"status": "draft"}).status_code == 409


def test_patch_chain_and_link(client: TestClient) -> None:
    leader = new_leader(client)
    eq_link = link_codes(client, "equipment")[0]
    d = client.post(API, json=demand_payload(leader["id"], link=eq_link)).json()
    url = f"{API}/{d['id']}"
    r = client.patch(url, json={"chain": "it"})
    assert r.json()["chain"] == "it" and r.json()["link"] is None
    it_link = link_codes(client, "it")[1]
    r = client.patch(url, json={"link": it_link})
    assert r.status_code == 200 and r.json()["link"] == it_link
    r = client.patch(url, json={"link": eq_link})
    assert r.status_code == 422
    assert client.get(url).json()["link"] == it_link


def test_demand_filters(client: TestClient) -> None:
    a_leader = new_leader(client, city="青岛市")
    b_leader = new_leader(client, city="烟台市", chains=["marine"])
    a = client.post(API, json=demand_payload(a_leader["id"])).json()
    b = client.post(
        API,
        json=demand_payload(
            b_leader["id"],
            title="船用甲板机械国产替代",
            chain="marine",
            demand_type="国产替代",
            required_certifications=["CCS"],
            status="draft",
            valid_until="2020-01-01",
        ),
    ).json()

    def ids(**params: Any) -> list[int]:
        r = client.get(API, params={"limit": 200, **params})
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"]]

    assert ids(chain="marine") == [b["id"]]
    assert ids(city="青岛") == [a["id"]]
    assert ids(demand_type="substitution") == [b["id"]]
    assert ids(demand_type="国产替代") == [b["id"]]
    assert ids(status="draft") == [b["id"]]
    assert ids(certification="ccs") == [b["id"]]
    assert ids(certification="CRCC") == [a["id"]]
    assert ids(q="甲板") == [b["id"]]
    assert ids(leader_id=a_leader["id"]) == [a["id"]]
    assert ids(open=True) == [a["id"]]
    assert client.get(API, params={"demand_type": "x"}).status_code == 422


def test_demand_delete_restore(client: TestClient) -> None:
    leader = new_leader(client)
    d = client.post(API, json=demand_payload(leader["id"])).json()
    assert client.delete(f"{API}/{d['id']}", headers={"If-Match": '"9"'}).status_code == 409
    assert client.delete(f"{API}/{d['id']}").status_code == 204
    assert client.get(f"{API}/{d['id']}").status_code == 404
    assert client.post(f"{API}/{d['id']}/restore").json()["id"] == d["id"]


def test_demand_bulk(client: TestClient) -> None:
    leader = new_leader(client)
    rows = [
        demand_payload(leader["id"]),
        demand_payload(leader["id"], title=""),
        demand_payload(12345678),
    ]
    r = client.post(f"{API}/bulk", json=rows)
    assert r.status_code == 422
    assert [(e["row"], e["field"]) for e in r.json()["detail"]] == [
        (1, "1.title"),
        (2, "2.leader_id"),
    ]
    assert client.get(API).json()["total"] == 0
    r = client.post(
        f"{API}/bulk", json=[demand_payload(leader["id"], title=f"需求{i}") for i in range(5)]
    )
    assert r.status_code == 201 and r.json()["count"] == 5


def test_a_published_need_is_never_set_to_a_past_date(client: TestClient) -> None:
    """Issue 14, data bug 4: a past 有效期至 was accepted. A draft may hold one (no one sees it)
    and a form may send a stored date back, but publishing with it or typing it is refused."""
    leader = new_leader(client)
    r = client.post(API, json=demand_payload(leader["id"], valid_until="2020-01-31"))
    assert r.status_code == 422 and "已过" in errors_by_field(r)["valid_until"]["msg_zh"]
    draft = client.post(
        API, json=demand_payload(leader["id"], status="draft", valid_until="2020-01-31")
    )
    assert draft.status_code == 201, draft.text
    url = f"{API}/{draft.json()['id']}"
    assert (
        client.patch(url, json={"title": "新标题", "valid_until": "2020-01-31"}).status_code == 200
    )
    assert client.patch(url, json={"status": "published"}).status_code == 422
    live = client.post(API, json=demand_payload(leader["id"])).json()
    r = client.patch(f"{API}/{live['id']}", json={"valid_until": "2021-06-30"})
    assert r.status_code == 422 and "已过" in errors_by_field(r)["valid_until"]["msg_zh"]
