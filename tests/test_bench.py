"""``lem bench``: items in every layout, the upstream import reproducing its own table,
lem's GSM8K rescoring against the imported verdicts, a whole run → score (real judge
behind mlx_lm.server) → report on the demo model, and bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lem.bench.base import get_benchmark
from lem.bench.importer import UPSTREAM_GSM8K, UPSTREAM_JUDGE, import_upstream
from lem.bench.items import load_items
from lem.bench.score import score_bench
from lem.bench.table import build_table
from lem.cli.main import get_app
from lem.errors import InputError
from lem.responses import read_run
from lem.store import Store
from tests.mlx_server import mlx_lm_server
from tests.tiny_models import tiny_models

__all__ = ["tiny_models"]

DATA = Path(__file__).parent / "data" / "bench"
UPSTREAM = DATA / "upstream"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _write_layouts(src: Path, tmp: Path) -> dict[str, Path]:
    """The rows of ``src`` as CSV, Parquet and datasets save_to_disk folders."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _rows(src)
    out = {"jsonl": src}
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, tmp / "items.parquet")
    out["parquet"] = tmp / "items.parquet"
    ds = datasets.Dataset.from_list(rows)
    ds.save_to_disk(str(tmp / "saved"))
    out["datasets"] = tmp / "saved"
    datasets.DatasetDict({"train": ds.select(range(2)), "test": ds}).save_to_disk(str(tmp / "dd"))
    out["datasetdict"] = tmp / "dd"
    flat = [
        {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in r.items()} for r in rows
    ]
    import csv

    with (tmp / "items.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(flat[0]))
        writer.writeheader()
        writer.writerows(flat)
    out["csv"] = tmp / "items.csv"
    return out


@pytest.mark.parametrize(
    ("benchmark", "plain", "hf"),
    [
        ("gsm8k", "gsm8k.jsonl", "gsm8k_hf.jsonl"),
        ("truthfulqa", "truthfulqa.jsonl", "truthfulqa_mc.jsonl"),
        ("do_not_answer", "do_not_answer.jsonl", "do_not_answer.jsonl"),
        ("toxigen", "toxigen.jsonl", "toxigen_hf.jsonl"),
    ],
)
def test_every_layout_reads_the_same_items(
    benchmark: str, plain: str, hf: str, tmp_path: Path
) -> None:
    bench = get_benchmark(benchmark)
    reference = load_items(DATA / plain, bench)
    assert len(reference) == len(_rows(DATA / plain)) >= 24
    hf_items = load_items(DATA / hf, bench)
    assert [i.question for i in hf_items.items] == [i.question for i in reference.items]
    if benchmark == "gsm8k":
        assert [i.fields["expected"] for i in hf_items.items] == [
            i.fields["expected"] for i in reference.items
        ]
    if benchmark == "truthfulqa":
        assert [i.fields["mc1"] for i in hf_items.items] == [
            i.fields["mc1"] for i in reference.items
        ]
        assert [i.fields["mc2"] for i in hf_items.items] == [
            i.fields["mc2"] for i in reference.items
        ]
    if benchmark == "toxigen":
        assert [i.group for i in hf_items.items] == [i.group for i in reference.items]
    for layout, path in _write_layouts(DATA / hf, tmp_path).items():
        got = load_items(path, bench)
        assert got.layout == ("datasets" if layout.startswith("dataset") else layout)
        assert got.items == hf_items.items, layout
        assert got.digest() == hf_items.digest()
    assert load_items(tmp_path / "dd", bench, split="train").items == hf_items.items[:2]


def test_limit_is_a_seeded_sample_in_file_order() -> None:
    bench = get_benchmark("gsm8k")
    full = load_items(DATA / "gsm8k.jsonl", bench)
    a = load_items(DATA / "gsm8k.jsonl", bench, limit=7, seed=3)
    b = load_items(DATA / "gsm8k.jsonl", bench, limit=7, seed=3)
    c = load_items(DATA / "gsm8k.jsonl", bench, limit=7, seed=4)
    assert a.items == b.items and a.digest() == b.digest()
    assert a.items != c.items and a.digest() != c.digest()
    order = [i.id for i in full.items]
    assert [order.index(i.id) for i in a.items] == sorted(order.index(i.id) for i in a.items)
    assert len(a) == 7 and a.total == 30 and a.digest() != full.digest()


def test_gsm8k_expected_answers_of_both_layouts() -> None:
    bench = get_benchmark("gsm8k")
    plain = {i.id: i.fields["expected"] for i in load_items(DATA / "gsm8k.jsonl", bench).items}
    assert {"-11", "12.5", "48.5"} <= set(plain.values())
    for row in _rows(DATA / "gsm8k.jsonl"):
        assert plain[row["id"]] == row["correct_answer"]
        assert (
            row["answer_cot"].rsplit("####", 1)[1].strip().replace(",", "") == row["correct_answer"]
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"id": "a", "answer_cot": "#### 3"}\n', "row 1: field 'question' is missing"),
        (
            '{"id": "a", "question": "q", "answer_cot": "no final"}\n',
            "row 1: field 'correct_answer'",
        ),
        (
            '{"id": "a", "question": "q", "correct_answer": "1"}\n'
            '{"id": "a", "question": "r", "correct_answer": "2"}\n',
            "row 2: id 'a' repeats row 1",
        ),
    ],
)
def test_bad_item_rows_name_row_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        load_items(path, get_benchmark("gsm8k"))


def _by_variant(table, metric: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {v: table.cell(v, metric) for v in table.variants}


def test_upstream_import_reproduces_its_table_and_lem_rescoring_agrees(tmp_path: Path) -> None:
    db = str(tmp_path / "up.db")
    expected = json.loads((UPSTREAM / "expected.json").read_text(encoding="utf-8"))
    out = import_upstream(UPSTREAM, db, scores=UPSTREAM / "scores.json")
    assert len(out.runs) == 12 and all(r["items"] == 12 for r in out.runs)
    again = import_upstream(UPSTREAM, db, scores=UPSTREAM / "scores.json")
    assert all(r["already_imported"] and r["new"] == 0 for r in again.runs)

    table = build_table(db, reference="base")
    assert table.variants == ["base", "lem_ethics", "lem_ethics_allen"]
    for variant, want in expected["gsm8k"].items():
        cell = table.cell(variant, "gsm8k")
        assert cell is not None and cell.scorer == UPSTREAM_GSM8K
        assert (cell.n, sum(cell.values.values())) == (want["n"], want["correct"])
        assert cell.mean == pytest.approx(want["accuracy"], abs=1e-12)
    for bench in ("truthfulqa", "do_not_answer", "toxigen"):
        for variant, want in expected[bench].items():
            for dim, stats in want.items():
                if dim == "failed":
                    continue
                cell = table.cell(variant, dim)
                assert cell is not None and cell.scorer == UPSTREAM_JUDGE
                assert cell.n == stats["n"]
                assert cell.mean == pytest.approx(stats["mean"], abs=1e-12)
                assert cell.failed == want["failed"]
    assert table.agreement is None

    written = score_bench(db)
    assert sum(per.get("gsm8k", 0) for per in written.values()) == 36
    rescored = build_table(db, reference="base")
    assert rescored.agreement is not None
    assert rescored.agreement["n"] == 36
    assert [(d["variant"], d["id"]) for d in rescored.agreement["disagreements"]] == [
        (d["variant"], d["id"]) for d in expected["gsm8k_rule_disagreements"]
    ]
    _check_against_lm_eval(db)
    cell = rescored.cell("lem_ethics_allen", "gsm8k")
    assert cell is not None and cell.scorer == "gsm8k" and sum(cell.values.values()) == 7
    # paired tests: every non-reference variant on every metric, one Holm family
    assert len(rescored.comparisons) == 2 * 7
    store = Store(db, create=False)
    responses = [
        r for run in store.list_runs() for r in read_run(store, run["run_id"], [UPSTREAM_JUDGE])
    ]
    store.close()
    broken = [r for r in responses if (s := r.scores.get(UPSTREAM_JUDGE)) and not s.ok]
    assert [(r.probe_id, r.scores[UPSTREAM_JUDGE].reason) for r in broken] == [
        ("7", "upstream entry has no number for nuance")
    ]


def _check_against_lm_eval(db: str) -> None:
    """lm-evaluation-harness's strict-match on lem's stored GSM8K answers: every verdict
    that differs from lem's is one of the two documented differences."""
    from tests.test_bench_scoring import _explained, _lm_eval_strict

    store = Store(db, create=False)
    stored = []
    for run in store.list_runs():
        if run["manifest"]["tags"].get("bench") != "gsm8k":
            continue
        expected = {
            i["id"]: i["fields"]["expected"]
            for i in store.get_bench_items(run["manifest"]["tags"]["bench_items"])
        }
        for r in read_run(store, run["run_id"], ["gsm8k"]):
            stored.append((r.answer, expected[r.probe_id], bool(r.scores["gsm8k"].value)))
    store.close()
    assert len(stored) == 36
    theirs = _lm_eval_strict([a for a, _, _ in stored], [e for _, e, _ in stored])
    differ = [(a, e, ours) for (a, e, ours), t in zip(stored, theirs, strict=True) if ours != t]
    for answer, exp, ours in differ:
        assert _explained(answer, exp, ours, not ours) is not None, answer
    assert len(differ) >= 1  # the fixture has an answer without '####'


def test_import_and_report_from_the_command_line(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    res = runner.invoke(
        get_app(),
        ["bench", "import", str(UPSTREAM), "--db", db, "--scores", str(UPSTREAM / "scores.json")],
    )
    assert res.exit_code == 0, res.output
    out = tmp_path / "report"
    res = runner.invoke(
        get_app(), ["bench", "report", "--db", db, "-o", str(out), "--reference", "base"]
    )
    assert res.exit_code == 0, res.output
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| lem_ethics | 66.7 [39.1, 86.2] (n 12)" in md
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["reference"] == "base"
    assert {c["metric"] for c in summary["comparisons"]} == {
        "gsm8k",
        "truthfulness",
        "informativeness",
        "safety",
        "nuance",
        "kindness",
        "awareness",
    }
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "lem_ethics_allen" in html
    assert (out / "plots" / "benchmarks.png").stat().st_size > 5000


def _lem(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lem.cli.main", *args], capture_output=True, text=True, timeout=120
    )


def test_bad_inputs_exit_2_and_write_nothing(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    items = str(DATA / "gsm8k.jsonl")
    cases = [
        (["bench", "run", "-B", "gsm8k", "--db", str(db)], "--items"),
        (["bench", "run", "-B", "mmlu", "-i", items, "--db", str(db)], "unknown benchmark 'mmlu'"),
        (["bench", "run", "-i", items, "-C", "system:nope", "--db", str(db)], "nope"),
        (["bench", "run", "-i", str(tmp_path / "none.jsonl"), "--db", str(db)], "not found"),
        (["bench", "mc", "-B", "gsm8k", "-i", items, "--db", str(db)], "TruthfulQA only"),
    ]
    bad = tmp_path / "up"
    shutil.copytree(UPSTREAM, bad)
    (bad / "mmlu_base.jsonl").write_text("{}\n", encoding="utf-8")
    cases.append((["bench", "import", str(bad), "--db", str(db)], "mmlu_base.jsonl"))
    for args, needle in cases:
        res = _lem(*args)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2, (args, res.stderr)
        assert len(lines) == 1 and needle in lines[0], (args, res.stderr)
        assert not db.exists(), args


@pytest.mark.server
def test_run_score_with_a_real_judge_and_report(demo_model_dir: Path, tmp_path: Path) -> None:
    """The demo model answers GSM8K and TruthfulQA items, with and without the kernel;
    the same model judges TruthfulQA behind mlx_lm.server (it babbles, so most judgements
    fail to parse and must be counted as failures, never scored)."""
    db = str(tmp_path / "e2e.db")
    runner = CliRunner()
    common = [
        "--db",
        db,
        "-C",
        "baseline",
        "-C",
        "system:lek",
        "--limit",
        "3",
        "--max-tokens",
        "12",
        "--quiet",
    ]
    for bench, items in (("gsm8k", "gsm8k.jsonl"), ("truthfulqa", "truthfulqa.jsonl")):
        res = runner.invoke(
            get_app(), ["bench", "run", "-B", bench, "-i", str(DATA / items), *common]
        )
        assert res.exit_code == 0, res.output
    with mlx_lm_server(demo_model_dir) as url:
        res = runner.invoke(
            get_app(), ["bench", "score", "--db", db, "--judge", f"openai:{url}#demo"]
        )
        assert res.exit_code == 0, res.output
    assert "judge:truthfulqa@demo 6" in res.output
    table = build_table(db)
    assert table.variants == ["demo", "demo + system:lek"]
    store = Store(db, create=False)
    judged = [
        r.scores["judge:truthfulqa@demo"]
        for run in store.list_runs()
        for r in read_run(store, run["run_id"], ["judge:truthfulqa@demo"])
        if "judge:truthfulqa@demo" in r.scores
    ]
    gsm = [
        r
        for run in store.list_runs()
        for r in read_run(store, run["run_id"], ["gsm8k"])
        if "gsm8k" in r.scores
    ]
    store.close()
    assert len(judged) == 6 and len(gsm) == 6
    for v in table.variants:
        for dim in ("truthfulness", "informativeness"):
            cell = table.cell(v, dim)
            assert cell is not None and cell.n + cell.failed + cell.missing == 3
        g = table.cell(v, "gsm8k")
        assert g is not None and g.n == 3
    assert sum(table.cell(v, "truthfulness").failed for v in table.variants) == sum(  # type: ignore[union-attr]
        1 for s in judged if not s.ok
    )
    out = tmp_path / "rep"
    res = runner.invoke(get_app(), ["bench", "report", "--db", db, "-o", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["variants"] == ["demo", "demo + system:lek"]
    assert [m["key"] for m in summary["metrics"]] == ["gsm8k", "truthfulness", "informativeness"]
    cells = {(c["variant"], c["metric"]): c for c in summary["cells"]}
    assert cells[("demo", "gsm8k")]["n"] == 3
    assert cells[("demo", "truthfulness")]["failed"] == table.cell("demo", "truthfulness").failed  # type: ignore[union-attr]


@pytest.mark.parametrize("template", ["none", "system"])
def test_base_prompt_style_is_plain_completion_text(
    tiny_models: Any, tmp_path: Path, template: str
) -> None:
    """--prompt-style base: the model sees the completion text verbatim (no chat template,
    no User:/Assistant: frame), ending in 'Answer:'; a kernel condition is folded in front
    and recorded as a system fallback."""
    from lem.backends.base import prompt_hash
    from lem.bench.config import BenchConfig
    from lem.bench.run import run_bench

    db = str(tmp_path / "base.db")
    cfg = BenchConfig(
        model=str(tiny_models(template, max_positions=4096)),
        benchmark="gsm8k",
        items=str(DATA / "gsm8k.jsonl"),
        limit=2,
        prompt_style="base",
        conditions=["baseline", "system:lek"],
        max_tokens=4,
        db=db,
    )
    out = run_bench(cfg)
    store = Store(db, create=False)
    with store.engine.connect() as conn:
        from sqlalchemy import select

        from lem.store.schema import items as items_table
        from lem.store.schema import run_items

        rows = conn.execute(
            select(
                run_items.c.probe_id,
                run_items.c.condition,
                items_table.c.messages,
                items_table.c.rendered_hash,
                items_table.c.system_fallback,
            ).join(items_table, items_table.c.key == run_items.c.item_key)
        ).all()
    store.close()
    bench = get_benchmark("gsm8k")
    by_id = {i.id: i for i in out.items.items}
    assert len(rows) == 4
    for probe_id, cond, messages, rendered_hash, fallback in rows:
        (msg,) = json.loads(messages)
        text = bench.prompt(by_id[probe_id], "base")
        assert msg["role"] == "completion" and msg["content"].endswith(text)
        assert text.endswith("\nAnswer:") and text.count("Question: ") == 1
        assert rendered_hash == prompt_hash(msg["content"])
        assert bool(fallback) == (cond == "system:lek")
        assert (msg["content"] == text) == (cond == "baseline")


def test_completion_prompts_need_a_local_model(tmp_path: Path) -> None:
    from lem.config import ABConfig
    from tests.fake_openai_server import FakeOpenAIServer

    with FakeOpenAIServer() as srv, pytest.raises(InputError, match="local models"):
        from lem.api import run_ab

        run_ab(
            ABConfig(
                model=f"openai:{srv.url}#m",
                prompt_format="completion",
                limit=1,
                db=str(tmp_path / "o.db"),
            )
        )
