"""The matcher behind the API: ranking, reasons, index lifecycle, placement and coverage."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.services.matching import MatchingRuntime
from tests.factories import demand_payload, leader_payload, sme_payload


def post(client: TestClient, url: str, payload: dict[str, Any]) -> dict:
    r = client.post(url, json=payload)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def runtime(client: TestClient) -> MatchingRuntime:
    return client.app.state.matching


@pytest.fixture
def world(client: TestClient) -> dict[str, Any]:
    """A rail need and four SMEs: a fit, a fit without the must certificate, a look-alike, noise."""
    bogie = next(
        link["code"]
        for s in client.get("/api/v1/chains/equipment").json()["sub_chains"]
        for link in s["links"]
        if "转向架" in link["name"]
    )
    leader = post(client, "/api/v1/leaders", leader_payload(name="中车示例机车车辆", city="青岛市"))
    demand = post(
        client,
        "/api/v1/demands",
        demand_payload(
            leader["id"],
            title="动车组转向架构架焊接件配套",
            keywords=["转向架", "构架", "焊接"],
            link=bogie,
            required_certifications=[{"name": "CRCC", "must": True}],
            region_preference="省内优先",
            min_tier=None,
        ),
    )
    fit = post(
        client,
        "/api/v1/smes",
        sme_payload(
            name="青岛恒瑞轨道装备有限公司",
            products=["转向架构架焊接件", "构架组焊"],
            certifications=["CRCC", "ISO 9001"],
            links=[bogie],
            leaders_supplied=["中车示例机车车辆"],
            description="专业生产动车组转向架构架，机器人焊接，整体退火。",
        ),
    )
    uncertified = post(
        client,
        "/api/v1/smes",
        sme_payload(
            name="即墨某钢结构有限公司",
            products=["转向架构架焊接件"],
            certifications=["ISO 9001"],
            links=[bogie],
            leaders_supplied=[],
            description="钢结构焊接，可做转向架构架。",
        ),
    )
    lookalike = post(
        client,
        "/api/v1/smes",
        sme_payload(
            name="高密家纺有限公司",
            chains=["textiles"],
            products=["床上用品四件套", "纯棉床单"],
            processes=["印染", "缝制"],
            certifications=["OEKO-TEX"],
            leaders_supplied=[],
            description="家纺床品，架子床帘。",
        ),
    )
    noise = post(
        client,
        "/api/v1/smes",
        sme_payload(
            name="威海医用耗材有限公司",
            city="威海市",
            chains=["pharma"],
            products=["一次性输液器"],
            processes=["注塑"],
            certifications=["ISO 13485"],
            leaders_supplied=[],
            description="医用高分子耗材。",
        ),
    )
    return {
        "demand": demand,
        "leader": leader,
        "fit": fit,
        "uncertified": uncertified,
        "lookalike": lookalike,
        "noise": noise,
        "bogie": bogie,
    }


def ranked(client: TestClient, demand_id: int, **params: Any) -> list[dict]:
    r = client.get(f"/api/v1/demands/{demand_id}/matches", params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_demand_matches_rank_and_explain(client: TestClient, world: dict) -> None:
    items = ranked(client, world["demand"]["id"])
    ids = [x["sme_id"] for x in items]
    assert ids[0] == world["fit"]["id"]
    assert ids.index(world["uncertified"]["id"]) > ids.index(world["fit"]["id"])
    top = items[0]
    assert top["rank"] == 1 and top["eligible"] is True
    assert set(top["components"]) >= {"dense", "lexical", "terms", "link", "certificates"}
    assert abs(sum(top["components"].values()) - top["score"]) < 1e-3
    text = " ".join(top["reasons"])
    assert "具备资质：CRCC" in text and "转向架" in text and "已为中车示例机车车辆配套" in text
    assert "产业链环节一致" in text
    uncertified = next(x for x in items if x["sme_id"] == world["uncertified"]["id"])
    assert uncertified["eligible"] is False
    assert any("缺少必备资质：CRCC" in r for r in uncertified["reasons"])
    assert uncertified["components"]["must_missing"] < 0
    # the must-certificate gate sinks it below every eligible SME
    eligible = [x["score"] for x in items if x["eligible"]]
    assert uncertified["score"] < min(eligible)
    strict = ranked(client, world["demand"]["id"], include_ineligible=False)
    assert world["uncertified"]["id"] not in [x["sme_id"] for x in strict]


def test_filters_and_limits(client: TestClient, world: dict) -> None:
    demand_id = world["demand"]["id"]
    assert [x["sme_id"] for x in ranked(client, demand_id, chain="pharma")] == [
        world["noise"]["id"]
    ]
    assert [x["sme_id"] for x in ranked(client, demand_id, certification="crcc")] == [
        world["fit"]["id"]
    ]
    assert len(ranked(client, demand_id, limit=2)) == 2
    assert (
        client.get(f"/api/v1/demands/{demand_id}/matches", params={"limit": 500}).status_code == 422
    )
    assert client.get("/api/v1/demands/999999/matches").status_code == 404


def test_writes_reach_the_index_at_once(client: TestClient, world: dict) -> None:
    demand_id = world["demand"]["id"]
    newcomer = post(
        client,
        "/api/v1/smes",
        sme_payload(
            name="济南新锐构架制造有限公司",
            products=["转向架构架焊接件"],
            certifications=["CRCC"],
            links=[world["bogie"]],
        ),
    )
    assert newcomer["id"] in [x["sme_id"] for x in ranked(client, demand_id)]
    r = client.patch(
        f"/api/v1/smes/{world['noise']['id']}",
        json={"products": ["转向架构架焊接件"], "certifications": ["CRCC"]},
    )
    assert r.status_code == 200
    noise = next(x for x in ranked(client, demand_id) if x["sme_id"] == world["noise"]["id"])
    assert noise["eligible"] is True
    assert client.delete(f"/api/v1/smes/{newcomer['id']}").status_code == 204
    assert newcomer["id"] not in [x["sme_id"] for x in ranked(client, demand_id)]
    client.post(f"/api/v1/smes/{newcomer['id']}/restore")
    assert newcomer["id"] in [x["sme_id"] for x in ranked(client, demand_id)]


def test_sme_sees_open_demands(client: TestClient, world: dict) -> None:
    url = f"/api/v1/smes/{world['fit']['id']}/matches"
    items = client.get(url).json()["items"]
    assert items[0]["demand_id"] == world["demand"]["id"]
    assert items[0]["leader_id"] == world["leader"]["id"]
    assert any("具备资质" in r for r in items[0]["reasons"])
    client.patch(f"/api/v1/demands/{world['demand']['id']}", json={"status": "closed"})
    assert client.get(url).json()["items"] == []
    closed = client.get(url, params={"include_closed": True}).json()["items"]
    assert [x["demand_id"] for x in closed] == [world["demand"]["id"]]


def test_free_text_search(client: TestClient, world: dict) -> None:
    r = client.post(
        "/api/v1/match",
        json={"text": "转向架构架焊接", "required_certifications": ["CRCC"], "limit": 3},
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items[0]["sme_id"] == world["fit"]["id"]
    r = client.post("/api/v1/match", json={"text": "转向架", "city": "威海市"})
    assert [x["sme_id"] for x in r.json()["items"]] == [world["noise"]["id"]]
    assert client.post("/api/v1/match", json={"text": ""}).status_code == 422
    assert client.post("/api/v1/match", json={"text": "x", "chain": "nope"}).status_code == 422


def test_placement_suppliers_and_coverage(client: TestClient, world: dict) -> None:
    placed = client.get(f"/api/v1/smes/{world['uncertified']['id']}/placement").json()
    assert world["bogie"] in [p["link"] for p in placed]
    assert all(p["chain"] for p in placed) and placed[0]["score"] >= placed[-1]["score"]
    demand_places = client.get(f"/api/v1/demands/{world['demand']['id']}/placement").json()
    assert world["bogie"] in [p["link"] for p in demand_places]
    suppliers = client.get(f"/api/v1/chains/equipment/links/{world['bogie']}/smes").json()
    declared = [s["sme_id"] for s in suppliers if s["declared"]]
    assert set(declared) == {world["fit"]["id"], world["uncertified"]["id"]}
    coverage = client.get("/api/v1/chains/equipment/coverage").json()
    row = next(x for x in coverage["links"] if x["link"] == world["bogie"])
    assert row["declared_suppliers"] == 2 and row["open_demands"] == 1 and not row["weak"]
    assert coverage["weak_links"] and all(
        x["declared_suppliers"] + x["suggested_suppliers"] == 0
        for x in coverage["links"]
        if x["link"] in coverage["weak_links"]
    )
    assert client.get("/api/v1/chains/nope/coverage").status_code == 404
    assert client.get("/api/v1/chains/equipment/links/it-01/smes").status_code == 404


def test_bulk_is_queued_then_encoded_once(
    client: TestClient, runtime: MatchingRuntime, world: dict
) -> None:
    rows = [sme_payload(name=f"批量构架企业{i}有限公司", products=["转向架构架"]) for i in range(5)]
    r = client.post("/api/v1/smes/bulk", json=rows)
    assert r.status_code == 201
    status = client.get("/api/v1/index/status").json()
    assert status["pending_encodings"] == 5
    assert status["profiles"] == 9 and status["profiles_with_vectors"] == 4
    assert runtime.encode_pending() == 5
    assert runtime.encode_pending() == 0
    runtime.sync()
    status = client.get("/api/v1/index/status").json()
    assert status["pending_encodings"] == 0 and status["profiles_with_vectors"] == 9
    # the queue's progress: the last run's texts, and nothing left to wait for
    assert status["encoding_done"] == 5 and status["encoding_total"] == 5
    assert status["encoding_active"] is False and status["encoding_eta_seconds"] is None


class CountingEncoder:
    """Wraps an encoder and counts the texts it encodes."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim, self.calls = inner, inner.name, inner.dim, 0

    def encode_queries(self, texts):
        self.calls += len(texts)
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts):
        self.calls += len(texts)
        return self.inner.encode_passages(texts)


def test_restart_rebuilds_from_stored_vectors_without_encoding(
    client: TestClient, runtime: MatchingRuntime, world: dict, settings, session_factory
) -> None:
    runtime.encode_pending()
    counting = CountingEncoder(runtime.encoder.encoder)
    fresh = MatchingRuntime(settings, session_factory, encoder=counting)
    fresh.load()
    assert counting.calls == 0
    assert len(fresh.matcher.profile_vectors) == len(runtime.matcher.profile_vectors) == 4
    # The first lexical snapshot is built by the load, not by the first request after it.
    assert fresh.matcher.profile_lexical.pending == 0 and fresh.matcher.demand_lexical.pending == 0
    assert fresh.load_timings["lexical_snapshot"] >= 0
    demand = fresh.matcher.demands[world["demand"]["id"]]
    ranked_ids = [
        m.id
        for m in fresh.matcher.rank_profiles(demand, fresh.matcher.demand_vectors.vector(demand.id))
    ]
    assert ranked_ids[0] == world["fit"]["id"]
    assert counting.calls == 0
    fresh.stop()


def test_reading_matches_never_encodes(
    client: TestClient, runtime: MatchingRuntime, world: dict
) -> None:
    counting = CountingEncoder(runtime.encoder.encoder)
    runtime.encoder.encoder = counting
    for _ in range(3):
        ranked(client, world["demand"]["id"])
        client.get(f"/api/v1/smes/{world['fit']['id']}/matches")
    assert counting.calls == 0


def test_renaming_a_leader_reaches_its_demands(client: TestClient, world: dict) -> None:
    before = ranked(client, world["demand"]["id"])[0]
    assert any("已为中车示例机车车辆配套" in r for r in before["reasons"])
    r = client.patch(f"/api/v1/leaders/{world['leader']['id']}", json={"name": "改名后的集团"})
    assert r.status_code == 200
    after = next(
        x for x in ranked(client, world["demand"]["id"]) if x["sme_id"] == before["sme_id"]
    )
    assert not any("配套" in r and "已为" in r for r in after["reasons"])
    assert after["components"]["supplied"] == 0


def test_each_product_is_encoded_and_stored_with_the_profile(
    client: TestClient, runtime: MatchingRuntime, world: dict, session_factory
) -> None:
    from app.repositories import matching as repo

    fit = world["fit"]
    with session_factory() as session:
        stored = repo.embeddings_for(session, "sme", [fit["id"]], runtime.encoder.name)[fit["id"]]
    rows = repo.from_bytes(stored.vector).reshape(-1, stored.dim)
    assert rows.shape[0] == 1 + len(fit["products"])  # the profile, then each product
    assert runtime.matcher.product_vectors[fit["id"]].shape == (2, stored.dim)
    # Adding a product re-encodes the profile with one more row.
    products = [*fit["products"], {"name": "牵引电机吊座"}]
    r = client.patch(f"/api/v1/smes/{fit['id']}", json={"products": products})
    assert r.status_code == 200, r.text
    assert runtime.matcher.product_vectors[fit["id"]].shape == (3, stored.dim)


def test_vectors_stored_before_products_serve_until_re_encoded(
    client: TestClient, runtime: MatchingRuntime, world: dict, settings, session_factory
) -> None:
    """An upgraded deployment: old rows hold one profile vector keyed by the profile text."""
    from sqlalchemy import select

    from app.repositories import matching as repo
    from app.services import match_docs
    from models import SmeProfile

    fit_id = world["fit"]["id"]
    with session_factory() as session:
        sme = session.scalar(select(SmeProfile).where(SmeProfile.id == fit_id))
        version = sme.version
        old_key = match_docs.text_hash(match_docs.sme_match_text(sme))
        vector = runtime.encoder.encode_passages([match_docs.sme_match_text(sme)])[0]
        repo.save_embedding(session, "sme", fit_id, runtime.encoder.name, old_key, vector)
        repo.set_text_hashes(session, SmeProfile, {fit_id: old_key})
        session.commit()
    fresh = MatchingRuntime(settings, session_factory, encoder=runtime.encoder.encoder)
    fresh.load()
    # The old vector serves as the profile row at once; the profile is queued again ...
    assert fresh.matcher.profile_vectors.vector(fit_id) is not None
    assert fit_id not in fresh.matcher.product_vectors
    with session_factory() as session:
        sme = session.scalar(select(SmeProfile).where(SmeProfile.id == fit_id))
        assert sme.version == version  # re-keying is no user-visible edit
        assert repo.count_pending(session, "sme", fresh.encoder.name) == 1
    # ... and once the queue has run, it has its product rows.
    assert fresh.encode_pending() == 1
    fresh.sync()
    assert fresh.matcher.product_vectors[fit_id].shape[0] == 2
    fresh.stop()


def test_the_service_ranks_with_one_blas_thread(client: TestClient, runtime) -> None:
    """Waking a second BLAS thread for each small product cost a ranking 2.4x (README)."""
    from threadpoolctl import threadpool_info

    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] == runtime.settings.blas_threads == 1 for p in blas)


def test_a_profile_written_is_ranked_at_once_without_rebuilding_the_lexical_index(
    client: TestClient, runtime: MatchingRuntime, world: dict
) -> None:
    lexical = runtime.matcher.profile_lexical
    # As past `exact_rows` (5,000): writes are absorbed in the delta, not rebuilt per read.
    lexical.exact_rows = 0
    lexical.refresh()
    generation = lexical.generation
    new = post(
        client,
        "/api/v1/smes",
        sme_payload(name="淄博钛合金紧固件有限公司", products=["钛合金高锁螺栓"]),
    )
    r = client.post("/api/v1/match", json={"text": "钛合金高锁螺栓"})
    assert r.status_code == 200, r.text
    assert r.json()["items"][0]["sme_id"] == new["id"]
    status = client.get("/api/v1/index/status").json()
    assert status["lexical_writes_pending"] == 1 and lexical.generation == generation
