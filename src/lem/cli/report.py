"""Build a report from A/B JSONL files and stored runs: paired statistics with CIs and
Holm-adjusted p-values, per-probe regressions and rescues with the signals behind them,
domain and incidence tables, lineage and fine-tuning tables, plots (PNG and SVG),
report.md, summary.json and an HTML viewer. Identical input gives identical files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from lem.defaults import DEFAULT_SCORER, is_baseline

if TYPE_CHECKING:
    from lem.report.summary import ReportSummary

__all__ = ["report"]


def report(
    files: list[Path] | None = typer.Argument(
        None, help="A/B results JSONL files (upstream or lem-written); one model each."
    ),
    db: str | None = typer.Option(
        None, "--db", help="Run store (SQLite path or SQLAlchemy URL): report its runs."
    ),
    run: list[str] | None = typer.Option(
        None, "--run", help="Stored run id or unique prefix (repeatable); default: all runs."
    ),
    model_contains: list[str] | None = typer.Option(
        None,
        "--model-contains",
        help="Only stored runs whose model spec contains this text (repeatable, any matches).",
    ),
    scorer: list[str] | None = typer.Option(
        None,
        "--scorer",
        "-s",
        help=f"Scorer id (repeatable); default {DEFAULT_SCORER} (upstream lek_score).",
    ),
    band: float = typer.Option(
        0.5, "--band", help="A probe improved/regressed when its score moved by more than this."
    ),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    top: int = typer.Option(10, "--top", help="Regressions and rescues listed per comparison."),
    models: Path | None = typer.Option(
        None, "--models", help="Model mapping file (YAML/JSON): family, version, base, label."
    ),
    pair: list[str] | None = typer.Option(
        None, "--pair", help="BASE=TUNED model labels for fine-tuning tables (repeatable)."
    ),
    all_samples: bool = typer.Option(
        False, "--all-samples", help="Average every sample per probe (default: sample 0 only)."
    ),
    title: str = typer.Option("lem report", "--title", help="Report title."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Draw the PNG/SVG plots."),
    out: Path = typer.Option(Path("report"), "--out", "-o", help="Output folder."),
) -> None:
    """Build a report (report.md, summary.json, plots, report.html) in --out."""
    from rich.console import Console

    from lem.report.build import build_report

    result = build_report(
        list(files or []),
        out,
        scorer=scorer or DEFAULT_SCORER,
        band=band,
        seed=seed,
        top=top,
        models_file=models,
        pairs=list(pair or []),
        db=db,
        runs=list(run or []),
        model_contains=list(model_contains or []),
        all_samples=all_samples,
        title=title,
        plots=plots,
    )
    console = Console(highlight=False)
    n_plots = sum(1 for name in result.files if name.startswith("plots/"))
    console.print(
        f"wrote {out}/: report.md, summary.json"
        + (", report.html" if result.html else "")
        + (f", {n_plots} plots in plots/" if n_plots else "")
        + f" ({_plural(len(result.sources), 'model')}, {_plural(result.records, 'response')})"
    )
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    _print_overview(console, result.report)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _print_overview(console: Any, summary: ReportSummary) -> None:
    """The overview table of report.md in the terminal, from the unrounded summary and
    formatted by :mod:`lem.numfmt`, so every string matches report.md's."""
    from rich.table import Table

    from lem.numfmt import DASH, fmt_delta, fmt_mean, fmt_p

    scorer = summary.settings.scorers[0]
    data = summary.scorers[scorer]
    others = [c for c in summary.conditions if not is_baseline(c)]
    table = Table(
        title=f"{scorer}: mean baseline, Δ vs baseline, Holm p (details in report.md)",
        title_justify="left",
    )
    table.add_column("model", overflow="fold")
    table.add_column("baseline", justify="right")
    for c in others:
        table.add_column(f"Δ {c}", justify="right")
        table.add_column("p", justify="right")
    for row in data.cross_model:
        base = row.baseline
        cells = [row.model, fmt_mean(base.mean if base else None)]
        for c in others:
            cell = row.conditions.get(c)
            if cell is None:
                cells += [DASH, DASH]
            else:
                cells += [fmt_delta(cell.delta), fmt_p(cell.p_holm)]
        table.add_row(*cells)
    console.print(table)


def _main() -> None:
    """Run ``report`` as a stand-alone command (``python -m lem.cli.report``)."""
    import sys

    from lem.errors import LemError

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(help=__doc__)(report)
    try:
        app()
    except LemError as exc:
        print(f"lem: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    _main()
