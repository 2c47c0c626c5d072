"""Ray executor overhead: the same planned run done by one local `lem worker` and by one
lem worker inside a Ray actor on a local one-node cluster (cluster start-up excluded;
model loading included on both sides, since each worker loads its own replica).

    python benchmarks/bench_ray.py [--limit 16] [--max-tokens 64] [--rounds 2]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from lem.api import plan_into_store
from lem.config import ABConfig
from lem.worker import work


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    from ray.cluster_utils import Cluster

    from lem.executors.ray import run_on_ray

    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    best = {"local": float("inf"), "ray": float("inf")}
    items = 0
    try:
        for _ in range(args.rounds):
            for name in ("local", "ray"):
                db = str(Path(tempfile.mkdtemp(prefix="lem-bench-ray-")) / "r.db")
                cfg = ABConfig(
                    db=db,
                    limit=args.limit,
                    max_tokens=args.max_tokens,
                    conditions=["baseline", "system:lek"],
                    batch_size=16,
                )
                run_id = plan_into_store(cfg)
                t0 = time.perf_counter()
                if name == "local":
                    items = work(db, run_ids=[run_id], until_empty=True).generated
                else:
                    items = sum(
                        r.generated
                        for r in run_on_ray(db, actors=1, run_ids=[run_id], address=cluster.address)
                    )
                best[name] = min(best[name], time.perf_counter() - t0)
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
    print(f"{items} items per run, demo model, {args.max_tokens} max tokens; {platform.machine()}")
    for name, secs in best.items():
        print(f"{name:>6}: {secs:6.2f} s  {items / secs:6.1f} items/s")
    print(f"ray / local wall time: {best['ray'] / best['local']:.2f}x")


if __name__ == "__main__":
    main()
