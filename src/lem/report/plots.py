"""The report's figures, as PNG and SVG, byte-identical for identical input.

Three figures per scorer, all drawn from the analysis (nothing is recomputed here):

- ``forest-<scorer>``: every model × kernel condition's mean paired delta from baseline
  with its bootstrap CI; filled markers are significant after Holm's correction, the grey
  band is the ±band "unchanged" zone;
- ``domains-<scorer>``: left, the first model's domain × condition mean scores; right
  (with several models), domain × (model, condition) mean deltas from baseline;
- ``distributions-<scorer>``: box plots of per-probe scores per model × condition, means
  marked, individual probes overlaid when there are few enough to see.

Reproducibility: matplotlib is imported lazily and drawn with the Agg canvas (no pyplot,
no global backend switch), inside an ``rc_context`` that pins the font (DejaVu Sans, which
ships with matplotlib), DPI, SVG hash salt and text-as-paths; PNG and SVG metadata that
would carry a date or version are removed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PLOT_RC", "render_plots"]

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
_PNG_META = {"Software": None}
_SVG_META = {"Date": None, "Creator": None}
_MAX_POINTS = 3000
_CHAR_IN = 0.068
_ROW_IN = 0.22
_LABEL_MAX = 48
BASELINE = "baseline"


def _short(text: str) -> str:
    return text if len(text) <= _LABEL_MAX else text[: _LABEL_MAX - 1] + "…"


def _fit(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "scorer"


def _colours(conditions: Sequence[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {c: cmap(i % 10) for i, c in enumerate(conditions)}


def _save(fig: Any, out_dir: Path, name: str) -> dict[str, str]:
    plots = out_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    fig.savefig(plots / f"{name}.png", format="png", metadata=_PNG_META)
    fig.savefig(plots / f"{name}.svg", format="svg", metadata=_SVG_META)
    return {"png": f"plots/{name}.png", "svg": f"plots/{name}.svg"}


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _text_width(labels: Sequence[str]) -> float:
    """Approximate width in inches of the longest label at the plot font size."""
    return _CHAR_IN * max((len(label) for label in labels), default=0)


def _rows_figure(labels: Sequence[str]) -> tuple[Any, Any]:
    """A figure with one axes for a labelled row per entry, margins fitted to the labels
    (computed, not measured, so the layout costs nothing and never varies)."""
    width = 7.5
    height = max(2.2, _ROW_IN * len(labels) + 1.0)
    left = min(0.6, (_text_width(labels) + 0.25) / width)
    fig = _figure(width, height)
    fig.subplots_adjust(left=left, right=0.97, bottom=0.55 / height, top=1 - 0.2 / height)
    return fig, fig.add_subplot()


def _forest(
    data: Mapping[str, Any], conditions: Sequence[str], band: float, alpha: float, scorer: str
) -> Any | None:
    comps = [c for c in data["comparisons"] if c["kind"] == "condition" and c["stats"]]
    if not comps:
        return None
    colours = _colours(conditions)
    n = len(comps)
    labels = [_short(f"{c['model_b']} · {c['condition_b']}") for c in comps]
    fig, ax = _rows_figure(labels)
    ys = np.arange(n)[::-1]
    ax.axvspan(-band, band, color="0.92", zorder=0)
    ax.axvline(0.0, color="0.4", linewidth=0.8, zorder=1)
    segments, seg_colours = [], []
    xs, edge, face = [], [], []
    for y, comp in zip(ys, comps, strict=True):
        st = comp["stats"]
        colour = colours[comp["condition_b"]]
        lo, hi = st["ci"]["low"], st["ci"]["high"]
        if lo is not None and hi is not None:
            segments.append([(lo, y), (hi, y)])
            seg_colours.append(colour)
        significant = comp["p_holm"] is not None and comp["p_holm"] < alpha
        xs.append(st["mean_delta"])
        edge.append(colour)
        face.append(colour if significant else "white")
    _segments(ax, segments, seg_colours, 1.4)
    ax.scatter(xs, ys, s=22, c=face, edgecolors=edge, linewidths=1.0, zorder=3)
    ax.set_yticks(ys, labels)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel(f"Δ {scorer} vs baseline (mean, 95% CI); filled: Holm p < {alpha:g}")
    ax.grid(axis="x", color="0.85", linewidth=0.5)
    return fig


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
    if rows <= 25 and cols <= 16:
        for i in range(rows):
            for j in range(cols):
                v = matrix[i, j]
                if np.isfinite(v):
                    r, g, b, _ = im.cmap(im.norm(v))
                    dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
                    ax.text(
                        j,
                        i,
                        f"{v:+.1f}" if diverging else f"{v:.1f}",
                        ha="center",
                        va="center",
                        fontsize=6.5,
                        color="white" if dark else "black",
                    )
    fig.colorbar(im, cax=fig.add_axes(cbar))
    return ax


def _domains(summary: Mapping[str, Any], data: Mapping[str, Any]) -> Any | None:
    models = summary["models"]
    first = data["models"][models[0]]
    domains = sorted({d for label in models for d in data["models"][label]["domains"]})
    if not domains:
        return None
    conds = first["condition_order"]
    left = np.full((len(domains), len(conds)), np.nan)
    for i, dom in enumerate(domains):
        for j, cond in enumerate(conds):
            cell = first["domains"].get(dom, {}).get(cond)
            if cell and cell["mean"] is not None:
                left[i, j] = cell["mean"]
    cols: list[str] = []
    right_cols: list[list[float]] = []
    if len(models) > 1:
        for label in models:
            m = data["models"][label]
            for cond in m["condition_order"]:
                if cond == BASELINE:
                    continue
                col = []
                for dom in domains:
                    cell = m["domains"].get(dom, {}).get(cond)
                    delta = cell.get("delta") if cell else None
                    col.append(np.nan if delta is None else delta)
                cols.append(_short(f"{label} · {cond}"))
                right_cols.append(col)
    conds_short = [_short(c) for c in conds]
    margin_l = _text_width(domains) + 0.3
    bottom = 0.87 * _text_width(conds_short + cols) + 0.35
    height_in = max(1.2, 0.3 * len(domains))
    top = 0.5
    width_a = max(0.55 * len(conds), 1.2)
    width_b = max(0.3 * len(cols), 1.2) if cols else 0.0
    bar = (0.1, 0.12, 0.5)
    width = margin_l + width_a + sum(bar) + (width_b + sum(bar) + 0.2 if cols else 0.0)
    fig_h = bottom + height_in + top
    fig = _figure(width, fig_h)

    def frac(x: float, w: float) -> list[float]:
        return [x / width, bottom / fig_h, w / width, height_in / fig_h]

    x = margin_l
    ax = _heat(fig, frac(x, width_a), frac(x + width_a + bar[0], bar[1]), left, False)
    ax.set_yticks(np.arange(len(domains)), domains)
    ax.set_xticks(np.arange(len(conds)), conds_short, rotation=60, ha="right")
    fit = max(int((width_a + sum(bar)) / _CHAR_IN), 8)
    ax.set_title(_fit("mean by domain", fit) + "\n" + _fit(models[0], fit), loc="left")
    if cols:
        x += width_a + sum(bar) + 0.2
        right = np.array(right_cols).T
        axb = _heat(fig, frac(x, width_b), frac(x + width_b + bar[0], bar[1]), right, True)
        axb.set_yticks(np.arange(len(domains)), [])
        axb.set_xticks(np.arange(len(cols)), cols, rotation=60, ha="right")
        axb.set_title("Δ vs baseline by domain, all models", loc="left")
    return fig


def _distributions(
    summary: Mapping[str, Any],
    scores: Mapping[str, Mapping[str, Sequence[float]]],
    conditions: Sequence[str],
    seed: int,
    scorer: str,
) -> Any | None:
    colours = _colours(conditions)
    rows: list[tuple[str, str, Sequence[float]]] = []
    for label in summary["models"]:
        for cond, vals in scores.get(label, {}).items():
            if vals:
                rows.append((label, cond, vals))
    if not rows:
        return None
    n = len(rows)
    labels = [_short(f"{label} · {cond}") for label, cond, _ in rows]
    fig, ax = _rows_figure(labels)
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
    ax.set_yticks(ys, labels)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel(f"{scorer} per probe (box: quartiles, whiskers 1.5 IQR, ◆ mean)")
    ax.grid(axis="x", color="0.85", linewidth=0.5)
    return fig


def _make(
    key: str,
    summary: Mapping[str, Any],
    data: Mapping[str, Any],
    scores: Mapping[str, Mapping[str, Sequence[float]]],
    scorer: str,
) -> Any | None:
    settings = summary["settings"]
    conditions = summary["conditions"]
    if key == "forest":
        return _forest(data, conditions, settings["band"], settings["alpha"], scorer)
    if key == "domains":
        return _domains(summary, data)
    return _distributions(summary, scores, conditions, settings["seed"], scorer)


def render_plots(
    summary: Mapping[str, Any],
    scores: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]],
    out_dir: Path,
) -> dict[str, dict[str, dict[str, str]]]:
    """Draw and save every figure; returns scorer → figure → {png, svg} relative paths."""
    import matplotlib

    out: dict[str, dict[str, dict[str, str]]] = {}
    with matplotlib.rc_context(PLOT_RC):  # type: ignore[arg-type]
        for scorer, data in summary["scorers"].items():
            slug = _slug(scorer)
            files: dict[str, dict[str, str]] = {}
            for key in ("forest", "domains", "distributions"):
                fig = _make(key, summary, data, scores[scorer], scorer)
                if fig is not None:
                    files[key] = _save(fig, out_dir, f"{key}-{slug}")
            out[scorer] = files
    return out
