"""Migrations build the schema, round-trip cleanly, and match the models."""

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.db import make_engine
from models import metadata
from tests.dbutil import alembic_config, fresh_database


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_round_trip(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        cfg = alembic_config(url)
        command.upgrade(cfg, "head")
        assert _tables(url) == set(metadata.tables)
        command.downgrade(cfg, "base")
        assert _tables(url) == set()
        command.upgrade(cfg, "head")
        assert _tables(url) == set(metadata.tables)


def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, metadata)
    finally:
        engine.dispose()
    assert diff == []
