"""``lem metrics push``: run progress and score summaries to InfluxDB (1.x, 2.x, 3.x)."""

from __future__ import annotations

import typer

from lem.config import DEFAULT_DB

__all__ = ["app"]

app = typer.Typer(help="Metrics for dashboards (InfluxDB line protocol).", no_args_is_help=True)


@app.command("push")
def push(
    db: str = typer.Option(DEFAULT_DB, "--db", help="Run store: SQLite path or SQLAlchemy URL."),
    influx: str = typer.Option(
        "http://127.0.0.1:8086", "--influx", help="InfluxDB base URL (no credentials in it)."
    ),
    api: str = typer.Option("v2", "--api", help="Write API: v1, v2 or v3."),
    database: str | None = typer.Option(None, "--database", help="v1/v3: database name."),
    bucket: str | None = typer.Option(None, "--bucket", help="v2: bucket."),
    org: str | None = typer.Option(None, "--org", help="v2: organisation."),
    token_env: str = typer.Option(
        "INFLUX_TOKEN",
        "--token-env",
        help="Environment variable holding the token (v1: USER:PASSWORD, optional).",
    ),
    run: list[str] | None = typer.Option(None, "--run", help="Only these runs; repeatable."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the lines; send nothing."),
) -> None:
    """Write each run's progress (done, remaining, failed, rate, ETA), per-condition
    progress, score summaries (n, failed, mean per condition and scorer) and worker
    rates as line protocol to an InfluxDB write endpoint."""
    from lem.errors import InputError
    from lem.metrics import collect_points, format_line, push_lines

    if api not in ("v1", "v2", "v3"):
        raise InputError(f"--api {api!r}: use v1, v2 or v3")
    lines = [format_line(p) for p in collect_points(db, run_ids=run)]
    if dry_run:
        typer.echo("\n".join(lines))
        return
    n = push_lines(
        lines,
        influx,
        api=api,  # type: ignore[arg-type]
        database=database,
        bucket=bucket,
        org=org,
        token_env=token_env,
    )
    typer.echo(f"wrote {n} point(s) to {influx} ({api})")
