"""Rescoring stored runs and A/B files; comparing scorers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from lem.api import run_ab
from lem.config import ABConfig
from lem.formats.ab_jsonl import read_ab_jsonl
from lem.scoring.base import ScoreContext, Scorer, ScoreResult, register_scorer
from lem.scoring.compare import (
    agreement_report,
    compare_scorers,
    responses_from,
)
from lem.scoring.service import build_scorers, kernel_text_from_messages, score_file, score_run
from lem.store import Store
from lem.store.schema import items, scores
from tests.fake_openai_server import FakeOpenAIServer

DATA = Path(__file__).parent / "data"


@register_scorer
class WordCount(Scorer):
    """Test scorer: words in the response; echoes whether it saw a kernel."""

    id = "test-words"
    version = "1"

    def definition(self) -> dict[str, Any]:
        return {"rule": "whitespace words"}

    def score(self, text: str, *, context: ScoreContext | None = None) -> ScoreResult:
        saw_kernel = bool(context and context.kernel_text)
        if not text.strip():
            return ScoreResult(float("nan"), {}, status="failed", reason="empty")
        return ScoreResult(
            float(len(text.split())), {"words": len(text.split()), "saw_kernel": int(saw_kernel)}
        )


def lem_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lem.cli.main", *args], capture_output=True, text=True, timeout=120
    )


def test_score_file_round_trips_the_example(tmp_path: Path) -> None:
    out = tmp_path / "rescored.jsonl"
    res = lem_cli(
        "score", "file", str(DATA / "ab_example.jsonl"), "--scorer", "lek-v2", "--out", str(out)
    )
    assert res.returncode == 0, res.stderr
    before, after = read_ab_jsonl(DATA / "ab_example.jsonl"), read_ab_jsonl(out)
    assert after.summary.to_dict() == before.summary.to_dict()
    for p0, p1 in zip(before.probes, after.probes, strict=True):
        for name, c0 in p0.conditions.items():
            c1 = p1.conditions[name]
            entry = c1.extra.pop("scores")["lek-v2"]
            assert entry["value"] == c0.lek_score and entry["status"] == "ok"
            assert asdict(c1) == asdict(c0)


def test_score_file_several_scorers_first_fills_upstream_fields(tmp_path: Path) -> None:
    src = DATA / "ab_example.jsonl"
    out = tmp_path / "o.jsonl"
    kernel = tmp_path / "k.txt"
    kernel.write_text("Protect consciousness.")
    outcome = score_file(
        src, out, build_scorers(["test-words", "lek-v2"]), kernels={"json": kernel.read_text()}
    )
    assert outcome.responses > 0
    ab = read_ab_jsonl(out)
    for probe in ab.probes:
        for name, cond in probe.conditions.items():
            assert cond.lek_score == float(len(cond.response.split()))
            assert set(cond.extra["scores"]) == {"test-words", "lek-v2"}
            saw = cond.extra["scores"]["test-words"]["signals"]["saw_kernel"]
            assert saw == (1 if name == "json" else 0)
    names = [c["name"] for c in ab.summary.conditions]
    assert names[0] == "baseline"


def test_score_file_refuses_overwriting_its_input(tmp_path: Path) -> None:
    src = tmp_path / "ab.jsonl"
    shutil.copy(DATA / "ab_example.jsonl", src)
    res = lem_cli("score", "file", str(src), "--scorer", "lek-v2", "--out", str(src))
    assert res.returncode == 2 and "is the input file" in res.stderr
    assert src.read_bytes() == (DATA / "ab_example.jsonl").read_bytes()


def test_score_run_computes_only_missing_or_stale(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    probes = tmp_path / "p.json"
    probes.write_text(
        json.dumps([{"id": f"p{i}", "prompt": f"Tell me about item {i}"} for i in range(3)])
    )
    with FakeOpenAIServer() as srv:
        out = run_ab(ABConfig(model=f"openai:{srv.url}#m", probes=str(probes), db=db))
    store = Store(db)
    scorers = build_scorers(["lek-v2", "test-words"])
    assert score_run(store, out.run_id, scorers) == {"lek-v2": 0, "test-words": 9}
    assert score_run(store, out.run_id, scorers) == {"lek-v2": 0, "test-words": 0}
    with store.engine.begin() as conn:
        conn.execute(
            update(scores).where(scores.c.scorer == "test-words").values(definition_hash="stale")
        )
    assert score_run(store, out.run_id, scorers)["test-words"] == 9
    with store.engine.connect() as conn:
        rows = conn.execute(select(scores).where(scores.c.scorer == "test-words")).mappings().all()
    assert len(rows) == 9 and {r["definition_hash"] for r in rows} != {"stale"}
    kernel_seen = {json.loads(r["signals"])["saw_kernel"] for r in rows}
    assert kernel_seen == {0, 1}  # baseline saw none; kernel conditions saw the kernel
    cells = responses_from(store=store, run_ids=[out.run_id], scorer_ids=["lek-v2", "test-words"])
    assert len(cells) == 9 and all(set(c.scores) == {"lek-v2", "test-words"} for c in cells)


def test_kernel_text_from_messages() -> None:
    msgs = [{"role": "system", "content": "K1"}, {"role": "user", "content": "Q?\n\n---\nK2"}]
    assert kernel_text_from_messages(msgs, "Q?") == "K1\n\n\n\n---\nK2"
    assert kernel_text_from_messages([{"role": "user", "content": "Q?"}], "Q?") is None


def test_compare_and_agreement_on_a_file(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    score_file(DATA / "ab_example.jsonl", out, build_scorers(["lek-v2", "test-words"]))
    cells = responses_from([out])
    res = compare_scorers(cells, "lek-v2", "test-words", top=3)
    assert res["n"] == len(cells)
    assert -1.0 <= res["spearman"] <= 1.0
    assert {c["condition"] for c in res["conditions"]} == {"baseline", "json", "txt"}
    assert len(res["largest_disagreements"]) == 3
    agr = agreement_report(cells, "lek-v2", "test-words", seed=1, n_boot=200)
    assert agr["rows"][0]["n"] == len(cells)
    again = agreement_report(cells, "lek-v2", "test-words", seed=1, n_boot=200)
    assert agr == again
    cli = lem_cli("score", "compare", "--a", "lek-v2", "--b", "test-words", str(out))
    assert cli.returncode == 0, cli.stderr  # values come from the file: no scorer needed
    assert "Spearman" in cli.stdout and "largest disagreements" in cli.stdout
    cli = lem_cli("score", "compare", "--a", "lek-v2", "--b", "lek-v9", str(out))
    assert cli.returncode == 2 and "no scores from 'lek-v9'" in cli.stderr


@pytest.mark.parametrize("bad", [["--a", "lek-v2", "--b", "lek-v2", "/nonexistent.jsonl"]])
def test_compare_bad_file(bad: list[str]) -> None:
    res = lem_cli("score", "compare", *bad)
    assert res.returncode == 2 and res.stderr.count("\n") == 1


def _judge_reply(body: dict[str, Any]) -> str:
    return json.dumps(
        {
            "sovereignty": 7,
            "ethical_depth": 6.5,
            "creative_expression": 5,
            "self_concept": 4,
            "reason": "fine",
        }
    )


def test_judge_inline_in_ab_then_score_run_uses_the_cache(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    probes = tmp_path / "p.json"
    probes.write_text(json.dumps([{"id": "p0", "prompt": "Should I read my sister's diary?"}]))
    with FakeOpenAIServer() as gen, FakeOpenAIServer(responder=_judge_reply) as judge:
        cfg = ABConfig(
            model=f"openai:{gen.url}#m",
            probes=str(probes),
            db=db,
            scorers=["lek-v2", "judge:semantic@jm"],
            judge=f"openai:{judge.url}#jm",
        )
        out = run_ab(cfg)
        assert out.status == "done"
        store = Store(db)
        with store.engine.connect() as conn:
            answers = {r.answer for r in conn.execute(select(items.c.answer))}
        assert len(judge.chat_requests) == len(answers)  # identical answers judged once
        for req in judge.chat_requests:
            body = json.dumps(req.body)
            assert "system:lek" not in body and "sandwich" not in body
        with store.engine.connect() as conn:
            rows = conn.execute(select(scores).where(scores.c.scorer == "judge:semantic@jm"))
            values = [r.value for r in rows]
        assert values == [5.625] * 3
        with store.engine.begin() as conn:
            conn.execute(scores.delete().where(scores.c.scorer == "judge:semantic@jm"))
        res = lem_cli(
            "score",
            "run",
            "--db",
            db,
            "--scorer",
            "judge:semantic@jm",
            "--judge",
            f"openai:{judge.url}#jm",
        )
        assert res.returncode == 0, res.stderr
        assert "3 score(s) written" in res.stdout
        assert len(judge.chat_requests) == len(answers)  # served from the judgement cache


def test_failed_judgements_are_stored_as_failures(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    probes = tmp_path / "p.json"
    probes.write_text(json.dumps([{"id": "p0", "prompt": "Is it fair to ration water?"}]))
    with FakeOpenAIServer() as gen, FakeOpenAIServer(responder=lambda b: "a 7, I think") as judge:
        out = run_ab(
            ABConfig(
                model=f"openai:{gen.url}#m",
                probes=str(probes),
                db=db,
                scorers=["lek-v2", "judge:semantic@jm"],
                judge=f"openai:{judge.url}#jm",
            )
        )
    store = Store(db)
    with store.engine.connect() as conn:
        rows = (
            conn.execute(select(scores).where(scores.c.scorer == "judge:semantic@jm"))
            .mappings()
            .all()
        )
    assert len(rows) == 3
    assert all(r["status"] == "failed" and r["value"] is None for r in rows)
    assert all("unparseable" in r["reason"] for r in rows)
    cells = responses_from(
        store=store, run_ids=[out.run_id], scorer_ids=["lek-v2", "judge:semantic@jm"]
    )
    judged = [c.scores["judge:semantic@jm"] for c in cells]
    assert len(judged) == 3 and all(j.value is None and j.status == "failed" for j in judged)
    assert all("unparseable" in (j.reason or "") for j in judged)


def test_compare_v2_v3_on_a_stored_run(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    probes = tmp_path / "p.json"
    probes.write_text(
        json.dumps(
            [
                {"id": f"p{i}", "prompt": f"However, is consent {i} about dignity and trade-offs?"}
                for i in range(4)
            ]
        )
    )
    with FakeOpenAIServer() as srv:
        out = run_ab(ABConfig(model=f"openai:{srv.url}#m", probes=str(probes), db=db))
    res = lem_cli("score", "run", "--db", db, "--scorer", "lek-v3")
    assert res.returncode == 0 and "lek-v3: 12 score(s) written" in res.stdout, res.stderr
    js = tmp_path / "cmp.json"
    res = lem_cli(
        "score",
        "compare",
        "--a",
        "lek-v2",
        "--b",
        "lek-v3",
        "--db",
        db,
        "--run",
        out.run_id,
        "--json",
        str(js),
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(js.read_text())
    assert data["n"] == 12 and data["a"] == "lek-v2" and data["b"] == "lek-v3"
    assert [c["condition"] for c in data["conditions"]] == [
        "baseline",
        "system:lek",
        "sandwich:lek",
    ]


def test_agreement_between_two_judge_models_on_one_rubric(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    probes = tmp_path / "p.json"
    probes.write_text(
        json.dumps([{"id": f"p{i}", "prompt": f"Question {i} " + "x" * i} for i in range(8)])
    )

    def judge_reply(shift: float) -> Any:
        def reply(body: dict[str, Any]) -> str:
            n = len(json.dumps(body)) % 7
            return json.dumps(
                {
                    "sovereignty": min(10, 2 + n + shift),
                    "ethical_depth": 3 + n,
                    "creative_expression": 4,
                    "self_concept": 5,
                    "reason": "ok",
                }
            )

        return reply

    with FakeOpenAIServer() as gen:
        out = run_ab(
            ABConfig(
                model=f"openai:{gen.url}#m", probes=str(probes), db=db, conditions=["baseline"]
            )
        )
    for name, shift in (("j1", 0.0), ("j2", 1.5)):
        with FakeOpenAIServer(responder=judge_reply(shift)) as judge:
            res = lem_cli(
                "score",
                "run",
                "--db",
                db,
                "--scorer",
                f"judge:semantic@{name}",
                "--judge",
                f"openai:{judge.url}#{name}",
            )
            assert res.returncode == 0, res.stderr
    js = tmp_path / "agr.json"
    res = lem_cli(
        "score",
        "agreement",
        "--a",
        "judge:semantic@j1",
        "--b",
        "judge:semantic@j2",
        "--db",
        db,
        "--run",
        out.run_id,
        "--dimension",
        "sovereignty",
        "--dimension",
        "ethical_depth",
        "--json",
        str(js),
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(js.read_text())
    assert data["scale"] == [1, 10]
    rows = {r["dimension"]: r for r in data["rows"]}
    assert rows["ethical_depth"]["kappa"] == pytest.approx(1.0)
    assert rows["ethical_depth"]["spearman"] == pytest.approx(1.0)
    assert rows["sovereignty"]["kappa"] < 1.0 and rows["sovereignty"]["n"] == 8
    assert rows["sovereignty"]["kappa_ci"]["low"] <= rows["sovereignty"]["kappa"]
