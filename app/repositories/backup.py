"""Whole-table reads and writes for the export and the restore (every table, by metadata)."""

from collections.abc import Iterator

from sqlalchemy import Connection, Table, func, insert, select, text


def rows(conn: Connection, table: Table, order=None) -> Iterator:
    """Every row of a table, in `order` (default: its primary key)."""
    order = order if order is not None else list(table.primary_key.columns)
    return conn.execute(select(table).order_by(*order))


def is_empty(conn: Connection, table: Table) -> bool:
    """Whether a table holds no row."""
    return not conn.execute(select(func.count()).select_from(table)).scalar()


def insert_rows(conn: Connection, table: Table, batch: list[dict]) -> None:
    """Insert rows as they are (ids included)."""
    conn.execute(insert(table), batch)


def move_sequence_past_ids(conn: Connection, table: Table) -> None:
    """PostgreSQL: the table's id sequence continues after its largest id."""
    conn.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
        )
    )
