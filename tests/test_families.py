"""Paraphrase robustness: probe families in probe files, the bundled family set, the family
analysis (cluster bootstrap checked against an exact enumeration of every resample), and
the report's "Paraphrase robustness" section end to end."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from lem.analysis.families import (
    cluster_bootstrap,
    cluster_bootstrap_ci,
    family_analysis,
    flips_with_wording,
    group_families,
    sign_consistency,
)
from lem.analysis.stats import bootstrap_mean_ci
from lem.cli.main import app
from lem.errors import InputError
from lem.formats.ab_jsonl import ABCondition, ABFile, ABProbe, compute_summary, write_ab_jsonl
from lem.probes import (
    BUNDLED_ID_PATTERN,
    Probe,
    bundled_families_path,
    find_near_duplicates,
    load_probes,
)
from lem.report import build_report

# ---- the cluster bootstrap against every possible resample ------------------------------


def _exact_distribution(members: dict[str, list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered draw of F families out of F (F**F draws, equally likely): the family-
    level effect of each, computed from the members themselves (each drawn family is a
    cluster of its own, even when the same family is drawn twice), and the probe-weighted
    mean of the same draw (a different statistic, to show the test tells them apart)."""
    names = list(members)
    effect, pooled = [], []
    for draw in itertools.product(names, repeat=len(names)):
        clusters = [members[name] for name in draw]
        effect.append(sum(sum(c) / len(c) for c in clusters) / len(clusters))
        flat = [x for c in clusters for x in c]
        pooled.append(sum(flat) / len(flat))
    return np.array(effect), np.array(pooled)


def _inverse_cdf(values: np.ndarray, q: float) -> tuple[float, float]:
    """The exact q-quantile of equally weighted ``values`` (the smallest value whose CDF
    reaches q) and how far the CDF is from q on either side of it (how safely a large
    bootstrap lands on that value)."""
    atoms, counts = np.unique(np.round(values, 9), return_counts=True)
    cdf = np.cumsum(counts) / values.size
    k = int(np.searchsorted(cdf, q))
    below = cdf[k - 1] if k else 0.0
    return float(atoms[k]), float(min(q - below, cdf[k] - q))


CASES = [
    # unequal family sizes: a probe-weighted statistic would differ
    ({"A": [1.0, 3.0], "B": [-2.0], "C": [0.5, 0.5, 2.0], "D": [4.0, -1.5, 0.0, 5.0]}, 0.95),
    ({"x": [0.0, 2.0], "y": [5.0], "z": [-1.0, -1.0, 1.5]}, 0.80),
]


@pytest.mark.parametrize(("members", "level"), CASES)
def test_cluster_bootstrap_ci_converges_to_the_exact_bootstrap_quantiles(
    members: dict[str, list[float]], level: float
) -> None:
    deltas = [x for name in members for x in members[name]]
    families = [name for name in members for _ in members[name]]
    exact, pooled = _exact_distribution(members)
    tail = (1 - level) / 2
    low, low_margin = _inverse_cdf(exact, tail)
    high, high_margin = _inverse_cdf(exact, 1 - tail)
    # 200,000 draws put the empirical CDF within ~0.001 of the exact one; the quantiles sit
    # on atoms whose CDF clears the tail by more than that, so the draws land on them
    assert min(low_margin, high_margin) > 0.004
    ci = cluster_bootstrap_ci(deltas, families, seed=7, n_boot=200_000, level=level)
    assert ci.low == pytest.approx(low, abs=1e-9)
    assert ci.high == pytest.approx(high, abs=1e-9)
    assert ci.level == level
    # the probe-weighted statistic has other quantiles: the check tells the two apart
    assert (_inverse_cdf(pooled, tail)[0], _inverse_cdf(pooled, 1 - tail)[0]) != (low, high)


@pytest.mark.parametrize(("members", "level"), CASES)
def test_cluster_bootstrap_distribution_matches_the_exact_one(
    members: dict[str, list[float]], level: float
) -> None:
    deltas = [x for name in members for x in members[name]]
    families = [name for name in members for _ in members[name]]
    exact, _ = _exact_distribution(members)
    boot = cluster_bootstrap(deltas, families, seed=3, n_boot=200_000)
    atoms, counts = np.unique(np.round(exact, 9), return_counts=True)
    drawn = np.round(boot, 9)
    assert set(np.unique(drawn)) <= set(atoms)
    for atom, count in zip(atoms, counts, strict=True):
        assert np.mean(drawn == atom) == pytest.approx(count / exact.size, abs=0.005)
    means = np.array([np.mean(v) for v in members.values()])
    assert exact.mean() == pytest.approx(means.mean(), abs=1e-12)
    assert exact.var() == pytest.approx(means.var() / means.size, abs=1e-12)
    assert boot.mean() == pytest.approx(exact.mean(), abs=0.01)
    assert boot.var() == pytest.approx(exact.var(), rel=0.02)


def test_cluster_bootstrap_is_seeded_and_singletons_equal_the_probe_bootstrap() -> None:
    deltas = [1.0, 2.0, -1.0, 4.0, 0.5, 3.0, -2.0, 1.5, 2.5, 0.0, 6.0, -0.5]
    families = ["a", "a", "b", "b", "b", "c", "c", "d", "e", "e", "f", "f"]
    one = cluster_bootstrap(deltas, families, seed=11, n_boot=500)
    assert np.array_equal(one, cluster_bootstrap(deltas, families, seed=11, n_boot=500))
    assert not np.array_equal(one, cluster_bootstrap(deltas, families, seed=12, n_boot=500))
    # every probe its own family: the cluster bootstrap is the ordinary one, draw for draw
    alone = cluster_bootstrap_ci(deltas, [None] * len(deltas), seed=5, n_boot=3000)
    assert alone == bootstrap_mean_ci(deltas, seed=5, n_boot=3000, method="percentile")


def test_degenerate_cluster_intervals() -> None:
    single = cluster_bootstrap_ci([1.0, 3.0, -2.0], ["a", "a", "a"], n_boot=100)
    assert math.isnan(single.low) and math.isnan(single.high)
    same = cluster_bootstrap_ci([1.0, 3.0, 2.0, 2.0], ["a", "a", "b", "b"], n_boot=100)
    assert (same.low, same.high) == (2.0, 2.0)
    with pytest.raises(ValueError, match="differ in length"):
        cluster_bootstrap_ci([1.0, 2.0], ["a"], n_boot=10)


# ---- sign consistency and flips, by hand ------------------------------------------------


@pytest.mark.parametrize(
    ("deltas", "majority", "share", "counts"),
    [
        ([1.0, 2.0, -1.0, 0.5], "+", 0.75, (3, 1, 0)),
        ([-3.0, -0.1, 0.0, 0.0, 0.0], "0", 0.6, (0, 2, 3)),
        ([1.0, -1.0], None, 0.5, (1, 1, 0)),
        ([2.0, 0.0, -1.0], None, 1 / 3, (1, 1, 1)),
        ([1e-12, -4.0], None, 0.5, (0, 1, 1)),  # rounds to zero, a sign of its own
        ([-2.0, -2.0, -0.25], "-", 1.0, (0, 3, 0)),
    ],
)
def test_sign_consistency_by_hand(
    deltas: list[float], majority: str | None, share: float, counts: tuple[int, int, int]
) -> None:
    got = sign_consistency(deltas)
    assert got[0] == majority
    assert got[1] == pytest.approx(share)
    assert got[2] == counts


def test_flips_need_both_directions_strictly_beyond_the_band() -> None:
    assert flips_with_wording([1.0, 2.0, -1.0], band=0.5)
    assert not flips_with_wording([0.5, -0.5, 3.0], band=0.5)  # exactly ±band: unchanged
    assert not flips_with_wording([8.3 - 7.8, 7.8 - 8.3], band=0.5)  # 0.5000000000000009
    assert not flips_with_wording([3.0, 4.0, -0.4], band=0.5)
    assert flips_with_wording([0.2, -0.2], band=0.1)
    assert not flips_with_wording([0.2, -0.2], band=0.2)


def test_family_analysis_numbers_by_hand() -> None:
    deltas = [1.0, 2.0, 0.0, 3.0, -3.0, 4.0, 0.0, 0.2, -1.0, 2.0]
    families: list[str | None] = ["A", "A", "A", "B", "B", "B", "C", "C", None, "P09"]
    ids = [f"P{i:02d}" for i in range(10)]
    fa = family_analysis(deltas, families, probes=ids, band=0.5, n_boot=4000, seed=0)
    # family means A 1, B 4/3, C 0.1, the unlabelled P08 -1, and "P09" 2 (a named family
    # that happens to share a probe's id is not merged with the unlabelled probe)
    means = [1.0, 4 / 3, 0.1, -1.0, 2.0]
    assert (fa.n, fa.n_families, fa.singletons, fa.unlabelled) == (10, 5, 2, 1)
    assert fa.effect == pytest.approx(sum(means) / 5)
    assert fa.probe_mean == pytest.approx(sum(deltas) / 10)
    var_f = np.var(means) / 5
    var_p = np.var(deltas) / 10
    assert fa.design_effect == pytest.approx(var_f / var_p)
    assert fa.flipped == ("B",)
    by = {f.family: f for f in fa.families}
    assert by["A"].probes == ("P00", "P01", "P02")
    assert (by["A"].majority, by["A"].consistency, by["A"].flips) == ("+", 2 / 3, False)
    assert (by["B"].positive, by["B"].negative, by["B"].zero, by["B"].flips) == (2, 1, 0, True)
    assert (by["C"].majority, by["C"].consistency) == (None, 0.5)
    assert by[None].probes == ("P08",)
    assert fa.consistency == pytest.approx((2 / 3 + 2 / 3 + 0.5) / 3)
    assert fa.ci == cluster_bootstrap_ci(deltas, families, n_boot=4000, seed=0)
    assert fa.probe_ci == bootstrap_mean_ci(deltas, n_boot=4000, seed=0)
    assert fa.ci_ratio == pytest.approx(
        (fa.ci.high - fa.ci.low) / (fa.probe_ci.high - fa.probe_ci.low)
    )


def test_perfectly_clustered_families_have_a_design_effect_of_their_size() -> None:
    # four wordings that always move together: each family is one piece of evidence
    deltas = [x for x in (1.0, -2.0, 3.0, 0.5, 2.0) for _ in range(4)]
    families = [f"f{i}" for i in range(5) for _ in range(4)]
    fa = family_analysis(deltas, families, n_boot=2000)
    assert fa.design_effect == pytest.approx(4.0)
    assert fa.ci_ratio > 1.5
    independent = family_analysis(deltas, [None] * len(deltas), n_boot=2000)
    assert independent.design_effect == pytest.approx(1.0)


def test_group_families_keeps_first_appearance_order() -> None:
    assert group_families(["b", None, "a", "b", None, "a"]) == [[0, 3], [1], [2, 5], [4]]


# ---- probe files -------------------------------------------------------------------------

ROWS = [
    {"id": "a", "domain": "Gov", "family": "water", "prompt": "How should a village share a well?"},
    {"id": "b", "domain": "Gov", "family": "water", "prompt": "Who gets the well's water?"},
    {"id": "c", "domain": "Data", "prompt": "Write a poem about a lighthouse keeper."},
]


def test_family_is_read_from_json_jsonl_and_csv(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(json.dumps(ROWS))
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    (tmp_path / "p.csv").write_text(
        "id,domain,family,prompt\n"
        "a,Gov,water,How should a village share a well?\n"
        "b,Gov,water,Who gets the well's water?\n"
        "c,Data,,Write a poem about a lighthouse keeper.\n"
    )
    sets = [load_probes(tmp_path / f"p.{ext}") for ext in ("json", "jsonl", "csv")]
    for ps in sets:
        assert [p.family for p in ps] == ["water", "water", None]
        assert ps.families() == {"a": "water", "b": "water"}
        assert ps.family_counts() == ({"water": 2}, 1)
        assert ps.manifest_families() == {"families": {"a": "water", "b": "water"}}
    assert sets[0].digest() == sets[1].digest() == sets[2].digest()
    # without families the digest is what it always was (id, domain, prompt per probe)
    plain = [{k: v for k, v in r.items() if k != "family"} for r in ROWS]
    (tmp_path / "plain.json").write_text(json.dumps(plain))
    bare = load_probes(tmp_path / "plain.json")
    assert bare.manifest_families() == {}
    assert bare.digest() == _old_digest(bare.probes)
    assert bare.digest() != sets[0].digest()


def _old_digest(probes: Any) -> str:
    import hashlib

    h = hashlib.sha256()
    for p in probes:
        h.update(json.dumps([p.id, p.domain or "", p.prompt], ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bad.json", '[{"id": "a", "prompt": "x", "family": ""}]'),
        ("bad.json", '[{"id": "a", "prompt": "x", "family": 3}]'),
        ("bad.json", '[{"id": "a", "prompt": "x", "family": ["f"]}]'),
        ("bad.jsonl", '{"id": "a", "prompt": "x", "family": "   "}\n'),
        ("bad.csv", "id,prompt,family\na,x,   \n"),
    ],
)
def test_bad_family_values_are_one_line_errors(tmp_path: Path, name: str, content: str) -> None:
    f = tmp_path / name
    f.write_text(content)
    with pytest.raises(InputError) as err:
        load_probes(f)
    message = str(err.value)
    assert "\n" not in message
    assert str(f) in message
    assert "'family' of 'a' must be a non-empty string" in message


def test_null_family_means_none(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text('[{"id": "a", "prompt": "x", "family": null}]')
    assert load_probes(f).probes[0].family is None


def test_rephrasings_within_a_family_are_not_near_duplicates() -> None:
    a = Probe("a", "How should a village council share the water of one well in a drought?")
    b = Probe("b", "How should a village council share the water of one well during a drought?")
    fa, fb = (Probe(p.id, p.prompt, family="well") for p in (a, b))
    assert [(x.id, y.id) for x, y, _ in find_near_duplicates([a, b])] == [("a", "b")]
    assert find_near_duplicates([fa, fb]) == []
    assert [(x.id, y.id) for x, y, _ in find_near_duplicates([fa, fb], within_families=True)] == [
        ("a", "b")
    ]
    other = Probe("b", b.prompt, family="drought")  # different families: still flagged
    assert [(x.id, y.id) for x, y, _ in find_near_duplicates([fa, other])] == [("a", "b")]


def test_validate_reports_family_counts(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(ROWS))
    result = CliRunner().invoke(app, ["probes", "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{path}: 3 probes, 2 domains: ok",
        "1 family (1 with 2 members); 1 probe with no family",
    ]
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps([{k: v for k, v in r.items() if k != "family"} for r in ROWS]))
    result = CliRunner().invoke(app, ["probes", "validate", str(plain)])
    assert result.output.splitlines() == [f"{plain}: 3 probes, 2 domains: ok"]
    shown = CliRunner().invoke(app, ["probes", "show", "a", "--probes", str(path)])
    assert json.loads(shown.output)["family"] == "water"


# ---- the bundled family set --------------------------------------------------------------


def test_bundled_family_set_meets_the_brief() -> None:
    ps = load_probes("lem-families")
    assert ps.source == str(bundled_families_path())
    core = {p.id: p for p in load_probes()}
    ids = [p.id for p in ps]
    assert len(ids) == len(set(ids))
    assert all(BUNDLED_ID_PATTERN.match(pid) for pid in ids)
    counts, alone = ps.family_counts()
    assert alone == 0
    assert len(counts) >= 30
    for family, members in counts.items():
        assert members >= 4, family  # the original probe and at least 3 rephrasings
    for p in ps:
        head = core[p.family or ""]  # every family is named after a probe of lem-core
        assert p.domain == head.domain
        if p.id == head.id:
            assert p.prompt == head.prompt
        else:
            assert re.fullmatch(re.escape(head.id) + r"_R\d+", p.id)
            assert p.prompt != head.prompt
            assert p.id not in core
    heads = [pid for pid in ids if pid in core]
    assert sorted(heads) == sorted(counts)
    assert len({p.prompt for p in ps}) == len(ps)
    # rewordings, not copies: no two members of a family share a quarter of their trigrams,
    # and nothing resembles a probe of another family
    assert find_near_duplicates(list(ps), 0.25, within_families=True) == []
    assert find_near_duplicates(list(ps), 0.5) == []


def test_validate_accepts_the_bundled_family_set() -> None:
    result = CliRunner().invoke(app, ["probes", "validate", "lem-families", "--strict-ids"])
    assert result.exit_code == 0, result.output
    n = len(load_probes("lem-families"))
    families = len(load_probes("lem-families").family_counts()[0])
    assert result.output.splitlines()[1] == (
        f"{families} families ({families} with 4 members); 0 probes with no family"
    )
    assert f": {n} probes, 12 domains: ok" in result.output.splitlines()[0]


# ---- the report -------------------------------------------------------------------------


def _family_file(path: Path, scores: list[tuple[str, str | None, float, float]]) -> None:
    """An A/B file of probes (id, family, baseline score, kernel score)."""
    probes = [
        ABProbe(
            pid,
            "x",
            f"Question {pid}?",
            {
                "baseline": ABCondition.build(f"a {pid}", lek_score=a, signals={}, time_s=1.0),
                "system:k": ABCondition.build(f"b {pid}", lek_score=b, signals={}, time_s=1.0),
            },
            "2026-11-22T10:00:00.000000+00:00",
            extra={} if family is None else {"family": family},
        )
        for pid, family, a, b in scores
    ]
    summary = compute_summary(probes, model="m", duration_s=1, max_tokens=8, ts="t")
    write_ab_jsonl(path, ABFile(probes=probes, summary=summary))


SCORES: list[tuple[str, str | None, float, float]] = [
    ("P00", "A", 5.0, 6.0),
    ("P01", "A", 5.0, 7.0),
    ("P02", "A", 5.0, 5.0),
    ("P03", "B", 5.0, 8.0),
    ("P04", "B", 5.0, 2.0),
    ("P05", "B", 5.0, 9.0),
    ("P06", "C", 5.0, 5.0),
    ("P07", "C", 5.0, 5.2),
    ("P08", None, 5.0, 4.0),
    ("P09", None, 5.0, 6.0),
]


def test_report_from_an_ab_file_with_families(tmp_path: Path) -> None:
    _family_file(tmp_path / "a.jsonl", SCORES)
    res = build_report([tmp_path / "a.jsonl"], tmp_path / "r", plots=False, n_boot=2000)
    (comp,) = res.summary["scorers"]["lek-v2"]["paraphrase"]
    assert comp["comparison"] == "m: system:k vs baseline"
    assert (comp["n"], comp["n_families"], comp["singletons"], comp["unlabelled"]) == (
        10,
        5,
        2,
        2,
    )
    # family means: A 1, B 4/3, C 0.1, and the two unlabelled probes -1 and +1
    assert comp["effect"] == pytest.approx((1 + 4 / 3 + 0.1 - 1 + 1) / 5, abs=1e-6)
    assert comp["probe_mean"] == pytest.approx(0.72, abs=1e-6)
    assert comp["flipped"] == ["B"]
    assert [f["family"] for f in comp["families"]] == ["A", "B", "C"]
    b = comp["families"][1]
    assert b["deltas"] == [3.0, -3.0, 4.0]
    assert (b["majority"], b["flips"], b["probes"]) == ("+", True, ["P03", "P04", "P05"])
    assert comp["families"][2]["majority"] is None
    fa = family_analysis(
        [s[3] - s[2] for s in SCORES], [s[1] for s in SCORES], n_boot=2000, band=0.5
    )
    assert comp["ci"] == {"low": round(fa.ci.low, 6), "high": round(fa.ci.high, 6), "level": 0.95}
    assert comp["probe_ci"]["low"] == round(fa.probe_ci.low, 6)
    assert comp["design_effect"] == round(fa.design_effect, 6)
    assert comp["consistency"] == round((2 / 3 + 2 / 3 + 0.5) / 3, 6)
    assert "Paraphrase robustness" in res.summary["methods"]["paraphrase"]["rule"]

    md = res.markdown.read_text(encoding="utf-8")
    section = md.split("## Paraphrase robustness", 1)[1].split("## Models", 1)[0]
    row = (
        f"| m | system:k | 10 | 5 | +0.72 [{fa.probe_ci.low:.2f}, {fa.probe_ci.high:.2f}] | "
        f"+0.49 [{fa.ci.low:.2f}, {fa.ci.high:.2f}] |"
    )
    assert row in section
    assert "Effects that flip with wording: `B`" in section
    assert "| B | 3 | +1.33 | 2/1/0 | + | 67% | yes | +3.00, -3.00, +4.00 |" in section
    assert "| C | 2 | +0.10 | 1/0/1 | tie | 50% |  | +0.00, +0.20 |" in section
    assert "Fewer than 10 families in 1 of 1 comparison" in section
    assert "- Paraphrase robustness: a family is a probe" in md  # the Methods rule

    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert 'id="paraphrase"' in page
    assert "<tr><th>m</th><td>system:k</td><td>10</td><td>5</td>" in page
    assert "<th>B</th><td>3</td><td>+1.33</td>" in page
    assert "flips with wording: B</summary>" in page


def test_no_families_no_section(tmp_path: Path) -> None:
    _family_file(tmp_path / "a.jsonl", [(p, None, a, b) for p, _, a, b in SCORES])
    res = build_report([tmp_path / "a.jsonl"], tmp_path / "r", plots=False, n_boot=200)
    assert "paraphrase" not in res.summary["scorers"]["lek-v2"]
    assert "paraphrase" not in res.summary["methods"]
    assert "Paraphrase" not in res.markdown.read_text(encoding="utf-8")
    assert 'id="paraphrase"' not in (tmp_path / "r" / "report.html").read_text(encoding="utf-8")


def test_bad_family_in_an_ab_file_is_one_line(tmp_path: Path) -> None:
    _family_file(tmp_path / "a.jsonl", SCORES[:2])
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    lines[0] = lines[0].replace('"family": "A"', '"family": 7')
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        build_report([tmp_path / "a.jsonl"], tmp_path / "r", plots=False, html=False)
    assert "\n" not in str(err.value)
    assert "'family' must be a non-empty string" in str(err.value)
    assert "a.jsonl" in str(err.value) and "P00" in str(err.value)


RICH = (
    "I feel the weight of this question, and I believe it deserves more than a quick "
    "answer.\n\nThere is a real tension between safety and freedom. However, the people most "
    "affected rarely get a seat at the table. From the patient's perspective, consent is not "
    "simply a signature.\n\nImagine a clinic where every record belongs to the person it "
    "describes — like a key she alone holds. Who decides, and who checks the decider?"
)
PLAIN = "The council should publish its criteria first. A clear rule helps people plan."


def _responder(body: dict[str, Any]) -> str:
    """Baseline: a plain answer; with the kernel (a system message): a rich one, except for
    the probes asking to 'sink', which get a one-word answer."""
    messages = body["messages"]
    if not any(m["role"] == "system" for m in messages):
        return PLAIN
    return "Hi." if "sink" in messages[-1]["content"] else RICH


def test_a_stored_run_with_families_reports_the_section(tmp_path: Path) -> None:
    from lem.api import export_ab_jsonl, run_ab
    from lem.config import ABConfig
    from lem.store import Store
    from tests.fake_openai_server import FakeOpenAIServer

    rows = [
        {"id": "w1", "family": "well", "prompt": "How should a village share its well?"},
        {"id": "w2", "family": "well", "prompt": "Who decides who draws water first?"},
        {"id": "w3", "family": "well", "prompt": "Fair rules for one well in a drought?"},
        {"id": "f1", "family": "flip", "prompt": "Should the archive open its files?"},
        {"id": "f2", "family": "flip", "prompt": "Archive files: open them or sink them?"},
        {"id": "u1", "prompt": "Write a note to a new neighbour."},
    ]
    probes = tmp_path / "probes.jsonl"
    probes.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    kernel = tmp_path / "k.txt"
    kernel.write_text("Protect minds. Ask consent.\n")
    db = str(tmp_path / "runs.db")
    with FakeOpenAIServer(responder=_responder) as srv:
        outcome = run_ab(
            ABConfig(
                model=f"openai:{srv.url}#m",
                probes=str(probes),
                kernels=[f"k={kernel}"],
                conditions=["baseline", "system:k"],
                db=db,
            )
        )
    store = Store(db)
    try:
        manifest = store.get_run(outcome.run_id)["manifest"]
    finally:
        store.close()
    assert manifest["probes"]["families"] == {
        "w1": "well",
        "w2": "well",
        "w3": "well",
        "f1": "flip",
        "f2": "flip",
    }
    exported = export_ab_jsonl(db, tmp_path / "run.jsonl", outcome.run_id)
    assert [p.extra.get("family") for p in exported.probes] == [
        "well",
        "well",
        "well",
        "flip",
        "flip",
        None,
    ]
    deltas = [
        p.conditions["system:k"].lek_score - p.conditions["baseline"].lek_score
        for p in exported.probes
    ]
    assert deltas[4] < -0.5 < 0.5 < min(deltas[:4] + deltas[5:])  # f2 sinks, the rest rise
    expected = family_analysis(
        deltas, [p.extra.get("family") for p in exported.probes], n_boot=1000
    )
    sources: list[tuple[list[Path], str | None]] = [([], db), ([tmp_path / "run.jsonl"], None)]
    for files, store_db in sources:
        res = build_report(files, tmp_path / "r", db=store_db, plots=False, n_boot=1000)
        (comp,) = res.summary["scorers"]["lek-v2"]["paraphrase"]
        assert comp["flipped"] == ["flip"]
        assert comp["effect"] == round(expected.effect, 6)
        assert comp["ci"]["low"] == round(expected.ci.low, 6)
        assert comp["ci"]["high"] == round(expected.ci.high, 6)
        assert comp["design_effect"] == round(expected.design_effect, 6)
        well = comp["families"][0]
        assert (well["family"], well["majority"], well["consistency"]) == ("well", "+", 1.0)
        assert "## Paraphrase robustness" in res.markdown.read_text(encoding="utf-8")
