"""Fixtures: one migrated database per run, one rolled-back transaction per test."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import PROJECT_ROOT, Settings
from app.db import make_engine, make_session_factory, unit_of_work
from app.main import create_app
from app.services import taxonomy
from tests.dbutil import fresh_database, migrate
from tests.servers import ADMIN_HEADERS, ADMIN_TOKEN


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database with the project's chain taxonomy loaded."""
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        migrate(url)
        engine = make_engine(url)
        with unit_of_work(make_session_factory(engine)) as session:
            taxonomy.load_taxonomy_dir(session, PROJECT_ROOT / "data" / "chains", "sd-2022")
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    conn = engine.connect()
    trans = conn.begin()
    try:
        yield conn
    finally:
        trans.rollback()
        conn.close()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    """Sessions that commit to savepoints of the test's transaction."""
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    s = session_factory()
    yield s
    s.close()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        demo=False,
        encoder="hashing",
        index_poll_seconds=0,
        encode_poll_seconds=0,
        import_poll_seconds=0,
        # Each test's app would collect the whole test process's heap at start-up.
        gc_freeze=False,
        admin_token=ADMIN_TOKEN,
    )


@pytest.fixture
def client(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    """An API client whose requests all run inside the test's transaction."""
    app = create_app(settings)
    app.state.session_factory = session_factory
    with TestClient(app, raise_server_exceptions=False, headers=ADMIN_HEADERS) as c:
        yield c


@pytest.fixture
def anon_client(client: TestClient) -> TestClient:
    """The same app without credentials (shares the client's lifespan and transaction)."""
    return TestClient(client.app, raise_server_exceptions=False)
