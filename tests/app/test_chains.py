import json

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import PROJECT_ROOT
from app.services import taxonomy

TAXONOMY = PROJECT_ROOT / "data" / "chains" / "sd-2022.json"
CHAIN_CODES = {
    "it",
    "equipment",
    "new-energy",
    "materials",
    "marine",
    "chemicals",
    "agri-machinery",
    "pharma",
    "construction-machinery",
    "light-industry",
    "textiles",
}


def test_health_is_public(client: TestClient) -> None:
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "taxonomy_version": "sd-2022"}


def test_eleven_chains(client: TestClient) -> None:
    r = client.get("/api/v1/chains")
    assert r.status_code == 200
    chains = r.json()
    assert {c["code"] for c in chains} == CHAIN_CODES
    names = {c["name"] for c in chains}
    assert {"新一代信息技术", "高端装备", "纺织服装", "船舶和海工装备"} <= names
    assert sum(c["link_count"] for c in chains) >= 200


def test_chain_detail_has_sub_chains_and_links(client: TestClient) -> None:
    r = client.get("/api/v1/chains/equipment")
    assert r.status_code == 200
    body = r.json()
    subs = {s["name"] for s in body["sub_chains"]}
    assert any("轨道交通" in s for s in subs) and any("机器人" in s for s in subs)
    links = [link for s in body["sub_chains"] for link in s["links"]]
    assert len(links) == body["link_count"] - len(body["links"])
    for link in links:
        assert link["stage"] in {"upstream", "midstream", "downstream"}
        assert link["stage_label"] in {"上游", "中游", "下游"}
        assert link["code"].startswith("equipment-")
    first = links[0]
    r = client.get(f"/api/v1/chains/equipment/links/{first['code']}")
    assert r.status_code == 200 and r.json()["name"] == first["name"]


def test_unknown_chain_and_link_are_404(client: TestClient) -> None:
    r = client.get("/api/v1/chains/nope")
    assert r.status_code == 404
    assert "不存在" in r.json()["message_zh"]
    assert client.get("/api/v1/chains/it/links/equipment-01").status_code == 404


def test_loading_is_idempotent(session: Session) -> None:
    before = taxonomy.load_taxonomy_file(session, TAXONOMY, make_current=True)
    again = taxonomy.load_taxonomy_file(session, TAXONOMY, make_current=True)
    assert again.created == 0 and again.updated == 0
    assert (again.chains, again.links) == (before.chains, before.links)


def test_a_changed_link_is_updated_in_place(session: Session) -> None:
    data = json.loads(TAXONOMY.read_text(encoding="utf-8"))
    link = data["chains"][0]["sub_chains"][0]["links"][0]
    link["keywords"] = [*link["keywords"], "新关键词"]
    stats = taxonomy.load_taxonomy(session, data, make_current=True)
    assert stats.created == 0 and stats.updated == 1
    detail = taxonomy.get_chain(session, data["chains"][0]["code"], None)
    assert "新关键词" in detail.sub_chains[0].links[0].keywords


def test_a_second_version_is_data_alone(client: TestClient, session: Session) -> None:
    nineteen = {
        "version": {"code": "sd-2025", "name": "山东省标志性产业链(19条,2025)"},
        "chains": [
            {
                "code": "robots",
                "name": "机器人",
                "sub_chains": [
                    {
                        "code": "robots.core",
                        "name": "核心部件",
                        "links": [
                            {
                                "code": "robots-01",
                                "stage": "上游",
                                "name": "减速器",
                                "keywords": ["RV减速器", "谐波减速器"],
                            }
                        ],
                    }
                ],
            }
        ],
    }
    taxonomy.load_taxonomy(session, nineteen, make_current=False)
    session.commit()
    versions = {v["code"]: v for v in client.get("/api/v1/taxonomy-versions").json()}
    assert versions["sd-2022"]["is_current"] and not versions["sd-2025"]["is_current"]
    assert versions["sd-2022"]["chain_count"] == 11 and versions["sd-2025"]["chain_count"] == 1
    assert [c["code"] for c in client.get("/api/v1/chains?version=sd-2025").json()] == ["robots"]
    assert len(client.get("/api/v1/chains").json()) == 11
    assert client.get("/api/v1/chains/robots?version=sd-2025").json()["link_count"] == 1
    assert client.get("/api/v1/chains?version=sd-1999").status_code == 404
