"""Bad input: one clear line naming the file or field, exit 2, and the store untouched."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from lem.store import Store
from lem.store.schema import items, run_items, runs, scores
from tests.fake_openai_server import FakeOpenAIServer


def lem(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lem.cli.main", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, "OPENAI_API_KEY": ""},
        timeout=120,
    )


def store_digest(db: str) -> str:
    store = Store(db)
    h = hashlib.sha256()
    with store.engine.connect() as conn:
        for table in (runs, items, run_items, scores):
            for row in conn.execute(select(table).order_by(*table.primary_key.columns)):
                h.update(repr(tuple(row)).encode())
    store.close()
    return h.hexdigest()


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    tmp = tmp_path_factory.mktemp("bad")
    db = str(tmp / "runs.db")
    with FakeOpenAIServer() as srv:
        res = lem("ab", "--model", f"openai:{srv.url}", "--limit", "2", "--db", db, "--quiet")
        assert res.returncode == 0, res.stderr
        yield db, tmp, srv.url


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


CASES: list[tuple[str, list[str], str]] = [
    ("missing probe file", ["ab", "--probes", "{tmp}/nope.json"], "nope.json not found"),
    ("malformed probe JSON", ["ab", "--probes", "{bad_json}"], "line 2 column"),
    ("duplicate probe ids", ["ab", "--probes", "{dup_ids}"], "duplicate id 'x'"),
    ("empty prompt", ["ab", "--probes", "{empty_prompt}"], "empty 'prompt'"),
    ("unknown probe id", ["ab", "--probe-ids", "P999_NOPE_NOPE"], "unknown probe id"),
    ("unknown domain", ["ab", "--domains", "Astrology"], "unknown domain 'Astrology'"),
    ("missing kernel", ["ab", "--kernel", "k={tmp}/k.txt", "-C", "system:k"], "k.txt not found"),
    ("kernel spec without path", ["ab", "--kernel", "justaname"], "must be NAME=PATH"),
    ("condition names unknown kernel", ["ab", "-C", "system:ghost"], "unknown kernel 'ghost'"),
    ("unknown condition kind", ["ab", "-C", "telepathy:lek"], "unknown condition"),
    ("config unknown field", ["ab", "--config", "{bad_cfg}"], "unknown field 'modle'"),
    ("config file missing", ["ab", "--config", "{tmp}/none.yaml"], "none.yaml not found"),
    ("bad flag value", ["ab", "--temperature", "-1"], "field 'temperature'"),
    ("model dir missing", ["ab", "--model", "hf:{tmp}/no-model"], "no-model"),
    ("unreachable server", ["ab", "--model", "openai:http://127.0.0.1:9"], "cannot reach"),
    ("bad db url", ["ab", "--db", "nosuchdb://x/y", "--model", "openai:{url}"], "--db"),
    (
        "unknown run on export",
        ["export", "ab-jsonl", "--run", "ffffffff", "--out", "{tmp}/o.jsonl"],
        "no run 'ffffffff'",
    ),
    ("unknown scorer", ["ab", "--scorer", "lek-v9"], "unknown scorer"),
]


@pytest.mark.parametrize(("name", "args", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(
    populated: tuple[str, Path, str], name: str, args: list[str], fragment: str
) -> None:
    db, tmp, url = populated
    files = {
        "tmp": str(tmp),
        "url": url,
        "bad_json": _write(tmp / "bad.json", '[{"id": "a", "prompt": "x"},\n{"id" "b"}]'),
        "dup_ids": _write(tmp / "dup.json", json.dumps([{"id": "x", "prompt": "a"}] * 2)),
        "empty_prompt": _write(tmp / "empty.json", json.dumps([{"id": "x", "prompt": ""}])),
        "bad_cfg": _write(tmp / "bad.yaml", "modle: demo\n"),
    }
    before = store_digest(db)
    argv = [a.format(**files) for a in args]
    if "--db" not in argv:
        argv += ["--db", db]
    res = lem(*argv)
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("lem: error: ")
    assert fragment in lines[0]
    assert store_digest(db) == before


def test_score_text_bad_jsonl_line() -> None:
    res = lem("score", "text", "--jsonl", stdin='"fine"\nnot json\n')
    assert res.returncode == 2
    assert res.stderr.strip().startswith("lem: error: stdin:2:")
