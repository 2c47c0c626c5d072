"""``lem worker``: do the pending work of a shared run store, exactly once."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from lem.config import DEFAULT_DB
from lem.redact import redact

__all__ = ["worker"]


def worker(
    db: str = typer.Option(DEFAULT_DB, "--db", help="Run store: SQLite path or SQLAlchemy URL."),
    model: list[str] | None = typer.Option(
        None,
        "--model",
        "-m",
        help="Only runs of this model spec (as the run was started with); repeatable.",
    ),
    until_empty: bool = typer.Option(
        False, "--until-empty", help="Stop when no runnable work is left (default: keep polling)."
    ),
    poll: float = typer.Option(10.0, "--poll", min=0.1, help="Seconds between looks for new work."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Join the pending work of a store (A/B, distillation and benchmark runs) and do it:
    batches claimed atomically, leases renewed, expired leases taken over, each result
    stored once. Ctrl-C releases this worker's claims."""
    from lem.cli.progress import RichProgress
    from lem.worker import work

    console = Console(stderr=True)
    console.print(f"[bold]lem worker[/] on {escape(redact(db))}")
    with RichProgress(console, enabled=not quiet) as bar:
        out = work(
            db,
            models=model,
            until_empty=until_empty,
            poll_s=poll,
            progress=bar.hook,
            notify=lambda line: console.print(f"  {escape(line)}"),
        )
    typer.echo(
        f"worker done: {out.generated} generated over {len(out.runs)} run invocation(s); "
        f"{len(out.skipped)} run(s) skipped"
    )
