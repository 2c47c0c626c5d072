"""The ``lem`` command: a thin typer layer over :mod:`lem.api`."""

from __future__ import annotations

import sys
import warnings
from typing import TextIO

import typer

from lem.cli import ab, export, probes, report, runs, score
from lem.errors import LemError, LemWarning
from lem.redact import redact

__all__ = ["app", "main"]

app = typer.Typer(
    name="lem",
    help="Kernel alignment research: A/B experiments of ethical kernels on language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _one_paragraph(doc: str | None) -> str:
    return " ".join((doc or "").split())


app.command("ab", help=_one_paragraph(ab.__doc__))(ab.ab)
app.command("report", help=_one_paragraph(report.__doc__))(report.report)
app.add_typer(probes.app, name="probes")
app.add_typer(probes.kernels_app, name="kernels")
app.add_typer(score.app, name="score")
app.add_typer(export.app, name="export")
app.add_typer(runs.app, name="runs")


@app.command("version")
def version() -> None:
    """Print lem's version."""
    from lem import __version__

    typer.echo(__version__)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    if issubclass(category, LemWarning):
        print(f"lem: warning: {redact(str(message))}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main() -> None:
    """Entry point: user errors print one line and exit 2; warnings print one line each."""
    warnings.showwarning = _show_warning
    try:
        app()
    except LemError as exc:
        print(f"lem: error: {redact(str(exc))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("lem: interrupted; re-run the same command to resume", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
