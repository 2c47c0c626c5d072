"""The ``lem`` command: a thin typer layer over :mod:`lem.api`."""

from __future__ import annotations

import sys
import warnings
from typing import Any, TextIO

import typer

from lem.errors import LemError, LemWarning
from lem.redact import redact
from lem.registry import COMMAND_GROUP, Registry, RegistryError, definition_of, entry_point_objects

__all__ = ["app", "get_app", "main"]

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


COMMANDS: Registry[Any] = Registry("command", plugins=False)
"""Every ``lem`` subcommand: typer command functions and ``typer.Typer`` groups, found in
the ``lem.commands`` entry-point group (built-in and plug-in alike)."""


_built = False


def get_app() -> typer.Typer:
    """The ``lem`` app with every registered command added (once)."""
    global _built
    if not _built:
        _built = True
        _add_commands(app)
    return app


def _add_commands(root: typer.Typer) -> None:
    for name, obj, _dist in entry_point_objects(COMMAND_GROUP):
        COMMANDS.register(name, obj)
    for name, obj in COMMANDS.items():
        if isinstance(obj, typer.Typer):
            root.add_typer(obj, name=name)
        elif callable(obj):
            doc = _one_paragraph(sys.modules[obj.__module__].__doc__ or obj.__doc__)
            root.command(name, help=doc)(obj)
        else:
            raise RegistryError(f"command {name!r} ({definition_of(obj)}) is not a command")


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


try:
    get_app()
    _SETUP_ERROR: LemError | None = None
except LemError as _exc:  # a plug-in clash: reported by main() as one line
    _SETUP_ERROR = _exc


def main() -> None:
    """Entry point: user errors print one line and exit 2; warnings print one line each."""
    warnings.showwarning = _show_warning
    try:
        if _SETUP_ERROR is not None:
            raise _SETUP_ERROR
        get_app()()
    except LemError as exc:
        print(f"lem: error: {redact(str(exc))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("lem: interrupted; re-run the same command to resume", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
