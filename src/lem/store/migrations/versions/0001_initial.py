"""The schema of lem 0.1.0: runs, the work ledger, run links, scores, judge cache.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lem_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.bulk_insert(
        sa.table("lem_meta", sa.column("key", sa.String), sa.column("value", sa.Text)),
        [{"key": "schema", "value": "1"}],
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("started_at", sa.String(40)),
        sa.Column("finished_at", sa.String(40)),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("manifest", sa.Text, nullable=False),
    )
    op.create_table(
        "items",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("model_key", sa.String(64), nullable=False),
        sa.Column("messages", sa.Text, nullable=False),
        sa.Column("rendered_hash", sa.String(64), nullable=False),
        sa.Column("system_fallback", sa.Boolean, nullable=False),
        sa.Column("sampling", sa.Text, nullable=False),
        sa.Column("sample_index", sa.Integer, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("worker", sa.String(200)),
        sa.Column("lease_until", sa.Float),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("text", sa.Text),
        sa.Column("answer", sa.Text),
        sa.Column("reasoning", sa.Text),
        sa.Column("prompt_tokens", sa.Integer),
        sa.Column("completion_tokens", sa.Integer),
        sa.Column("time_s", sa.Float),
        sa.Column("finish_reason", sa.String(32)),
        sa.Column("error", sa.Text),
        sa.Column("extra", sa.Text),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("completed_at", sa.String(40)),
    )
    op.create_index("ix_items_status", "items", ["status"])
    op.create_table(
        "run_items",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("item_key", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("probe_id", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("condition", sa.Text, nullable=False),
        sa.Column("sample_index", sa.Integer, nullable=False),
    )
    op.create_index("ix_run_items_key", "run_items", ["item_key"])
    op.create_table(
        "scores",
        sa.Column("item_key", sa.String(64), primary_key=True),
        sa.Column("scorer", sa.String(128), primary_key=True),
        sa.Column("version", sa.String(32), primary_key=True),
        sa.Column("definition_hash", sa.String(64), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("signals", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "judge_cache",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("judge_model", sa.Text, nullable=False),
        sa.Column("rubric_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("raw", sa.Text),
        sa.Column("prompt_tokens", sa.Integer),
        sa.Column("completion_tokens", sa.Integer),
        sa.Column("created_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("lem stores are migrated forward only")
