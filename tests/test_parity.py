"""Backend parity (`lem parity`): the comparison rules on constructed answers, the CLI end
to end against hf and a scripted fake server whose answers differ in known ways, and hf vs
mlx vs a real mlx_lm.server on the demo model."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lem.analysis.stats import paired_comparison
from lem.parity.compare import (
    DTYPE,
    NUMERICS,
    PROMPT,
    STOP,
    SYSTEM_ROLE,
    TOKENIZER,
    UNDETERMINED,
    WEIGHTS,
    WHITESPACE,
    ModelRun,
    ParityItem,
    compare_pair,
    compare_runs,
    first_divergence,
    likely_cause,
)
from lem.parity.config import ParityConfig
from lem.store import Store
from lem.store.schema import items, run_items
from tests.ci import in_ci
from tests.fake_openai_server import FakeOpenAIServer

# ---- constructed answers -------------------------------------------------------------------


class WordCodec:
    """A toy tokenizer: each token is optional whitespace plus a run of non-space chars."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.pieces: dict[int, str] = {}

    def encode(self, text: str) -> list[int]:
        out = []
        for piece in re.findall(r"\s*\S+|\s+$", text):
            if piece not in self.vocab:
                self.vocab[piece] = len(self.vocab)
                self.pieces[self.vocab[piece]] = piece
            out.append(self.vocab[piece])
        return out

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.pieces[i] for i in ids)


def item(answer: str, **kw: Any) -> ParityItem:
    base: dict[str, Any] = {
        "probe_id": "P1",
        "condition": "baseline",
        "sample": 0,
        "status": "done",
        "answer": answer,
        "finish_reason": "length",
        "rendered_hash": "h" * 64,
        "prompt_tokens": 12,
    }
    return ParityItem(**{**base, **kw})


def run(label: str, items_: Sequence[ParityItem] = (), **kw: Any) -> ModelRun:
    base: dict[str, Any] = {
        "spec": f"spec-{label}",
        "run_id": f"run-{label}",
        "backend": "hf",
        "renders_locally": True,
        "dtype": "float32",
        "fingerprint": "f" * 64,
        "tokenizer": "t" * 64,
        "system_role": True,
    }
    return ModelRun(label=label, items=list(items_), **{**base, **kw})


def test_first_divergence_in_chars_and_tokens() -> None:
    a = "The quick brown fox jumps over the dog"
    b = "The quick brawn fox jumps over the dog"
    d = first_divergence(a, b, window=6, codec=WordCodec())
    assert d is not None
    assert d.char == 12  # "The quick br" is shared
    assert d.before == "The quick br"
    assert (d.a, d.b) == ("own fo", "awn fo")
    assert d.token == 2  # "The", " quick" shared; " brown" vs " brawn"
    assert d.tokens_a == (" brown", " fox", " jumps", " over", " the")
    assert d.tokens_b == (" brawn", " fox", " jumps", " over", " the")


def test_first_divergence_edges() -> None:
    assert first_divergence("same", "same") is None
    d = first_divergence("abc", "abcdef", window=10)
    assert d is not None and (d.char, d.a, d.b, d.token) == (3, "", "def", None)
    d = first_divergence("x" * 30 + "A", "x" * 30 + "B")
    assert d is not None and d.char == 30 and d.before == "x" * 20
    d = first_divergence("Yes.", "No.", codec=WordCodec())
    assert d is not None and (d.char, d.token, d.tokens_a, d.tokens_b) == (
        0,
        0,
        ("Yes.",),
        ("No.",),
    )


def test_exact_match_rate_incomplete_items_and_conditions() -> None:
    a = run(
        "M1",
        [
            item("one", probe_id="P1"),
            item("two", probe_id="P2"),
            item("three", probe_id="P3", condition="system:lek"),
            item("four", probe_id="P4", condition="system:lek"),
            item("five", probe_id="P5"),
        ],
    )
    b = run(
        "M2",
        [
            item("one", probe_id="P1"),
            item("twO", probe_id="P2"),
            item("three", probe_id="P3", condition="system:lek"),
            item("", probe_id="P4", condition="system:lek", status="failed"),
            item("six", probe_id="P6"),
        ],
    )
    pair = compare_pair(a, b, [])
    assert (pair.a, pair.b, pair.items, pair.matches) == ("M1", "M2", 3, 2)
    assert pair.incomplete == 3  # P4 failed in M2; P5 only in M1; P6 only in M2
    assert pair.exact_match_rate == pytest.approx(2 / 3)
    assert pair.by_condition == {"baseline": (2, 1), "system:lek": (1, 1)}
    (mm,) = pair.mismatches
    assert (mm.probe_id, mm.divergence.char, mm.divergence.a, mm.divergence.b) == (
        "P2",
        2,
        "o",
        "O",
    )
    assert pair.median_char() == 2.0 and pair.median_token() is None
    empty = compare_pair(run("M1"), run("M2"), [])
    assert empty.items == 0 and empty.exact_match_rate is None


def test_paired_score_statistics() -> None:
    sa = [1.0, 2.0, 3.0, 4.0, 7.0]
    sb = [1.5, 2.0, 2.0, 5.0, None]
    a = run("M1", [item(f"a{i}", probe_id=f"P{i}", scores={"s": v}) for i, v in enumerate(sa)])
    b = run("M2", [item(f"b{i}", probe_id=f"P{i}", scores={"s": v}) for i, v in enumerate(sb)])
    pair = compare_pair(a, b, ["s", "absent"])
    st = pair.scores["s"]
    assert st is not None
    assert st.n == 4  # P4 has no M2 score
    assert st.mean_a == pytest.approx(2.5) and st.mean_b == pytest.approx(2.625)
    assert st.mean_delta == pytest.approx((0.5 + 0.0 - 1.0 + 1.0) / 4)
    assert (st.improved, st.regressed, st.unchanged) == (1, 1, 2)  # band 0.5 is strict
    assert st == paired_comparison(sa[:4], [1.5, 2.0, 2.0, 5.0])
    assert pair.scores["absent"] is None


def _cause(a: ParityItem, b: ParityItem, ra: ModelRun | None = None, rb: ModelRun | None = None):
    ra, rb = ra or run("M1"), rb or run("M2")
    d = first_divergence(a.answer, b.answer)
    assert d is not None
    return likely_cause(a, b, ra, rb, d)


A, B = "the model says yes", "the model says no"


def test_cause_numerics_when_nothing_else_differs() -> None:
    c = _cause(item(A), item(B))
    assert (c.label, c.detail) == (NUMERICS, "same rendered prompt, same settings")


def test_cause_rendered_prompt() -> None:
    c = _cause(item(A), item(B, rendered_hash="g" * 64))
    assert (
        c.label == PROMPT
        and c.detail == f"rendered prompt hashes differ ({'h' * 12} vs {'g' * 12})"
    )


def test_cause_tokenizer() -> None:
    assert _cause(item(A), item(B), rb=run("M2", tokenizer="u" * 64)).label == TOKENIZER
    c = _cause(item(A), item(B, prompt_tokens=13))
    assert (c.label, c.detail) == (TOKENIZER, "same prompt text, 12 vs 13 prompt tokens")


def test_cause_dtype_then_weights() -> None:
    c = _cause(item(A), item(B), rb=run("M2", dtype="bfloat16", fingerprint="e" * 64))
    assert (c.label, c.detail) == (DTYPE, "dtype float32 vs bfloat16")
    assert _cause(item(A), item(B), rb=run("M2", fingerprint="e" * 64)).label == WEIGHTS


def test_cause_stop_handling() -> None:
    c = _cause(item(A, finish_reason="stop"), item(A + " and more", finish_reason="length"))
    assert c.label == STOP
    assert c.detail == f"M1 stopped after {len(A)} chars (stop), M2 went on (length)"
    c = _cause(item(A + " and more"), item(A, finish_reason="stop"))
    assert c.detail == f"M2 stopped after {len(A)} chars (stop), M1 went on (length)"
    # differing finish reasons after a mid-text divergence are a consequence, not the cause
    assert _cause(item(A, finish_reason="stop"), item(B)).label == NUMERICS


def test_cause_system_role_handling_comes_first() -> None:
    c = _cause(item(A), item(B, system_fallback=True, rendered_hash="g" * 64))
    assert (c.label, c.detail) == (SYSTEM_ROLE, "M2 folded the system message into the user turn")


def test_cause_whitespace() -> None:
    assert _cause(item(" " + A), item(A + "\n")).label == WHITESPACE


def test_cause_with_a_server() -> None:
    server = run(
        "M2", backend="openai", renders_locally=False, dtype=None, fingerprint=None, tokenizer=None
    )
    # a server's rendered_hash is of the message list: never compared with a local one
    c = _cause(item(A), item(B, rendered_hash="j" * 64), rb=server)
    assert (c.label, c.detail) == (NUMERICS, "same prompt token count (12), same settings")
    c = _cause(item(A), item(B, prompt_tokens=15), rb=server)
    assert c.label == PROMPT and c.detail.startswith("prompt token counts differ (12 vs 15)")
    assert _cause(item(A), item(B, prompt_tokens=None), rb=server).label == UNDETERMINED
    assert _cause(item(A, finish_reason="stop"), item(A + "!"), rb=server).label == STOP


def test_causes_are_counted_most_frequent_first() -> None:
    a = run("M1", [item(A, probe_id=f"P{i}") for i in range(5)])
    b = run(
        "M2",
        [
            item(B, probe_id="P0"),
            item(A + " x", probe_id="P1"),
            item(A + " y", probe_id="P2"),
            item(B, probe_id="P3", rendered_hash="g" * 64),
            item(A, probe_id="P4"),
        ],
    )
    pair = compare_pair(a, b, [], codec=WordCodec())
    assert pair.causes() == [(STOP, 2), (PROMPT, 1), (NUMERICS, 1)]
    assert pair.matches == 1 and pair.items == 5
    assert [m.divergence.token for m in pair.mismatches] == [3, 4, 4, 3]
    assert [m.divergence.char for m in pair.mismatches] == [15, 18, 18, 15]
    assert pair.median_token() == 3.5 and pair.median_char() == 16.5


def test_every_pair_earlier_model_first() -> None:
    runs = [run(f"M{i}", [item(x)]) for i, x in enumerate(["a", "a", "b"], 1)]
    pairs = compare_runs(runs, [])
    assert [(p.a, p.b, p.matches) for p in pairs] == [
        ("M1", "M2", 1),
        ("M1", "M3", 0),
        ("M2", "M3", 0),
    ]


# ---- settings -----------------------------------------------------------------------------


def test_settings_are_greedy_and_share_ab_fields() -> None:
    from lem.config import ABConfig

    cfg = ParityConfig(
        models=["hf:demo", "openai:http://127.0.0.1:1"],
        limit=3,
        max_tokens=64,
        dtype="float32",
        concurrency=2,
        conditions=["baseline"],
    )
    hf, server = cfg.ab_config("hf:demo"), cfg.ab_config("openai:http://127.0.0.1:1")
    for ab in (hf, server):
        assert (ab.temperature, ab.top_p, ab.samples, ab.seed) == (0.0, 1.0, 1, 0)
        assert (ab.limit, ab.max_tokens, ab.conditions) == (3, 64, ["baseline"])
    assert hf.dtype == "float32" and "concurrency" not in hf.model_fields_set
    assert server.concurrency == 2 and "dtype" not in server.model_fields_set
    # the same field definitions as lem ab (one schema)
    for name in ("conditions", "max_tokens", "db", "scorers", "probe_ids"):
        assert (
            ParityConfig.model_fields[name].description == ABConfig.model_fields[name].description
        )
    with pytest.raises(ValueError, match="must be one of"):
        ParityConfig(dtype="float8")


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ([], "compares two or more models; give --model A --model B"),
        (["hf:demo"], "(got 'hf:demo' only)"),
        (["hf:demo", "hf:demo"], "--model hf:demo is given twice"),
    ],
)
def test_settings_need_two_distinct_models(models: list[str], message: str) -> None:
    from lem.errors import InputError

    with pytest.raises(InputError) as exc:
        ParityConfig(models=models).checked()
    assert message in str(exc.value)


def lem(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lem.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80", "OPENAI_API_KEY": ""},
        timeout=300,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "hf:demo"], "lem: error: lem parity compares two or more models (got 'hf:demo'"),
        (["-m", "hf:demo", "-m", "hf:/nonexistent/model"], "/nonexistent/model does not exist"),
        (["-m", "hf:demo", "-m", "mlx:demo", "--condition", "bogus:x"], "bogus"),
        (["-m", "hf:demo", "-m", "mlx:demo", "--max-tokens", "0"], "max_tokens"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    db = tmp_path / "runs.db"
    res = lem("parity", *args, "--db", str(db))
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("lem: error: "), res.stderr
    assert message in lines[0]
    assert not db.exists()


# ---- the CLI end to end: hf against a scripted fake server --------------------------------

SETTINGS = ["--limit", "2", "-C", "baseline", "-C", "system:lek", "--max-tokens", "16"]


class ScriptedServer(FakeOpenAIServer):
    """Answers each conversation from a table: content, finish reason, prompt tokens."""

    def __init__(self, script: dict[str, tuple[str, str, int]]) -> None:
        super().__init__(canary=lambda body: "canary answer")
        self.script = script

    def completion(self, body: dict[str, Any], content: str | None = None) -> dict[str, Any]:
        reply = super().completion(body, content)
        key = json.dumps(body.get("messages"), ensure_ascii=False)
        if key in self.script:
            text, finish, prompt_tokens = self.script[key]
            reply["choices"][0]["message"]["content"] = text
            reply["choices"][0]["finish_reason"] = finish
            reply["usage"]["prompt_tokens"] = prompt_tokens
        return reply


def _hf_items(db: str, run_id: str) -> list[dict[str, Any]]:
    store = Store(db, create=False)
    q = (
        select(
            run_items.c.probe_id,
            run_items.c.condition,
            items.c.messages,
            items.c.answer,
            items.c.finish_reason,
            items.c.prompt_tokens,
        )
        .select_from(run_items.join(items, items.c.key == run_items.c.item_key))
        .where(run_items.c.run_id == run_id)
        .order_by(run_items.c.position)
    )
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    store.close()
    return rows


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """hf:demo's run (as lem parity plans it), and a fake server whose answers are hf's
    made to differ in known ways: one equal, one changed mid-answer (numerics), one cut
    short with finish_reason stop (stop handling), one with another prompt token count
    (rendered prompt)."""
    from lem.api import run_ab

    tmp = tmp_path_factory.mktemp("parity")
    db = str(tmp / "runs.db")
    cfg = ParityConfig(
        models=["hf:demo", "openai:x"],
        limit=2,
        conditions=["baseline", "system:lek"],
        max_tokens=16,
        db=db,
    )
    hf_run = run_ab(cfg.ab_config("hf:demo")).run_id
    rows = _hf_items(db, hf_run)
    assert len(rows) == 4 and all(len(r["answer"]) > 10 for r in rows)
    same, changed, cut, reprompt = rows
    mid = len(changed["answer"]) // 2
    swap = "X" if changed["answer"][mid] != "X" else "Y"
    plan = {
        "same": (same["answer"], same["finish_reason"], same["prompt_tokens"]),
        "changed": (
            changed["answer"][:mid] + swap + changed["answer"][mid + 1 :],
            changed["finish_reason"],
            changed["prompt_tokens"],
        ),
        "cut": (cut["answer"][:7], "stop", cut["prompt_tokens"]),
        "reprompt": ("☃ snow " + reprompt["answer"], "length", reprompt["prompt_tokens"] + 3),
    }
    script = {
        r["messages"]: plan[name]
        for r, name in zip(rows, ["same", "changed", "cut", "reprompt"], strict=True)
    }
    with ScriptedServer(script) as srv:
        yield {"db": db, "url": srv.url, "rows": rows, "plan": plan, "mid": mid, "tmp": tmp}


def test_cli_json_against_scripted_server(scripted: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    from lem.backends.hf import resolve_model_dir
    from lem.scoring.base import get_scorer

    out = scripted["tmp"] / "out"
    model = f"openai:{scripted['url']}"
    res = lem("parity", "-m", "hf:demo", "-m", model, *SETTINGS, "--db", scripted["db"],
              "--json", "--out", str(out), "-q")  # fmt: skip
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data == json.loads((out / "parity.json").read_text(encoding="utf-8"))
    m1, m2 = data["models"]
    assert (m1["spec"], m1["backend"], m1["generated"], m1["done"]) == ("hf:demo", "hf", 0, 4)
    assert (m2["spec"], m2["backend"], m2["generated"], m2["done"]) == (model, "openai", 4, 4)
    assert m2["dtype"] is None and m2["tokenizer"] is None
    assert data["tokenizer"] == str(resolve_model_dir("demo"))
    (pair,) = data["pairs"]
    assert (pair["a"], pair["b"], pair["items"], pair["matches"]) == ("M1", "M2", 4, 1)
    assert pair["exact_match_rate"] == 0.25 and pair["incomplete"] == 0
    assert pair["by_condition"] == {
        "baseline": {"items": 2, "matches": 1, "exact_match_rate": 0.5},
        "system:lek": {"items": 2, "matches": 0, "exact_match_rate": 0.0},
    }
    assert pair["causes"] == {NUMERICS: 1, STOP: 1, PROMPT: 1}

    rows, plan, mid = scripted["rows"], scripted["plan"], scripted["mid"]
    tok = AutoTokenizer.from_pretrained(resolve_model_dir("demo"))

    def token_pos(a: str, b: str) -> int:
        x = tok(a, add_special_tokens=False)["input_ids"]
        y = tok(b, add_special_tokens=False)["input_ids"]
        return next(
            (i for i, (p, q) in enumerate(zip(x, y, strict=False)) if p != q), min(len(x), len(y))
        )

    mm = {(m["probe_id"], m["condition"]): m for m in pair["mismatches"]}
    want = {
        "changed": (rows[1], NUMERICS, mid),
        "cut": (rows[2], STOP, 7),
        "reprompt": (rows[3], PROMPT, 0),
    }
    for name, (row, cause, char) in want.items():
        m = mm[(row["probe_id"], row["condition"])]
        fake = plan[name][0]
        assert (m["cause"], m["char"]) == (cause, char), name
        assert m["token"] == token_pos(row["answer"], fake), name
        assert m["continuation_a"] == row["answer"][char : char + 40]
        assert m["continuation_b"] == fake[char : char + 40]
        assert m["before"] == row["answer"][max(0, char - 20) : char]
        assert (m["finish_reason_a"], m["finish_reason_b"]) == (row["finish_reason"], plan[name][1])
    assert mm[(rows[2]["probe_id"], rows[2]["condition"])]["detail"] == (
        f"M2 stopped after 7 chars (stop), M1 went on ({rows[2]['finish_reason']})"
    )
    assert pair["first_divergence"] == {
        "mismatches": 3,
        "median_char": float(statistics.median([mid, 7, 0])),
        "median_token": float(statistics.median([m["token"] for m in mm.values()])),
    }
    scorer = get_scorer("lek-v2")
    hf_scores = [scorer.score(r["answer"]).value for r in rows]
    fake_scores = [scorer.score(plan[n][0]).value for n in ["same", "changed", "cut", "reprompt"]]
    st = pair["scores"]["lek-v2"]
    assert st["n"] == 4
    deltas = [round(b - a, 9) for a, b in zip(hf_scores, fake_scores, strict=True)]  # type: ignore[operator]
    assert st["mean_delta"] == pytest.approx(sum(deltas) / 4, abs=1e-6)
    assert st["mean_a"] == pytest.approx(sum(hf_scores) / 4, abs=1e-6)  # type: ignore[arg-type]

    md = (out / "parity.md").read_text(encoding="utf-8")
    assert "| M1–M2 | 4 | 25.0% |" in md
    assert f"| {rows[2]['probe_id']} | {rows[2]['condition']} | 7 |" in md


def test_cli_table_fits_80_columns(scripted: dict[str, Any]) -> None:
    from lem.numfmt import fmt_delta

    out = scripted["tmp"] / "table"
    res = lem("parity", "-m", "hf:demo", "-m", f"openai:{scripted['url']}", *SETTINGS,
              "--db", scripted["db"], "-q", "--out", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stderr.count(" 0 generated") == 2  # resumed: nothing new
    lines = res.stdout.splitlines()
    assert max(len(ln) for ln in lines) <= 80, res.stdout
    row = next(ln for ln in lines if "M1–M2" in ln)
    cells = [c.strip() for c in row.split("│")[1:-1]]
    pair = json.loads((out / "parity.json").read_text(encoding="utf-8"))["pairs"][0]
    st = pair["scores"]["lek-v2"]
    median = pair["first_divergence"]["median_token"]
    assert cells[:4] == [
        "M1–M2",
        "4",
        "25.0%",
        str(int(median)) if median == int(median) else f"{median:.1f}",
    ]
    assert cells[4].startswith(fmt_delta(st["mean_delta"]) + " [")
    at = lines.index(row)
    wrapped = [ln.split("│")[6].strip() for ln in lines[at:] if ln.startswith("│")]
    assert " ".join(wrapped) == "rendered prompt ×1; stop handling ×1; numerics ×1"


# ---- real backends: hf vs mlx vs mlx_lm.server on the demo model ---------------------------


def _require_mlx() -> None:
    try:
        import mlx.core  # noqa: F401
        import mlx_lm  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the machine
        if in_ci():
            pytest.fail("mlx / mlx-lm is not importable on CI", pytrace=False)
        pytest.skip("mlx / mlx-lm is not installed")


@pytest.mark.server
@pytest.mark.slow
def test_hf_mlx_and_mlx_lm_server_agree_on_the_demo_model(
    tmp_path: Path, demo_model_dir: Path
) -> None:
    from lem.parity.run import run_parity
    from tests.mlx_server import mlx_lm_server

    _require_mlx()
    db = str(tmp_path / "runs.db")
    with mlx_lm_server(demo_model_dir) as url:
        models = ["hf:demo", "mlx:demo", f"openai:{url}"]
        cfg = ParityConfig(
            models=models,
            limit=2,
            conditions=["baseline", "system:lek"],
            max_tokens=24,
            concurrency=1,
            db=db,
        )
        out = run_parity(cfg)
    assert [o.status for o in out.outcomes] == ["done"] * 3
    assert [r.backend for r in out.runs] == ["hf", "mlx", "openai"]
    answers = {}
    for r in out.runs:
        rows = _hf_items(db, r.run_id)
        assert len(rows) == 4
        answers[r.label] = {(x["probe_id"], x["condition"]): x for x in rows}
    assert [(p.a, p.b) for p in out.pairs] == [("M1", "M2"), ("M1", "M3"), ("M2", "M3")]
    for p in out.pairs:
        a, b = answers[p.a], answers[p.b]
        equal = sum(a[k]["answer"] == b[k]["answer"] for k in a)
        assert p.items == 4 and p.matches == equal
        # greedy output of hf, mlx and mlx_lm.server matches token for token on the demo model
        assert equal == 4 and p.exact_match_rate == 1.0 and p.mismatches == []
        assert [a[k]["prompt_tokens"] for k in a] == [b[k]["prompt_tokens"] for k in a]
        st = p.scores["lek-v2"]
        assert st is not None and st.n == 4 and st.mean_delta == 0.0
    assert out.runs[0].fingerprint == out.runs[1].fingerprint
    assert out.runs[0].tokenizer == out.runs[1].tokenizer is not None
    assert out.runs[2].fingerprint is None and out.runs[2].renders_locally is False
    assert out.tokenizer == str(demo_model_dir)


def test_summary_row_and_markdown_of_one_difference_among_many() -> None:
    from lem.parity.report import parity_dict, parity_markdown, summary_rows
    from lem.parity.run import ParityOutcome
    from lem.runner import RunOutcome

    n = 30
    a = run("M1", [item("same", probe_id=f"P{i}", scores={"s": 2.0}) for i in range(n)])
    b = run(
        "M2",
        [item("same", probe_id=f"P{i}", scores={"s": 2.0}) for i in range(n - 1)]
        + [item("sane", probe_id=f"P{n - 1}", scores={"s": 1.7})],
    )
    pair = compare_pair(a, b, ["s"], codec=WordCodec())
    done = RunOutcome("r", "db", False, n, 0, 0, 0, 0, 0.0, "done")
    outcome = ParityOutcome(
        ParityConfig(models=["spec-M1", "spec-M2"]), [a, b], [done, done], [pair], ["s"], None
    )
    # one differing item among 30: the studentized bootstrap has no finite bound
    assert summary_rows(outcome) == [["M1–M2", "30", "96.7%", "0", "-0.01 [—, —]", "numerics ×1"]]
    data = parity_dict(outcome)["pairs"][0]
    assert data["scores"]["s"]["ci"] == {"low": None, "high": None, "level": 0.95}
    assert data["scores"]["s"]["mean_delta"] == -0.01
    assert data["exact_match_rate"] == round(29 / 30, 6)
    md = parity_markdown(outcome)
    assert "| M1–M2 | 30 | 96.7% | 0 | -0.01 [—, —] | numerics ×1 |" in md
    assert "| P29 | baseline | 2 | 0 | numerics (same prompt, same settings): same rendered" in md


def test_an_option_no_model_takes_is_a_warning() -> None:
    from lem.errors import LemWarning

    with pytest.warns(LemWarning, match=r"^--concurrency: no model here takes it; ignored$"):
        ParityConfig(models=["hf:demo", "mlx:demo"], concurrency=2).checked()


def test_yaml_settings_and_flags_merge(tmp_path: Path) -> None:
    from lem.cli.schema import collect
    from lem.config import load_config

    path = tmp_path / "parity.yaml"
    path.write_text("models: [hf:demo, mlx:demo]\nmax_tokens: 32\nconditions: [baseline]\n")
    cfg = load_config(path, ParityConfig).merged(collect(ParityConfig, {"max_tokens": 8}))
    assert (cfg.models, cfg.max_tokens, cfg.conditions) == (
        ["hf:demo", "mlx:demo"],
        8,
        ["baseline"],
    )
    assert cfg.ab_config("mlx:demo").max_tokens == 8
    from lem.errors import InputError

    path.write_text("models: [hf:demo, mlx:demo]\ntemperature: 0.0\nsamples: 1\n")
    assert load_config(path, ParityConfig).models == ["hf:demo", "mlx:demo"]  # greedy: fine
    path.write_text("models: [hf:demo, mlx:demo]\ntemperature: 0.7\n")
    with pytest.raises(InputError) as exc:
        load_config(path, ParityConfig)
    assert str(exc.value) == (
        f"config file {path}: temperature 0.7: lem parity decodes greedily (temperature 0, "
        "top_p 1, one sample, seed 0); sampled answers cannot be compared token by token"
    )
