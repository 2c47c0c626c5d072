"""Work-ledger throughput with many workers: claims/s and items/s, SQLite and PostgreSQL.

Three measurements per backend (``--backend sqlite``, ``postgres`` or ``both``):

1. **Raw ledger.** ``--items`` synthetic items planned in one run; ``--workers`` processes
   (multiprocessing, spawn; each opens its own :class:`~lem.store.Store`) released together
   by a barrier once they have started. Each reads ``unfinished(run_id)`` once and walks
   the keys not visibly claimed in that order, ``--batch`` at a time, as the runner does
   (reading again when its list is used up), until nothing is left. ``--record batch`` is
   the runner's way: claim the next ``--batch`` keys; once a claim wins fewer than it
   offered (another worker is on the run), offer the next ``CLAIM_WINDOW`` batches of the
   queue to ``claim`` with ``limit=--batch`` (the first free batch in it is claimed,
   passing over other workers' claims in one call); record the won keys in one
   transaction (``record_many``). ``--record each`` is the straightforward way (and the
   runner's before): claim the next ``--batch`` keys, record each won key in its own
   transaction. Reports wall time, claims won/s, claim calls/s, conflicts (keys tried
   but not won), items/s, where the workers' time went (scan, claim, record) and checks
   every item is done exactly once (done == N, every ``attempts`` == 1, keys won and
   records accepted both == N).
2. **End to end.** A run of ``--limit`` bundled probes × 2 conditions × ``--samples`` is
   planned against an instant fake OpenAI server (``tests/fake_openai_server.py``) by
   ``run_ab`` stopped at its "start" event, then ``--workers`` ``lem worker --until-empty``
   processes do it: generation requests, lek-v2 scoring, recording. Checks the server saw
   exactly one chat request per item and every item is done and scored once.
3. **Baselines.** The same planned run done by ONE ``lem ab`` process (what a user runs
   without workers; it resumes the planned run), and by one ``lem worker``.

Wall times start when the processes are spawned (interpreter and import start-up
included) for 2 and 3, and at the barrier for 1. "steady" rates divide the items by the
span between the first and last ``completed_at`` in the store (start-up left out).

CPU per item, to see where time goes on a shared machine: the workers' CPU (part 1: what
each process spent after the barrier, and in brackets without its ``unfinished`` scans;
parts 2-3: the whole ``lem`` processes, start-up included), the PostgreSQL server's (its
processes, from ``/proc``) and this process's (the fake server's threads). "rest of
machine" is the share of all cores busy with anything else during the phase (other jobs).
PostgreSQL is a throwaway local server (``tests/pg.py``: fsync off, loopback), a fresh
database per measurement. ``--parts ledger1`` adds part 1 with a single process.

    python benchmarks/bench_ledger.py [--backend both] [--items 4000] [--workers 8]
        [--batch 16] [--limit 100] [--samples 4] [--parts ledger,e2e,ab,worker1]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack, contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.pg, tests.fake_openai_server
try:
    import lem  # noqa: F401
except ImportError:  # pragma: no cover - run without the package installed
    sys.path.insert(0, str(ROOT / "src"))

RUN_ID = "bench-ledger"
CONDITIONS = ["baseline", "system:lek"]
LEASE_S = 600.0


# --- helpers -------------------------------------------------------------------------------
def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat (0, 0 elsewhere)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0, 0
    vals = [int(v) for v in fields]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals) - idle, sum(vals)


def _proc_stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def _postmaster_pid(port: int | None) -> int | None:
    """The pid of the PostgreSQL server listening on ``port`` (found by its command line)."""
    if port is None:
        return None
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"postgres") and f"-p {port}".encode() in b" ".join(argv):
            return int(d.name)
    return None


def _server_cpu_s(pid: int | None) -> float:
    """CPU seconds of the PostgreSQL server: the postmaster, its exited children (reaped)
    and its live children (the backends)."""
    if pid is None:
        return 0.0
    st = _proc_stat(pid)
    if not st:
        return 0.0
    # after the ")" field 3 (state) is index 0: utime, stime, cutime, cstime are 11-14
    total = sum(int(v) for v in st[11:15])
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and d.name != str(pid):
            cs = _proc_stat(int(d.name))
            if cs and cs[1] == str(pid):
                total += int(cs[11]) + int(cs[12])
    return total / os.sysconf("SC_CLK_TCK")


class _CpuMeter:
    """Where the CPU went between start() and stop(): the benchmark's child processes (the
    workers), this process (the fake server's threads), the PostgreSQL server, and
    everything else on the machine (other jobs)."""

    def __init__(self, pg_port: int | None = None) -> None:
        self._pg = _postmaster_pid(pg_port)

    def _sample(self) -> tuple[float, float, float, float, float]:
        import resource

        busy, total = _cpu_jiffies()
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        tick = os.sysconf("SC_CLK_TCK")
        return (
            busy / tick,
            total / tick,
            ch.ru_utime + ch.ru_stime,
            time.process_time(),
            _server_cpu_s(self._pg),
        )

    def start(self) -> _CpuMeter:
        self._s0 = self._sample()
        return self

    def stop(self, workers_s: float | None = None) -> dict[str, Any]:
        """``workers_s`` replaces the reaped children's CPU (which counts their whole
        lives) with what they report for the measured span."""
        time.sleep(0.2)  # let the server reap its exited backends
        s1 = self._sample()
        busy, total, workers, bench, server = (b - a for a, b in zip(self._s0, s1, strict=True))
        if workers_s is not None:
            workers = workers_s
        others = max(busy - workers - bench - server, 0.0)
        return {
            "busy": f"{100 * busy / total:.0f}%" if total > 0 else "n/a",
            "busy_s": round(busy, 2),
            "workers_s": round(workers, 2),
            "bench_s": round(bench, 2),
            "postgres_s": round(server, 2),
            "others_s": round(others, 2),
            "others_share": f"{100 * others / total:.0f}%" if total > 0 else "n/a",
        }


def _per_item(cpu: dict[str, Any], n: int) -> dict[str, float]:
    """CPU milliseconds per item: workers (clients), the PostgreSQL server, this process."""
    return {
        k.removesuffix("_s"): round(1000 * cpu[k] / n, 2)
        for k in ("workers_s", "postgres_s", "bench_s")
    }


def _port(url: str | None) -> int | None:
    if not url:
        return None
    from sqlalchemy.engine import make_url

    return make_url(url).port


def _sqlite_db(tmp: Path, name: str) -> str:
    return str(tmp / f"{name}-{uuid.uuid4().hex[:8]}.db")


def _pg_db(server_url: str) -> str:
    """A fresh database on the throwaway server (as tests/conftest.py ``pg_db``)."""
    from sqlalchemy import create_engine, text

    name = f"b_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


def _completed_span(store: Any) -> float:
    """Seconds between the first and the last ``completed_at`` of the store's items."""
    from sqlalchemy import func, select

    from lem.store.schema import items

    with store.engine.connect() as conn:
        lo, hi = conn.execute(
            select(func.min(items.c.completed_at), func.max(items.c.completed_at))
        ).one()
    if not lo or not hi:
        return float("nan")
    return (datetime.fromisoformat(hi) - datetime.fromisoformat(lo)).total_seconds()


def _check(store: Any, run_id: str | None, expected: int) -> dict[str, Any]:
    """Done count, attempts histogram, score rows and items per worker of the store."""
    from sqlalchemy import func, select

    from lem.store.schema import items, run_items, scores

    with store.engine.connect() as conn:
        q = select(items.c.status, items.c.attempts, items.c.worker)
        if run_id is not None:
            q = q.select_from(run_items.join(items, items.c.key == run_items.c.item_key)).where(
                run_items.c.run_id == run_id
            )
        rows = conn.execute(q).all()
        n_scores = int(conn.execute(select(func.count()).select_from(scores)).scalar_one())
    done = sum(1 for r in rows if r.status == "done")
    attempts = Counter(int(r.attempts) for r in rows)
    per_worker = Counter(r.worker for r in rows if r.status == "done")
    return {
        "planned": len(rows),
        "done": done,
        "attempts": dict(sorted(attempts.items())),
        "scores": n_scores,
        "per_worker_min": min(per_worker.values(), default=0),
        "per_worker_max": max(per_worker.values(), default=0),
        "workers_seen": len(per_worker),
        "exactly_once": done == expected == len(rows) and set(attempts) == {1},
    }


# --- 1. raw ledger -------------------------------------------------------------------------
def _plan_items(n: int) -> list[Any]:
    from lem.store import ItemPlan

    msg = json.dumps([{"role": "user", "content": "Say something short."}])
    return [
        ItemPlan(
            key=f"{i:064x}",
            model_key="m" * 64,
            messages=msg,
            rendered_hash="h" * 64,
            system_fallback=False,
            sampling="{}",
            sample_index=0,
            seed=i,
            position=i,
            probe_id=f"p{i}",
            category="bench",
            prompt="Say something short.",
            condition="baseline",
        )
        for i in range(n)
    ]


def _ledger_worker(
    db: str, batch: int, seed: int, barrier: Any, out: Any, mode: str = "batch"
) -> None:
    """One raw-ledger worker process: scan → claim a random window → record the won keys
    (one transaction for all, or one per key with ``mode="each"``)."""
    from lem.runner import claim_next
    from lem.store import Store
    from lem.store.ledger import new_worker_id

    store = Store(db, create=False)
    worker = new_worker_id()
    answer = {
        "text": "A short answer.",
        "answer": "A short answer.",
        "completion_tokens": 3,
        "time_s": 0.0,
        "finish_reason": "stop",
    }
    st = {"scan_s": 0.0, "claim_s": 0.0, "record_s": 0.0, "scan_cpu_s": 0.0}
    n = {"scans": 0, "idle_scans": 0, "claim_calls": 0, "tried": 0, "won": 0, "recorded": 0}
    barrier.wait()
    t_start = time.perf_counter()
    cpu0 = time.process_time()
    pc, cpu = time.perf_counter, time.process_time
    queue: list[str] = []
    shared = False
    while True:
        if not queue:
            t0, c0 = pc(), cpu()
            rows = store.unfinished(RUN_ID)
            free = [r["key"] for r in rows if r["status"] != "claimed"]
            st["scan_s"] += pc() - t0
            st["scan_cpu_s"] += cpu() - c0
            n["scans"] += 1
            if not rows:
                break
            if not free:  # everything left is in flight with other workers
                n["idle_scans"] += 1
                time.sleep(0.002)
                continue
            queue = free
        t0 = pc()
        if mode == "batch":
            won, used, shared = claim_next(store, queue, worker, LEASE_S, batch, shared=shared)
        else:
            keys = queue[:batch]
            won = store.claim(keys, worker, LEASE_S)
            used = len(keys)
        queue = queue[used:]
        st["claim_s"] += pc() - t0
        n["claim_calls"] += 1
        n["tried"] += used
        n["won"] += len(won)
        t0 = pc()
        if mode == "each":
            for key in won:
                n["recorded"] += store.record(key, worker, answer, ok=True)
        else:
            n["recorded"] += len(store.record_many(worker, [(k, answer, True) for k in won]))
        st["record_s"] += pc() - t0
    st["busy_s"] = time.perf_counter() - t_start
    st["cpu_s"] = time.process_time() - cpu0
    store.close()
    out.put({**st, **n})


def bench_ledger(
    db: str,
    items: int,
    workers: int,
    batch: int,
    pg_port: int | None = None,
    mode: str = "batch",
) -> dict[str, Any]:
    from lem.store import Store

    store = Store(db)
    store.open_run(RUN_ID, name="bench-ledger", config={}, manifest={})
    t0 = time.perf_counter()
    store.add_plan(RUN_ID, _plan_items(items))
    plan_s = time.perf_counter() - t0
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(workers + 1)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_ledger_worker, args=(db, batch, 1000 + i, barrier, out, mode))
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    barrier.wait(timeout=300)
    cpu = _CpuMeter(pg_port).start()
    t0 = time.perf_counter()
    results = [out.get(timeout=1800) for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
    tot = {k: sum(r[k] for r in results) for k in results[0]}
    cpu_use = cpu.stop(workers_s=tot["cpu_s"])
    check = _check(store, RUN_ID, items)
    store.close()
    ok = check["exactly_once"] and tot["won"] == items and tot["recorded"] == items
    return {
        "items": items,
        "record": mode,
        "workers": workers,
        "batch": batch,
        "plan_s": round(plan_s, 3),
        "wall_s": round(wall, 3),
        "items_per_s": round(items / wall, 1),
        "claims_won_per_s": round(tot["won"] / wall, 1),
        "claim_calls": tot["claim_calls"],
        "claim_calls_per_s": round(tot["claim_calls"] / wall, 1),
        "keys_tried": tot["tried"],
        "conflicts": tot["tried"] - tot["won"],
        "scans": tot["scans"],
        "idle_scans": tot["idle_scans"],
        "scan_ms_per_call": round(1000 * tot["scan_s"] / tot["scans"], 2),
        "claim_ms_per_call": round(1000 * tot["claim_s"] / max(tot["claim_calls"], 1), 2),
        "record_ms_per_item": round(1000 * tot["record_s"] / max(tot["recorded"], 1), 2),
        "worker_cpu_ms_per_item_without_scans": round(
            1000 * (tot["cpu_s"] - tot["scan_cpu_s"]) / items, 2
        ),
        "time_share": {
            k: f"{100 * tot[k + '_s'] / tot['busy_s']:.0f}%" for k in ("scan", "claim", "record")
        },
        "cpu": cpu_use,
        "cpu_ms_per_item": _per_item(cpu_use, items),
        "check": check,
        "exactly_once": ok,
    }


# --- 2./3. end to end ----------------------------------------------------------------------
class _Stop(KeyboardInterrupt):
    pass


def _config(url: str, db: str, limit: int, samples: int) -> Any:
    from lem.config import ABConfig

    return ABConfig(
        model=f"openai:{url}#fake-model",
        limit=limit,
        conditions=CONDITIONS,
        samples=samples,
        db=db,
        max_retries=0,
    )


def _plan_run(url: str, db: str, limit: int, samples: int) -> str:
    """Plan the run (``run_ab`` stopped at its "start" event); returns its run id."""
    from lem.api import run_ab
    from lem.store import Store

    def stop(event: str, _data: dict[str, Any]) -> None:
        if event == "start":
            raise _Stop

    with suppress(_Stop):
        run_ab(_config(url, db, limit, samples), progress=stop)
    store = Store(db, create=False)
    try:
        return store.latest_run_id()
    finally:
        store.close()


def _env() -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": "", "PYTHONUNBUFFERED": "1"}


def _worker_cmd(db: str) -> list[str]:
    return [sys.executable, "-m", "lem.cli.main", "worker", "--db", db, "--until-empty", "-q"]


def _ab_cmd(url: str, db: str, limit: int, samples: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "lem.cli.main",
        "ab",
        "--model",
        f"openai:{url}#fake-model",
        "--limit",
        str(limit),
        "--condition",
        ",".join(CONDITIONS),
        "--samples",
        str(samples),
        "--max-retries",
        "0",
        "--db",
        db,
        "--quiet",
    ]


def bench_e2e(
    db: str, mode: str, workers: int, limit: int, samples: int, pg_port: int | None = None
) -> dict[str, Any]:
    """``mode``: "workers" (``workers`` × ``lem worker``) or "ab" (one ``lem ab``)."""
    from tests.fake_openai_server import FakeOpenAIServer

    from lem.store import Store

    expected = limit * len(CONDITIONS) * samples
    with FakeOpenAIServer(latency_s=0.0) as srv:
        run_id = _plan_run(srv.url, db, limit, samples)
        before = len(srv.chat_requests)
        cmds = (
            [_worker_cmd(db) for _ in range(workers)]
            if mode == "workers"
            else [_ab_cmd(srv.url, db, limit, samples)]
        )
        cpu = _CpuMeter(pg_port).start()
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen(
                c, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for c in cmds
        ]
        outs = [p.communicate(timeout=1800) for p in procs]
        wall = time.perf_counter() - t0
        cpu_use = cpu.stop()
        requests = len(srv.chat_requests) - before
    failed = [e[-800:] for p, (_, e) in zip(procs, outs, strict=True) if p.returncode != 0]
    if failed:
        raise SystemExit(f"{mode}: a process failed:\n" + "\n".join(failed))
    store = Store(db, create=False)
    try:
        check = _check(store, run_id, expected)
        runs = len(store.list_runs())
        span = _completed_span(store)
    finally:
        store.close()
    ok = check["exactly_once"] and requests == expected and check["scores"] == expected
    return {
        "mode": mode,
        "processes": len(cmds),
        "items": expected,
        "wall_s": round(wall, 3),
        "items_per_s": round(expected / wall, 1),
        "steady_s": round(span, 3),
        "steady_items_per_s": round((expected - 1) / span, 1) if span > 0 else None,
        "requests": requests,
        "runs_in_store": runs,
        "cpu": cpu_use,
        "cpu_ms_per_item": _per_item(cpu_use, expected),
        "check": check,
        "exactly_once": ok and runs == 1,
    }


# --- driver --------------------------------------------------------------------------------
@contextmanager
def _maybe_pg(needed: bool) -> Any:
    if not needed:
        yield None
        return
    from tests.pg import postgres_server

    try:
        with postgres_server() as url:
            yield url
    except BaseException as exc:  # pytest.skip outside pytest: no server binaries
        if type(exc).__name__ == "Skipped":
            raise SystemExit(f"PostgreSQL: {exc}") from None
        raise


def _pg_version(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        v = str(conn.execute(text("SHOW server_version")).scalar_one())
    engine.dispose()
    return v.split()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--items", type=int, default=4000, help="Raw-ledger items.")
    ap.add_argument("--workers", type=int, default=8, help="Worker processes.")
    ap.add_argument("--batch", type=int, default=16, help="Raw ledger: keys per claim.")
    ap.add_argument(
        "--record",
        choices=["batch", "each", "both"],
        default="both",
        help="Raw ledger: record the won keys in one transaction, one per key, or both.",
    )
    ap.add_argument("--limit", type=int, default=100, help="End to end: bundled probes.")
    ap.add_argument("--samples", type=int, default=4, help="End to end: samples per item.")
    ap.add_argument(
        "--parts",
        default="ledger,e2e,ab,worker1",
        help="Comma list of: ledger, e2e (W lem workers), ab (1 lem ab), worker1 (1 worker); "
        "ledger1 adds the raw ledger with one process (uncontended costs).",
    )
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    m = args.limit * len(CONDITIONS) * args.samples
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f} at start; items {args.items}, workers "
        f"{args.workers}, batch {args.batch}; end to end {args.limit} probes × "
        f"{len(CONDITIONS)} conditions × {args.samples} samples = {m}",
        flush=True,
    )
    results: dict[str, Any] = {"args": vars(args), "backends": {}}
    t_all = time.perf_counter()
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="lem-bench-ledger-"))
        stack.callback(shutil.rmtree, tmp, True)
        pg = stack.enter_context(_maybe_pg("postgres" in backends))
        for backend in backends:
            label = "SQLite (WAL)" if backend == "sqlite" else f"PostgreSQL {_pg_version(pg)}"

            def fresh(name: str, backend: str = backend) -> str:
                return _sqlite_db(tmp, name) if backend == "sqlite" else _pg_db(pg)

            port = _port(pg) if backend == "postgres" else None
            res: dict[str, Any] = {"label": label}
            modes = ["batch", "each"] if args.record == "both" else [args.record]
            for part, n_proc in (("ledger", args.workers), ("ledger1", 1)):
                if part not in parts:
                    continue
                for mode in modes:
                    key = part if mode == "batch" else f"{part}:each"
                    res[key] = r = bench_ledger(
                        fresh(key.replace(":", "-")), args.items, n_proc, args.batch, port, mode
                    )
                    print(f"[{label}] raw ledger ({key}): {json.dumps(r)}", flush=True)
            if "e2e" in parts:
                res["e2e"] = r = bench_e2e(
                    fresh("e2e"), "workers", args.workers, args.limit, args.samples, port
                )
                print(f"[{label}] {args.workers} × lem worker: {json.dumps(r)}", flush=True)
            if "ab" in parts:
                res["ab"] = r = bench_e2e(fresh("ab"), "ab", 1, args.limit, args.samples, port)
                print(f"[{label}] 1 × lem ab: {json.dumps(r)}", flush=True)
            if "worker1" in parts:
                res["worker1"] = r = bench_e2e(
                    fresh("w1"), "workers", 1, args.limit, args.samples, port
                )
                print(f"[{label}] 1 × lem worker: {json.dumps(r)}", flush=True)
            results["backends"][backend] = res
    results["total_s"] = round(time.perf_counter() - t_all, 1)
    _print_tables(results, args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def _cpu_cell(r: dict[str, Any], bench: bool) -> str:
    c = r["cpu_ms_per_item"]
    cell = f"{c['workers']:.1f} + {c['postgres']:.1f}"
    if "worker_cpu_ms_per_item_without_scans" in r:
        cell = f"{c['workers']:.1f} ({r['worker_cpu_ms_per_item_without_scans']:.1f})"
        cell += f" + {c['postgres']:.1f}"
    return cell + (f" + {c['bench']:.1f}" if bench else "")


def _print_tables(results: dict[str, Any], args: argparse.Namespace) -> None:
    w = args.workers
    print()
    ledger_parts = ("ledger", "ledger:each", "ledger1", "ledger1:each")
    if any(res.get(p) for res in results["backends"].values() for p in ledger_parts):
        print(f"Raw ledger: {args.items} items, batch {args.batch} (scan → claim → record)")
        print(
            "| store | record | processes | wall | items/s | claims won/s | claim calls/s "
            "| conflicts | ms per scan / claim / record | time scan / claim / record "
            "| CPU ms/item: workers (no scans) + server | rest of machine | exactly once |"
        )
        print("| --- | --- " + "| ---: " * 10 + "| :---: |")
        for res in results["backends"].values():
            for part in ledger_parts:
                r = res.get(part)
                if not r:
                    continue
                sh = r["time_share"]
                print(
                    f"| {res['label']} | {r['record']} | {r['workers']} | {r['wall_s']:.2f} s "
                    f"| {r['items_per_s']:,.0f} | {r['claims_won_per_s']:,.0f} "
                    f"| {r['claim_calls_per_s']:,.0f} | {r['conflicts']:,} of {r['keys_tried']:,} "
                    f"| {r['scan_ms_per_call']} / {r['claim_ms_per_call']} "
                    f"/ {r['record_ms_per_item']} | {sh['scan']} / {sh['claim']} / {sh['record']} "
                    f"| {_cpu_cell(r, False)} | {r['cpu']['others_share']} "
                    f"| {'yes' if r['exactly_once'] else 'NO'} |"
                )
        print()
    m = args.limit * len(CONDITIONS) * args.samples
    names = {"e2e": f"{w} × lem worker", "ab": "1 × lem ab", "worker1": "1 × lem worker"}
    if not any(res.get(p) for res in results["backends"].values() for p in names):
        print(f"total {results['total_s']} s")
        return
    print(f"End to end: {m} items, instant fake OpenAI server, lek-v2 scoring")
    print(
        "| store | processes | wall | items/s | steady items/s | requests "
        "| CPU ms/item: workers + server + fake API | rest of machine | exactly once |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | :---: |")
    for res in results["backends"].values():
        for part, name in names.items():
            r = res.get(part)
            if not r:
                continue
            print(
                f"| {res['label']} | {name} | {r['wall_s']:.2f} s | {r['items_per_s']:,.0f} "
                f"| {r['steady_items_per_s'] or 0:,.0f} | {r['requests']} "
                f"| {_cpu_cell(r, True)} | {r['cpu']['others_share']} "
                f"| {'yes' if r['exactly_once'] else 'NO'} |"
            )
        if res.get("e2e") and res.get("ab"):
            ratio = res["e2e"]["items_per_s"] / res["ab"]["items_per_s"]
            steady = (res["e2e"]["steady_items_per_s"] or 0) / (
                res["ab"]["steady_items_per_s"] or float("inf")
            )
            print(
                f"  {res['label']}: {w} workers / 1 lem ab = {ratio:.2f}× (wall), "
                f"{steady:.2f}× (steady)"
            )
    print(f"\ntotal {results['total_s']} s")


if __name__ == "__main__":
    main()
