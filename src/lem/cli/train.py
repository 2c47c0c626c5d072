"""LoRA fine-tuning of a chat model on a lem dataset: loss on the assistant's tokens only,
checkpoints that resume exactly, validation loss, metrics per step and optional capability
checks while training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from lem.cli.schema import collect, command_from_model, config_param, quiet_param
from lem.config import load_config, make_config, merge_settings
from lem.train.config import TrainConfig

__all__ = ["train"]


def _run(config: Path | None = None, quiet: bool = False, **flags: Any) -> None:
    """LoRA fine-tuning of a chat model on a lem dataset."""
    from lem.train.run import run_training

    given = collect(TrainConfig, flags)
    if config is None:
        cfg = make_config(given, source="command-line flags", schema=TrainConfig)
    else:
        cfg = merge_settings(load_config(config, TrainConfig), given)
    console = Console(stderr=True)
    columns = (
        TextColumn("[bold]train[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}  val {task.fields[val]}  {task.fields[tps]} tok/s"),
        TimeRemainingColumn(),
    )
    bar = Progress(*columns, console=console, disable=quiet)
    task = bar.add_task("train", total=None, loss="–", val="–", tps="–")

    def on_step(m: Any) -> None:
        if not bar.live.is_started:
            bar.start()
        fields: dict[str, Any] = {"loss": f"{m.loss:.4f}", "tps": f"{m.tokens_per_s:.0f}"}
        if m.val_loss is not None:
            fields["val"] = f"{m.val_loss:.4f}"
        bar.update(task, completed=m.step, total=m.total_steps, **fields)

    try:
        out = run_training(cfg, on_step=on_step)
    finally:
        bar.stop()
    resumed = f" (resumed from step {out.resumed_from})" if out.resumed_from else ""
    console.print(
        f"trained {out.steps} steps{resumed} on {out.train_rows} rows "
        f"({out.truncated} truncated, {out.dropped} dropped): final loss "
        f"{_fmt(out.final_loss)}, validation loss {_fmt(out.final_val_loss)}, "
        f"{out.tokens_per_s:.0f} tokens/s"
    )
    typer.echo(f"adapter: {out.adapter}")


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.4f}"


train = command_from_model(
    TrainConfig,
    _run,
    before=[config_param()],
    after=[quiet_param()],
)
