"""Experiment stages: what each stage of ``lem experiment run`` did, keyed by its inputs.

A stage's ``input_hash`` covers its settings and the identities of its inputs (the model
it starts from, the dataset it trains on); a stage with a finished record for the same
hash is skipped, and a changed setting gives a new hash, so that stage and the ones after
it run again. ``outputs`` holds what later stages need (run ids, dataset id, folders).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiment_stages",
        sa.Column("experiment", sa.String(128), primary_key=True),
        sa.Column("stage", sa.String(128), primary_key=True),
        sa.Column("input_hash", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outputs", sa.Text, nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("finished_at", sa.String(40)),
        sa.Column("wall_s", sa.Float),
    )


def downgrade() -> None:
    raise NotImplementedError("lem stores are migrated forward only")
