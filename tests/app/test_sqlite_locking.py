"""On a SQLite file, reads never take the write lock and password hashing runs outside it."""

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import make_url

from app.config import PROJECT_ROOT, Settings
from app.db import make_engine, make_session_factory, unit_of_work
from app.main import create_app
from app.services import auth, taxonomy
from app.services import smes as sme_service
from tests.dbutil import fresh_database, migrate, postgres_url
from tests.factories import sme_payload
from tests.servers import ADMIN_HEADERS, ADMIN_TOKEN

pytestmark = pytest.mark.skipif(
    postgres_url() is not None, reason="SQLite locking: PostgreSQL readers never wait anyway"
)

API = "/api/v1"
PASSWORD = "locking-test-pass"
# Short, so a request that waits for the lock fails fast instead of after the usual 5 s.
BUSY_TIMEOUT_MS = 200


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A migrated SQLite file of its own (the shared test database runs in one transaction)."""
    with fresh_database(tmp_path_factory.mktemp("locking")) as url:
        database = make_url(url).database
        if not database or database == ":memory:":
            pytest.skip("needs a SQLite file")
        migrate(url)
        engine = make_engine(url)
        with unit_of_work(make_session_factory(engine)) as session:
            taxonomy.load_taxonomy_dir(session, PROJECT_ROOT / "data" / "chains", "sd-2022")
        engine.dispose()
        yield Path(database)


@pytest.fixture
def app_client(db_path: Path) -> Iterator[TestClient]:
    """The app with its own engine on the file, as `make run` serves it."""
    settings = Settings(
        database_url=f"sqlite:///{db_path}",
        demo=False,
        encoder="hashing",
        index_poll_seconds=0,
        encode_poll_seconds=0,
        admin_token=ADMIN_TOKEN,
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False, headers=ADMIN_HEADERS) as client:

        @event.listens_for(app.state.engine, "checkout")
        def _short_busy_timeout(dbapi_connection, _record, _proxy) -> None:
            dbapi_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

        yield client


@contextmanager
def write_lock_held(db_path: Path) -> Iterator[None]:
    """Another connection holds the write lock (BEGIN IMMEDIATE, not committed)."""
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def write_lock_free(db_path: Path) -> bool:
    """Whether another connection could take the write lock right now (without waiting)."""
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    try:
        conn.execute("PRAGMA busy_timeout=0")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return False
        conn.execute("ROLLBACK")
        return True
    finally:
        conn.close()


def probing(db_path: Path, fn: Callable, seen: list[bool]) -> Callable:
    """`fn`, recording in `seen` whether the write lock was free when it was called."""

    def wrapper(*args, **kwargs):
        seen.append(write_lock_free(db_path))
        return fn(*args, **kwargs)

    return wrapper


def new_sme(client: TestClient) -> int:
    r = client.post(f"{API}/smes", json=sme_payload())
    assert r.status_code == 201, r.text
    return r.json()["id"]


def new_user(client: TestClient, username: str, role: str = "organizer") -> None:
    r = client.post(f"{API}/users", json={"username": username, "password": PASSWORD, "role": role})
    assert r.status_code == 201, r.text


def bearer_of(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post(f"{API}/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def last_used(db_path: Path, token: str) -> str | None:
    conn = sqlite3.connect(db_path)
    try:
        row = conn.execute(
            "SELECT last_used_at FROM auth_tokens WHERE token_hash = ?", (auth.hash_token(token),)
        ).fetchone()
    finally:
        conn.close()
    assert row is not None
    return row[0]


def test_reads_answer_while_another_connection_holds_the_write_lock(
    app_client: TestClient, db_path: Path
) -> None:
    sme_id = new_sme(app_client)
    new_user(app_client, "lock-reader")
    token = app_client.post(
        f"{API}/auth/login", json={"username": "lock-reader", "password": PASSWORD}
    ).json()["access_token"]
    app_client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"})
    with write_lock_held(db_path):
        # /index/status counts the encoding backlog while the encoder writes (issue 14, bug 5).
        reads = ("smes/" + str(sme_id), "smes", "health", "chains", "index/status")
        for path in (f"{API}/{p}" for p in reads):
            r = app_client.get(path)
            assert r.status_code == 200, (path, r.text)
        # A console page with a user's session cookie (its last use was just recorded).
        console = TestClient(app_client.app, raise_server_exceptions=False)
        console.cookies.set("chainmatch_session", token)
        page = console.get("/organizer", follow_redirects=False)
        assert page.status_code == 200, page.text
    assert write_lock_free(db_path)


def test_a_tokens_first_use_is_recorded_after_the_read(
    app_client: TestClient, db_path: Path
) -> None:
    new_user(app_client, "lock-toucher")
    token = app_client.post(
        f"{API}/auth/login", json={"username": "lock-toucher", "password": PASSWORD}
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert last_used(db_path, token) is None
    with write_lock_held(db_path):
        # The GET writes the token's last use: it still answers while the lock is busy...
        r = app_client.get(f"{API}/auth/me", headers=bearer)
        assert r.status_code == 200, r.text
        assert r.json()["username"] == "lock-toucher"
    assert last_used(db_path, token) is None
    # ...and writes it once the lock is free.
    assert app_client.get(f"{API}/auth/tokens", headers=bearer).status_code == 200
    assert last_used(db_path, token) is not None


def test_login_verifies_the_password_outside_the_write_lock(
    app_client: TestClient, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_user(app_client, "lock-login")
    seen: list[bool] = []
    monkeypatch.setattr(auth, "verify_password", probing(db_path, auth.verify_password, seen))
    anon = TestClient(app_client.app, raise_server_exceptions=False)

    ok = anon.post(f"{API}/auth/login", json={"username": "lock-login", "password": PASSWORD})
    assert ok.status_code == 200, ok.text
    wrong = anon.post(f"{API}/auth/login", json={"username": "lock-login", "password": "x" * 9})
    assert wrong.status_code == 401, wrong.text
    unknown = anon.post(f"{API}/auth/login", json={"username": "nobody-here", "password": "x" * 9})
    assert unknown.status_code == 401, unknown.text
    page = anon.post(
        "/login", data={"username": "lock-login", "password": PASSWORD}, follow_redirects=False
    )
    assert page.status_code == 303, page.text
    assert seen == [True, True, True, True]

    # The failures were still written, after the verification.
    conn = sqlite3.connect(db_path)
    try:
        failures = conn.execute(
            "SELECT username FROM login_failures WHERE username IN ('lock-login', 'nobody-here')"
        ).fetchall()
    finally:
        conn.close()
    assert sorted(u for (u,) in failures) == ["lock-login", "nobody-here"]


def test_signup_and_password_change_hash_before_the_write_transaction(
    app_client: TestClient, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[bool] = []
    verified: list[bool] = []
    monkeypatch.setattr(auth, "hash_password", probing(db_path, auth.hash_password, hashed))
    monkeypatch.setattr(auth, "verify_password", probing(db_path, auth.verify_password, verified))
    anon = TestClient(app_client.app, raise_server_exceptions=False)

    r = anon.post(f"{API}/auth/signup", json={"username": "lock-signup", "password": PASSWORD})
    assert r.status_code == 201, r.text
    token = r.json()["access_token"]
    assert anon.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"}).json()[
        "username"
    ] == ("lock-signup")
    page = anon.post(
        "/signup",
        data={"username": "lock-signup-web", "password": PASSWORD, "password2": PASSWORD},
        follow_redirects=False,
    )
    assert page.status_code == 303, page.text
    user_id = r.json()["user"]["id"]
    # By an admin account (its session token is looked up first) and by the static token.
    new_user(app_client, "lock-admin", role="admin")
    admin = bearer_of(anon, "lock-admin")
    changed = anon.patch(
        f"{API}/users/{user_id}", json={"password": PASSWORD + "-2"}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    changed = app_client.patch(f"{API}/users/{user_id}", json={"password": PASSWORD + "-3"})
    assert changed.status_code == 200, changed.text
    created = anon.post(
        f"{API}/users",
        json={"username": "lock-created", "password": PASSWORD, "role": "organizer"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    # signup, web signup, lock-admin (static token), two changes, a creation by lock-admin
    assert hashed == [True] * 6
    assert verified and all(verified)

    again = anon.post(
        f"{API}/auth/login", json={"username": "lock-signup", "password": PASSWORD + "-3"}
    )
    assert again.status_code == 200, again.text
    # The admin's session token was used by writes only: its use was recorded all the same.
    assert last_used(db_path, admin["Authorization"].removeprefix("Bearer ")) is not None


def test_a_write_goes_through_while_a_read_request_is_in_progress(
    app_client: TestClient, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sme_id = new_sme(app_client)
    reading, release = threading.Event(), threading.Event()
    original = sme_service.get

    def paused_get(session, wanted: int):
        found = original(session, wanted)  # the read transaction is open from here on
        if not reading.is_set():
            reading.set()
            release.wait(10)
        return found

    monkeypatch.setattr(sme_service, "get", paused_get)
    result: dict[str, int] = {}
    reader = threading.Thread(
        target=lambda: result.update(read=app_client.get(f"{API}/smes/{sme_id}").status_code)
    )
    reader.start()
    try:
        assert reading.wait(10), "the read request never reached its query"
        write = app_client.post(f"{API}/smes", json=sme_payload())
        assert write.status_code == 201, write.text
        patch = app_client.patch(f"{API}/smes/{sme_id}", json={"rd_share": 6.1})
        assert patch.status_code == 200, patch.text
    finally:
        release.set()
        reader.join(10)
    assert result == {"read": 200}
    assert app_client.get(f"{API}/smes/{sme_id}").json()["rd_share"] == 6.1
