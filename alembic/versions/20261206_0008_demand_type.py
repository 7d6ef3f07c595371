"""demands.need_type becomes demand_type (one word per concept)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 21:55:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rename(old: str, new: str) -> None:
    # Batch mode: SQLite rebuilds the table; PostgreSQL renames in place.
    with op.batch_alter_table("demands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f(f"ix_demands_{old}"))
        batch_op.alter_column(old, new_column_name=new)
    with op.batch_alter_table("demands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_demands_{new}"), [new], unique=False)


def upgrade() -> None:
    _rename("need_type", "demand_type")


def downgrade() -> None:
    _rename("demand_type", "need_type")
