"""``lem export``: write stored runs in other formats."""

from __future__ import annotations

from pathlib import Path

import typer

from lem.config import DEFAULT_DB

__all__ = ["app"]

app = typer.Typer(help="Export stored runs and datasets.", no_args_is_help=True)


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


@app.command("parquet")
def parquet(
    dataset: Path = typer.Argument(..., help="Dataset folder written by lem distill/data conv."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for {split}.parquet."),
    row_group_size: int = typer.Option(
        1000, "--row-group-size", min=1, help="Rows per Parquet row group (streaming unit)."
    ),
) -> None:
    """Write a dataset's train/valid/test splits as zstd Parquet: the chat columns
    (prompt, response, system, messages) plus provenance (model, condition, scorer,
    score, generation id). `datasets.load_dataset("parquet", ...)` reads them."""
    from lem.formats.parquet import export_parquet

    done = export_parquet(dataset, out, row_group_size=row_group_size)
    rows = ", ".join(f"{k} {v}" for k, v in done["rows"].items())
    typer.echo(f"wrote {out}: {rows} (dataset {done['dataset_id'][:12]})")
