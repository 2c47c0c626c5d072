"""Tables of the run store (SQLAlchemy Core; SQLite and PostgreSQL), as the newest
migration leaves them. The tables are created and changed only by migrations
(:mod:`lem.store.migrations`); a test checks that the two agree."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "SCHEMA_VERSION",
    "bench_items",
    "datasets",
    "experiment_stages",
    "items",
    "judge_cache",
    "meta",
    "metadata",
    "run_items",
    "runs",
    "scores",
]

SCHEMA_VERSION = 2
"""``lem_meta.schema`` of a store at the newest migration (lem 0.1.0 wrote 1 and refuses
anything higher)."""

metadata = MetaData()

meta = Table(
    "lem_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("name", Text),
    Column("status", String(16), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("started_at", String(40)),
    Column("finished_at", String(40)),
    Column("config", Text, nullable=False),
    Column("manifest", Text, nullable=False),
)

items = Table(
    "items",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("model_key", String(64), nullable=False),
    Column("messages", Text, nullable=False),
    Column("rendered_hash", String(64), nullable=False),
    Column("system_fallback", Boolean, nullable=False, default=False),
    Column("sampling", Text, nullable=False),
    Column("sample_index", Integer, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("worker", String(200)),
    Column("lease_until", Float),
    Column("attempts", Integer, nullable=False, default=0),
    Column("text", Text),
    Column("answer", Text),
    Column("reasoning", Text),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("time_s", Float),
    Column("finish_reason", String(32)),
    Column("error", Text),
    Column("extra", Text),
    Column("created_at", String(40), nullable=False),
    Column("completed_at", String(40)),
    Index("ix_items_status", "status"),
)

run_items = Table(
    "run_items",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("item_key", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("probe_id", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("prompt", Text, nullable=False),
    Column("condition", Text, nullable=False),
    Column("sample_index", Integer, nullable=False),
    Index("ix_run_items_key", "item_key"),
)

scores = Table(
    "scores",
    metadata,
    Column("item_key", String(64), primary_key=True),
    Column("scorer", String(128), primary_key=True),
    Column("version", String(32), primary_key=True),
    Column("definition_hash", String(64), nullable=False),
    Column("value", Float),
    Column("signals", Text),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("created_at", String(40), nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("dataset_id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("path", Text, nullable=False),
    Column("run_id", String(64)),
    Column("created_at", String(40), nullable=False),
    Column("manifest", Text, nullable=False),
    Index("ix_datasets_name", "name"),
)

experiment_stages = Table(
    "experiment_stages",
    metadata,
    Column("experiment", String(128), primary_key=True),
    Column("stage", String(128), primary_key=True),
    Column("input_hash", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("outputs", Text, nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("finished_at", String(40)),
    Column("wall_s", Float),
)

bench_items = Table(
    "bench_items",
    metadata,
    Column("set_sha", String(64), primary_key=True),
    Column("item_id", String(256), primary_key=True),
    Column("benchmark", String(64), nullable=False),
    Column("position", Integer, nullable=False),
    Column("question", Text, nullable=False),
    Column("item_group", Text),
    Column("fields", Text, nullable=False),
)

judge_cache = Table(
    "judge_cache",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("judge_model", Text, nullable=False),
    Column("rubric_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("result", Text),
    Column("reason", Text),
    Column("raw", Text),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("created_at", String(40), nullable=False),
)
