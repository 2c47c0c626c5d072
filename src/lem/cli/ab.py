"""Run an A/B experiment: a model answers a probe set under each condition; every answer
is stored as it completes and scored. Re-running the same command resumes the run."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from lem.cli.progress import RichProgress
from lem.cli.schema import (
    collect,
    command_from_model,
    config_param,
    dry_run_param,
    print_plan,
    quiet_param,
)
from lem.config import ABConfig, load_config
from lem.redact import redact

__all__ = ["ab"]


def _run(
    config: Path | None = None,
    out_jsonl: Path | None = None,
    quiet: bool = False,
    dry_run: bool = False,
    **flags: Any,
) -> None:
    """Run an A/B experiment: a model answers a probe set under each condition; every
    answer is stored as it completes and scored. Re-running the same command resumes it."""
    from lem import api
    from lem.results import print_summary
    from lem.runner import load_inputs, scorer_options

    base: ABConfig = load_config(config)
    cfg = base.merged(collect(ABConfig, flags))
    probe_set, conditions, _ = load_inputs(cfg, **scorer_options(cfg))
    if dry_run:
        print_plan(api.plan_run(cfg))
        return
    console = Console(stderr=True)
    header = (
        f"[bold]lem ab[/] model={escape(redact(cfg.model))} probes={len(probe_set)} "
        f"conditions={', '.join(c.name for c in conditions)} samples={cfg.samples}"
    )
    with RichProgress(console, enabled=not quiet, header=header) as bar:
        outcome = api.run_ab(cfg, progress=bar.hook)
    verb = "resumed" if outcome.resumed else "created"
    console.print(
        f"run [bold]{outcome.run_id}[/] ({verb}) in {outcome.db}: {outcome.generated} generated, "
        f"{outcome.failed} failed, {outcome.skipped_claimed} held by other workers, "
        f"{outcome.duration_s:.1f}s, status {outcome.status}"
    )
    for err in outcome.errors[:5]:
        console.print(f"[red]  failed[/] {escape(err)}")
    for note in outcome.notices:
        console.print(f"[yellow]note:[/] {escape(note)}")
    run = api.run_responses(cfg.db, outcome.run_id)
    print_summary(run.responses, Console(), scorer=run.scorer_ids[0], model=run.model)
    if out_jsonl:
        api.export_ab_jsonl(cfg.db, out_jsonl, outcome.run_id)
        console.print(f"A/B JSONL written to {out_jsonl}")
    console.print(
        f"export: lem export ab-jsonl --db {escape(redact(cfg.db))} --run {outcome.run_id} "
        "--out FILE.jsonl"
    )
    if outcome.status == "failed":
        raise typer.Exit(1)


_KW = inspect.Parameter.KEYWORD_ONLY

ab = command_from_model(
    ABConfig,
    _run,
    before=[config_param("YAML experiment file.")],
    after=[
        inspect.Parameter(
            "out_jsonl",
            _KW,
            default=typer.Option(
                None, "--out-jsonl", help="Also write the run as upstream A/B JSONL to this file."
            ),
            annotation=Path | None,
        ),
        quiet_param(),
        dry_run_param(),
    ],
)
"""``lem ab``: every field of :class:`~lem.config.ABConfig` is a flag (see
:mod:`lem.cli.schema`), plus ``--config``, ``--out-jsonl`` and ``--quiet``."""
