"""Hardening: content identities, secrets, replies and inputs, scorer-driven outputs.

Each test here reproduces a defect found by testing lem as a new user, a hostile input
and a referee would; each failed before its fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lem.api import export_ab_jsonl, run_ab, run_results
from lem.backends.base import prompt_hash
from lem.backends.hf import HFBackend
from lem.config import ABConfig
from lem.redact import redact
from lem.scoring.lek_v3 import LekV3Scorer
from lem.store import Store
from lem.store.schema import items, run_items, scores
from tests.fake_openai_server import FakeOpenAIServer
from tests.tiny_models import tiny_models  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(180)


def lem(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lem.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "OPENAI_API_KEY": "", **(env or {})},
        timeout=150,
    )


def flat(text: str) -> str:
    """Terminal output with rich's line wrapping undone."""
    return " ".join(text.split())


def one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("lem: error: ")
    return lines[0].removeprefix("lem: error: ")


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- 1. identity is content -------------------------------------------------------------------


def test_same_model_at_another_path_resumes_with_nothing_generated(
    tiny_models: Callable[..., Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    """A moved checkout (or another worker's path) shares every work item."""
    clone_a = tmp_path / "clone-a"
    clone_b = tmp_path / "elsewhere" / "clone-b"
    shutil.copytree(tiny_models(max_positions=4096), clone_a / "model")
    (clone_a / "runs").mkdir()
    cfg = {"limit": 2, "conditions": ["baseline", "system:lek"], "max_tokens": 4}
    first = run_ab(ABConfig(model=str(clone_a / "model"), db=str(clone_a / "runs/l.db"), **cfg))
    assert first.generated == 4 and not first.resumed
    shutil.copytree(clone_a, clone_b)
    second = run_ab(ABConfig(model=str(clone_b / "model"), db=str(clone_b / "runs/l.db"), **cfg))
    assert (second.run_id, second.resumed, second.generated, second.new_items) == (
        first.run_id,
        True,
        0,
        0,
    )
    manifest = Store(str(clone_b / "runs/l.db")).get_run(second.run_id)["manifest"]
    assert manifest["model_location"] == {"path": str((clone_b / "model").resolve())}
    assert "path" not in manifest["model"]


def test_rendered_hash_is_one_definition_at_planning_and_after_generation(
    tiny_models: Callable[..., Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    model = tiny_models(max_positions=4096)
    backend = HFBackend(str(model))
    with FakeOpenAIServer(models=["m"]) as srv:
        for spec, render in (
            (str(model), backend.render),
            (f"openai:{srv.url}#m", lambda msgs: (json.dumps(msgs, ensure_ascii=False), False)),
        ):
            db = str(tmp_path / f"{len(spec)}.db")
            out = run_ab(
                ABConfig(model=spec, db=db, limit=2, conditions=["baseline", "system:lek"]),
                max_tokens=4,
            )
            assert out.generated == 4
            store = Store(db)
            with store.engine.connect() as conn:
                rows = conn.execute(select(items.c.messages, items.c.rendered_hash)).all()
            assert len(rows) == 4
            for messages, stored in rows:
                assert stored == prompt_hash(render(json.loads(messages))[0])


def _ab(url: str, db: str, *extra: str, env: dict[str, str] | None = None) -> Any:
    return lem(
        "ab", "--model", f"openai:{url}#m", "--limit", "3", "--db", db, "--quiet", *extra, env=env
    )


def test_models_503_once_does_not_start_a_new_run(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    with FakeOpenAIServer(models=["m"]) as srv:
        first = _ab(srv.url, db)
        assert first.returncode == 0, first.stderr
        srv.models_fail_times = 1
        again = _ab(srv.url, db)
    assert again.returncode == 0, again.stderr
    assert "(resumed)" in flat(again.stderr) and ": 0 generated" in flat(again.stderr)


def test_swapped_weights_behind_one_url_are_a_new_model_and_said(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    with FakeOpenAIServer(models=["m"]) as srv:
        assert _ab(srv.url, db).returncode == 0
        srv.canary = lambda _body: "different weights answer differently"
        swapped = _ab(srv.url, db)
    assert swapped.returncode == 0, swapped.stderr
    err = flat(swapped.stderr)
    assert "(created)" in err and ": 9 generated" in err
    assert f"note: model openai:{srv.url}#m is not the model of run " in err
    assert "(changed: canary): its answers are not reused" in err


def test_model_not_served_fails_at_once(tmp_path: Path) -> None:
    with FakeOpenAIServer(models=["llama", "qwen"]) as srv:
        res = lem("ab", "--model", f"openai:{srv.url}#mistral", "--db", str(tmp_path / "x.db"))
        assert srv.chat_requests == []
    msg = one_line_error(res)
    assert "does not serve model 'mistral'; it serves: llama, qwen" in msg


# -- 2. secrets ------------------------------------------------------------------------------

PASSWORD = "pw-Zq81xKv"
API_KEY = "sk-test-8d0c1e9b77"


def _every_text(tmp_path: Path, *outputs: subprocess.CompletedProcess[str]) -> str:
    parts = [o.stdout + o.stderr for o in outputs]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def _dump_store(url: str) -> str:
    store = Store(url)
    out = []
    with store.engine.connect() as conn:
        for table in ("runs", "items", "run_items", "scores", "lem_meta"):
            out.extend(repr(tuple(r)) for r in conn.exec_driver_sql(f"SELECT * FROM {table}"))
    store.close()
    return "\n".join(out)


@pytest.mark.postgres
def test_no_password_or_api_key_in_any_output_file_or_table(pg_db: str, tmp_path: Path) -> None:
    """The database password (in the --db URL and in a model URL) and the API key appear
    in no output stream, file or stored row of a run, its report, export and errors."""
    db = pg_db.replace("postgres@", f"postgres:{PASSWORD}@", 1)
    port = db.rsplit(":", 1)[1].split("/")[0]
    unreachable_db = db.replace(f":{port}/", ":1/")
    env = {"OPENAI_API_KEY": API_KEY}
    with FakeOpenAIServer(models=["m"], api_key=API_KEY) as srv:
        model = f"openai:{srv.url}#m"
        jsonl = tmp_path / "ab.jsonl"
        outs = [
            lem(
                "ab",
                "--model",
                model,
                "--limit",
                "2",
                "--db",
                db,
                "--out-jsonl",
                str(jsonl),
                env=env,
            ),
            lem("runs", "list", "--db", db),
            lem("report", "--db", db, "--out", str(tmp_path / "report")),
            lem("export", "ab-jsonl", "--db", db, "--out", str(tmp_path / "e.jsonl")),
            lem("export", "ab-jsonl", "--db", db, "--run", "nope", "--out", str(tmp_path / "n")),
            lem("ab", "--model", model, "--db", unreachable_db, env=env),
            lem("ab", "--model", f"openai:http://user:{PASSWORD}@127.0.0.1:1", "--db", db),
        ]
        assert [o.returncode for o in outs] == [0, 0, 0, 0, 2, 2, 2], [o.stderr for o in outs]
    text = _every_text(tmp_path, *outs) + _dump_store(pg_db)
    assert PASSWORD not in text
    assert API_KEY not in text
    assert "postgres:***@" in flat(outs[0].stderr)  # the export hint still names the database
    assert "http://user:***@127.0.0.1:1" in flat(outs[-1].stderr)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql+psycopg://u:secret@h:5432/db", "postgresql+psycopg://u:***@h:5432/db"),
        ("https://tok3n@api.example/v1", "https://***@api.example/v1"),
        ("http://h/v1?api_key=abcd1234&x=1", "http://h/v1?api_key=***&x=1"),
        ("sqlite:////tmp/a@b.db", "sqlite:////tmp/a@b.db"),
        ("no url here", "no url here"),
        ("a://x:y@h then b://p:q@i", "a://x:***@h then b://p:***@i"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(redact(text)) == expected


# -- 4. replies and inputs ---------------------------------------------------------------------


def test_non_finite_numbers_are_rejected(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("temperature: .inf\n")
    for args in (["--temperature", "inf"], ["--top-p", "nan"], ["--config", str(cfg)]):
        msg = one_line_error(lem("ab", *args, "--db", str(tmp_path / "x.db")))
        assert "field 'temperature'" in msg or "field 'top_p'" in msg
        assert "finite" in msg
    assert not (tmp_path / "x.db").exists()


def test_utf8_bom_is_accepted_in_every_input(tmp_path: Path) -> None:
    bom = "\ufeff"
    probes = tmp_path / "p.csv"
    probes.write_text(bom + "id,domain,prompt\nq1,ethics,Is honesty owed to strangers?\n")
    kernel = tmp_path / "k.txt"
    kernel.write_text(bom + "Be honest.")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(bom + "max_tokens: 4\n")
    with FakeOpenAIServer() as srv:
        res = lem(
            "ab",
            "--config",
            str(cfg),
            "--model",
            f"openai:{srv.url}",
            "--probes",
            str(probes),
            "--kernel",
            f"k={kernel}",
            "-C",
            "baseline",
            "-C",
            "system:k",
            "--db",
            str(tmp_path / "r.db"),
            "--quiet",
        )
        system = [m for r in srv.chat_requests for m in r.messages if m["role"] == "system"]
    assert res.returncode == 0, res.stderr
    assert [m["content"] for m in system] == ["Be honest."]


def test_probe_ids_with_commas_are_taken_verbatim(tmp_path: Path) -> None:
    probes = tmp_path / "p.jsonl"
    rows = [
        {"id": "a,b", "prompt": "one?"},
        {"id": "c", "prompt": "two?"},
        {"id": "d", "prompt": "three?"},
    ]
    probes.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with FakeOpenAIServer() as srv:
        res = lem(
            "ab",
            "--model",
            f"openai:{srv.url}",
            "--probes",
            str(probes),
            "-C",
            "baseline",
            "--probe-ids",
            "a,b",
            "--probe-ids",
            "d",
            "--db",
            str(tmp_path / "r.db"),
            "--out-jsonl",
            str(tmp_path / "o.jsonl"),
            "--quiet",
        )
        listed = lem(
            "ab",
            "--model",
            f"openai:{srv.url}",
            "--probes",
            str(probes),
            "-C",
            "baseline",
            "--probe-ids",
            "d,c",
            "--db",
            str(tmp_path / "r2.db"),
            "--out-jsonl",
            str(tmp_path / "o2.jsonl"),
            "--quiet",
        )
    assert res.returncode == 0 and listed.returncode == 0, res.stderr + listed.stderr
    ids = [json.loads(line).get("id") for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert ids[:-1] == ["a,b", "d"]
    ids2 = [json.loads(x).get("id") for x in (tmp_path / "o2.jsonl").read_text().splitlines()]
    assert ids2[:-1] == ["d", "c"]


def test_a_database_of_another_tool_is_refused_untouched(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    conn.execute("INSERT INTO customers VALUES (1, 'ada')")
    conn.commit()
    conn.close()
    text = tmp_path / "notes.txt"
    text.write_text("just some notes, not a database at all" * 20)
    for path in (other, text):
        before = file_digest(path)
        for args in (["runs", "list"], ["export", "ab-jsonl", "--out", str(tmp_path / "o")]):
            msg = one_line_error(lem(*args, "--db", str(path)))
            assert msg.startswith(f"--db sqlite:///{path} is not a lem store")
        with FakeOpenAIServer() as srv:
            res = lem("ab", "--model", f"openai:{srv.url}", "--limit", "1", "--db", str(path))
            msg = one_line_error(res)
            assert srv.chat_requests == []
        assert "is not a lem store" in msg
        assert file_digest(path) == before
    assert not (tmp_path / "o").exists()


def test_export_creates_nothing_on_bad_paths(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    msg = one_line_error(
        lem("export", "ab-jsonl", "--db", str(missing), "--out", str(tmp_path / "o"))
    )
    assert msg.startswith(f"--db {missing}: no lem store there")
    assert not missing.exists() and not (tmp_path / "o").exists()
    assert "no lem store there" in one_line_error(lem("runs", "list", "--db", str(missing)))
    assert not missing.exists()
    db = str(tmp_path / "r.db")
    with FakeOpenAIServer() as srv:
        assert lem("ab", "--model", f"openai:{srv.url}", "--limit", "1", "--db", db).returncode == 0
    msg = one_line_error(lem("export", "ab-jsonl", "--db", db, "--out", str(tmp_path)))
    assert msg == f"--out {tmp_path} is a directory; give a .jsonl file path"
    nowhere = tmp_path / "no" / "such" / "x.jsonl"
    msg = one_line_error(lem("export", "ab-jsonl", "--db", db, "--out", str(nowhere)))
    assert msg == f"--out {nowhere}: folder {nowhere.parent} does not exist; create it first"
    assert not (tmp_path / "no").exists()


def test_conditions_can_be_named(tmp_path: Path) -> None:
    with FakeOpenAIServer() as srv:
        res = lem(
            "ab",
            "--model",
            f"openai:{srv.url}",
            "--limit",
            "2",
            "-C",
            "baseline",
            "-C",
            "json=system:lek",
            "-C",
            "txt=system:lek-text",
            "--db",
            str(tmp_path / "r.db"),
            "--out-jsonl",
            str(tmp_path / "o.jsonl"),
            "--quiet",
        )
    assert res.returncode == 0, res.stderr
    first = json.loads((tmp_path / "o.jsonl").read_text().splitlines()[0])
    assert list(first["conditions"]) == ["baseline", "json", "txt"]
    bad = one_line_error(lem("ab", "-C", "=system:lek", "--db", str(tmp_path / "x.db")))
    assert "the name before '=' must be a non-empty word" in bad


def test_failed_generations_are_exported_under_errors_and_said(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    with FakeOpenAIServer(plan=["400"]) as srv:
        res = lem(
            "ab",
            "--model",
            f"openai:{srv.url}",
            "--limit",
            "2",
            "-C",
            "baseline",
            "--concurrency",
            "1",
            "--max-retries",
            "0",
            "--db",
            db,
        )
    assert res.returncode == 1, res.stderr  # status failed: one generation failed
    out = tmp_path / "o.jsonl"
    exp = lem("export", "ab-jsonl", "--db", db, "--out", str(out))
    assert exp.returncode == 0, exp.stderr
    assert (
        "1 failed or unfinished generation(s) are not scored; they are listed per probe "
        'under "errors"' in flat(exp.stderr)
    )
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    errors = [p["errors"] for p in lines[:-1] if "errors" in p]
    assert len(errors) == 1 and list(errors[0]) == ["baseline"]
    assert errors[0]["baseline"].startswith("HTTP 400: ")


def test_empty_answers_are_flagged_and_counted(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    answers = iter(["", "   \n", "A real answer about fairness."])
    with FakeOpenAIServer(
        responder=lambda _b: next(answers), canary=lambda _b: "ok", finish_reason="length"
    ) as srv:
        res = lem(
            "ab",
            "--model",
            f"openai:{srv.url}",
            "--limit",
            "3",
            "-C",
            "baseline",
            "--concurrency",
            "1",
            "--db",
            db,
            "--out-jsonl",
            str(tmp_path / "o.jsonl"),
            "--quiet",
        )
    assert res.returncode == 0, res.stderr
    assert "2 empty or whitespace-only answer(s) (2 finish_reason length)" in flat(res.stdout)
    conds = [
        json.loads(x)["conditions"]["baseline"]
        for x in (tmp_path / "o.jsonl").read_text().splitlines()[:-1]
    ]
    assert [c.get("empty_answer") for c in conds] == ["empty", "whitespace", None]


def test_prompt_longer_than_the_context_is_refused_or_flagged(
    tiny_models: Callable[..., Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    model = tiny_models(max_positions=1024)
    db = tmp_path / "r.db"
    args = ["ab", "--model", str(model), "--limit", "2", "--max-tokens", "8", "--db", str(db)]
    msg = one_line_error(lem(*args, "-C", "baseline", "-C", "sandwich:lek-text", "--quiet"))
    assert "2 prompt(s) + --max-tokens 8 exceed the model's context of 1024 tokens" in msg
    assert "under sandwich:lek-text" in msg and "--context-overflow warn" in msg
    if db.exists():
        assert Store(str(db)).list_runs() == []
    warned = lem(
        *args, "-C", "baseline", "-C", "sandwich:lek-text", "--context-overflow", "warn", "--quiet"
    )
    assert warned.returncode == 0, warned.stderr
    store = Store(str(db))
    run = store.list_runs()[0]
    assert run["manifest"]["context"] == {"length": 1024, "overflowing_items": 2, "policy": "warn"}
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(run_items.c.condition, items.c.extra).join(
                items, items.c.key == run_items.c.item_key
            )
        ).all()
    flagged = {c: json.loads(e).get("context_overflow") for c, e in rows}
    assert flagged["baseline"] is None
    assert flagged["sandwich:lek-text"]["context"] == 1024


# -- 5. scorers are not all lek-v2 -----------------------------------------------------------


def test_a_run_scored_by_lek_v3_alone_summarises_and_exports_lek_v3(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    with FakeOpenAIServer() as srv:
        res = lem(
            "ab",
            "--model",
            f"openai:{srv.url}",
            "--limit",
            "3",
            "--scorer",
            "lek-v3",
            "--db",
            db,
            "--out-jsonl",
            str(tmp_path / "o.jsonl"),
            "--quiet",
        )
    assert res.returncode == 0, res.stderr
    assert "lek-v3 by condition" in flat(res.stdout) and "failed or unfinished" not in res.stdout
    lines = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    v3 = LekV3Scorer()
    for probe in lines[:-1]:
        assert list(probe["conditions"]) == ["baseline", "system:lek", "sandwich:lek"]
        for cond in probe["conditions"].values():
            assert cond["lek_score"] == v3.score(cond["response"]).value
    assert lines[-1]["scorer"] == "lek-v3"
    both = run_results(db)
    assert both.summary.conditions[0]["name"] == "baseline"


def test_several_scorers_all_reach_the_export(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    with FakeOpenAIServer() as srv:
        out = run_ab(
            ABConfig(model=f"openai:{srv.url}", db=db, limit=2, scorers=["lek-v2", "lek-v3"])
        )
    assert out.generated == 6
    v2 = export_ab_jsonl(db, tmp_path / "v2.jsonl")
    v3 = export_ab_jsonl(db, tmp_path / "v3.jsonl", scorer="lek-v3")
    c2 = v2.probes[0].conditions["baseline"]
    c3 = v3.probes[0].conditions["baseline"]
    assert set(c2.extra["scores"]) == {"lek-v2", "lek-v3"}
    assert c2.lek_score == c2.extra["scores"]["lek-v2"]["value"]
    assert c3.lek_score == c2.extra["scores"]["lek-v3"]["value"]


def _score_writers(db: str) -> None:
    """Two writers upsert scores of the same items at once; neither fails."""
    store = Store(db)
    store.add_plan  # noqa: B018 - the store opens (and migrates) before the threads start
    rows = [
        {
            "item_key": f"k{i}",
            "scorer": "s",
            "version": "1",
            "definition_hash": "h",
            "value": float(i),
            "signals": "{}",
            "status": "ok",
            "reason": None,
        }
        for i in range(50)
    ]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def write(offset: float) -> None:
        try:
            own = Store(db)
            barrier.wait()
            for _ in range(5):
                own.add_scores([{**r, "value": r["value"] + offset} for r in rows])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(o,)) for o in (0.0, 0.5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.engine.connect() as conn:
        got = conn.execute(select(scores.c.item_key, scores.c.value)).all()
    assert len(got) == 50
    assert all(v - int(k[1:]) in (0.0, 0.5) for k, v in got)


def test_concurrent_score_writers_sqlite(tmp_path: Path) -> None:
    _score_writers(str(tmp_path / "s.db"))


@pytest.mark.postgres
def test_concurrent_score_writers_postgres(pg_db: str) -> None:
    _score_writers(pg_db)


def _score_run_beside_ab(db: str) -> None:
    """``lem score run`` scoring a run while ``lem ab`` is still generating and scoring it:
    both write the same score rows, and both finish cleanly."""
    with FakeOpenAIServer(latency_s=0.15) as srv:
        ab = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lem.cli.main",
                "ab",
                "--model",
                f"openai:{srv.url}",
                "--limit",
                "12",
                "--concurrency",
                "1",
                "--db",
                db,
                "--quiet",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "OPENAI_API_KEY": ""},
        )
        while ab.poll() is None and len(srv.chat_requests) < 3:
            threading.Event().wait(0.05)
        rescored = []
        while ab.poll() is None or not rescored:
            rescored.append(lem("score", "run", "--db", db, "--scorer", "lek-v2"))
        _, err = ab.communicate()
    assert ab.returncode == 0, err
    assert [r.returncode for r in rescored] == [0] * len(rescored), rescored[-1].stderr
    store = Store(db)
    with store.engine.connect() as conn:
        n = conn.execute(select(scores.c.item_key).where(scores.c.scorer == "lek-v2")).all()
    assert len(n) == 36


def test_score_run_beside_a_running_ab_sqlite(tmp_path: Path) -> None:
    _score_run_beside_ab(str(tmp_path / "r.db"))


@pytest.mark.postgres
def test_score_run_beside_a_running_ab_postgres(pg_db: str) -> None:
    _score_run_beside_ab(pg_db)


def test_report_warns_when_a_summary_disagrees_with_its_probes(tmp_path: Path) -> None:
    src = Path(__file__).parent / "data" / "ab_example.jsonl"
    lines = src.read_text().splitlines()
    summary = json.loads(lines[-1])
    row = next(c for c in summary["conditions"] if c["name"] != "baseline")
    row["avg_lek"] = round(row["avg_lek"] + 1.25, 2)
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join([*lines[:-1], json.dumps(summary)]) + "\n")
    res = lem("report", str(edited), "--out", str(tmp_path / "rep"))
    assert res.returncode == 0, res.stderr
    warned = [x for x in flat(res.stderr).split("lem: warning: ")[1:]]
    assert len(warned) == 1
    assert warned[0].startswith(
        f"{edited}: the summary line disagrees with the probe lines (avg_lek of {row['name']} "
        f"is {row['avg_lek']} in the summary, {round(row['avg_lek'] - 1.25, 2)} from the "
        "probe lines"
    )
    clean = lem("report", str(src), "--out", str(tmp_path / "rep2"))
    assert clean.returncode == 0 and "warning" not in clean.stderr
