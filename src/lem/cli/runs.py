"""``lem runs``: list stored runs and show their manifests."""

from __future__ import annotations

import json

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from lem.config import DEFAULT_DB

__all__ = ["app"]

app = typer.Typer(help="Inspect stored runs.", no_args_is_help=True)
_DB = typer.Option(DEFAULT_DB, "--db", help="Run store: SQLite path or SQLAlchemy URL.")


@app.command("list")
def list_runs(db: str = _DB) -> None:
    """One row per run: id, model, conditions, progress, status."""
    from lem.store import Store

    store = Store(db, create=False)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True)
    table.add_column("run", no_wrap=True, min_width=16)
    table.add_column("created", no_wrap=True)
    table.add_column("model", overflow="fold")
    table.add_column("conditions", overflow="fold")
    table.add_column("done", justify="right", no_wrap=True)
    table.add_column("failed", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for r in store.list_runs():
        m = r["manifest"]
        table.add_row(
            r["run_id"],
            r["created_at"][:10],
            str(m.get("model_spec")),
            ", ".join(c["name"] for c in m.get("conditions", [])),
            f"{r['done'] or 0}/{r['n'] or 0}",
            str(r["failed"] or 0),
            r["status"],
        )
    Console().print(table)


@app.command("show")
def show_run(
    run: str = typer.Argument(..., help="Run id or unique prefix."), db: str = _DB
) -> None:
    """Print a run's manifest as JSON."""
    from lem.store import Store

    r = Store(db, create=False).get_run(run)
    typer.echo(
        json.dumps({"run_id": r["run_id"], "status": r["status"], **r["manifest"]}, indent=2)
    )
