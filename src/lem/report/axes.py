"""The kernel-axis sections of a report: ablation (which axiom does the work) and placement
(where the kernel sits).

Both are found from condition names, so a report needs nothing but the runs or A/B files:

- an **ablation** of kernel ``K`` is ``baseline``, ``axioms:K`` and any of
  ``axioms:K/minus-ID`` / ``axioms:K/only-ID`` (what ``lem ab --ablate K`` runs);
- a **placement** table of kernel ``K`` is ``baseline`` and two or more of ``system:K``,
  ``prefix:K``, ``suffix:K``, ``sandwich:K`` and ``wrap:K`` (``--placements``), or a
  placement left out because it folded into another (a run manifest's
  ``placement_fallback``).

Every comparison pairs the probes scored under both conditions (a probe's score is the mean
of its samples, as everywhere in the report). A condition against baseline is the report's
own comparison; any other pair (an ablation variant against the full kernel) is tested the
same way (:func:`lem.analysis.stats.paired_comparison`: the same CI method, seed,
resamples, band and Wilcoxon test). Holm runs within each table, not across the report:
an ablation's question is which of *its* axioms matters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from lem.defaults import BASELINE
from lem.report.model import ResponseRecord, SourceInfo
from lem.report.summary import (
    CI,
    AblationAxiom,
    AblationSummary,
    AxisDelta,
    Comparison,
    EchoCheck,
    PlacementCell,
    PlacementSummary,
    ScorerSummary,
)

__all__ = [
    "ECHO_WARN_SHARE",
    "PLACEMENT_KINDS",
    "ablation_groups",
    "ablation_tables",
    "echo_checks",
    "placement_groups",
    "placement_tables",
    "reported_vs_baseline",
]

PLACEMENT_KINDS = ("system", "prefix", "suffix", "sandwich", "wrap")
"""The placement condition kinds, in table order."""

ECHO_WARN_SHARE = 0.5
"""A kernel condition's gain is flagged when more than this share of it disappears once the
kernel's own words are masked out of the answers."""

_AXIOMS = re.compile(r"^axioms:(?P<kernel>[^/]+)(?:/(?P<variant>minus|only)-(?P<axiom>.+))?$")


class _Scores(Protocol):
    def scores(self, cond: str) -> dict[str, float]: ...


class _Settings(Protocol):
    @property
    def band(self) -> float: ...
    @property
    def seed(self) -> int: ...
    @property
    def n_boot(self) -> int: ...
    @property
    def level(self) -> float: ...


def ablation_groups(conditions: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Kernel → ``{"full": condition, "axioms": {id: {"minus": cond, "only": cond}}}`` for
    every kernel with a full ``axioms:K`` condition, at least one variant, and a baseline
    among ``conditions`` (axioms in order of first appearance)."""
    conds = list(conditions)
    if BASELINE not in conds:
        return {}
    groups: dict[str, dict[str, Any]] = {}
    for cond in conds:
        m = _AXIOMS.match(cond)
        if not m:
            continue
        g = groups.setdefault(m["kernel"], {"full": None, "axioms": {}})
        if m["variant"] is None:
            g["full"] = cond
        else:
            g["axioms"].setdefault(m["axiom"], {})[m["variant"]] = cond
    return {k: g for k, g in groups.items() if g["full"] and g["axioms"]}


def placement_groups(
    conditions: Iterable[str], dropped: Iterable[str] = ()
) -> dict[str, list[str]]:
    """Kernel → its placement kinds present (or left out as folded, ``dropped``) among
    ``conditions``, in :data:`PLACEMENT_KINDS` order, for kernels with two or more and a
    baseline."""
    conds = list(conditions)
    if BASELINE not in conds:
        return {}
    found: dict[str, set[str]] = {}
    for cond in [*conds, *dropped]:
        kind, sep, kernel = cond.partition(":")
        if sep and kind in PLACEMENT_KINDS and kernel:
            found.setdefault(kernel, set()).add(kind)
    return {
        k: [p for p in PLACEMENT_KINDS if p in kinds]
        for k, kinds in sorted(found.items())
        if len(kinds) >= 2
    }


_Reported = Mapping[tuple[str, str], Any]
"""(model, condition) → the report's own paired stats of that condition vs the model's
baseline (:func:`reported_vs_baseline`)."""


def reported_vs_baseline(comparisons: Iterable[Comparison]) -> dict[tuple[str, str], Any]:
    """The report's within-model comparisons of a condition with baseline, by (model,
    condition): a kernel-axis cell against baseline is that comparison, not a second one."""
    return {
        (c.model_b, c.condition_b): c.stats
        for c in comparisons
        if c.kind == "condition"
        and c.condition_a == BASELINE
        and c.model_a == c.model_b
        and c.stats is not None
    }


def _compare(
    model: str,
    data: _Scores,
    cond_a: str,
    cond_b: str | None,
    settings: _Settings,
    reported: _Reported,
) -> Any:
    """``cond_b`` vs ``cond_a`` over the probes scored under both: the report's comparison
    when ``cond_a`` is the baseline, else the same test computed here."""
    from lem.analysis.stats import paired_comparison

    if cond_b is None:
        return None
    if cond_a == BASELINE and (model, cond_b) in reported:
        return reported[(model, cond_b)]
    a, b = data.scores(cond_a), data.scores(cond_b)
    probes = [p for p in a if p in b]
    if not probes:
        return None
    return paired_comparison(
        [a[p] for p in probes],
        [b[p] for p in probes],
        band=settings.band,
        seed=settings.seed,
        n_boot=settings.n_boot,
        level=settings.level,
    )


def _holm(results: Sequence[Any]) -> list[float | None]:
    """Holm-adjusted p per result (None where there is no test)."""
    from lem.analysis.stats import holm

    tested = [i for i, r in enumerate(results) if r is not None and r.p_wilcoxon is not None]
    adjusted = holm([results[i].p_wilcoxon for i in tested])
    out: list[float | None] = [None] * len(results)
    for i, p in zip(tested, adjusted, strict=True):
        out[i] = p
    return out


def _delta(result: Any, p_holm: float | None) -> AxisDelta | None:
    if result is None:
        return None
    ci = result.ci
    return AxisDelta(
        n=result.n,
        mean_delta=result.mean_delta,
        ci=CI(low=ci.low, high=ci.high, level=ci.level),
        ci_method=result.ci_method,
        p_wilcoxon=result.p_wilcoxon,
        p_holm=p_holm,
    )


def _mean(data: _Scores, cond: str | None) -> float | None:
    from lem.report.analysis import mean_score

    return None if cond is None else mean_score(list(data.scores(cond).values()))


def ablation_tables(
    data: Mapping[str, _Scores],
    conditions: Mapping[str, Sequence[str]],
    comparisons: Iterable[Comparison],
    settings: _Settings,
) -> list[AblationSummary]:
    """Every model's ablation tables (``conditions``: the model's conditions;
    ``comparisons``: the report's, whose condition-vs-baseline stats the tables reuse)."""
    reported = reported_vs_baseline(comparisons)
    out: list[AblationSummary] = []
    for model, md in data.items():
        for kernel, g in ablation_groups(conditions.get(model, ())).items():
            full: str = g["full"]
            plan: list[tuple[str, str | None]] = [(BASELINE, full)]
            for variants in g["axioms"].values():
                minus, only = variants.get("minus"), variants.get("only")
                plan += [(full, minus), (BASELINE, minus), (BASELINE, only), (full, only)]
            results = [_compare(model, md, a, b, settings, reported) for a, b in plan]
            p_holm = _holm(results)
            deltas = [_delta(r, p) for r, p in zip(results, p_holm, strict=True)]
            axioms = []
            for k, (axiom, variants) in enumerate(g["axioms"].items()):
                d = deltas[1 + 4 * k : 5 + 4 * k]
                axioms.append(
                    AblationAxiom(
                        axiom=axiom,
                        without=variants.get("minus"),
                        alone=variants.get("only"),
                        mean_without=_mean(md, variants.get("minus")),
                        mean_alone=_mean(md, variants.get("only")),
                        without_vs_full=d[0],
                        without_vs_baseline=d[1],
                        alone_vs_baseline=d[2],
                        alone_vs_full=d[3],
                    )
                )
            out.append(
                AblationSummary(
                    model=model,
                    kernel=kernel,
                    full=full,
                    mean_baseline=_mean(md, BASELINE),
                    mean_full=_mean(md, full),
                    full_vs_baseline=deltas[0],
                    family_size=sum(1 for p in p_holm if p is not None),
                    axioms=axioms,
                )
            )
    return out


def placement_tables(
    data: Mapping[str, _Scores],
    conditions: Mapping[str, Sequence[str]],
    comparisons: Iterable[Comparison],
    records: Iterable[ResponseRecord],
    sources: Sequence[SourceInfo],
    scorer: str,
) -> list[PlacementSummary]:
    """One table per placed kernel: placement × model (models in report order), each cell
    the report's own comparison with baseline, Holm-adjusted within the table."""
    reported = reported_vs_baseline(comparisons)
    folded: dict[tuple[str, str], list[int]] = {}
    for rec in records:
        if rec.scorer == scorer and rec.score is not None:
            cell = folded.setdefault((rec.model, rec.condition), [0, 0])
            cell[0] += 1
            cell[1] += int(rec.system_fallback)
    dropped = {s.model: s.placement_fallback for s in sources}
    groups = {m: placement_groups(conditions.get(m, ()), dropped.get(m, {})) for m in data}
    kernels: dict[str, set[str]] = {}
    for per_model in groups.values():
        for kernel, kinds in per_model.items():
            kernels.setdefault(kernel, set()).update(kinds)
    out: list[PlacementSummary] = []
    for kernel, kind_set in sorted(kernels.items()):
        kinds = [p for p in PLACEMENT_KINDS if p in kind_set]
        models = [m for m in data if kernel in groups[m]]
        plan = [
            (model, f"{kind}:{kernel}")
            for kind in kinds
            for model in models
            if f"{kind}:{kernel}" in conditions.get(model, ())
        ]
        results = [reported.get(key) for key in plan]
        p_holm = _holm(results)
        by_cell = {key: _delta(r, p) for key, r, p in zip(plan, results, p_holm, strict=True)}
        cells: dict[str, dict[str, PlacementCell]] = {}
        for kind in kinds:
            cond = f"{kind}:{kernel}"
            row: dict[str, PlacementCell] = {}
            for model in models:
                same = dropped.get(model, {}).get(cond)
                if (model, cond) not in by_cell and not same:
                    continue
                n, f = folded.get((model, cond), [0, 0])
                row[model] = PlacementCell(
                    condition=cond,
                    delta=by_cell.get((model, cond)),
                    responses=n,
                    folded=f,
                    same_prompt_as=same or None,
                )
            cells[kind] = row
        out.append(
            PlacementSummary(
                kernel=kernel,
                placements=kinds,
                models=models,
                cells=cells,
                family_size=sum(1 for p in p_holm if p is not None),
            )
        )
    return out


def echo_checks(per_scorer: Mapping[str, ScorerSummary]) -> dict[str, list[EchoCheck]]:
    """Per plain scorer with a ``masked:`` twin in the report: each kernel condition's Δ vs
    baseline under both (the same comparison ids), and whether most of a gain is echo."""
    out: dict[str, list[EchoCheck]] = {}
    for masked_id, masked in per_scorer.items():
        if not masked_id.startswith("masked:"):
            continue
        plain_id = masked_id.removeprefix("masked:").partition("@")[0]
        plain = per_scorer.get(plain_id)
        if plain is None:
            continue
        m_delta = {
            c.id: c.stats.mean_delta
            for c in masked.comparisons
            if c.kind == "condition" and c.stats is not None
        }
        checks = out.setdefault(plain_id, [])
        for c in plain.comparisons:
            if c.kind != "condition" or c.stats is None or c.id not in m_delta:
                continue
            d, dm = c.stats.mean_delta, m_delta[c.id]
            share = 1.0 - dm / d if d > 0 else None
            checks.append(
                EchoCheck(
                    comparison=c.id,
                    model=c.model_b,
                    condition=c.condition_b,
                    masked_scorer=masked_id,
                    delta=d,
                    masked_delta=dm,
                    echo_share=share,
                    warn=share is not None and share > ECHO_WARN_SHARE,
                )
            )
    return {k: v for k, v in out.items() if v}
