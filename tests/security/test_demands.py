"""Needs: drafts stay their leader's until published; a need cannot be born signed."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import demand_payload
from tests.security.conftest import made


@pytest.fixture
def draft(world: dict[str, Any], client: TestClient) -> dict[str, Any]:
    """A draft need of leader 0, with a title nobody else should read."""
    payload = demand_payload(world["leaders"][0]["id"], title="未公开的草稿需求：氢燃料电堆双极板")
    return made(client.post("/api/v1/demands", json={**payload, "status": "draft"}))


def _titles(anon_client: TestClient, headers, **params) -> list[str]:
    page = made(anon_client.get("/api/v1/demands", params=params, headers=headers), 200)
    return [d["title"] for d in page["items"]]


@pytest.mark.parametrize("reader", ["leader1", "sme", "stranger"])
def test_a_draft_demand_is_hidden_from_competitors_and_strangers(
    world, draft, stranger, anon_client: TestClient, reader: str
) -> None:
    headers = stranger if reader == "stranger" else world[reader]
    assert draft["title"] not in _titles(anon_client, headers)
    assert draft["title"] not in _titles(anon_client, headers, status="draft")
    assert draft["title"] not in _titles(anon_client, headers, q="双极板")
    one = anon_client.get(f"/api/v1/demands/{draft['id']}", headers=headers)
    assert one.status_code == 404  # not 403: do not confirm that it exists
    # Nor can anyone show interest in it (which would reveal contacts once it is published).
    if reader != "leader1":
        r = anon_client.post("/api/v1/interests", json={"demand_id": draft["id"]}, headers=headers)
        assert r.status_code in (403, 404)


def test_a_draft_demand_is_visible_to_its_leader_and_the_staff(
    world, draft, anon_client: TestClient
) -> None:
    for reader in ("leader", "organizer"):
        assert draft["title"] in _titles(anon_client, world[reader], status="draft")
        one = anon_client.get(f"/api/v1/demands/{draft['id']}", headers=world[reader])
        assert one.status_code == 200
    # Published, it is everyone's to read.
    made(
        anon_client.patch(
            f"/api/v1/demands/{draft['id']}",
            json={"status": "published", "version": draft["version"]},
            headers=world["leader"],
        ),
        200,
    )
    assert draft["title"] in _titles(anon_client, world["sme"])


def test_the_console_demand_page_hides_a_draft(world, draft, anon_client: TestClient) -> None:
    web = TestClient(anon_client.app, raise_server_exceptions=False)
    token = world["sme"]["Authorization"].removeprefix("Bearer ")
    web.cookies.set("chainmatch_session", token)
    page = web.get(f"/sme/needs/{draft['id']}")
    assert page.status_code == 404 and "双极板" not in page.text


@pytest.mark.parametrize("status", ["docking", "intention", "signed"])
def test_a_demand_cannot_be_created_past_published(
    world, client: TestClient, anon_client: TestClient, status: str
) -> None:
    """A leader posting a need 'signed' would fake the programme's outcome figures."""
    payload = {**demand_payload(world["leaders"][0]["id"]), "status": status}
    for poster in ("leader", "admin"):
        headers = world[poster] if poster in world else dict(client.headers)
        r = anon_client.post("/api/v1/demands", json=payload, headers=headers)
        assert r.status_code == 422, r.text
        assert any(e["field"] == "status" for e in r.json()["detail"])


def test_a_draft_needs_placement_is_hidden_too(world, draft, anon_client: TestClient) -> None:
    url = f"/api/v1/demands/{draft['id']}/placement"
    assert anon_client.get(url, headers=world["sme"]).status_code == 404
    assert anon_client.get(url, headers=world["leader"]).status_code == 200
