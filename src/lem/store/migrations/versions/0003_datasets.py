"""Training datasets: one row per dataset that ``lem distill`` or ``lem data conv`` wrote.

A dataset is identified by its content hash (the SHA-256 of its split files), so writing
the same data twice records it once. The row keeps where the files are, the generation run
it was selected from (if any) and its manifest (settings, counts, rejections, lineage
summary), so a training run can name exactly what it learned from.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("dataset_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("manifest", sa.Text, nullable=False),
    )
    op.create_index("ix_datasets_name", "datasets", ["name"])


def downgrade() -> None:
    raise NotImplementedError("lem stores are migrated forward only")
