"""Resume after SIGKILL: every item exactly once, at most the in-flight ones redone."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lem.store import Store
from lem.store.schema import items, run_items, scores
from tests.fake_openai_server import FakeOpenAIServer

N_PROBES = 12
CONDITIONS = "baseline,system:lek"


def _cmd(url: str, db: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "lem.cli.main",
        "ab",
        "--model",
        f"openai:{url}#fake-model",
        "--limit",
        str(N_PROBES),
        "--condition",
        CONDITIONS,
        "--concurrency",
        "1",
        "--db",
        db,
        "--quiet",
        "--max-retries",
        "0",
    ]


def _done(store: Store) -> int:
    with store.engine.connect() as conn:
        q = select(func.count()).select_from(items).where(items.c.status == "done")
        return int(conn.execute(q).scalar_one())


def _kill_midway_then_resume(db: str, tmp_path: Path) -> None:
    planned = N_PROBES * 2
    env = {**os.environ, "OPENAI_API_KEY": ""}
    with FakeOpenAIServer(latency_s=0.08) as srv:
        proc = subprocess.Popen(
            _cmd(srv.url, db), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        store = None
        deadline = time.time() + 60
        while time.time() < deadline:
            time.sleep(0.05)
            if proc.poll() is not None:
                pytest.fail(f"run ended before the kill: {proc.stderr.read().decode()[-500:]}")
            try:
                store = store or Store(db)
                if _done(store) >= 5:
                    break
            except Exception:
                continue
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert store is not None
        done_at_kill = _done(store)
        requests_at_kill = len(srv.chat_requests)
        assert 5 <= done_at_kill < planned
        res = subprocess.run(_cmd(srv.url, db), env=env, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr[-2000:]
        assert "resumed" in res.stderr
        total_requests = len(srv.chat_requests)
    with store.engine.connect() as conn:
        n_items = conn.execute(select(func.count()).select_from(items)).scalar_one()
        n_links = conn.execute(select(func.count()).select_from(run_items)).scalar_one()
        n_scores = conn.execute(select(func.count()).select_from(scores)).scalar_one()
        statuses = set(conn.execute(select(items.c.status)).scalars())
    assert n_items == n_links == n_scores == planned
    assert statuses == {"done"}
    # Requests: everything once, plus at most the one that was in flight at the kill.
    redone = total_requests - planned
    assert 0 <= redone <= 1, (total_requests, requests_at_kill, done_at_kill)
    store.close()


def test_sigkill_resume_sqlite(tmp_path: Path) -> None:
    _kill_midway_then_resume(str(tmp_path / "runs.db"), tmp_path)


@pytest.mark.postgres
def test_sigkill_resume_postgres(pg_db: str, tmp_path: Path) -> None:
    _kill_midway_then_resume(pg_db, tmp_path)


def _two_workers_share_one_run(db: str) -> None:
    planned = N_PROBES * 2
    env = {**os.environ, "OPENAI_API_KEY": ""}
    with FakeOpenAIServer(latency_s=0.1) as srv:
        procs = [
            subprocess.Popen(
                _cmd(srv.url, db),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        errs = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], errs
        made = [int(re.search(r"(\d+)\s+generated", " ".join(e.split())).group(1)) for e in errs]
        assert sum(made) == planned and min(made) > 0, made
        n_requests = len(srv.chat_requests)
        res = subprocess.run(_cmd(srv.url, db), env=env, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        n_requests_after = len(srv.chat_requests)
    assert n_requests == planned  # no item generated twice
    assert n_requests_after == planned  # and nothing left over
    store = Store(db)
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(items)).scalar_one() == planned
        statuses = set(conn.execute(select(items.c.status)).scalars())
    assert statuses == {"done"}
    store.close()


def test_two_workers_sqlite(tmp_path: Path) -> None:
    _two_workers_share_one_run(str(tmp_path / "runs.db"))


@pytest.mark.postgres
def test_two_workers_postgres(pg_db: str) -> None:
    _two_workers_share_one_run(pg_db)


class _Clock:
    """A stand-in for the store's ``time`` module: a clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _three_items(store: Store) -> None:
    from lem.store import ItemPlan

    plan = [
        ItemPlan(
            key=f"k{i}",
            model_key="m",
            messages="[]",
            rendered_hash="h",
            system_fallback=False,
            sampling="{}",
            sample_index=0,
            seed=0,
            position=i,
            probe_id=f"p{i}",
            category="c",
            prompt="q",
            condition="baseline",
        )
        for i in range(3)
    ]
    store.open_run("r", name=None, config={}, manifest={})
    store.add_plan("r", plan)


def test_lease_heartbeat_keeps_long_claims_from_other_hosts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leases held by the heartbeat outlive their length; the others lapse. The clock is
    moved by hand, so the test means the same on a loaded machine."""
    from lem.runner import LeaseHeartbeat

    clock = _Clock(1_000.0)
    store = Store(str(tmp_path / "l.db"), clock=clock.time)
    _three_items(store)
    me, other = "thishost-x:1:a", "elsewhere:1:b"
    assert store.claim(["k0", "k1", "k2"], me, lease_s=0.4) == ["k0", "k1", "k2"]
    beat = LeaseHeartbeat(store, me, lease_s=0.4)
    beat.hold(["k0", "k1"])
    for _ in range(4):  # 1.2 s of lease/3 beats
        clock.now += 0.3
        beat.beat()
    assert beat.renewals == 4
    assert store.claim(["k0", "k1", "k2"], other, lease_s=0.4) == ["k2"]  # k2 was not held
    beat.hold([])
    clock.now += 0.3
    assert store.claim(["k0", "k1"], other, lease_s=0.4) == []  # still inside the last lease
    clock.now += 0.2
    assert store.claim(["k0", "k1"], other, lease_s=0.4) == ["k0", "k1"]  # leases lapsed
    store.close()


def test_lease_heartbeat_thread_beats_until_stopped(tmp_path: Path) -> None:
    from lem.runner import LeaseHeartbeat

    store = Store(str(tmp_path / "l.db"))
    _three_items(store)
    me = "thishost-x:1:a"
    assert store.claim(["k0"], me, lease_s=0.03) == ["k0"]
    beat = LeaseHeartbeat(store, me, lease_s=0.03)
    beat.hold(["k0"])
    beat.start()
    for _ in range(2_000):  # bounded wait for the first beats, whatever the load
        if beat.renewals >= 2:
            break
        time.sleep(0.01)
    beat.stop()
    assert beat.renewals >= 2
    stopped_at = beat.renewals
    time.sleep(0.1)
    assert beat.renewals == stopped_at
    store.close()


def test_sigkill_mid_batch_resumes_the_hf_backend(tmp_path: Path, demo_model_dir: Path) -> None:
    """The batched in-process backend killed while a batch is generating: the resumed run
    finishes every item exactly once and regenerates at most that one batch."""
    db = str(tmp_path / "hf.db")
    batch = 4
    cmd = [
        sys.executable,
        "-m",
        "lem.cli.main",
        "ab",
        "--model",
        str(demo_model_dir),
        "--limit",
        "12",
        "--condition",
        CONDITIONS,
        "--batch-size",
        str(batch),
        "--max-tokens",
        "48",
        "--db",
        db,
        "--quiet",
    ]
    planned = 24
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    store: Store | None = None
    for _ in range(12_000):
        if proc.poll() is not None:
            pytest.fail(f"run ended before the kill: {proc.stderr.read().decode()[-500:]}")
        try:
            store = store or Store(db, create=False)
            if _done(store) >= batch:
                break
        except Exception:
            pass
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert store is not None
    done_at_kill = _done(store)
    assert batch <= done_at_kill < planned
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "resumed" in res.stderr
    with store.engine.connect() as conn:
        rows = conn.execute(select(items.c.status, items.c.attempts)).all()
        n_scores = conn.execute(select(func.count()).select_from(scores)).scalar_one()
    assert len(rows) == planned == n_scores
    assert {status for status, _ in rows} == {"done"}
    redone = sum(attempts for _, attempts in rows) - planned
    assert 0 <= redone <= batch, redone
    store.close()
