"""The demo data set loads through the API's validation, covers the province, and loads once."""

from collections import Counter

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from app.services import demo
from matching import vocab


def test_demo_set_loads_once_and_covers_the_province(
    client: TestClient, session: Session, settings: Settings
) -> None:
    stats = demo.load_demo(session, settings)
    session.commit()
    assert stats.smes >= 400 and stats.demands >= 80 and stats.leaders >= 20

    smes = client.get("/api/v1/smes", params={"limit": 200}).json()
    assert smes["total"] == stats.smes
    all_smes = []
    for offset in range(0, smes["total"], 200):
        page = client.get("/api/v1/smes", params={"limit": 200, "offset": offset}).json()
        all_smes += page["items"]
    assert set(Counter(s["city"] for s in all_smes)) >= set(vocab.SHANDONG_CITIES)
    chains = {c for s in all_smes for c in s["chains"]}
    assert len(chains) == 11
    assert all(s["products"] for s in all_smes)

    demands = []
    for offset in range(0, stats.demands, 200):
        page = client.get("/api/v1/demands", params={"limit": 200, "offset": offset}).json()
        demands += page["items"]
    assert len({d["leader_id"] for d in demands}) >= 20
    assert len({d["chain"] for d in demands}) == 11

    again = demo.load_demo(session, settings)
    assert (again.leaders, again.demands, again.smes, again.accounts) == (0, 0, 0, 0)


def test_demo_accounts_sign_in_bound_to_their_firms(
    client: TestClient, anon_client: TestClient, session: Session, settings: Settings
) -> None:
    stats = demo.load_demo(session, settings)
    session.commit()
    assert stats.accounts == 4
    roles = {}
    for username in ("admin", "organizer", "crrc-sifang", "qijing-rail"):
        password = "chainmatch-admin" if username == "admin" else "chainmatch-demo"
        r = anon_client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert r.status_code == 200, r.text
        roles[username] = r.json()["user"]
    assert roles["crrc-sifang"]["leader_id"] is not None
    assert roles["qijing-rail"]["sme_id"] is not None
    sme = client.get(f"/api/v1/smes/{roles['qijing-rail']['sme_id']}").json()
    assert sme["uscc"] == "913701003582504562"
