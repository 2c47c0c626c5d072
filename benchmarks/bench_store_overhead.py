"""Store write overhead per generation, as a share of generation time.

Runs the real `lem ab` runner on the demo model and times every store call it makes
(open run, plan, claim, record each result, write scores, release) by wrapping the store's
methods; generation time is the backend's own wall time. SQLite by default; pass --db
for PostgreSQL.

    python benchmarks/bench_store_overhead.py [--n 16] [--db URL]
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lem.api import backend_for
from lem.config import ABConfig
from lem.runner import execute, prepare
from lem.store import Store

STORE_METHODS = (
    "open_run",
    "add_plan",
    "unfinished",
    "claim",
    "record",
    "add_scores",
    "release",
    "finish_run",
    "unscored",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16, help="Probes (x3 default conditions).")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--db", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    db = args.db or str(Path(tempfile.mkdtemp()) / "bench.db")
    cfg = ABConfig(limit=args.n, max_tokens=args.max_tokens, batch_size=16, db=db)
    backend = backend_for(cfg)
    store = Store(db)
    exp = prepare(cfg, backend, store)
    spent = {"store": 0.0, "generate": 0.0}

    def timed(fn: Callable[..., Any], bucket: str) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[bucket] += time.perf_counter() - t0

        return wrapper

    for name in STORE_METHODS:
        setattr(store, name, timed(getattr(store, name), "store"))
    original = backend.generate

    def generate(reqs: Any) -> Any:
        it = original(reqs)
        while True:
            t0 = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                spent["generate"] += time.perf_counter() - t0
                return
            spent["generate"] += time.perf_counter() - t0
            yield item

    backend.generate = generate  # type: ignore[method-assign]
    t0 = time.perf_counter()
    outcome = execute(exp, store)
    wall = time.perf_counter() - t0
    n = outcome.generated
    res = {
        "generations": n,
        "store": store.engine.dialect.name,
        "wall_s": round(wall, 3),
        "generation_s": round(spent["generate"], 3),
        "store_s": round(spent["store"], 3),
        "store_ms_per_generation": round(spent["store"] / n * 1000, 2),
        "generation_ms_per_generation": round(spent["generate"] / n * 1000, 2),
        "overhead_share": f"{100 * spent['store'] / spent['generate']:.2f}%",
    }
    print(json.dumps(res, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
