"""``lem bench``: standard benchmarks (GSM8K, TruthfulQA, Do-Not-Answer, ToxiGen) under
any model and condition: run, score, report, and import upstream results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from lem.bench.config import BenchConfig, MCConfig
from lem.cli.progress import RichProgress
from lem.cli.schema import (
    collect,
    command_from_model,
    config_param,
    dry_run_param,
    print_plan,
    quiet_param,
)
from lem.config import DEFAULT_DB, load_config
from lem.redact import redact

__all__ = ["app"]

app = typer.Typer(
    help="Standard benchmarks: the capability and safety cost of a kernel.",
    no_args_is_help=True,
)


def _run(
    config: Path | None = None, quiet: bool = False, dry_run: bool = False, **flags: Any
) -> None:
    """Ask a benchmark's items (read from a local file, never downloaded) under the
    given model and conditions, through the resumable ledger, and score what needs no
    judge (GSM8K's final answer). Re-running the same command resumes."""
    from lem.bench.run import run_bench

    base: BenchConfig = load_config(config, BenchConfig)
    cfg = base.merged(collect(BenchConfig, flags))
    if dry_run:
        from lem.api import plan_run
        from lem.bench.run import bench_ab_config, bench_probes, load_bench_items

        bench, items = load_bench_items(cfg)
        print_plan(
            plan_run(
                bench_ab_config(cfg, bench, items),
                probe_set=bench_probes(bench, items, cfg.prompt_style),
            )
        )
        return
    console = Console(stderr=True)
    header = (
        f"[bold]lem bench run[/] {escape(cfg.benchmark)} model={escape(redact(cfg.model))} "
        f"conditions={escape(','.join(cfg.conditions))}"
    )
    with RichProgress(console, enabled=not quiet, header=header) as bar:
        out = run_bench(cfg, progress=bar.hook)
    items = out.items
    typer.echo(
        f"run {out.run.run_id}: {out.benchmark}, {len(items)} of {items.total} items "
        f"(set {items.digest()[:12]}), {out.run.generated} generated, {out.run.failed} "
        f"failed, status {out.run.status}"
    )
    typer.echo(f"next: lem bench score --db {redact(cfg.db)} [--judge openai:URL#MODEL]")


app.command("run")(
    command_from_model(
        BenchConfig, _run, before=[config_param()], after=[quiet_param(), dry_run_param()]
    )
)


def _mc(config: Path | None = None, quiet: bool = False, **flags: Any) -> None:
    """Score TruthfulQA multiple choice (MC1: is the best answer the most likely choice;
    MC2: the probability mass on true answers) from an hf model's log-likelihoods, zero-
    shot, under the given conditions; stored as a run that `lem bench report` shows."""
    from lem.bench.mc import run_mc

    base: MCConfig = load_config(config, MCConfig)
    cfg = base.merged(collect(MCConfig, flags))
    console = Console(stderr=True)
    with RichProgress(console, enabled=not quiet, header="[bold]lem bench mc[/]") as bar:
        out = run_mc(cfg, progress=bar.hook)
    typer.echo(
        f"run {out.run_id}: truthfulqa MC, {len(out.items)} items, {out.scored} scored, "
        f"{out.skipped} already done"
    )


app.command("mc")(command_from_model(MCConfig, _mc, before=[config_param()], after=[quiet_param()]))


@app.command("score")
def score(
    db: str = typer.Option(DEFAULT_DB, "--db", help="Run store: SQLite path or SQLAlchemy URL."),
    run: list[str] | None = typer.Option(
        None, "--run", help="Only these benchmark runs (id or unique prefix); repeatable."
    ),
    judge: str | None = typer.Option(
        None,
        "--judge",
        help="Judge endpoint openai:URL#MODEL for the judged dimensions (the benchmark's "
        "rubric); without it only exact rules (GSM8K) are applied.",
    ),
    api_key_env: str = typer.Option(
        "OPENAI_API_KEY", "--api-key-env", help="Environment variable holding the judge's key."
    ),
    concurrency: int = typer.Option(4, "--concurrency", min=1, help="Judge requests in flight."),
) -> None:
    """Score stored benchmark runs from the store alone: the exact rule, and with
    --judge each benchmark's two judged dimensions (blind to model and condition)."""
    from lem.bench.score import score_bench

    written = score_bench(
        db, run_ids=run, judge=judge, api_key_env=api_key_env, concurrency=concurrency
    )
    for run_id, per in written.items():
        done = ", ".join(f"{k} {v}" for k, v in per.items()) or "nothing to score"
        typer.echo(f"run {run_id}: {done}")


@app.command("report")
def report(
    db: str = typer.Option(DEFAULT_DB, "--db", help="Run store: SQLite path or SQLAlchemy URL."),
    out: Path = typer.Option(
        Path("runs/bench-report"), "--out", "-o", help="Report folder (created if missing)."
    ),
    reference: str | None = typer.Option(
        None, "--reference", help="Variant the others are tested against (default: the first)."
    ),
    run: list[str] | None = typer.Option(
        None, "--run", help="Only these benchmark runs (id or unique prefix); repeatable."
    ),
    judge_scorer: str | None = typer.Option(
        None, "--judge-scorer", help="Judge scorer id to report when several judged the runs."
    ),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Draw the dot plot."),
) -> None:
    """The table across model variants and conditions: GSM8K accuracy and the judged
    dimensions with CIs, paired tests against a reference variant (McNemar, Wilcoxon,
    Holm), as report.md, summary.json, report.html and a dot plot."""
    from lem.bench.report import markdown, write_report
    from lem.bench.table import build_table

    table = build_table(db, run_ids=run, reference=reference, judge=judge_scorer)
    written = write_report(table, out, plots=plots)
    typer.echo(markdown(table).split("\n## ")[0].rstrip())
    typer.echo(f"wrote {', '.join(written.files)} in {written.out_dir}")


@app.command("import")
def import_(
    folder: Path = typer.Argument(..., help="Folder of {benchmark}_{variant}.jsonl files."),
    db: str = typer.Option(DEFAULT_DB, "--db", help="Run store: SQLite path or SQLAlchemy URL."),
    scores: Path | None = typer.Option(
        None, "--scores", help='Upstream per-item score file {"scores": {...}}.'
    ),
    items: list[str] | None = typer.Option(
        None,
        "--items",
        help="BENCHMARK=FILE: item file giving reference fields (repeatable).",
    ),
) -> None:
    """Import upstream benchmark result files (and their per-item scores) as runs, so
    `lem bench report` recomputes the upstream table and `lem bench score` can check
    the imported GSM8K verdicts item by item."""
    from lem.bench.importer import import_upstream
    from lem.errors import InputError

    refs: dict[str, str] = {}
    for spec in items or []:
        name, sep, path = spec.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise InputError(f"--items {spec!r}: expected BENCHMARK=FILE")
        refs[name.strip()] = path.strip()
    outcome = import_upstream(folder, db, scores=scores, items=refs)
    for r in outcome.runs:
        state = "already imported" if r["already_imported"] else f"{r['new']} answers"
        typer.echo(
            f"run {r['run_id']}: {r['benchmark']} {r['variant']}: {r['items']} items, "
            f"{state}, {r['scores']} upstream scores"
        )


@app.command("list")
def list_() -> None:
    """The benchmarks lem knows, with their prompting and scoring."""
    from lem.bench.base import BENCHMARKS

    for name, cls in BENCHMARKS.items():
        bench = cls()
        scoring = bench.exact_scorer or f"judge rubric {bench.rubric}"
        dims = f" ({', '.join(bench.dimensions)})" if bench.dimensions else ""
        typer.echo(f"{name:<14} {bench.max_tokens:>4} tokens  {scoring}{dims}")
