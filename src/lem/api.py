"""lem's public Python API: what the CLI does, callable from notebooks and scripts."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lem.backends.base import (
    BACKENDS,
    Backend,
    backend_options,
    create_backend,
    parse_model_spec,
)
from lem.config import ABConfig, load_config
from lem.defaults import DEFAULT_SCORER
from lem.errors import InputError, LemError, LemWarning
from lem.formats.ab_jsonl import ABFile, write_ab_jsonl
from lem.probes import ProbeSet
from lem.responses import ScoredResponse, read_run
from lem.results import ab_file_from_store, run_scorer_ids
from lem.runner import ProgressHook, RunOutcome, execute, load_inputs, prepare, scorer_options
from lem.scoring.base import get_scorer
from lem.store import Store

__all__ = [
    "ABConfig",
    "PlanPreview",
    "RunOutcome",
    "RunResponses",
    "backend_for",
    "export_ab_jsonl",
    "load_config",
    "plan_into_store",
    "plan_run",
    "run_ab",
    "run_responses",
    "run_results",
    "score_text",
]


def backend_for(config: ABConfig) -> Backend:
    """The backend a config's model spec names, given the config fields that are options
    of that backend. A field set explicitly (flag or file) that this backend does not take
    is a :class:`~lem.errors.LemWarning`: it has no effect on this model."""
    kind, _, _ = parse_model_spec(config.model)
    cls = BACKENDS.get(kind)
    if cls is None:
        return create_backend(config.model)  # raises, naming the known backends
    accepted = backend_options(cls).model_fields
    options = {k: getattr(config, k) for k in accepted if k in ABConfig.model_fields}
    ignored = sorted(f for f in config.model_fields_set & _backend_fields() if f not in accepted)
    if ignored:
        flags = ", ".join("--" + f.replace("_", "-") for f in ignored)
        warnings.warn(
            LemWarning(f"{flags} do(es) not apply to the {kind} backend; ignored"),
            stacklevel=2,
        )
    return create_backend(config.model, **options)


def _backend_fields() -> set[str]:
    """ABConfig fields that are an option of some backend."""
    return {f for _, cls in BACKENDS.items() for f in backend_options(cls).model_fields} & set(
        ABConfig.model_fields
    )


def run_ab(
    config: ABConfig | None = None,
    *,
    backend: Backend | None = None,
    progress: ProgressHook | None = None,
    probe_set: ProbeSet | None = None,
    **overrides: Any,
) -> RunOutcome:
    """Run (or resume) an A/B experiment and return what happened.

    Inputs are validated before the model loads and before the store is touched, so a bad
    probe id or kernel path costs nothing and changes nothing. ``probe_set`` replaces the
    config's probe file (``lem bench`` passes a benchmark's items this way).
    """
    config = (config or ABConfig()).merged(overrides) if overrides else (config or ABConfig())
    load_inputs(config, probe_set, **scorer_options(config))
    store = Store(config.db)
    own = backend is None
    try:
        backend = backend or backend_for(config)
        try:
            exp = prepare(config, backend, store, probe_set)
            return execute(exp, store, progress=progress)
        finally:
            if own:
                backend.close()
    finally:
        store.close()


@dataclass(frozen=True)
class PlanPreview:
    """What a run would do (``--dry-run``): its id, planned items, and how many of them the
    store already has done or failed; per condition too."""

    run_id: str
    planned: int
    done: int
    failed: int
    pending: int
    run_exists: bool
    by_condition: dict[str, dict[str, int]]


def plan_run(config: ABConfig, *, probe_set: ProbeSet | None = None) -> PlanPreview:
    """Plan the run ``config`` describes without writing anything: the model is loaded
    (its identity and renderer key the items), the store is only read, and not created."""
    from sqlalchemy import select

    from lem.store.schema import items as items_table
    from lem.store.schema import runs as runs_table

    load_inputs(config, probe_set, **scorer_options(config))
    backend = backend_for(config)
    try:
        exp = prepare(config, backend, None, probe_set)
    finally:
        backend.close()
    status: dict[str, str] = {}
    exists = False
    try:
        store = Store(config.db, create=False)
    except LemError:
        store = None
    if store is not None:
        try:
            keys = [p.key for p in exp.plan]
            with store.engine.connect() as conn:
                for start in range(0, len(keys), 500):
                    chunk = keys[start : start + 500]
                    q = select(items_table.c.key, items_table.c.status).where(
                        items_table.c.key.in_(chunk)
                    )
                    status.update({k: s for k, s in conn.execute(q).all()})
                exists = (
                    conn.execute(
                        select(runs_table.c.run_id).where(runs_table.c.run_id == exp.run_id)
                    ).first()
                    is not None
                )
        finally:
            store.close()
    per: dict[str, dict[str, int]] = {}
    for p in exp.plan:
        c = per.setdefault(p.condition, {"planned": 0, "done": 0})
        c["planned"] += 1
        c["done"] += status.get(p.key) == "done"
    done = sum(1 for s in status.values() if s == "done")
    failed = sum(1 for s in status.values() if s == "failed")
    return PlanPreview(exp.run_id, len(exp.plan), done, failed, len(exp.plan) - done, exists, per)


def plan_into_store(config: ABConfig, *, probe_set: ProbeSet | None = None) -> str:
    """Plan the run into its store (run, items, links) without generating, for workers
    elsewhere (``lem worker``, a Ray cluster) to do; returns the run id."""
    from lem.runner import start
    from lem.store import new_worker_id

    load_inputs(config, probe_set, **scorer_options(config))
    store = Store(config.db)
    try:
        backend = backend_for(config)
        try:
            exp = prepare(config, backend, store, probe_set)
        finally:
            backend.close()
        start(exp, store, new_worker_id())
        remaining = len(store.unfinished(exp.run_id))
        store.finish_run(
            exp.run_id,
            status="done" if remaining == 0 else "partial",
            extra={"invocation_s": 0.0, "remaining": remaining},
        )
        return exp.run_id
    finally:
        store.close()


def run_results(db: str, run_id: str | None = None, scorer: str | None = None) -> ABFile:
    """A stored run as upstream A/B records with its summary (latest run by default);
    ``scorer`` fills ``lek_score`` (default: the run's first scorer)."""
    store = Store(db, create=False)
    try:
        return ab_file_from_store(store, run_id or store.latest_run_id(), scorer)
    finally:
        store.close()


@dataclass(frozen=True)
class RunResponses:
    """A stored run's scored responses (:mod:`lem.responses`) with what labels them: the
    run id, its model spec and the ids of the scorers it was scored with, in order."""

    run_id: str
    model: str
    scorer_ids: list[str]
    responses: list[ScoredResponse]


def run_responses(
    db: str, run_id: str | None = None, scorers: list[str] | None = None
) -> RunResponses:
    """A stored run's scored responses (latest run by default) with the scores of
    ``scorers`` (default: the scorers the run was scored with)."""
    store = Store(db, create=False)
    try:
        run = store.get_run(run_id or store.latest_run_id())
        ids = run_scorer_ids(run["manifest"])
        found = list(read_run(store, run["run_id"], scorers if scorers is not None else ids))
        return RunResponses(run["run_id"], str(run["manifest"].get("model_spec", "")), ids, found)
    finally:
        store.close()


def export_ab_jsonl(
    db: str, out: str | Path, run_id: str | None = None, scorer: str | None = None
) -> ABFile:
    """Write a stored run in the upstream A/B JSONL format and return what was written.
    Failed or unfinished generations are listed per probe under ``errors`` (condition →
    reason); nothing is created when the store or run does not exist."""
    path = Path(out)
    if path.is_dir():
        raise InputError(f"--out {path} is a directory; give a .jsonl file path")
    if not path.parent.is_dir():
        raise InputError(f"--out {path}: folder {path.parent} does not exist; create it first")
    abfile = run_results(db, run_id, scorer)
    write_ab_jsonl(path, abfile)
    return abfile


def score_text(text: str, scorer: str = DEFAULT_SCORER) -> dict[str, Any]:
    """Score one text verbatim: every signal's raw value, then the score."""
    s = get_scorer(scorer)
    res = s.score(text)
    key = "lek_score" if s.id.startswith("lek-") else "score"
    if res.status != "ok":
        return {key: None, "status": res.status, "reason": res.reason}
    return {**res.signals, key: res.value}
