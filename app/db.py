"""Engine and the one-session-per-request dependency (the only commit point)."""

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app import audit

audit.install()

log = logging.getLogger("chainmatch")

# Requests with these methods only read: their session comes from the read factory.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Execution option and session.info key of the read factory's sessions (SQLite file only).
READ_ONLY = "chainmatch_read_only"
# session.info key: bookkeeping writes queued by `write_at_end`.
_QUEUED = "queued_writes"


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
        # Read sessions (make_read_session_factory) begin DEFERRED: in WAL mode they read a
        # snapshot without the write lock, so they never wait for a writer nor a writer for them.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory bound to `engine`; objects stay usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def make_read_session_factory(
    engine: Engine, plain: sessionmaker[Session] | None = None
) -> sessionmaker[Session]:
    """Sessions that only read: on a SQLite file they take no write lock.

    Elsewhere the plain factory (`plain`, when given) serves reads too.
    """
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        # PostgreSQL readers never wait for writers anyway, and an in-memory database has one
        # connection: both read through the plain factory, as before.
        return plain or make_session_factory(engine)
    # Shares the engine's pool and events; only the BEGIN differs.
    return sessionmaker(
        bind=engine.execution_options(**{READ_ONLY: True}),
        expire_on_commit=False,
        autoflush=True,
        info={READ_ONLY: True},
    )


def write_at_end(session: Session, work: Callable[[Session], None]) -> None:
    """Queue a bookkeeping write (a token's last use) for the end of the request."""
    # Not now: the first write of a request begins its transaction, which on SQLite holds the
    # write lock until the request ends; and a read session may not write at all.
    session.info.setdefault(_QUEUED, []).append(work)


def _write_queued(session: Session, factory: sessionmaker[Session]) -> None:
    """Run the bookkeeping queued on a request's session, which has not committed yet."""
    queued = session.info.pop(_QUEUED, [])
    if not queued:
        return
    if not session.info.get(READ_ONLY):
        # Part of the request's own transaction, at its end.
        for work in queued:
            work(session)
        return
    # A read session's deferred transaction cannot safely turn into a write (it fails at once
    # when another connection wrote since its snapshot): end it, then one short write.
    session.commit()
    try:
        with factory() as write, write.begin():
            for work in queued:
                work(write)
    except OperationalError:
        # Bookkeeping only: a read that succeeded is not failed because the database stayed
        # locked past busy_timeout.
        log.warning("bookkeeping write after a read skipped: database busy", exc_info=True)


def get_session(request: Request) -> Iterator[Session]:
    """One session per request: commit when the handler succeeds, roll back otherwise."""
    state = request.app.state
    # Reads get a session that takes no write lock on SQLite (see make_read_session_factory).
    reads = request.method in SAFE_METHODS
    session: Session = (state.read_session_factory if reads else state.session_factory)()
    try:
        yield session
        _write_queued(session, state.session_factory)
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
    runtime = state.matching
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
