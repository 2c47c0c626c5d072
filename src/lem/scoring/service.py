"""Scoring stored runs and A/B files with any registered scorers.

Scores are stored per (generation, scorer id, scorer version) with the scorer's definition
hash; rescoring computes only rows that are missing or stale (another definition), so it is
idempotent and cheap to repeat.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lem.errors import InputError
from lem.formats.ab_jsonl import ABFile, compute_summary, read_ab_jsonl, write_ab_jsonl
from lem.scoring.base import ScoreContext, Scorer, ScoreResult, get_scorer, scorer_options
from lem.store import Store

__all__ = [
    "FileScoreOutcome",
    "build_scorers",
    "judge_options",
    "kernel_text_from_messages",
    "score_file",
    "score_rows",
    "score_run",
]

_BATCH = 256


def build_scorers(names: Iterable[str], **options: Any) -> list[Scorer]:
    """Scorer instances for ``names`` (deduplicated, order kept); options such as
    ``judge=`` or ``cache=`` reach scorers that take them."""
    names = dict.fromkeys(n.strip() for n in names if n.strip())
    if not names:
        raise InputError("no scorer given; e.g. --scorer lek-v2")
    return [
        get_scorer(name, **{k: v for k, v in options.items() if k in _accepted(name)})
        for name in names
    ]


def _accepted(name: str) -> set[str]:
    """The options scorer ``name`` takes (shared options reach only those that take them)."""
    return set(scorer_options(name).model_fields)


def judge_options(
    names: Iterable[str],
    *,
    judge: str | None,
    api_key_env: str,
    concurrency: int,
    store: Store | None = None,
) -> dict[str, Any]:
    """Options for judge scorers (endpoint, key variable, concurrency and, given a store,
    the judgement cache in it); empty when no judge scorer is named."""
    if not any(name.startswith("judge:") for name in names):
        return {}
    opts: dict[str, Any] = {"judge": judge, "api_key_env": api_key_env, "concurrency": concurrency}
    if store is not None:
        from lem.scoring.judge import JudgeCache

        opts["cache"] = JudgeCache(store)
    return opts


def kernel_text_from_messages(messages: Sequence[Mapping[str, str]], prompt: str) -> str | None:
    """Everything the model was shown besides the probe prompt: the kernel(s) its condition
    inserted (None for a bare prompt). Lets kernel-aware scorers tell echo from insight."""
    parts = [m.get("content", "") for m in messages]
    joined = "\n\n".join(parts)
    rest = joined.replace(prompt, "", 1).strip() if prompt else joined.strip()
    return rest or None


def score_rows(
    scorers: Sequence[Scorer],
    keys: Sequence[str],
    texts: Sequence[str],
    contexts: Sequence[ScoreContext],
) -> list[dict[str, Any]]:
    """Score rows ready for :meth:`Store.add_scores`; failures keep their reason, no value."""
    rows: list[dict[str, Any]] = []
    for scorer in scorers:
        results = scorer.score_batch(list(texts), contexts=list(contexts))
        for key, res in zip(keys, results, strict=True):
            rows.append(_row(scorer, key, res))
    return rows


def _row(scorer: Scorer, key: str, res: ScoreResult) -> dict[str, Any]:
    ok = res.status == "ok" and res.value is not None and not math.isnan(res.value)
    return {
        "item_key": key,
        "scorer": scorer.id,
        "version": scorer.version,
        "definition_hash": scorer.definition_hash(),
        "value": float(res.value) if ok else None,
        "signals": json.dumps(res.signals),
        "status": "ok" if ok else "failed",
        "reason": None if ok else (res.reason or "scorer returned no value"),
    }


def score_run(
    store: Store,
    run_id: str,
    scorers: Sequence[Scorer],
    fields: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, int]:
    """Score a stored run's done generations that lack a current score; returns rows
    written per scorer id. ``fields`` gives each probe id's per-item extras (a
    benchmark's expected or reference answers) for the scorers' contexts."""
    written: dict[str, int] = {}
    for scorer in scorers:
        todo = store.unscored(run_id, scorer.id, scorer.version, scorer.definition_hash())
        written[scorer.id] = 0
        for start in range(0, len(todo), _BATCH):
            chunk = todo[start : start + _BATCH]
            contexts = [
                ScoreContext(
                    prompt=row["prompt"],
                    kernel_text=kernel_text_from_messages(
                        json.loads(row["messages"]), row["prompt"]
                    ),
                    condition=row["condition"],
                    fields=(fields or {}).get(row["probe_id"]),
                )
                for row in chunk
            ]
            rows = score_rows(
                [scorer], [r["key"] for r in chunk], [r["answer"] or "" for r in chunk], contexts
            )
            store.add_scores(rows)
            written[scorer.id] += len(rows)
    return written


@dataclass
class FileScoreOutcome:
    probes: int
    responses: int
    failed: dict[str, int] = field(default_factory=dict)


def score_file(
    src: str | Path,
    out: str | Path,
    scorers: Sequence[Scorer],
    *,
    kernels: Mapping[str, str] | None = None,
) -> FileScoreOutcome:
    """Rescore an A/B JSONL file and write the same format.

    The first scorer fills the upstream ``lek_score`` and ``heuristic`` fields; every
    scorer also appears in each condition's ``scores`` map keyed by scorer id (value,
    version, definition hash, signals, status, reason). The summary line is recomputed from
    the first scorer; a response it failed to score is left out of the means and listed
    under the probe's ``errors``. ``kernels`` maps condition names to the kernel text the
    model was shown (for kernel-aware scorers). Responses are scored verbatim.
    """
    abfile = read_ab_jsonl(src)
    kernels = dict(kernels or {})
    unknown = sorted(set(kernels) - {c for p in abfile.probes for c in p.conditions})
    if unknown:
        raise InputError(f"--kernel names condition {unknown[0]!r}, which {src} does not have")
    cells = [(p, name, cond) for p in abfile.probes for name, cond in p.conditions.items()]
    contexts = [
        ScoreContext(prompt=p.prompt, kernel_text=kernels.get(name), condition=name)
        for p, name, _ in cells
    ]
    texts = [cond.response for _, _, cond in cells]
    outcome = FileScoreOutcome(probes=len(abfile.probes), responses=len(cells))
    results: list[list[ScoreResult]] = [
        scorer.score_batch(texts, contexts=contexts) for scorer in scorers
    ]
    first = scorers[0]
    for i, (probe, name, cond) in enumerate(cells):
        score_map = dict(cond.extra.get("scores") or {})
        for scorer, res in zip(scorers, (r[i] for r in results), strict=True):
            row = _row(scorer, "", res)
            score_map[scorer.id] = {
                "value": row["value"],
                "version": scorer.version,
                "definition_hash": scorer.definition_hash(),
                "status": row["status"],
                "reason": row["reason"],
                "signals": res.signals,
            }
            if row["status"] != "ok":
                outcome.failed[scorer.id] = outcome.failed.get(scorer.id, 0) + 1
        head = score_map[first.id]
        extra = {**cond.extra, "scores": score_map}
        if head["status"] == "ok":
            value = float(head["value"])
            probe.conditions[name] = replace(
                cond,
                lek_score=value,
                heuristic={**head["signals"], "lek_score": value},
                extra=extra,
            )
        else:
            probe.conditions[name] = replace(cond, extra=extra)
            probe.extra.setdefault("errors", {})[name] = f"{first.id}: {head['reason']}"
    summary_probes = [
        replace(
            p,
            conditions={
                n: c
                for n, c in p.conditions.items()
                if c.extra["scores"][first.id]["status"] == "ok"
            },
        )
        for p in abfile.probes
    ]
    old = abfile.summary
    summary = compute_summary(
        summary_probes,
        model=old.model,
        duration_s=_duration_s(old.duration),
        max_tokens=old.max_tokens,
        ts=old.ts,
        condition_order=[c["name"] for c in old.conditions],
    )
    write_ab_jsonl(out, ABFile(probes=abfile.probes, summary=summary))
    return outcome


def _duration_s(text: str) -> float:
    try:
        return float(str(text).rstrip("s"))
    except ValueError:
        return 0.0
