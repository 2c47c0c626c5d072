"""Compare two scorers on the same responses: rank correlation, mean shifts, the responses
they disagree on most, and agreement statistics with bootstrap confidence intervals."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from statistics import fmean, pstdev
from typing import Any

from lem.errors import InputError
from lem.responses import ScoredResponse, read_file_responses, read_run
from lem.store import Store

__all__ = [
    "agreement_report",
    "compare_scorers",
    "paired_values",
    "responses_from",
]


def responses_from(
    files: Sequence[str | Path] = (),
    store: Store | None = None,
    run_ids: Sequence[str] = (),
    scorer_ids: Sequence[str] | None = None,
) -> list[ScoredResponse]:
    """The scored responses of A/B files and stored runs (:mod:`lem.responses`)."""
    out: list[ScoredResponse] = []
    for path in files:
        out += read_file_responses(path, scorer_ids)
    if store is not None:
        for rid in run_ids:
            out += read_run(store, rid, scorer_ids)
    return out


def _value(r: ScoredResponse, scorer: str, dimension: str | None) -> float | None:
    score = r.score(scorer)
    if score is None or score.value is None:
        return None
    if dimension is None:
        return score.value
    v = score.signals.get(dimension)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def paired_values(
    responses: Sequence[ScoredResponse], a: str, b: str, *, dimension: str | None = None
) -> tuple[list[ScoredResponse], list[float], list[float]]:
    """Responses where both scorers (or that dimension of both) have a value, and the
    values."""
    for sid in (a, b):
        if not any(sid in r.scores for r in responses):
            raise InputError(f"no scores from {sid!r} in the given runs or files; score them first")
    kept, va, vb = [], [], []
    for r in responses:
        x, y = _value(r, a, dimension), _value(r, b, dimension)
        if x is not None and y is not None:
            kept.append(r)
            va.append(x)
            vb.append(y)
    if len(kept) < 3:
        raise InputError(f"only {len(kept)} responses have both {a!r} and {b!r} scores; need 3+")
    return kept, va, vb


def _z(values: Sequence[float]) -> list[float]:
    mu, sd = fmean(values), pstdev(values)
    return [0.0 if sd == 0 else (v - mu) / sd for v in values]


def compare_scorers(
    responses: Sequence[ScoredResponse], a: str, b: str, *, top: int = 10
) -> dict[str, Any]:
    """Spearman and Kendall correlation, the mean shift per condition, and the responses
    whose standardised scores differ most."""
    from lem.analysis.stats import kendall_tau_b, spearman

    kept, va, vb = paired_values(responses, a, b)
    by_cond: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r, x, y in zip(kept, va, vb, strict=True):
        by_cond[r.condition].append((x, y))
    za, zb = _z(va), _z(vb)
    order = sorted(range(len(kept)), key=lambda i: (-abs(za[i] - zb[i]), kept[i].probe_id))
    return {
        "a": a,
        "b": b,
        "n": len(kept),
        "spearman": _clean(spearman(va, vb)),
        "kendall_tau_b": _clean(kendall_tau_b(va, vb)),
        "conditions": [
            {
                "condition": cond,
                "n": len(pairs),
                "mean_a": round(fmean(p[0] for p in pairs), 4),
                "mean_b": round(fmean(p[1] for p in pairs), 4),
                "shift": round(fmean(p[1] - p[0] for p in pairs), 4),
            }
            for cond, pairs in by_cond.items()
        ],
        "largest_disagreements": [
            {
                "source": kept[i].run_id or kept[i].source,
                "probe_id": kept[i].probe_id,
                "condition": kept[i].condition,
                "a": va[i],
                "b": vb[i],
                "z_gap": round(zb[i] - za[i], 4),
                "response": kept[i].answer[:300],
            }
            for i in order[:top]
        ],
    }


def agreement_report(
    responses: Sequence[ScoredResponse],
    a: str,
    b: str,
    *,
    dimensions: Sequence[str | None] = (None,),
    scale: tuple[int, int] | None = None,
    seed: int = 0,
    n_boot: int = 2000,
) -> dict[str, Any]:
    """Agreement of two scorers per dimension (``None`` = the headline value): Spearman,
    Kendall tau-b and, with a scale, quadratic-weighted kappa, each with a bootstrap CI."""
    from lem.analysis.stats import agreement

    rows = []
    for dim in dimensions:
        _kept, va, vb = paired_values(responses, a, b, dimension=dim)
        res = agreement(va, vb, scale=scale, seed=seed, n_boot=n_boot)
        rows.append({"dimension": dim or "value", **res.as_dict()})
    return {"a": a, "b": b, "scale": list(scale) if scale else None, "seed": seed, "rows": rows}


def _clean(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 6)
