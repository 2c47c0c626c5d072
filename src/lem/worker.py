"""``lem worker``: join the pending work of a shared store and do it, exactly once.

A worker needs nothing but the store: each run records its config (model spec, decoding,
scorers) and its planned items (messages, sampling, per-item seed), so any machine with
the model can take up any run, whether ``lem ab``, ``lem distill`` or ``lem bench`` made
it. Work is claimed in batches through the ledger (SQLite: immediate transactions in WAL
mode; PostgreSQL: compare-and-swap updates per item), leases are renewed while a batch
runs, expired or dead workers' leases are taken over, and a result is stored only by the
worker holding the claim, so every item is done once. Ctrl-C releases this worker's
claims.

A run is taken up only by a worker whose model has the run's model identity (the weights'
fingerprint, not the path), so a worker never answers for a different model. ``models``
limits a worker to the model specs it can serve.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lem.backends.base import Backend, SamplingParams
from lem.config import ABConfig
from lem.errors import LemError
from lem.probes import Probe, ProbeSet
from lem.runner import (
    Experiment,
    ProgressHook,
    RunOutcome,
    execute,
    model_key_of,
    scorer_options,
)
from lem.scoring.service import build_scorers
from lem.store import Store

__all__ = ["WorkerOutcome", "runnable_runs", "stored_config", "stored_experiment", "work"]

Notify = Callable[[str], None]


@dataclass
class WorkerOutcome:
    """What a worker did: one outcome per run invocation, and runs it could not take."""

    runs: list[RunOutcome] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def generated(self) -> int:
        return sum(r.generated for r in self.runs)


def stored_config(run: dict[str, Any]) -> ABConfig:
    """The run's A/B settings as stored, with only the fields that differ from the
    defaults marked as set (so options of other backends are not passed on)."""
    plain = ABConfig()
    data = {
        k: v
        for k, v in run["config"].items()
        if k in ABConfig.model_fields and v != getattr(plain, k)
    }
    return ABConfig(**data)


def runnable_runs(store: Store) -> list[dict[str, Any]]:
    """Runs with unfinished items whose config says how to generate them (A/B,
    distillation and benchmark runs; not imports or multiple-choice runs), oldest first."""
    todo = store.unfinished_counts()
    out = []
    for run in store.list_runs():
        if run["run_id"] not in todo:
            continue
        full = store.get_run(run["run_id"])
        config = full["config"]
        if not isinstance(config, dict) or "model" not in config:
            continue
        out.append({**full, "remaining": todo[run["run_id"]]})
    return out


def _fields(store: Store, manifest: dict[str, Any]) -> dict[str, dict[str, str]]:
    tags = manifest.get("tags") or {}
    if "bench" not in tags or "bench_items" not in tags:
        return {}
    from lem.bench.base import get_benchmark
    from lem.bench.score import stored_fields

    return stored_fields(store, get_benchmark(str(tags["bench"])), str(tags["bench_items"]))


def stored_experiment(store: Store, run: dict[str, Any], backend: Backend) -> Experiment:
    """The run as an :class:`Experiment` rebuilt from the store, for ``backend``;
    a :class:`LemError` when the backend's model is not the run's model."""
    manifest = run["manifest"]
    model_key = model_key_of(backend)
    if manifest.get("model_key") != model_key:
        raise LemError(
            f"run {run['run_id']}: this worker's model is not the run's model (identity "
            "differs); start the worker with the run's model"
        )
    config = stored_config(run)
    plan = store.run_plan(run["run_id"])
    fields = _fields(store, manifest)
    probes = {
        p.probe_id: Probe(p.probe_id, p.prompt, p.category, fields.get(p.probe_id)) for p in plan
    }
    sampling = SamplingParams(
        **{**manifest["sampling"], "stop": tuple(manifest["sampling"].get("stop") or ())}
    )
    scorer_ids = [s["id"] for s in manifest.get("scorers") or []]
    scorers = build_scorers(scorer_ids, **scorer_options(config, store)) if scorer_ids else []
    return Experiment(
        config=config,
        probes=ProbeSet(
            tuple(probes.values()), source=str(manifest.get("probes", {}).get("source"))
        ),
        conditions=[],
        scorers=scorers,
        backend=backend,
        sampling=sampling,
        run_id=run["run_id"],
        model_key=model_key,
        plan=plan,
        manifest=manifest,
        flags={},
    )


def work(
    db: str,
    *,
    models: list[str] | None = None,
    run_ids: list[str] | None = None,
    until_empty: bool = False,
    poll_s: float = 10.0,
    stop: threading.Event | None = None,
    backend_factory: Callable[[ABConfig], Backend] | None = None,
    progress: ProgressHook | None = None,
    notify: Notify | None = None,
) -> WorkerOutcome:
    """Process pending runs of the store at ``db`` until ``stop`` is set, or with
    ``until_empty`` until no runnable work is left. ``models`` restricts the runs to these
    model specs, ``run_ids`` to these runs (ids or prefixes). Backends are created once per
    model spec and kept."""
    from lem.api import backend_for

    make = backend_factory or backend_for
    say = notify or (lambda _line: None)
    stop = stop or threading.Event()
    outcome = WorkerOutcome()
    backends: dict[str, Backend] = {}
    idle: set[str] = set()
    store = Store(db)
    try:
        while not stop.is_set():
            candidates = [
                r
                for r in runnable_runs(store)
                if r["run_id"] not in outcome.skipped
                and r["run_id"] not in idle
                and (not models or r["config"]["model"] in models)
                and (not run_ids or any(r["run_id"].startswith(x) for x in run_ids))
            ]
            if not candidates:
                if until_empty:
                    break
                idle.clear()
                stop.wait(poll_s)
                continue
            for run in candidates:
                if stop.is_set():
                    break
                spec = str(run["config"]["model"])
                try:
                    if spec not in backends:
                        backends[spec] = make(stored_config(run))
                    exp = stored_experiment(store, run, backends[spec])
                except LemError as exc:
                    outcome.skipped[run["run_id"]] = exc.message
                    say(f"skipping run {run['run_id']}: {exc.message}")
                    continue
                say(f"run {run['run_id']}: {run['remaining']} item(s) left ({spec})")
                result = execute(exp, store, progress=progress)
                outcome.runs.append(result)
                if result.generated == 0:
                    # what is left keeps failing or is held by live workers: look again later
                    idle.add(run["run_id"])
    finally:
        store.close()
        for backend in backends.values():
            backend.close()
    return outcome
