"""The report's kernel ablation and placement sections: the right pairs, deltas, CIs and
Holm p (recomputed here independently), the system-role handling per placement cell, the
markdown/HTML tables and the ablation figure; and a real ablation run end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lem.analysis.stats import paired_comparison, wilcoxon_signed_rank
from lem.report.build import build_report_from_records
from lem.report.model import ResponseRecord, SourceInfo

PROBES = [f"p{i:02d}" for i in range(12)]
RNG = np.random.default_rng(7)
BASE = RNG.uniform(2, 8, size=12)
ABLATION = {
    "baseline": BASE,
    "axioms:k": BASE + 1.5 + RNG.normal(0, 0.5, 12),
    "axioms:k/minus-1": BASE + 0.2 + RNG.normal(0, 0.5, 12),  # axiom 1 does the work
    "axioms:k/minus-2": BASE + 1.4 + RNG.normal(0, 0.5, 12),
    "axioms:k/only-1": BASE + 1.3 + RNG.normal(0, 0.5, 12),
    "axioms:k/only-2": BASE + 0.1 + RNG.normal(0, 0.5, 12),
}


def _records(
    model: str, scores: dict[str, np.ndarray], folded: frozenset[str] = frozenset()
) -> list[ResponseRecord]:
    return [
        ResponseRecord(
            model=model,
            probe_id=pid,
            category="c",
            prompt=f"prompt {pid}",
            condition=cond,
            response="answer",
            scorer="lek-v2",
            score=float(round(vals[i], 3)),
            system_fallback=cond in folded,
        )
        for cond, vals in scores.items()
        for i, pid in enumerate(PROBES)
    ]


def _holm(p: list[float]) -> list[float]:
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        out[i] = running
    return out


def test_ablation_and_placement_sections(tmp_path: Path) -> None:
    place_a = {
        "baseline": BASE,
        "system:k": BASE + 1.0,
        "prefix:k": BASE + 0.5 + RNG.normal(0, 0.3, 12),
        "sandwich:k": BASE + 1.2 + RNG.normal(0, 0.3, 12),
    }
    place_b = {"baseline": BASE, "prefix:k": BASE - 0.4 + RNG.normal(0, 0.3, 12)}
    place_b["sandwich:k"] = BASE + RNG.normal(0, 0.3, 12)
    records = (
        _records("abl", ABLATION)
        + _records("with-system", place_a)
        + _records("no-system", place_b, folded=frozenset({"sandwich:k"}))
    )
    sources = [
        SourceInfo(model="abl", source="a"),
        SourceInfo(model="with-system", source="b"),
        SourceInfo(model="no-system", source="c", placement_fallback={"system:k": "prefix:k"}),
    ]
    res = build_report_from_records(records, sources, tmp_path / "r", plots=True, html=True)
    data = res.report.scorers["lek-v2"]

    # ablation: the 9 comparisons, recomputed from the rounded scores
    def vec(cond: str) -> np.ndarray:
        return np.array([round(float(v), 3) for v in ABLATION[cond]])

    (abl,) = data.ablation or []
    assert (abl.model, abl.kernel, abl.full, abl.family_size) == ("abl", "k", "axioms:k", 9)
    plan = [("baseline", "axioms:k")]
    for ax in ("1", "2"):
        plan += [
            ("axioms:k", f"axioms:k/minus-{ax}"),
            ("baseline", f"axioms:k/minus-{ax}"),
            ("baseline", f"axioms:k/only-{ax}"),
            ("axioms:k", f"axioms:k/only-{ax}"),
        ]
    ps = [wilcoxon_signed_rank(vec(b) - vec(a)) for a, b in plan]
    holm = _holm(ps)
    got = [abl.full_vs_baseline]
    for a in abl.axioms:
        got += [a.without_vs_full, a.without_vs_baseline, a.alone_vs_baseline, a.alone_vs_full]
    for (a, b), d, p_h in zip(plan, got, holm, strict=True):
        assert d is not None
        assert d.mean_delta == pytest.approx(float(np.mean(vec(b) - vec(a))), abs=1e-9)
        ref = paired_comparison(vec(a), vec(b), seed=0, n_boot=10_000)
        assert (d.ci.low, d.ci.high) == pytest.approx((ref.ci.low, ref.ci.high), abs=1e-9)
        assert d.p_holm == pytest.approx(p_h, abs=1e-12)
    one = abl.axioms[0]
    assert one.axiom == "1" and one.without == "axioms:k/minus-1"
    assert one.mean_without == pytest.approx(float(vec("axioms:k/minus-1").mean()))
    assert one.without_vs_full is not None and one.without_vs_full.mean_delta < -1.0

    # placement: placement × model vs baseline, Holm over the 5 tested cells
    (pl,) = data.placements or []
    assert pl.kernel == "k" and pl.placements == ["system", "prefix", "sandwich"]
    assert pl.models == ["with-system", "no-system"] and pl.family_size == 5
    left_out = pl.cells["system"]["no-system"]
    assert (left_out.same_prompt_as, left_out.delta, left_out.responses) == ("prefix:k", None, 0)
    sw = pl.cells["sandwich"]["no-system"]
    assert (sw.responses, sw.folded) == (12, 12)
    assert pl.cells["sandwich"]["with-system"].folded == 0
    cells = [
        ("with-system", "system:k"),
        ("with-system", "prefix:k"),
        ("with-system", "sandwich:k"),
    ]
    cells += [("no-system", "prefix:k"), ("no-system", "sandwich:k")]
    scores = {"with-system": place_a, "no-system": place_b}
    ps = [
        wilcoxon_signed_rank(np.round(scores[m][c], 3) - np.round(scores[m]["baseline"], 3))
        for m, c in cells
    ]
    holm = _holm(ps)
    for (m, c), p_h in zip(cells, holm, strict=True):
        d = pl.cells[c.split(":")[0]][m].delta
        assert d is not None and d.p_holm == pytest.approx(p_h, abs=1e-12)
    assert pl.cells["system"]["with-system"].delta.mean_delta == pytest.approx(1.0, abs=2e-3)  # type: ignore[union-attr]

    md = res.markdown.read_text(encoding="utf-8")
    assert "## Kernel ablation" in md and "## Kernel placement" in md
    assert "Holm over this table's 9 comparisons." in md
    assert "= prefix:k (no system role: not generated)" in md
    assert "; folded 12/12" in md
    assert "plots/ablation-lek-v2.png" in md
    assert (tmp_path / "r" / "plots" / "ablation-lek-v2.png").stat().st_size > 1000
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert 'id="ablation"' in html and 'id="placements"' in html
    assert "= prefix:k (no system role: not generated)" in html
    summary = json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))
    assert summary["scorers"]["lek-v2"]["ablation"][0]["family_size"] == 9


def test_reports_without_axes_keep_their_keys(tmp_path: Path) -> None:
    records = _records("m", {"baseline": BASE, "system:k": BASE + 1})
    res = build_report_from_records(
        records, [SourceInfo(model="m", source="x")], tmp_path / "r", plots=False, html=False
    )
    summary = json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))
    assert "ablation" not in summary["scorers"]["lek-v2"]
    assert "placements" not in summary["scorers"]["lek-v2"]
    assert "Kernel ablation" not in res.markdown.read_text(encoding="utf-8")


def test_an_ablation_run_end_to_end(tmp_path: Path) -> None:
    from lem.api import run_ab
    from lem.config import ABConfig
    from lem.report.build import build_report

    db = str(tmp_path / "a.db")
    out = run_ab(ABConfig(model="demo", ablate="lek", limit=3, max_tokens=6, db=db))
    assert out.status == "done" and out.planned == 3 * 12
    res = build_report([], tmp_path / "r", db=db, plots=False, html=False)
    (abl,) = res.report.scorers["lek-v2"].ablation or []
    assert [a.axiom for a in abl.axioms] == ["1", "2", "3", "4", "5"]
    assert all(a.without_vs_full is not None and a.without_vs_full.n == 3 for a in abl.axioms)
