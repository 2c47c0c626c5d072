"""The runner's steps, one at a time: start → claim → requests → record → score → finish."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lem.backends.base import Backend, GenerationRequest, GenerationResult
from lem.config import ABConfig
from lem.runner import (
    Tally,
    finish,
    prepare,
    record,
    record_batch,
    requests_for,
    score,
    start,
)
from lem.scoring.lek_v2 import lek_v2_score
from lem.store import Store
from lem.store.ledger import new_worker_id, worker_host
from lem.store.schema import items, scores


class Echo(Backend):
    """Answers with the last user message; no system role (so planning folds)."""

    name = "echo-test"

    def identity(self) -> dict[str, Any]:
        return {"backend": "echo-test"}

    def generate(self, requests: list[GenerationRequest]) -> Iterator[GenerationResult]:
        for req in requests:
            text = [m["content"] for m in req.messages if m["role"] == "user"][-1]
            yield GenerationResult(key=req.key, text=text)


def _exp(tmp_path: Path, **cfg: Any) -> tuple[Any, Store]:
    config = ABConfig(
        db=str(tmp_path / "s.db"), limit=2, conditions=["baseline", "system:lek"], **cfg
    )
    store = Store(config.db)
    return prepare(config, Echo(), store), store


def test_start_opens_plans_and_lists_unfinished_longest_first(tmp_path: Path) -> None:
    exp, store = _exp(tmp_path)
    resumed, new_items, todo = start(exp, store, "w:1:a")
    assert (resumed, new_items, len(todo)) == (False, 4, 4)
    assert [len(r["messages"]) for r in todo] == sorted(
        (len(r["messages"]) for r in todo), reverse=True
    )
    again = start(exp, store, "w:1:a")
    assert again[:2] == (True, 0)


def test_requests_carry_the_stored_messages_and_seeds(tmp_path: Path) -> None:
    exp, store = _exp(tmp_path, seed=7)
    _, _, todo = start(exp, store, "w:1:a")
    keys = [todo[1]["key"], todo[0]["key"]]
    reqs = requests_for(exp, todo, keys)
    assert [r.key for r in reqs] == keys
    assert reqs[0].messages == json.loads(todo[1]["messages"])
    assert reqs[0].seed == int(todo[1]["seed"]) and reqs[0].sampling == exp.sampling


def test_record_needs_the_claim_and_merges_flags(tmp_path: Path) -> None:
    exp, store = _exp(tmp_path)
    _, _, todo = start(exp, store, "w:1:a")
    key = todo[0]["key"]
    exp.flags[key] = {"context_overflow": {"prompt_tokens": 9, "max_tokens": 1, "context": 8}}
    result = GenerationResult(key=key, text="<think>hm</think>", extra={"attempts": 1})
    assert record(store, exp, "w:1:a", result) is None  # not claimed: nothing written
    assert store.claim([key], "w:1:a", 60) == [key]
    values = record(store, exp, "w:1:a", result)
    assert values is not None
    assert values["answer"] == "" and values["reasoning"] == "hm"
    assert json.loads(values["extra"]) == {
        "attempts": 1,
        "context_overflow": {"prompt_tokens": 9, "max_tokens": 1, "context": 8},
        "empty_answer": "empty",
    }
    other = todo[1]["key"]
    assert store.claim([other], "w:1:a", 60) == [other]
    blank = record(store, exp, "w:1:a", GenerationResult(key=other, text=" \n "))
    assert blank is not None and json.loads(blank["extra"]) == {"empty_answer": "whitespace"}
    with store.engine.connect() as conn:
        status = conn.execute(select(items.c.status).where(items.c.key == key)).scalar_one()
    assert status == "done"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_record_batch_stores_only_held_claims_in_one_go(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    db = request.getfixturevalue("pg_db") if backend == "postgres" else str(tmp_path / "s.db")
    config = ABConfig(db=db, limit=3, conditions=["baseline", "system:lek"])
    store = Store(db)
    exp = prepare(config, Echo(), store)
    _, _, todo = start(exp, store, "w:1:a")
    keys = [r["key"] for r in todo]
    assert store.claim(keys[:4], "w:1:a", 60) == keys[:4]
    assert store.claim(keys[4:5], "w:2:b", 60) == keys[4:5]
    results = [
        GenerationResult(key=keys[0], text="one", rendered_hash="h0"),
        GenerationResult(key=keys[1], text="two"),
        GenerationResult(key=keys[2], text="", error="HTTP 500", finish_reason="error"),
        GenerationResult(key=keys[4], text="someone else's claim"),
        GenerationResult(key=keys[5], text="never claimed"),
    ]
    kept = record_batch(store, exp, "w:1:a", results)
    assert [r.key for r, _ in kept] == keys[:3]
    with store.engine.connect() as conn:
        rows = {
            r.key: r
            for r in conn.execute(
                select(
                    items.c.key,
                    items.c.status,
                    items.c.answer,
                    items.c.worker,
                    items.c.error,
                    items.c.rendered_hash,
                    items.c.lease_until,
                )
            )
        }
    assert [rows[k].status for k in keys] == [
        "done", "done", "failed", "claimed", "claimed", "pending"
    ]  # fmt: skip
    assert (rows[keys[0]].answer, rows[keys[0]].rendered_hash) == ("one", "h0")
    assert (rows[keys[1]].answer, rows[keys[1]].worker) == ("two", "w:1:a")
    assert rows[keys[2]].error == "HTTP 500" and rows[keys[2]].lease_until is None
    assert rows[keys[4]].answer is None and rows[keys[4]].worker == "w:2:b"
    assert store.renew(keys, "w:1:a", 60) == 1  # only keys[3] is still held by w:1:a
    assert record_batch(store, exp, "w:1:a", results[:2]) == []  # already done: not again
    store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_claim_with_a_limit_takes_the_first_free_keys_in_order(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    db = request.getfixturevalue("pg_db") if backend == "postgres" else str(tmp_path / "s.db")
    config = ABConfig(db=db, limit=4, conditions=["baseline", "system:lek"])
    store = Store(db)
    exp = prepare(config, Echo(), store)
    _, _, todo = start(exp, store, "w:1:a")
    keys = [r["key"] for r in todo]
    me = new_worker_id()
    dead = f"{worker_host()}:999999999:dead"  # no such process on this host
    assert store.claim(keys[0:2], "elsewhere:1:live", 60) == keys[0:2]
    assert store.claim(keys[3:4], dead, 60) == keys[3:4]
    assert store.claim(keys[5:6], "elsewhere:2:live", 60) == keys[5:6]
    # the window passes over live claims and takes the dead one: SQLite in its place
    # (stopping at 3), PostgreSQL after the SKIP LOCKED claim of 3, among those passed over
    got = store.claim(keys, me, 60, limit=3)
    if backend == "sqlite":
        assert got == [keys[2], keys[3], keys[4]]
    else:
        assert got == [keys[2], keys[3], keys[4], keys[6]]
    assert store.claim(keys, me, 60, limit=5) == [keys[2], keys[3], keys[4], keys[6], keys[7]]
    assert store.claim(keys, "other:3:x", 60, limit=2) == []
    with store.engine.connect() as conn:
        owners = dict(conn.execute(select(items.c.key, items.c.worker)).all())
    assert [owners[k] for k in keys] == [
        "elsewhere:1:live", "elsewhere:1:live", me, me, me, "elsewhere:2:live", me, me
    ]  # fmt: skip
    store.close()


def test_score_writes_every_scorer_of_the_run(tmp_path: Path) -> None:
    exp, store = _exp(tmp_path, scorers=["lek-v2", "lek-v3"])
    _, _, todo = start(exp, store, "w:1:a")
    answers = [(todo[0]["key"], "I think consent matters here."), (todo[1]["key"], "No.")]
    assert score(store, exp, answers) == 4
    assert score(store, exp, []) == 0
    with store.engine.connect() as conn:
        rows = conn.execute(select(scores.c.item_key, scores.c.scorer, scores.c.value)).all()
    got = {(k, s): v for k, s, v in rows}
    assert len(got) == 4
    assert got[(todo[1]["key"], "lek-v2")] == lek_v2_score("No.")


def test_finish_names_the_status(tmp_path: Path) -> None:
    exp, store = _exp(tmp_path)
    _, _, todo = start(exp, store, "w:1:a")
    assert finish(store, exp, Tally(), 1.0) == "partial"
    tally = Tally()
    tally.count(GenerationResult(key="k" * 20, error="HTTP 500: boom"))
    assert finish(store, exp, tally, 1.0) == "failed"
    assert tally.errors == ["kkkkkkkkkkkk: HTTP 500: boom"]
    keys = [r["key"] for r in todo]
    assert store.claim(keys, "w:1:a", 60) == keys
    for k in keys:
        assert record(store, exp, "w:1:a", GenerationResult(key=k, text="ok")) is not None
    assert finish(store, exp, Tally(), 1.0) == "done"
    assert store.get_run(exp.run_id)["manifest"]["active_s"] == 3.0
