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


def test_every_experiment_setting_is_a_flag_of_lem_ab() -> None:
    """One definition: each ABConfig field is a `lem ab` option with the field's
    description as its help (no hand-written third copy)."""
    from lem.config import ABConfig

    cmd = next(c for p, c in COMMANDS if p == ["ab"])
    by_name = {p.name: p for p in cmd.params}
    for name, info in ABConfig.model_fields.items():
        assert name in by_name, f"ABConfig.{name} has no lem ab flag"
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        help_text = " ".join((by_name[name].help or "").split())
        assert help_text.startswith(str(extra.get("help") or info.description)), name
    assert set(by_name) - set(ABConfig.model_fields) == {
        "config",
        "out_jsonl",
        "quiet",
        "dry_run",
        "executor",
        "actors",
    }
