"""``lem score``: score text with a registered scorer."""

from __future__ import annotations

import json
import sys

import typer

from lem.errors import InputError
from lem.jsonl import iter_json_lines

__all__ = ["app"]

app = typer.Typer(help="Score responses.", no_args_is_help=True)


@app.command("text")
def score_text(
    scorer: str = typer.Option("lek-v2", "--scorer", "-s", help="Scorer id."),
    jsonl: bool = typer.Option(
        False,
        "--jsonl",
        help="Each input line is a JSON string literal; one JSON object out per line.",
    ),
) -> None:
    """Score standard input verbatim and print the signals and score as JSON."""
    from lem.api import score_text as _score

    if not jsonl:
        typer.echo(json.dumps(_score(sys.stdin.read(), scorer)))
        return
    for lineno, text in iter_json_lines(sys.stdin, "stdin"):
        if not isinstance(text, str):
            raise InputError(f"stdin:{lineno}: expected a JSON string literal")
        typer.echo(json.dumps(_score(text, scorer)))


@app.command("list")
def list_scorers() -> None:
    """List registered scorers with version and definition hash."""
    from lem.scoring.base import available_scorers, get_scorer

    for name in available_scorers():
        s = get_scorer(name)
        typer.echo(f"{s.id}\t{s.version}\t{s.definition_hash()[:16]}")
