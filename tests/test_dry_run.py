"""``--dry-run`` on the generating commands: the plan and what the store already has,
with nothing written (not even a new store)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lem.api import plan_run, run_ab
from lem.config import ABConfig
from lem.store import Store

DATA = Path(__file__).parent / "data" / "bench"


def _lem(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lem.cli.main", *args], capture_output=True, text=True, timeout=300
    )


def test_plan_counts_what_exists_and_writes_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "d.db")
    cfg = ABConfig(db=db, limit=3, max_tokens=4, conditions=["baseline", "system:lek"])
    before = plan_run(cfg)
    assert (before.planned, before.done, before.pending, before.run_exists) == (6, 0, 6, False)
    assert not Path(db).exists()
    done = run_ab(cfg.merged({"limit": 2}))
    after = plan_run(cfg)
    assert after.run_id == before.run_id != done.run_id
    assert (after.planned, after.done, after.pending, after.run_exists) == (6, 4, 2, False)
    assert after.by_condition == {
        "baseline": {"planned": 3, "done": 2},
        "system:lek": {"planned": 3, "done": 2},
    }
    store = Store(db, create=False)
    runs = [r["run_id"] for r in store.list_runs()]
    store.close()
    assert runs == [done.run_id]


def test_cli_dry_runs(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    res = _lem("ab", "--db", db, "--limit", "2", "--max-tokens", "4", "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "(new): 6 items; 0 already done, 0 failed, 6 to generate" in res.stdout
    res = _lem(
        "bench", "run", "-i", str(DATA / "gsm8k.jsonl"), "--limit", "5", "--db", db, "--dry-run"
    )
    assert res.returncode == 0, res.stderr
    assert "5 items; 0 already done" in res.stdout and "baseline: 5 items, 0 done" in res.stdout
    res = _lem("distill", "--db", db, "--limit", "3", "--samples", "2", "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "6 items; 0 already done" in res.stdout
    assert not Path(db).exists()
