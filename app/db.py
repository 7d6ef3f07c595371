"""Engine and the one-session-per-request dependency (the only commit point)."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app import audit

audit.install()


def _json_dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def make_engine(url: str, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and real transactional savepoints."""
    parsed = make_url(url)
    # Keep Chinese readable in JSON columns (and searchable as text).
    options = {"echo": echo, "json_serializer": _json_dumps}
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **options)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False}, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - driver hook
        # Let SQLAlchemy, not pysqlite, emit BEGIN so SAVEPOINTs work as documented.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        if parsed.database and parsed.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # pragma: no cover - driver hook
        # IMMEDIATE takes the write lock up front: a deferred transaction that later writes can
        # fail at once with "database is locked" when another process writes (no busy wait).
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory bound to `engine`; objects stay usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def get_session(request: Request) -> Iterator[Session]:
    """One session per request: commit when the handler succeeds, roll back otherwise."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
        if getattr(request.state, "refused", False) and not session.info.get("commit_on_error"):
            # A console page that answers with an error keeps nothing a service wrote before it
            # refused (the handler returned normally, so no exception rolls it back).
            session.rollback()
            dirty = False
        else:
            session.commit()
            dirty = session.info.pop("index_dirty", False)
    except BaseException:
        if session.info.pop("commit_on_error", False):
            # A refused login still counts towards the rate limit.
            session.commit()
        else:
            session.rollback()
        raise
    finally:
        session.close()
    # This process sees its own writes at once; the others within a poll interval.
    runtime = request.app.state.matching
    if dirty and runtime is not None:
        runtime.after_commit()


@contextmanager
def unit_of_work(factory: sessionmaker[Session], actor: str = "cli") -> Iterator[Session]:
    """A session for a CLI command: commit on success, roll back on error."""
    session = factory()
    # The audit log names who wrote; a command line has no signed-in user.
    session.info["actor"] = actor
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
