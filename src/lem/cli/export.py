"""``lem export``: write stored runs in other formats."""

from __future__ import annotations

from pathlib import Path

import typer

from lem.config import DEFAULT_DB

__all__ = ["app"]

app = typer.Typer(help="Export stored runs.", no_args_is_help=True)


@app.command("ab-jsonl")
def ab_jsonl(
    db: str = typer.Option(DEFAULT_DB, "--db", help="Run store: SQLite path or SQLAlchemy URL."),
    run: str | None = typer.Option(
        None, "--run", help="Run id (or unique prefix); default latest."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output .jsonl file."),
) -> None:
    """Write a run as upstream A/B JSONL (one line per probe, then a summary line)."""
    from lem.api import export_ab_jsonl

    path = export_ab_jsonl(db, out, run)
    typer.echo(f"wrote {path}")
