"""Distil training data: sample answers to training prompts under a kernel condition,
score them, keep the best, and write them as chat JSONL without the kernel (train, valid,
test) with lineage and a manifest. Re-running the same command resumes."""

from __future__ import annotations

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
from lem.config import load_config
from lem.distill.config import DistillConfig
from lem.redact import redact

__all__ = ["distill"]


def _run(
    config: Path | None = None, quiet: bool = False, dry_run: bool = False, **flags: Any
) -> None:
    """Distil training data: sample answers to training prompts under a kernel condition,
    score them, keep the best, and write them as chat JSONL without the kernel (train,
    valid, test) with lineage and a manifest. Re-running the same command resumes."""
    from lem.distill.run import distill as run_distill

    base: DistillConfig = load_config(config, DistillConfig)
    cfg = base.merged(collect(DistillConfig, flags))
    if dry_run:
        from lem.api import plan_run

        print_plan(plan_run(cfg.ab_config()))
        return
    console = Console(stderr=True)
    header = (
        f"[bold]lem distill[/] model={escape(redact(cfg.model))} "
        f"condition={escape(cfg.conditions[0])} samples={cfg.samples} "
        f"T={cfg.temperature} top_p={cfg.top_p}"
    )
    with RichProgress(console, enabled=not quiet, header=header) as bar:
        out = run_distill(
            cfg, progress=bar.hook, notify=lambda line: console.print(f"  {escape(line)}")
        )
    sel, ds = out.selection, out.dataset
    files = ds.manifest["files"]
    console.print(
        f"run [bold]{out.run.run_id}[/]: {out.run.generated} generated, {out.run.failed} "
        f"failed, status {out.run.status}"
    )
    rejected = ", ".join(f"{k} {v}" for k, v in sel.rejections().items() if v) or "none"
    console.print(
        f"kept {len(sel.kept)} of {sel.candidates} answers ({sel.prompts_kept} of "
        f"{sel.prompts} prompts); rejected: {rejected}"
    )
    verb = "wrote" if ds.created else "unchanged"
    typer.echo(
        f"{verb} dataset {ds.dataset_id[:12]} in {ds.path}: train {files['train']['rows']}, "
        f"valid {files['valid']['rows']}, test {files['test']['rows']}"
    )
    typer.echo(f"inspect: lem data show {ds.path}")


distill = command_from_model(
    DistillConfig,
    _run,
    before=[config_param()],
    after=[quiet_param(), dry_run_param()],
)
