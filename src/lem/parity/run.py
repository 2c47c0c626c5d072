"""Run the same greedy A/B plan through each model of a parity check, then compare.

Each model is its own run of :func:`lem.api.run_ab` in one store, so a parity check is
resumable and recorded like any run (and shares work items with ``lem ab`` runs of the
same settings); the comparison reads the runs back from the store
(:func:`lem.responses.read_run` for answers, scores and each item's rendered
prompt hash and token counts) and hands them to :mod:`lem.parity.compare`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lem.parity.compare import ModelRun, PairResult, ParityItem, TokenCodec, compare_runs
from lem.parity.config import ParityConfig
from lem.runner import ProgressHook, RunOutcome

__all__ = [
    "TOKENIZER_FILES",
    "HFCodec",
    "ParityOutcome",
    "ProgressFor",
    "load_model_runs",
    "run_parity",
    "tokenizer_digest",
]

ProgressFor = Callable[[str, int], AbstractContextManager[ProgressHook | None]]
"""Given a model spec and its index, a context giving the progress hook of its run."""

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
)
"""The files whose contents make a local model's tokenizer identity."""


@dataclass(frozen=True)
class ParityOutcome:
    """A parity check: each model's run (``runs``, labelled M1, M2, ... in the order
    given), what its invocation did (``outcomes``), the pairwise comparisons, the scorers
    compared and where the token positions' tokenizer came from (None: no tokenizer)."""

    config: ParityConfig
    runs: list[ModelRun]
    outcomes: list[RunOutcome]
    pairs: list[PairResult]
    scorers: list[str]
    tokenizer: str | None

    @property
    def failed(self) -> bool:
        """True when some model's run failed (its answers are compared as far as stored)."""
        return any(o.status == "failed" for o in self.outcomes)


class HFCodec:
    """A Hugging Face tokenizer as a :class:`~lem.parity.compare.TokenCodec`."""

    def __init__(self, tokenizer: Any) -> None:
        self._tok = tokenizer

    def encode(self, text: str) -> list[int]:
        return [int(i) for i in self._tok(text, add_special_tokens=False)["input_ids"]]

    def decode(self, ids: Sequence[int]) -> str:
        return str(
            self._tok.decode(
                list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False
            )
        )

    @classmethod
    def load(cls, path: Path, *, trust_remote_code: bool = False) -> HFCodec:
        from transformers import AutoTokenizer

        from lem.errors import BackendError

        try:
            tok = AutoTokenizer.from_pretrained(
                path, local_files_only=True, trust_remote_code=trust_remote_code
            )
        except Exception as exc:
            raise BackendError(
                f"cannot load the tokenizer in {path}: {type(exc).__name__}: {exc}"
            ) from exc
        return cls(tok)


def tokenizer_digest(path: str | Path) -> str | None:
    """SHA-256 of the tokenizer files (:data:`TOKENIZER_FILES`) in a model directory, by
    name and content; None when it has none (or the directory is gone)."""
    root = Path(path)
    h = hashlib.sha256()
    found = False
    for name in TOKENIZER_FILES:
        f = root / name
        if f.is_file():
            found = True
            h.update(name.encode("utf-8") + b"\0")
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest() if found else None


def _renders_locally(backend: str | None) -> bool:
    from lem.backends.base import BACKENDS
    from lem.backends.local import LocalModelBackend

    cls = BACKENDS.get(backend) if backend else None
    return cls is not None and issubclass(cls, LocalModelBackend)


def _local_path(manifest: dict[str, Any]) -> Path | None:
    ident = manifest.get("model") or {}
    where = manifest.get("model_location") or {}
    if not _renders_locally(ident.get("backend")) or not where.get("path"):
        return None
    path = Path(str(where["path"]))
    return path if path.is_dir() else None


def load_model_runs(
    db: str, runs: Sequence[tuple[str, str]], scorers: Sequence[str] | None = None
) -> tuple[list[ModelRun], list[str], list[Path | None]]:
    """The stored runs ``(model spec, run id)`` as labelled :class:`ModelRun` records
    (M1, M2, ...), the scorer ids compared (``scorers``, default: the first run's) and
    each run's local model directory (None for servers)."""
    from lem.responses import read_run
    from lem.results import run_scorer_ids
    from lem.store import Store

    store = Store(db, create=False)
    try:
        manifests = [store.get_run(run_id)["manifest"] for _, run_id in runs]
        ids = list(scorers) if scorers is not None else run_scorer_ids(manifests[0])
        out: list[ModelRun] = []
        paths: list[Path | None] = []
        for i, ((spec, run_id), manifest) in enumerate(zip(runs, manifests, strict=True)):
            items = []
            for resp in read_run(store, run_id, ids):
                items.append(
                    ParityItem(
                        probe_id=resp.probe_id,
                        condition=resp.condition,
                        sample=resp.sample,
                        status=resp.status,
                        answer=resp.answer,
                        finish_reason=resp.finish_reason,
                        system_fallback=resp.system_fallback,
                        rendered_hash=resp.rendered_hash,
                        prompt_tokens=resp.prompt_tokens,
                        completion_tokens=resp.completion_tokens,
                        scores={sid: s.value for sid, s in resp.scores.items()},
                    )
                )
            ident = manifest.get("model") or {}
            path = _local_path(manifest)
            paths.append(path)
            out.append(
                ModelRun(
                    label=f"M{i + 1}",
                    spec=spec,
                    run_id=run_id,
                    items=items,
                    backend=ident.get("backend"),
                    renders_locally=_renders_locally(ident.get("backend")),
                    dtype=ident.get("dtype"),
                    fingerprint=ident.get("fingerprint"),
                    tokenizer=tokenizer_digest(path) if path is not None else None,
                    system_role=manifest.get("system_role"),
                )
            )
        return out, ids, paths
    finally:
        store.close()


def _check_spec(model: str) -> None:
    """Fail before any model loads when a local model's directory is not usable."""
    from lem.backends.base import BACKENDS, parse_model_spec
    from lem.backends.hf import resolve_model_dir
    from lem.backends.local import LocalModelBackend

    kind, target, _ = parse_model_spec(model)
    cls = BACKENDS.get(kind)
    if cls is not None and issubclass(cls, LocalModelBackend):
        resolve_model_dir(target)


def run_parity(config: ParityConfig, *, progress_for: ProgressFor | None = None) -> ParityOutcome:
    """Run (or resume) every model's greedy run into ``config.db``, then compare each pair.

    Every input (models, probes, kernels, conditions, scorers, local model directories)
    is checked before the first model loads. ``progress_for(spec, index)`` gives each
    run's progress hook.
    """
    from lem.api import run_ab
    from lem.backends.hf import resolve_model_dir
    from lem.redact import redact
    from lem.runner import load_inputs, scorer_options

    cfg = config.checked()
    plans = [cfg.ab_config(m) for m in cfg.models]
    load_inputs(plans[0], **scorer_options(plans[0]))
    for model in cfg.models:
        _check_spec(model)
    chosen = resolve_model_dir(cfg.tokenizer) if cfg.tokenizer else None
    outcomes: list[RunOutcome] = []
    for i, plan in enumerate(plans):
        ctx = progress_for(plan.model, i) if progress_for is not None else nullcontext(None)
        with ctx as hook:
            outcomes.append(run_ab(plan, progress=hook))
    runs, scorers, paths = load_model_runs(
        cfg.db, [(redact(m), o.run_id) for m, o in zip(cfg.models, outcomes, strict=True)]
    )
    source = chosen or next((p for p in paths if p is not None), None)
    codec: TokenCodec | None = None
    if source is not None:
        codec = HFCodec.load(source, trust_remote_code=cfg.trust_remote_code)
    pairs = compare_runs(runs, scorers, window=cfg.window, codec=codec)
    return ParityOutcome(
        cfg, runs, outcomes, pairs, scorers, str(source) if source is not None else None
    )
