"""A stored run as upstream-format A/B records, and the terminal summary of scored
responses (both read through :mod:`lem.responses`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from lem.defaults import DEFAULT_SCORER
from lem.formats.ab_jsonl import (
    BASELINE,
    ABCondition,
    ABFile,
    ABProbe,
    compute_summary,
    iso_now,
)
from lem.responses import Score, ScoredResponse, read_run
from lem.store import Store

__all__ = ["ab_file_from_store", "print_summary", "run_scorer_ids"]


def run_scorer_ids(manifest: dict[str, Any]) -> list[str]:
    """The scorers a run was scored with, in the order given (lek-v2 for old manifests)."""
    return [s["id"] for s in manifest.get("scorers") or []] or [DEFAULT_SCORER]


def ab_file_from_store(store: Store, run_id: str, scorer: str | None = None) -> ABFile:
    """The run as upstream A/B JSONL records: one line per probe (sample 0 of each
    condition), failed or unfinished generations listed under the probe's ``errors``.

    ``scorer`` fills ``lek_score`` and ``heuristic`` (default: the run's first scorer).
    A run with several scorers also carries every scorer's result in each condition's
    ``scores`` map; answers that were empty or whitespace-only carry ``empty_answer``; a
    probe with a family (in the manifest's probe entry) carries ``family``.
    """
    run = store.get_run(run_id)
    manifest = run["manifest"]
    scorer_ids = run_scorer_ids(manifest)
    scorer = scorer or scorer_ids[0]
    several = len(scorer_ids) > 1
    cond_order = [c["name"] for c in manifest["conditions"]]
    samples = int(manifest.get("samples", 1))
    families = (manifest.get("probes") or {}).get("families") or {}
    probes: dict[str, ABProbe] = {}
    stamps: dict[str, str] = {}
    for rec in read_run(store, run["run_id"], None if several else [scorer]):
        if rec.sample != 0:
            continue
        probe = probes.get(rec.probe_id)
        if probe is None:
            probe = ABProbe(
                id=rec.probe_id,
                category=rec.category,
                prompt=rec.prompt,
                conditions={},
                ts="",
                extra={"family": families[rec.probe_id]} if rec.probe_id in families else {},
            )
            probes[rec.probe_id] = probe
        result = rec.score(scorer)
        if not rec.done or result is None or result.value is None:
            reason = rec.error or ("not scored" if rec.done else f"generation {rec.status}")
            probe.extra.setdefault("errors", {})[rec.condition] = reason
            continue
        answer = rec.answer
        extra: dict[str, Any] = {}
        if samples > 1:
            extra["sample"] = 0
        if rec.reasoning:
            extra["reasoning"] = rec.reasoning
        if rec.system_fallback:
            extra["system_fallback"] = True
        if rec.flags.get("empty_answer"):
            extra["empty_answer"] = rec.flags["empty_answer"]
            extra["finish_reason"] = rec.finish_reason
        if rec.flags.get("context_overflow"):
            extra["context_overflow"] = True
        if several:
            extra["scores"] = {sid: _score_row(s) for sid, s in rec.scores.items()}
        score = result.value
        probe.conditions[rec.condition] = ABCondition(
            response=answer,
            lek_score=score,
            heuristic={**result.signals, "lek_score": score},
            chars=len(answer),
            time_s=round(float(rec.time_s or 0.0), 1),
            extra=extra,
        )
        stamps[rec.probe_id] = max(stamps.get(rec.probe_id, ""), rec.completed_at or "")
    for pid, probe in probes.items():
        probe.conditions = {c: probe.conditions[c] for c in cond_order if c in probe.conditions}
        probe.ts = stamps.get(pid) or iso_now()
    finished = run.get("finished_at")
    duration = float(manifest.get("active_s", 0.0))
    summary = compute_summary(
        list(probes.values()),
        model=manifest.get("model_spec", ""),
        duration_s=duration,
        max_tokens=int(manifest["sampling"]["max_tokens"]),
        ts=finished or iso_now(),
        condition_order=cond_order,
    )
    if manifest.get("tags"):
        summary.extra["tags"] = dict(manifest["tags"])
    if scorer != DEFAULT_SCORER:
        summary.extra["scorer"] = scorer
    return ABFile(probes=list(probes.values()), summary=summary)


def _score_row(score: Score) -> dict[str, Any]:
    """A stored score as the ``scores`` map of an exported A/B line holds it."""
    return {
        "value": score.value,
        "version": score.version,
        "definition_hash": score.definition_hash,
        "status": score.status,
        "reason": score.reason,
        "signals": dict(score.signals),
    }


def _domain_table(
    console: Console, scorer: str, conds: list[str], cats: dict[str, dict[str, list[float]]]
) -> None:
    """Mean score per domain × condition; turned so conditions are rows when the
    conditions do not fit across the terminal, left out (with a pointer) when neither
    way fits."""
    from lem.numfmt import fmt_mean
    from lem.report.analysis import mean_score

    domains = sorted(cats)

    def width(rows: list[str], cols: list[str]) -> int:
        return max(map(len, rows)) + sum(max(len(c), 5) + 3 for c in cols) + 4

    cells = {(d, c): fmt_mean(mean_score(cats[d].get(c, []))) for d in domains for c in conds}
    title = f"mean {scorer} by domain"
    turned = width(domains, conds) > console.width
    if turned and width(conds, domains) > console.width:
        console.print(
            f"mean {scorer} by domain: {len(domains)} domains × {len(conds)} conditions do "
            "not fit this terminal; `lem report` has the table"
        )
        return
    rows, cols = (conds, domains) if turned else (domains, conds)
    dom = Table(title=title, title_justify="left")
    dom.add_column("condition" if turned else "domain")
    for col in cols:
        dom.add_column(col, justify="right")
    for row in rows:
        dom.add_row(row, *(cells[(col, row) if turned else (row, col)] for col in cols))
    console.print(dom)


def print_summary(
    responses: Sequence[ScoredResponse],
    console: Console,
    *,
    scorer: str = DEFAULT_SCORER,
    model: str = "",
    title: str = "",
) -> None:
    """Per condition: n, mean, delta vs baseline, improved/regressed/unchanged; per domain.

    Reads sample 0 of each probe and condition. Means and deltas are computed from the
    full-precision scores, as ``lem report`` computes them (a condition's mean over the
    probes it scored; Δ the mean paired difference over the probes scored under both it
    and the baseline, each rounded to 1e-9; improved/regressed beyond the ±0.5 band), and
    printed by :mod:`lem.numfmt`, so the terminal and ``report.md`` show the same strings.
    """
    from lem.numfmt import DASH, fmt_delta, fmt_mean
    from lem.report.analysis import mean_score, paired_delta_stats

    first = [r for r in responses if r.sample == 0]
    conds: list[str] = []
    scores: dict[str, dict[str, float]] = {}
    cats: dict[str, dict[str, list[float]]] = {}
    errors = 0
    empty: dict[str, int] = defaultdict(int)
    for rec in first:
        if rec.condition not in scores:
            conds.append(rec.condition)
            scores[rec.condition] = {}
        result = rec.score(scorer)
        if not rec.done or result is None or result.value is None:
            errors += 1
            continue
        scores[rec.condition][rec.probe_id] = result.value
        cats.setdefault(rec.category, {}).setdefault(rec.condition, []).append(result.value)
        if rec.flags.get("empty_answer"):
            empty[str(rec.finish_reason or "unknown")] += 1
    conds = [c for c in conds if scores[c]]
    base = scores.get(BASELINE) if BASELINE in conds else None
    table = Table(title=title or f"{scorer} by condition — {model}", title_justify="left")
    for col in ("condition", "n", "mean", "Δ vs baseline", "improved", "regressed", "unchanged"):
        if col == "condition":
            table.add_column(col, overflow="fold")
        else:
            table.add_column(col, justify="right")
    for cond in conds:
        vals = scores[cond]
        paired = None
        if base is not None and cond != BASELINE:
            pids = [pid for pid in vals if pid in base]
            paired = paired_delta_stats([base[p] for p in pids], [vals[p] for p in pids])
        table.add_row(
            cond,
            str(len(vals)),
            fmt_mean(mean_score(list(vals.values()))),
            DASH if paired is None else fmt_delta(paired.mean),
            DASH if paired is None else str(paired.improved),
            DASH if paired is None else str(paired.regressed),
            DASH if paired is None else str(paired.unchanged),
        )
    console.print(table)
    if cats:
        _domain_table(console, scorer, conds, cats)
    if errors:
        console.print(f"[yellow]{errors} generation(s) failed or unfinished: not scored[/]")
    if empty:
        reasons = ", ".join(f"{n} finish_reason {r}" for r, n in sorted(empty.items()))
        console.print(
            f"[yellow]{sum(empty.values())} empty or whitespace-only answer(s) ({reasons}): "
            "scored as given[/]"
        )
