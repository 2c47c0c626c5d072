"""``lem status``: progress of every run in a store, each worker's rate, ETAs and the
training runs, once or live (``--watch``), as tables or JSON."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from lem.config import DEFAULT_DB

__all__ = ["status"]


def _tables(data: object) -> Group:
    from lem.status import StoreStatus, eta_text

    assert isinstance(data, StoreStatus)
    parts: list[Table] = []
    runs = Table(title=f"runs in {data.db}", title_justify="left", expand=False)
    for col, justify in (
        ("run", "left"),
        ("model", "left"),
        ("done", "right"),
        ("left", "right"),
        ("failed", "right"),
        ("/min", "right"),
        ("ETA", "right"),
    ):
        runs.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in data.runs:
        label = r.run_id[:12] + (f" {r.name}" if r.name else "")
        model = r.model if len(r.model) <= 24 else "…" + r.model[-23:]
        runs.add_row(
            label,
            model,
            f"{r.counts.done}/{r.counts.total}",
            str(r.counts.remaining),
            str(r.counts.failed),
            f"{r.rate_per_min:.1f}",
            eta_text(r.eta_s),
        )
        if r.counts.remaining and len(r.by_condition) > 1:
            for cond, c in r.by_condition.items():
                runs.add_row(
                    f"  {cond}", "", f"{c.done}/{c.total}", str(c.remaining), str(c.failed), "", ""
                )
    parts.append(runs)
    if data.workers:
        workers = Table(title="workers", title_justify="left")
        for col in ("worker", "done", "failed", "claimed", "/min", "last seen"):
            workers.add_column(col, justify="left" if col in ("worker", "last seen") else "right")
        for w in data.workers:
            workers.add_row(
                w.worker,
                str(w.done),
                str(w.failed),
                str(w.claimed_now),
                f"{w.rate_per_min:.1f}",
                (w.last_seen or "—")[:19].replace("T", " "),
            )
        parts.append(workers)
    if data.training:
        train = Table(title="training", title_justify="left")
        for col in ("folder", "step", "loss", "val", "ETA"):
            train.add_column(col, justify="left" if col == "folder" else "right")
        for t in data.training:
            steps = f"{t.step}/{t.total_steps}" if t.total_steps else str(t.step)
            train.add_row(
                t.out if len(t.out) <= 30 else "…" + t.out[-29:],
                steps,
                "—" if t.loss is None else f"{t.loss:.4f}",
                "—" if t.val_loss is None else f"{t.val_loss:.4f}",
                "done" if t.finished else eta_text(t.eta_s),
            )
        parts.append(train)
    return Group(*parts)


def status(
    db: str = typer.Option(DEFAULT_DB, "--db", help="Run store: SQLite path or SQLAlchemy URL."),
    run: list[str] | None = typer.Option(
        None, "--run", help="Only these runs (id or prefix); repeatable."
    ),
    train: list[Path] | None = typer.Option(
        None, "--train", help="Also show this training folder (metrics.jsonl); repeatable."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
    html: Path | None = typer.Option(
        None, "--html", help="Also write the status as an HTML page (rewritten on each refresh)."
    ),
    watch: bool = typer.Option(False, "--watch", help="Refresh until Ctrl-C."),
    interval: float = typer.Option(5.0, "--interval", min=0.5, help="Seconds between refreshes."),
    window: float = typer.Option(
        600.0, "--window", min=1.0, help="Seconds of completions a rate is measured over."
    ),
) -> None:
    """Progress per run and condition (done, remaining, failed), each worker's rate and
    last completion, ETAs, and training runs' step, loss and ETA."""
    from lem.status import store_status

    def read() -> object:
        return store_status(db, run_ids=run, train=[str(t) for t in train or []], window_s=window)

    console = Console()
    if as_json:
        data = read()
        typer.echo(data.to_json())  # type: ignore[attr-defined]
        return
    if not watch:
        console.print(_tables(read()))
        return
    try:
        with Live(_tables(read()), console=console, refresh_per_second=1) as live:
            while True:
                time.sleep(interval)
                live.update(_tables(read()))
    except KeyboardInterrupt:
        return
