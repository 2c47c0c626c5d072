"""The report's figures, as PNG and SVG, byte-identical for identical input.

Three figures per scorer, all drawn from the analysis (nothing is recomputed here):

- ``forest-<scorer>``: each model × kernel condition's mean paired delta from baseline
  with its CI; filled markers are significant after Holm's correction, the grey band is
  the ±band "unchanged" zone. Up to :data:`TOP_ROWS` comparisons all are drawn, in model
  order; beyond that the :data:`TOP_ROWS` largest ``|Δ|``, ranked, and the title says so
  (every comparison is in ``report.md``'s Overview table);
- ``domains-<scorer>``: with one model, its domain × condition mean scores; with several,
  the mean Δ from baseline per domain (columns) for the same comparisons as the forest
  plot (rows);
- ``distributions-<scorer>``: box plots of per-probe scores per model × condition, means
  marked, probes overlaid when there are few enough to see; beyond :data:`TOP_ROWS` rows,
  one box per condition over the models' mean scores, one dot per model.

Labels are never shortened: every row reads ``model · condition`` in full, and margins
are sized from the labels' widths in the plot font (glyph advances from FreeType, so the
layout costs no rendering pass and never varies). Row counts are capped, so a report over
hundreds of models draws in about the same time as one over six.

Reproducibility: matplotlib is imported lazily and drawn with the Agg canvas (no pyplot,
no global backend switch), inside an ``rc_context`` that pins the font (DejaVu Sans, which
ships with matplotlib), DPI, SVG hash salt and text-as-text; PNG and SVG metadata that
would carry a date or version are removed. Annotations use :mod:`lem.numfmt`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from lem.numfmt import fmt_fixed
from lem.report.axes import ablation_groups
from lem.report.summary import (
    Comparison,
    DomainDeltaCell,
    EarlyComparison,
    EarlyScorer,
    EarlySummary,
    PlotFiles,
    ReportSummary,
    ScorerSummary,
)

__all__ = [
    "FIGURES",
    "NEEDS_STATISTICS",
    "PLOT_RC",
    "TOP_ROWS",
    "plan_plots",
    "render_plots",
    "text_width_in",
]

PLOT_RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 9,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "svg.hashsalt": "lem-report",
    "svg.fonttype": "none",
    "svg.image_inline": True,
    "path.simplify": True,
    "axes.unicode_minus": True,
}
TOP_ROWS = 30
"""Most rows a figure draws; beyond it the forest and domain plots keep the largest |Δ|."""

AnySummary = ReportSummary | EarlySummary
"""What figures are drawn from: the finished summary, or (for the figures that need no
statistic) the part known before the statistics."""
_Comp = TypeVar("_Comp", bound=Comparison | EarlyComparison)

_PNG_META = {"Software": None}
_SVG_META = {"Date": None, "Creator": None}
_MAX_POINTS = 3000
_ANNOTATE_MAX = 60  # heatmap cells written as numbers (every number is in report.md)
_ROW_IN = 0.22
_FONT_PT = 8.0
_DPI = 100


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "scorer"


_TICK_PT = 7.0  # tick length + label pad (3.5 pt each, matplotlib's defaults)
_GAP_IN = 0.12


class _Rows:
    """Row labels as two columns: the model name, once per run of consecutive rows of one
    model (centred on them, runs separated by a thin line), and each row's condition as
    its tick label. Nothing is shortened; the columns are as wide as their longest entry."""

    def __init__(self, rows: Sequence[tuple[str, str]]) -> None:
        self.rows = list(rows)
        self.groups: list[tuple[str, int, int]] = []  # (model, first row, last row)
        for i, (model, _) in enumerate(self.rows):
            if self.groups and self.groups[-1][0] == model:
                self.groups[-1] = (model, self.groups[-1][1], i)
            else:
                self.groups.append((model, i, i))
        self.cond_in = _widest([c for _, c in self.rows])
        self.model_in = _widest([g[0] for g in self.groups])

    @property
    def width_in(self) -> float:
        """The left margin both columns need."""
        gap = _GAP_IN if self.model_in else 0.0
        return self.model_in + gap + self.cond_in + _TICK_PT / 72 + 0.1

    def draw(self, ax: Any, ys: Sequence[float], *, heat: bool = False) -> None:
        """Label ``ax``'s rows at ``ys`` (one per row, top row first); ``heat``: the
        separating lines go over the cells."""
        ax.set_yticks(list(ys), [c for _, c in self.rows])
        offset = -(_TICK_PT + (self.cond_in + _GAP_IN) * 72)
        for k, (model, first, last) in enumerate(self.groups):
            if not model:
                continue
            ax.annotate(
                model,
                xy=(0, (ys[first] + ys[last]) / 2),
                xycoords=("axes fraction", "data"),
                xytext=(offset, 0),
                textcoords="offset points",
                ha="right",
                va="center",
                annotation_clip=False,
            )
            if k:
                between = (ys[first - 1] + ys[first]) / 2
                ax.axhline(between, color="0.75", linewidth=0.6, zorder=4 if heat else 0)


@lru_cache(maxsize=1)
def _font() -> Any:
    """A private FreeType face of the plot font (matplotlib's renderers share theirs and
    change its size as they draw)."""
    from matplotlib.font_manager import FontProperties, findfont
    from matplotlib.ft2font import FT2Font

    font = FT2Font(findfont(FontProperties(family="DejaVu Sans")))
    font.set_size(_FONT_PT, _DPI)
    return font


@lru_cache(maxsize=4096)
def _advance_px(char: str) -> float:
    return float(_font().load_char(ord(char)).horiAdvance) / 64.0


def text_width_in(text: str, size: float = _FONT_PT) -> float:
    """Width of ``text`` in inches at ``size`` points in the plot font: the sum of the
    hinted glyph advances (within about 1% of what Agg draws), plus a small safety margin."""
    px = sum(_advance_px(c) for c in text) * size / _FONT_PT
    return px * 1.03 / _DPI + 0.02


def _widest(labels: Sequence[str], size: float = _FONT_PT) -> float:
    return max((text_width_in(label, size) for label in labels), default=0.0)


def _colours(conditions: Sequence[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {c: cmap(i % 10) for i, c in enumerate(conditions)}


def _files(name: str) -> PlotFiles:
    return PlotFiles(png=f"plots/{name}.png", svg=f"plots/{name}.svg")


def _save(fig: Any, out_dir: Path, name: str) -> PlotFiles:
    plots = out_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    fig.savefig(plots / f"{name}.png", format="png", metadata=_PNG_META)
    fig.savefig(plots / f"{name}.svg", format="svg", metadata=_SVG_META)
    return _files(name)


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _rows_figure(rows: _Rows, title_lines: int, plot_in: float = 4.5) -> tuple[Any, Any]:
    """A figure with one axes for a labelled row per entry; the left margin holds the
    row labels in full, the top margin ``title_lines`` lines of title."""
    label_in = rows.width_in
    width = label_in + plot_in + 0.3
    top_in = 0.15 + 0.18 * title_lines
    height = max(2.2, _ROW_IN * len(rows.rows) + 0.55 + top_in)
    fig = _figure(width, height)
    fig.subplots_adjust(
        left=label_in / width,
        right=1 - 0.3 / width,
        bottom=0.55 / height,
        top=1 - top_in / height,
    )
    return fig, fig.add_subplot()


def _mean_delta(comp: Comparison | EarlyComparison) -> float:
    if comp.stats is None:
        raise AssertionError(f"{comp.id}: no probes, no mean delta")
    return comp.stats.mean_delta


def _shown(comparisons: Sequence[_Comp]) -> list[_Comp]:
    """The kernel-condition comparisons with probes: the rows a figure can have."""
    return [c for c in comparisons if c.kind == "condition" and c.stats is not None]


def _selected(comparisons: Sequence[_Comp]) -> tuple[list[_Comp], int]:
    """The kernel-condition comparisons a figure shows, and how many there are: all of them
    (model order) up to :data:`TOP_ROWS`, else the :data:`TOP_ROWS` largest ``|Δ|``
    (ranked by Δ, highest first; ties by id)."""
    comps = _shown(comparisons)
    if len(comps) <= TOP_ROWS:
        return comps, len(comps)
    top = sorted(comps, key=lambda c: (-abs(_mean_delta(c)), c.id))[:TOP_ROWS]
    top.sort(key=lambda c: (-_mean_delta(c), c.id))
    return top, len(comps)


def _forest(
    data: ScorerSummary, conditions: Sequence[str], band: float, alpha: float, scorer: str
) -> Any | None:
    comps, total = _selected(data.comparisons)
    if not comps:
        return None
    colours = _colours(conditions)
    n = len(comps)
    rows = _Rows([(c.model_b, c.condition_b) for c in comps])
    title = f"Δ {scorer} vs baseline, {total} comparison{'s' if total != 1 else ''}"
    if n < total:
        title += f": the {n} largest |Δ|\n(every comparison: report.md, Overview)"
    points = []
    for comp in comps:
        ci = comp.stats.ci if comp.stats is not None else None
        lo, hi = (ci.low, ci.high) if ci is not None else (None, None)
        significant = comp.p_holm is not None and comp.p_holm < alpha
        points.append((_mean_delta(comp), lo, hi, colours[comp.condition_b], significant))
    xlabel = f"mean Δ with {_level(data)} CI; filled: Holm p < {alpha:g}"
    return _delta_rows(rows, title, xlabel, points, band)


_Point = tuple[float, float | None, float | None, Any, bool]
"""A row's mean Δ, CI bounds, colour and whether its marker is filled."""


def _delta_rows(
    rows: _Rows, title: str, xlabel: str, points: Sequence[_Point | None], band: float
) -> Any:
    """A forest of labelled rows, one point each (None: an empty row) with its CI as a
    segment, over the grey ±band and the zero line."""
    fig, ax = _rows_figure(rows, title.count("\n") + 1)
    n = len(rows.rows)
    ys = np.arange(n)[::-1]
    ax.axvspan(-band, band, color="0.92", zorder=0)
    ax.axvline(0.0, color="0.4", linewidth=0.8, zorder=1)
    segments, seg_colours = [], []
    xs, yv, edge, face = [], [], [], []
    for y, point in zip(ys, points, strict=False):
        if point is None:
            continue
        mean, lo, hi, colour, filled = point
        if lo is not None and hi is not None:
            segments.append([(lo, y), (hi, y)])
            seg_colours.append(colour)
        xs.append(mean)
        yv.append(y)
        edge.append(colour)
        face.append(colour if filled else "white")
    _segments(ax, segments, seg_colours, 1.4)
    ax.scatter(xs, yv, s=22, c=face, edgecolors=edge, linewidths=1.0, zorder=3)
    rows.draw(ax, ys.tolist())
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_title(title, loc="left")
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", color="0.85", linewidth=0.5)
    return fig


def _level(data: ScorerSummary) -> str:
    for comp in data.comparisons:
        if comp.stats is not None:
            return f"{100 * comp.stats.ci.level:g}%"
    return "95%"


def _segments(ax: Any, segments: list[Any], colours: list[Any], width: float) -> None:
    from matplotlib.collections import LineCollection

    if segments:
        ax.add_collection(LineCollection(segments, colors=colours, linewidths=width, zorder=2))


def _boxes(ax: Any, data: Sequence[Any], ys: Any, colours: Sequence[Any]) -> None:
    """Horizontal box plots drawn as three collections (fast for many rows): boxes from
    the quartiles (linear interpolation), whiskers to the furthest point within 1.5 IQR
    (the usual Tukey convention, as matplotlib's ``boxplot``), median ticks."""
    from matplotlib.collections import PolyCollection

    polys, whiskers, medians = [], [], []
    for vals, y in zip(data, ys, strict=True):
        q1, med, q3 = np.percentile(vals, [25, 50, 75])
        iqr = q3 - q1
        lo = vals[vals >= q1 - 1.5 * iqr].min()
        hi = vals[vals <= q3 + 1.5 * iqr].max()
        h = 0.3
        polys.append([(q1, y - h), (q3, y - h), (q3, y + h), (q1, y + h)])
        whiskers += [[(lo, y), (q1, y)], [(q3, y), (hi, y)]]
        whiskers += [[(lo, y - h / 2), (lo, y + h / 2)], [(hi, y - h / 2), (hi, y + h / 2)]]
        medians.append([(med, y - h), (med, y + h)])
    ax.add_collection(
        PolyCollection(
            polys, facecolors=list(colours), edgecolors="0.25", linewidths=0.6, alpha=0.5
        )
    )
    _segments(ax, whiskers, ["0.25"] * len(whiskers), 0.8)
    _segments(ax, medians, ["0.1"] * len(medians), 1.2)
    ax.autoscale_view()


def _heat(
    fig: Any, rect: Sequence[float], cbar: Sequence[float], matrix: Any, diverging: bool
) -> Any:
    """One heatmap panel at ``rect`` with its colour bar at ``cbar`` (figure fractions)."""
    ax = fig.add_axes(rect)
    masked = np.ma.masked_invalid(matrix)
    if diverging:
        finite = matrix[np.isfinite(matrix)]
        lim = float(np.abs(finite).max()) if finite.size else 1.0
        im = ax.imshow(masked, aspect="auto", cmap="RdBu", vmin=-(lim or 1.0), vmax=lim or 1.0)
    else:
        im = ax.imshow(masked, aspect="auto", cmap="viridis")
    rows, cols = matrix.shape
    if rows * cols <= _ANNOTATE_MAX:
        for i in range(rows):
            for j in range(cols):
                v = matrix[i, j]
                if np.isfinite(v):
                    r, g, b, _ = im.cmap(im.norm(v))
                    dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
                    ax.text(
                        j,
                        i,
                        fmt_fixed(float(v), 1, signed=diverging),
                        ha="center",
                        va="center",
                        fontsize=6.5,
                        color="white" if dark else "black",
                    )
    fig.colorbar(im, cax=fig.add_axes(cbar))
    return ax


def _domains(summary: AnySummary, data: ScorerSummary | EarlyScorer, scorer: str) -> Any | None:
    models = summary.models
    domains = sorted({d for label in models for d in data.models[label].domains})
    if not domains:
        return None
    if len(models) == 1:
        m = data.models[models[0]]
        cols = list(m.condition_order)
        matrix = np.full((len(domains), len(cols)), np.nan)
        for i, dom in enumerate(domains):
            for j, cond in enumerate(cols):
                cell = m.domains.get(dom, {}).get(cond)
                if cell is not None and cell.mean is not None:
                    matrix[i, j] = cell.mean
        title = f"mean {scorer} by domain and condition\n{models[0]}"
        return _heatmap_figure(_Rows([("", d) for d in domains]), cols, matrix, title, False)
    comps, total = _selected(data.comparisons)
    if not comps:
        return None
    rows = _Rows([(c.model_b, c.condition_b) for c in comps])
    matrix = np.full((len(comps), len(domains)), np.nan)
    for i, comp in enumerate(comps):
        per = data.models[comp.model_b].domains
        for j, dom in enumerate(domains):
            cell = per.get(dom, {}).get(comp.condition_b)
            if isinstance(cell, DomainDeltaCell) and cell.delta is not None:
                matrix[i, j] = cell.delta
    title = f"mean Δ {scorer} vs baseline by domain"
    if len(comps) < total:
        title += f": the {len(comps)} largest overall |Δ| of {total}"
    return _heatmap_figure(rows, domains, matrix, title, True)


def _heatmap_figure(
    rows: _Rows, cols: Sequence[str], matrix: Any, title: str, diverging: bool
) -> Any:
    """A labelled heatmap: rows read horizontally in full, columns rotated 60°."""
    import math

    lines = title.count("\n") + 1
    left = rows.width_in
    col_w = max(0.42, _widest([fmt_fixed(-88.8, 1, signed=True)], 6.5) + 0.08)
    body_w = max(col_w * len(cols), 1.2)
    bottom = _widest(cols) * math.sin(math.radians(60)) + 0.25
    body_h = max(_ROW_IN * len(rows.rows), 1.0)
    top = 0.15 + 0.18 * lines
    bar = (0.1, 0.12, 0.45)
    width = max(left + body_w + sum(bar), _widest(title.split("\n"), 9) + 0.3)
    height = bottom + body_h + top
    fig = _figure(width, height)

    def frac(x: float, w: float) -> list[float]:
        return [x / width, bottom / height, w / width, body_h / height]

    ax = _heat(fig, frac(left, body_w), frac(left + body_w + bar[0], bar[1]), matrix, diverging)
    rows.draw(ax, list(range(len(rows.rows))), heat=True)
    ax.set_xticks(np.arange(len(cols)), cols, rotation=60, ha="right", rotation_mode="anchor")
    fig.text(0.1 / width, 1 - 0.1 / height, title, ha="left", va="top", fontsize=9)
    return fig


def _distributions(
    summary: AnySummary,
    scores: Mapping[str, Mapping[str, Sequence[float]]],
    conditions: Sequence[str],
    seed: int,
    scorer: str,
) -> Any | None:
    colours = _colours(conditions)
    rows: list[tuple[str, str, Sequence[float]]] = []
    for label in summary.models:
        for cond, vals in scores.get(label, {}).items():
            if vals:
                rows.append((label, cond, vals))
    if not rows:
        return None
    if len(rows) > TOP_ROWS:
        return _distributions_over_models(summary, rows, conditions, colours, seed, scorer)
    n = len(rows)
    labels = _Rows([(label, cond) for label, cond, _ in rows])
    fig, ax = _rows_figure(labels, 1)
    ys = np.arange(n)[::-1].astype(float)
    _boxes(
        ax, [np.asarray(v, dtype=float) for _, _, v in rows], ys, [colours[c] for _, c, _ in rows]
    )
    total = sum(len(v) for _, _, v in rows)
    if total <= _MAX_POINTS:
        rng = np.random.default_rng(seed)
        px: list[float] = []
        py: list[float] = []
        pc: list[Any] = []
        for y, (_, cond, vals) in zip(ys, rows, strict=True):
            jitter = rng.uniform(-0.18, 0.18, size=len(vals))
            px += list(vals)
            py += (y + jitter).tolist()
            pc += [colours[cond]] * len(vals)
        ax.scatter(px, py, s=5, c=pc, zorder=3)
    means = [float(np.mean(v)) for _, _, v in rows]
    ax.scatter(means, ys, marker="D", s=16, color="black", zorder=4)
    labels.draw(ax, ys.tolist())
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_title(f"{scorer} per probe, per model and condition", loc="left")
    ax.set_xlabel("box: quartiles, whiskers 1.5 IQR, ◆ mean")
    ax.grid(axis="x", color="0.85", linewidth=0.5)
    return fig


def _distributions_over_models(
    summary: AnySummary,
    rows: Sequence[tuple[str, str, Sequence[float]]],
    conditions: Sequence[str],
    colours: Mapping[str, Any],
    seed: int,
    scorer: str,
) -> Any:
    """Too many model × condition rows to read: per condition, the models' mean scores
    (one dot per model, a box over them)."""
    per: dict[str, list[float]] = {}
    for _, cond, vals in rows:
        per.setdefault(cond, []).append(float(np.mean(vals)))
    conds = [c for c in conditions if c in per]
    labels = _Rows([("", f"{c} ({len(per[c])} models)") for c in conds])
    fig, ax = _rows_figure(labels, 2)
    ys = np.arange(len(conds))[::-1].astype(float)
    _boxes(ax, [np.asarray(per[c]) for c in conds], ys, [colours[c] for c in conds])
    rng = np.random.default_rng(seed)
    for y, cond in zip(ys, conds, strict=True):
        vals = per[cond]
        ax.scatter(vals, y + rng.uniform(-0.25, 0.25, size=len(vals)), s=6, color=colours[cond])
        ax.scatter([float(np.mean(vals))], [y], marker="D", s=18, color="black", zorder=4)
    labels.draw(ax, ys.tolist())
    ax.set_ylim(-0.7, len(conds) - 0.3)
    n_models = len(summary.models)
    ax.set_title(
        f"mean {scorer} per model, by condition ({n_models} models)\n"
        "(per-model statistics: report.md, Models)",
        loc="left",
    )
    ax.set_xlabel("one dot per model; box: quartiles over models, whiskers 1.5 IQR, ◆ mean")
    ax.grid(axis="x", color="0.85", linewidth=0.5)
    return fig


def _ablation(data: ScorerSummary, band: float, alpha: float, scorer: str) -> Any:
    """Per model and axiom, two rows: what removing the axiom does to the full kernel
    (without − full) and what the axiom does alone (alone − baseline), with CIs; filled
    markers: Holm p < alpha within the ablation."""
    entries: list[tuple[str, str, Any]] = []
    for t in data.ablation or []:
        model = f"{t.model} ({t.kernel})"
        for a in t.axioms:
            entries.append((model, f"axiom {a.axiom}: without − full", a.without_vs_full))
            entries.append((model, f"axiom {a.axiom}: alone − baseline", a.alone_vs_baseline))
    rows = _Rows([(m, label) for m, label, _ in entries] or [("", "no ablation scored")])
    colour = {"without": "#b2182b", "alone": "#2166ac"}
    points: list[_Point | None] = [
        None
        if d is None
        else (
            d.mean_delta,
            d.ci.low,
            d.ci.high,
            colour["without" if "without" in label else "alone"],
            d.p_holm is not None and d.p_holm < alpha,
        )
        for _m, label, d in entries
    ]
    xlabel = f"mean Δ with {_level(data)} CI; filled: Holm p < {alpha:g} (per ablation)"
    return _delta_rows(rows, f"Kernel ablation, Δ {scorer}", xlabel, points, band)


def _make(
    key: str,
    summary: AnySummary,
    data: ScorerSummary | EarlyScorer,
    scores: Mapping[str, Mapping[str, Sequence[float]]],
    scorer: str,
) -> Any | None:
    settings = summary.settings
    conditions = summary.conditions
    if key == "forest":
        if not isinstance(data, ScorerSummary):
            raise AssertionError("the forest plot is drawn from the statistics")
        return _forest(data, conditions, settings.band, settings.alpha, scorer)
    if key == "ablation":
        if not isinstance(data, ScorerSummary):
            raise AssertionError("the ablation plot is drawn from the statistics")
        return _ablation(data, settings.band, settings.alpha, scorer)
    if key == "domains":
        return _domains(summary, data, scorer)
    return _distributions(summary, scores, conditions, settings.seed, scorer)


FIGURES: tuple[str, ...] = ("forest", "ablation", "domains", "distributions")
"""Every figure per scorer, in the order the report lists them."""
NEEDS_STATISTICS: frozenset[str] = frozenset({"forest", "ablation"})
"""Figures drawn from the statistics (CIs, Holm p); the others need only the collected
data (``Prepared.early_summary``), so they can be drawn while the statistics run."""


def plan_plots(
    summary: AnySummary, scores: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]]
) -> dict[str, dict[str, PlotFiles]]:
    """Scorer → figure → its PNG and SVG paths (relative) of every figure the report will
    have (a figure with nothing to show is left out). Needs only the early summary, no
    matplotlib."""
    out: dict[str, dict[str, PlotFiles]] = {}
    for scorer, data in summary.scorers.items():
        slug = _slug(scorer)
        comps = _shown(data.comparisons)
        domains = any(data.models[m].domains for m in summary.models)
        show = {
            "forest": bool(comps),
            "ablation": bool(ablation_groups(summary.conditions)),
            "domains": domains and (len(summary.models) == 1 or bool(comps)),
            "distributions": any(v for per in scores[scorer].values() for v in per.values()),
        }
        out[scorer] = {key: _files(f"{key}-{slug}") for key in FIGURES if show[key]}
    return out


def render_plots(
    summary: AnySummary,
    scores: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]],
    out_dir: Path,
    keys: Sequence[str] = FIGURES,
) -> dict[str, dict[str, PlotFiles]]:
    """Draw and save the planned figures among ``keys`` (:func:`plan_plots`); returns
    scorer → figure → the PNG and SVG paths (relative) of the figures drawn."""
    import matplotlib

    out: dict[str, dict[str, PlotFiles]] = {}
    planned = plan_plots(summary, scores)
    with matplotlib.rc_context(PLOT_RC):  # type: ignore[arg-type]
        for scorer, data in summary.scorers.items():
            slug = _slug(scorer)
            files: dict[str, PlotFiles] = {}
            for key in FIGURES:
                if key not in keys or key not in planned[scorer]:
                    continue
                fig = _make(key, summary, data, scores[scorer], scorer)
                if fig is None:
                    raise AssertionError(f"{key}-{slug}: planned but nothing to draw")
                files[key] = _save(fig, out_dir, f"{key}-{slug}")
            out[scorer] = files
    return out
