"""Generation on a Ray cluster: ``lem worker --executor ray`` / ``lem ab --executor ray``.

Each Ray actor is a lem worker (:func:`lem.worker.work`) with its own model replica,
placed by Ray (spread over the nodes; ``gpus_per_actor`` reserves GPUs as Ray
resources). Actors claim and record work through the same run store as every other
worker, so exactly-once delivery, leases and resume hold whether an actor dies, the
cluster is restarted, or laptops outside the cluster share the store.

The cluster is the one named by ``RAY_ADDRESS`` (or ``address``). Ray keeps task
arguments in its own storage, so lem refuses to hand it a database URL that carries a
password: give the nodes ``PGPASSWORD`` (or a ``.pgpass``) instead. The nodes must reach
the store: PostgreSQL, or a SQLite file on a file system they share.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from lem.errors import InputError, LemError

__all__ = ["ActorResult", "run_on_ray"]


@dataclass(frozen=True)
class ActorResult:
    """What one actor did: where it ran and how many items it generated, per run."""

    node: str
    pid: int
    generated: int
    runs: dict[str, int]
    skipped: dict[str, str]


class _LemActor:
    """One model replica: a lem worker inside a Ray actor process."""

    def work(self, db: str, run_ids: list[str] | None, models: list[str] | None) -> dict[str, Any]:
        import ray

        from lem.worker import work

        out = work(db, run_ids=run_ids, models=models, until_empty=True)
        per: dict[str, int] = {}
        for r in out.runs:
            per[r.run_id] = per.get(r.run_id, 0) + r.generated
        return {
            "node": ray.get_runtime_context().get_node_id(),
            "pid": os.getpid(),
            "generated": out.generated,
            "runs": per,
            "skipped": dict(out.skipped),
        }


def _check_url(db: str) -> None:
    from sqlalchemy.engine import make_url

    if "://" not in db:
        return
    try:
        url = make_url(db)
    except Exception:
        return
    if url.password:
        raise InputError(
            "--executor ray: the database URL carries a password, which Ray would store with "
            "its tasks; drop it from the URL and set PGPASSWORD (or a .pgpass) on the nodes"
        )


def run_on_ray(
    db: str,
    *,
    actors: int = 2,
    run_ids: list[str] | None = None,
    models: list[str] | None = None,
    gpus_per_actor: float = 0.0,
    address: str | None = None,
) -> list[ActorResult]:
    """Start ``actors`` lem workers as Ray actors on the cluster and wait until the
    matching work is done; one result per actor."""
    _check_url(db)
    if actors < 1:
        raise InputError(f"--actors must be at least 1, got {actors}")
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray needs Ray: pip install 'lem[ray]'") from None
    target = address or os.environ.get("RAY_ADDRESS")
    if not target:
        raise InputError("--executor ray: set RAY_ADDRESS to the cluster (host:port or auto)")
    if not ray.is_initialized():
        try:
            ray.init(address=target, log_to_driver=False, logging_level=logging.ERROR)
        except Exception as exc:
            raise LemError(f"cannot join the Ray cluster at {target}: {exc}") from None
    options: dict[str, Any] = {"num_cpus": 1, "scheduling_strategy": "SPREAD"}
    if gpus_per_actor:
        options["num_gpus"] = gpus_per_actor
    actor_cls: Any = ray.remote(**options)(_LemActor)
    handles: list[Any] = [actor_cls.remote() for _ in range(actors)]
    try:
        raw = ray.get([h.work.remote(db, run_ids, models) for h in handles])
    finally:
        for h in handles:
            ray.kill(h)
    return [
        ActorResult(r["node"], int(r["pid"]), int(r["generated"]), r["runs"], r["skipped"])
        for r in raw
    ]
