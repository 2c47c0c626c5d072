"""Schema migrations: a store written by lem 0.1.0 (committed fixtures, made by that
release) opens, upgrades and resumes under this lem, on SQLite and PostgreSQL; a new store
is built by the migrations alone and matches the tables the code uses; a store from a newer
lem is refused with one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, select, text

from lem.api import export_ab_jsonl, run_ab
from lem.config import ABConfig
from lem.errors import StoreError
from lem.store import Store
from lem.store.migrations import head_revision
from lem.store.schema import items, meta, metadata, run_items, runs, scores

STORES = Path(__file__).parent / "data" / "stores"
DEMO_RUN = {"limit": 2, "conditions": ["baseline", "system:lek"], "max_tokens": 8}
"""The command the 0.1.0 fixture's demo run was made with (see tests/data/stores/README)."""


def _counts(store: Store) -> tuple[int, int, int, int]:
    with store.engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            len(conn.execute(select(t)).all()) for t in (runs, items, run_items, scores)
        )


def _check_upgraded_and_resumes(db: str, out_dir: Path) -> None:
    store = Store(db)
    with store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
        assert conn.execute(select(meta.c.value)).scalar_one() == "2"
    assert _counts(store) == (2, 8, 8, 8)  # nothing lost
    demo = next(r for r in store.list_runs() if r["manifest"]["model_spec"] == "demo")
    assert "path" not in demo["manifest"]["model"]
    assert demo["manifest"]["model_location"]["path"].endswith("demo-model")
    store.close()
    out = run_ab(ABConfig(model="demo", db=db, **DEMO_RUN))
    assert (out.resumed, out.generated, out.new_items, out.run_id) == (
        True,
        0,
        0,
        demo["run_id"],
    )
    served_id = next(r["run_id"] for r in Store(db).list_runs() if r["name"] == "served")
    served = export_ab_jsonl(db, out_dir / "served.jsonl", served_id)
    assert [p.id for p in served.probes] == [
        "P001_SURVEILLANCE_CAFE_CAMERA",
        "P002_SURVEILLANCE_DIASPORA_COUSIN",
    ]
    assert all(len(p.conditions) == 2 for p in served.probes)


def test_a_0_1_0_sqlite_store_upgrades_and_resumes(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copy(STORES / "lem-0.1.0.sqlite", db)
    _check_upgraded_and_resumes(str(db), tmp_path)


@pytest.mark.postgres
def test_a_0_1_0_postgres_store_upgrades_and_resumes(pg_db: str, tmp_path: Path) -> None:
    dump = (STORES / "lem-0.1.0-postgres.sql").read_text()
    statements = "\n".join(line for line in dump.splitlines() if not line.startswith("\\"))
    engine = create_engine(pg_db)
    with engine.begin() as conn:
        conn.exec_driver_sql(statements)
    engine.dispose()
    _check_upgraded_and_resumes(pg_db, tmp_path)


def _new_store_matches_the_code(db: str) -> None:
    store = Store(db)
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        assert ctx.get_current_revision() == head_revision()
        diff = compare_metadata(ctx, metadata)
    assert diff == []
    store.close()


def test_a_new_sqlite_store_is_built_by_the_migrations(tmp_path: Path) -> None:
    _new_store_matches_the_code(str(tmp_path / "new.db"))


@pytest.mark.postgres
def test_a_new_postgres_store_is_built_by_the_migrations(pg_db: str) -> None:
    _new_store_matches_the_code(pg_db)


def test_a_store_from_a_newer_lem_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    Store(str(db)).close()
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    before = db.read_bytes()
    with pytest.raises(StoreError) as err:
        Store(str(db))
    assert str(err.value) == (
        f"--db sqlite:///{db} was written by a newer lem (schema revision 0099); upgrade lem"
    )
    assert db.read_bytes() == before


def test_the_fixture_is_what_0_1_0_wrote() -> None:
    """Guards the fixtures themselves: schema 1, no migration table, the two runs."""
    import sqlite3

    conn = sqlite3.connect(f"file:{STORES / 'lem-0.1.0.sqlite'}?mode=ro", uri=True)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "alembic_version" not in tables and "lem_meta" in tables
    assert conn.execute("SELECT value FROM lem_meta").fetchall() == [("1",)]
    manifests = [json.loads(m) for (m,) in conn.execute("SELECT manifest FROM runs")]
    assert sorted(m["model"]["backend"] for m in manifests) == ["hf", "openai"]
    assert all("path" in m["model"] for m in manifests if m["model"]["backend"] == "hf")
    conn.close()
