"""One rounding rule: ``lem.numfmt``, and the same strings in the terminal and report.md.

Also checks that the report's batched statistics are bit for bit what the stats module
gives one comparison at a time.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from lem.analysis.stats import describe, paired_comparison
from lem.formats.ab_jsonl import (
    ABCondition,
    ABFile,
    ABProbe,
    compute_summary,
    write_ab_jsonl,
)
from lem.numfmt import fmt_delta, fmt_fixed, fmt_mean, fmt_p, fmt_percent, fmt_sig
from lem.report import build_report
from lem.report.analysis import ReportSettings, _CIBatch, description, paired_stats
from lem.responses import read_file_responses
from lem.results import print_summary

# ---- the rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "mean", "delta"),
    [
        (1.085, "1.09", "+1.09"),  # f"{1.085:.2f}" gives 1.08: the binary value is below
        (-0.275, "-0.28", "-0.28"),
        (2.675, "2.68", "+2.68"),
        (1.0849999, "1.08", "+1.08"),  # rounded once: never via 1.085
        (0.0, "0.00", "+0.00"),
        (-0.0, "0.00", "+0.00"),
        (-0.004, "0.00", "+0.00"),  # no minus sign on a zero
        (-0.005, "-0.01", "-0.01"),
        (5.655, "5.66", "+5.66"),
        (1e-7, "0.00", "+0.00"),
        (123456789.125, "123456789.13", "+123456789.13"),
        (None, "—", "—"),
        (float("nan"), "—", "—"),
        (float("inf"), "∞", "+∞"),
    ],
)
def test_half_away_from_zero_on_the_decimal_form(value: Any, mean: str, delta: str) -> None:
    assert fmt_mean(value) == mean
    assert fmt_delta(value) == delta


def test_rule_agrees_with_exact_decimal_rounding_of_repr() -> None:
    rng = random.Random(3)
    for _ in range(20_000):
        x = round(rng.uniform(-100, 100), rng.randint(0, 6)) * rng.choice((1, 1e-3, 1e3))
        for places in (0, 1, 2, 3):
            want = Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
            text = f"{want:f}"
            if want == 0:
                text = text.lstrip("-")
            assert fmt_fixed(x, places) == text, (x, places)


def test_p_values_percentages_and_significant_digits() -> None:
    assert fmt_p(0.0005) == "<0.001" and fmt_p(0.0125) == "0.013" and fmt_p(None) == "—"
    assert fmt_percent(0.125) == "13%" and fmt_percent(1 / 3) == "33%" and fmt_percent(0) == "0%"
    assert fmt_sig(0.05 / 3) == "0.0167" and fmt_sig(0.05) == "0.05" and fmt_sig(0.0999999) == "0.1"


# ---- the same strings in the terminal and in report.md -------------------------------

BASELINE = [
    -15.2, 7.1, 7.6, 27.9, 21.1, 21.2, 34.4, -5.4, 0.5, -7.3,
    -14.4, 8.3, 8.1, -12.9, 30.7, 33.8, -16.2, -19.8, -16.6, 20.2,
]  # fmt: skip
"""Mean 5.655 exactly in decimal: the upstream summary's avg_lek (round(sum / n, 2) of a
binary 5.654999…) says 5.65, numpy's mean is 5.655 → 5.66."""
JSON = [
    -9.1, 8.4, 12.0, 25.5, 23.3, 19.0, 30.2, 2.2, 4.4, -1.1,
    -10.0, 9.9, 6.6, -8.8, 28.8, 31.1, -12.2, -14.4, -13.3, 22.2,
]  # fmt: skip
FAILED_JSON = 6
"""The json generation of the 7th probe failed: upstream's delta is a difference of
unpaired means, the report's the mean of paired differences."""


def _abfile() -> ABFile:
    probes = []
    for i, (a, b) in enumerate(zip(BASELINE, JSON, strict=True)):
        conds = {"baseline": ABCondition.build("x", lek_score=a, signals={}, time_s=1.0)}
        extra: dict[str, Any] = {}
        if i == FAILED_JSON:
            extra["errors"] = {"json": "timeout after 300 s"}
        else:
            conds["json"] = ABCondition.build("y", lek_score=b, signals={}, time_s=1.0)
        probes.append(
            ABProbe(f"P{i:02d}", "ethics", "prompt?", conds, "2026-11-22T10:00:00+00:00", extra)
        )
    summary = compute_summary(
        probes, model="demo/model", duration_s=1.0, max_tokens=64, ts="2026-11-22T10:01:00+00:00"
    )
    return ABFile(probes=probes, summary=summary)


def _exact(values: list[Decimal]) -> str:
    mean = sum(values, Decimal(0)) / len(values)
    return f"{mean.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):f}"


def test_terminal_and_report_print_the_same_mean_and_delta(tmp_path: Path) -> None:
    abfile = _abfile()
    path = tmp_path / "run.jsonl"
    write_ab_jsonl(path, abfile)
    before = path.read_bytes()
    # the upstream summary line is upstream's: rounded averages, unpaired delta
    row = {r["name"]: r for r in abfile.summary.conditions}
    assert row["baseline"]["avg_lek"] == 5.65 and row["json"]["delta_vs_baseline"] == 0.9

    console = Console(record=True, width=120)
    print_summary(read_file_responses(path), console, model=abfile.summary.model)
    terminal = console.export_text()
    lines = {r[0]: r for r in _box_rows(terminal)}
    term_base_mean = lines["baseline"][2]
    term_json_mean, term_delta = lines["json"][2], lines["json"][3]

    res = build_report(path, tmp_path / "r", plots=False, html=False)
    md = (tmp_path / "r" / "report.md").read_text("utf-8")
    section = md.split("## Overview", 1)[1]
    overview = next(ln for ln in section.splitlines() if ln.startswith("| demo/model |"))
    cells = [c.strip() for c in overview.strip("|").split("|")]
    md_base_mean, md_json_mean = cells[2].split(" ")[0], cells[3]
    md_delta = cells[5].split(" ")[0]

    paired = [
        Decimal(repr(b)) - Decimal(repr(a))
        for i, (a, b) in enumerate(zip(BASELINE, JSON, strict=True))
        if i != FAILED_JSON
    ]
    json_kept = [Decimal(repr(b)) for i, b in enumerate(JSON) if i != FAILED_JSON]
    assert (term_base_mean, md_base_mean) == ("5.66", "5.66")
    assert term_json_mean == md_json_mean == _exact(json_kept)
    assert term_delta == md_delta == "+" + _exact(paired)
    assert term_delta != f"{row['json']['delta_vs_baseline']:+.2f}"
    assert res.records == 40  # 39 scored, 1 failed generation
    assert path.read_bytes() == before  # the A/B file (and its summary line) untouched

    # `lem report` prints its overview from the same unrounded numbers
    cmd = [sys.executable, "-m", "lem.cli.report", str(path), "--no-plots"]
    out = subprocess.run(
        [*cmd, "--out", str(tmp_path / "c")],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "160", "PATH": ""},
    )
    assert out.returncode == 0, out.stderr
    cells = next(r for r in _box_rows(out.stdout) if r[0] == "demo/model")
    assert cells[1:3] == [md_base_mean, md_delta]


def _box_rows(text: str) -> list[list[str]]:
    """The body rows of rich's box-drawn tables in ``text``, as stripped cells."""
    return [
        [c.strip() for c in ln.strip().strip("│").split("│")]
        for ln in text.splitlines()
        if ln.strip().startswith("│")
    ]


# ---- batched statistics ---------------------------------------------------------------


def _vectors() -> list[np.ndarray[Any, np.dtype[np.float64]]]:
    rng = np.random.default_rng(11)
    out = []
    for n in (1, 2, 5, 9, 10, 12, 20, 20, 20, 33, 60):
        out.append(np.round(rng.normal(5, 9, size=n), 1))
    out += [np.full(20, 3.3), np.full(12, -19.0), np.full(4, 1.1)]
    return out


def test_batched_cis_equal_describe_and_paired_comparison_exactly() -> None:
    settings = ReportSettings(n_boot=2000, seed=5)
    vectors = _vectors()
    kw = {"seed": settings.seed, "n_boot": settings.n_boot, "level": settings.level}
    batch = _CIBatch(settings)
    idx = [batch.add(v) for v in vectors]
    pairs = [(a, np.round(a + np.resize([0.3, -2.1, 5.0], a.size), 1)) for a in vectors]
    from lem.analysis.stats import paired_deltas

    didx = [batch.add(paired_deltas(a, b)) for a, b in pairs]
    cis = batch.run()
    for v, i in zip(vectors, idx, strict=True):
        assert description(v, cis[i]) == describe(v, **kw)
    for (a, b), i in zip(pairs, didx, strict=True):
        got = paired_stats(a, b, cis[i], settings, 7)
        want = paired_comparison(a, b, band=settings.band, family_size=7, **kw)
        assert repr(got) == repr(want)  # NaN-safe, field for field


def test_report_md_has_no_binary_rounding_left() -> None:
    """Every number in report.md goes through lem.numfmt (no f"{x:.2f}" left)."""
    root = Path(__file__).resolve().parents[1] / "src" / "lem"
    for path in [
        *sorted((root / "report").glob("*.py")),
        root / "results.py",
        root / "cli" / "report.py",
    ]:
        text = path.read_text("utf-8")
        assert not re.search(r"\{[^{}]*:[+]?\.\d+f\}", text), path
