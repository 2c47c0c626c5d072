"""``--help`` of every command stays readable in an 80-column terminal: no line is
wider, and every option name is printed whole (rich panels used to cut them)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
import typer

from lem.cli.main import app


def _commands() -> list[tuple[list[str], Any]]:
    root = typer.main.get_command(app)
    out: list[tuple[list[str], Any]] = []

    def walk(path: list[str], cmd: Any) -> None:
        out.append((path, cmd))
        if hasattr(cmd, "list_commands"):  # a group (typer ships its own click)
            ctx = cmd.context_class(cmd)
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                walk([*path, name], sub)

    walk([], root)
    return out


COMMANDS = _commands()


def test_the_walk_finds_the_commands() -> None:
    paths = {" ".join(p) for p, _ in COMMANDS}
    assert {"ab", "report", "export ab-jsonl", "runs list", "score run", "probes validate"} <= paths


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[" ".join(p) or "lem" for p, _ in COMMANDS])
def test_help_fits_80_columns_with_whole_option_names(path: list[str], cmd: Any) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "lem.cli.main", *path, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80", "TERM": "xterm-256color"},
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    for param in cmd.params:
        for name in [*param.opts, *param.secondary_opts]:
            if name.startswith("--"):
                assert name in res.stdout, f"{name} cut from `lem {' '.join(path)} --help`"
