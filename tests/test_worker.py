"""``lem worker``: takes up runs it did not start from the store alone (A/B and
benchmark runs, scorer fields included), finishes them with the same answers as an
uninterrupted run, and two workers on one store do every item exactly once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lem.api import run_ab
from lem.bench.config import BenchConfig
from lem.bench.run import run_bench
from lem.config import ABConfig
from lem.responses import read_run
from lem.store import Store
from lem.store.schema import items
from lem.worker import work

DATA = Path(__file__).parent / "data" / "bench"
AB = {"model": "demo", "limit": 4, "conditions": ["baseline", "system:lek"], "max_tokens": 8}


class _Stop(KeyboardInterrupt):
    pass


def _interrupt_after(n: int) -> Any:
    seen = {"results": 0}

    def hook(event: str, _data: dict[str, Any]) -> None:
        if event == "result":
            seen["results"] += 1
            if seen["results"] >= n:
                raise _Stop
        if event == "start" and n == 0:
            raise _Stop

    return hook


def _answers(db: str, run_id: str) -> dict[tuple[str, str], str]:
    store = Store(db, create=False)
    try:
        return {(r.probe_id, r.condition): r.answer for r in read_run(store, run_id)}
    finally:
        store.close()


def test_worker_finishes_an_interrupted_run_with_the_same_answers(tmp_path: Path) -> None:
    db = str(tmp_path / "w.db")
    with pytest.raises(_Stop):
        run_ab(ABConfig(db=db, batch_size=2, **AB), progress=_interrupt_after(3))
    store = Store(db)
    (run,) = store.list_runs()
    left = store.unfinished_counts()[run["run_id"]]
    store.close()
    assert 0 < left < 8
    out = work(db, until_empty=True)
    assert out.generated == left and not out.skipped
    ref_db = str(tmp_path / "ref.db")
    ref = run_ab(ABConfig(db=ref_db, batch_size=2, **AB))
    assert ref.run_id == run["run_id"]
    assert _answers(db, run["run_id"]) == _answers(ref_db, ref.run_id)
    store = Store(db)
    assert store.unfinished_counts() == {}
    scored = [r for r in read_run(store, run["run_id"]) if r.scores.get("lek-v2")]
    store.close()
    assert len(scored) == 8
    again = work(db, until_empty=True)
    assert again.generated == 0 and again.runs == []


def test_worker_scores_benchmark_items_with_their_fields(tmp_path: Path) -> None:
    db = str(tmp_path / "b.db")
    cfg = BenchConfig(
        benchmark="gsm8k", items=str(DATA / "gsm8k.jsonl"), limit=4, db=db, max_tokens=8
    )
    with pytest.raises(_Stop):
        run_bench(cfg, progress=_interrupt_after(0))
    out = work(db, until_empty=True)
    assert out.generated == 4
    store = Store(db, create=False)
    (run,) = store.list_runs()
    rows = list(read_run(store, run["run_id"], ["gsm8k"]))
    store.close()
    assert len(rows) == 4
    assert all(r.scores["gsm8k"].ok for r in rows), [r.scores["gsm8k"].reason for r in rows]


def test_worker_skips_runs_of_other_models(tmp_path: Path) -> None:
    db = str(tmp_path / "m.db")
    with pytest.raises(_Stop):
        run_ab(ABConfig(db=db, **AB), progress=_interrupt_after(0))
    assert work(db, models=["hf:/elsewhere"], until_empty=True).runs == []
    store = Store(db, create=False)
    assert sum(store.unfinished_counts().values()) == 8
    store.close()


def test_two_workers_do_every_item_exactly_once(tmp_path: Path) -> None:
    db = str(tmp_path / "two.db")
    cfg = dict(AB, limit=8)
    with pytest.raises(_Stop):
        run_ab(ABConfig(db=db, batch_size=2, **cfg), progress=_interrupt_after(0))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "lem.cli.main", "worker", "--db", db, "--until-empty", "-q"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    store = Store(db, create=False)
    with store.engine.connect() as conn:
        rows = conn.execute(select(items.c.status, items.c.attempts, items.c.worker)).all()
    store.close()
    assert len(rows) == 16
    assert {r.status for r in rows} == {"done"}
    assert {r.attempts for r in rows} == {1}
    generated = sum(int(o.split("worker done: ")[1].split()[0]) for o, _ in outs)
    assert generated == 16


@pytest.mark.postgres
def test_worker_runs_under_the_documented_postgres_role(pg_db: str) -> None:
    """The role recipe shipped with lem is enough for a worker, and no more: it finishes
    a run but cannot create a table or a run."""
    from importlib import resources

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ProgrammingError

    with pytest.raises(_Stop):
        run_ab(ABConfig(db=pg_db, **AB), progress=_interrupt_after(0))
    recipe = (resources.files("lem") / "data" / "postgres" / "worker-role.sql").read_text()
    role = f"lem_worker_{pg_db.rsplit('/', 1)[1]}"
    recipe = recipe.replace("lem_worker", role)
    owner = create_engine(pg_db, isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        sql = "\n".join(x for x in recipe.splitlines() if not x.startswith("--"))
        for statement in sql.split(";"):
            if statement.strip():
                conn.execute(text(statement))
    owner.dispose()
    scheme, rest = pg_db.split("://", 1)
    worker_url = f"{scheme}://{role}:change-me@{rest.split('@', 1)[1]}"
    out = work(worker_url, until_empty=True)
    assert out.generated == 8 and not out.skipped
    engine = create_engine(worker_url)
    with engine.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(text("CREATE TABLE intruder (x int)"))
    with engine.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(
            text(
                "INSERT INTO runs (run_id, status, created_at, config, manifest) "
                "VALUES ('x', 'running', 'now', '{}', '{}')"
            )
        )
    engine.dispose()
    store = Store(pg_db, create=False)
    assert store.unfinished_counts() == {}
    store.close()
