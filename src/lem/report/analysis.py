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
- when a model's probes have families (a probe and its rephrasings), each of its kernel
  conditions vs baseline is also analysed with the family as the unit
  (:func:`lem.analysis.families.family_analysis`: cluster bootstrap over families, sign
  consistency, effects that flip with wording) in the ``paraphrase`` section;
- the summary's ``methods`` name every method and rule behind these numbers.

The result is a :class:`~lem.report.summary.ReportSummary` (``summary.json``'s model, see
``docs/REPORTS.md``) plus the per-probe score arrays the plots need.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lem.defaults import BASELINE, DEFAULT_SCORER
from lem.errors import InputError
from lem.numfmt import fmt_sig
from lem.report.model import ResponseRecord, SourceInfo
from lem.report.summary import CI as SummaryCI
from lem.report.summary import (
    REPORT_FORMAT,
    CIMethod,
    Comparison,
    ComparisonKind,
    ConditionCell,
    CrossModelCell,
    CrossModelRow,
    DeltasMethod,
    Description,
    DomainCell,
    DomainDeltaCell,
    Driver,
    EarlyComparison,
    EarlyScorer,
    EarlyStats,
    EarlySummary,
    EffectSizesMethod,
    HolmMethod,
    HolmSummary,
    IncidenceRow,
    LineageCell,
    LineageRow,
    MDEMethod,
    Methods,
    ModelSummary,
    Mover,
    PairedStats,
    PairSummary,
    ParaphraseComparison,
    ParaphraseFamily,
    ParaphraseMethod,
    PlotFiles,
    ReportSummary,
    ScorerSummary,
    SettingsSummary,
    SourceSummary,
    WilcoxonMethod,
    condition_comparison_id,
)

__all__ = [
    "DELTA_DECIMALS",
    "INCIDENCE_SIGNALS",
    "REPORT_FORMAT",
    "Analysis",
    "PairedDeltas",
    "Prepared",
    "ReportSettings",
    "analyse",
    "finish",
    "mean_score",
    "natural_key",
    "paired_delta_stats",
    "paired_deltas",
    "prepare",
    "signal_weights",
]

INCIDENCE_SIGNALS: tuple[tuple[str, str], ...] = (
    ("degeneration", "degeneration"),
    ("compliance", "compliance_markers"),
    ("empty", "empty_broken"),
)
"""(report key, signal name): a response counts when the signal's value is > 0 (the keys
are :class:`~lem.report.summary.IncidenceRow`'s fields)."""

_EPS = 1e-9


@dataclass(frozen=True)
class ReportSettings:
    """Every knob that changes a number in the report (all recorded in the summary)."""

    scorers: tuple[str, ...] = (DEFAULT_SCORER,)
    band: float = 0.5
    seed: int = 0
    top: int = 10
    n_boot: int = 10_000
    level: float = 0.95
    alpha: float = 0.05
    power: float = 0.8
    all_samples: bool = False

    def as_summary(self) -> SettingsSummary:
        """The settings as recorded in the summary."""
        return SettingsSummary(
            scorers=list(self.scorers),
            band=self.band,
            seed=self.seed,
            top=self.top,
            n_boot=self.n_boot,
            level=self.level,
            alpha=self.alpha,
            power=self.power,
            all_samples=self.all_samples,
        )


@dataclass
class _Cell:
    """One (model, condition, probe): the mean over its successful samples. Signal means
    and score contributions are computed on demand (only the probes listed as regressions
    or rescues need them)."""

    total: float = 0.0
    count: int = 0
    samples: list[Mapping[str, float]] = field(default_factory=list)
    _contrib: dict[str, float] | None = None

    @property
    def score(self) -> float:
        """Mean over the probe's successful samples (the one score with sample 0 only)."""
        return self.total / self.count

    def _average(self, rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
        out: dict[str, float] = {}
        for row in rows:
            for name, value in row.items():
                out[name] = out.get(name, 0.0) + value
        if self.count > 1:
            out = {k: v / self.count for k, v in out.items()}
        return out

    def signals(self) -> dict[str, float]:
        """Each signal's mean over the samples."""
        return self._average(self.samples)

    def contrib(self, contributions: Contributions) -> dict[str, float]:
        """Each signal's mean score contribution, as the scorer computes it per sample
        (computed once per cell)."""
        if self._contrib is None:
            self._contrib = self._average(contributions(row) for row in self.samples)
        return self._contrib


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
    """The report's data: ``summary`` (unrounded floats) and, per scorer, model and
    condition, the per-probe scores in probe order (for the plots)."""

    summary: ReportSummary
    scores: dict[str, dict[str, dict[str, list[float]]]]
    records: list[ResponseRecord]


DELTA_DECIMALS = 9
"""Decimals paired deltas are rounded to (:data:`lem.analysis.stats.DELTA_DECIMALS`)."""


def paired_deltas(a: Any, b: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """``b - a`` rounded to 1e-9, ``-0.0`` made ``0.0``: exactly
    :func:`lem.analysis.stats.paired_deltas` (tests check), without importing scipy, so the
    report can collect its data and start drawing while the statistics module loads."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    out: np.ndarray[Any, np.dtype[np.float64]] = np.round(y - x, DELTA_DECIMALS) + 0.0
    return out


def mean_score(values: Sequence[float]) -> float | None:
    """The mean the report prints for ``values`` (None when empty): the value itself when all
    values are equal, else numpy's mean, exactly as :func:`lem.analysis.stats.describe`
    computes it. ``lem ab``'s terminal summary uses it too, so both print the same string."""
    if not len(values):
        return None
    return _mean_of(np.asarray(values, dtype=np.float64))


def _mean_of(x: np.ndarray[Any, np.dtype[np.float64]]) -> float:
    return float(x[0]) if x.min() == x.max() else float(x.mean())


@dataclass(frozen=True)
class PairedDeltas:
    """A paired comparison's descriptive part: ``n`` pairs, mean Δ and the band counts."""

    n: int
    mean: float | None
    improved: int
    regressed: int
    unchanged: int


def paired_delta_stats(a: Sequence[float], b: Sequence[float], band: float = 0.5) -> PairedDeltas:
    """Mean paired Δ (``b - a`` per probe, rounded to 1e-9 as every report delta) and the
    improved/regressed/unchanged counts beyond ``band``: the numbers ``report.md`` prints
    for the same pairs (:func:`lem.analysis.stats.paired_comparison`)."""
    if not len(a):
        return PairedDeltas(0, None, 0, 0, 0)
    d = paired_deltas(a, b)
    improved = int(np.count_nonzero(d > band))
    regressed = int(np.count_nonzero(d < -band))
    n = int(d.size)
    return PairedDeltas(n, _mean_of(d), improved, regressed, n - improved - regressed)


def natural_key(text: str | None) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders embedded numbers numerically: v0.2 < v0.10, 1b < 12b."""
    if text is None:
        return ((2, 0),)
    parts = re.split(r"(\d+)", text.lower())
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p != "")


Contributions = Callable[[Mapping[str, float]], dict[str, float]]


def signal_weights(scorer: str) -> Contributions | None:
    """The scorer's own :meth:`~lem.scoring.base.Scorer.contributions` when its value is a
    sum of signal contributions; None otherwise (drivers are then raw signal deltas)."""
    from lem.scoring.base import default_scorer

    instance = default_scorer(scorer)
    if instance is None or not instance.contributions({}):
        return None
    return instance.contributions


def _collect(
    records: Iterable[ResponseRecord], scorer: str, models: Sequence[str]
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
        cell.samples.append(rec.signals)
    for md in data.values():
        if BASELINE in md.conditions:
            md.conditions.remove(BASELINE)
            md.conditions.insert(0, BASELINE)
    return data


def _drivers(a: _Cell, b: _Cell, weights: Contributions | None) -> list[Driver]:
    before = a.contrib(weights) if weights is not None else a.signals()
    after = b.contrib(weights) if weights is not None else b.signals()
    deltas = [
        (name, after.get(name, 0.0) - before.get(name, 0.0))
        for name in sorted(set(before) | set(after))
    ]
    kept = [(n, d) for n, d in deltas if abs(d) > _EPS]
    kept.sort(key=lambda nd: (-abs(nd[1]), nd[0]))
    return kept


@dataclass(frozen=True)
class _Spec:
    kind: ComparisonKind
    model_a: str
    cond_a: str
    model_b: str
    cond_b: str

    @property
    def id(self) -> str:
        """``MODEL: COND vs baseline`` within a model, ``TUNED vs BASE: COND`` for pairs."""
        if self.kind == "condition":
            return condition_comparison_id(self.model_b, self.cond_b)
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
    weights: Contributions | None,
    pc: Any | None,
    p_holm: float | None,
) -> Comparison:
    """One paired comparison over the probes both sides scored, with its top movers
    (``pc``: its :func:`paired_stats`, None without probes; ``p_holm``: its Holm-adjusted
    p, None outside the family)."""
    spec, probes, a, b = paired.spec, paired.probes, paired.a, paired.b
    ma = data[spec.model_a]
    cells_a = ma.cells.get(spec.cond_a, {})
    cells_b = data[spec.model_b].cells.get(spec.cond_b, {})
    worst: list[Mover] = []
    best: list[Mover] = []
    mde_note = None
    if pc is not None:
        if math.isnan(pc.mde):
            mde_note = "undefined: the deltas have no variance"
        elif math.isinf(pc.mde):
            mde_note = (
                f"unreachable: no Wilcoxon outcome at n = {pc.n} has p below "
                f"α/m = {fmt_sig(pc.mde_alpha)}"
            )
        deltas = paired_deltas(a, b)
        rows = list(zip(deltas.tolist(), probes, a.tolist(), b.tolist(), strict=True))
        band = settings.band

        def movers(picked: Iterable[tuple[float, str, float, float]]) -> list[Mover]:
            return [
                Mover(
                    probe=pid,
                    category=ma.category.get(pid, ""),
                    a=x,
                    b=y,
                    delta=d,
                    drivers=_drivers(cells_a[pid], cells_b[pid], weights),
                )
                for d, pid, x, y in picked
            ]

        worst = movers(
            sorted((r for r in rows if r[0] < -band), key=lambda r: (r[0], r[1]))[: settings.top]
        )
        best = movers(
            sorted((r for r in rows if r[0] > band), key=lambda r: (-r[0], r[1]))[: settings.top]
        )
    return Comparison(
        id=spec.id,
        kind=spec.kind,
        model_a=spec.model_a,
        condition_a=spec.cond_a,
        model_b=spec.model_b,
        condition_b=spec.cond_b,
        holm_family=paired.in_family,
        mde_note=mde_note,
        n=0 if pc is None else pc.n,
        stats=None if pc is None else PairedStats.model_validate(_stats_dict(pc)),
        p_holm=p_holm,
        regressions=worst,
        rescues=best,
    )


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


class _CIBatch:
    """Every mean CI of a report, computed together: the vectors are collected first and
    the studentized bootstrap runs once per vector length over all of them
    (:func:`lem.analysis.stats.studentized_rows` with the same seeded index matrix
    :func:`~lem.analysis.stats.mean_ci` draws). Each interval is bit for bit the one
    ``mean_ci`` gives for the vector alone (``tests/test_report.py`` checks); one call per
    length instead of one per vector makes the statistics of a 180-model report several
    times faster."""

    def __init__(self, settings: ReportSettings) -> None:
        self.settings = settings
        self.vectors: list[np.ndarray[Any, np.dtype[np.float64]]] = []
        self.results: list[tuple[Any, str]] = []

    def add(self, values: Any) -> int:
        """Queue ``values`` (non-empty, finite); returns its index in :attr:`results`."""
        self.vectors.append(np.asarray(values, dtype=np.float64))
        return len(self.vectors) - 1

    def run(self) -> list[tuple[Any, str]]:
        """Compute every queued CI: ``(CI, ci_method)`` per vector, in queue order."""
        from numpy.random import PCG64, Generator

        from lem.analysis.stats import CI, SMALL_N, studentized_rows, t_interval

        s = self.settings
        out: list[tuple[Any, str] | None] = [None] * len(self.vectors)
        by_n: dict[int, list[int]] = {}
        for i, x in enumerate(self.vectors):
            if x.size < SMALL_N:
                out[i] = (t_interval(x, level=s.level), "t")
            elif x.min() == x.max():
                out[i] = (CI(float(x[0]), float(x[0]), s.level), "studentized-bootstrap")
            else:
                by_n.setdefault(int(x.size), []).append(i)
        for n, members in by_n.items():
            idx = Generator(PCG64(s.seed)).integers(0, n, size=(s.n_boot, n))
            rows = np.stack([self.vectors[i] for i in members])
            low, high = studentized_rows(rows, idx, s.level)
            for i, lo, hi in zip(members, low.tolist(), high.tolist(), strict=True):
                out[i] = (CI(lo, hi, s.level), "studentized-bootstrap")
        self.results = [r for r in out if r is not None]
        return self.results


def _sd(x: np.ndarray[Any, np.dtype[np.float64]]) -> float:
    if x.size < 2 or x.min() == x.max():
        return 0.0
    return float(x.std(ddof=1))


def description(values: Any, ci: tuple[Any, str]) -> Any:
    """:func:`lem.analysis.stats.describe` of ``values`` with its CI already computed."""
    from lem.analysis import stats as st

    x = np.asarray(values, dtype=np.float64)
    return st.Description(
        n=int(x.size),
        mean=_mean_of(x),
        median=float(np.median(x)),
        sd=_sd(x),
        ci=ci[0],
        ci_method=ci[1],
    )


def paired_stats(
    a: Any, b: Any, ci: tuple[Any, str], settings: ReportSettings, family_size: int
) -> Any:
    """:func:`lem.analysis.stats.paired_comparison` with the CI of the mean delta already
    computed (``ci``, of ``paired_deltas(a, b)``); every other field is computed here by the
    stats module's own functions."""
    from lem.analysis import stats as st

    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    d = st.paired_deltas(x, y)
    n = int(d.size)
    sd_delta = _sd(d)
    improved = int(np.count_nonzero(d > settings.band))
    regressed = int(np.count_nonzero(d < -settings.band))
    mde_alpha = settings.alpha / int(family_size)
    return st.PairedComparison(
        n=n,
        mean_a=_mean_of(x),
        mean_b=_mean_of(y),
        mean_delta=_mean_of(d),
        ci=ci[0],
        ci_method=ci[1],
        p_wilcoxon=st.wilcoxon_signed_rank(d),
        dz=st.cohens_dz(d),
        rank_biserial=st.rank_biserial(d),
        improved=improved,
        regressed=regressed,
        unchanged=n - improved - regressed,
        mde=st.mde_wilcoxon(sd_delta, n, alpha=mde_alpha, power=settings.power, seed=settings.seed),
        mde_alpha=mde_alpha,
        sd_delta=sd_delta,
    )


def _domains(md: _ModelData) -> dict[str, dict[str, DomainCell | DomainDeltaCell]]:
    """Per domain and condition: the mean score and (kernel conditions) the mean paired Δ
    from baseline, computed as every other mean and Δ of the report."""
    base = md.cells.get(BASELINE, {})
    deltas: dict[str, dict[str, float]] = {}
    for cond in md.conditions:
        cells = md.cells.get(cond, {})
        if cond == BASELINE or not base:
            continue
        both = [p for p in md.probes if p in cells and p in base]
        d = paired_deltas([base[p].score for p in both], [cells[p].score for p in both])
        deltas[cond] = dict(zip(both, d.tolist(), strict=True)) if both else {}
    out: dict[str, dict[str, DomainCell | DomainDeltaCell]] = {}
    for dom in sorted(set(md.category.values())):
        pids = [p for p in md.probes if md.category[p] == dom]
        per: dict[str, DomainCell | DomainDeltaCell] = {}
        for cond in md.conditions:
            cells = md.cells.get(cond, {})
            vals = [cells[p].score for p in pids if p in cells]
            if cond in deltas:
                ds = [deltas[cond][p] for p in pids if p in deltas[cond]]
                per[cond] = DomainDeltaCell(
                    n=len(vals), mean=mean_score(vals), delta=mean_score(ds), n_paired=len(ds)
                )
            else:
                per[cond] = DomainCell(n=len(vals), mean=mean_score(vals))
        out[dom] = per
    return out


def _incidence(md: _ModelData) -> dict[str, IncidenceRow]:
    out: dict[str, IncidenceRow] = {}
    for cond in md.conditions:
        n = md.responses.get(cond, 0)
        row: dict[str, Any] = {"responses": n, "failed": md.failed.get(cond, 0)}
        for key, _ in INCIDENCE_SIGNALS:
            if not md.has_signal.get(key):
                row[key] = None
                continue
            count = md.incidence[cond][key]
            row[key] = {"count": count, "rate": count / n if n else None}
        out[cond] = IncidenceRow.model_validate(row)
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


def paraphrase_method(settings: ReportSettings) -> ParaphraseMethod:
    """The paraphrase-robustness method and the rule ``report.md`` prints for it."""
    level = f"{100 * settings.level:g}%"
    band = f"{settings.band:g}"
    return ParaphraseMethod(
        unit="family",
        interval="cluster-bootstrap-percentile",
        resamples=settings.n_boot,
        seed=settings.seed,
        level=settings.level,
        band=settings.band,
        rule=(
            "Paraphrase robustness: a family is a probe and its rephrasings, whose Δ are not "
            "independent evidence. Family-level Δ = the mean over families of each family's "
            f"mean Δ (a probe without a family is a family of one); its {level} CI is a "
            f"cluster bootstrap: {settings.n_boot:,} resamples of the families with "
            "replacement, each with all its members, percentile interval, seed "
            f"{settings.seed}. Beside it, the probe-level CI resamples probes as if "
            "independent (percentile, same resamples). Design effect = var(family mean Δ) / F "
            "over var(Δ) / n (the two estimates' exact bootstrap variances). Sign "
            "consistency: the share of a family's members whose Δ has the family's majority "
            "sign (+, − or 0: a zero Δ agrees with neither direction). A family flips with "
            f"wording when one member's Δ > {band} and another's < −{band}."
        ),
    )


def methods(settings: ReportSettings, *, paraphrase: bool = False) -> Methods:
    """Every method and rule behind the report's numbers, as recorded in ``summary.json``
    (each entry's ``rule`` is the sentence ``report.md`` prints); ``paraphrase`` adds the
    paraphrase-robustness method."""
    from lem.analysis import stats as st

    level = f"{100 * settings.level:g}%"
    return Methods(
        paraphrase=paraphrase_method(settings) if paraphrase else None,
        deltas=DeltasMethod(
            rounding_decimals=st.DELTA_DECIMALS,
            band=settings.band,
            rule=(
                "Δ = condition − baseline on the same probe (tuned − base for fine-tuning "
                f"pairs), rounded to 1e-{st.DELTA_DECIMALS} before anything is ranked, tested "
                f"or compared with the band, so ties in decimal scores stay ties. Improved: "
                f"Δ > {settings.band:g}; regressed: Δ < −{settings.band:g}; unchanged "
                f"otherwise (a Δ of exactly ±{settings.band:g} is unchanged)."
            ),
        ),
        ci=CIMethod(
            kind="studentized-bootstrap",
            symmetric=True,
            resamples=settings.n_boot,
            seed=settings.seed,
            level=settings.level,
            small_n_below=st.SMALL_N,
            small_n_kind="t",
            rule=(
                f"{level} CIs of means and mean Δ: symmetric studentized bootstrap "
                f"(bootstrap-t), {settings.n_boot:,} resamples of probes (pairs resampled "
                f"together), seed {settings.seed}. Below {st.SMALL_N} probes: the t interval "
                "(mean ± t·sd/√n), marked †; none for a single probe."
            ),
        ),
        wilcoxon=WilcoxonMethod(
            zero_method="wilcox",
            continuity_correction=False,
            exact_max_n=st.EXACT_MAX_N,
            permutation_max_n=st.PERMUTATION_MAX_N,
            rule=(
                "p: two-sided Wilcoxon signed-rank test on Δ; zero differences dropped "
                "(Wilcoxon's method); exact null distribution when n ≤ "
                f"{st.EXACT_MAX_N} with no ties and no zeros, exact sign-flip permutation "
                f"when n ≤ {st.PERMUTATION_MAX_N} with ties or zeros, otherwise the normal "
                "approximation with tie-corrected variance and no continuity correction "
                "(n counts zero differences)."
            ),
        ),
        holm=HolmMethod(
            family="every comparison of one scorer in this report",
            excludes="comparisons whose deltas are all zero",
            alpha=settings.alpha,
            rule=(
                "p Holm: Holm-adjusted over every comparison of one scorer in this report "
                "(within-model and fine-tuning together), except comparisons whose Δ are all "
                "zero: they carry no evidence either way and are left out of the family "
                "(shown as excl.)."
            ),
        ),
        effect_sizes=EffectSizesMethod(
            rule=(
                "dz = mean Δ / sd Δ, undefined (—) when sd Δ is 0; r_rb = (W+ − W−) / "
                "(W+ + W−) over the non-zero Δ."
            ),
        ),
        mde=MDEMethod(
            test="wilcoxon",
            level="alpha / m",
            power=settings.power,
            model="normal deltas with the observed sd",
            simulations=st.MDE_SIMULATIONS,
            simulated_max_n=st.EXACT_MAX_N,
            rule=(
                "MDE: the smallest true mean Δ the two-sided Wilcoxon test detects with "
                f"power {settings.power:g} at Holm's first-step level α/m (α "
                f"{settings.alpha:g}, m = comparisons in the family), for normal Δ with the "
                f"observed sd; simulated over {st.MDE_SIMULATIONS:,} data sets (seed "
                f"{settings.seed}) up to n = {st.EXACT_MAX_N}, Lehmann's normal approximation "
                "above. ∞: no outcome at this n reaches α/m; —: sd Δ is 0."
            ),
        ),
    )


@dataclass
class _ScorerPrep:
    """One scorer's data before any statistic."""

    data: dict[str, _ModelData]
    weights: Contributions | None
    model_out: dict[str, ModelSummary]
    scores: dict[str, dict[str, list[float]]]
    paired: list[_Paired]
    pairs: list[PairSummary]


@dataclass
class Prepared:
    """The report's data after collection, before the statistics (which import scipy):
    enough for the plots that need no statistic (:meth:`early_summary`)."""

    records: list[ResponseRecord]
    sources: list[SourceInfo]
    settings: ReportSettings
    title: str
    notes: list[str]
    conditions: list[str]
    scorers: dict[str, _ScorerPrep]
    probe_families: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def scores(self) -> dict[str, dict[str, dict[str, list[float]]]]:
        """Per scorer, model and condition: the per-probe scores in probe order."""
        return {name: prep.scores for name, prep in self.scorers.items()}

    def early_summary(self) -> EarlySummary:
        """The part of the summary known before the statistics: settings, models,
        conditions and per scorer each model (without descriptions) and each comparison's
        id, sides and mean Δ (``stats`` None without probes)."""
        scorers: dict[str, EarlyScorer] = {}
        for name, prep in self.scorers.items():
            comps = [
                EarlyComparison(
                    id=p.spec.id,
                    kind=p.spec.kind,
                    model_b=p.spec.model_b,
                    condition_b=p.spec.cond_b,
                    stats=(
                        EarlyStats(mean_delta=_mean_of(paired_deltas(p.a, p.b)))
                        if p.probes
                        else None
                    ),
                )
                for p in prep.paired
            ]
            scorers[name] = EarlyScorer(models=prep.model_out, comparisons=comps)
        return EarlySummary(
            settings=self.settings.as_summary(),
            models=[s.model for s in self.sources],
            conditions=list(self.conditions),
            scorers=scorers,
        )


def prepare(
    records: Sequence[ResponseRecord],
    sources: Sequence[SourceInfo],
    settings: ReportSettings,
    *,
    pairs: Sequence[tuple[str, str]] = (),
    title: str = "lem report",
    probe_families: Mapping[str, Mapping[str, str]] | None = None,
) -> Prepared:
    """Collect every scorer's cells, domains, incidence and paired probes (numpy only).

    ``probe_families``: per model label, probe id → family (the paraphrase section)."""
    models = [s.model for s in sources]
    notes: list[str] = []
    pair_list = _resolve_pairs(pairs, sources, notes)
    all_conditions: list[str] = []
    preps: dict[str, _ScorerPrep] = {}
    for scorer in settings.scorers:
        weights = signal_weights(scorer)
        data = _collect(records, scorer, models)
        for md in data.values():
            for cond in md.conditions:
                if cond not in all_conditions:
                    all_conditions.append(cond)
        model_out: dict[str, ModelSummary] = {}
        scores: dict[str, dict[str, list[float]]] = {}
        specs: list[_Spec] = []
        for label in models:
            md = data[label]
            conds: dict[str, ConditionCell] = {}
            scores[label] = {}
            for cond in md.conditions:
                scores[label][cond] = list(md.scores(cond).values())
                conds[cond] = ConditionCell(
                    responses=md.responses.get(cond, 0),
                    failed=md.failed.get(cond, 0),
                    stats=None,
                )
            model_out[label] = ModelSummary(
                probes=len(md.probes),
                conditions=conds,
                condition_order=list(md.conditions),
                domains=_domains(md),
                incidence=_incidence(md),
            )
            if BASELINE in md.conditions:
                specs += [
                    _Spec("condition", label, BASELINE, label, c)
                    for c in md.conditions
                    if c != BASELINE
                ]
        pair_out: list[PairSummary] = []
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
                PairSummary(
                    base=base,
                    tuned=tuned,
                    comparisons=[s.id for s in pair_specs],
                    realignment=realign,
                )
            )
        paired: list[_Paired] = []
        seen: set[str] = set()
        for spec in specs:
            if spec.id in seen:
                continue
            seen.add(spec.id)
            paired.append(_pair_up(spec, data))
        preps[scorer] = _ScorerPrep(data, weights, model_out, scores, paired, pair_out)
    return Prepared(
        records=list(records),
        sources=list(sources),
        settings=settings,
        title=title,
        notes=notes,
        conditions=_ordered_conditions(all_conditions),
        scorers=preps,
        probe_families={
            label: dict(fams)
            for label, fams in (probe_families or {}).items()
            if fams and label in models
        },
    )


def finish(prep: Prepared, plots: Mapping[str, Mapping[str, PlotFiles]] | None = None) -> Analysis:
    """The statistics over prepared data: every number of the report (``plots``: per
    scorer, the figures the report has, :func:`lem.report.plots.plan_plots`)."""
    from lem.analysis.stats import holm
    from lem.report.axes import ablation_tables, echo_checks, placement_tables

    settings, sources = prep.settings, prep.sources
    models = [s.model for s in sources]
    per_scorer: dict[str, ScorerSummary] = {}
    for scorer, sp in prep.scorers.items():
        data, weights, paired = sp.data, sp.weights, sp.paired
        batch = _CIBatch(settings)
        described: list[tuple[str, str, list[float], int]] = []
        for label in models:
            for cond in sp.model_out[label].conditions:
                vals = sp.scores[label][cond]
                if vals:
                    described.append((label, cond, vals, batch.add(vals)))
        family_size = sum(1 for p in paired if p.in_family)
        delta_ci = [batch.add(paired_deltas(p.a, p.b)) if p.probes else None for p in paired]
        cis = batch.run()
        stats: dict[tuple[str, str], Description] = {
            (label, cond): Description.model_validate(_stats_dict(description(vals, cis[i])))
            for label, cond, vals, i in described
        }
        model_out: dict[str, ModelSummary] = {}
        for label in models:
            m = sp.model_out[label]
            conds = {
                cond: cell.model_copy(update={"stats": stats.get((label, cond))})
                for cond, cell in m.conditions.items()
            }
            model_out[label] = m.model_copy(update={"conditions": conds})
        size = max(family_size, 1)
        pcs = [
            None if i is None else paired_stats(p.a, p.b, cis[i], settings, size)
            for p, i in zip(paired, delta_ci, strict=True)
        ]
        tested = [
            (k, pc)
            for k, (p, pc) in enumerate(zip(paired, pcs, strict=True))
            if p.in_family and pc is not None
        ]
        adjusted = holm([pc.p_wilcoxon for _, pc in tested])
        p_holm = {k: p for (k, _), p in zip(tested, adjusted, strict=True)}
        comparisons = [
            _compare(p, data, settings, weights, pc, p_holm.get(k))
            for k, (p, pc) in enumerate(zip(paired, pcs, strict=True))
        ]
        excluded = [c.id for c in comparisons if c.stats is not None and not c.holm_family]
        paraphrase = _paraphrase(paired, prep.probe_families, settings)
        per_model = {label: md.conditions for label, md in data.items()}
        ablation = ablation_tables(data, per_model, comparisons, settings)
        placements = placement_tables(data, per_model, comparisons, prep.records, sources, scorer)
        per_scorer[scorer] = ScorerSummary(
            holm=HolmSummary(
                family_size=family_size,
                mde_alpha=settings.alpha / size,
                excluded_all_zero=excluded,
            ),
            drivers="weighted" if weights is not None else "raw",
            models=model_out,
            comparisons=comparisons,
            cross_model=_cross_model(models, model_out, comparisons, sources),
            lineages=_lineages(sources, model_out, comparisons),
            pairs=sp.pairs,
            plots=dict((plots or {}).get(scorer, {})),
            paraphrase=paraphrase or None,
            ablation=ablation or None,
            placements=placements or None,
        )
    for plain_id, checks in echo_checks(per_scorer).items():
        per_scorer[plain_id] = per_scorer[plain_id].model_copy(update={"echo": checks})
    has_families = any(s.paraphrase for s in per_scorer.values())
    summary = ReportSummary(
        format=REPORT_FORMAT,
        title=prep.title,
        settings=settings.as_summary(),
        methods=methods(settings, paraphrase=has_families),
        sources=[_source_summary(s) for s in sources],
        models=models,
        conditions=list(prep.conditions),
        scorers=per_scorer,
        notes=prep.notes,
    )
    return Analysis(summary=summary, scores=prep.scores, records=prep.records)


def analyse(
    records: Sequence[ResponseRecord],
    sources: Sequence[SourceInfo],
    settings: ReportSettings,
    *,
    pairs: Sequence[tuple[str, str]] = (),
    title: str = "lem report",
    probe_families: Mapping[str, Mapping[str, str]] | None = None,
) -> Analysis:
    """Every number of the report, for every scorer in ``settings.scorers``."""
    return finish(
        prepare(records, sources, settings, pairs=pairs, title=title, probe_families=probe_families)
    )


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _ci_model(ci: Any) -> SummaryCI:
    """A :class:`lem.analysis.stats.CI` as the summary's CI (NaN bounds as None)."""
    return SummaryCI(low=_finite_or_none(ci.low), high=_finite_or_none(ci.high), level=ci.level)


def _paraphrase(
    paired: Sequence[_Paired],
    probe_families: Mapping[str, Mapping[str, str]],
    settings: ReportSettings,
) -> list[ParaphraseComparison]:
    """The paraphrase section: each within-model kernel comparison of a model with probe
    families, over its paired probes, the family as the unit (comparisons whose paired
    probes have no family are left out)."""
    from lem.analysis.families import family_analysis

    out: list[ParaphraseComparison] = []
    for p in paired:
        families = probe_families.get(p.spec.model_b)
        if p.spec.kind != "condition" or not families or not p.probes:
            continue
        labels = [families.get(pid) for pid in p.probes]
        if all(label is None for label in labels):
            continue
        fa = family_analysis(
            paired_deltas(p.a, p.b),
            labels,
            probes=p.probes,
            band=settings.band,
            seed=settings.seed,
            n_boot=settings.n_boot,
            level=settings.level,
        )
        out.append(
            ParaphraseComparison(
                comparison=p.spec.id,
                model=p.spec.model_b,
                condition=p.spec.cond_b,
                n=fa.n,
                n_families=fa.n_families,
                singletons=fa.singletons,
                unlabelled=fa.unlabelled,
                effect=fa.effect,
                ci=_ci_model(fa.ci),
                probe_mean=fa.probe_mean,
                probe_ci=_ci_model(fa.probe_ci),
                ci_ratio=_finite_or_none(fa.ci_ratio),
                design_effect=_finite_or_none(fa.design_effect),
                consistency=_finite_or_none(fa.consistency),
                flipped=list(fa.flipped),
                families=[
                    ParaphraseFamily(
                        family=str(f.family),
                        probes=list(f.probes),
                        deltas=list(f.deltas),
                        mean_delta=f.mean_delta,
                        positive=f.positive,
                        negative=f.negative,
                        zero=f.zero,
                        majority=f.majority,
                        consistency=f.consistency,
                        flips=f.flips,
                    )
                    for f in fa.families
                    if f.n > 1
                ],
            )
        )
    return out


def _ordered_conditions(conds: list[str]) -> list[str]:
    return ([BASELINE] if BASELINE in conds else []) + [c for c in conds if c != BASELINE]


def _source_summary(s: SourceInfo) -> SourceSummary:
    source = s.source
    if s.run_id is None:
        source = re.split(r"[\\/]", source)[-1]
    return SourceSummary(
        model=s.model,
        source=source,
        run_id=s.run_id,
        family=s.family,
        version=s.version,
        base=None if s.tags.get("base") is None else str(s.tags["base"]),
        tags={k: v for k, v in s.tags.items() if k != "base"},
    )


def _cross_model(
    models: Sequence[str],
    model_out: Mapping[str, ModelSummary],
    comparisons: Sequence[Comparison],
    sources: Sequence[SourceInfo],
) -> list[CrossModelRow]:
    by_id = {c.id: c for c in comparisons}
    info = {s.model: s for s in sources}
    rows: list[CrossModelRow] = []
    for label in models:
        m = model_out[label]
        base_cell = m.conditions.get(BASELINE)
        base = base_cell.stats if base_cell is not None else None
        conds: dict[str, CrossModelCell] = {}
        for cond in m.condition_order:
            if cond == BASELINE:
                continue
            stats = m.conditions[cond].stats
            comp = by_id.get(condition_comparison_id(label, cond))
            cstats = comp.stats if comp else None
            conds[cond] = CrossModelCell(
                mean=stats.mean if stats else None,
                n=stats.n if stats else 0,
                delta=cstats.mean_delta if cstats else None,
                delta_ci=cstats.ci if cstats else None,
                ci_method=cstats.ci_method if cstats else None,
                n_paired=comp.n if comp else 0,
                p_holm=comp.p_holm if comp else None,
                holm_family=comp.holm_family if comp else False,
                comparison=comp.id if comp else None,
            )
        rows.append(
            CrossModelRow(
                model=label,
                family=info[label].family,
                version=info[label].version,
                probes=m.probes,
                baseline=base,
                conditions=conds,
            )
        )
    rows.sort(
        key=lambda r: (
            r.baseline is None,
            -(r.baseline.mean if r.baseline else 0.0),
            r.model,
        )
    )
    return rows


def _lineages(
    sources: Sequence[SourceInfo],
    model_out: Mapping[str, ModelSummary],
    comparisons: Sequence[Comparison],
) -> dict[str, list[LineageRow]]:
    by_id = {c.id: c for c in comparisons}
    families: dict[str, list[SourceInfo]] = {}
    for s in sources:
        if s.family:
            families.setdefault(s.family, []).append(s)
    out: dict[str, list[LineageRow]] = {}
    for family in sorted(families):
        members = sorted(families[family], key=lambda s: (natural_key(s.version), s.model))
        rows = []
        for s in members:
            m = model_out[s.model]
            base_cell = m.conditions.get(BASELINE)
            base = base_cell.stats if base_cell is not None else None
            conds: dict[str, LineageCell] = {}
            for cond in m.condition_order:
                stats = m.conditions[cond].stats
                comp = by_id.get(condition_comparison_id(s.model, cond))
                cstats = comp.stats if comp else None
                conds[cond] = LineageCell(
                    mean=stats.mean if stats else None,
                    delta=cstats.mean_delta if cstats else None,
                    delta_ci=cstats.ci if cstats else None,
                    ci_method=cstats.ci_method if cstats else None,
                    n_paired=comp.n if comp else 0,
                    p_holm=comp.p_holm if comp else None,
                )
            rows.append(
                LineageRow(
                    model=s.model,
                    version=s.version,
                    baseline=base.mean if base else None,
                    conditions=conds,
                )
            )
        out[family] = rows
    return out
