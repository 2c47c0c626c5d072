"""lem's public Python API: what the CLI does, callable from notebooks and scripts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lem.backends.base import Backend, create_backend
from lem.config import ABConfig, load_config
from lem.errors import InputError
from lem.formats.ab_jsonl import ABFile, write_ab_jsonl
from lem.results import ab_file_from_store
from lem.runner import ProgressHook, RunOutcome, execute, load_inputs, prepare, scorer_options
from lem.scoring.base import get_scorer
from lem.store import Store

__all__ = [
    "ABConfig",
    "RunOutcome",
    "backend_for",
    "export_ab_jsonl",
    "load_config",
    "run_ab",
    "run_results",
    "score_text",
]


def backend_for(config: ABConfig) -> Backend:
    """The backend a config's model spec names, with the config's backend settings."""
    return create_backend(
        config.model,
        device=config.device,
        dtype=config.dtype,
        batch_size=config.batch_size,
        trust_remote_code=config.trust_remote_code,
        api_key_env=config.api_key_env,
        concurrency=config.concurrency,
        timeout=config.timeout,
        max_retries=config.max_retries,
        model_id=config.model_id,
        canary=config.canary,
    )


def run_ab(
    config: ABConfig | None = None,
    *,
    backend: Backend | None = None,
    progress: ProgressHook | None = None,
    **overrides: Any,
) -> RunOutcome:
    """Run (or resume) an A/B experiment and return what happened.

    Inputs are validated before the model loads and before the store is touched, so a bad
    probe id or kernel path costs nothing and changes nothing.
    """
    config = (config or ABConfig()).merged(overrides) if overrides else (config or ABConfig())
    load_inputs(config, **scorer_options(config))
    store = Store(config.db)
    own = backend is None
    try:
        backend = backend or backend_for(config)
        try:
            exp = prepare(config, backend, store)
            return execute(exp, store, progress=progress)
        finally:
            if own:
                backend.close()
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


def score_text(text: str, scorer: str = "lek-v2") -> dict[str, Any]:
    """Score one text verbatim: every signal's raw value, then the score."""
    s = get_scorer(scorer)
    res = s.score(text)
    key = "lek_score" if s.id.startswith("lek-") else "score"
    if res.status != "ok":
        return {key: None, "status": res.status, "reason": res.reason}
    return {**res.signals, key: res.value}
