"""Plug-ins: a separate package adds a scorer, a backend and a command through the
``lem.plugins`` / ``lem.commands`` entry points, and the CLI uses them. This walks the
"add a scorer / backend / command" recipe of docs/ARCHITECTURE.md with a toy package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from lem.backends.base import backend_options, create_backend
from lem.errors import InputError
from lem.registry import Registry, RegistryError
from lem.scoring.base import get_scorer

TOY = '''
"""A toy lem plug-in: a scorer, a backend and a command."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer

from lem.backends.base import Backend, GenerationRequest, GenerationResult, register_backend
from lem.scoring.base import ScoreContext, Scorer, ScoreResult, register_scorer


@register_scorer
class VowelShare(Scorer):
    """Share of letters that are vowels, in percent."""

    id = "toy-vowels"
    version = "1"

    def __init__(self, *, letters: str = "aeiou") -> None:
        self.letters = letters

    def definition(self) -> dict[str, Any]:
        return {"rule": "vowel share", "letters": self.letters}

    def score(self, text: str, *, context: ScoreContext | None = None) -> ScoreResult:
        alpha = [c for c in text.lower() if c.isalpha()]
        share = 100.0 * sum(c in self.letters for c in alpha) / max(1, len(alpha))
        return ScoreResult(round(share, 1), {"letters": len(alpha)})


@register_backend("shout")
class Shout(Backend):
    """Answers every prompt with its last user message in capitals."""

    def __init__(self, target: str, model: str | None = None, *, suffix: str = "!") -> None:
        self.target, self.suffix = target, suffix

    def identity(self) -> dict[str, Any]:
        return {"backend": "shout", "suffix": self.suffix}

    def generate(self, requests: list[GenerationRequest]) -> Iterator[GenerationResult]:
        for req in requests:
            last = [m["content"] for m in req.messages if m["role"] == "user"][-1]
            yield GenerationResult(key=req.key, text=last.upper() + self.suffix)


hello = typer.Typer(help="Say hello from a plug-in.")


@hello.command("world")
def world(name: str = typer.Option("lem", "--name")) -> None:
    """Print a greeting."""
    typer.echo(f"hello {name} from a plug-in")
'''

DUPLICATE = """
from lem.scoring.base import Scorer, register_scorer


@register_scorer
class NotLekV2(Scorer):
    id = "lek-v2"
    version = "9"

    def definition(self):
        return {}

    def score(self, text, *, context=None):
        raise NotImplementedError
"""


def _package(root: Path, name: str, module: str, source: str, commands: str = "") -> Path:
    pkg = root / name
    pkg.mkdir(parents=True)
    (pkg / f"{module}.py").write_text(textwrap.dedent(source))
    (pkg / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{name}"
            version = "0.1"

            [tool.setuptools]
            py-modules = ["{module}"]

            [project.entry-points."lem.plugins"]
            {module} = "{module}"
            """
        )
        + commands
    )
    return pkg


def _install(pkg: Path, site: Path) -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--target",
            str(site),
            str(pkg),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]


@pytest.fixture(scope="module")
def toy_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("plugins")
    site = root / "site"
    commands = '\n[project.entry-points."lem.commands"]\nhello = "lem_toy:hello"\n'
    _install(_package(root, "lem-toy", "lem_toy", TOY, commands), site)
    yield site


def lem(site: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "lem.cli.main", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, "PYTHONPATH": path, "OPENAI_API_KEY": ""},
        timeout=120,
    )


def test_a_plugin_scorer_backend_and_command_work_from_the_cli(
    toy_site: Path, tmp_path: Path
) -> None:
    listed = lem(toy_site, "score", "list")
    assert listed.returncode == 0, listed.stderr
    assert "toy-vowels" in listed.stdout and "lek-v2" in listed.stdout

    scored = lem(toy_site, "score", "text", "--scorer", "toy-vowels", stdin="banana split")
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["score"] == 36.4  # 4 vowels of 11 letters

    out = tmp_path / "ab.jsonl"
    run = lem(
        toy_site,
        "ab",
        "--model",
        "shout:x",
        "--limit",
        "2",
        "-C",
        "baseline",
        "--scorer",
        "toy-vowels",
        "--db",
        str(tmp_path / "r.db"),
        "--out-jsonl",
        str(out),
        "--quiet",
    )
    assert run.returncode == 0, run.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    first = lines[0]
    answer = first["conditions"]["baseline"]["response"]
    assert answer == first["prompt"].upper() + "!"
    assert lines[-1]["scorer"] == "toy-vowels"

    hello = lem(toy_site, "hello", "world", "--name", "ada")
    assert hello.returncode == 0, hello.stderr
    assert hello.stdout == "hello ada from a plug-in\n"


def test_a_plugin_taking_a_builtin_name_is_an_error_naming_both(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(_package(tmp_path, "lem-dup", "lem_dup", DUPLICATE), site)
    res = lem(site, "score", "list")
    assert res.returncode != 0
    assert (
        "scorer 'lek-v2' is defined twice: by lem.scoring.lek_v2.LekV2Scorer and by "
        "lem_dup.NotLekV2; rename one of them"
    ) in res.stderr


def test_registry_duplicate_rule_is_the_same_everywhere() -> None:
    reg: Registry[object] = Registry("widget")

    class A:
        pass

    class B:
        pass

    reg.register("a", A)
    reg.register("a", A)  # the same definition again (a module reload) is fine
    with pytest.raises(RegistryError, match=r"widget 'a' is defined twice: by .*A and by .*B"):
        reg.register("a", B)
    with pytest.raises(InputError, match=r"unknown widget 'b'; known: a"):
        reg.require("b")


def test_unknown_options_are_errors_naming_the_valid_ones() -> None:
    with pytest.raises(InputError) as err:
        create_backend("openai:http://127.0.0.1:9#m", check=False, concurency=8)
    assert str(err.value) == (
        "backend openai has no option 'concurency'; its options: adaptive_concurrency, "
        "api_key_env, backoff, backoff_max, canary, check, concurrency, max_retries, "
        "model_id, timeout"
    )
    with pytest.raises(InputError, match=r"backend openai: option 'timeout': "):
        create_backend("openai:http://127.0.0.1:9#m", check=False, timeout="soon")
    with pytest.raises(InputError, match=r"scorer lek-v2 has no option 'judge'; its options: none"):
        get_scorer("lek-v2", judge="openai:x")
    with pytest.raises(InputError, match=r"scorer semantic-axioms has no option 'modeldir'"):
        get_scorer("semantic-axioms", modeldir="x")
    assert list(backend_options(type(create_backend("openai:h:1#m", check=False))).model_fields)[
        :3
    ] == ["api_key_env", "concurrency", "timeout"]


def test_a_flag_the_backend_does_not_take_is_a_warning(tmp_path: Path) -> None:
    from tests.fake_openai_server import FakeOpenAIServer

    with FakeOpenAIServer() as srv:
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "lem.cli.main",
                "ab",
                "--model",
                f"openai:{srv.url}",
                "--limit",
                "1",
                "-C",
                "baseline",
                "--batch-size",
                "4",
                "--concurrency",
                "2",
                "--db",
                str(tmp_path / "r.db"),
                "--quiet",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "OPENAI_API_KEY": ""},
            timeout=120,
        )
    assert res.returncode == 0, res.stderr
    warnings = [line for line in res.stderr.splitlines() if line.startswith("lem: warning:")]
    assert warnings == [
        "lem: warning: --batch-size do(es) not apply to the openai backend; ignored"
    ]
