"""lem experiment run: the whole loop on the demo model offline, stage skipping by input
hash, a changed setting rerunning its stage and those after it, bad experiment files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from lem.errors import InputError
from lem.experiment import load_experiment
from lem.responses import read_run
from lem.store import Store

pytest.importorskip("peft")


def _spec(tmp_path: Path, iters: int = 6) -> dict[str, Any]:
    return {
        "name": "demo-loop",
        "model": "demo",
        "out": str(tmp_path / "exp"),
        "eval": {
            "limit": 5,
            "conditions": ["baseline", "json=system:lek"],
            "max_tokens": 24,
            "batch_size": 8,
            "scorers": ["lek-v2"],
        },
        "stages": [
            {
                "name": "ethics",
                "distill": {
                    "limit": 8,
                    "samples": 2,
                    "max_tokens": 24,
                    "batch_size": 8,
                    "keep_truncated": True,
                    "contamination": "lexical",
                    "valid_fraction": 0.2,
                    "test_fraction": 0.0,
                },
                "train": {
                    "iters": iters,
                    "learning_rate": 5e-3,
                    "batch_size": 2,
                    "save_every": iters,
                },
            },
            {
                "name": "again",
                "data": "@ethics",
                "train": {"iters": 4, "learning_rate": 5e-3, "batch_size": 2, "save_every": 4},
            },
        ],
        "report": {"scorers": ["lek-v2"]},
    }


def _write(tmp_path: Path, spec: dict[str, Any]) -> Path:
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lem.cli.main", *args], capture_output=True, text=True, timeout=900
    )


def _answers(db: str, run_id: str) -> dict[tuple[str, str], str]:
    store = Store(db, create=False)
    try:
        return {(r.probe_id, r.condition): r.answer for r in read_run(store, run_id, [])}
    finally:
        store.close()


def test_the_whole_loop_on_the_demo_model(tmp_path: Path) -> None:
    path = _write(tmp_path, _spec(tmp_path))
    res = _cli("experiment", "run", str(path), "--quiet")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "9 stage(s) run, 0 skipped" in res.stdout
    exp = load_experiment(path)
    store = Store(exp.store, create=False)
    recs = {r["stage"]: r for r in store.experiment_records("demo-loop")}
    store.close()
    assert set(recs) == {
        "base/ab",
        "ethics/distill",
        "ethics/train",
        "ethics/fuse",
        "ethics/ab",
        "again/train",
        "again/fuse",
        "again/ab",
        "report",
    }
    assert all(r["status"] == "done" for r in recs.values())
    base = _answers(exp.store, recs["base/ab"]["outputs"]["run_id"])
    tuned = _answers(exp.store, recs["ethics/ab"]["outputs"]["run_id"])
    assert base.keys() == tuned.keys() and len(base) == 10
    assert sum(base[k] != tuned[k] for k in base) >= 3  # the tuned model answers differently
    report = (tmp_path / "exp" / "report" / "report.md").read_text()
    assert "base" in report and "ethics" in report
    dataset = Path(recs["ethics/distill"]["outputs"]["path"])
    assert (dataset / "train.jsonl").is_file()
    # unchanged: every stage is skipped
    again = _cli("experiment", "run", str(path), "--quiet")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "0 stage(s) run, 9 skipped" in again.stdout
    # the second stage starts from the first stage's model
    assert recs["again/train"]["outputs"]["steps"] == 4
    second = _answers(exp.store, recs["again/ab"]["outputs"]["run_id"])
    assert sum(second[k] != tuned[k] for k in base) >= 1
    # a changed training setting reruns train and what follows, not the base or the data
    path = _write(tmp_path, _spec(tmp_path, iters=8))
    third = _cli("experiment", "run", str(path), "--quiet")
    assert third.returncode == 0, third.stderr[-2000:]
    assert "7 stage(s) run, 2 skipped" in third.stdout
    assert "base/ab: unchanged" in third.stderr and "ethics/distill: unchanged" in third.stderr
    status = _cli("experiment", "status", str(path))
    assert status.returncode == 0 and "ethics/train" in status.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stages": []}, "stages: List should have at least 1 item"),
        ({"eval": {"model": "x"}}, "eval.model is set by the experiment"),
        ({"eval": {"limitt": 3}}, "eval.limitt: Extra inputs are not permitted"),
        ({"stages": [{"name": "a", "train": {}}]}, "stages.0 needs exactly one of distill or data"),
        (
            {"stages": [{"name": "a", "distill": {"keep": "threshold"}}]},
            "stages.0.distill: --keep threshold needs --min-score",
        ),
        (
            {"stages": [{"name": "a", "data": "x", "train": {"rankk": 2}}]},
            "stages.0.train.rankk: Extra inputs are not permitted",
        ),
        (
            {"stages": [{"name": "a", "data": "d"}, {"name": "b", "data": "@c"}]},
            "stages.1.data @c names no earlier stage's dataset (earlier: @a)",
        ),
    ],
)
def test_a_bad_experiment_file_is_one_line(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    spec = {**_spec(tmp_path), **change}
    path = _write(tmp_path, spec)
    with pytest.raises(InputError) as err:
        load_experiment(path)
    assert message in str(err.value)
    res = _cli("experiment", "run", str(path))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
