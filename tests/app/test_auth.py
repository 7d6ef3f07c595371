"""Accounts, tokens, the rate limit, access rules, hidden contacts and the audit log."""

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from models import AuthToken, Meeting, utcnow
from tests.factories import demand_payload, leader_payload, sme_payload

PASSWORD = "correct horse 42"


def made(r, code: int = 201) -> Any:
    assert r.status_code == code, r.text
    return r.json() if r.content else None


def user(client: TestClient, username: str, role: str, **binding: int) -> dict[str, str]:
    """Create an account as admin and sign in; returns its auth headers."""
    made(
        client.post(
            "/api/v1/users",
            json={"username": username, "password": PASSWORD, "role": role, **binding},
        )
    )
    login = made(
        client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}), 200
    )
    return {"Authorization": f"Bearer {login['access_token']}"}


@pytest.fixture
def world(client: TestClient) -> dict[str, Any]:
    """Two leaders with a need each, two SMEs, and an account for each party and an organizer."""
    leaders = [made(client.post("/api/v1/leaders", json=leader_payload())) for _ in range(2)]
    demands = [made(client.post("/api/v1/demands", json=demand_payload(x["id"]))) for x in leaders]
    smes = [made(client.post("/api/v1/smes", json=sme_payload())) for _ in range(2)]
    return {
        "leaders": leaders,
        "demands": demands,
        "smes": smes,
        "leader": user(client, "leader0", "leader", leader_id=leaders[0]["id"]),
        "leader1": user(client, "leader1", "leader", leader_id=leaders[1]["id"]),
        "sme": user(client, "sme0", "sme", sme_id=smes[0]["id"]),
        "sme1": user(client, "sme1", "sme", sme_id=smes[1]["id"]),
        "organizer": user(client, "organizer", "organizer"),
    }


def test_public_and_private_endpoints(anon_client: TestClient) -> None:
    assert anon_client.get("/api/v1/health").status_code == 200
    assert anon_client.get("/api/v1/chains").status_code == 200
    assert anon_client.get("/api/v1/chains/equipment").status_code == 200
    for method, url in [
        ("GET", "/api/v1/smes"),
        ("GET", "/api/v1/demands"),
        ("GET", "/api/v1/leaders"),
        ("POST", "/api/v1/events"),
        ("GET", "/api/v1/index/status"),
        ("GET", "/api/v1/auth/me"),
    ]:
        r = anon_client.request(method, url, json={})
        assert r.status_code == 401, (url, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        assert "登录" in r.json()["message_zh"]
    bad = anon_client.get("/api/v1/smes", headers={"Authorization": "Bearer cm_nonsense"})
    assert bad.status_code == 401
    basic = anon_client.get("/api/v1/smes", headers={"Authorization": "Basic YTpi"})
    assert basic.status_code == 401


def test_login_me_logout(client: TestClient, anon_client: TestClient) -> None:
    headers = user(client, "Organizer.Li", "organizer")
    me = made(anon_client.get("/api/v1/auth/me", headers=headers), 200)
    assert me["username"] == "Organizer.Li" and me["role"] == "organizer"
    assert me["role_label"] == "活动组织方"
    # Usernames are unique regardless of case.
    r = client.post(
        "/api/v1/users", json={"username": "organizer.li", "password": PASSWORD, "role": "sme"}
    )
    assert r.status_code == 409
    made(anon_client.post("/api/v1/auth/logout", headers=headers), 204)
    assert anon_client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_bad_account_input(client: TestClient) -> None:
    r = client.post("/api/v1/users", json={"username": "x", "password": "short", "role": "boss"})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["detail"]}
    assert {"username", "password", "role"} <= fields
    r = client.post(
        "/api/v1/users", json={"username": "leaderless", "password": PASSWORD, "role": "leader"}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "leader_id"
    r = client.post(
        "/api/v1/users",
        json={"username": "ghost", "password": PASSWORD, "role": "sme", "sme_id": 999999},
    )
    assert r.status_code == 422 and "不存在" in r.json()["detail"][0]["msg_zh"]


def test_login_rate_limit(client: TestClient, anon_client: TestClient) -> None:
    user(client, "target", "organizer")
    for _ in range(5):
        r = anon_client.post("/api/v1/auth/login", json={"username": "target", "password": "nope"})
        assert r.status_code == 401
        assert r.json()["message_zh"] == "用户名或密码错误"
    # Even the right password is refused while the limit holds.
    r = anon_client.post("/api/v1/auth/login", json={"username": "target", "password": PASSWORD})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    # Unknown usernames answer exactly like wrong passwords.
    r = anon_client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"})
    assert r.status_code == 401 and r.json()["message_zh"] == "用户名或密码错误"


def test_expired_and_revoked_tokens(
    client: TestClient, anon_client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    headers = user(client, "short.lived", "organizer")
    assert anon_client.get("/api/v1/auth/me", headers=headers).status_code == 200
    with session_factory() as s:
        s.execute(update(AuthToken).values(expires_at=utcnow() - timedelta(minutes=1)))
        s.commit()
    r = anon_client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 401 and "过期" in r.json()["message_zh"]


def test_personal_tokens(client: TestClient, anon_client: TestClient) -> None:
    headers = user(client, "robot", "organizer")
    created = made(
        anon_client.post("/api/v1/auth/tokens", json={"name": "nightly import"}, headers=headers)
    )
    token = created["token"]
    assert token.startswith("cm_") and created["prefix"] == token[:10]
    listed = made(anon_client.get("/api/v1/auth/tokens", headers=headers), 200)
    assert {t["name"] for t in listed} == {"login", "nightly import"}
    assert all(t["token"] is None for t in listed)
    personal = {"Authorization": f"Bearer {token}"}
    assert made(anon_client.get("/api/v1/auth/me", headers=personal), 200)["username"] == "robot"
    made(anon_client.delete(f"/api/v1/auth/tokens/{created['id']}", headers=headers), 204)
    assert anon_client.get("/api/v1/auth/me", headers=personal).status_code == 401


def test_deactivated_account_loses_its_sessions(client: TestClient, anon_client) -> None:
    headers = user(client, "leaving", "organizer")
    me = made(anon_client.get("/api/v1/auth/me", headers=headers), 200)
    made(client.patch(f"/api/v1/users/{me['id']}", json={"active": False}), 200)
    assert anon_client.get("/api/v1/auth/me", headers=headers).status_code == 401
    r = anon_client.post("/api/v1/auth/login", json={"username": "leaving", "password": PASSWORD})
    assert r.status_code == 401


def test_sme_registers_once_and_edits_only_its_own(client: TestClient, anon_client) -> None:
    other = made(client.post("/api/v1/smes", json=sme_payload()))
    headers = user(client, "new.sme", "sme")
    mine = made(anon_client.post("/api/v1/smes", json=sme_payload(), headers=headers))
    me = made(anon_client.get("/api/v1/auth/me", headers=headers), 200)
    assert me["sme_id"] == mine["id"]
    again = anon_client.post("/api/v1/smes", json=sme_payload(), headers=headers)
    assert again.status_code == 403 and "已绑定" in again.json()["message_zh"]
    ok = anon_client.patch(
        f"/api/v1/smes/{mine['id']}", json={"description": "新的简介"}, headers=headers
    )
    assert ok.status_code == 200
    r = anon_client.patch(f"/api/v1/smes/{other['id']}", json={"description": "x"}, headers=headers)
    assert r.status_code == 403 and r.json()["message_zh"] == "只能修改本企业的档案"
    assert anon_client.delete(f"/api/v1/smes/{other['id']}", headers=headers).status_code == 403
    assert anon_client.get(f"/api/v1/smes/{other['id']}", headers=headers).status_code == 200
    bulk = anon_client.post("/api/v1/smes/bulk", json=[sme_payload()], headers=headers)
    assert bulk.status_code == 403


def test_leader_posts_and_edits_only_its_own_demands(world, anon_client: TestClient) -> None:
    mine, theirs = world["leaders"]
    h = world["leader"]
    posted = made(anon_client.post("/api/v1/demands", json=demand_payload(mine["id"]), headers=h))
    r = anon_client.post("/api/v1/demands", json=demand_payload(theirs["id"]), headers=h)
    assert r.status_code == 403
    own = anon_client.patch(f"/api/v1/demands/{posted['id']}", json={"title": "新标题"}, headers=h)
    assert own.status_code == 200
    other = world["demands"][1]["id"]
    assert (
        anon_client.patch(f"/api/v1/demands/{other}", json={"title": "x"}, headers=h).status_code
        == 403
    )
    assert anon_client.delete(f"/api/v1/demands/{other}", headers=h).status_code == 403
    assert (
        anon_client.patch(
            f"/api/v1/leaders/{theirs['id']}", json={"description": "x"}, headers=h
        ).status_code
        == 403
    )
    # Leaders do not register SME profiles.
    assert anon_client.post("/api/v1/smes", json=sme_payload(), headers=h).status_code == 403
    # Ranked SMEs are for the need's own leader and the staff.
    assert anon_client.get(f"/api/v1/demands/{posted['id']}/matches", headers=h).status_code == 200
    assert anon_client.get(f"/api/v1/demands/{other}/matches", headers=h).status_code == 403
    org = world["organizer"]
    assert anon_client.get(f"/api/v1/demands/{other}/matches", headers=org).status_code == 200
    # Organizers read everything but do not edit a leader's needs.
    assert (
        anon_client.patch(f"/api/v1/demands/{other}", json={"title": "x"}, headers=org).status_code
        == 403
    )


def test_sme_sees_only_its_own_fitting_demands(world, anon_client: TestClient) -> None:
    sme, other = world["smes"]
    h = world["sme"]
    assert anon_client.get(f"/api/v1/smes/{sme['id']}/matches", headers=h).status_code == 200
    r = anon_client.get(f"/api/v1/smes/{other['id']}/matches", headers=h)
    assert r.status_code == 403 and "该企业" in r.json()["message_zh"]
    assert anon_client.post("/api/v1/match", json={"text": "焊接"}, headers=h).status_code == 403


def test_events_are_run_by_organizers(world, anon_client: TestClient) -> None:
    event = {"title": "专场对接会", "chains": ["equipment"], "date": "2027-03-18"}
    r = anon_client.post("/api/v1/events", json=event, headers=world["sme"])
    assert r.status_code == 403 and "活动组织方" in r.json()["message_zh"]
    ev = made(anon_client.post("/api/v1/events", json=event, headers=world["organizer"]))
    leader, sme = world["leaders"][0], world["smes"][0]
    made(
        anon_client.post(
            f"/api/v1/events/{ev['id']}/participants",
            json={"participants": [{"leader_id": leader["id"]}, {"sme_id": sme["id"]}]},
            headers=world["organizer"],
        ),
        200,
    )
    mark = {"leader_id": leader["id"], "sme_id": sme["id"], "side": "sme", "mark": "must"}
    url = f"/api/v1/events/{ev['id']}/preferences"
    assert (
        anon_client.post(url, json={"preferences": [mark]}, headers=world["sme"]).status_code == 200
    )
    # An SME may not speak for the leader's side, nor for another SME.
    wrong = {**mark, "side": "leader"}
    assert (
        anon_client.post(url, json={"preferences": [wrong]}, headers=world["sme"]).status_code
        == 403
    )
    assert (
        anon_client.post(url, json={"preferences": [mark]}, headers=world["sme1"]).status_code
        == 403
    )
    agenda = f"/api/v1/events/{ev['id']}/agenda?party=S{sme['id']}"
    assert anon_client.get(agenda, headers=world["sme"]).status_code == 200
    assert anon_client.get(agenda, headers=world["sme1"]).status_code == 403
    assert anon_client.get(agenda, headers=world["leader"]).status_code == 403
    report = f"/api/v1/events/{ev['id']}/report"
    assert anon_client.get(report, headers=world["leader"]).status_code == 403
    assert anon_client.get(report, headers=world["organizer"]).status_code == 200


def _contact(anon_client: TestClient, url: str, headers) -> tuple[str | None, bool]:
    body = made(anon_client.get(url, headers=headers), 200)
    return body["contact_phone"], body["contact_hidden"]


def test_contacts_hidden_until_both_sides_show_interest(world, anon_client: TestClient) -> None:
    sme, leader, demand = world["smes"][0], world["leaders"][0], world["demands"][0]
    sme_url, demand_url = f"/api/v1/smes/{sme['id']}", f"/api/v1/demands/{demand['id']}"
    leader_url = f"/api/v1/leaders/{leader['id']}"
    # Each party and the staff see their own; the other side and competitors do not.
    assert _contact(anon_client, sme_url, world["sme"]) == (sme["contact_phone"], False)
    assert _contact(anon_client, sme_url, world["organizer"])[1] is False
    assert _contact(anon_client, sme_url, world["leader"]) == (None, True)
    assert _contact(anon_client, sme_url, world["sme1"]) == (None, True)
    assert _contact(anon_client, demand_url, world["sme"]) == (None, True)
    listed = made(anon_client.get("/api/v1/smes?limit=50", headers=world["leader"]), 200)
    assert all(x["contact_phone"] is None for x in listed["items"])

    # The leader's interest alone reveals nothing.
    one = made(
        anon_client.post(
            "/api/v1/interests",
            json={"demand_id": demand["id"], "sme_id": sme["id"]},
            headers=world["leader"],
        )
    )
    assert one["side"] == "leader" and one["mutual"] is False
    assert _contact(anon_client, sme_url, world["leader"]) == (None, True)
    # An SME names the need; it cannot speak for another SME.
    r = anon_client.post(
        "/api/v1/interests",
        json={"demand_id": demand["id"], "sme_id": world["smes"][1]["id"]},
        headers=world["sme"],
    )
    assert r.status_code == 403
    both = made(
        anon_client.post(
            "/api/v1/interests", json={"demand_id": demand["id"]}, headers=world["sme"]
        )
    )
    assert both["mutual"] is True
    assert _contact(anon_client, sme_url, world["leader"]) == (sme["contact_phone"], False)
    assert _contact(anon_client, demand_url, world["sme"])[1] is False
    assert _contact(anon_client, leader_url, world["sme"])[1] is False
    # Not to the other leader, nor to the other SME.
    assert _contact(anon_client, sme_url, world["leader1"]) == (None, True)
    assert _contact(anon_client, leader_url, world["sme1"])[1] is True
    # A leader cannot express interest on another leader's need.
    r = anon_client.post(
        "/api/v1/interests",
        json={"demand_id": world["demands"][1]["id"], "sme_id": sme["id"]},
        headers=world["leader"],
    )
    assert r.status_code == 403
    # Withdrawing hides them again.
    made(anon_client.delete(f"/api/v1/interests/{both['id']}", headers=world["sme"]), 204)
    assert _contact(anon_client, sme_url, world["leader"]) == (None, True)


def test_a_scheduled_meeting_reveals_contacts(
    world, anon_client: TestClient, client: TestClient, session_factory
) -> None:
    sme, leader = world["smes"][1], world["leaders"][1]
    sme_url = f"/api/v1/smes/{sme['id']}"
    assert _contact(anon_client, sme_url, world["leader1"])[1] is True
    ev = made(
        client.post(
            "/api/v1/events",
            json={"title": "对接会", "chains": ["equipment"], "date": "2027-03-18"},
        )
    )
    with session_factory() as s:
        s.add(Meeting(event_id=ev["id"], leader_id=leader["id"], sme_id=sme["id"], slot=None))
        s.commit()
    # Chosen but not yet placed in a slot: still hidden.
    assert _contact(anon_client, sme_url, world["leader1"])[1] is True
    with session_factory() as s:
        s.execute(update(Meeting).values(slot=0, table_no=1))
        s.commit()
    assert _contact(anon_client, sme_url, world["leader1"]) == (sme["contact_phone"], False)
    assert _contact(anon_client, f"/api/v1/leaders/{leader['id']}", world["sme1"])[1] is False


def test_every_write_is_audited(world, client: TestClient, anon_client: TestClient) -> None:
    sme = world["smes"][0]
    made(
        anon_client.patch(
            f"/api/v1/smes/{sme['id']}",
            json={"description": "改过的简介", "contact_phone": "0532-1"},
            headers=world["sme"],
        ),
        200,
    )
    log = made(client.get(f"/api/v1/audit?entity=sme_profiles&entity_id={sme['id']}"), 200)["items"]
    assert [e["action"] for e in log] == ["update", "create"]
    change = log[0]
    assert change["actor"] == "sme0" and change["user_id"] is not None
    assert change["before"]["description"] == sme["description"]
    assert change["after"]["description"] == "改过的简介"
    assert change["after"]["contact_phone"] == "0532-1"
    assert change["request"] == f"PATCH /api/v1/smes/{sme['id']}"
    assert log[1]["actor"] == "admin-token"
    # Soft deletes are recorded as deletes; password hashes never appear.
    demand = world["demands"][0]["id"]
    made(anon_client.delete(f"/api/v1/demands/{demand}", headers=world["leader"]), 204)
    deleted = made(client.get(f"/api/v1/audit?entity=demands&entity_id={demand}"), 200)["items"]
    assert deleted[0]["action"] == "delete" and deleted[0]["actor"] == "leader0"
    users = made(client.get("/api/v1/audit?entity=users"), 200)["items"]
    created = [u for u in users if u["action"] == "create"]
    assert created and all(u["after"]["password_hash"] == "***" for u in created)
    assert "$argon2" not in str(users)
    # The log is for admins.
    assert anon_client.get("/api/v1/audit", headers=world["organizer"]).status_code == 403


def test_cross_site_cookie_writes_are_refused(world, anon_client: TestClient) -> None:
    token = world["sme"]["Authorization"].removeprefix("Bearer ")
    anon_client.cookies.set("chainmatch_session", token)
    try:
        sme_id = world["smes"][0]["id"]
        assert anon_client.get("/api/v1/auth/me").status_code == 200
        r = anon_client.patch(
            f"/api/v1/smes/{sme_id}",
            json={"description": "x"},
            headers={"Origin": "https://evil.example"},
        )
        assert r.status_code == 403
        same = anon_client.patch(
            f"/api/v1/smes/{sme_id}",
            json={"description": "y"},
            headers={"Origin": "http://testserver"},
        )
        assert same.status_code == 200
    finally:
        anon_client.cookies.clear()


def test_create_user_on_the_command_line(tmp_path, monkeypatch) -> None:
    from app.cli import cli
    from app.config import get_settings
    from app.db import make_engine
    from tests.dbutil import fresh_database, migrate

    with fresh_database(tmp_path) as url:
        migrate(url)
        monkeypatch.setenv("CHAINMATCH_DATABASE_URL", url)
        get_settings.cache_clear()
        try:
            runner = CliRunner()
            r = runner.invoke(
                cli, ["create-user", "root", "--role", "admin"], input=f"{PASSWORD}\n{PASSWORD}\n"
            )
            assert r.exit_code == 0, r.output
            assert "created user root" in r.output
            dup = runner.invoke(cli, ["create-user", "ROOT", "--password", PASSWORD])
            assert dup.exit_code == 2 and "已被使用" in dup.output
            weak = runner.invoke(cli, ["create-user", "weak", "--password", "123"])
            assert weak.exit_code == 2 and "密码" in weak.output
            engine = make_engine(url)
            from app.services import auth

            with engine.connect() as conn:
                row = conn.exec_driver_sql(
                    "SELECT password_hash, role FROM users WHERE username='root'"
                ).one()
            engine.dispose()
            assert row[1] == "admin" and row[0].startswith("$argon2")
            assert auth.verify_password(row[0], PASSWORD)
        finally:
            get_settings.cache_clear()


def test_sme_signup_and_its_switch(client: TestClient, anon_client: TestClient) -> None:
    r = anon_client.post(
        "/api/v1/auth/signup", json={"username": "self.made", "password": PASSWORD}
    )
    body = made(r)
    assert body["user"]["role"] == "sme" and body["user"]["sme_id"] is None
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    sme = made(anon_client.post("/api/v1/smes", json=sme_payload(), headers=headers))
    assert made(anon_client.get("/api/v1/auth/me", headers=headers), 200)["sme_id"] == sme["id"]
    # Nobody signs up as anything but an SME.
    r = anon_client.post(
        "/api/v1/auth/signup", json={"username": "boss", "password": PASSWORD, "role": "admin"}
    )
    assert r.status_code == 422
    client.app.state.settings.sme_signup = False
    try:
        r = anon_client.post("/api/v1/auth/signup", json={"username": "late", "password": PASSWORD})
        assert r.status_code == 403 and "管理员" in r.json()["message_zh"]
    finally:
        client.app.state.settings.sme_signup = True


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(username=st.text(max_size=80), password=st.text(max_size=300))
def test_any_login_input_is_a_clear_refusal(anon_client: TestClient, username, password) -> None:
    r = anon_client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code in (401, 422, 429), r.text
    assert "message_zh" in r.json() or "detail" in r.json()


def test_deleted_profiles_are_listed_for_staff_only(world, client, anon_client) -> None:
    gone = world["smes"][1]
    made(client.delete(f"/api/v1/smes/{gone['id']}"), 204)
    url = "/api/v1/smes?include_deleted=true&limit=200"
    staff = {x["id"] for x in made(anon_client.get(url, headers=world["organizer"]), 200)["items"]}
    other = {x["id"] for x in made(anon_client.get(url, headers=world["leader"]), 200)["items"]}
    assert gone["id"] in staff and gone["id"] not in other


def test_mutual_interest_is_about_one_need_not_the_leader(
    client: TestClient, anon_client: TestClient, world: dict
) -> None:
    """Issue 14, data bug 2: an SME interested in need A and a leader shortlisting it on need B
    showed as 双方有意向 and revealed the contacts; interest belongs to the (need, SME) pair."""
    leader, sme = world["leaders"][0], world["smes"][0]
    first = world["demands"][0]
    second = made(client.post("/api/v1/demands", json=demand_payload(leader["id"], title="第二项")))
    asked = made(
        anon_client.post("/api/v1/interests", json={"demand_id": first["id"]}, headers=world["sme"])
    )
    listed = made(
        anon_client.post(
            "/api/v1/interests",
            json={"demand_id": second["id"], "sme_id": sme["id"]},
            headers=world["leader"],
        )
    )
    assert (asked["mutual"], listed["mutual"]) == (False, False)
    seen = made(anon_client.get(f"/api/v1/smes/{sme['id']}", headers=world["leader"]), 200)
    assert seen["contact_hidden"] is True and seen["contact_phone"] is None
    both = made(
        anon_client.post(
            "/api/v1/interests",
            json={"demand_id": first["id"], "sme_id": sme["id"]},
            headers=world["leader"],
        )
    )
    assert both["mutual"] is True
    seen = made(anon_client.get(f"/api/v1/smes/{sme['id']}", headers=world["leader"]), 200)
    assert seen["contact_hidden"] is False and seen["contact_phone"]
