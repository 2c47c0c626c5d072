"""The report's numbers: per-condition descriptions, paired comparisons, per-probe
drivers, domains, incidence, cross-model, lineage and fine-tuning tables.

All statistics come from :mod:`lem.analysis.stats`; this module only decides *what* is
compared with what, over which probes, and in which (stable) order:

- a model's probe score under a condition is its sample-0 score, or with ``all_samples``
  the mean of its successful samples; failed generations are counted, never averaged;
- every non-baseline condition of a model is compared with that model's ``baseline`` over
  the probes scored under both (``n`` says how many);
- a fine-tuning pair (base, tuned) compares the tuned model's baseline with the base
  model's baseline, and the tuned with the base model under every kernel condition both
  have, each over the probes both models answered;
- paired deltas are rounded to 1e-9 (``lem.analysis.stats.paired_deltas``) before they are
  ranked, tested, compared with the band or listed;
- Holm's correction runs over every comparison of one scorer in the report (within-model
  and fine-tuning comparisons together), in the order they are listed, except comparisons
  whose deltas are all zero: they carry no evidence either way, so they are left out of the
  family (``holm_family: false``) and get no Holm p and no MDE. The family size ``m`` sets
  the MDE's level, ``alpha / m``;
- ``summary["methods"]`` names every method and rule behind these numbers.

The result is a plain, JSON-ready dict (see ``docs/REPORTS.md``) plus the per-probe score
arrays the plots need.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lem.errors import InputError
from lem.report.model import ResponseRecord, SourceInfo

__all__ = [
    "BASELINE",
    "INCIDENCE_SIGNALS",
    "REPORT_FORMAT",
    "Analysis",
    "ReportSettings",
    "analyse",
    "natural_key",
    "signal_weights",
]

BASELINE = "baseline"
REPORT_FORMAT = "lem-report/1"
INCIDENCE_SIGNALS: tuple[tuple[str, str], ...] = (
    ("degeneration", "degeneration"),
    ("compliance", "compliance_markers"),
    ("empty", "empty_broken"),
)
"""(report key, signal name): a response counts when the signal's value is > 0."""

_EPS = 1e-9


@dataclass(frozen=True)
class ReportSettings:
    """Every knob that changes a number in the report (all recorded in the summary)."""

    scorers: tuple[str, ...] = ("lek-v2",)
    band: float = 0.5
    seed: int = 0
    top: int = 10
    n_boot: int = 10_000
    level: float = 0.95
    alpha: float = 0.05
    power: float = 0.8
    all_samples: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The settings as recorded in ``summary.json``."""
        return {
            "scorers": list(self.scorers),
            "band": self.band,
            "seed": self.seed,
            "top": self.top,
            "n_boot": self.n_boot,
            "level": self.level,
            "alpha": self.alpha,
            "power": self.power,
            "all_samples": self.all_samples,
        }


@dataclass
class _Cell:
    """One (model, condition, probe): the mean over its successful samples."""

    total: float = 0.0
    count: int = 0
    signals: dict[str, float] = field(default_factory=dict)
    contrib: dict[str, float] = field(default_factory=dict)

    @property
    def score(self) -> float:
        """Mean over the probe's successful samples (the one score with sample 0 only)."""
        return self.total / self.count


@dataclass
class _ModelData:
    conditions: list[str] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)
    category: dict[str, str] = field(default_factory=dict)
    cells: dict[str, dict[str, _Cell]] = field(default_factory=dict)
    responses: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    incidence: dict[str, dict[str, int]] = field(default_factory=dict)
    has_signal: dict[str, bool] = field(default_factory=dict)

    def scores(self, cond: str) -> dict[str, float]:
        """Probe → score under ``cond``, in probe order, scored probes only."""
        cells = self.cells.get(cond, {})
        return {pid: cells[pid].score for pid in self.probes if pid in cells}


@dataclass
class Analysis:
    """The report's data: ``summary`` (JSON-ready, unrounded floats) and, per scorer,
    model and condition, the per-probe scores in probe order (for the plots)."""

    summary: dict[str, Any]
    scores: dict[str, dict[str, dict[str, list[float]]]]
    records: list[ResponseRecord]


def natural_key(text: str | None) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders embedded numbers numerically: v0.2 < v0.10, 1b < 12b."""
    if text is None:
        return ((2, 0),)
    parts = re.split(r"(\d+)", text.lower())
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p != "")


def signal_weights(scorer: str) -> dict[str, tuple[float, float | None]] | None:
    """(weight, cap) per signal for scorers whose score is a weighted sum of signals
    (``lek-v2``); None for any other scorer (drivers are then raw signal deltas)."""
    if scorer != "lek-v2":
        return None
    from lem.scoring.lek_v2 import lek_v2_definition

    out: dict[str, tuple[float, float | None]] = {}
    for sig in lek_v2_definition()["signals"]:
        cap = sig.get("cap")
        out[str(sig["name"])] = (float(sig["weight"]), None if cap is None else float(cap))
    return out


def _contributions(
    signals: Mapping[str, float], weights: Mapping[str, tuple[float, float | None]]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, (weight, cap) in weights.items():
        value = signals.get(name, 0.0) * weight
        out[name] = value if cap is None else min(value, cap)
    return out


def _collect(
    records: Iterable[ResponseRecord],
    scorer: str,
    models: Sequence[str],
    weights: Mapping[str, tuple[float, float | None]] | None,
) -> dict[str, _ModelData]:
    data = {m: _ModelData() for m in models}
    seen_probe: dict[str, set[str]] = {m: set() for m in models}
    seen_cond: dict[str, set[str]] = {m: set() for m in models}
    for rec in records:
        if rec.scorer != scorer:
            continue
        if rec.score is not None and not math.isfinite(rec.score):
            raise InputError(
                f"model {rec.model!r} probe {rec.probe_id!r} condition {rec.condition!r}: "
                f"{scorer} score is {rec.score}; scores must be finite numbers"
            )
        md = data[rec.model]
        if rec.probe_id not in seen_probe[rec.model]:
            seen_probe[rec.model].add(rec.probe_id)
            md.probes.append(rec.probe_id)
            md.category[rec.probe_id] = rec.category
        if rec.condition not in seen_cond[rec.model]:
            seen_cond[rec.model].add(rec.condition)
            md.conditions.append(rec.condition)
            md.incidence[rec.condition] = {key: 0 for key, _ in INCIDENCE_SIGNALS}
        cond = rec.condition
        if rec.score is None:
            md.failed[cond] = md.failed.get(cond, 0) + 1
            continue
        md.responses[cond] = md.responses.get(cond, 0) + 1
        counts = md.incidence[cond]
        for key, name in INCIDENCE_SIGNALS:
            value = rec.signals.get(name)
            if value is not None:
                md.has_signal[key] = True
                if value > 0:
                    counts[key] += 1
        cell = md.cells.setdefault(cond, {}).setdefault(rec.probe_id, _Cell())
        cell.total += rec.score
        cell.count += 1
        contrib = _contributions(rec.signals, weights) if weights is not None else {}
        for name, value in rec.signals.items():
            cell.signals[name] = cell.signals.get(name, 0.0) + value
        for name, value in contrib.items():
            cell.contrib[name] = cell.contrib.get(name, 0.0) + value
    for md in data.values():
        if BASELINE in md.conditions:
            md.conditions.remove(BASELINE)
            md.conditions.insert(0, BASELINE)
        for cells in md.cells.values():
            for cell in cells.values():
                if cell.count > 1:
                    cell.signals = {k: v / cell.count for k, v in cell.signals.items()}
                    cell.contrib = {k: v / cell.count for k, v in cell.contrib.items()}
    return data


def _drivers(a: _Cell, b: _Cell, use_weights: bool) -> list[list[Any]]:
    before = a.contrib if use_weights else a.signals
    after = b.contrib if use_weights else b.signals
    deltas = [
        (name, after.get(name, 0.0) - before.get(name, 0.0))
        for name in sorted(set(before) | set(after))
    ]
    kept = [(n, d) for n, d in deltas if abs(d) > _EPS]
    kept.sort(key=lambda nd: (-abs(nd[1]), nd[0]))
    return [[n, d] for n, d in kept]


@dataclass(frozen=True)
class _Spec:
    kind: str
    model_a: str
    cond_a: str
    model_b: str
    cond_b: str

    @property
    def id(self) -> str:
        """``MODEL: COND vs baseline`` within a model, ``TUNED vs BASE: COND`` for pairs."""
        if self.kind == "condition":
            return f"{self.model_b}: {self.cond_b} vs {self.cond_a}"
        return f"{self.model_b} vs {self.model_a}: {self.cond_b}"


@dataclass(frozen=True)
class _Paired:
    """One comparison's paired probes and scores, before any statistic."""

    spec: _Spec
    probes: list[str]
    a: np.ndarray[Any, np.dtype[np.float64]]
    b: np.ndarray[Any, np.dtype[np.float64]]

    @property
    def in_family(self) -> bool:
        """Whether the comparison joins the Holm family: some probe, some non-zero delta."""
        from lem.analysis.stats import paired_deltas

        return bool(self.probes) and bool(paired_deltas(self.a, self.b).any())


def _pair_up(spec: _Spec, data: Mapping[str, _ModelData]) -> _Paired:
    ma, mb = data[spec.model_a], data[spec.model_b]
    cells_a = ma.cells.get(spec.cond_a, {})
    cells_b = mb.cells.get(spec.cond_b, {})
    probes = [p for p in ma.probes if p in cells_a and p in cells_b]
    a = np.array([cells_a[p].score for p in probes], dtype=np.float64)
    b = np.array([cells_b[p].score for p in probes], dtype=np.float64)
    return _Paired(spec, probes, a, b)


def _compare(
    paired: _Paired,
    data: Mapping[str, _ModelData],
    settings: ReportSettings,
    use_weights: bool,
    family_size: int,
) -> dict[str, Any]:
    """One paired comparison over the probes both sides scored, with its top movers."""
    from lem.analysis.stats import paired_comparison, paired_deltas

    spec, probes, a, b = paired.spec, paired.probes, paired.a, paired.b
    ma = data[spec.model_a]
    cells_a = ma.cells.get(spec.cond_a, {})
    cells_b = data[spec.model_b].cells.get(spec.cond_b, {})
    in_family = paired.in_family
    base: dict[str, Any] = {
        "id": spec.id,
        "kind": spec.kind,
        "model_a": spec.model_a,
        "condition_a": spec.cond_a,
        "model_b": spec.model_b,
        "condition_b": spec.cond_b,
        "holm_family": in_family,
        "mde_note": None,
    }
    if not probes:
        return {**base, "n": 0, "stats": None, "p_holm": None, "regressions": [], "rescues": []}
    pc = paired_comparison(
        a,
        b,
        band=settings.band,
        seed=settings.seed,
        n_boot=settings.n_boot,
        level=settings.level,
        alpha=settings.alpha,
        power=settings.power,
        family_size=family_size,
    )
    if math.isnan(pc.mde):
        base["mde_note"] = "undefined: the deltas have no variance"
    elif math.isinf(pc.mde):
        base["mde_note"] = (
            f"unreachable: no Wilcoxon outcome at n = {pc.n} has p below α/m = {pc.mde_alpha:.3g}"
        )
    deltas = paired_deltas(a, b)
    rows = []
    for pid, x, y, d in zip(probes, a.tolist(), b.tolist(), deltas.tolist(), strict=True):
        rows.append(
            {
                "probe": pid,
                "category": ma.category.get(pid, ""),
                "a": x,
                "b": y,
                "delta": d,
            }
        )
    worst = sorted(
        (r for r in rows if r["delta"] < -settings.band), key=lambda r: (r["delta"], r["probe"])
    )[: settings.top]
    best = sorted(
        (r for r in rows if r["delta"] > settings.band), key=lambda r: (-r["delta"], r["probe"])
    )[: settings.top]
    for r in (*worst, *best):
        r["drivers"] = _drivers(cells_a[r["probe"]], cells_b[r["probe"]], use_weights)
    return {
        **base,
        "n": pc.n,
        "stats": _stats_dict(pc),
        "p_holm": None,
        "regressions": worst,
        "rescues": best,
    }


def _stats_dict(obj: Any) -> dict[str, Any]:
    """A stats dataclass as a dict of plain (unrounded) values; CI as {low, high, level}."""
    out: dict[str, Any] = {}
    for name in obj.__dataclass_fields__:
        value = getattr(obj, name)
        if hasattr(value, "__dataclass_fields__"):
            out[name] = _stats_dict(value)
        elif isinstance(value, float) and not math.isfinite(value):
            out[name] = None
        else:
            out[name] = value
    return out


def _describe(values: Sequence[float], settings: ReportSettings) -> dict[str, Any] | None:
    from lem.analysis.stats import describe

    if not values:
        return None
    d = describe(values, seed=settings.seed, n_boot=settings.n_boot, level=settings.level)
    return _stats_dict(d)


def _domains(md: _ModelData) -> dict[str, Any]:
    out: dict[str, Any] = {}
    domains = sorted(set(md.category.values()))
    base = md.cells.get(BASELINE, {})
    for dom in domains:
        pids = [p for p in md.probes if md.category[p] == dom]
        per: dict[str, Any] = {}
        for cond in md.conditions:
            cells = md.cells.get(cond, {})
            vals = [cells[p].score for p in pids if p in cells]
            row: dict[str, Any] = {"n": len(vals), "mean": _mean(vals)}
            if cond != BASELINE and base:
                deltas = [cells[p].score - base[p].score for p in pids if p in cells and p in base]
                row["delta"] = _mean(deltas)
                row["n_paired"] = len(deltas)
            per[cond] = row
        out[dom] = per
    return out


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _incidence(md: _ModelData) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cond in md.conditions:
        n = md.responses.get(cond, 0)
        row: dict[str, Any] = {"responses": n, "failed": md.failed.get(cond, 0)}
        for key, _ in INCIDENCE_SIGNALS:
            if not md.has_signal.get(key):
                row[key] = None
                continue
            count = md.incidence[cond][key]
            row[key] = {"count": count, "rate": count / n if n else None}
        out[cond] = row
    return out


def _resolve_pairs(
    pairs: Sequence[tuple[str, str]], sources: Sequence[SourceInfo], notes: list[str]
) -> list[tuple[str, str]]:
    labels = {s.model for s in sources}
    out: list[tuple[str, str]] = []
    for base, tuned in pairs:
        for label in (base, tuned):
            if label not in labels:
                known = ", ".join(sorted(labels))
                raise InputError(f"--pair {base}={tuned}: no model {label!r} (models: {known})")
        if (base, tuned) not in out:
            out.append((base, tuned))
    for s in sources:
        tagged = s.tags.get("base")
        if tagged is None:
            continue
        if str(tagged) not in labels:
            notes.append(f"{s.model}: base model {tagged!r} is not in this report; pair skipped")
        elif (str(tagged), s.model) not in out and str(tagged) != s.model:
            out.append((str(tagged), s.model))
    return out


def methods(settings: ReportSettings) -> dict[str, Any]:
    """Every method and rule behind the report's numbers, as recorded in ``summary.json``
    (each entry's ``rule`` is the sentence ``report.md`` prints)."""
    from lem.analysis import stats as st

    level = f"{100 * settings.level:g}%"
    return {
        "deltas": {
            "rounding_decimals": st.DELTA_DECIMALS,
            "band": settings.band,
            "rule": (
                "Δ = condition − baseline on the same probe (tuned − base for fine-tuning "
                f"pairs), rounded to 1e-{st.DELTA_DECIMALS} before anything is ranked, tested "
                f"or compared with the band, so ties in decimal scores stay ties. Improved: "
                f"Δ > {settings.band:g}; regressed: Δ < −{settings.band:g}; unchanged "
                f"otherwise (a Δ of exactly ±{settings.band:g} is unchanged)."
            ),
        },
        "ci": {
            "kind": "studentized-bootstrap",
            "symmetric": True,
            "resamples": settings.n_boot,
            "seed": settings.seed,
            "level": settings.level,
            "small_n_below": st.SMALL_N,
            "small_n_kind": "t",
            "rule": (
                f"{level} CIs of means and mean Δ: symmetric studentized bootstrap "
                f"(bootstrap-t), {settings.n_boot:,} resamples of probes (pairs resampled "
                f"together), seed {settings.seed}. Below {st.SMALL_N} probes: the t interval "
                "(mean ± t·sd/√n), marked †; none for a single probe."
            ),
        },
        "wilcoxon": {
            "zero_method": "wilcox",
            "continuity_correction": False,
            "exact_max_n": st.EXACT_MAX_N,
            "permutation_max_n": st.PERMUTATION_MAX_N,
            "rule": (
                "p: two-sided Wilcoxon signed-rank test on Δ; zero differences dropped "
                "(Wilcoxon's method); exact null distribution when n ≤ "
                f"{st.EXACT_MAX_N} with no ties and no zeros, exact sign-flip permutation "
                f"when n ≤ {st.PERMUTATION_MAX_N} with ties or zeros, otherwise the normal "
                "approximation with tie-corrected variance and no continuity correction "
                "(n counts zero differences)."
            ),
        },
        "holm": {
            "family": "every comparison of one scorer in this report",
            "excludes": "comparisons whose deltas are all zero",
            "alpha": settings.alpha,
            "rule": (
                "p Holm: Holm-adjusted over every comparison of one scorer in this report "
                "(within-model and fine-tuning together), except comparisons whose Δ are all "
                "zero: they carry no evidence either way and are left out of the family "
                "(shown as excl.)."
            ),
        },
        "effect_sizes": {
            "rule": (
                "dz = mean Δ / sd Δ, undefined (—) when sd Δ is 0; r_rb = (W+ − W−) / "
                "(W+ + W−) over the non-zero Δ."
            ),
        },
        "mde": {
            "test": "wilcoxon",
            "level": "alpha / m",
            "power": settings.power,
            "model": "normal deltas with the observed sd",
            "simulations": st.MDE_SIMULATIONS,
            "simulated_max_n": st.EXACT_MAX_N,
            "rule": (
                "MDE: the smallest true mean Δ the two-sided Wilcoxon test detects with "
                f"power {settings.power:g} at Holm's first-step level α/m (α "
                f"{settings.alpha:g}, m = comparisons in the family), for normal Δ with the "
                f"observed sd; simulated over {st.MDE_SIMULATIONS:,} data sets (seed "
                f"{settings.seed}) up to n = {st.EXACT_MAX_N}, Lehmann's normal approximation "
                "above. ∞: no outcome at this n reaches α/m; —: sd Δ is 0."
            ),
        },
    }


def analyse(
    records: Sequence[ResponseRecord],
    sources: Sequence[SourceInfo],
    settings: ReportSettings,
    *,
    pairs: Sequence[tuple[str, str]] = (),
    title: str = "lem report",
) -> Analysis:
    """Every number of the report, for every scorer in ``settings.scorers``."""
    from lem.analysis.stats import holm

    models = [s.model for s in sources]
    notes: list[str] = []
    pair_list = _resolve_pairs(pairs, sources, notes)
    all_conditions: list[str] = []
    per_scorer: dict[str, Any] = {}
    plot_scores: dict[str, dict[str, dict[str, list[float]]]] = {}
    for scorer in settings.scorers:
        weights = signal_weights(scorer)
        data = _collect(records, scorer, models, weights)
        for md in data.values():
            for cond in md.conditions:
                if cond not in all_conditions:
                    all_conditions.append(cond)
        model_out: dict[str, Any] = {}
        plot_scores[scorer] = {}
        specs: list[_Spec] = []
        for label in models:
            md = data[label]
            conds: dict[str, Any] = {}
            plot_scores[scorer][label] = {}
            for cond in md.conditions:
                vals = list(md.scores(cond).values())
                plot_scores[scorer][label][cond] = vals
                conds[cond] = {
                    "responses": md.responses.get(cond, 0),
                    "failed": md.failed.get(cond, 0),
                    "stats": _describe(vals, settings),
                }
            model_out[label] = {
                "probes": len(md.probes),
                "conditions": conds,
                "condition_order": list(md.conditions),
                "domains": _domains(md),
                "incidence": _incidence(md),
            }
            if BASELINE in md.conditions:
                specs += [
                    _Spec("condition", label, BASELINE, label, c)
                    for c in md.conditions
                    if c != BASELINE
                ]
        pair_out: list[dict[str, Any]] = []
        for base, tuned in pair_list:
            mb, mt = data[base], data[tuned]
            pair_specs: list[_Spec] = []
            if BASELINE in mb.conditions and BASELINE in mt.conditions:
                pair_specs.append(_Spec("finetune", base, BASELINE, tuned, BASELINE))
            pair_specs += [
                _Spec("finetune", base, c, tuned, c)
                for c in mt.conditions
                if c != BASELINE and c in mb.conditions
            ]
            specs += pair_specs
            realign = [
                _Spec("condition", tuned, BASELINE, tuned, c).id
                for c in mt.conditions
                if c != BASELINE and BASELINE in mt.conditions
            ]
            pair_out.append(
                {
                    "base": base,
                    "tuned": tuned,
                    "comparisons": [s.id for s in pair_specs],
                    "realignment": realign,
                }
            )
        paired: list[_Paired] = []
        seen: set[str] = set()
        for spec in specs:
            if spec.id in seen:
                continue
            seen.add(spec.id)
            paired.append(_pair_up(spec, data))
        family_size = sum(1 for p in paired if p.in_family)
        comparisons = [
            _compare(p, data, settings, weights is not None, max(family_size, 1)) for p in paired
        ]
        tested = [c for c in comparisons if c["holm_family"]]
        for comp, p in zip(tested, holm([c["stats"]["p_wilcoxon"] for c in tested]), strict=True):
            comp["p_holm"] = p
        excluded = [c["id"] for c in comparisons if c["stats"] is not None and not c["holm_family"]]
        per_scorer[scorer] = {
            "holm": {
                "family_size": family_size,
                "mde_alpha": settings.alpha / max(family_size, 1),
                "excluded_all_zero": excluded,
            },
            "drivers": "weighted" if weights is not None else "raw",
            "models": model_out,
            "comparisons": comparisons,
            "cross_model": _cross_model(models, model_out, comparisons, sources),
            "lineages": _lineages(sources, model_out, comparisons),
            "pairs": pair_out,
        }
    summary: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "title": title,
        "settings": settings.as_dict(),
        "methods": methods(settings),
        "sources": [_source_dict(s) for s in sources],
        "models": models,
        "conditions": _ordered_conditions(all_conditions),
        "scorers": per_scorer,
        "notes": notes,
    }
    return Analysis(summary=summary, scores=plot_scores, records=list(records))


def _ordered_conditions(conds: list[str]) -> list[str]:
    return ([BASELINE] if BASELINE in conds else []) + [c for c in conds if c != BASELINE]


def _source_dict(s: SourceInfo) -> dict[str, Any]:
    source = s.source
    if s.run_id is None:
        source = re.split(r"[\\/]", source)[-1]
    return {
        "model": s.model,
        "source": source,
        "run_id": s.run_id,
        "family": s.family,
        "version": s.version,
        "base": None if s.tags.get("base") is None else str(s.tags["base"]),
        "tags": {k: v for k, v in s.tags.items() if k != "base"},
    }


def _by_id(comparisons: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in comparisons}


def _cross_model(
    models: Sequence[str],
    model_out: Mapping[str, Any],
    comparisons: Sequence[dict[str, Any]],
    sources: Sequence[SourceInfo],
) -> list[dict[str, Any]]:
    by_id = _by_id(comparisons)
    info = {s.model: s for s in sources}
    rows: list[dict[str, Any]] = []
    for label in models:
        m = model_out[label]
        base = m["conditions"].get(BASELINE, {}).get("stats")
        conds: dict[str, Any] = {}
        for cond in m["condition_order"]:
            if cond == BASELINE:
                continue
            stats = m["conditions"][cond]["stats"]
            comp = by_id.get(_Spec("condition", label, BASELINE, label, cond).id)
            cstats = comp["stats"] if comp else None
            conds[cond] = {
                "mean": stats["mean"] if stats else None,
                "n": stats["n"] if stats else 0,
                "delta": cstats["mean_delta"] if cstats else None,
                "delta_ci": cstats["ci"] if cstats else None,
                "ci_method": cstats["ci_method"] if cstats else None,
                "n_paired": comp["n"] if comp else 0,
                "p_holm": comp["p_holm"] if comp else None,
                "holm_family": comp["holm_family"] if comp else False,
                "comparison": comp["id"] if comp else None,
            }
        rows.append(
            {
                "model": label,
                "family": info[label].family,
                "version": info[label].version,
                "probes": m["probes"],
                "baseline": base,
                "conditions": conds,
            }
        )
    rows.sort(
        key=lambda r: (
            r["baseline"] is None,
            -(r["baseline"]["mean"] if r["baseline"] else 0.0),
            r["model"],
        )
    )
    return rows


def _lineages(
    sources: Sequence[SourceInfo],
    model_out: Mapping[str, Any],
    comparisons: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    by_id = _by_id(comparisons)
    families: dict[str, list[SourceInfo]] = {}
    for s in sources:
        if s.family:
            families.setdefault(s.family, []).append(s)
    out: dict[str, Any] = {}
    for family in sorted(families):
        members = sorted(families[family], key=lambda s: (natural_key(s.version), s.model))
        rows = []
        for s in members:
            m = model_out[s.model]
            base = m["conditions"].get(BASELINE, {}).get("stats")
            conds = {}
            for cond in m["condition_order"]:
                stats = m["conditions"][cond]["stats"]
                comp = by_id.get(_Spec("condition", s.model, BASELINE, s.model, cond).id)
                cstats = comp["stats"] if comp else None
                conds[cond] = {
                    "mean": stats["mean"] if stats else None,
                    "delta": cstats["mean_delta"] if cstats else None,
                    "delta_ci": cstats["ci"] if cstats else None,
                    "ci_method": cstats["ci_method"] if cstats else None,
                    "n_paired": comp["n"] if comp else 0,
                    "p_holm": comp["p_holm"] if comp else None,
                }
            rows.append(
                {
                    "model": s.model,
                    "version": s.version,
                    "baseline": base["mean"] if base else None,
                    "conditions": conds,
                }
            )
        out[family] = rows
    return out
