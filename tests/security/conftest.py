"""Shared fixtures of the attack regression tests: parties with accounts, fresh sign-ups."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.app.test_auth import PASSWORD, made
from tests.app.test_auth import world as _world

world = _world


def signup(client: TestClient, username: str) -> dict[str, str]:
    """A fresh SME self-service account (no profile yet); returns its auth headers."""
    r = made(
        client.post("/api/v1/auth/signup", json={"username": username, "password": PASSWORD}), 201
    )
    return {"Authorization": f"Bearer {r['access_token']}"}


@pytest.fixture
def stranger(client: TestClient) -> dict[str, Any]:
    """Auth headers of a fresh sign-up that is nobody's party."""
    return signup(client, "stranger.x")
