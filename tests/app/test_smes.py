from typing import Any

from fastapi.testclient import TestClient

from tests.factories import sme_payload, uscc

API = "/api/v1/smes"


def link_codes(client: TestClient, chain: str) -> list[str]:
    body = client.get(f"/api/v1/chains/{chain}").json()
    return [link["code"] for s in body["sub_chains"] for link in s["links"]] + [
        link["code"] for link in body["links"]
    ]


def errors_by_field(response: Any) -> dict[str, dict]:
    assert response.status_code == 422, response.text
    return {e["field"]: e for e in response.json()["detail"]}


def test_create_and_read(client: TestClient) -> None:
    link = link_codes(client, "equipment")[0]
    payload = sme_payload(links=[link], chains=[], city="青岛")
    r = client.post(API, json=payload)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"] > 0
    assert r.headers["location"] == f"{API}/{body['id']}"
    assert body["city"] == "青岛市"
    assert body["tier"] == "specialized" and body["tier_label"] == "专精特新中小企业"
    assert body["size_class"] == "small"
    assert [p["name"] for p in body["products"]] == ["转向架构架焊接件", "制动夹钳铸件"]
    assert body["products"][0]["capacity"] == "年产1200套"
    assert body["certifications"] == ["ISO 9001", "CRCC"]
    assert body["links"] == [link]
    assert body["chains"] == ["equipment"]  # implied by the link
    assert body["version"] == 1
    again = client.get(f"{API}/{body['id']}")
    assert again.status_code == 200 and again.json() == body


def test_minimal_profile(client: TestClient) -> None:
    r = client.post(
        API,
        json={
            "name": "淄博某新材料有限公司",
            "city": "淄博市",
            "tier": "创新型中小企业",
            "products": ["氧化锆陶瓷结构件"],
            "certifications": [],
            "description": "",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["uscc"] is None


def test_field_errors_are_bilingual_and_complete(client: TestClient) -> None:
    r = client.post(
        API,
        json=sme_payload(
            uscc="91370200163562681H",
            city="苏州市",
            tier="大型企业",
            products=[],
            rd_share=150,
            contact_email="not-an-email",
        ),
    )
    errors = errors_by_field(r)
    assert set(errors) == {"uscc", "city", "tier", "products", "rd_share", "contact_email"}
    assert "校验码" in errors["uscc"]["msg_zh"] and "check character" in errors["uscc"]["msg"]
    assert "城市" in errors["city"]["msg_zh"] and "青岛市" in errors["city"]["msg_zh"]
    assert errors["rd_share"]["msg_zh"].startswith("数值过大")
    assert r.json()["message_zh"].startswith("输入有误")


def test_unknown_codes_and_fields_are_refused(client: TestClient) -> None:
    r = client.post(API, json=sme_payload(chains=["equipment", "nope"], links=["zz-99"]))
    errors = errors_by_field(r)
    assert set(errors) == {"chains.1", "links.0"}
    assert "nope" in errors["chains.1"]["msg_zh"]
    r = client.post(API, json=sme_payload(nmae="typo"))
    assert "nmae" in errors_by_field(r)


def test_duplicate_credit_code_conflicts(client: TestClient) -> None:
    code = uscc()
    assert client.post(API, json=sme_payload(uscc=code)).status_code == 201
    r = client.post(API, json=sme_payload(uscc=code.lower()))
    assert r.status_code == 409
    assert r.json()["field"] == "uscc"


def test_patch_with_version_check(client: TestClient) -> None:
    sme = client.post(API, json=sme_payload()).json()
    r = client.patch(
        f"{API}/{sme['id']}",
        json={"version": 1, "tier": "小巨人", "certifications": ["IATF16949"], "city": "潍坊"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 2 and body["tier"] == "little_giant"
    assert body["certifications"] == ["IATF 16949"] and body["city"] == "潍坊市"
    assert body["products"] == sme["products"]  # untouched fields stay
    stale = client.patch(f"{API}/{sme['id']}", json={"version": 1, "description": "x"})
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2
    assert client.get(f"{API}/{sme['id']}").json()["description"] == sme["description"]
    via_header = client.patch(
        f"{API}/{sme['id']}", json={"description": "新描述"}, headers={"If-Match": '"2"'}
    )
    assert via_header.status_code == 200 and via_header.headers["etag"] == '"3"'
    assert (
        client.patch(
            f"{API}/{sme['id']}", json={"description": "y"}, headers={"If-Match": '"2"'}
        ).status_code
        == 409
    )


def test_patch_refuses_null_for_required_fields(client: TestClient) -> None:
    sme = client.post(API, json=sme_payload()).json()
    r = client.patch(f"{API}/{sme['id']}", json={"name": None, "tier": None})
    assert set(errors_by_field(r)) == {"name", "tier"}
    assert client.get(f"{API}/{sme['id']}").json()["name"] == sme["name"]


def test_enterprise_only_edit_bumps_version(client: TestClient) -> None:
    sme = client.post(API, json=sme_payload()).json()
    r = client.patch(f"{API}/{sme['id']}", json={"name": "新名称有限公司"})
    assert r.json()["version"] == 2 and r.json()["name"] == "新名称有限公司"


def test_soft_delete_and_restore(client: TestClient) -> None:
    sme = client.post(API, json=sme_payload()).json()
    assert client.delete(f"{API}/{sme['id']}").status_code == 204
    assert client.get(f"{API}/{sme['id']}").status_code == 404
    assert sme["id"] not in [
        x["id"] for x in client.get(API, params={"limit": 200}).json()["items"]
    ]
    deleted = client.get(API, params={"include_deleted": True, "limit": 200}).json()["items"]
    assert sme["id"] in [x["id"] for x in deleted]
    r = client.post(f"{API}/{sme['id']}/restore")
    assert r.status_code == 200 and r.json()["deleted_at"] is None
    assert client.get(f"{API}/{sme['id']}").status_code == 200
    assert client.delete(f"{API}/999999").status_code == 404


def test_list_filters_and_pagination(client: TestClient) -> None:
    rail_link = link_codes(client, "equipment")[0]
    a = client.post(
        API,
        json=sme_payload(
            city="济南市", tier="小巨人", certifications=["IATF 16949"], links=[rail_link]
        ),
    ).json()
    b = client.post(
        API,
        json=sme_payload(
            city="威海市",
            chains=["pharma"],
            certifications=["ISO 13485"],
            products=["一次性使用输液器"],
            description="医用高分子耗材，百级洁净车间",
        ),
    ).json()

    def ids(**params: Any) -> list[int]:
        r = client.get(API, params={"limit": 200, **params})
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"]]

    assert ids(city="济南") == [a["id"]]
    assert ids(tier="little_giant") == [a["id"]]
    assert ids(certification="iatf16949") == [a["id"]]
    assert ids(link=rail_link) == [a["id"]]
    assert ids(chain="pharma") == [b["id"]]
    assert ids(q="输液器") == [b["id"]]
    assert ids(q="百级洁净") == [b["id"]]
    assert ids(q="100%_") == []
    assert ids(city="威海市", chain="equipment") == []
    page = client.get(API, params={"limit": 1, "offset": 0}).json()
    assert page["total"] == 2 and len(page["items"]) == 1 and page["items"][0]["id"] == b["id"]
    assert client.get(API, params={"limit": 0}).status_code == 422
    assert client.get(API, params={"city": "火星"}).status_code == 422
    assert client.get(API, params={"limit": 1000}).json()["limit"] == 200


def test_bulk_is_all_or_nothing(client: TestClient) -> None:
    dup = uscc()
    rows = [
        sme_payload(),
        sme_payload(uscc="123"),
        sme_payload(uscc=dup),
        sme_payload(city="火星"),
        sme_payload(uscc=dup),
        "not an object",
        sme_payload(chains=["nope"]),
    ]
    r = client.post(f"{API}/bulk", json=rows)
    assert r.status_code == 422
    bad = sorted({e["row"] for e in r.json()["detail"]})
    assert bad == [1, 3, 4, 5, 6]
    fields = {(e["row"], e["field"]) for e in r.json()["detail"]}
    assert {(1, "1.uscc"), (3, "3.city"), (4, "4.uscc"), (6, "6.chains.0")} <= fields
    assert client.get(API).json()["total"] == 0

    good = [sme_payload(name=f"批量企业{i}有限公司") for i in range(25)]
    r = client.post(f"{API}/bulk", json=good)
    assert r.status_code == 201, r.text
    ids = r.json()["ids"]
    assert len(ids) == 25 == r.json()["count"]
    names = [client.get(f"{API}/{i}").json()["name"] for i in ids]
    assert names == [g["name"] for g in good]


def test_bulk_conflicts_with_stored_codes(client: TestClient) -> None:
    existing = client.post(API, json=sme_payload()).json()
    r = client.post(f"{API}/bulk", json=[sme_payload(), sme_payload(uscc=existing["uscc"])])
    assert r.status_code == 422
    assert [(e["row"], e["field"]) for e in r.json()["detail"]] == [(1, "1.uscc")]
    assert client.get(API).json()["total"] == 1


def test_bulk_limits(client: TestClient, settings) -> None:
    assert client.post(f"{API}/bulk", json=[]).status_code == 422
    assert client.post(f"{API}/bulk", json={"not": "a list"}).status_code == 422
    too_many = [{}] * (settings.max_bulk_rows + 1)
    r = client.post(f"{API}/bulk", json=too_many)
    assert r.status_code == 422 and "10000" in r.json()["detail"][0]["msg"]
