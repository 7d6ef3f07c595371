"""Issue 12: docking events show each participant only what concerns it.

Staff (organizer, admin) see every event in full. A leader or SME sees only the events it takes
part in, without the organizer's notes, other participants' marks, slots or caps; a non-participant
gets the same 404 as for an event that does not exist, or an empty list.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import demand_payload, leader_payload, sme_payload

PASSWORD = "correct horse 42"
NOTES = "内部备注：企业S1报价偏高，勿对外 / internal"


def made(r, code: int = 201) -> Any:
    assert r.status_code == code, r.text
    return r.json() if r.content else None


def login(client: TestClient, username: str) -> dict[str, str]:
    body = made(
        client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}), 200
    )
    return {"Authorization": f"Bearer {body['access_token']}"}


def account(client: TestClient, username: str, role: str, **binding: int) -> dict[str, str]:
    """An account made by the admin, signed in; returns its auth headers."""
    made(
        client.post(
            "/api/v1/users",
            json={"username": username, "password": PASSWORD, "role": role, **binding},
        )
    )
    return login(client, username)


@pytest.fixture
def world(client: TestClient) -> dict[str, Any]:
    """Event 1: leaders L0, L1 and SMEs S0, S1 with marks and a request; event 2 without S0.

    S2 has a profile but is in no event; `fresh` is an SME sign-up without a profile.
    """
    leaders = [
        made(client.post("/api/v1/leaders", json=leader_payload(name=f"链主{c}集团")))
        for c in "甲乙丙"
    ]
    demands = [made(client.post("/api/v1/demands", json=demand_payload(x["id"]))) for x in leaders]
    smes = [
        made(client.post("/api/v1/smes", json=sme_payload(name=f"企业{c}有限公司")))
        for c in "甲乙丙"
    ]
    l0, l1, l2 = (x["id"] for x in leaders)
    s0, s1, s2 = (x["id"] for x in smes)
    ev = made(
        client.post(
            "/api/v1/events",
            json={"title": "轨道交通专场", "date": "2027-03-18", "notes": NOTES, "slot_count": 4},
        )
    )
    other = made(
        client.post(
            "/api/v1/events", json={"title": "另一场", "date": "2027-04-18", "notes": NOTES}
        )
    )
    made(
        client.post(
            f"/api/v1/events/{ev['id']}/participants",
            json={
                "participants": [
                    {"leader_id": l0, "demand_ids": [demands[0]["id"]], "cap": 3},
                    {"leader_id": l1, "unavailable_slots": [3]},
                    {"sme_id": s0, "cap": 2, "unavailable_slots": [0]},
                    {"sme_id": s1, "cap": 1, "unavailable_slots": [1, 2]},
                ]
            },
        ),
        200,
    )
    made(
        client.post(
            f"/api/v1/events/{other['id']}/participants",
            json={"participants": [{"leader_id": l2}, {"sme_id": s1}]},
        ),
        200,
    )
    prefs = [
        {"leader_id": l0, "sme_id": s1, "side": "leader", "mark": "no"},  # L0 on S1
        {"leader_id": l1, "sme_id": s1, "side": "sme", "mark": "must"},  # S1 on L1
        {"leader_id": l1, "sme_id": s0, "side": "leader", "mark": "must"},  # L1 on S0
        {"leader_id": l0, "sme_id": s0, "side": "leader", "request": "request"},  # L0 asks S0
    ]
    made(client.post(f"/api/v1/events/{ev['id']}/preferences", json={"preferences": prefs}), 200)
    fresh = made(
        client.post("/api/v1/auth/signup", json={"username": "fresh.sme", "password": PASSWORD})
    )
    return {
        "event": ev,
        "other": other,
        "l": (l0, l1, l2),
        "s": (s0, s1, s2),
        "leader0": account(client, "leader0", "leader", leader_id=l0),
        "leader2": account(client, "leader2", "leader", leader_id=l2),
        "sme0": account(client, "sme0", "sme", sme_id=s0),
        "sme2": account(client, "sme2", "sme", sme_id=s2),
        "fresh": {"Authorization": f"Bearer {fresh['access_token']}"},
        "organizer": account(client, "organizer1", "organizer"),
    }


def _missing_event(r, event_id: int) -> None:
    """The answer for an event that does not exist: nothing confirms that it does."""
    assert r.status_code == 404, r.text
    assert r.json()["message_zh"] == f"对接活动 {event_id} 不存在"


# -- POST /events/{id}/preferences ----------------------------------------------------------


def test_sme_marking_gets_back_only_its_own_pairs(world, anon_client: TestClient) -> None:
    ev, (l0, l1, _), (s0, _, _) = world["event"]["id"], world["l"], world["s"]
    mark = {"leader_id": l0, "sme_id": s0, "side": "sme", "mark": "must"}
    pairs = made(
        anon_client.post(
            f"/api/v1/events/{ev}/preferences", json={"preferences": [mark]}, headers=world["sme0"]
        ),
        200,
    )
    # Only S0's pairs, and never the leaders' marks: S1's "must" on L1, L0's "no" on S1 and
    # L1's "must" on S0 are all invisible to S0.
    assert {(p["leader_id"], p["sme_id"]) for p in pairs} == {(l0, s0)}
    (pair,) = pairs
    assert pair["sme_mark"] == "must" and pair["leader_mark"] is None
    # The request L0 sent is addressed to S0: S0 sees it, to answer it.
    assert pair["requested_by"] == "leader" and pair["request_status"] == "pending"
    assert (l1, s0) not in {(p["leader_id"], p["sme_id"]) for p in pairs}


def test_leader_marking_gets_back_only_its_own_pairs(world, anon_client: TestClient) -> None:
    ev, (l0, _, _), (s0, s1, _) = world["event"]["id"], world["l"], world["s"]
    mark = {"leader_id": l0, "sme_id": s1, "side": "leader", "mark": "neutral"}
    pairs = made(
        anon_client.post(
            f"/api/v1/events/{ev}/preferences",
            json={"preferences": [mark]},
            headers=world["leader0"],
        ),
        200,
    )
    assert pairs and all(p["leader_id"] == l0 for p in pairs)
    assert all(p["sme_mark"] is None for p in pairs)
    # (L0, S1) is neutral now and nobody asked: nothing to show, not even that S1 marked it.
    assert {(p["leader_id"], p["sme_id"]) for p in pairs} == {(l0, s0)}


def test_staff_marking_gets_back_every_pair(world, anon_client: TestClient) -> None:
    ev, (l0, l1, _), (s0, s1, _) = world["event"]["id"], world["l"], world["s"]
    mark = {"leader_id": l0, "sme_id": s0, "side": "sme", "mark": "neutral"}
    pairs = made(
        anon_client.post(
            f"/api/v1/events/{ev}/preferences",
            json={"preferences": [mark]},
            headers=world["organizer"],
        ),
        200,
    )
    assert {(p["leader_id"], p["sme_id"]) for p in pairs} == {
        (l0, s1),
        (l1, s1),
        (l1, s0),
        (l0, s0),
    }
    assert {p["leader_mark"] for p in pairs} >= {"no", "must"}


def test_non_participant_marking_is_told_the_event_does_not_exist(
    world, anon_client: TestClient
) -> None:
    ev, (l0, _, _), (_, _, s2) = world["event"]["id"], world["l"], world["s"]
    mark = {"leader_id": l0, "sme_id": s2, "side": "sme", "mark": "must"}
    url = f"/api/v1/events/{ev}/preferences"
    _missing_event(anon_client.post(url, json={"preferences": [mark]}, headers=world["sme2"]), ev)
    missing = 999_999
    r = anon_client.post(
        f"/api/v1/events/{missing}/preferences", json={"preferences": [mark]}, headers=world["sme2"]
    )
    _missing_event(r, missing)


# -- GET /events and /events/{id} -----------------------------------------------------------


def test_event_list_shows_a_participant_only_its_events_without_notes(
    world, anon_client: TestClient
) -> None:
    ev, other = world["event"]["id"], world["other"]["id"]
    for who in ("fresh", "sme2"):
        page = made(anon_client.get("/api/v1/events", headers=world[who]), 200)
        assert page["items"] == [] and page["total"] == 0, who
    page = made(anon_client.get("/api/v1/events", headers=world["sme0"]), 200)
    assert [e["id"] for e in page["items"]] == [ev] and page["total"] == 1
    assert page["items"][0]["notes"] == ""
    page = made(anon_client.get("/api/v1/events", headers=world["leader2"]), 200)
    assert [e["id"] for e in page["items"]] == [other]
    assert NOTES not in str(page)
    page = made(anon_client.get("/api/v1/events", headers=world["organizer"]), 200)
    assert {e["id"] for e in page["items"]} == {ev, other}
    assert all(e["notes"] == NOTES for e in page["items"])


def test_event_detail_is_a_404_for_non_participants(world, anon_client: TestClient) -> None:
    ev = world["event"]["id"]
    for who in ("fresh", "sme2", "leader2"):
        _missing_event(anon_client.get(f"/api/v1/events/{ev}", headers=world[who]), ev)
    mine = made(anon_client.get(f"/api/v1/events/{ev}", headers=world["sme0"]), 200)
    assert mine["title"] == "轨道交通专场" and mine["notes"] == ""
    full = made(anon_client.get(f"/api/v1/events/{ev}", headers=world["organizer"]), 200)
    assert full["notes"] == NOTES


# -- GET /events/{id}/participants ----------------------------------------------------------


def test_participants_are_a_404_for_non_participants(world, anon_client: TestClient) -> None:
    ev = world["event"]["id"]
    for who in ("fresh", "sme2", "leader2"):
        r = anon_client.get(f"/api/v1/events/{ev}/participants", headers=world[who])
        _missing_event(r, ev)


def test_sme_sees_itself_and_the_leaders_it_may_meet_only(world, anon_client: TestClient) -> None:
    ev, (l0, l1, _), (s0, _, _) = world["event"]["id"], world["l"], world["s"]
    rows = made(anon_client.get(f"/api/v1/events/{ev}/participants", headers=world["sme0"]), 200)
    by_party = {r["party"]: r for r in rows}
    # No other SME (a competitor) is listed.
    assert set(by_party) == {f"S{s0}", f"L{l0}", f"L{l1}"}
    me = by_party[f"S{s0}"]
    assert me["cap"] == 2 and me["unavailable_slots"] == [0] and not me["details_hidden"]
    for party in (f"L{l0}", f"L{l1}"):
        row = by_party[party]
        assert row["name"] and row["details_hidden"]
        assert row["cap"] is None and row["unavailable_slots"] == [] and row["demand_ids"] == []


def test_leader_sees_itself_and_the_smes_it_may_meet_only(world, anon_client: TestClient) -> None:
    ev, (l0, _, _), (s0, s1, _) = world["event"]["id"], world["l"], world["s"]
    rows = made(anon_client.get(f"/api/v1/events/{ev}/participants", headers=world["leader0"]), 200)
    by_party = {r["party"]: r for r in rows}
    assert set(by_party) == {f"L{l0}", f"S{s0}", f"S{s1}"}
    assert by_party[f"L{l0}"]["cap"] == 3 and by_party[f"L{l0}"]["demand_ids"]
    assert by_party[f"S{s1}"]["unavailable_slots"] == [] and by_party[f"S{s1}"]["cap"] is None


def test_staff_see_every_participant_in_full(world, anon_client: TestClient) -> None:
    ev = world["event"]["id"]
    rows = made(
        anon_client.get(f"/api/v1/events/{ev}/participants", headers=world["organizer"]), 200
    )
    assert len(rows) == 4 and not any(r["details_hidden"] for r in rows)
    assert {tuple(r["unavailable_slots"]) for r in rows} == {(), (3,), (0,), (1, 2)}


# -- GET /events/{id}/agenda ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["html", "ics"])
def test_agenda_of_an_event_one_is_not_in_is_a_404(
    world, anon_client: TestClient, fmt: str
) -> None:
    ev, (_, _, s2) = world["event"]["id"], world["s"]
    r = anon_client.get(
        f"/api/v1/events/{ev}/agenda",
        params={"party": f"S{s2}", "format": fmt},
        headers=world["sme2"],
    )
    _missing_event(r, ev)
    (_, _, l2) = world["l"]
    r = anon_client.get(
        f"/api/v1/events/{ev}/agenda",
        params={"party": f"L{l2}", "format": fmt},
        headers=world["leader2"],
    )
    _missing_event(r, ev)


def test_participants_still_get_their_own_agenda(world, anon_client: TestClient) -> None:
    ev, (s0, _, _) = world["event"]["id"], world["s"]
    r = anon_client.get(
        f"/api/v1/events/{ev}/agenda", params={"party": f"S{s0}"}, headers=world["sme0"]
    )
    assert r.status_code == 200 and "轨道交通专场" in r.text and NOTES not in r.text


# -- the staff-only routes stay staff-only --------------------------------------------------


@pytest.mark.parametrize("who", ["sme0", "leader0", "fresh"])
def test_staff_routes_refuse_participants(world, anon_client: TestClient, who: str) -> None:
    ev, (l0, _, _), (s0, _, _) = world["event"]["id"], world["l"], world["s"]
    calls = [
        ("PATCH", f"/api/v1/events/{ev}", {"notes": "x"}),
        ("POST", f"/api/v1/events/{ev}/participants", {"participants": [{"sme_id": s0}]}),
        ("DELETE", f"/api/v1/events/{ev}/participants/S{s0}", None),
        ("POST", f"/api/v1/events/{ev}/match-list", None),
        ("POST", f"/api/v1/events/{ev}/schedule", None),
        ("GET", f"/api/v1/events/{ev}/schedule", None),
        ("GET", f"/api/v1/events/{ev}/schedule?format=csv", None),
        ("POST", f"/api/v1/events/{ev}/meetings", {"leader_id": l0, "sme_id": s0}),
        ("PATCH", "/api/v1/meetings/1", {"locked": True}),
        ("POST", "/api/v1/meetings/1/outcome", {"held": True}),
        ("GET", f"/api/v1/events/{ev}/report", None),
        ("GET", "/api/v1/reports/summary", None),
    ]
    for method, url, body in calls:
        r = anon_client.request(method, url, json=body, headers=world[who])
        assert r.status_code == 403, (method, url, r.status_code)


# -- the leader console ---------------------------------------------------------------------


def test_leader_console_lists_only_its_events_without_notes(
    world, client: TestClient, anon_client: TestClient
) -> None:
    ev, (l0, _, _), (_, s1, _) = world["event"]["id"], world["l"], world["s"]
    made(
        client.post(
            f"/api/v1/events/{ev}/meetings",
            json={"leader_id": world["l"][1], "sme_id": s1, "slot": 0, "table": 1},
        )
    )
    web = TestClient(client.app, raise_server_exceptions=False)
    r = web.post(
        "/login", data={"username": "leader0", "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303
    page = web.get("/leader/events").text
    assert "轨道交通专场" in page and "另一场" not in page and NOTES not in page
    # L1's meeting with S1 is not L0's business.
    s1_name = made(client.get(f"/api/v1/smes/{s1}"), 200)["name"]
    assert s1_name not in page
    assert f"party=L{l0}" in page


def test_sme_console_shows_only_its_meetings_and_no_organizer_pages(
    world, client: TestClient
) -> None:
    ev, (l0, l1, _), (s0, s1, _) = world["event"]["id"], world["l"], world["s"]
    for leader_id, sme_id, slot in ((l1, s1, 0), (l0, s0, 1)):
        made(
            client.post(
                f"/api/v1/events/{ev}/meetings",
                json={"leader_id": leader_id, "sme_id": sme_id, "slot": slot, "table": slot},
            )
        )
    web = TestClient(client.app, raise_server_exceptions=False)
    r = web.post("/login", data={"username": "sme0", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    l1_name = made(client.get(f"/api/v1/leaders/{l1}"), 200)["name"]
    l0_name = made(client.get(f"/api/v1/leaders/{l0}"), 200)["name"]
    for path in ("/sme/events", "/sme"):
        page = web.get(path).text
        assert "轨道交通专场" in page and l0_name in page, path
        assert NOTES not in page and "另一场" not in page, path
    # L1 meets S1, not S0 (L1 may still show on /sme as the poster of a need that fits S0).
    assert l1_name not in web.get("/sme/events").text
    # The cookie opens neither the organizer's pages nor the staff API routes.
    for path in (f"/organizer/events/{ev}", f"/organizer/events/{ev}/schedule"):
        assert web.get(path).status_code == 403, path
    assert web.get(f"/api/v1/events/{ev}/schedule").status_code == 403
    assert made(web.get(f"/api/v1/events/{ev}"), 200)["notes"] == ""
