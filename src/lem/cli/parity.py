"""Backend parity: the same probes and conditions, decoded greedily, through two or more
backends serving the same weights (hf, mlx, OpenAI-compatible servers). Prints the
exact-match rate of the answers per pair, where they first diverge, the paired score
difference and the likely cause of each difference. Each model is a resumable run in
--db; re-running the same command resumes them."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lem.cli.schema import collect, command_from_model, config_param, quiet_param
from lem.config import load_config
from lem.errors import InputError
from lem.parity.config import ParityConfig
from lem.redact import redact

__all__ = ["parity"]


def _run(
    config: Path | None = None,
    out: Path | None = None,
    as_json: bool = False,
    quiet: bool = False,
    **flags: Any,
) -> None:
    """Backend parity: the same probes and conditions, decoded greedily (temperature 0,
    one sample), through two or more backends serving the same weights; per pair of
    models, the exact-match rate of the answers, the first diverging token, the paired
    score difference and the likely cause of each difference. Each model is a resumable
    run in --db."""
    from lem.cli.progress import RichProgress
    from lem.parity.report import (
        FOOTNOTE,
        SUMMARY_COLUMNS,
        parity_dict,
        summary_rows,
        write_parity,
    )
    from lem.parity.run import run_parity

    base: ParityConfig = load_config(config, ParityConfig)
    cfg = base.merged(collect(ParityConfig, flags))
    if out is not None and out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for parity.json and parity.md")
    console = Console(stderr=True)

    @contextmanager
    def progress_for(spec: str, index: int) -> Iterator[Any]:
        header = f"[bold]lem parity[/] M{index + 1} = {escape(redact(spec))}"
        with RichProgress(console, enabled=not quiet, header=header) as bar:
            yield bar.hook

    outcome = run_parity(cfg, progress_for=progress_for)
    for run, res in zip(outcome.runs, outcome.outcomes, strict=True):
        done = sum(1 for it in run.items if it.done)
        console.print(
            f"{run.label}: run [bold]{run.run_id}[/] {res.status}, {res.generated} generated, "
            f"{res.failed} failed, {done}/{len(run.items)} done"
        )
        for err in res.errors[:3]:
            console.print(f"[red]  failed[/] {escape(err)}")
        for note in res.notices:
            console.print(f"[yellow]note:[/] {escape(note)}")
    if as_json:
        typer.echo(json.dumps(parity_dict(outcome), indent=2, ensure_ascii=False))
    else:
        scorer = outcome.scorers[0] if outcome.scorers else "score"
        table = Table(title="backend parity (greedy)", title_justify="left")
        for i, col in enumerate(SUMMARY_COLUMNS):
            numeric = 0 < i < 4
            table.add_column(
                col.format(scorer=scorer),
                justify="right" if numeric else "left",
                no_wrap=i < 4,
                overflow="fold",
            )
        for row in summary_rows(outcome):
            table.add_row(*(escape(c) for c in row))
        stdout = Console()
        for run in outcome.runs:
            stdout.print(f"{run.label} = {escape(run.spec)}")
        stdout.print(table)
        how = f"tokenizer of {outcome.tokenizer}" if outcome.tokenizer else "no tokenizer: chars"
        stdout.print(escape(FOOTNOTE.format(how=how)))
    if out is not None:
        js, md = write_parity(outcome, out)
        console.print(f"wrote {js} and {md}")
    if outcome.failed:
        raise typer.Exit(1)


_KW = inspect.Parameter.KEYWORD_ONLY

parity = command_from_model(
    ParityConfig,
    _run,
    before=[config_param("YAML settings file (the fields of these flags).")],
    after=[
        inspect.Parameter(
            "out",
            _KW,
            default=typer.Option(
                None, "--out", "-o", help="Also write parity.json and parity.md to this folder."
            ),
            annotation=Path | None,
        ),
        inspect.Parameter(
            "as_json",
            _KW,
            default=typer.Option(False, "--json", help="Print the comparison as JSON."),
            annotation=bool,
        ),
        quiet_param(),
    ],
)
"""``lem parity``: every field of :class:`~lem.parity.config.ParityConfig` is a flag (see
:mod:`lem.cli.schema`), plus ``--config``, ``--out``, ``--json`` and ``--quiet``."""
