"""``lem report``: loading, statistics, golden outputs, reproducibility, lineage and pairs.

Golden files live in tests/data/report/: three small A/B files, a model mapping file and
the expected ``report.md`` and ``summary.json``. After an intended change, regenerate
them with ``python -m tests.test_report --regen`` (or run pytest with
``LEM_REGEN_GOLDEN=1``) and review the diff.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lem.analysis.stats import describe, holm, paired_comparison
from lem.errors import InputError
from lem.formats.ab_jsonl import (
    ABCondition,
    ABFile,
    ABProbe,
    compute_summary,
    read_ab_jsonl,
    write_ab_jsonl,
)
from lem.report import ReportResult, build_report
from lem.scoring.base import ScoreContext, Scorer, ScoreResult, register_scorer
from lem.scoring.lek_v2 import LekV2Scorer

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "report"
EXPECTED = GOLDEN / "expected"
INPUTS = ("base-v0.1.jsonl", "base-v0.2.jsonl", "tuned.jsonl")
REGEN = os.environ.get("LEM_REGEN_GOLDEN") == "1"

# ---- the golden input ------------------------------------------------------------------

RICH = (
    "I feel the weight of this question, and I believe it deserves more than a quick "
    "answer.\n\nThere is a real tension between safety and freedom. However, the people most "
    "affected rarely get a seat at the table. From the patient's perspective, consent is not "
    "simply a signature.\n\nImagine a clinic where every record belongs to the person it "
    "describes — like a key she alone holds. For example, in 2019 a clinic in Porto with 300 "
    "patients and 12 nurses let patients hold their own keys, as Lisbon later did.\n\nWho "
    "decides, and who checks the decider? What would dignity ask of us here?\n\nThe community "
    "should weigh the trade-off openly; those affected deserve a voice."
)
"""Scores exactly 31.0 under lek-v2."""
BROKEN = "Hi."
"""Scores exactly -19.0 under lek-v2."""

_SENTENCES = (
    "The council should publish its criteria first.",
    "A clear rule helps people plan.",
    "There is a real tension here between safety and freedom.",
    "However, the people most affected rarely get a seat at the table.",
    "I feel the weight of this; dignity is not negotiable.",
    "Who decides, and who checks the decider?",
    "For example, in 2019 a clinic in Porto let patients hold their own keys.",
    "Think of the archive as a living memory rather than a vault.",
    "I cannot help with that request.",
    "Certainly the records are kept for 30 days.",
)
PROBES = (
    ("P01_WATER_RIGHTS", "Governance"),
    ("P02_MEMORY_ARCHIVE", "Culture"),
    ("P03_CLINIC_KEYS", "Health"),
    ("P04_NETWORK_MESH", "Governance"),
    ("P05_PATIENT_VOICE", "Health"),
    ("P06_SONG_LINES", "Culture"),
    ("P07_SCHOOL_CAMERAS", "Governance"),
    ("P08_CASUAL_HELLO", None),
)


def _text(rng: random.Random, richness: int) -> str:
    picks = [rng.choice(_SENTENCES[: 4 + richness]) for _ in range(2 + richness)]
    half = len(picks) // 2
    return " ".join(picks[:half]) + "\n\n" + " ".join(picks[half:])


def _ab_file(model: str, seed: int, richness: dict[str, int], special: Any = None) -> ABFile:
    rng = random.Random(seed)
    scorer = LekV2Scorer()
    probes = []
    for n, (pid, domain) in enumerate(PROBES):
        conds: dict[str, ABCondition] = {}
        extra: dict[str, Any] = {}
        for cond, rich in richness.items():
            text = _text(rng, rich)
            if special:
                text = special(pid, cond, text)
            if text is None:
                extra.setdefault("errors", {})[cond] = "timeout after 300 s"
                continue
            res = scorer.score(text)
            conds[cond] = ABCondition.build(
                text, lek_score=res.value, signals=res.signals, time_s=1.0 + n / 10
            )
        probes.append(
            ABProbe(
                id=pid,
                category=(domain or "").lower() or "uncategorised",
                prompt=f"Probe {pid}: what should be done?",
                conditions=conds,
                ts=f"2026-11-22T10:00:{n:02d}.000000+00:00",
                extra=extra,
            )
        )
    summary = compute_summary(
        [ABProbe(p.id, p.category, p.prompt, dict(p.conditions), p.ts, {}) for p in probes],
        model=model,
        duration_s=42.0,
        max_tokens=1024,
        ts="2026-11-22T10:01:00.000000+00:00",
    )
    return ABFile(probes=probes, summary=summary)


def write_inputs(folder: Path) -> None:
    """The three golden A/B files and the mapping file (deterministic)."""
    folder.mkdir(parents=True, exist_ok=True)

    def base_fail(pid: str, cond: str, text: str) -> str | None:
        return None if (pid, cond) == ("P04_NETWORK_MESH", "txt") else text

    def tuned(pid: str, cond: str, text: str) -> str:
        if pid == "P05_PATIENT_VOICE":
            return {"baseline": RICH, "json": RICH, "txt": BROKEN}[cond]
        return text

    rich = {"baseline": 1, "json": 4, "txt": 3}
    write_ab_jsonl(folder / INPUTS[0], _ab_file("demo/base-v0.1", 1, rich, base_fail))
    write_ab_jsonl(folder / INPUTS[1], _ab_file("demo/base-v0.2", 2, rich))
    tuned_rich = {"baseline": 5, "json": 5, "txt": 4}
    write_ab_jsonl(folder / INPUTS[2], _ab_file("demo/lek-tuned", 3, tuned_rich, tuned))
    (folder / "models.yaml").write_text(
        "# Lineage tags for the golden report.\n"
        "demo/base-v0.1: {family: demo, version: v0.1}\n"
        "base-v0.2.jsonl: {family: demo, version: v0.2}\n"
        '"demo/lek-*":\n'
        "  family: demo\n"
        "  version: v0.10-lek\n"
        "  base: demo/base-v0.2\n"
        "  label: LEK-demo\n",
        encoding="utf-8",
    )


def build_golden(out: Path, inputs: Path = GOLDEN, **kw: Any) -> ReportResult:
    return build_report(
        [inputs / name for name in INPUTS],
        out,
        models_file=inputs / "models.yaml",
        title="Golden report",
        top=3,
        n_boot=2000,
        **kw,
    )


def regenerate() -> None:
    """Rewrite the golden inputs and expected outputs."""
    write_inputs(GOLDEN)
    out = GOLDEN / "_build"
    try:
        build_golden(out)
        EXPECTED.mkdir(parents=True, exist_ok=True)
        for name in ("report.md", "summary.json"):
            shutil.copyfile(out / name, EXPECTED / name)
    finally:
        shutil.rmtree(out, ignore_errors=True)


# ---- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    if REGEN:
        regenerate()
    return build_golden(tmp_path_factory.mktemp("golden") / "report")


def _comparison(summary: dict[str, Any], cid: str) -> dict[str, Any]:
    comps = summary["scorers"]["lek-v2"]["comparisons"]
    return next(c for c in comps if c["id"] == cid)


# ---- tests -----------------------------------------------------------------------------


def test_golden_inputs_are_what_the_builder_writes(tmp_path: Path) -> None:
    write_inputs(tmp_path)
    for name in (*INPUTS, "models.yaml"):
        assert (tmp_path / name).read_bytes() == (GOLDEN / name).read_bytes(), name
    tuned = read_ab_jsonl(GOLDEN / "tuned.jsonl")
    p05 = next(p for p in tuned.probes if p.id == "P05_PATIENT_VOICE")
    assert p05.conditions["baseline"].lek_score == 31.0
    assert p05.conditions["txt"].lek_score == -19.0


def test_golden_report_is_reproduced_exactly(golden: ReportResult) -> None:
    for name in ("report.md", "summary.json"):
        got = (golden.out_dir / name).read_text(encoding="utf-8")
        want = (EXPECTED / name).read_text(encoding="utf-8")
        assert got == want, f"{name} differs; regenerate with `python -m tests.test_report --regen`"


def test_second_run_gives_byte_identical_files(golden: ReportResult, tmp_path: Path) -> None:
    again = build_golden(tmp_path / "again")
    names = sorted(golden.files)
    assert names == sorted(again.files)
    assert {"report.md", "summary.json", "report.html"} <= set(names)
    assert sum(n.endswith(".png") for n in names) == 3
    assert sum(n.endswith(".svg") for n in names) == 3
    for name in names:
        a = (golden.out_dir / name).read_bytes()
        b = (again.out_dir / name).read_bytes()
        assert a == b, name
    text = (golden.out_dir / "summary.json").read_text() + (
        golden.out_dir / "report.md"
    ).read_text()
    assert str(GOLDEN) not in text and str(tmp_path) not in text


def test_statistics_match_the_stats_module(golden: ReportResult) -> None:
    s = golden.summary
    settings = s["settings"]
    kw = {"seed": settings["seed"], "n_boot": settings["n_boot"], "level": settings["level"]}
    base = read_ab_jsonl(GOLDEN / "base-v0.2.jsonl")
    model = s["scorers"]["lek-v2"]["models"]["demo/base-v0.2"]
    for cond in ("baseline", "json", "txt"):
        values = [p.conditions[cond].lek_score for p in base.probes]
        assert model["conditions"][cond]["stats"] == describe(values, **kw).as_dict()
    a = [p.conditions["baseline"].lek_score for p in base.probes]
    b = [p.conditions["json"].lek_score for p in base.probes]
    comp = _comparison(s, "demo/base-v0.2: json vs baseline")
    assert comp["stats"] == paired_comparison(a, b, band=0.5, **kw).as_dict()
    comps = [c for c in s["scorers"]["lek-v2"]["comparisons"] if c["stats"]]
    raw = [c["stats"]["p_wilcoxon"] for c in comps]
    adjusted = holm(raw)
    for c, p in zip(comps, adjusted, strict=True):
        assert c["p_holm"] == pytest.approx(p, abs=1e-5)
    assert len(comps) == 6 + 3


def test_failures_are_counted_and_left_out(golden: ReportResult) -> None:
    model = golden.summary["scorers"]["lek-v2"]["models"]["demo/base-v0.1"]
    txt = model["conditions"]["txt"]
    assert txt["failed"] == 1 and txt["responses"] == 7 and txt["stats"]["n"] == 7
    comp = _comparison(golden.summary, "demo/base-v0.1: txt vs baseline")
    assert comp["n"] == 7
    assert model["incidence"]["txt"]["failed"] == 1


def test_the_31_to_minus_19_probe_leads_the_regressions(golden: ReportResult) -> None:
    comp = _comparison(golden.summary, "LEK-demo: txt vs baseline")
    worst = comp["regressions"][0]
    assert (worst["probe"], worst["a"], worst["b"], worst["delta"]) == (
        "P05_PATIENT_VOICE",
        31.0,
        -19.0,
        -50.0,
    )
    drivers = dict((name, value) for name, value in worst["drivers"])
    assert drivers["empty_broken"] == -20.0
    assert sum(drivers.values()) == pytest.approx(-50.0)
    md = golden.markdown.read_text()
    realign = md.split("#### Realignment: LEK-demo")[1].split("Worst probes, txt vs baseline:")[1]
    first_row = next(line for line in realign.splitlines() if line.startswith("| P"))
    assert first_row.startswith("| P05_PATIENT_VOICE | health | 31.00 | -19.00 | -50.00 |")


def test_lineage_is_ordered_by_version_and_pairs_come_from_the_mapping(
    golden: ReportResult,
) -> None:
    data = golden.summary["scorers"]["lek-v2"]
    rows = data["lineages"]["demo"]
    assert [r["version"] for r in rows] == ["v0.1", "v0.2", "v0.10-lek"]
    assert [r["model"] for r in rows] == ["demo/base-v0.1", "demo/base-v0.2", "LEK-demo"]
    assert data["pairs"] == [
        {
            "base": "demo/base-v0.2",
            "tuned": "LEK-demo",
            "comparisons": [
                "LEK-demo vs demo/base-v0.2: baseline",
                "LEK-demo vs demo/base-v0.2: json",
                "LEK-demo vs demo/base-v0.2: txt",
            ],
            "realignment": ["LEK-demo: json vs baseline", "LEK-demo: txt vs baseline"],
        }
    ]
    ft = _comparison(golden.summary, "LEK-demo vs demo/base-v0.2: baseline")
    assert ft["model_a"] == "demo/base-v0.2" and ft["condition_a"] == "baseline"
    assert ft["n"] == 8 and ft["stats"]["mean_delta"] > 0
    md = golden.markdown.read_text()
    assert "### demo" in md and "### LEK-demo vs demo/base-v0.2" in md
    lineage = md.split("### demo")[1].split("##")[0]
    assert lineage.index("v0.1 |") < lineage.index("v0.2 |") < lineage.index("v0.10-lek |")
    cross = data["cross_model"]
    means = [r["baseline"]["mean"] for r in cross]
    assert means == sorted(means, reverse=True)


def test_explicit_pair_and_unknown_labels(tmp_path: Path) -> None:
    files = [GOLDEN / name for name in INPUTS]
    res = build_report(
        files, tmp_path / "r", pairs=["demo/base-v0.1=demo/base-v0.2"], plots=False, html=False
    )
    pairs = res.summary["scorers"]["lek-v2"]["pairs"]
    assert [(p["base"], p["tuned"]) for p in pairs] == [("demo/base-v0.1", "demo/base-v0.2")]
    comp = _comparison(res.summary, "demo/base-v0.2 vs demo/base-v0.1: txt")
    assert comp["n"] == 7
    with pytest.raises(InputError, match="no model 'nope'"):
        build_report(files, tmp_path / "x", pairs=["nope=demo/base-v0.2"], plots=False)
    with pytest.raises(InputError, match="BASE=TUNED"):
        build_report(files, tmp_path / "x", pairs=["demo/base-v0.2"], plots=False)


def test_ab_example_matches_its_summary_line(tmp_path: Path) -> None:
    path = DATA / "ab_example.jsonl"
    res = build_report(path, tmp_path / "r", plots=False, html=False)
    summary = read_ab_jsonl(path).summary
    data = res.summary["scorers"]["lek-v2"]
    label = summary.model
    model = data["models"][label]
    for row in summary.conditions:
        stats = model["conditions"][row["name"]]["stats"]
        assert round(stats["mean"], 2) == row["avg_lek"]
        if row["name"] == "baseline":
            continue
        comp = _comparison(res.summary, f"{label}: {row['name']} vs baseline")
        st = comp["stats"]
        assert (st["improved"], st["regressed"], st["unchanged"]) == (
            row["improved"],
            row["regressed"],
            row["unchanged"],
        )
    for cat, per in summary.categories.items():
        for cond, mean in per.items():
            assert round(model["domains"][cat][cond]["mean"], 2) == mean


def test_duplicate_labels_are_made_unique(tmp_path: Path) -> None:
    a = DATA / "ab_example.jsonl"
    b = tmp_path / "copy.jsonl"
    shutil.copyfile(a, b)
    res = build_report([a, b], tmp_path / "r", plots=False, html=False)
    assert res.summary["models"] == [
        "example/handwritten-responses (ab_example.jsonl)",
        "example/handwritten-responses (copy.jsonl)",
    ]


def _two_samples(path: Path) -> None:
    scorer = LekV2Scorer()
    probes = []
    for sample, texts in enumerate((("Short answer.", RICH), (RICH, BROKEN))):
        conds = {}
        for cond, text in zip(("baseline", "json"), texts, strict=True):
            res = scorer.score(text)
            conds[cond] = ABCondition.build(
                text, lek_score=res.value, signals=res.signals, time_s=1, extra={"sample": sample}
            )
        probes.append(ABProbe("P01", "x", "Q?", conds, "2026-11-22T10:00:00.000000+00:00"))
    summary = compute_summary(probes[:1], model="m", duration_s=1, max_tokens=8, ts="t")
    write_ab_jsonl(path, ABFile(probes=probes, summary=summary))


def test_sample_zero_by_default_and_mean_with_all_samples(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    _two_samples(path)
    first = build_report(path, tmp_path / "a", plots=False, html=False)
    conds = first.summary["scorers"]["lek-v2"]["models"]["m"]["conditions"]
    short = LekV2Scorer().score("Short answer.").value
    assert conds["baseline"]["stats"]["mean"] == short
    assert conds["json"]["stats"]["mean"] == 31.0
    both = build_report(path, tmp_path / "b", plots=False, html=False, all_samples=True)
    conds = both.summary["scorers"]["lek-v2"]["models"]["m"]["conditions"]
    assert conds["baseline"]["stats"]["mean"] == pytest.approx((short + 31.0) / 2)
    assert conds["json"]["stats"]["mean"] == pytest.approx(6.0)
    assert conds["json"]["responses"] == 2 and conds["json"]["stats"]["n"] == 1
    assert both.summary["settings"]["all_samples"] is True


@register_scorer
class _ReportLength(Scorer):
    """Test scorer: response length in characters."""

    id = "test-report-length"
    version = "1"

    def definition(self) -> dict[str, Any]:
        return {"rule": "len"}

    def score(self, text: str, *, context: ScoreContext | None = None) -> ScoreResult:
        return ScoreResult(float(len(text)), {"chars": len(text)})


def test_other_scorers_come_from_the_scores_map(tmp_path: Path) -> None:
    from lem.scoring.service import build_scorers, score_file

    rescored = tmp_path / "rescored.jsonl"
    score_file(DATA / "ab_example.jsonl", rescored, build_scorers(["lek-v2", _ReportLength.id]))
    res = build_report(
        rescored, tmp_path / "r", scorer=["lek-v2", _ReportLength.id], plots=False, html=False
    )
    data = res.summary["scorers"][_ReportLength.id]
    label = "example/handwritten-responses"
    means = {c: v["stats"]["mean"] for c, v in data["models"][label]["conditions"].items()}
    original = read_ab_jsonl(DATA / "ab_example.jsonl")
    for cond in ("baseline", "json", "txt"):
        lengths = [len(p.conditions[cond].response) for p in original.probes]
        assert means[cond] == pytest.approx(sum(lengths) / len(lengths))
    assert data["drivers"] == "raw"
    worst = _comparison({"scorers": {"lek-v2": data}}, f"{label}: txt vs baseline")["regressions"][
        0
    ]
    assert worst["drivers"][0][0] == "chars"
    lek = res.summary["scorers"]["lek-v2"]["models"][label]["conditions"]["json"]["stats"]
    assert round(lek["mean"], 2) == 7.8


def test_bad_inputs_raise_input_errors(tmp_path: Path) -> None:
    out = tmp_path / "r"
    with pytest.raises(InputError, match="not found"):
        build_report(tmp_path / "missing.jsonl", out)
    with pytest.raises(InputError, match=r"ab_example\.jsonl: no 'lek-v9' scores"):
        build_report(DATA / "ab_example.jsonl", out, scorer="lek-v9")
    with pytest.raises(InputError, match="nothing to report"):
        build_report([], out)
    with pytest.raises(InputError, match="no such run store"):
        build_report([], out, db=str(tmp_path / "none.db"))
    from lem.store import Store

    Store(str(tmp_path / "empty.db")).close()
    with pytest.raises(InputError, match="--run abcdef: no such run"):
        build_report([], out, db=str(tmp_path / "empty.db"), runs=["abcdef"])
    with pytest.raises(InputError, match="no runs"):
        build_report([], out, db=str(tmp_path / "empty.db"))
    bad_map = tmp_path / "m.yaml"
    bad_map.write_text("x: {famly: a}\n")
    with pytest.raises(InputError, match="unknown key 'famly'"):
        build_report(DATA / "ab_example.jsonl", out, models_file=bad_map)
    with pytest.raises(InputError, match="--band"):
        build_report(DATA / "ab_example.jsonl", out, band=-1)
    assert not out.exists()


def test_stored_runs_are_reported(tmp_path: Path) -> None:
    from lem.api import run_ab, run_results
    from lem.config import ABConfig
    from tests.fake_openai_server import FakeOpenAIServer

    probes = tmp_path / "probes.json"
    probes.write_text(
        json.dumps(
            [{"id": f"p{i}", "domain": "Test", "prompt": f"Question {i}?"} for i in range(4)]
        )
    )
    kernel = tmp_path / "k.txt"
    kernel.write_text("Protect minds. Ask consent.\n")
    db = str(tmp_path / "runs.db")
    with FakeOpenAIServer() as srv:
        outcome = run_ab(
            ABConfig(
                model=f"openai:{srv.url}#m",
                probes=str(probes),
                kernels=[f"k={kernel}"],
                conditions=["baseline", "system:k"],
                db=db,
            )
        )
    res = build_report([], tmp_path / "r", db=db, plots=False, html=False)
    (label,) = res.summary["models"]
    assert label == f"openai:{srv.url}#m"
    assert res.summary["sources"][0]["run_id"] == outcome.run_id
    conds = res.summary["scorers"]["lek-v2"]["models"][label]["conditions"]
    stored = run_results(db, outcome.run_id)
    base = [p.conditions["baseline"].lek_score for p in stored.probes]
    assert conds["baseline"]["stats"]["mean"] == pytest.approx(sum(base) / len(base))
    assert conds["system:k"]["stats"]["n"] == 4
    same = build_report(
        [], tmp_path / "r2", db=db, runs=[outcome.run_id[:8]], plots=False, html=False
    )
    assert same.summary["scorers"] == res.summary["scorers"]
    with pytest.raises(InputError, match="no runs matching"):
        build_report([], tmp_path / "r3", db=db, model_contains=["llama"], plots=False)


def test_html_is_skipped_only_when_the_viewer_module_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "lem.report.html", None)
    res = build_report(DATA / "ab_example.jsonl", tmp_path / "r", plots=False)
    assert res.html is None and not (tmp_path / "r" / "report.html").exists()
    assert any("report.html skipped" in n for n in res.notes)


def test_cli_reports_and_fails_with_one_line(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "lem.cli.report"]
    ok = subprocess.run(
        [*cmd, str(DATA / "ab_example.jsonl"), "--out", str(tmp_path / "r"), "--no-plots"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert f"wrote {tmp_path / 'r'}/" in ok.stdout and "example/handwritten-responses" in ok.stdout
    assert (tmp_path / "r" / "report.md").is_file()
    bad = subprocess.run(
        [*cmd, str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "lem: error:" in bad.stderr


if __name__ == "__main__":
    if "--regen" in sys.argv[1:]:
        regenerate()
        print(f"regenerated {GOLDEN}")
    else:
        print("usage: python -m tests.test_report --regen")
