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
    scorer: str | None = typer.Option(
        None, "--scorer", help="Scorer whose value fills lek_score; default: the run's first."
    ),
) -> None:
    """Write a run as upstream A/B JSONL (one line per probe, then a summary line).
    Failed or unfinished generations are listed per probe under "errors"."""
    from lem.api import export_ab_jsonl

    abfile = export_ab_jsonl(db, out, run, scorer)
    typer.echo(f"wrote {out}")
    failed = sum(len(p.extra.get("errors", {})) for p in abfile.probes)
    if failed:
        typer.echo(
            f"{failed} failed or unfinished generation(s) are not scored; they are listed "
            'per probe under "errors"',
            err=True,
        )
