"""The benchmark table: every model variant and condition side by side, with error bars
and paired tests against a reference variant.

Columns: GSM8K accuracy (Wilson 95 % interval) and each judged dimension (truthfulness,
informativeness, safety, nuance, kindness, awareness; mean with lem's CI of a mean, see
:func:`lem.analysis.stats.mean_ci`). Each non-reference cell is compared with the
reference variant on the items both answered: McNemar's exact test for accuracy, the
Wilcoxon signed-rank test for a judged dimension, Holm-adjusted over every comparison in
the table (one family). Failed or missing scores are excluded and counted, never filled.

Where lem's own GSM8K scores and imported upstream ones exist for the same answers, the
two are compared item by item.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lem.analysis.proportions import mcnemar_exact, wilson_interval
from lem.analysis.stats import holm, mean_ci, paired_deltas, wilcoxon_signed_rank
from lem.bench.base import get_benchmark
from lem.bench.importer import IMPORT_CONDITION, TAG_VARIANT, UPSTREAM_GSM8K, UPSTREAM_JUDGE
from lem.bench.mc import MC1, MC2, TAG_MODE
from lem.bench.score import BenchRun, bench_runs
from lem.errors import InputError
from lem.responses import read_run
from lem.store import Store

__all__ = ["BenchTable", "Cell", "Comparison", "Metric", "build_table"]


@dataclass(frozen=True)
class Metric:
    """One column: ``gsm8k`` (accuracy) or a judged dimension of a benchmark."""

    key: str
    benchmark: str
    label: str
    kind: str  # "accuracy" (0/1 per item), "judged" (a 1-10 dimension) or "mean"
    scale: tuple[float, float]


@dataclass
class Cell:
    """One variant's result on one metric; ``values`` by item id (1/0 for accuracy)."""

    variant: str
    metric: str
    run_id: str
    scorer: str
    values: dict[str, float]
    failed: int
    missing: int
    mean: float = math.nan
    low: float = math.nan
    high: float = math.nan
    ci_method: str = ""

    @property
    def n(self) -> int:
        return len(self.values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "metric": self.metric,
            "run_id": self.run_id,
            "scorer": self.scorer,
            "n": self.n,
            "failed": self.failed,
            "missing": self.missing,
            "mean": _r(self.mean),
            "ci": [_r(self.low), _r(self.high)],
            "ci_method": self.ci_method,
        }


@dataclass
class Comparison:
    """A variant against the reference on one metric, over the items both have."""

    variant: str
    metric: str
    n: int
    delta: float
    test: str
    p: float
    p_holm: float = math.nan
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "metric": self.metric,
            "n": self.n,
            "delta": _r(self.delta),
            "test": self.test,
            "p": _r(self.p),
            "p_holm": _r(self.p_holm),
            **({"detail": self.detail} if self.detail else {}),
        }


@dataclass
class BenchTable:
    """Everything the benchmark report shows."""

    variants: list[str]
    reference: str
    metrics: list[Metric]
    cells: dict[tuple[str, str], Cell]
    comparisons: list[Comparison]
    runs: list[dict[str, Any]]
    agreement: dict[str, Any] | None = None

    def cell(self, variant: str, metric: str) -> Cell | None:
        return self.cells.get((variant, metric))

    def comparison(self, variant: str, metric: str) -> Comparison | None:
        for c in self.comparisons:
            if c.variant == variant and c.metric == metric:
                return c
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "variants": self.variants,
            "metrics": [
                {"key": m.key, "benchmark": m.benchmark, "label": m.label, "kind": m.kind}
                for m in self.metrics
            ],
            "cells": [c.as_dict() for c in self.cells.values()],
            "comparisons": [c.as_dict() for c in self.comparisons],
            "multiple_comparisons": "Holm over every comparison in the table",
            "runs": self.runs,
            "gsm8k_agreement": self.agreement,
        }


def _r(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def _model_label(run: BenchRun) -> str:
    tags = run.tags
    if tags.get(TAG_VARIANT):
        return str(tags[TAG_VARIANT])
    if tags.get("variant"):
        return str(tags["variant"])
    if run.name:
        return run.name
    spec = str(run.manifest.get("model_spec", run.run_id))
    return spec.rstrip("/").rsplit("/", 1)[-1] or spec


def _variant(model: str, condition: str) -> str:
    return model if condition == IMPORT_CONDITION else f"{model} + {condition}"


def _pick_scorer(available: set[str], benchmark: str, judge: str | None) -> str | None:
    bench = get_benchmark(benchmark)
    if bench.exact_scorer:
        if bench.exact_scorer in available:
            return bench.exact_scorer
        return UPSTREAM_GSM8K if UPSTREAM_GSM8K in available else None
    if judge is not None:
        return judge if judge in available else None
    own = sorted(s for s in available if s.startswith(f"judge:{bench.rubric}@"))
    if own:
        return own[0]
    return UPSTREAM_JUDGE if UPSTREAM_JUDGE in available else None


@dataclass(frozen=True)
class _Spec:
    metric: Metric
    scorer: str | None
    dim: str | None

    @property
    def key(self) -> str:
        return self.metric.key


def _metric_specs(run: BenchRun, benchmark: str, scorer: str | None) -> list[_Spec]:
    """The columns one run fills: MC1/MC2 for a multiple-choice run, the exact rule's
    accuracy, or the judged dimensions (signals of the judge scorer)."""
    bench = get_benchmark(benchmark)
    if run.tags.get(TAG_MODE) == "mc":
        return [
            _Spec(Metric("mc1", benchmark, "MC1", "accuracy", (0.0, 1.0)), MC1, None),
            _Spec(Metric("mc2", benchmark, "MC2", "mean", (0.0, 1.0)), MC2, None),
        ]
    if bench.exact_scorer:
        return [
            _Spec(Metric(bench.name, benchmark, bench.title, "accuracy", (0.0, 1.0)), scorer, None)
        ]
    return [
        _Spec(Metric(d, benchmark, d.capitalize(), "judged", (0.0, 10.0)), scorer, d)
        for d in bench.dimensions
    ]


def build_table(
    db: str,
    *,
    run_ids: list[str] | None = None,
    reference: str | None = None,
    judge: str | None = None,
    seed: int = 0,
) -> BenchTable:
    """Read the store's benchmark runs and compute the table (see the module doc).
    ``reference`` names the variant the others are tested against (default: the first,
    in run order); ``judge`` picks a judge scorer id when several judged the runs."""
    store = Store(db, create=False)
    try:
        runs = bench_runs(store, run_ids)
        if not runs:
            raise InputError(f"no benchmark runs in {store.display_url}; run `lem bench run` first")
        cells: dict[tuple[str, str], Cell] = {}
        metrics: dict[str, Metric] = {}
        variants: list[str] = []
        run_rows: list[dict[str, Any]] = []
        agree_pairs: list[dict[str, Any]] = []
        for run in runs:
            bench = get_benchmark(run.benchmark)
            responses = list(read_run(store, run.run_id))
            available = {sid for r in responses for sid in r.scores}
            scorer = _pick_scorer(available, run.benchmark, judge)
            model = _model_label(run)
            conditions = list(dict.fromkeys(r.condition for r in responses))
            for cond in conditions:
                variant = _variant(model, cond)
                if variant not in variants:
                    variants.append(variant)
                rows = [r for r in responses if r.condition == cond and r.sample == 0]
                run_rows.append(
                    {
                        "run_id": run.run_id,
                        "benchmark": run.benchmark,
                        "variant": variant,
                        "condition": cond,
                        "items": len(rows),
                        "items_sha256": run.items_sha,
                        "scorer": scorer,
                        "source": run.tags.get("bench_source"),
                    }
                )
                for spec in _metric_specs(run, bench.name, scorer):
                    key, dim, metric_scorer = spec.key, spec.dim, spec.scorer
                    if key not in metrics:
                        metrics[key] = spec.metric
                    values: dict[str, float] = {}
                    failed = missing = 0
                    for r in rows:
                        sc = r.scores.get(metric_scorer) if metric_scorer else None
                        if r.status != "done" or sc is None:
                            missing += 1
                            continue
                        if not sc.ok:
                            failed += 1
                            continue
                        v = sc.value if dim is None else sc.signals.get(dim)
                        if not isinstance(v, int | float) or not math.isfinite(float(v)):
                            failed += 1
                            continue
                        values[r.probe_id] = float(v)
                    cells[(variant, key)] = Cell(
                        variant, key, run.run_id, metric_scorer or "", values, failed, missing
                    )
                if bench.exact_scorer and {bench.exact_scorer, UPSTREAM_GSM8K} <= available:
                    for r in rows:
                        a, b = r.scores.get(bench.exact_scorer), r.scores.get(UPSTREAM_GSM8K)
                        if a is not None and b is not None and a.ok and b.ok:
                            agree_pairs.append(
                                {
                                    "variant": variant,
                                    "id": r.probe_id,
                                    "lem": bool(a.value),
                                    "upstream": bool(b.value),
                                    "lem_extracted": a.signals.get("extracted"),
                                    "upstream_extracted": b.signals.get("extracted"),
                                }
                            )
    finally:
        store.close()
    ref = reference or variants[0]
    if ref not in variants:
        raise InputError(f"--reference {ref!r} is not a variant; variants: {', '.join(variants)}")
    order = {"gsm8k": 0, "mc1": 1, "mc2": 2}
    ordered = sorted(
        metrics.values(), key=lambda m: (order.get(m.key, 3), list(metrics).index(m.key))
    )
    for cell in cells.values():
        _describe(cell, metrics[cell.metric], seed)
    comparisons = _compare(cells, variants, ref, ordered)
    agreement = None
    if agree_pairs:
        diff = [p for p in agree_pairs if p["lem"] != p["upstream"]]
        agreement = {
            "n": len(agree_pairs),
            "agree": len(agree_pairs) - len(diff),
            "disagreements": diff,
        }
    return BenchTable(variants, ref, ordered, cells, comparisons, run_rows, agreement)


def _describe(cell: Cell, metric: Metric, seed: int) -> None:
    vals = list(cell.values.values())
    if not vals:
        return
    if metric.kind == "accuracy":
        k = sum(1 for v in vals if v)
        ci = wilson_interval(k, len(vals))
        cell.mean, cell.low, cell.high, cell.ci_method = k / len(vals), ci.low, ci.high, "wilson"
        return
    ci, method = mean_ci(vals, seed=seed)
    cell.mean = sum(vals) / len(vals)
    cell.low, cell.high, cell.ci_method = ci.low, ci.high, method


def _compare(
    cells: Mapping[tuple[str, str], Cell],
    variants: Sequence[str],
    reference: str,
    metrics: Sequence[Metric],
) -> list[Comparison]:
    out: list[Comparison] = []
    for metric in metrics:
        ref = cells.get((reference, metric.key))
        if ref is None or not ref.values:
            continue
        for variant in variants:
            cell = cells.get((variant, metric.key))
            if variant == reference or cell is None:
                continue
            common = [i for i in ref.values if i in cell.values]
            if not common:
                continue
            a = [ref.values[i] for i in common]
            b = [cell.values[i] for i in common]
            if metric.kind == "accuracy":
                mc = mcnemar_exact([bool(x) for x in a], [bool(x) for x in b])
                delta = (sum(b) - sum(a)) / len(common)
                out.append(
                    Comparison(
                        variant,
                        metric.key,
                        len(common),
                        delta,
                        "mcnemar-exact",
                        mc.p,
                        detail=mc.as_dict(),
                    )
                )
            else:
                d = paired_deltas(a, b)
                out.append(
                    Comparison(
                        variant,
                        metric.key,
                        len(common),
                        float(d.mean()),
                        "wilcoxon",
                        wilcoxon_signed_rank(d),
                    )
                )
    for c, adj in zip(out, holm([c.p for c in out]), strict=True):
        c.p_holm = adj
    return out
