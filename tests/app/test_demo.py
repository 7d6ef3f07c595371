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
    assert (again.leaders, again.demands, again.smes) == (0, 0, 0)
