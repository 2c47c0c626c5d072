"""``lem bench report``: the benchmark table as Markdown, summary.json, an HTML page and
a per-dimension dot plot with CIs (PNG and SVG)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lem.bench.table import BenchTable, Cell, Comparison, Metric
from lem.numfmt import fmt_fixed

__all__ = ["BenchReport", "markdown", "render_plot", "write_report"]


@dataclass(frozen=True)
class BenchReport:
    """The files a report wrote."""

    out_dir: Path
    files: list[str]


def _cell_text(cell: Cell | None, metric: Metric) -> str:
    if cell is None or not cell.values:
        return "—"
    if metric.kind == "accuracy":
        return (
            f"{fmt_fixed(100 * cell.mean, 1)} [{fmt_fixed(100 * cell.low, 1)}, "
            f"{fmt_fixed(100 * cell.high, 1)}] (n {cell.n})"
        )
    return (
        f"{fmt_fixed(cell.mean, 2)} [{fmt_fixed(cell.low, 2)}, {fmt_fixed(cell.high, 2)}] "
        f"(n {cell.n})"
    )


def _mark(c: Comparison | None) -> str:
    return "" if c is None or not (c.p_holm < 0.05) else " *"


def _p(x: float) -> str:
    if not math.isfinite(x):
        return "—"
    return "<0.001" if x < 0.001 else fmt_fixed(x, 3)


def _delta(c: Comparison, metric: Metric) -> str:
    if metric.kind == "accuracy":
        return f"{100 * c.delta:+.1f} pts"
    return f"{c.delta:+.2f}"


def _header_label(m: Metric) -> str:
    return f"{m.label} %" if m.kind == "accuracy" else m.label


def markdown(table: BenchTable) -> str:
    """The report as Markdown: the table, the comparisons, failures, runs, agreement."""
    lines = [
        "# Standard benchmarks",
        "",
        f"Reference variant: **{table.reference}**. Cells: mean [95% CI] (n items scored); "
        "accuracy with the Wilson interval, judged dimensions (1-10) with lem's CI of a "
        "mean. `*`: differs from the reference after Holm's correction (p < 0.05) over "
        "every comparison below.",
        "",
        "| Variant | " + " | ".join(_header_label(m) for m in table.metrics) + " |",
        "|---|" + "---|" * len(table.metrics),
    ]
    for v in table.variants:
        cells = [
            _cell_text(table.cell(v, m.key), m) + _mark(table.comparison(v, m.key))
            for m in table.metrics
        ]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    by_key = {m.key: m for m in table.metrics}
    if table.comparisons:
        lines += [
            "",
            f"## Against {table.reference}",
            "",
            "Paired on the items both variants have: McNemar's exact test for accuracy "
            "(discordant pairs), Wilcoxon signed-rank for judged dimensions; Holm over all "
            f"{len(table.comparisons)} comparisons.",
            "",
            "| Variant | Metric | n | Δ | Test | p | p (Holm) |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in table.comparisons:
            m = by_key[c.metric]
            extra = ""
            if c.test == "mcnemar-exact":
                extra = f" ({c.detail['only_a']} vs {c.detail['only_b']} discordant)"
            lines.append(
                f"| {c.variant} | {m.label} | {c.n} | {_delta(c, m)} | {c.test}{extra} | "
                f"{_p(c.p)} | {_p(c.p_holm)} |"
            )
    lines += [
        "",
        "## Scores excluded",
        "",
        "Failed scores (a judge reply that did not parse, an upstream entry without numbers) "
        "and answers with no score are left out of every mean and counted here.",
        "",
        "| Variant | Metric | Scored | Failed | Not scored |",
        "|---|---|---|---|---|",
    ]
    for v in table.variants:
        for m in table.metrics:
            cell = table.cell(v, m.key)
            if cell is not None:
                lines.append(f"| {v} | {m.label} | {cell.n} | {cell.failed} | {cell.missing} |")
    lines += ["", "## Runs", "", "| Run | Benchmark | Variant | Items | Scorer | Source |"]
    lines.append("|---|---|---|---|---|---|")
    for r in table.runs:
        lines.append(
            f"| {r['run_id']} | {r['benchmark']} | {r['variant']} | {r['items']} | "
            f"{r['scorer'] or '—'} | {r['source'] or '—'} |"
        )
    if table.agreement is not None:
        a = table.agreement
        lines += [
            "",
            "## GSM8K: lem's scoring against the imported scores",
            "",
            f"{a['agree']} of {a['n']} answers get the same verdict.",
        ]
        if a["disagreements"]:
            lines += ["", "| Variant | Item | lem | upstream |", "|---|---|---|---|"]
            for d in a["disagreements"]:
                lines.append(
                    f"| {d['variant']} | {d['id']} | {d['lem']} ({d['lem_extracted']}) | "
                    f"{d['upstream']} ({d['upstream_extracted']}) |"
                )
    return "\n".join(lines) + "\n"


def render_plot(table: BenchTable, out_dir: Path) -> list[str]:
    """One panel per metric: each variant's mean with its CI as a dot and a bar, the
    reference drawn in a darker colour and its mean as a dashed line."""
    import matplotlib

    from lem.report.plots import PLOT_RC, _figure

    metrics = [m for m in table.metrics if any(table.cell(v, m.key) for v in table.variants)]
    if not metrics:
        return []
    variants = table.variants
    with matplotlib.rc_context(PLOT_RC):  # type: ignore[arg-type]
        cols = min(4, len(metrics))
        rows = math.ceil(len(metrics) / cols)
        fig = _figure(2.3 * cols + 1.6, 0.28 * len(variants) * rows + 1.0 * rows + 0.4)
        axes = fig.subplots(rows, cols, squeeze=False)
        for idx, m in enumerate(metrics):
            ax = axes[idx // cols][idx % cols]
            scale = 100.0 if m.kind == "accuracy" else 1.0
            for y, v in enumerate(variants):
                cell = table.cell(v, m.key)
                if cell is None or not cell.values:
                    continue
                colour = "#1f3b73" if v == table.reference else "#d9822b"
                lo, hi = cell.low * scale, cell.high * scale
                if math.isfinite(lo) and math.isfinite(hi):
                    ax.plot([lo, hi], [y, y], color=colour, linewidth=1.6)
                ax.plot([cell.mean * scale], [y], "o", color=colour, markersize=4.5)
                if v == table.reference:
                    ax.axvline(cell.mean * scale, color=colour, linewidth=0.6, linestyle="--")
            ax.set_yticks(range(len(variants)))
            ax.set_yticklabels(variants if idx % cols == 0 else [""] * len(variants))
            ax.set_ylim(len(variants) - 0.5, -0.5)
            ax.set_title(f"{m.label} (%)" if m.kind == "accuracy" else m.label)
            ax.grid(axis="x", linewidth=0.3, alpha=0.6)
        for idx in range(len(metrics), rows * cols):
            axes[idx // cols][idx % cols].set_visible(False)
        fig.tight_layout()
        plots = out_dir / "plots"
        plots.mkdir(parents=True, exist_ok=True)
        fig.savefig(plots / "benchmarks.png", format="png", metadata={"Software": None})
        fig.savefig(
            plots / "benchmarks.svg", format="svg", metadata={"Date": None, "Creator": None}
        )
    return ["plots/benchmarks.png", "plots/benchmarks.svg"]


def _html(table: BenchTable, plot_svg: str | None) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lem.bench", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )
    rows = []
    for v in table.variants:
        rows.append(
            {
                "variant": v,
                "reference": v == table.reference,
                "cells": [
                    _cell_text(table.cell(v, m.key), m) + _mark(table.comparison(v, m.key))
                    for m in table.metrics
                ],
            }
        )
    by_key = {m.key: m for m in table.metrics}
    comparisons = [
        {
            "variant": c.variant,
            "metric": by_key[c.metric].label,
            "n": c.n,
            "delta": _delta(c, by_key[c.metric]),
            "test": c.test,
            "p": _p(c.p),
            "p_holm": _p(c.p_holm),
            "significant": c.p_holm < 0.05,
        }
        for c in table.comparisons
    ]
    return env.get_template("bench_report.html.j2").render(
        reference=table.reference,
        headers=[_header_label(m) for m in table.metrics],
        rows=rows,
        comparisons=comparisons,
        runs=table.runs,
        agreement=table.agreement,
        plot_svg=plot_svg,
    )


def write_report(table: BenchTable, out_dir: str | Path, *, plots: bool = True) -> BenchReport:
    """Write ``report.md``, ``summary.json``, ``report.html`` and the plot into
    ``out_dir`` (created if missing)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = ["report.md", "summary.json", "report.html"]
    (out / "report.md").write_text(markdown(table), encoding="utf-8")
    summary: dict[str, Any] = {"kind": "lem-bench-report", **table.as_dict()}
    (out / "summary.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    svg = None
    if plots:
        made = render_plot(table, out)
        files += made
        if made:
            svg = (out / "plots" / "benchmarks.svg").read_text(encoding="utf-8")
    (out / "report.html").write_text(_html(table, svg), encoding="utf-8")
    return BenchReport(out, files)
