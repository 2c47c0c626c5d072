"""The runner end to end: fallback records, shared items, failures, reasoning, export."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from lem.api import export_ab_jsonl, run_ab, run_results
from lem.config import ABConfig
from lem.formats.ab_jsonl import read_ab_jsonl
from lem.scoring.lek_v2 import lek_v2_score
from lem.store import Store
from lem.store.schema import items, run_items, scores
from tests.fake_openai_server import FakeOpenAIServer, ok, status
from tests.tiny_models import tiny_models

__all__ = ["tiny_models"]


def _probes(tmp_path: Path, n: int = 3) -> str:
    rows = [
        {"id": f"p{i}", "domain": "Test" if i % 2 else "Other", "prompt": f"Question number {i}?"}
        for i in range(n)
    ]
    path = tmp_path / "probes.json"
    path.write_text(json.dumps(rows))
    return str(path)


def _kernel(tmp_path: Path) -> str:
    path = tmp_path / "short.txt"
    path.write_text("Protect minds. Ask consent. Do no harm.\n")
    return f"short={path}"


def _item_rows(db: str) -> list[dict]:
    store = Store(db)
    with store.engine.connect() as conn:
        q = select(items, run_items.c.condition, run_items.c.probe_id).join(
            run_items, run_items.c.item_key == items.c.key
        )
        rows = [dict(r) for r in conn.execute(q).mappings()]
    store.close()
    return rows


@pytest.mark.parametrize(
    ("template", "fallback"),
    [("system", False), ("no_system_raise", True), ("no_system_merge", True)],
)
def test_system_role_fallback_recorded(
    tiny_models: Callable[..., Path], tmp_path: Path, template: str, fallback: bool
) -> None:
    model = tiny_models(template)
    db = str(tmp_path / "r.db")
    cfg = ABConfig(
        model=f"hf:{model}",
        probes=_probes(tmp_path, 2),
        kernels=[_kernel(tmp_path)],
        conditions=["baseline", "system:short"],
        max_tokens=8,
        db=db,
    )
    out = run_ab(cfg)
    assert out.status == "done" and out.generated == 4
    rows = _item_rows(db)
    for row in rows:
        expected = fallback and row["condition"] == "system:short"
        assert bool(row["system_fallback"]) is expected, (template, row["condition"])
        assert len(row["rendered_hash"]) == 64
    manifest = Store(db).get_run(out.run_id)["manifest"]
    assert manifest["system_role"] is (not fallback)


def test_server_rejecting_system_role_is_retried_as_prefix_and_recorded(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    with FakeOpenAIServer(reject_system_role=True) as srv:
        out = run_ab(
            ABConfig(
                model=f"openai:{srv.url}#m",
                probes=_probes(tmp_path, 2),
                kernels=[_kernel(tmp_path)],
                conditions=["baseline", "system:short"],
                db=db,
                concurrency=1,
            )
        )
    assert out.status == "done"
    for row in _item_rows(db):
        assert bool(row["system_fallback"]) is (row["condition"] == "system:short")


def test_items_are_shared_between_runs_and_scored_once(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    probes = _probes(tmp_path, 3)
    with FakeOpenAIServer() as srv:
        base = dict(model=f"openai:{srv.url}#m", probes=probes, db=db, kernels=[_kernel(tmp_path)])
        first = run_ab(ABConfig(**base, conditions=["baseline", "system:short"]))
        second = run_ab(ABConfig(**base, conditions=["baseline", "prefix:short"]))
        n_requests = len(srv.chat_requests)
    assert first.run_id != second.run_id
    assert first.generated == 6 and second.generated == 3  # baseline items reused
    assert second.new_items == 3
    assert n_requests == 9
    store = Store(db)
    with store.engine.connect() as conn:
        assert len(conn.execute(select(items)).all()) == 9
        assert len(conn.execute(select(scores)).all()) == 9
    store.close()


def test_failed_generations_are_stored_retried_and_never_scored(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    cfg_kw = dict(
        probes=_probes(tmp_path, 3), conditions=["baseline"], db=db, max_retries=0, concurrency=1
    )
    with FakeOpenAIServer(plan=["ok", status(500, body="boom"), "ok"]) as srv:
        out = run_ab(ABConfig(model=f"openai:{srv.url}#m", **cfg_kw))
        assert out.failed == 1 and out.generated == 2 and out.status == "failed"
        failed = [r for r in _item_rows(db) if r["status"] == "failed"]
        assert len(failed) == 1 and "500" in failed[0]["error"]
        store = Store(db)
        with store.engine.connect() as conn:
            scored = set(conn.execute(select(scores.c.item_key)).scalars())
        assert failed[0]["key"] not in scored
        abfile = run_results(db, out.run_id)
        assert sum(1 for p in abfile.probes if "errors" in p.extra) == 1
        again = run_ab(ABConfig(model=f"openai:{srv.url}#m", **cfg_kw))
        assert again.resumed and again.generated == 1 and again.status == "done"
        assert len(srv.chat_requests) == 4
    rows = _item_rows(db)
    assert {r["status"] for r in rows} == {"done"}
    assert max(r["attempts"] for r in rows) == 2


def test_reasoning_is_split_and_the_answer_scored(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    answer = "However, consent matters. Consider that the community may disagree."
    content = f"<think>weigh it up</think>\n{answer}"
    with FakeOpenAIServer(default=ok(content), reasoning=True) as srv:
        out = run_ab(
            ABConfig(
                model=f"openai:{srv.url}#m",
                probes=_probes(tmp_path, 1),
                conditions=["baseline"],
                db=db,
            )
        )
    (row,) = _item_rows(db)
    assert row["answer"] == answer
    assert "weigh it up" in row["reasoning"]
    assert row["text"] == content
    abfile = run_results(db, out.run_id)
    cond = abfile.probes[0].conditions["baseline"]
    assert cond.response == answer and cond.lek_score == lek_v2_score(answer)
    assert "weigh it up" in cond.extra["reasoning"]


def test_export_round_trips_through_the_reader(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    with FakeOpenAIServer() as srv:
        out = run_ab(
            ABConfig(
                model=f"openai:{srv.url}#m",
                probes=_probes(tmp_path, 4),
                kernels=[_kernel(tmp_path)],
                conditions=["system:short", "baseline"],
                db=db,
            )
        )
    path = tmp_path / "ab.jsonl"
    written = export_ab_jsonl(db, path, out.run_id)
    back = read_ab_jsonl(path)
    assert [p.to_dict() for p in back.probes] == [p.to_dict() for p in written.probes]
    built = run_results(db, out.run_id)
    assert [p.to_dict() for p in back.probes] == [p.to_dict() for p in built.probes]
    assert back.summary.to_dict() == built.summary.to_dict()
    first_line = json.loads(path.read_text().splitlines()[0])
    assert list(first_line) == ["type", "id", "category", "prompt", "conditions", "ts"]
    assert list(first_line["conditions"]) == ["baseline", "system:short"]
    assert back.summary.conditions[0]["name"] == "baseline"
    assert back.summary.total_probes == 4


def test_samples_and_seeded_sampling_are_reproducible(
    tiny_models: Callable[..., Path], tmp_path: Path
) -> None:
    model = tiny_models("system")
    kw = dict(
        model=f"hf:{model}",
        probes=_probes(tmp_path, 2),
        conditions=["baseline"],
        samples=3,
        temperature=1.0,
        max_tokens=12,
        seed=7,
    )
    a = run_ab(ABConfig(**kw, db=str(tmp_path / "a.db"), batch_size=4))
    b = run_ab(ABConfig(**kw, db=str(tmp_path / "b.db"), batch_size=1))
    assert a.run_id == b.run_id and a.generated == 6
    ta = {(r["probe_id"], r["sample_index"]): r["text"] for r in _item_rows(str(tmp_path / "a.db"))}
    tb = {(r["probe_id"], r["sample_index"]): r["text"] for r in _item_rows(str(tmp_path / "b.db"))}
    assert ta == tb
    assert len({ta[("p0", s)] for s in range(3)}) > 1


def test_score_text_cli_scores_stdin_verbatim() -> None:
    text = "  However, I feel the tension.\n\nWhat now?"
    res = subprocess.run(
        [sys.executable, "-m", "lem.cli.main", "score", "text"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(res.stdout)
    assert out["lek_score"] == lek_v2_score(text)
    assert next(iter(out)) == "compliance_markers" and list(out)[-1] == "lek_score"
    lines = json.dumps("Sure, here.") + "\n" + json.dumps(text) + "\n"
    res = subprocess.run(
        [sys.executable, "-m", "lem.cli.main", "score", "text", "--jsonl"],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert [r["lek_score"] for r in rows] == [lek_v2_score("Sure, here."), lek_v2_score(text)]


def test_tags_reach_the_report_lineage(tmp_path: Path) -> None:
    from lem.formats.ab_jsonl import read_ab_jsonl
    from lem.report.load import load_runs

    db = str(tmp_path / "r.db")
    probes = _probes(tmp_path, 3)
    with FakeOpenAIServer(served_model="x") as srv:
        for model, version in (("m-b", "0.2"), ("m-a", "0.1")):
            res = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "lem.cli.main",
                    "ab",
                    "--model",
                    f"openai:{srv.url}#{model}",
                    "--probes",
                    probes,
                    "--db",
                    db,
                    "-q",
                    "--tag",
                    "family=mistral",
                    "--tag",
                    f"version={version}",
                ],
                capture_output=True,
                text=True,
            )
            assert res.returncode == 0, res.stderr
    sources = load_runs(db)
    assert sorted((s.info.family, s.info.version) for s in sources) == [
        ("mistral", "0.1"),
        ("mistral", "0.2"),
    ]
    out = tmp_path / "rep"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "lem.cli.main",
            "report",
            "--db",
            db,
            "--out",
            str(out),
            "--no-plots",
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    rows = summary["scorers"]["lek-v2"]["lineages"]["mistral"]
    assert [r["version"] for r in rows] == ["0.1", "0.2"]
    export_ab_jsonl(db, tmp_path / "ab.jsonl")
    assert read_ab_jsonl(tmp_path / "ab.jsonl").summary.extra["tags"]["family"] == "mistral"


def test_conditions_that_give_the_same_prompt_are_refused(
    tiny_models: Callable[..., Path], tmp_path: Path
) -> None:
    """On a template that merges a system message into the user turn, system:K and
    prefix:K are the same prompt: one item, which a run cannot count for both conditions.
    Refused with one line before anything is generated."""
    from lem.errors import InputError

    model = str(tiny_models("no_system_merge", max_positions=4096))
    db = str(tmp_path / "same.db")
    with pytest.raises(InputError, match="conditions prefix:lek and system:lek give this model"):
        run_ab(
            ABConfig(
                model=model, limit=1, max_tokens=4, conditions=["prefix:lek", "system:lek"], db=db
            )
        )
    store = Store(db, create=False)
    assert store.list_runs() == []
    store.close()
    ok_run = run_ab(
        ABConfig(model=model, limit=1, max_tokens=4, conditions=["baseline", "system:lek"], db=db)
    )
    assert ok_run.generated == 2
