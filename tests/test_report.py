"""``lem report``: loading, statistics, golden outputs, reproducibility, lineage and pairs.

Golden files live in tests/data/report/: three small A/B files, a model mapping file and
the expected ``report.md`` and ``summary.json``. The tests only compare against them. After
an intended change, regenerate them with ``scripts/regen_golden_report.py`` (a separate
script, never a test mode) and review the diff.
"""

from __future__ import annotations

import importlib.util
import json
import math
import random
import re
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
REGEN_SCRIPT = Path(__file__).parent.parent / "scripts" / "regen_golden_report.py"

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


# ---- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
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
        assert got == want, (
            f"{name} differs; if the change is intended, run scripts/regen_golden_report.py "
            "and review the diff"
        )


def test_golden_files_are_regenerated_by_a_script_never_by_a_test_run() -> None:
    # no test module reads an environment switch that rewrites expectations
    switch = "LEM_REGEN" + "_GOLDEN"
    for module in Path(__file__).parent.glob("*.py"):
        assert switch not in module.read_text(encoding="utf-8"), module.name
    spec = importlib.util.spec_from_file_location("regen_golden_report", REGEN_SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    before = {p: p.read_bytes() for p in GOLDEN.rglob("*") if p.is_file()}
    assert script.main(["--check"]) == 0  # the stored files are what the script writes
    assert {p: p.read_bytes() for p in GOLDEN.rglob("*") if p.is_file()} == before


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


def test_helper_process_and_serial_build_write_the_same_files(tmp_path: Path) -> None:
    """Plots and viewer drawn in a forked helper beside the statistics, or here after
    them: byte for byte the same report."""
    par = build_golden(tmp_path / "par", parallel=True)
    ser = build_golden(tmp_path / "ser", parallel=False)
    assert sorted(par.files) == sorted(ser.files) and len(par.files) == 9
    for name in par.files:
        assert (par.out_dir / name).read_bytes() == (ser.out_dir / name).read_bytes(), name


def test_a_failure_in_the_helper_is_raised_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lem.report.plots as plots

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("boom in the forest plot")

    monkeypatch.setattr(plots, "_forest", boom)
    with pytest.raises(RuntimeError, match="boom in the forest plot"):
        build_golden(tmp_path / "r", parallel=True)


def test_summary_json_is_json_dumps_of_the_rounded_summary(golden: ReportResult) -> None:
    import enum

    import numpy as np

    from lem.report.build import round_floats, summary_json_text

    class Label(str):
        pass

    class Level(enum.IntEnum):
        HIGH = 3

    odd = {
        "a": np.float64(1.23456789),
        2: (1, True, np.int64(3), np.bool_(True)),
        "c": float("nan"),
        "d": -0.0,
        "e": [],
        "f": {},
        "g": object,
        "h": Label('x\u2028"y'),
        "i": Level.HIGH,
        "j": float("-inf"),
        "k": [1e300, 1e-7, 0.1234564999],
    }
    for obj in (odd, golden.full_summary):
        want = json.dumps(
            round_floats(obj), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False
        )
        assert summary_json_text(obj) == want
    assert json.loads(summary_json_text(golden.full_summary)) == golden.summary


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
    family = s["scorers"]["lek-v2"]["holm"]["family_size"]
    assert family == 6 + 3
    want = paired_comparison(a, b, band=0.5, family_size=family, **kw).as_dict()
    assert comp["stats"] == want
    comps = [c for c in s["scorers"]["lek-v2"]["comparisons"] if c["stats"]]
    raw = [c["stats"]["p_wilcoxon"] for c in comps]
    adjusted = holm(raw)
    for c, p in zip(comps, adjusted, strict=True):
        assert c["p_holm"] == pytest.approx(p, abs=1e-5)
    assert len(comps) == 6 + 3


def test_small_n_intervals_and_unreachable_mdes_are_marked(golden: ReportResult) -> None:
    # 8 probes: t intervals (marked †), and with m = 9 no Wilcoxon outcome at n = 8 reaches
    # 0.05 / 9 (the smallest p is 2/256), so the MDE is infinite, said as such
    s = golden.summary
    comp = _comparison(s, "demo/base-v0.2: json vs baseline")
    assert comp["stats"]["ci_method"] == "t" and comp["stats"]["mde"] is None
    assert comp["stats"]["mde_alpha"] == pytest.approx(0.05 / 9, abs=1e-6)
    assert comp["mde_note"].startswith("unreachable")
    md = golden.markdown.read_text()
    assert "† fewer than 10 probes: t interval" in md
    row = next(line for line in md.splitlines() if line.startswith("| json | 8 | 5.21 | 8.31 |"))
    assert row.endswith("| ∞ |") and "]† |" in row


def test_overview_shows_the_paired_n_of_every_comparison(golden: ReportResult) -> None:
    md = golden.markdown.read_text()
    overview = md.split("## Overview")[1].split("##")[0]
    lines = [line for line in overview.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[3:] == ["json", "n json", "Δ json", "p json", "txt", "n txt", "Δ txt", "p txt"]
    rows = {
        r.split("|")[1].strip(): [c.strip() for c in r.strip("|").split("|")] for r in lines[2:]
    }
    # base-v0.1 lost one txt generation: its txt comparison is over 7 probes, not 8
    assert rows["demo/base-v0.1"][header.index("n txt")] == "7"
    assert rows["demo/base-v0.1"][header.index("n json")] == "8"
    cross = {r["model"]: r for r in golden.summary["scorers"]["lek-v2"]["cross_model"]}
    assert cross["demo/base-v0.1"]["conditions"]["txt"]["n_paired"] == 7
    lineage = md.split("### demo")[1].split("##")[0]
    assert "| n txt |" in lineage


def test_methods_are_named_in_report_and_summary(golden: ReportResult) -> None:
    methods = golden.summary["methods"]
    assert methods["ci"]["kind"] == "studentized-bootstrap" and methods["ci"]["symmetric"]
    assert methods["ci"]["resamples"] == 2000 and methods["ci"]["small_n_below"] == 10
    assert methods["wilcoxon"]["zero_method"] == "wilcox"
    assert methods["wilcoxon"]["continuity_correction"] is False
    assert (methods["wilcoxon"]["exact_max_n"], methods["wilcoxon"]["permutation_max_n"]) == (
        50,
        13,
    )
    assert methods["holm"]["excludes"] == "comparisons whose deltas are all zero"
    assert methods["mde"]["test"] == "wilcoxon" and methods["mde"]["level"] == "alpha / m"
    assert methods["deltas"]["rounding_decimals"] == 9
    md = golden.markdown.read_text()
    section = md.split("## Methods")[1].split("\n## ")[0]
    for phrase in (
        "symmetric studentized bootstrap (bootstrap-t), 2,000 resamples",
        "t interval",
        "zero differences dropped",
        "no continuity correction",
        "exact null distribution when n ≤ 50",
        "Holm-adjusted over every comparison of one scorer",
        "whose Δ are all zero",
        "Wilcoxon test detects with power 0.8 at Holm's first-step level α/m",
        "rounded to 1e-9",
        "a Δ of exactly ±0.5 is unchanged",
    ):
        assert phrase in section, phrase
    assert "Holm correction over 9 comparisons (m = 9; MDE at α/m = 0.00556)." in md


def _ab_line_file(path: Path, scores: dict[str, list[float]], model: str = "m") -> None:
    """An A/B file whose probes have exactly these scores per condition (no scorer run)."""
    n = len(next(iter(scores.values())))
    probes = [
        ABProbe(
            f"P{i:02d}",
            "x",
            f"Q{i}?",
            {
                cond: ABCondition.build(
                    f"answer {i} {cond}", lek_score=values[i], signals={}, time_s=1.0
                )
                for cond, values in scores.items()
            },
            "2026-11-22T10:00:00.000000+00:00",
        )
        for i in range(n)
    ]
    summary = compute_summary(probes, model=model, duration_s=1, max_tokens=8, ts="t")
    write_ab_jsonl(path, ABFile(probes=probes, summary=summary))


def test_all_zero_comparisons_leave_the_holm_family(tmp_path: Path) -> None:
    base = [21.3, 7.8, 1.1, 2.2, 3.3, 4.4, 5.5, 6.6, 0.3, 9.9, 12.1, 14.2]
    shifted = [21.5, 8.0, 1.3, 2.0, 3.6, 4.1, 5.7, 6.4, 0.6, 9.6, 12.3, 14.4]
    constant = [x + 0.2 for x in base]  # one-decimal scores shifted by exactly 0.2
    path = tmp_path / "a.jsonl"
    _ab_line_file(path, {"baseline": base, "same": list(base), "moved": shifted, "shift": constant})
    res = build_report(path, tmp_path / "r", plots=False, html=False)
    data = res.summary["scorers"]["lek-v2"]
    same = _comparison(res.summary, "m: same vs baseline")
    assert same["holm_family"] is False and same["p_holm"] is None
    assert same["stats"]["mde"] is None and same["stats"]["dz"] is None
    assert data["holm"] == {
        "family_size": 2,
        "mde_alpha": 0.025,
        "excluded_all_zero": ["m: same vs baseline"],
    }
    moved = _comparison(res.summary, "m: moved vs baseline")
    shift = _comparison(res.summary, "m: shift vs baseline")
    family = holm([moved["stats"]["p_wilcoxon"], shift["stats"]["p_wilcoxon"]])
    assert [moved["p_holm"], shift["p_holm"]] == pytest.approx(family, abs=1e-5)
    # decimal deltas: 21.5 - 21.3 and 8.0 - 7.8 are the same 0.2, so the shift has sd 0
    assert shift["stats"]["dz"] is None and shift["stats"]["mde"] is None
    assert shift["stats"]["sd_delta"] == 0.0 and shift["mde_note"].startswith("undefined")
    md = res.markdown.read_text()
    assert (
        "Holm correction over 2 comparisons (m = 2; MDE at α/m = 0.025); 1 comparison left out "
        "of the family because every Δ is zero: `m: same vs baseline`." in md
    )
    table = md.split("| vs baseline |")[1].split("\n\n")[0].splitlines()
    rows = {line.split("|")[1].strip(): line for line in table if line.startswith("| ")}
    assert rows["same"].endswith("| 1.000 | excl. | — | +0.00 | 0/0/12 | — |")
    assert rows["shift"].endswith("| — | +1.00 | 0/0/12 | — |")


def _nan_file(path: Path, value: float, in_scores_map: bool = False) -> None:
    _ab_line_file(path, {"baseline": [1.0, 2.0, 3.0], "json": [1.5, 2.5, 3.5]})
    lines = path.read_text(encoding="utf-8").splitlines()
    probe = json.loads(lines[1])
    if in_scores_map:
        probe["conditions"]["json"]["scores"] = {"lek-v2": {"value": value, "status": "ok"}}
    else:
        probe["conditions"]["json"]["lek_score"] = value
    lines[1] = json.dumps(probe)
    path.write_text("\n".join(["", *lines]) + "\n", encoding="utf-8")  # line 3 after a blank


@pytest.mark.parametrize(
    ("value", "in_map"), [(math.nan, False), (math.inf, False), (-math.inf, True)]
)
def test_nan_or_inf_score_is_one_line_naming_file_line_probe_condition(
    tmp_path: Path, value: float, in_map: bool
) -> None:
    path = tmp_path / "bad.jsonl"
    _nan_file(path, value, in_map)
    want = f"{path}:3: probe 'P01' condition 'json': lek-v2 score is {value}"
    with pytest.raises(InputError, match=re.escape(want)):
        build_report(path, tmp_path / "r", plots=False, html=False)
    assert not (tmp_path / "r").exists()


def test_nan_score_exits_2_with_one_line_from_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    _nan_file(path, math.nan)
    bad = subprocess.run(
        [sys.executable, "-m", "lem.cli.report", str(path), "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "Traceback" not in bad.stderr
    assert f"{path}:3: probe 'P01' condition 'json': lek-v2 score is nan" in bad.stderr


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
