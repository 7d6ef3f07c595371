"""Docking events end to end: plan, pre-match, schedule, adjust, export, outcomes, report."""

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.factories import demand_payload, leader_payload, sme_payload


def post(client: TestClient, url: str, payload: Any, code: int = 201) -> Any:
    r = client.post(url, json=payload)
    assert r.status_code == code, r.text
    return r.json()


@pytest.fixture
def event(client: TestClient) -> dict[str, Any]:
    """Two leaders with one need each, six SMEs, 4 slots with lunch, 3 tables."""
    leaders = [
        post(client, "/api/v1/leaders", leader_payload(name=f"链主{i}集团")) for i in range(2)
    ]
    demands = [
        post(
            client,
            "/api/v1/demands",
            demand_payload(leaders[0]["id"], title="转向架构架焊接件", required_certifications=[]),
        ),
        post(
            client,
            "/api/v1/demands",
            demand_payload(
                leaders[1]["id"],
                title="IGBT功率模块国产替代",
                chain="it",
                keywords=["IGBT", "功率模块"],
                required_certifications=[],
            ),
        ),
    ]
    smes = []
    for i in range(6):
        product = "转向架构架焊接件" if i < 3 else "IGBT功率模块"
        smes.append(
            post(
                client, "/api/v1/smes", sme_payload(name=f"参会企业{i}有限公司", products=[product])
            )
        )
    ev = post(
        client,
        "/api/v1/events",
        {
            "title": "高端装备产业链专场对接会",
            "chains": ["equipment", "it"],
            "date": "2027-03-18",
            "venue": "济南国际会展中心",
            "organizer": "省工信厅",
            "start_time": "10:30",
            "meeting_minutes": 30,
            "gap_minutes": 0,
            "slot_count": 4,
            "breaks": [{"start": "11:30", "end": "13:00", "title": "午餐"}],
            "tables": 3,
        },
    )
    participants = [
        {"leader_id": leaders[0]["id"], "demand_ids": [demands[0]["id"]], "cap": 3},
        {"leader_id": leaders[1]["id"], "demand_ids": [demands[1]["id"]], "cap": 3},
    ] + [{"sme_id": s["id"], "cap": 2} for s in smes]
    participants[-1]["unavailable_slots"] = [0, 1]
    post(client, f"/api/v1/events/{ev['id']}/participants", {"participants": participants}, 200)
    return {"event": ev, "leaders": leaders, "demands": demands, "smes": smes}


def test_event_slots_skip_the_break(client: TestClient, event: dict) -> None:
    ev = client.get(f"/api/v1/events/{event['event']['id']}").json()
    assert [(s["start"], s["end"]) for s in ev["slots"]] == [
        ("10:30", "11:00"),
        ("11:00", "11:30"),
        ("13:00", "13:30"),
        ("13:30", "14:00"),
    ]
    assert ev["leaders"] == 2 and ev["smes"] == 6


def test_bad_event_input(client: TestClient, event: dict) -> None:
    r = client.post(
        "/api/v1/events",
        json={"title": "x", "date": "明天", "start_time": "25:00", "tables": 0},
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["detail"]} >= {"date", "start_time", "tables"}
    r = client.post(
        f"/api/v1/events/{event['event']['id']}/participants",
        json={"participants": [{"sme_id": 999999}, {"leader_id": 1, "sme_id": 1}]},
    )
    assert r.status_code == 422


def test_preferences_and_match_list(client: TestClient, event: dict) -> None:
    ev_id = event["event"]["id"]
    l0, l1 = (x["id"] for x in event["leaders"])
    s = [x["id"] for x in event["smes"]]
    prefs = [
        {"leader_id": l0, "sme_id": s[0], "side": "leader", "mark": "no"},
        {"leader_id": l1, "sme_id": s[0], "side": "sme", "request": "request"},
        {"leader_id": l1, "sme_id": s[0], "side": "leader", "request": "accept"},
    ]
    pairs = post(client, f"/api/v1/events/{ev_id}/preferences", {"preferences": prefs}, 200)
    assert any(p["request_status"] == "accepted" for p in pairs)
    # the requester cannot accept its own request
    r = client.post(
        f"/api/v1/events/{ev_id}/preferences",
        json={
            "preferences": [{"leader_id": l1, "sme_id": s[0], "side": "sme", "request": "accept"}]
        },
    )
    assert r.status_code == 409
    result = post(client, f"/api/v1/events/{ev_id}/match-list", {}, 200)
    pairs_chosen = {(m["leader_id"], m["sme_id"]) for m in result["meetings"]}
    assert (l0, s[0]) not in pairs_chosen  # no-thanks
    assert (l1, s[0]) in pairs_chosen  # accepted request is a must
    assert result["solver"] and result["greedy_objective"] > 0
    assert result["smes_met"] == result["smes_with_fit"] >= result["greedy_smes_met"]
    per_sme: dict[int, int] = {}
    for m in result["meetings"]:
        per_sme[m["sme_id"]] = per_sme.get(m["sme_id"], 0) + 1
    assert max(per_sme.values()) <= 2


def test_schedule_move_exports_outcomes_report(client: TestClient, event: dict) -> None:
    ev_id = event["event"]["id"]
    post(client, f"/api/v1/events/{ev_id}/match-list", {}, 200)
    sched = post(client, f"/api/v1/events/{ev_id}/schedule", {}, 200)
    meetings = sched["meetings"]
    assert meetings and sched["conflicts"] == []
    seen = set()
    for m in meetings:
        for party in (f"L{m['leader_id']}", f"S{m['sme_id']}"):
            assert (party, m["slot"]) not in seen
            seen.add((party, m["slot"]))
        assert 0 <= m["table"] < 3 and m["start"] and m["end"]
    last = event["smes"][-1]["id"]
    assert all(m["slot"] >= 2 for m in meetings if m["sme_id"] == last)
    tables = {}
    for m in meetings:
        tables.setdefault(m["leader_id"], set()).add(m["table"])
    assert all(len(t) == 1 for t in tables.values())  # a leader keeps one table

    # moving a meeting onto a slot its leader already uses is refused, the conflict spelled out
    def busy(m: dict) -> set[int]:
        return {
            x["slot"]
            for x in meetings
            if x["id"] != m["id"]
            and (x["leader_id"] == m["leader_id"] or x["sme_id"] == m["sme_id"])
        }

    a = meetings[0]
    clash = next(m for m in meetings if m["leader_id"] == a["leader_id"] and m["id"] != a["id"])
    r = client.patch(f"/api/v1/meetings/{a['id']}", json={"slot": clash["slot"]})
    assert r.status_code == 409
    assert "冲突" in r.json()["message_zh"] and r.json()["conflicts"]
    assert client.get(f"/api/v1/events/{ev_id}/schedule").json()["conflicts"] == []

    movable = next(m for m in meetings if set(range(4)) - busy(m) - {m["slot"]})
    free = min(set(range(4)) - busy(movable) - {movable["slot"]})
    r = client.patch(f"/api/v1/meetings/{movable['id']}", json={"slot": free})
    assert r.status_code == 200, r.text
    assert r.json()["meeting"]["locked"] is True and r.json()["conflicts"] == []
    again = post(client, f"/api/v1/events/{ev_id}/schedule", {}, 200)
    assert next(m for m in again["meetings"] if m["id"] == movable["id"])["slot"] == free
    meetings = again["meetings"]

    csv_text = client.get(f"/api/v1/events/{ev_id}/schedule", params={"format": "csv"}).text
    rows = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["场次", "开始", "结束", "桌号"] and len(rows) == len(meetings) + 1
    xlsx = client.get(f"/api/v1/events/{ev_id}/schedule", params={"format": "xlsx"})
    wb = load_workbook(io.BytesIO(xlsx.content))
    assert wb.sheetnames[0] == "总览" and "链主0集团" in wb.sheetnames
    assert wb["总览"].max_row == len(meetings) + 1

    party = f"S{meetings[0]['sme_id']}"
    html = client.get(f"/api/v1/events/{ev_id}/agenda", params={"party": party}).text
    assert "会谈日程" in html and meetings[0]["leader_name"] in html
    ics = client.get(f"/api/v1/events/{ev_id}/agenda", params={"party": party, "format": "ics"})
    assert ics.text.startswith("BEGIN:VCALENDAR") and "BEGIN:VEVENT" in ics.text
    assert ics.headers["content-type"] == "text/calendar; charset=utf-8"
    assert (
        ics.headers["content-disposition"] == f'attachment; filename="agenda-{ev_id}-{party}.ics"'
    )
    assert "DTSTART:20270318T" in ics.text and ics.text.endswith("END:VCALENDAR\r\n")

    m0, m1 = meetings[0], meetings[1]
    post(
        client,
        f"/api/v1/meetings/{m0['id']}/outcome",
        {"held": True, "outcome": "intention", "amount": 120},
        200,
    )
    post(client, f"/api/v1/meetings/{m1['id']}/outcome", {"held": False}, 200)
    bad = client.post(
        f"/api/v1/meetings/{m1['id']}/outcome", json={"held": False, "outcome": "signed"}
    )
    assert bad.status_code == 422
    # follow-up months later: the intention became a signing
    post(
        client,
        f"/api/v1/meetings/{m0['id']}/outcome",
        {"held": True, "outcome": "signed", "amount": 150},
        200,
    )
    report = client.get(f"/api/v1/events/{ev_id}/report").json()
    totals = report["totals"]
    assert totals["meetings_held"] == 1 and totals["no_shows"] == 1
    assert (
        totals["intentions"] == 1 and totals["signings"] == 1 and totals["amount_wan_yuan"] == 150
    )
    assert totals["leaders"] == 2 and totals["smes"] == 6 and totals["demands"] == 2
    assert sum(r["signings"] for r in report["per_leader"]) == 1
    png = client.get(f"/api/v1/events/{ev_id}/report", params={"format": "png"})
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    rx = load_workbook(
        io.BytesIO(client.get(f"/api/v1/events/{ev_id}/report", params={"format": "xlsx"}).content)
    )
    assert rx.sheetnames == ["对接成效", "按链主", "按产业链"]
    summary = client.get("/api/v1/reports/summary", params={"year": 2027}).json()["items"]
    assert sum(i["signings"] for i in summary) == 1 and all(i["year"] == 2027 for i in summary)


def test_add_and_cancel_meetings(client: TestClient, event: dict) -> None:
    ev_id = event["event"]["id"]
    leader = event["leaders"][0]["id"]
    sme = event["smes"][3]["id"]
    r = client.post(
        f"/api/v1/events/{ev_id}/meetings",
        json={"leader_id": leader, "sme_id": sme, "slot": 0, "table": 0},
    )
    assert r.status_code == 201, r.text
    added = r.json()["meeting"]
    assert added["locked"] and added["slot"] == 0 and added["start"] == "10:30"
    # a second meeting for the same leader in the same slot is a conflict
    other = event["smes"][4]["id"]
    r = client.post(
        f"/api/v1/events/{ev_id}/meetings",
        json={"leader_id": leader, "sme_id": other, "slot": 0, "table": 1},
    )
    assert r.status_code == 409 and r.json()["conflicts"][0]["kind"] == "double_booked"
    forced = client.post(
        f"/api/v1/events/{ev_id}/meetings",
        json={"leader_id": leader, "sme_id": other, "slot": 0, "table": 1, "force": True},
    )
    assert forced.status_code == 201 and forced.json()["conflicts"]
    listed = client.get(f"/api/v1/events/{ev_id}/schedule").json()
    assert any(c["kind"] == "double_booked" for c in listed["conflicts"])
    cancel = client.patch(
        f"/api/v1/meetings/{forced.json()['meeting']['id']}", json={"status": "cancelled"}
    )
    assert cancel.status_code == 200
    assert client.get(f"/api/v1/events/{ev_id}/schedule").json()["conflicts"] == []
    assert (
        client.post(
            f"/api/v1/meetings/{forced.json()['meeting']['id']}/outcome", json={"held": True}
        ).status_code
        == 409
    )
    stale = client.patch(f"/api/v1/meetings/{added['id']}", json={"locked": False, "version": 99})
    assert stale.status_code == 409
    r = client.post(
        f"/api/v1/events/{ev_id}/meetings", json={"leader_id": leader, "sme_id": 999999}
    )
    assert r.status_code == 422
    assert client.get("/api/v1/events/999999").status_code == 404
    assert client.patch("/api/v1/meetings/999999", json={"locked": True}).status_code == 404


def test_remove_participant(client: TestClient, event: dict) -> None:
    ev_id = event["event"]["id"]
    sme = event["smes"][0]["id"]
    post(client, f"/api/v1/events/{ev_id}/match-list", {}, 200)
    r = client.delete(f"/api/v1/events/{ev_id}/participants/S{sme}")
    assert r.status_code == 204
    parties = [p["party"] for p in client.get(f"/api/v1/events/{ev_id}/participants").json()]
    assert f"S{sme}" not in parties
    schedule = client.get(f"/api/v1/events/{ev_id}/schedule").json()
    assert all(m["sme_id"] != sme for m in schedule["meetings"] + schedule["unplaced"])
    assert client.delete(f"/api/v1/events/{ev_id}/participants/S{sme}").status_code == 404
    assert client.delete(f"/api/v1/events/{ev_id}/participants/X1").status_code == 422


def test_control_characters_in_names_still_export(client: TestClient, event: dict) -> None:
    """Names may hold control characters XLSX forbids; the workbook drops them (was a 500)."""
    ev_id = event["event"]["id"]
    leader = event["leaders"][0]
    r = client.patch(f"/api/v1/leaders/{leader['id']}", json={"name": "链主\x0b甲\x1f集团"})
    assert r.status_code == 200, r.text
    r = client.patch(f"/api/v1/events/{ev_id}", json={"venue": "会展\x01中心"})
    assert r.status_code == 200, r.text
    post(client, f"/api/v1/events/{ev_id}/match-list", {}, 200)
    post(client, f"/api/v1/events/{ev_id}/schedule", {}, 200)
    r = client.get(f"/api/v1/events/{ev_id}/schedule", params={"format": "xlsx"})
    assert r.status_code == 200, r.text
    wb = load_workbook(io.BytesIO(r.content))
    assert "链主甲集团" in wb.sheetnames
    cells = [c.value for row in wb["活动信息"].iter_rows() for c in row]
    assert "会展中心" in cells
    r = client.get(f"/api/v1/events/{ev_id}/report", params={"format": "xlsx"})
    assert r.status_code == 200, r.text


def test_conflicts_name_each_party_whole_not_by_prefix() -> None:
    """With L1 and L12 in one event, a double booking named 甲集团 and "甲集团2" (L1 + "2")."""
    from app.services.events import conflict_message
    from matching import docking

    parties = [
        docking.Party("L1", "leader"),
        docking.Party("L12", "leader"),
        docking.Party("S3", "sme"),
    ]
    grid = [
        docking.Meeting(leader="L1", sme="S3", slot=0, table=0),
        docking.Meeting(leader="L12", sme="S3", slot=0, table=1),
    ]
    found = docking.check_schedule(parties, grid, slots=2, tables=2)
    names = {"L1": "甲集团", "L12": "乙集团", "S3": "丙公司"}
    messages = [conflict_message(c, names, slots=2, tables=2) for c in found]
    double = [m for m in messages if m.startswith("丙公司")]
    assert double and "乙集团" in double[0] and "甲集团2" not in double[0], messages


def test_every_conflict_kind_is_worded_with_names() -> None:
    from app.services.events import conflict_message
    from matching.docking import Conflict

    names = {"L1": "甲集团", "S3": "丙公司", "S4": "丁公司"}
    cases = {
        Conflict(
            "outside_grid", ("L1", "S3"), 5, 2
        ): "甲集团与丙公司的会谈排在第6场3号桌，超出4场×2桌的范围",
        Conflict(
            "unavailable", ("L1", "S3"), 1, reason="break"
        ): "第2场是休息时段，却排了甲集团与丙公司的会谈",
        Conflict(
            "unavailable", ("S3", "L1"), 0, reason="party"
        ): "丙公司在第1场不能参会，却排了与甲集团的会谈",
        Conflict(
            "double_booked", ("L1", "S3", "S4"), 0, meetings=2
        ): "甲集团在第1场同时有2场会谈（与丙公司、丁公司）",
        Conflict(
            "table_clash", ("L1", "S3", "L1", "S4"), 2, 0, meetings=2
        ): "第3场1号桌同时排了2场会谈",
        Conflict(
            "unplaced", ("L1", "S4"), reason="full"
        ): "甲集团与丁公司的会谈未能排入：场次或桌位已排满",
        Conflict(
            "unplaced", ("L1", "S4"), reason="no_common_slot"
        ): "甲集团与丁公司的会谈未能排入：双方没有共同的空闲场次",
    }
    for conflict, worded in cases.items():
        assert conflict_message(conflict, names, slots=4, tables=2) == worded
