"""Learning from use: labels from shortlists, interests, meetings and outcomes; tune from them."""

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import cli
from app.config import PROJECT_ROOT, Settings, get_settings
from app.db import make_engine, make_session_factory, unit_of_work
from app.main import create_app
from app.services import evaluation, feedback
from app.services.matching import MatchingRuntime, build_encoder
from matching.features import FusionWeights
from models import IndexChange, MatchFeedback, RankingWeights
from tests.dbutil import fresh_database, migrate
from tests.factories import demand_payload, leader_payload, sme_payload
from tests.servers import ADMIN_HEADERS, ADMIN_TOKEN

PASSWORD = "correct horse 42"


def made(r, code: int = 201) -> Any:
    assert r.status_code == code, r.text
    return r.json() if r.content else None


def login(client: TestClient, username: str, role: str, **binding: int) -> dict[str, str]:
    made(
        client.post(
            "/api/v1/users",
            json={"username": username, "password": PASSWORD, "role": role, **binding},
        )
    )
    body = made(
        client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}), 200
    )
    return {"Authorization": f"Bearer {body['access_token']}"}


def rows(factory: sessionmaker[Session], **where: Any) -> list[MatchFeedback]:
    with factory() as s:
        stmt = select(MatchFeedback).order_by(MatchFeedback.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(MatchFeedback, key) == value)
        return list(s.scalars(stmt))


@pytest.fixture
def world(client: TestClient) -> dict[str, Any]:
    leaders = [made(client.post("/api/v1/leaders", json=leader_payload())) for _ in range(2)]
    demands = [made(client.post("/api/v1/demands", json=demand_payload(x["id"]))) for x in leaders]
    smes = [made(client.post("/api/v1/smes", json=sme_payload())) for _ in range(2)]
    return {
        "leaders": leaders,
        "demands": demands,
        "smes": smes,
        "leader": login(client, "fb-leader0", "leader", leader_id=leaders[0]["id"]),
        "sme": login(client, "fb-sme0", "sme", sme_id=smes[0]["id"]),
    }


# -- recording -------------------------------------------------------------------------------


def test_interests_are_labels_updated_in_place(world, anon_client, session_factory) -> None:
    demand, sme = world["demands"][0], world["smes"][0]
    body = {"demand_id": demand["id"], "sme_id": sme["id"]}
    made(anon_client.post("/api/v1/interests", json=body, headers=world["leader"]))
    made(anon_client.post("/api/v1/interests", json=body, headers=world["leader"]))
    (shortlist,) = rows(session_factory, source="shortlist")
    assert (shortlist.demand_id, shortlist.sme_id, shortlist.leader_id, shortlist.label) == (
        demand["id"],
        sme["id"],
        world["leaders"][0]["id"],
        1,
    )
    assert shortlist.user_id is not None
    # The SME's own interest is a second signal on the same pair.
    mine = made(
        anon_client.post(
            "/api/v1/interests", json={"demand_id": demand["id"]}, headers=world["sme"]
        )
    )
    (interest,) = rows(session_factory, source="interest")
    assert interest.label == 1 and interest.demand_id == demand["id"]
    # Withdrawn: the same row, graded 0; shown again: 1 again.
    made(anon_client.delete(f"/api/v1/interests/{mine['id']}", headers=world["sme"]), 204)
    (again,) = rows(session_factory, source="interest")
    assert (again.id, again.label, again.detail) == (interest.id, 0, "withdrawn")
    made(
        anon_client.post(
            "/api/v1/interests", json={"demand_id": demand["id"]}, headers=world["sme"]
        )
    )
    assert [(r.id, r.label) for r in rows(session_factory, source="interest")] == [(interest.id, 1)]


def test_refused_writes_leave_no_label_and_labels_reveal_nothing(
    world, anon_client, session_factory
) -> None:
    other_demand, sme = world["demands"][1], world["smes"][0]
    r = anon_client.post(
        "/api/v1/interests",
        json={"demand_id": other_demand["id"], "sme_id": sme["id"]},
        headers=world["leader"],
    )
    assert r.status_code == 403
    r = anon_client.post(
        "/api/v1/interests",
        json={"demand_id": other_demand["id"], "sme_id": world["smes"][1]["id"]},
        headers=world["sme"],
    )
    assert r.status_code == 403
    assert rows(session_factory) == []
    # A label of one side alone changes nobody's view of contacts.
    made(
        anon_client.post(
            "/api/v1/interests",
            json={"demand_id": world["demands"][0]["id"], "sme_id": sme["id"]},
            headers=world["leader"],
        )
    )
    seen = made(anon_client.get(f"/api/v1/smes/{sme['id']}", headers=world["leader"]), 200)
    assert seen["contact_hidden"] is True and seen["contact_phone"] is None
    # Labels are derived from audited writes and are not audited a second time.
    audit = made(anon_client.get("/api/v1/audit?entity=match_feedback", headers=ADMIN_HEADERS), 200)
    assert audit["items"] == []


def _event(client: TestClient, leader_id: int, demand_ids: list[int], sme_ids: list[int]) -> int:
    ev = made(
        client.post(
            "/api/v1/events",
            json={"title": "专场对接会", "chains": ["equipment"], "date": "2027-03-18"},
        )
    )
    participants = [{"leader_id": leader_id, "demand_ids": demand_ids}] + [
        {"sme_id": s} for s in sme_ids
    ]
    made(
        client.post(f"/api/v1/events/{ev['id']}/participants", json={"participants": participants}),
        200,
    )
    return ev["id"]


def _prefs(client: TestClient, event_id: int, *prefs: dict, code: int = 200) -> None:
    r = client.post(f"/api/v1/events/{event_id}/preferences", json={"preferences": list(prefs)})
    assert r.status_code == code, r.text


def test_meeting_requests_and_answers(world, client, session_factory) -> None:
    leader, demand = world["leaders"][0]["id"], world["demands"][0]["id"]
    s0, s1 = (x["id"] for x in world["smes"])
    ev = _event(client, leader, [demand], [s0, s1])
    _prefs(client, ev, {"leader_id": leader, "sme_id": s0, "side": "sme", "request": "request"})
    (request,) = rows(session_factory, source="meeting_request")
    # The leader brought one need: the request is about it.
    assert (request.demand_id, request.leader_id, request.sme_id, request.label) == (
        demand,
        leader,
        s0,
        1,
    )
    _prefs(client, ev, {"leader_id": leader, "sme_id": s0, "side": "leader", "request": "accept"})
    assert [r.label for r in rows(session_factory, source="meeting_accepted")] == [2]
    # Changing the answer replaces it: one answer per pair.
    _prefs(client, ev, {"leader_id": leader, "sme_id": s0, "side": "leader", "request": "decline"})
    assert rows(session_factory, source="meeting_accepted") == []
    assert [r.label for r in rows(session_factory, source="meeting_declined")] == [0]
    # The requester cannot answer its own request; nothing is recorded for the refused batch.
    _prefs(
        client,
        ev,
        {"leader_id": leader, "sme_id": s1, "side": "leader", "request": "request"},
        {"leader_id": leader, "sme_id": s1, "side": "leader", "request": "accept"},
        code=409,
    )
    assert rows(session_factory, sme_id=s1) == []


def test_a_request_without_a_known_demand_is_keyed_by_the_leader(
    world, client, session_factory
) -> None:
    leader = world["leaders"][0]["id"]
    second = made(client.post("/api/v1/demands", json=demand_payload(leader, title="制动夹钳")))
    s0 = world["smes"][0]["id"]
    ev = _event(client, leader, [world["demands"][0]["id"], second["id"]], [s0])
    for _ in range(2):
        _prefs(
            client, ev, {"leader_id": leader, "sme_id": s0, "side": "leader", "request": "request"}
        )
    (row,) = rows(session_factory, source="meeting_request")
    assert (row.demand_id, row.leader_id, row.sme_id) == (None, leader, s0)


def test_outcomes_grade_the_pair(world, client, session_factory) -> None:
    leader, demand = world["leaders"][0]["id"], world["demands"][0]["id"]
    s0 = world["smes"][0]["id"]
    ev = _event(client, leader, [demand], [s0])
    meeting = made(
        client.post(
            f"/api/v1/events/{ev}/meetings",
            json={"leader_id": leader, "sme_id": s0, "demand_id": demand, "slot": 0, "table": 1},
        )
    )["meeting"]
    url = f"/api/v1/meetings/{meeting['id']}/outcome"
    made(client.post(url, json={"held": True, "outcome": "valuable"}), 200)
    (first,) = rows(session_factory, source="outcome")
    assert (first.demand_id, first.label) == (demand, 2)
    made(client.post(url, json={"held": True, "outcome": "signed", "amount": 120}), 200)
    (signed,) = rows(session_factory, source="outcome")
    assert (signed.id, signed.label) == (first.id, 3)
    made(client.post(url, json={"held": True, "outcome": "none"}), 200)
    assert [r.label for r in rows(session_factory, source="outcome")] == [0]
    # A no-show says nothing about the fit: the label of this meeting goes.
    made(client.post(url, json={"held": False}), 200)
    assert rows(session_factory, source="outcome") == []


def test_label_mapping_and_combination() -> None:
    assert feedback.OUTCOME_GRADES == {
        "signed": 3,
        "intention": 3,
        "negotiating": 2,
        "valuable": 2,
        "none": 0,
    }
    assert feedback.LABELS["shortlist"] == feedback.LABELS["interest"] == 1
    assert feedback.LABELS["meeting_accepted"] == 2 and feedback.LABELS["meeting_declined"] == 0
    # The latest funnel stage decides.
    assert feedback.combine([("shortlist", 1), ("outcome", 0)]) == 0
    assert feedback.combine([("interest", 1), ("meeting_declined", 0)]) == 0
    assert feedback.combine([("shortlist", 1), ("interest", 0)]) == 1
    assert feedback.combine([("meeting_accepted", 2), ("outcome", 3)]) == 3


def test_leader_level_labels_go_to_the_best_fitting_demand(
    client, settings, session_factory
) -> None:
    leader = made(client.post("/api/v1/leaders", json=leader_payload()))["id"]
    weld = made(client.post("/api/v1/demands", json=demand_payload(leader)))["id"]
    chip = made(
        client.post(
            "/api/v1/demands",
            json=demand_payload(
                leader,
                title="IGBT功率模块国产替代",
                description="采购车规级IGBT功率模块",
                chain="it",
                keywords=["IGBT", "功率模块"],
                required_certifications=[],
            ),
        )
    )["id"]
    sme = made(
        client.post(
            "/api/v1/smes", json=sme_payload(products=["IGBT功率模块"], description="功率半导体")
        )
    )["id"]
    with session_factory() as s:
        feedback.record(s, "meeting_accepted", sme, leader_id=leader)
        s.commit()
    runtime = client.app.state.matching
    with session_factory() as s:
        labels, signals = feedback.pair_labels(s, runtime)
    assert signals == 1 and labels == {chip: {sme: 2}} and weld not in labels


# -- tune --from-feedback --------------------------------------------------------------------


def _small_real_set(directory: Path, per_split: int = 4, extra: int = 30) -> None:
    """A few needs of data/eval-real per split with their judged companies (fast to encode)."""
    src = PROJECT_ROOT / "data" / "eval-real"

    def jsonl(name: str) -> list[dict]:
        return [json.loads(x) for x in (src / name).read_text(encoding="utf-8").splitlines() if x]

    demands = jsonl("needs.jsonl")
    keep = [n for n in demands if n["split"] == "train"][:per_split]
    keep += [n for n in demands if n["split"] == "test"][:per_split]
    ids = {n["id"] for n in keep}
    qrels = [q for q in jsonl("qrels.jsonl") if q["need"] in ids]
    judged = {q["company"] for q in qrels}
    companies = jsonl("companies.jsonl")
    chosen = [c for c in companies if c["code"] in judged]
    chosen += [c for c in companies if c["code"] not in judged][:extra]
    directory.mkdir(parents=True)
    for name, items in (("needs", keep), ("qrels", qrels), ("companies", chosen)):
        (directory / f"{name}.jsonl").write_text(
            "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items), encoding="utf-8"
        )


THEMES = [
    ("转向架构架焊接件", "equipment", ["转向架", "焊接"], "机器人焊接转向架构架"),
    ("IGBT功率模块", "it", ["IGBT", "功率模块"], "车规级功率半导体模块封装"),
    ("锂电池正极材料", "new-energy", ["正极材料", "磷酸铁锂"], "磷酸铁锂正极材料烧结"),
    ("船用柴油机曲轴", "marine", ["曲轴", "船用"], "大型船用曲轴锻造与精加工"),
    ("液压多路阀", "construction-machinery", ["液压", "多路阀"], "挖掘机液压多路阀铸造"),
    ("纺织印染助剂", "textiles", ["印染", "助剂"], "环保型纺织印染助剂"),
]


@pytest.fixture
def cli_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A migrated database with six needs and 18 SMEs, and a small real set to hold out."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "chains").symlink_to(PROJECT_ROOT / "data" / "chains")
    _small_real_set(data_dir / "eval-real")
    with fresh_database(tmp_path) as url:
        migrate(url)
        monkeypatch.setenv("CHAINMATCH_DATABASE_URL", url)
        monkeypatch.setenv("CHAINMATCH_ENCODER", "hashing")
        monkeypatch.setenv("CHAINMATCH_DATA_DIR", str(data_dir))
        monkeypatch.setenv("CHAINMATCH_INDEX_POLL_SECONDS", "0")
        monkeypatch.setenv("CHAINMATCH_ENCODE_POLL_SECONDS", "0")
        get_settings.cache_clear()
        assert CliRunner().invoke(cli, ["seed-taxonomy"]).exit_code == 0
        settings = Settings(
            database_url=url,
            encoder="hashing",
            data_dir=data_dir,
            index_poll_seconds=0,
            encode_poll_seconds=0,
            admin_token=ADMIN_TOKEN,
        )
        demands, smes = [], []
        with TestClient(create_app(settings), headers=ADMIN_HEADERS) as c:
            leader = made(c.post("/api/v1/leaders", json=leader_payload()))["id"]
            for title, chain, keywords, detail in THEMES:
                demands.append(
                    made(
                        c.post(
                            "/api/v1/demands",
                            json=demand_payload(
                                leader,
                                title=f"{title}配套",
                                description=f"采购{title}，{detail}。",
                                chain=chain,
                                keywords=keywords,
                                required_certifications=[],
                                min_tier=None,
                            ),
                        )
                    )["id"]
                )
                smes.append(
                    [
                        made(
                            c.post(
                                "/api/v1/smes",
                                json=sme_payload(
                                    name=f"{title}{i}号有限公司",
                                    products=[f"{title}{'' if i else '及配件'}"],
                                    description=detail if i < 2 else "综合加工服务",
                                    chains=[chain],
                                    certifications=[],
                                    leaders_supplied=[],
                                ),
                            )
                        )["id"]
                        for i in range(3)
                    ]
                )
        engine = make_engine(url)
        yield {
            "url": url,
            "settings": settings,
            "factory": make_session_factory(engine),
            "demands": demands,
            "smes": smes,
        }
        engine.dispose()
        get_settings.cache_clear()


def _label(world: dict, count: int) -> None:
    """Signals on `count` needs: a signing, a shortlist, and a declined request off theme."""
    with unit_of_work(world["factory"]) as s:
        for t in range(count):
            demand, (a, b, _c) = world["demands"][t], world["smes"][t]
            off = world["smes"][(t + 1) % len(THEMES)][2]
            feedback.record(s, "outcome", a, demand_id=demand, label=3, detail="signed")
            feedback.record(s, "shortlist", b, demand_id=demand)
            feedback.record(s, "meeting_declined", off, demand_id=demand)


def test_tune_from_feedback_refuses_with_too_little(cli_world) -> None:
    _label(cli_world, 2)
    r = CliRunner().invoke(cli, ["tune", "--from-feedback", "--apply"])
    assert r.exit_code == 1, r.output
    out = " ".join(r.output.split())
    assert "only 2 need(s) have a positive feedback label" in out and "at least 5" in out
    with cli_world["factory"]() as s:
        assert s.scalars(select(RankingWeights)).all() == []
    assert CliRunner().invoke(cli, ["tune", "--apply"]).exit_code != 0


def test_tune_from_feedback_reports_then_applies_only_when_asked(cli_world) -> None:
    _label(cli_world, 6)
    factory = cli_world["factory"]
    running = MatchingRuntime(cli_world["settings"], factory)
    running.load()
    assert running.weights_id is None and running.matcher.weights == FusionWeights()

    runner = CliRunner()
    shown = runner.invoke(cli, ["tune", "--from-feedback", "--prior-weight", "0.5"])
    assert shown.exit_code == 0, shown.output
    out = " ".join(shown.output.split())
    assert "feedback: 6 needs with a positive label" in out
    assert "real train split, 4 needs, weight 0.5 per need" in out
    assert "held-out real test split (4 needs)" in out and "feedback needs, fitted on (6)" in out
    assert all(name in out for name in FusionWeights().as_dict())
    assert "nothing applied" in out
    with factory() as s:
        assert s.scalars(select(RankingWeights)).all() == []

    applied = runner.invoke(
        cli, ["tune", "--from-feedback", "--prior-weight", "0.5", "--apply", "--force"]
    )
    assert applied.exit_code == 0, applied.output
    assert "applied: weight set 1 is active" in " ".join(applied.output.split())
    assert "nothing applied" not in applied.output
    with factory() as s:
        (row,) = s.scalars(select(RankingWeights)).all()
        assert row.active and row.source == "feedback"
        assert row.report["heldout"]["demands"] == 4 and row.report["feedback"]["demands"] == 6
        assert s.scalar(select(IndexChange).where(IndexChange.entity_type == "weights"))
    new = FusionWeights.from_dict(row.weights)
    assert new != FusionWeights()

    # A process started now uses them; one already running picks them up from the change log.
    fresh = MatchingRuntime(cli_world["settings"], factory)
    fresh.load()
    assert fresh.matcher.weights == new and fresh.weights_id == row.id
    running.sync()
    assert running.matcher.weights == new and running.weights == new
    # CHAINMATCH_MATCH_WEIGHTS still wins, key by key.
    pinned = MatchingRuntime(
        cli_world["settings"].model_copy(update={"match_weights": {"dense": 0.123}}), factory
    )
    pinned.load()
    assert pinned.matcher.weights.dense == 0.123
    assert pinned.matcher.weights.lexical == new.lexical
    for runtime in (running, fresh, pinned):
        runtime.stop()

    # A second apply replaces the active set.
    again = runner.invoke(cli, ["tune", "--from-feedback", "--apply", "--force"])
    assert again.exit_code == 0, again.output
    with factory() as s:
        assert [
            r.active for r in s.scalars(select(RankingWeights).order_by(RankingWeights.id))
        ] == [
            False,
            True,
        ]


def test_apply_refuses_weights_that_lose_on_the_held_out_split(cli_world) -> None:
    _label(cli_world, 6)
    factory = cli_world["factory"]
    runtime = MatchingRuntime(cli_world["settings"], factory)
    runtime.load()
    try:
        with factory() as s:
            data = feedback.collect(s, runtime)
    finally:
        runtime.stop()
    assert len(data.queries) == 6 and data.pairs == 18 and data.signals == 18
    # Labelled SMEs outside the matcher's first candidates are still in their need's table.
    for demand, judged in data.qrels.items():
        assert set(judged) <= set(data.queries[demand].ids)
    links = evaluation.links_from_taxonomy(PROJECT_ROOT / "data" / "chains" / "sd-2022.json")
    real = evaluation.load_set("real", cli_world["settings"].data_dir, {})
    vectors = evaluation.encode_eval_set(
        real,
        links,
        build_encoder(cli_world["settings"]),
        cli_world["settings"].data_dir.parent / "var" / "cache",
    )
    result = feedback.refit(data, FusionWeights(), {}, {"real": (real, vectors)}, links)
    worse = replace(result, heldout_after=result.heldout_before - 0.1)
    with unit_of_work(factory) as s, pytest.raises(feedback.HeldOutWorse):
        feedback.apply(s, worse)
    with factory() as s:
        assert s.scalars(select(RankingWeights)).all() == []
