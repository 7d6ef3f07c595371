"""A credit code never binds an account to another party's record; claims are decided by staff."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import leader_payload, sme_payload, uscc
from tests.security.conftest import made, signup


@pytest.fixture
def leader(client: TestClient) -> dict[str, Any]:
    return made(client.post("/api/v1/leaders", json=leader_payload(uscc=uscc(), city="烟台市")))


def _squat(anon_client: TestClient, headers, code: str) -> Any:
    """A fresh sign-up registers 'its' profile under someone else's credit code."""
    payload = sme_payload(uscc=code, name="冒名顶替科技有限公司", city="济南市", size_class="微型")
    return anon_client.post("/api/v1/smes", json=payload, headers=headers)


def test_a_sign_up_cannot_take_a_leaders_record_by_its_credit_code(
    client: TestClient, anon_client: TestClient, leader
) -> None:
    attacker = signup(client, "squatter.a")
    r = _squat(anon_client, attacker, leader["uscc"])
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["field"] == "uscc" and "认领" in body["message_zh"]
    after = made(client.get(f"/api/v1/leaders/{leader['id']}"), 200)
    assert (after["name"], after["city"]) == (leader["name"], "烟台市")
    assert made(anon_client.get("/api/v1/auth/me", headers=attacker), 200)["sme_id"] is None


def test_the_console_profile_form_cannot_take_it_either(
    client: TestClient, anon_client: TestClient, leader
) -> None:
    web = TestClient(client.app, raise_server_exceptions=False)
    web.post(
        "/signup",
        data={"username": "squatter.w", "password": "long enough 1", "password2": "long enough 1"},
    )
    assert web.cookies.get("chainmatch_session")
    form = {
        "name": "冒名顶替科技有限公司",
        "uscc": leader["uscc"],
        "city": "济南市",
        "tier": "专精特新中小企业",
        "products": "焊接件",
        "invention_patents": "0",
        "utility_patents": "0",
    }
    page = web.post("/sme/profile", data=form)
    assert page.status_code == 409 and "认领" in page.text
    after = made(client.get(f"/api/v1/leaders/{leader['id']}"), 200)
    assert after["name"] == leader["name"]


def test_a_deleted_profile_stays_restorable(client: TestClient, anon_client: TestClient) -> None:
    sme = made(client.post("/api/v1/smes", json=sme_payload()))
    made(client.delete(f"/api/v1/smes/{sme['id']}"), 204)
    attacker = signup(client, "squatter.d")
    assert _squat(anon_client, attacker, sme["uscc"]).status_code == 409
    restored = made(client.post(f"/api/v1/smes/{sme['id']}/restore"), 200)
    assert restored["name"] == sme["name"]


def test_a_claim_approved_by_an_organizer_binds_the_account(
    client: TestClient, anon_client: TestClient, world
) -> None:
    sme = made(client.post("/api/v1/smes", json=sme_payload()))
    made(client.delete(f"/api/v1/smes/{sme['id']}"), 204)
    owner = signup(client, "rightful.owner")
    claim = made(
        anon_client.post(
            "/api/v1/claims",
            json={"uscc": sme["uscc"], "note": "总经理本人，营业执照可核"},
            headers=owner,
        )
    )
    assert claim["status"] == "pending" and claim["enterprise_name"] == sme["name"]
    # Filing again finds the same claim; nobody but the staff decides it.
    again = anon_client.post("/api/v1/claims", json={"uscc": sme["uscc"]}, headers=owner)
    assert made(again)["id"] == claim["id"]
    for who in (owner, world["sme"], world["leader"]):
        r = anon_client.post(f"/api/v1/claims/{claim['id']}/approve", json={}, headers=who)
        assert r.status_code == 403
    # Another account does not see it.
    assert made(anon_client.get("/api/v1/claims", headers=world["sme"]), 200) == []
    decided = made(
        anon_client.post(
            f"/api/v1/claims/{claim['id']}/approve",
            json={"note": "已电话核实"},
            headers=world["organizer"],
        ),
        200,
    )
    assert decided["status"] == "approved" and decided["sme_id"] == sme["id"]
    me = made(anon_client.get("/api/v1/auth/me", headers=owner), 200)
    assert me["sme_id"] == sme["id"]
    profile = made(anon_client.get(f"/api/v1/smes/{sme['id']}", headers=owner), 200)
    edited = anon_client.patch(
        f"/api/v1/smes/{sme['id']}",
        json={"description": "认领后更新", "version": profile["version"]},
        headers=owner,
    )
    assert made(edited, 200)["description"] == "认领后更新"
    twice = anon_client.post(
        f"/api/v1/claims/{claim['id']}/reject", json={}, headers=world["organizer"]
    )
    assert twice.status_code == 409


def test_an_approved_claim_on_a_leaders_firm_lets_the_account_register_its_profile(
    client: TestClient, anon_client: TestClient, world, leader
) -> None:
    owner = signup(client, "dual.role")
    claim = made(anon_client.post("/api/v1/claims", json={"uscc": leader["uscc"]}, headers=owner))
    assert _squat(anon_client, owner, leader["uscc"]).status_code == 409  # pending: not yet
    made(
        anon_client.post(
            f"/api/v1/claims/{claim['id']}/approve", json={}, headers=world["organizer"]
        ),
        200,
    )
    r = anon_client.post(
        "/api/v1/smes", json=sme_payload(uscc=leader["uscc"], name=leader["name"]), headers=owner
    )
    assert r.status_code == 201, r.text


def test_a_rejected_claim_binds_nothing(client: TestClient, anon_client: TestClient, world, leader):
    attacker = signup(client, "squatter.c")
    claim = made(
        anon_client.post("/api/v1/claims", json={"uscc": leader["uscc"]}, headers=attacker)
    )
    rejected = anon_client.post(
        f"/api/v1/claims/{claim['id']}/reject",
        json={"note": "无法核实"},
        headers=world["organizer"],
    )
    assert made(rejected, 200)["status"] == "rejected"
    assert _squat(anon_client, attacker, leader["uscc"]).status_code == 409
    mine = made(anon_client.get("/api/v1/claims", headers=attacker), 200)
    assert [c["decision_note"] for c in mine] == ["无法核实"]


def test_a_claim_needs_a_firm_on_record(client: TestClient, anon_client: TestClient) -> None:
    owner = signup(client, "nobody.yet")
    r = anon_client.post("/api/v1/claims", json={"uscc": uscc()}, headers=owner)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "uscc"


def test_credit_codes_are_only_the_firms_own_and_the_staffs(
    client: TestClient, anon_client: TestClient, world, leader
) -> None:
    """GET /leaders/{id} handed any signed-in user the key to the record above."""
    leader_id, sme_id = leader["id"], world["smes"][0]["id"]
    for who in ("sme", "leader", "leader1"):
        seen = made(anon_client.get(f"/api/v1/leaders/{leader_id}", headers=world[who]), 200)
        assert seen["uscc"] is None
        listed = made(anon_client.get("/api/v1/leaders", headers=world[who]), 200)["items"]
        assert all(x["uscc"] is None for x in listed if x["id"] == leader_id)
    assert (
        made(anon_client.get(f"/api/v1/smes/{sme_id}", headers=world["leader"]), 200)["uscc"]
        is None
    )
    assert made(anon_client.get(f"/api/v1/smes/{sme_id}", headers=world["sme"]), 200)["uscc"]
    staff = made(anon_client.get(f"/api/v1/leaders/{leader_id}", headers=world["organizer"]), 200)
    assert staff["uscc"] == leader["uscc"]


def test_the_claim_flow_in_the_console(client: TestClient, leader, world) -> None:
    """The SME claims from its profile form's error; an organizer approves on the claims page."""
    password = "long enough 1"
    sme = TestClient(client.app, raise_server_exceptions=False)
    sme.post(
        "/signup", data={"username": "console.owner", "password": password, "password2": password}
    )
    form = {
        "name": leader["name"],
        "uscc": leader["uscc"],
        "city": "烟台市",
        "tier": "专精特新中小企业",
        "products": "焊接件",
        "invention_patents": "0",
        "utility_patents": "0",
    }
    refused = sme.post("/sme/profile", data=form)
    assert refused.status_code == 409 and f"/sme/claim?uscc={leader['uscc']}" in refused.text
    filed = sme.post("/sme/claim", data={"uscc": leader["uscc"], "note": "办公室主任 0535-1234567"})
    assert filed.status_code == 200 and "认领申请已提交" in filed.text and "待审核" in filed.text
    bad = sme.post("/sme/claim", data={"uscc": "123", "note": ""})
    assert bad.status_code == 422 and 'data-error-for="uscc"' in bad.text

    organizer = TestClient(client.app, raise_server_exceptions=False)
    made(
        client.post(
            "/api/v1/users",
            json={"username": "org.claims", "password": password, "role": "organizer"},
        )
    )
    organizer.post("/login", data={"username": "org.claims", "password": password})
    page = organizer.get("/organizer/claims")
    assert page.status_code == 200 and "办公室主任" in page.text and leader["uscc"] in page.text
    claim_id = made(client.get("/api/v1/claims"), 200)[0]["id"]
    done = organizer.post(f"/organizer/claims/{claim_id}/approve", data={"note": "已核实"})
    assert done.status_code == 200 and "已通过" in done.text
    assert sme.post("/sme/profile", data=form).status_code in (200, 303)
    assert made(client.get("/api/v1/claims"), 200)[0]["status"] == "approved"
    # Not for other roles.
    assert sme.get("/organizer/claims").status_code == 403
