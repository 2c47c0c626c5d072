"""Compare two scorers on the same responses: rank correlation, mean shifts, the responses
they disagree on most, and agreement statistics with bootstrap confidence intervals."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean, pstdev
from typing import Any

from sqlalchemy import select

from lem.errors import InputError
from lem.formats.ab_jsonl import read_ab_jsonl
from lem.store import Store
from lem.store.schema import items, run_items, scores

__all__ = [
    "ScoredCell",
    "agreement_report",
    "cells_from_files",
    "cells_from_store",
    "compare_scorers",
    "paired_values",
]


@dataclass
class ScoredCell:
    """One response with the scores each scorer gave it (value and signals)."""

    source: str
    probe_id: str
    condition: str
    response: str
    values: dict[str, float | None] = field(default_factory=dict)
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)


def cells_from_store(
    store: Store, run_ids: Sequence[str], scorer_ids: Sequence[str]
) -> list[ScoredCell]:
    """Responses of the runs with their stored scores (newest row per scorer id)."""
    cells: dict[tuple[str, str], ScoredCell] = {}
    q = (
        select(
            run_items.c.run_id,
            run_items.c.item_key,
            run_items.c.probe_id,
            run_items.c.condition,
            items.c.answer,
            scores.c.scorer,
            scores.c.value,
            scores.c.signals,
            scores.c.status,
        )
        .select_from(
            run_items.join(items, items.c.key == run_items.c.item_key).join(
                scores, scores.c.item_key == items.c.key
            )
        )
        .where(run_items.c.run_id.in_(list(run_ids)), scores.c.scorer.in_(list(scorer_ids)))
        .order_by(run_items.c.run_id, run_items.c.position, scores.c.created_at)
    )
    with store.engine.connect() as conn:
        for row in conn.execute(q).mappings():
            key = (row["run_id"], row["item_key"])
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = ScoredCell(
                    source=row["run_id"],
                    probe_id=row["probe_id"],
                    condition=row["condition"],
                    response=row["answer"] or "",
                )
            ok = row["status"] == "ok" and row["value"] is not None
            cell.values[row["scorer"]] = float(row["value"]) if ok else None
            cell.signals[row["scorer"]] = json.loads(row["signals"] or "{}")
    return list(cells.values())


def cells_from_files(paths: Sequence[str | Path]) -> list[ScoredCell]:
    """Responses of A/B JSONL files with every score they hold: the ``scores`` map, and the
    upstream ``lek_score``/``heuristic`` as ``lek-v2`` when the map lacks it."""
    out: list[ScoredCell] = []
    for path in paths:
        abfile = read_ab_jsonl(path)
        for probe in abfile.probes:
            for name, cond in probe.conditions.items():
                cell = ScoredCell(str(path), probe.id, name, cond.response)
                for sid, entry in (cond.extra.get("scores") or {}).items():
                    ok = entry.get("status", "ok") == "ok" and entry.get("value") is not None
                    cell.values[sid] = float(entry["value"]) if ok else None
                    cell.signals[sid] = dict(entry.get("signals") or {})
                if "lek-v2" not in cell.values:
                    cell.values["lek-v2"] = float(cond.lek_score)
                    cell.signals["lek-v2"] = {
                        k: v for k, v in cond.heuristic.items() if k != "lek_score"
                    }
                out.append(cell)
    return out


def _value(cell: ScoredCell, scorer: str, dimension: str | None) -> float | None:
    if cell.values.get(scorer) is None:
        return None
    if dimension is None:
        return cell.values[scorer]
    v = cell.signals.get(scorer, {}).get(dimension)
    return float(v) if isinstance(v, int | float) else None


def paired_values(
    cells: Sequence[ScoredCell], a: str, b: str, *, dimension: str | None = None
) -> tuple[list[ScoredCell], list[float], list[float]]:
    """Cells where both scorers (or that dimension of both) have a value, and the values."""
    if not any(a in c.values for c in cells):
        raise InputError(f"no scores from {a!r} in the given runs or files; score them first")
    if not any(b in c.values for c in cells):
        raise InputError(f"no scores from {b!r} in the given runs or files; score them first")
    kept, va, vb = [], [], []
    for cell in cells:
        x, y = _value(cell, a, dimension), _value(cell, b, dimension)
        if x is not None and y is not None:
            kept.append(cell)
            va.append(x)
            vb.append(y)
    if len(kept) < 3:
        raise InputError(f"only {len(kept)} responses have both {a!r} and {b!r} scores; need 3+")
    return kept, va, vb


def _z(values: Sequence[float]) -> list[float]:
    mu, sd = fmean(values), pstdev(values)
    return [0.0 if sd == 0 else (v - mu) / sd for v in values]


def compare_scorers(
    cells: Sequence[ScoredCell], a: str, b: str, *, top: int = 10
) -> dict[str, Any]:
    """Spearman and Kendall correlation, the mean shift per condition, and the responses
    whose standardised scores differ most."""
    from lem.analysis.stats import kendall_tau_b, spearman

    kept, va, vb = paired_values(cells, a, b)
    by_cond: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for cell, x, y in zip(kept, va, vb, strict=True):
        by_cond[cell.condition].append((x, y))
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
                "source": kept[i].source,
                "probe_id": kept[i].probe_id,
                "condition": kept[i].condition,
                "a": va[i],
                "b": vb[i],
                "z_gap": round(zb[i] - za[i], 4),
                "response": kept[i].response[:300],
            }
            for i in order[:top]
        ],
    }


def agreement_report(
    cells: Sequence[ScoredCell],
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
        _kept, va, vb = paired_values(cells, a, b, dimension=dim)
        res = agreement(va, vb, scale=scale, seed=seed, n_boot=n_boot)
        rows.append({"dimension": dim or "value", **res.as_dict()})
    return {"a": a, "b": b, "scale": list(scale) if scale else None, "seed": seed, "rows": rows}


def _clean(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 6)
