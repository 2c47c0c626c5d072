"""Benchmark items: the items of each benchmark item set a run asked, keyed by the set's
hash, so a benchmark run can be scored (expected answers, reference answers) and reported
from the store alone, long after the item file has moved.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bench_items",
        sa.Column("set_sha", sa.String(64), primary_key=True),
        sa.Column("item_id", sa.String(256), primary_key=True),
        sa.Column("benchmark", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("item_group", sa.Text),
        sa.Column("fields", sa.Text, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("lem stores are migrated forward only")
