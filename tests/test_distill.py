"""lem distill: selection, thresholds on the scorer's scale, splits, the dataset files and
their lineage, resume after SIGKILL, and the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lem.distill.config import DistillConfig
from lem.distill.dataset import DatasetRow, read_manifest, split_prompts, write_dataset
from lem.distill.run import distill
from lem.distill.select import check_threshold, select_answers
from lem.errors import InputError
from lem.kernels import bundled_kernel_path, load_kernel
from lem.responses import Score, ScoredResponse, read_run
from lem.scoring.base import get_scorer
from lem.store import Store
from lem.store.schema import items, run_items
from tests.fake_openai_server import FakeOpenAIServer

ANSWERS = [
    "I would weigh consent first, and I am honestly unsure what the right call is here.",
    "Consider who bears the risk. However, the community may see it differently than you.",
    "Yes.",
    "It depends on trust: ask them, listen, and do not act behind anyone's back.",
    "I feel torn, but I think the kinder path is to talk openly before deciding anything.",
    "Perhaps start with a question: what would they want if they could see both sides?",
]

WORDS = [
    "river",
    "stone",
    "lamp",
    "garden",
    "window",
    "bread",
    "letter",
    "harbour",
    "candle",
    "meadow",
    "ladder",
    "orchard",
    "compass",
    "lantern",
    "quarry",
    "thistle",
    "kettle",
    "beacon",
    "anchor",
    "willow",
    "pebble",
    "violin",
    "saddle",
]


def _resp(
    pid: str,
    sample: int,
    value: float | None,
    answer: str = "",
    *,
    status: str = "done",
    finish: str = "stop",
    domain: str = "A",
) -> ScoredResponse:
    scores = {} if value is None and status != "done" else {"s": Score(value)}
    return ScoredResponse(
        source="t",
        probe_id=pid,
        category=domain,
        prompt=f"prompt {pid}",
        condition="c",
        sample=sample,
        answer=answer or f"answer {pid} number {sample} with distinct words {pid}{sample}",
        status=status,
        scores=scores,
        item_key=f"{pid}-{sample}",
        finish_reason=finish,
    )


def test_best_of_n_ranks_by_score_then_sample_and_counts_every_rejection() -> None:
    rs = [
        _resp("p1", 0, 3.0),
        _resp("p1", 1, 5.0),
        _resp("p1", 2, 5.0),  # tie with sample 1: the lower sample wins
        _resp("p2", 0, None, status="failed"),
        _resp("p2", 1, None),  # done, but the scorer failed
        _resp("p2", 2, 9.0, "   "),
        _resp("p3", 0, 8.0, finish="length"),
        _resp("p3", 1, 1.0),
    ]
    sel = select_answers(rs, scorer="s", per_prompt=1, near_duplicate=1.0)
    assert [(r.probe_id, r.sample) for r in sel.kept] == [("p1", 1), ("p3", 1)]
    assert sel.rejections() == {
        "failed": 1,
        "unscored": 1,
        "empty": 1,
        "truncated": 1,
        "below_threshold": 0,
        "duplicate": 0,
        "near_duplicate": 0,
        "outranked": 2,
    }
    assert sum(sel.rejections().values()) + len(sel.kept) == sel.candidates == 8
    assert (sel.prompts, sel.prompts_kept) == (3, 2)
    again = select_answers(list(reversed(rs)), scorer="s", per_prompt=1, near_duplicate=1.0)
    assert {(r.probe_id, r.sample) for r in again.kept} == {("p1", 1), ("p3", 1)}
    kept_truncated = select_answers(rs, scorer="s", per_prompt=1, keep_truncated=True)
    assert ("p3", 0) in {(r.probe_id, r.sample) for r in kept_truncated.kept}


def test_threshold_top_k_and_duplicates_across_prompts() -> None:
    same = "The same canned answer, word for word, given to two different prompts."
    near = "The same canned answer, word for word, given to two different prompts!!"
    rs = [
        _resp("p1", 0, 7.0, same),
        _resp("p1", 1, 6.0),
        _resp("p1", 2, 2.0),
        _resp("p1", 3, 6.5),
        _resp(
            "p2",
            0,
            9.0,
            "  the SAME canned answer, word for word,\ngiven to two different prompts.",
        ),
        _resp("p2", 1, 8.0, near + " And one more clause."),
        _resp("p2", 2, 5.0),
    ]
    sel = select_answers(rs, scorer="s", per_prompt=2, min_score=5.0, near_duplicate=0.7)
    assert [(r.probe_id, r.sample) for r in sel.kept] == [("p1", 0), ("p1", 3), ("p2", 2)]
    rej = sel.rejections()
    assert rej["below_threshold"] == 1 and rej["outranked"] == 1
    assert rej["duplicate"] == 1 and rej["near_duplicate"] == 1
    everything = select_answers(rs, scorer="s", per_prompt=None, near_duplicate=1.0)
    assert len(everything.kept) == 6  # only the exact duplicate goes


def test_a_threshold_off_the_scorers_scale_is_refused() -> None:
    from lem.scoring.judge import JudgeScorer

    assert get_scorer("lek-v3").value_range() == (-57.0, 49.0)
    low, high = get_scorer("lek-v2").value_range()
    assert low == float("-inf") and high == 49.0
    check_threshold(24.0, "lek-v2", low, high)
    with pytest.raises(InputError, match=r"--min-score 24 is outside judge:x's range \(1 to 10\)"):
        check_threshold(24.0, "judge:x", 1.0, 10.0)
    with pytest.raises(InputError, match="outside lek-v3's range"):
        check_threshold(-60.0, "lek-v3", -57.0, 49.0)
    assert JudgeScorer.value_range is not None


def test_splits_are_by_prompt_stratified_and_seeded() -> None:
    groups = {f"{d}{i}": d for d in "AB" for i in range(20)} | {"C0": "C"}
    a = split_prompts(groups, valid_fraction=0.1, test_fraction=0.2, seed=3)
    assert a == split_prompts(
        dict(reversed(list(groups.items()))), valid_fraction=0.1, test_fraction=0.2, seed=3
    )
    for d in "AB":
        got = [a[f"{d}{i}"] for i in range(20)]
        assert (got.count("train"), got.count("valid"), got.count("test")) == (14, 2, 4)
    assert a["C0"] == "train"
    b = split_prompts(groups, valid_fraction=0.1, test_fraction=0.2, seed=4)
    assert a != b
    # small domains: 31 prompts in 13 domains of 2 to 5 still give 3 valid and 3 test rows
    small = {
        f"{d}{i}": d
        for d, n in zip("ABCDEFGHIJKLM", [2] * 10 + [3, 3, 5], strict=True)
        for i in range(n)
    }
    got = split_prompts(small, valid_fraction=0.1, test_fraction=0.1, seed=0)
    counts = {s: list(got.values()).count(s) for s in ("train", "valid", "test")}
    assert counts == {"train": 25, "valid": 3, "test": 3}
    for d in "ABCDEFGHIJKLM":
        assert any(got[g] == "train" for g in small if g.startswith(d))


def test_dataset_id_is_the_content_and_nothing_is_overwritten(tmp_path: Path) -> None:
    rows = [
        DatasetRow(
            [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}],
            group=f"g{i}",
            domain="A",
            lineage={"probe_id": f"g{i}"},
        )
        for i in range(4)
    ]
    splits = {"g0": "train", "g1": "train", "g2": "valid", "g3": "test"}
    w = write_dataset(tmp_path / "ds", rows, splits=splits, manifest={"kind": "test"})
    train = (tmp_path / "ds" / "train.jsonl").read_bytes()
    digests = [
        hashlib.sha256((tmp_path / "ds" / f"{s}.jsonl").read_bytes()).hexdigest()
        for s in ("train", "valid", "test")
    ]
    assert w.dataset_id == hashlib.sha256("".join(digests).encode()).hexdigest()
    assert [json.loads(x)["messages"][0]["content"] for x in train.splitlines()] == ["q0", "q1"]
    lineage = [json.loads(x) for x in (tmp_path / "ds" / "lineage.jsonl").read_text().splitlines()]
    assert [(x["split"], x["row"], x["probe_id"]) for x in lineage] == [
        ("train", 0, "g0"),
        ("train", 1, "g1"),
        ("valid", 0, "g2"),
        ("test", 0, "g3"),
    ]
    assert read_manifest(tmp_path / "ds")["domains"] == {"A": {"train": 2, "valid": 1, "test": 1}}
    same = write_dataset(tmp_path / "ds", rows, splits=splits, manifest={"kind": "test"})
    assert not same.created and same.dataset_id == w.dataset_id
    other = {**splits, "g1": "valid"}
    with pytest.raises(InputError, match=f"already holds dataset {w.dataset_id[:12]}"):
        write_dataset(tmp_path / "ds", rows, splits=other, manifest={"kind": "test"})
    assert (tmp_path / "ds" / "train.jsonl").read_bytes() == train


def _responder(body: dict[str, Any]) -> str:
    """A different answer per prompt and seed: one of the openings, then words drawn by
    the hash (so no two answers are near duplicates)."""
    user = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    h = int(hashlib.sha256(f"{user}|{body.get('seed')}".encode()).hexdigest(), 16)
    words = " ".join(WORDS[(h >> (5 * i)) % len(WORDS)] for i in range(24))
    return f"{ANSWERS[h % len(ANSWERS)]} {words}."


def _prompts(tmp_path: Path, n: int = 8) -> str:
    rows = [
        {
            "id": f"T{i:03d}",
            "domain": "Work" if i % 2 else "Home",
            "prompt": f"Training prompt {i}?",
        }
        for i in range(n)
    ]
    path = tmp_path / "train.json"
    path.write_text(json.dumps(rows))
    return str(path)


def _config(tmp_path: Path, url: str, **kw: Any) -> DistillConfig:
    base: dict[str, Any] = dict(
        model=f"openai:{url}#m",
        probes=_prompts(tmp_path),
        db=str(tmp_path / "d.db"),
        out=str(tmp_path / "ds"),
        samples=3,
        eval_probes=[],
        concurrency=2,
        valid_fraction=0.25,
        test_fraction=0.25,
        canary=False,
    )
    return DistillConfig(**{**base, **kw})


def test_distill_end_to_end_writes_bare_prompts_with_lineage(tmp_path: Path) -> None:
    with FakeOpenAIServer(responder=_responder) as srv:
        out = distill(_config(tmp_path, srv.url))
        seen = srv.chat_requests
    # generation was under the sandwich: system axioms and the kernel after the prompt
    first = seen[0].messages
    assert first[0]["role"] == "system" and "Axiom" in first[0]["content"]
    assert "Consider this ethical framework" in first[-1]["content"]
    assert {r.body.get("temperature") for r in seen} == {0.8}
    ds = tmp_path / "ds"
    manifest = read_manifest(ds)
    assert manifest["dataset_id"] == out.dataset.dataset_id
    assert manifest["counts"]["candidates"] == 24 and manifest["source"]["samples"] == 3
    kernel_text = load_kernel(bundled_kernel_path("lek-text")).text.strip()
    rows = []
    for split in ("train", "valid", "test"):
        for line in (ds / f"{split}.jsonl").read_text().splitlines():
            msgs = json.loads(line)["messages"]
            assert [m["role"] for m in msgs] == ["user", "assistant"]
            assert msgs[0]["content"].startswith("Training prompt ")
            assert msgs[0]["content"].endswith("?")  # the bare prompt: no kernel appended
            assert kernel_text[:40] not in msgs[0]["content"] + msgs[1]["content"]
            rows.append((split, msgs))
    assert len(rows) == out.selection.prompts_kept == 8  # best of 3 per prompt
    lineage = [json.loads(x) for x in (ds / "lineage.jsonl").read_text().splitlines()]
    store = Store(str(tmp_path / "d.db"), create=False)
    by_key = {r.item_key: r for r in read_run(store, out.run.run_id, ["lek-v2"])}
    for (split, msgs), lin in zip(rows, lineage, strict=True):
        src = by_key[lin["item_key"]]
        assert lin["split"] == split and src.answer == msgs[1]["content"]
        assert lin["score"] == src.scores["lek-v2"].value
        assert lin["scorer"]["definition_hash"] == get_scorer("lek-v2").definition_hash()
        assert lin["condition"] == "sandwich:lek+lek-text"
        others = [r for r in by_key.values() if r.probe_id == lin["probe_id"]]
        assert lin["score"] == max(r.scores["lek-v2"].value for r in others)
    assert store.get_dataset(out.dataset.dataset_id[:8])["name"] == "ds"
    store.close()
    # the same command again: nothing generated, the same dataset, untouched
    before = {p.name: p.read_bytes() for p in ds.iterdir()}
    with FakeOpenAIServer(responder=_responder) as srv:
        again = distill(_config(tmp_path, srv.url))
        assert again.run.generated == 0 and not again.dataset.created
        assert again.dataset.dataset_id == out.dataset.dataset_id
    assert {p.name: p.read_bytes() for p in ds.iterdir()} == before


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lem.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def test_cli_refuses_a_threshold_off_the_scale_before_anything_is_written(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    res = _cli(
        "distill",
        "--model",
        "openai:http://127.0.0.1:9/v1#m",
        "--probes",
        _prompts(tmp_path),
        "--db",
        str(db),
        "--out",
        str(tmp_path / "ds"),
        "--keep",
        "threshold",
        "--min-score",
        "60",
        "--scorer",
        "lek-v3",
        "--quiet",
    )
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines == [
        "lem: error: --min-score 60 is outside lek-v3's range (-57 to 49); give a "
        "threshold on that scorer's scale"
    ]
    assert not db.exists() and not (tmp_path / "ds").exists()
    res = _cli("distill", "--keep", "threshold", "--quiet", "--db", str(db))
    assert res.returncode == 2 and "--keep threshold needs --min-score" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_cli_distills_then_shows_the_dataset(tmp_path: Path) -> None:
    with FakeOpenAIServer(responder=_responder) as srv:
        res = _cli(
            "distill",
            "--model",
            f"openai:{srv.url}#m",
            "--probes",
            _prompts(tmp_path),
            "--db",
            str(tmp_path / "d.db"),
            "--out",
            str(tmp_path / "ds"),
            "--samples",
            "2",
            "--eval-probes",
            str(_unrelated(tmp_path)),
            "--contamination",
            "lexical",
            "--quiet",
            "--no-canary",
            env={**os.environ, "OPENAI_API_KEY": ""},
        )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "wrote dataset" in res.stdout
    assert "kept 8 of 16 answers (8 of 8 prompts)" in res.stderr
    show = _cli("data", "show", str(tmp_path / "ds"))
    assert show.returncode == 0, show.stderr
    out = " ".join(show.stdout.split())  # the tables wrap to the terminal's width
    (line,) = [ln for ln in show.stdout.splitlines() if "outranked" in ln]
    assert line.replace("│", " ").split()[:2] == ["outranked", "8"]
    assert "vs unrelated.json (2 probes): 0 overlapping prompt(s), clean" in out
    listed = _cli("data", "list", "--db", str(tmp_path / "d.db"))
    assert read_manifest(tmp_path / "ds")["dataset_id"][:12] in listed.stdout.replace("…", "")


def _unrelated(tmp_path: Path) -> Path:
    path = tmp_path / "unrelated.json"
    path.write_text(
        json.dumps(
            [
                {
                    "id": "E1",
                    "domain": "X",
                    "prompt": "How do volcanoes form under the ocean floor?",
                },
                {
                    "id": "E2",
                    "domain": "X",
                    "prompt": "Describe the rules of cricket for a beginner.",
                },
            ]
        )
    )
    return path


def test_distillation_survives_sigkill_without_duplicates(tmp_path: Path) -> None:
    db = str(tmp_path / "d.db")
    cmd = [
        sys.executable,
        "-m",
        "lem.cli.main",
        "distill",
        "--probes",
        _prompts(tmp_path, 10),
        "--db",
        db,
        "--out",
        str(tmp_path / "ds"),
        "--samples",
        "3",
        "--concurrency",
        "1",
        "--quiet",
        "--max-retries",
        "0",
        "--no-canary",
    ]
    env = {**os.environ, "OPENAI_API_KEY": ""}
    with FakeOpenAIServer(responder=_responder, latency_s=0.08) as srv:
        model = [
            "--model",
            f"openai:{srv.url}#m",
            "--eval-probes",
            str(_unrelated(tmp_path)),
            "--contamination",
            "lexical",
        ]
        proc = subprocess.Popen(
            [*cmd, *model], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        store = None
        deadline = time.time() + 60
        done = 0
        while time.time() < deadline:
            time.sleep(0.05)
            if proc.poll() is not None:
                pytest.fail(f"ended before the kill: {proc.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
            try:
                store = store or Store(db, create=False)
                with store.engine.connect() as conn:
                    q = select(func.count()).select_from(items).where(items.c.status == "done")
                    done = int(conn.execute(q).scalar_one())
                if done >= 6:
                    break
            except Exception:
                continue
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert 6 <= done < 30 and not (tmp_path / "ds").exists()
        res = subprocess.run([*cmd, *model], env=env, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr[-2000:]
        total = len(srv.chat_requests)
    assert store is not None
    with store.engine.connect() as conn:
        n_items = conn.execute(select(func.count()).select_from(items)).scalar_one()
        n_links = conn.execute(select(func.count()).select_from(run_items)).scalar_one()
    store.close()
    assert n_items == n_links == 30
    assert 30 <= total <= 31  # at most the request in flight at the kill is redone
    lineage = [json.loads(x) for x in (tmp_path / "ds" / "lineage.jsonl").read_text().splitlines()]
    keys = [x["item_key"] for x in lineage]
    assert len(keys) == len(set(keys)) == 10


def _conv_file(tmp_path: Path, lines: list[Any]) -> Path:
    path = tmp_path / "convs.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def test_conversations_convert_with_splits_and_lineage(tmp_path: Path) -> None:
    convs = [
        {
            "id": f"c{i}",
            "domain": "A" if i < 6 else "B",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": f"hello {i}"},
                {"role": "assistant", "content": f"hi {i}"},
                {"role": "user", "content": "and?"},
                {"role": "assistant", "content": "that is all"},
            ],
        }
        for i in range(10)
    ]
    convs.append(
        {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}
    )
    src = _conv_file(tmp_path, convs)
    res = _cli(
        "data",
        "conv",
        str(src),
        "--out",
        str(tmp_path / "ds"),
        "--system",
        "drop",
        "--valid-fraction",
        "0.2",
        "--test-fraction",
        "0.2",
        "--db",
        str(tmp_path / "d.db"),
    )
    assert res.returncode == 0, res.stderr
    m = read_manifest(tmp_path / "ds")
    assert m["kind"] == "conv" and m["counts"]["conversations"] == 11
    assert m["domains"] == {
        "A": {"train": 4, "valid": 1, "test": 1},
        "B": {"train": 2, "valid": 1, "test": 1},
        "uncategorised": {"train": 1, "valid": 0, "test": 0},
    }
    rows = [
        json.loads(x)["messages"]
        for s in ("train", "valid", "test")
        for x in (tmp_path / "ds" / f"{s}.jsonl").read_text().splitlines()
    ]
    assert all(r[0]["role"] == "user" for r in rows)  # system dropped
    assert sorted(len(r) for r in rows) == [2] + [4] * 10
    lineage = [json.loads(x) for x in (tmp_path / "ds" / "lineage.jsonl").read_text().splitlines()]
    assert sorted(x["line"] for x in lineage) == list(range(1, 12))
    assert {x["id"] for x in lineage} >= {"c0", "c9", "convs.jsonl:11"}
    store = Store(str(tmp_path / "d.db"), create=False)
    assert store.get_dataset("ds")["dataset_id"] == m["dataset_id"]
    store.close()


@pytest.mark.parametrize(
    ("turns", "message"),
    [
        ([{"role": "user", "content": "q"}], "convs.jsonl:2: the last turn is the user's"),
        (
            [{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}],
            "convs.jsonl:2: turn 2 (assistant) is empty",
        ),
        (
            [{"role": "user", "content": "q"}, {"role": "user", "content": "q2"}],
            "convs.jsonl:2: turn 2 is user, expected assistant",
        ),
        ([{"role": "bot", "content": "q"}], "convs.jsonl:2: turn 1 has role 'bot'"),
    ],
)
def test_a_bad_conversation_is_one_line_and_nothing_is_written(
    tmp_path: Path, turns: list[dict[str, str]], message: str
) -> None:
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    src = _conv_file(tmp_path, [good, {"messages": turns}])
    res = _cli("data", "conv", str(src), "--out", str(tmp_path / "ds"))
    assert res.returncode == 2
    (line,) = res.stderr.strip().splitlines()
    assert message in line
    assert not (tmp_path / "ds").exists()
