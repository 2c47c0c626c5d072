"""``report.md``: the report as GitHub-flavoured Markdown tables.

Rendered from the :class:`~lem.report.summary.ReportSummary` alone (the same data as
``summary.json``, unrounded), so the two can never disagree. Every number is formatted by
:mod:`lem.numfmt` (rounded once, half away from zero, from full precision), as in the
terminal and the viewer. Deltas read ``+0.96 [0.12, 1.80]`` (mean paired difference and its
95% CI; ``†`` marks a t interval, used below 10 probes); p-values are Holm-adjusted unless
the column says otherwise, ``excl.`` when the comparison was left out of the Holm family
(all deltas zero). The Methods section prints the summary's ``methods`` rules. Nothing
machine- or time-dependent is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lem.defaults import BASELINE
from lem.numfmt import DASH as _DASH
from lem.numfmt import fmt_delta, fmt_mean, fmt_p, fmt_percent, fmt_sig
from lem.report.summary import (
    CI,
    AblationAxiom,
    AblationSummary,
    AxisDelta,
    Comparison,
    Description,
    DomainDeltaCell,
    Driver,
    EchoCheck,
    ModelSummary,
    Mover,
    ParaphraseComparison,
    ParaphraseFamily,
    PlacementCell,
    PlacementSummary,
    PlotFiles,
    ReportSummary,
    ScorerSummary,
)

__all__ = [
    "ABLATION_HEADER",
    "ECHO_HEADER",
    "PARAPHRASE_FAMILY_HEADER",
    "PARAPHRASE_HEADER",
    "ablation_lead",
    "ablation_row",
    "fmt_ci",
    "fmt_delta",
    "fmt_delta_ci",
    "fmt_mean",
    "fmt_mean_ci",
    "fmt_p",
    "paraphrase_family_row",
    "paraphrase_note",
    "paraphrase_row",
    "placement_lead",
    "placement_rows",
    "render_markdown",
]

_SMALL_N_MARK = "†"
_SMALL_N_NOTE = "† fewer than 10 probes: t interval (mean ± t·sd/√n), not the bootstrap."
_EXCLUDED = "excl."


def fmt_ci(ci: CI | None, method: str | None = None) -> str:
    """``[low, high]`` with two decimals, ``†`` after it for a t interval."""
    if ci is None or ci.low is None or ci.high is None:
        return ""
    mark = _SMALL_N_MARK if method == "t" else ""
    return f"[{fmt_mean(ci.low)}, {fmt_mean(ci.high)}]{mark}"


def fmt_delta_ci(delta: float | None, ci: CI | None, method: str | None = None) -> str:
    """A delta and its CI: ``+0.96 [0.12, 1.80]``."""
    if delta is None:
        return _DASH
    text = fmt_ci(ci, method)
    return f"{fmt_delta(delta)} {text}" if text else fmt_delta(delta)


def fmt_mean_ci(stats: Description | None) -> str:
    """A mean and its CI from a condition's description."""
    if stats is None:
        return _DASH
    text = fmt_ci(stats.ci, stats.ci_method)
    return f"{fmt_mean(stats.mean)} {text}" if text else fmt_mean(stats.mean)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> list[str]:
    """A Markdown table; ``align`` holds one ``l``/``r`` per column (default: first left).

    A table with a t interval (``†``) in it is followed by the small-n note."""
    spec = align or ("l" + "r" * (len(header) - 1))
    marks = ["---" if a == "l" else "---:" for a in spec]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    lines.append("| " + " | ".join(marks) + " |")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    if any(_SMALL_N_MARK in str(c) for row in rows for c in row):
        lines += ["", _SMALL_N_NOTE]
    return [*lines, ""]


def _drivers(drivers: Sequence[Driver], limit: int = 3) -> str:
    return ", ".join(f"{name} {fmt_delta(value)}" for name, value in drivers[:limit]) or _DASH


def _code(text: str) -> str:
    return f"`{text}`"


class _Doc:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def text(self) -> str:
        while self.lines and self.lines[-1] == "":
            self.lines.pop()
        return "\n".join(self.lines) + "\n"


def _settings_line(summary: ReportSummary) -> str:
    s = summary.settings
    samples = "mean over all samples per probe" if s.all_samples else "sample 0 per probe"
    level = round(100 * s.level)
    return (
        f"Scorer{'s' if len(s.scorers) > 1 else ''}: "
        + ", ".join(_code(x) for x in s.scorers)
        + f" · band ±{s.band:g} · seed {s.seed} · {s.n_boot:,} bootstrap resamples"
        + f" · {level}% CIs · MDE at α {s.alpha:g}/m, power {s.power:g} · {samples}"
    )


def _methods(doc: _Doc, summary: ReportSummary) -> None:
    rules = [rule for rule in summary.methods.rules() if rule]
    if not rules:
        return
    doc.add("## Methods", "")
    doc.add(*[f"- {rule}" for rule in rules], "")


def _sources(doc: _Doc, summary: ReportSummary) -> None:
    doc.add("## Sources", "")
    rows = [
        [
            s.model,
            s.source,
            s.family or _DASH,
            s.version or _DASH,
            s.base or _DASH,
        ]
        for s in summary.sources
    ]
    doc.add(*_table(["model", "source", "family", "version", "base"], rows, "lllll"))


def _plot_links(plots: Mapping[str, PlotFiles], key: str, alt: str) -> list[str]:
    entry = plots.get(key)
    if entry is None:
        return []
    return [f"![{alt}]({entry.png}) ([SVG]({entry.svg}))", ""]


def _overview(doc: _Doc, data: ScorerSummary, conds: Sequence[str], h: str) -> None:
    doc.add(f"## Overview{h}", "")
    doc.add(
        "Models sorted by baseline mean. Each condition's mean is over the probes it scored; "
        "n: the probes scored under both it and the baseline, over which Δ (mean paired "
        "difference from the model's own baseline, with its CI) and p (Wilcoxon "
        "signed-rank, Holm-adjusted) are computed.",
        "",
    )
    others = [c for c in conds if c != BASELINE]
    header = ["model", "probes", "baseline"]
    for c in others:
        header += [c, f"n {c}", f"Δ {c}", f"p {c}"]
    rows = []
    for row in data.cross_model:
        line: list[Any] = [row.model, row.probes, fmt_mean_ci(row.baseline)]
        for c in others:
            cell = row.conditions.get(c)
            if cell is None:
                line += [_DASH, _DASH, _DASH, _DASH]
                continue
            excluded = cell.comparison is not None and not cell.holm_family
            line += [
                fmt_mean(cell.mean),
                cell.n_paired,
                fmt_delta_ci(cell.delta, cell.delta_ci, cell.ci_method),
                _EXCLUDED if excluded else fmt_p(cell.p_holm),
            ]
        rows.append(line)
    doc.add(*_table(header, rows))
    doc.add(*_plot_links(data.plots, "forest", "Deltas with CIs"))


def _lineages(doc: _Doc, data: ScorerSummary, conds: Sequence[str], h: str) -> None:
    if not data.lineages:
        return
    doc.add(f"## Lineages{h}", "")
    doc.add("Models of one family in version order; Δ is paired against each model's baseline.")
    doc.add("")
    others = [c for c in conds if c != BASELINE]
    for family, rows in data.lineages.items():
        doc.add(f"### {family}", "")
        header = ["version", "model", "baseline"]
        for c in others:
            header += [c, f"n {c}", f"Δ {c}"]
        out = []
        for r in rows:
            line: list[Any] = [r.version or _DASH, r.model, fmt_mean(r.baseline)]
            for c in others:
                cell = r.conditions.get(c)
                if cell is None:
                    line += [_DASH, _DASH, _DASH]
                else:
                    line += [
                        fmt_mean(cell.mean),
                        cell.n_paired,
                        fmt_delta_ci(cell.delta, cell.delta_ci, cell.ci_method),
                    ]
            out.append(line)
        doc.add(*_table(header, out, "ll" + "r" * (len(header) - 2)))


def _comparison_row(comp: Comparison, first: str) -> list[Any]:
    st = comp.stats
    if st is None:
        return [first, 0] + [_DASH] * 9
    note = comp.mde_note or ""
    return [
        first,
        st.n,
        fmt_mean(st.mean_a),
        fmt_mean(st.mean_b),
        fmt_delta_ci(st.mean_delta, st.ci, st.ci_method),
        fmt_p(st.p_wilcoxon),
        fmt_p(comp.p_holm) if comp.holm_family else _EXCLUDED,
        fmt_delta(st.dz),
        fmt_delta(st.rank_biserial),
        f"{st.improved}/{st.regressed}/{st.unchanged}",
        "∞" if note.startswith("unreachable") else fmt_mean(st.mde),
    ]


def _comp_header(first: str, a: str, b: str) -> list[str]:
    return [first, "n", a, b, "Δ [CI]", "p", "p Holm", "dz", "r_rb", "↑/↓/=", "MDE"]


def _probe_table(doc: _Doc, rows: Sequence[Mover], label_a: str, label_b: str) -> None:
    out = [
        [
            r.probe,
            r.category,
            fmt_mean(r.a),
            fmt_mean(r.b),
            fmt_delta(r.delta),
            _drivers(r.drivers),
        ]
        for r in rows
    ]
    doc.add(*_table(["probe", "domain", label_a, label_b, "Δ", "drivers"], out, "llrrrl"))


def _pairs(doc: _Doc, data: ScorerSummary, h: str) -> None:
    if not data.pairs:
        return
    by_id = {c.id: c for c in data.comparisons}
    doc.add(f"## Fine-tuning effects{h}", "")
    doc.add(
        "Each row compares the tuned model with its base under the same condition, paired "
        "over the probes both answered (Δ = tuned − base).",
        "",
    )
    for pair in data.pairs:
        base, tuned = pair.base, pair.tuned
        doc.add(f"### {tuned} vs {base}", "")
        rows = [
            _comparison_row(by_id[cid], by_id[cid].condition_b)
            for cid in pair.comparisons
            if cid in by_id
        ]
        if rows:
            doc.add(*_table(_comp_header("condition", "base", "tuned"), rows))
        else:
            doc.add("No condition in common.", "")
        doc.add(f"#### Realignment: {tuned} with the kernel re-injected", "")
        realign = [by_id[cid] for cid in pair.realignment if cid in by_id]
        if not realign:
            doc.add("No kernel condition with a baseline to compare.", "")
            continue
        doc.add(
            "Does the kernel still help the tuned model? Δ < 0 means re-injecting it lowers "
            "the score (realignment resistance).",
            "",
        )
        doc.add(
            *_table(
                _comp_header("condition", BASELINE, "kernel"),
                [_comparison_row(c, c.condition_b) for c in realign],
            )
        )
        for comp in realign:
            if comp.regressions:
                doc.add(f"Worst probes, {comp.condition_b} vs baseline:", "")
                _probe_table(doc, comp.regressions, BASELINE, comp.condition_b)


def _majority(sign: str | None) -> str:
    return {"+": "+", "-": "−", "0": "0"}.get(sign or "", "tie")


def paraphrase_row(comp: ParaphraseComparison) -> list[str]:
    """A comparison's line of the paraphrase table, as printed (the viewer prints the same)."""
    return [
        comp.model,
        comp.condition,
        str(comp.n),
        str(comp.n_families),
        fmt_delta_ci(comp.probe_mean, comp.probe_ci),
        fmt_delta_ci(comp.effect, comp.ci),
        fmt_mean(comp.ci_ratio),
        fmt_mean(comp.design_effect),
        fmt_percent(comp.consistency),
        str(len(comp.flipped)),
    ]


PARAPHRASE_HEADER = (
    "model",
    "condition",
    "probes",
    "families",
    "probe-level Δ [CI]",
    "family-level Δ [CI]",
    "CI width ×",
    "design effect",
    "sign consistency",
    "flips",
)
"""The columns of :func:`paraphrase_row`."""


PARAPHRASE_FAMILY_HEADER = (
    "family",
    "n",
    "mean Δ",
    "+/−/0",
    "majority",
    "consistency",
    "flips",
    "Δ by member",
)
"""The columns of :func:`paraphrase_family_row`."""


def paraphrase_family_row(f: ParaphraseFamily) -> list[str]:
    """A family's line of a comparison's family table, as printed."""
    return [
        f.family,
        str(len(f.deltas)),
        fmt_delta(f.mean_delta),
        f"{f.positive}/{f.negative}/{f.zero}",
        _majority(f.majority),
        fmt_percent(f.consistency),
        "yes" if f.flips else "",
        ", ".join(fmt_delta(d) for d in f.deltas),
    ]


def paraphrase_note(comps: Sequence[ParaphraseComparison], small_n: int) -> str | None:
    """The note under the paraphrase table when a comparison has few families."""
    few = [c for c in comps if c.n_families < small_n]
    if not few:
        return None
    return (
        f"Fewer than {small_n} families in {len(few)} of {len(comps)} comparison"
        f"{'' if len(comps) == 1 else 's'}: a bootstrap over so few families has few "
        "distinct resamples; read those intervals as rough."
    )


def _paraphrase(doc: _Doc, data: ScorerSummary, band: float, small_n: int, h: str) -> None:
    comps = data.paraphrase
    if not comps:
        return
    doc.add(f"## Paraphrase robustness{h}", "")
    doc.add(
        "Probes come in families: a probe and its rephrasings. Family-level Δ is the mean of "
        "the families' mean Δ (each family counts once; a probe without a family is a family "
        "of one), its CI a cluster bootstrap that resamples families with all their members; "
        "the probe-level CI resamples probes as if they were independent. CI width ×: the "
        "family-level CI's width over the probe-level one's; design effect: how many times "
        "the variance grows with the family as the unit. Sign consistency: the mean, over "
        "families of two or more, of the share of members whose Δ has the family's majority "
        f"sign. Flips: families with one member's Δ above +{band:g} and another's below "
        f"−{band:g}: the kernel's effect there depends on the wording.",
        "",
    )
    doc.add(*_table(list(PARAPHRASE_HEADER), [paraphrase_row(c) for c in comps], "ll" + "r" * 8))
    note = paraphrase_note(comps, small_n)
    if note:
        doc.add(note, "")
    for comp in comps:
        doc.add(f"### {comp.model}: {comp.condition} vs {BASELINE}{h}", "")
        if comp.flipped:
            doc.add(
                "Effects that flip with wording: " + ", ".join(_code(f) for f in comp.flipped),
                "",
            )
        else:
            doc.add("No family's effect flips with wording.", "")
        if not comp.families:
            doc.add("No family has two or more members scored under both conditions.", "")
            continue
        rows = [paraphrase_family_row(f) for f in comp.families]
        doc.add(*_table(list(PARAPHRASE_FAMILY_HEADER), rows, "lrrrrrll"))


def _axis_cell(d: AxisDelta | None) -> str:
    """``+0.31 [-0.10, 0.72] p 0.040``: Δ, CI and Holm p of a kernel-axis comparison."""
    if d is None:
        return _DASH
    return f"{fmt_delta_ci(d.mean_delta, d.ci, d.ci_method)} p {fmt_p(d.p_holm)}"


ABLATION_HEADER = (
    "axiom",
    "mean without",
    "without − full",
    "without − baseline",
    "mean alone",
    "alone − baseline",
    "alone − full",
)
"""The columns of :func:`ablation_row`; each comparison cell is Δ [CI] and Holm p."""


def ablation_row(a: AblationAxiom) -> list[str]:
    """An axiom's line of an ablation table, as printed (the viewer prints the same)."""
    return [
        a.axiom,
        fmt_mean(a.mean_without),
        _axis_cell(a.without_vs_full),
        _axis_cell(a.without_vs_baseline),
        fmt_mean(a.mean_alone),
        _axis_cell(a.alone_vs_baseline),
        _axis_cell(a.alone_vs_full),
    ]


def ablation_lead(t: AblationSummary) -> str:
    """The line above an ablation table: the full kernel against baseline."""
    return (
        f"{t.model}, kernel {_code(t.kernel)}: baseline {fmt_mean(t.mean_baseline)}, full "
        f"kernel ({_code(t.full)}) {fmt_mean(t.mean_full)}, full − baseline "
        f"{_axis_cell(t.full_vs_baseline)}; Holm over this table's {t.family_size} "
        "comparisons."
    )


def placement_cell(c: PlacementCell | None) -> str:
    """A placement × model cell: Δ vs baseline [CI] and Holm p, with the system-role
    handling (folded responses, or the placement it was left out as)."""
    if c is None:
        return _DASH
    if c.same_prompt_as:
        return f"= {c.same_prompt_as} (no system role: not generated)"
    text = _axis_cell(c.delta)
    if c.folded:
        text += f"; folded {c.folded}/{c.responses}"
    return text


def placement_lead(t: PlacementSummary) -> str:
    """The line above a placement table."""
    return f"Kernel {_code(t.kernel)}; Holm over this table's {t.family_size} cells."


def placement_rows(t: PlacementSummary) -> list[list[str]]:
    """A placement table's rows: one per placement, one cell per model."""
    return [
        [kind, *(placement_cell(t.cells.get(kind, {}).get(m)) for m in t.models)]
        for kind in t.placements
    ]


ECHO_HEADER = ("model", "condition", "Δ", "masked Δ", "echo share", "")
"""The columns of :func:`echo_row`."""


def echo_row(e: EchoCheck) -> list[str]:
    """A kernel condition's line of the kernel-echo table, as printed."""
    return [
        e.model,
        e.condition,
        fmt_delta(e.delta),
        fmt_delta(e.masked_delta),
        fmt_percent(e.echo_share),
        "mostly echo" if e.warn else "",
    ]


def echo_lead(checks: Sequence[EchoCheck], scorer: str) -> str:
    """The paragraph above the kernel-echo table, with the warning when one is due."""
    masked = checks[0].masked_scorer
    warned = [e for e in checks if e.warn]
    text = (
        f"Each kernel condition's Δ vs baseline under {_code(scorer)} and under "
        f"{_code(masked)}, which scores every answer (baseline included) with the kernel's "
        "own words removed. Echo share: the part of a gain that disappears without them."
    )
    if warned:
        text += (
            f" **Warning: {len(warned)} of {len(checks)} kernel condition"
            f"{'' if len(checks) == 1 else 's'} got most of their gain from repeating the "
            "kernel's words**, not from what the words describe; read those gains with care."
        )
    return text


def _axes(doc: _Doc, data: ScorerSummary, scorer: str, h: str) -> None:
    if data.echo:
        doc.add(f"## Kernel echo{h}", "")
        doc.add(echo_lead(data.echo, scorer), "")
        doc.add(*_table(list(ECHO_HEADER), [echo_row(e) for e in data.echo], "llrrrl"))
    if data.ablation:
        doc.add(f"## Kernel ablation{h}", "")
        doc.add(
            "Which axiom does the work: the kernel rendered in full, without each axiom and "
            "with each axiom alone, as the system message. Without − full is what removing "
            "the axiom costs (negative: the axiom helped); alone − baseline is what the axiom "
            "does by itself. Each cell: mean Δ over the probes scored under both, its CI, and "
            "the Holm-adjusted Wilcoxon p within the table.",
            "",
        )
        for t in data.ablation:
            doc.add(ablation_lead(t), "")
            doc.add(*_table(list(ABLATION_HEADER), [ablation_row(a) for a in t.axioms]))
        doc.add(*_plot_links(data.plots, "ablation", "Per-axiom deltas with CIs"))
    if data.placements:
        doc.add(f"## Kernel placement{h}", "")
        doc.add(
            "Where the kernel sits: system (the system message), prefix (before the prompt "
            "in the user turn), suffix (after it), sandwich (axioms as the system message and "
            "the kernel after the prompt), wrap (before and after). Each cell: Δ vs the "
            "model's baseline [CI] and Holm p within the table. Folded: responses whose "
            "system message went into the user turn because the model has no system role; a "
            "system placement that would have been another placement's prompt exactly is "
            "named, not generated.",
            "",
        )
        for pt in data.placements:
            doc.add(placement_lead(pt), "")
            doc.add(*_table(["placement", *pt.models], placement_rows(pt)))


def _model_section(
    doc: _Doc, label: str, m: ModelSummary, comps: Sequence[Comparison], h: str
) -> None:
    doc.add(f"### {label}{h}", "")
    rows = []
    for cond in m.condition_order:
        cell = m.conditions[cond]
        st = cell.stats
        rows.append(
            [
                cond,
                st.n if st else 0,
                cell.failed,
                fmt_mean_ci(st),
                fmt_mean(st.median) if st else _DASH,
                fmt_mean(st.sd) if st else _DASH,
            ]
        )
    doc.add(*_table(["condition", "n", "failed", "mean [CI]", "median", "sd"], rows))
    if comps:
        doc.add(
            *_table(
                _comp_header("vs baseline", BASELINE, "condition"),
                [_comparison_row(c, c.condition_b) for c in comps],
            )
        )
    for comp in comps:
        cond = comp.condition_b
        if comp.regressions:
            doc.add(f"Largest regressions, {cond} vs baseline:", "")
            _probe_table(doc, comp.regressions, BASELINE, cond)
        if comp.rescues:
            doc.add(f"Largest rescues, {cond} vs baseline:", "")
            _probe_table(doc, comp.rescues, BASELINE, cond)
    conds = m.condition_order
    if m.domains:
        header = ["domain", "n", *[c if c == BASELINE else f"{c} (Δ)" for c in conds]]
        out = []
        for dom, per in m.domains.items():
            n = max((per[c].n for c in conds if c in per), default=0)
            line: list[Any] = [dom, n]
            for c in conds:
                dc = per.get(c)
                if dc is None or dc.mean is None:
                    line.append(_DASH)
                elif c == BASELINE or not isinstance(dc, DomainDeltaCell) or dc.delta is None:
                    line.append(fmt_mean(dc.mean))
                else:
                    line.append(f"{fmt_mean(dc.mean)} ({fmt_delta(dc.delta)})")
            out.append(line)
        doc.add("Domains (mean, Δ vs baseline):", "")
        doc.add(*_table(header, out))
    inc_rows = []
    for cond in conds:
        row = m.incidence[cond]
        line = [cond, row.responses, row.failed]
        for _, v in row.signals():
            line.append(_DASH if v is None else _rate(v.count, v.rate))
        inc_rows.append(line)
    doc.add("Incidence (responses with the signal > 0):", "")
    doc.add(
        *_table(
            ["condition", "responses", "failed", "degeneration", "compliance", "empty"], inc_rows
        )
    )


def _rate(count: int, rate: float | None) -> str:
    return f"{count}" if rate is None else f"{count} ({fmt_percent(rate)})"


def _n(count: int) -> str:
    return f"{count} comparison{'' if count == 1 else 's'}"


def _holm_line(data: ScorerSummary, scorer: str | None) -> str:
    holm = data.holm
    m = holm.family_size
    text = f"Holm correction over {_n(m)} (m = {m}; MDE at α/m = {fmt_sig(holm.mde_alpha)})"
    excluded = holm.excluded_all_zero
    if excluded:
        text += (
            f"; {_n(len(excluded))} left out of the family because every Δ is zero: "
            + ", ".join(_code(c) for c in excluded)
        )
    text += "."
    return f"Scorer {_code(scorer)}: {text}" if scorer else text


def render_markdown(summary: ReportSummary) -> str:
    """The whole ``report.md`` text."""
    doc = _Doc()
    doc.add(f"# {summary.title}", "")
    doc.add(_settings_line(summary), "")
    doc.add(
        f"{len(summary.models)} model{'' if len(summary.models) == 1 else 's'}, "
        + "conditions: "
        + ", ".join(_code(c) for c in summary.conditions)
        + ". How to read every section: `docs/REPORTS.md` in lem.",
        "",
    )
    _methods(doc, summary)
    _sources(doc, summary)
    scorers = list(summary.scorers)
    for scorer in scorers:
        data = summary.scorers[scorer]
        h = f" ({scorer})" if len(scorers) > 1 else ""
        doc.add(_holm_line(data, scorer if len(scorers) > 1 else None), "")
        _overview(doc, data, summary.conditions, h)
        _lineages(doc, data, summary.conditions, h)
        _pairs(doc, data, h)
        _paraphrase(doc, data, summary.settings.band, summary.methods.ci.small_n_below, h)
        _axes(doc, data, scorer, h)
        doc.add(f"## Models{h}", "")
        doc.add(
            "Drivers: the signals behind each probe's change, "
            + (
                "as weighted, capped score contributions (they sum to Δ)."
                if data.drivers == "weighted"
                else "as raw signal differences."
            ),
            "",
        )
        by_model: dict[str, list[Comparison]] = {}
        for c in data.comparisons:
            if c.kind == "condition":
                by_model.setdefault(c.model_b, []).append(c)
        for label in summary.models:
            _model_section(doc, label, data.models[label], by_model.get(label, []), h)
        plots = data.plots
        if plots:
            doc.add(f"## Plots{h}", "")
            for key, alt in (
                ("domains", "Domain × condition heatmap"),
                ("distributions", "Score distributions"),
            ):
                doc.add(*_plot_links(plots, key, alt))
            doc.add(
                "All plots: "
                + ", ".join(
                    f"[{key}.png]({p.png}), [{key}.svg]({p.svg})" for key, p in plots.items()
                ),
                "",
            )
    if summary.notes:
        doc.add("## Notes", "")
        doc.add(*[f"- {n}" for n in summary.notes], "")
    return doc.text()
