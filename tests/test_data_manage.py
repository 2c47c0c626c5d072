"""``lem data consolidate`` and ``lem data approve``: stores merged item by item (shared
items once, unfinished copies completed, finished answers never replaced) and answers at
or above a threshold on the scorer's own scale turned into a training set with lineage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lem.api import run_ab
from lem.config import ABConfig
from lem.distill.approve import approve
from lem.errors import InputError
from lem.responses import read_run
from lem.store import Store
from lem.store.consolidate import consolidate
from lem.store.schema import items, runs, scores

AB = {"model": "demo", "max_tokens": 8, "conditions": ["baseline", "system:lek"]}


class _Stop(KeyboardInterrupt):
    pass


def _count(db: str, table: Any, *where: Any) -> int:
    store = Store(db, create=False)
    try:
        with store.engine.connect() as conn:
            q = select(func.count()).select_from(table)
            for w in where:
                q = q.where(w)
            return int(conn.execute(q).scalar_one())
    finally:
        store.close()


def test_consolidate_merges_items_once(tmp_path: Path) -> None:
    a, b, c = (str(tmp_path / f"{x}.db") for x in "abc")
    run_ab(ABConfig(db=a, limit=3, **AB))  # probes 1-3 answered in A
    run_ab(ABConfig(db=b, limit=5, **AB))  # probes 1-5 in B: 1-3 are the same items

    def stop(event: str, _d: dict[str, Any]) -> None:
        if event == "start":
            raise _Stop

    with pytest.raises(_Stop):  # C has probes 1-6 planned, nothing answered
        run_ab(ABConfig(db=c, limit=6, **AB), progress=stop)
    counts = consolidate([a, b], c)
    assert counts["items"]["copied"] == 0  # C already planned all 12 items
    assert counts["items"]["completed"] == 10  # probes 1-5 answered by A or B
    assert counts["runs"]["copied"] == 2
    assert _count(c, items) == 12
    assert _count(c, items, items.c.status == "done") == 10
    assert _count(c, runs) == 3
    assert _count(c, scores) == 10  # A's 6 and B's 10 scores share 6 items
    store_b, store_c = Store(b, create=False), Store(c, create=False)
    run_b = store_b.list_runs()[0]["run_id"]
    ans_b = {r.item_key: r.answer for r in read_run(store_b, run_b)}
    ans_c = {r.item_key: r.answer for r in read_run(store_c, run_b)}
    store_b.close()
    store_c.close()
    assert ans_b == ans_c
    again = consolidate([a, b], c)
    assert again["items"]["completed"] == 0 and again["scores"]["copied"] == 0


def test_approve_threshold_on_the_scorers_scale(tmp_path: Path) -> None:
    db = str(tmp_path / "ap.db")
    out = run_ab(ABConfig(db=db, limit=10, **AB))
    store = Store(db, create=False)
    values = [
        r.scores["lek-v2"].value
        for r in read_run(store, out.run_id, ["lek-v2"])
        if r.condition == "baseline"
    ]
    store.close()
    cut = sorted(v for v in values if v is not None)[len(values) // 2]
    res = approve(
        db,
        [out.run_id],
        scorer="lek-v2",
        min_score=cut,
        out=tmp_path / "ds",
        conditions=["baseline"],
        near_duplicate=1.0,
        keep_truncated=True,
    )
    kept = [r.score("lek-v2").value for r in res.selection.kept]  # type: ignore[union-attr]
    assert kept and min(kept) >= cut  # type: ignore[type-var]
    assert res.selection.rejected["below_threshold"] == sum(1 for v in values if v < cut)
    rows = [
        json.loads(x)
        for s in ("train", "valid", "test")
        for x in (tmp_path / "ds" / f"{s}.jsonl").read_text().splitlines()
    ]
    lineage = [json.loads(x) for x in (tmp_path / "ds" / "lineage.jsonl").read_text().splitlines()]
    assert len(rows) == len(lineage) == len(kept)
    assert all("axiom" not in r["messages"][0]["content"].lower() for r in rows)
    assert {ln["condition"] for ln in lineage} == {"baseline"}
    assert all(ln["score"] >= cut and ln["run_id"] == out.run_id for ln in lineage)
    with pytest.raises(InputError, match="outside lek-v2's range"):
        approve(db, [out.run_id], scorer="lek-v2", min_score=60, out=tmp_path / "x")
    with pytest.raises(InputError, match="outside judge:semantic@m's range"):
        approve(db, [out.run_id], scorer="judge:semantic@m", min_score=24, out=tmp_path / "y")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_cli(tmp_path: Path) -> None:
    a, c = str(tmp_path / "a.db"), str(tmp_path / "c.db")
    run_ab(ABConfig(db=a, limit=2, **AB))
    res = subprocess.run(
        [sys.executable, "-m", "lem.cli.main", "data", "consolidate", "--from", a, "--into", c],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "items: 4 copied, 0 already there, 0 completed" in res.stdout
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "lem.cli.main",
            "data",
            "approve",
            "--db",
            c,
            "--scorer",
            "lek-v2",
            "--min-score",
            "60",
            "--out",
            str(tmp_path / "ds"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and "outside lek-v2's range" in res.stderr


def test_consolidate_an_ab_file_as_a_run(tmp_path: Path) -> None:
    """An A/B JSONL file becomes a run of its own with its answers and scores; merging it
    again changes nothing; the report reads the same numbers from the store."""
    from lem.formats.ab_jsonl import read_ab_jsonl
    from lem.responses import read_file_responses

    src = Path(__file__).parent / "data" / "ab_example.jsonl"
    db = str(tmp_path / "ab.db")
    ab = read_ab_jsonl(src)
    n = sum(len(p.conditions) for p in ab.probes)
    counts = consolidate([str(src)], db)
    assert (counts["runs"]["copied"], counts["items"]["copied"]) == (1, n)
    assert counts["items"]["completed"] == n
    again = consolidate([str(src)], db)
    assert (again["runs"]["skipped"], again["items"]["copied"], again["scores"]["copied"]) == (
        1,
        0,
        0,
    )
    store = Store(db, create=False)
    (run,) = store.list_runs()
    stored = {(r.probe_id, r.condition): r for r in read_run(store, run["run_id"])}
    store.close()
    from_file = {(r.probe_id, r.condition): r for r in read_file_responses(src)}
    assert stored.keys() == from_file.keys()
    for key, r in from_file.items():
        assert stored[key].answer == r.answer
        assert stored[key].scores["lek-v2"].value == r.scores["lek-v2"].value
    assert run["manifest"]["model_spec"] == f"ab-file:{ab.summary.model}"
