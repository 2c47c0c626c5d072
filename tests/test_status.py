"""``lem status``: counts per run, condition and domain; each worker's finished items,
rate and claims; run ETAs from recent completions; training progress from metrics.jsonl;
the same data as JSON from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from lem.status import store_status, train_status
from lem.store import Store
from lem.store.ledger import ItemPlan
from lem.store.schema import items

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def _store(db: str) -> list[str]:
    store = Store(db)
    store.open_run("run-a", name="demo-run", config={}, manifest={"model_spec": "hf:/m"})
    plan = [
        ItemPlan(
            key=f"k{i}",
            model_key="m",
            messages="[]",
            rendered_hash=f"h{i}",
            system_fallback=False,
            sampling="{}",
            sample_index=0,
            seed=i,
            position=i,
            probe_id=f"p{i}",
            category="d1" if i < 5 else "d2",
            prompt="x",
            condition="c1" if i % 2 == 0 else "c2",
        )
        for i in range(10)
    ]
    store.add_plan("run-a", plan)
    a, b = "hostA:11:aaaa", "hostB:22:bbbb"
    assert store.claim([f"k{i}" for i in range(6)], a, 3600) == [f"k{i}" for i in range(6)]
    assert store.claim(["k6", "k7"], b, 3600) == ["k6", "k7"]
    when = {"k0": 0, "k1": 60, "k2": 120, "k3": 180, "k4": 200, "k6": 30, "k7": 90}
    for key in ("k0", "k1", "k2", "k3", "k6", "k7"):
        assert store.record(key, a if key < "k6" else b, {"answer": "ok"}, ok=True)
    assert store.record("k4", a, {"error": "boom"}, ok=False)
    with store.engine.begin() as conn:
        for key, dt in when.items():
            conn.execute(update(items).where(items.c.key == key).values(completed_at=_iso(T0 + dt)))
    store.close()
    return [a, b]


def test_counts_rates_and_eta(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    a, b = _store(db)
    st = store_status(db, now=T0 + 240, window_s=600)
    (run,) = st.runs
    c = run.counts
    assert (c.total, c.done, c.failed, c.claimed, c.pending, c.remaining) == (10, 6, 1, 1, 2, 4)
    assert {k: (v.done, v.remaining) for k, v in run.by_condition.items()} == {
        "c1": (3, 2),  # k0 k2 k6 done; k4 failed, k8 pending
        "c2": (3, 2),  # k1 k3 k7 done; k5 claimed, k9 pending
    }
    assert {k: (v.done, v.failed) for k, v in run.by_domain.items()} == {"d1": (4, 1), "d2": (2, 0)}
    assert run.rate_per_min == pytest.approx(6 / 240 * 60)
    assert run.eta_s == pytest.approx(4 / 1.5 * 60)
    workers = {w.worker: w for w in st.workers}
    assert (workers[a].done, workers[a].failed, workers[a].claimed_now) == (4, 1, 1)
    assert workers[a].rate_per_min == pytest.approx(5 / 200 * 60)
    assert (workers[b].done, workers[b].claimed_now, workers[b].host) == (2, 0, "hostB")
    assert workers[b].rate_per_min == pytest.approx(2 / 60 * 60)
    assert workers[a].last_seen == _iso(T0 + 200)
    late = store_status(db, now=T0 + 240 + 3600, window_s=600)
    assert late.runs[0].rate_per_min == 0.0 and late.runs[0].eta_s is None


def test_training_progress(tmp_path: Path) -> None:
    out = tmp_path / "train"
    out.mkdir()
    lines = [
        {"step": 10, "total_steps": 50, "loss": 2.5, "elapsed_s": 20.0, "tokens_per_s": 100.0},
        {"step": 20, "total_steps": 50, "loss": 2.1, "elapsed_s": 40.0, "val_loss": 2.3},
        {"step": 30, "total_steps": 50, "loss": 1.9, "elapsed_s": 60.0, "tokens_per_s": 110.0},
    ]
    (out / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    t = train_status(out)
    assert t is not None
    assert (t.step, t.total_steps, t.loss, t.val_loss, t.eta_s, t.finished) == (
        30,
        50,
        1.9,
        2.3,
        40.0,
        False,
    )
    (out / "adapter").mkdir()
    done = train_status(out)
    assert done is not None and done.finished and done.eta_s is None
    assert train_status(tmp_path / "none") is None


def test_html_page(tmp_path: Path) -> None:
    from lem.status import render_html

    db = str(tmp_path / "s.db")
    a, b = _store(db)
    page = render_html(store_status(db, now=T0 + 240, window_s=600))
    assert "<code>run-a</code> demo-run" in page
    assert '<td class="n">6/10</td>' in page and "2m40s" in page  # ETA 160 s
    assert f"<code>{a}</code>" in page and f"<code>{b}</code>" in page
    assert 'style="width: 60.0%"' in page


def test_cli_json_and_table(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    _store(db)
    res = subprocess.run(
        [sys.executable, "-m", "lem.cli.main", "status", "--db", db, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["runs"][0]["run_id"] == "run-a" and data["runs"][0]["remaining"] == 4
    assert sorted(w["worker"] for w in data["workers"]) == ["hostA:11:aaaa", "hostB:22:bbbb"]
    table = subprocess.run(
        [sys.executable, "-m", "lem.cli.main", "status", "--db", db],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"},
    )
    assert table.returncode == 0, table.stderr
    assert "6/10" in table.stdout and "hostB:22:bbbb" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 80
    missing = subprocess.run(
        [sys.executable, "-m", "lem.cli.main", "status", "--db", str(tmp_path / "no.db")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and not (tmp_path / "no.db").exists()
