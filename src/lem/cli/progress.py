"""A rich progress bar with generations/s, tokens/s and ETA."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["RichProgress"]


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = task.fields.get("elapsed") or 0.0
        if elapsed <= 0:
            return Text("– gen/s  – tok/s", style="cyan")
        gens = task.fields.get("gens", 0) / elapsed
        toks = task.fields.get("tokens", 0) / elapsed
        fails = task.fields.get("fails", 0)
        extra = f"  {fails} failed" if fails else ""
        return Text(f"{gens:.2f} gen/s  {toks:.0f} tok/s{extra}", style="cyan")


class RichProgress:
    """Receives runner events and draws the bar (silent when disabled or not a TTY)."""

    def __init__(self, console: Console, *, enabled: bool = True, header: str = "") -> None:
        self.console = console
        self.header = header
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("[bold]generating"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self.task: Any = None
        self.t0 = 0.0
        self.state: dict[str, Any] = {"gens": 0, "tokens": 0, "fails": 0}

    def __enter__(self) -> RichProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def hook(self, event: str, data: dict[str, Any]) -> None:
        if event == "start":
            if self.header:
                self.console.print(self.header)
            self.t0 = time.monotonic()
            self.task = self.progress.add_task(
                "gen", total=data["total"], completed=data["done"], elapsed=0.0, **self.state
            )
        elif event == "result" and self.task is not None:
            self.state["gens"] += 1
            self.state["tokens"] += int(data.get("tokens") or 0)
            if not data.get("ok"):
                self.state["fails"] += 1
            self.progress.update(
                self.task, advance=1, elapsed=time.monotonic() - self.t0, **self.state
            )
