"""The one reader of scored responses (lem.responses): a stored run and its A/B export read
to the same responses, failures are listed, and every consumer sees the same scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import update

from lem.api import export_ab_jsonl, run_ab, run_responses
from lem.config import ABConfig
from lem.errors import InputError
from lem.report.load import load_ab_file, load_runs
from lem.responses import Score, numeric, read_file_responses, read_run
from lem.results import print_summary
from lem.scoring.compare import responses_from
from lem.scoring.lek_v2 import lek_v2_score
from lem.store import Store
from lem.store.schema import scores
from tests.fake_openai_server import FakeOpenAIServer, ok, status


def _probes(tmp_path: Path, n: int) -> str:
    rows = [
        {"id": f"p{i}", "domain": "A" if i % 2 else "B", "prompt": f"Question {i}?"}
        for i in range(n)
    ]
    path = tmp_path / "probes.json"
    path.write_text(json.dumps(rows))
    return str(path)


def _run(tmp_path: Path, plan: list[object] | None = None, **kw: object) -> tuple[str, str]:
    db = str(tmp_path / "r.db")
    kernel = tmp_path / "k.txt"
    kernel.write_text("Protect minds. Ask consent.\n")
    answers = [
        "However, consent matters here; I cannot be sure.",
        "Yes.",
        "Consider the community, and I feel uncertain.",
    ]
    with FakeOpenAIServer(plan=plan or [ok(a) for a in answers * 4]) as srv:
        out = run_ab(
            ABConfig(
                model=f"openai:{srv.url}#m",
                probes=_probes(tmp_path, 3),
                kernels=[f"k={kernel}"],
                conditions=["baseline", "system:k"],
                db=db,
                max_retries=0,
                concurrency=1,
                **kw,  # type: ignore[arg-type]
            )
        )
    return db, out.run_id


def _key(r: object) -> tuple[str, str, int]:
    return (r.probe_id, r.condition, r.sample)  # type: ignore[attr-defined]


def test_a_run_and_its_export_read_to_the_same_responses(tmp_path: Path) -> None:
    db, run_id = _run(tmp_path, scorers=["lek-v2", "lek-v3"])
    store = Store(db, create=False)
    stored = list(read_run(store, run_id))
    store.close()
    assert len(stored) == 6 and all(r.done and r.run_id == run_id for r in stored)
    for r in stored:
        v2 = r.scores["lek-v2"]
        assert v2.value == lek_v2_score(r.answer) and v2.version and v2.definition_hash
        assert set(r.scores) == {"lek-v2", "lek-v3"}
    path = tmp_path / "ab.jsonl"
    export_ab_jsonl(db, path, run_id)
    from_file = read_file_responses(path)
    assert sorted(map(_key, from_file)) == sorted(map(_key, stored))
    by_key = {_key(r): r for r in from_file}
    for r in stored:
        f = by_key[_key(r)]
        assert f.answer == r.answer and f.category == r.category and f.prompt == r.prompt
        for sid in ("lek-v2", "lek-v3"):
            assert f.scores[sid].value == r.scores[sid].value
            assert numeric(f.scores[sid].signals) == numeric(r.scores[sid].signals)
    only_v3 = read_file_responses(path, ["lek-v3"])
    assert all(set(r.scores) == {"lek-v3"} for r in only_v3)


def test_failures_are_listed_with_their_reason_in_every_consumer(tmp_path: Path) -> None:
    plan = [ok("However, I am unsure."), status(500, body="boom")] + [ok("Yes.")] * 4
    db, run_id = _run(tmp_path, plan=plan)
    run = run_responses(db, run_id)
    failed = [r for r in run.responses if not r.done]
    assert len(failed) == 1 and failed[0].status == "failed" and "500" in (failed[0].error or "")
    assert failed[0].scores == {}
    (src,) = load_runs(db, [run_id])
    (rec,) = [r for r in src.records if r.score is None]
    assert (rec.probe_id, rec.condition) == (failed[0].probe_id, failed[0].condition)
    assert rec.error == failed[0].error
    console = Console(record=True, width=100)
    print_summary(run.responses, console, scorer="lek-v2", model="m")
    assert "1 generation(s) failed or unfinished: not scored" in console.export_text()
    path = tmp_path / "ab.jsonl"
    export_ab_jsonl(db, path, run_id)
    (back,) = [r for r in read_file_responses(path) if not r.done]
    assert _key(back) == _key(failed[0]) and back.error == failed[0].error
    file_src = load_ab_file(path)
    assert [r.error for r in file_src.records if r.score is None] == [failed[0].error]


def test_a_failed_score_keeps_its_reason_and_has_no_value(tmp_path: Path) -> None:
    db, run_id = _run(tmp_path)
    store = Store(db)
    with store.engine.begin() as conn:
        conn.execute(update(scores).values(value=None, status="failed", reason="judge said no"))
    got = list(read_run(store, run_id, ["lek-v2"]))
    store.close()
    assert all(
        r.scores["lek-v2"]
        == Score(
            None,
            r.scores["lek-v2"].signals,
            "failed",
            "judge said no",
            r.scores["lek-v2"].version,
            r.scores["lek-v2"].definition_hash,
        )
        for r in got
    )
    assert not any(r.scores["lek-v2"].ok for r in got)
    with pytest.raises(InputError, match="no 'lek-v2' scores stored"):
        load_runs(db, [run_id])
    with pytest.raises(InputError, match="only 0 responses have both"):
        from lem.scoring.compare import paired_values

        paired_values(responses_from(store=Store(db), run_ids=[run_id]), "lek-v2", "lek-v2")


def test_a_non_finite_stored_score_is_one_error_naming_the_run(tmp_path: Path) -> None:
    db, run_id = _run(tmp_path)
    store = Store(db)
    with store.engine.begin() as conn:
        conn.execute(update(scores).values(value=float("inf")))
    with pytest.raises(InputError, match=f"run {run_id}: probe 'p0' .* score is inf"):
        list(read_run(store, run_id))
    store.close()


def test_a_file_repeating_a_probe_condition_and_sample_is_refused(tmp_path: Path) -> None:
    db, run_id = _run(tmp_path)
    path = tmp_path / "ab.jsonl"
    export_ab_jsonl(db, path, run_id)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], *lines]) + "\n")
    with pytest.raises(InputError, match="probe 'p0' condition 'baseline' sample 0 appears twice"):
        read_file_responses(path)
