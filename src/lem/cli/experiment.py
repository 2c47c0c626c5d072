"""Run a whole alignment-loop experiment from one YAML file, stage by stage (unchanged
stages are skipped), and show its stages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["app"]

app = typer.Typer(help="Whole experiments from one file: run, status.", no_args_is_help=True)


@app.command("run")
def run(
    file: Path = typer.Argument(..., help="Experiment file (YAML)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Run (or continue) every stage: base A/B, distil, train, fuse, A/B of each tuned
    model with and without the kernel, report."""
    from lem.cli.progress import RichProgress
    from lem.experiment import load_experiment, run_experiment

    exp = load_experiment(file)
    console = Console(stderr=True)

    @contextmanager
    def bar(stage: str) -> Iterator[Any]:
        with RichProgress(console, enabled=not quiet, header=f"[bold]{stage}[/]") as p:
            yield p

    results = run_experiment(exp, notify=lambda line: console.print(escape(line)), progress=bar)
    ran = sum(1 for s in results if not s.skipped)
    typer.echo(
        f"experiment {exp.name}: {ran} stage(s) run, {len(results) - ran} skipped; "
        f"report in {exp.folder / 'report'}"
    )


@app.command("status")
def status(file: Path = typer.Argument(..., help="Experiment file (YAML).")) -> None:
    """Every recorded stage of the experiment: status, wall time, inputs hash, outputs."""
    from lem.experiment import experiment_status, load_experiment

    exp = load_experiment(file)
    table = Table(title=f"experiment {exp.name}", title_justify="left")
    for col in ("stage", "status", "wall s", "inputs", "outputs"):
        table.add_column(col)
    for rec in experiment_status(exp):
        outputs = ", ".join(
            f"{k}={str(v)[:16]}"
            for k, v in rec["outputs"].items()
            if k in ("run_id", "dataset_id", "model", "final_loss")
        )
        wall = "" if rec["wall_s"] is None else f"{rec['wall_s']:.1f}"
        table.add_row(rec["stage"], rec["status"], wall, rec["input_hash"][:12], outputs)
    Console().print(table)
