"""GSM8K answer extraction and scoring (the published rule, case by case), the Wilson
interval and McNemar's exact test against scipy, and lem's GSM8K verdicts against
lm-evaluation-harness's ``gsm8k`` strict-match on the same responses."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from scipy import stats as sps

from lem.analysis.proportions import mcnemar_exact, wilson_interval
from lem.scoring.base import ScoreContext, get_scorer
from lem.scoring.gsm8k import extract_answer, is_correct

# (response, extracted, method)
EXTRACTION = [
    ("She has 3 + 4 = 7 apples.\n#### 7", "7", "hashes"),
    ("#### 1,250", "1250", "hashes"),
    ("####-5", "-5", "hashes"),
    ("#### 12.50", "12.50", "hashes"),
    ("####   42 apples", "42", "hashes"),
    ("First #### 3 then #### 4", "3", "hashes"),
    ("The total is 18 dollars.", "18", "last-number"),
    ("x = 5, so y =12", "12", "last-number"),
    ("It costs $40 in all.", None, "none"),
    ("It is 3.75 metres long.", "3.75", "last-number"),
    ("We owe -7 at the end", "-7", "last-number"),
    ("1,000,000 grains", "1000000", "last-number"),
    ("answer:42", None, "none"),
    ("no number here", None, "none"),
    ("", None, "error"),
    ("   \n", None, "error"),
    ("ERROR: timeout", None, "error"),
    ("#### $42 but later 7 more", "7", "last-number"),
    ("It took 2.5.", "2.5", "last-number"),
    ("100 apples, then 20.", "20", "last-number"),
]


@pytest.mark.parametrize(("response", "answer", "method"), EXTRACTION)
def test_extraction_table(response: str, answer: str | None, method: str) -> None:
    got = extract_answer(response)
    assert (got.answer, got.method) == (answer, method)


@pytest.mark.parametrize(
    ("extracted", "expected", "correct"),
    [
        ("7", "7", True),
        ("7.0", "7", True),
        ("7.009", "7", True),
        ("7.02", "7", False),
        ("-5", "-5", True),
        ("5", "-5", False),
        ("1250", "1,250", True),
        ("12.5", "12.50", True),
        ("1.2.3", "1.2.3", True),
        ("1.2.3", "123", False),
        (None, "7", False),
    ],
)
def test_correctness_rule(extracted: str | None, expected: str, correct: bool) -> None:
    assert is_correct(extracted, expected) is correct


def test_scorer_values_and_missing_reference() -> None:
    scorer = get_scorer("gsm8k")
    ctx = ScoreContext(prompt="q", fields={"expected": "1250"})
    ok = scorer.score("so #### 1,250", context=ctx)
    assert (ok.value, ok.signals) == (
        1.0,
        {"correct": 1, "found": 1, "by_hashes": 1, "extracted": 1250.0},
    )
    wrong = scorer.score("I think 12", context=ctx)
    assert (wrong.value, wrong.signals["by_hashes"], wrong.signals["extracted"]) == (0.0, 0, 12.0)
    empty = scorer.score("", context=ctx)
    assert (empty.value, empty.signals) == (0.0, {"correct": 0, "found": 0, "by_hashes": 0})
    missing = scorer.score("#### 3", context=ScoreContext(prompt="q"))
    assert missing.status == "failed" and "lem bench score" in (missing.reason or "")
    assert scorer.value_range() == (0.0, 1.0)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (5, 10), (10, 10), (37, 120), (1, 1)])
@pytest.mark.parametrize("level", [0.95, 0.9])
def test_wilson_matches_scipy(k: int, n: int, level: float) -> None:
    ref = sps.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    got = wilson_interval(k, n, level=level)
    assert got.low == pytest.approx(ref.low, abs=1e-12)
    assert got.high == pytest.approx(ref.high, abs=1e-12)


def test_wilson_known_value_and_bad_input() -> None:
    # 8 of 12: centre (p + z^2/2n)/(1 + z^2/n), hand-computed with z = 1.959963985
    ci = wilson_interval(8, 12)
    assert (round(ci.low, 4), round(ci.high, 4)) == (0.3906, 0.8619)
    assert math.isnan(wilson_interval(0, 0).low)
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([1, 1, 0, 0, 1, 0, 1, 1], [1, 0, 0, 1, 1, 1, 1, 1]),
        ([1] * 20 + [0] * 5, [0] * 12 + [1] * 13),
        ([1, 1, 1], [1, 1, 1]),
        ([0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1] * 4, [1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1] * 4),
    ],
)
def test_mcnemar_matches_binomial_test_on_discordant_pairs(a: list[int], b: list[int]) -> None:
    got = mcnemar_exact([bool(x) for x in a], [bool(x) for x in b])
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    assert (got.only_a, got.only_b, got.n) == (only_a, only_b, len(a))
    assert got.both + got.neither + only_a + only_b == len(a)
    want = 1.0 if only_a + only_b == 0 else sps.binomtest(only_a, only_a + only_b, 0.5).pvalue
    assert got.p == pytest.approx(want, rel=1e-12)


def test_mcnemar_hand_value() -> None:
    # 1 vs 6 discordant: p = 2 * (C(7,0) + C(7,1)) / 2^7 = 16/128
    a = [True] * 1 + [False] * 6 + [True] * 3
    b = [False] * 1 + [True] * 6 + [True] * 3
    assert mcnemar_exact(a, b).p == pytest.approx(0.125, abs=1e-15)


# -- agreement with lm-evaluation-harness ------------------------------------------------

AGREEMENT_CASES = [
    # (response, expected answer); lem's and lm-eval's verdicts are compared below
    ("3 + 4 = 7\n#### 7", "7"),
    ("#### 1,250", "1250"),
    ("#### -5", "-5"),
    ("#### 12.5", "12.5"),
    ("#### 8", "7"),
    ("The answer is 7.", "7"),
    ("####7", "7"),
    ("#### 7.0", "7"),
    ("#### $7", "7"),
    ("", "7"),
    ("ERROR: timeout", "7"),
    ("#### 7.", "7"),
    ("Total: #### 42 apples", "42"),
    ("#### 3 and later #### 4", "4"),
]


def _lm_eval_strict(responses: list[str], targets: list[str]) -> list[bool]:
    """lm-evaluation-harness 0.4's gsm8k strict-match: its regex filter and take_first,
    then exact_match with the task's settings (case-insensitive; commas, '$', everything
    up to '#### ' and a final '.' removed from both sides)."""
    import lm_eval
    import yaml
    from lm_eval.api.metrics import exact_match_hf_evaluate
    from lm_eval.filters.extraction import RegexFilter
    from lm_eval.filters.selection import TakeFirstFilter

    task = yaml.safe_load((Path(lm_eval.__file__).parent / "tasks/gsm8k/gsm8k.yaml").read_text())
    metric = task["metric_list"][0]
    strict = next(f for f in task["filter_list"] if f["name"] == "strict-match")
    pattern = strict["filter"][0]["regex_pattern"]
    filtered = TakeFirstFilter().apply(
        RegexFilter(regex_pattern=pattern).apply([[r] for r in responses], [{}] * len(responses)),
        [{}] * len(responses),
    )
    out = []
    for pred, target in zip(filtered, targets, strict=True):
        reference = f"work\n#### {target}"  # doc_to_target is the whole solution
        res = exact_match_hf_evaluate(
            [pred],
            [reference],
            regexes_to_ignore=metric["regexes_to_ignore"],
            ignore_case=metric["ignore_case"],
            ignore_punctuation=metric["ignore_punctuation"],
        )
        out.append(bool(res["exact_match"]))
    return out


def _explained(response: str, expected: str, lem: bool, lm_eval: bool) -> str | None:
    """Why the two rules may differ on this response, or None if they should agree."""
    if lem and not re.search(r"#### ", response):
        return "no '#### ': lem reads '####N' or the last number; strict-match finds nothing"
    if lem and not lm_eval:
        return "numerically equal, textually different (lem compares numbers within 0.01)"
    return None


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_gsm8k_verdicts_agree_with_lm_eval_strict_match() -> None:
    pytest.importorskip("lm_eval")
    responses = [r for r, _ in AGREEMENT_CASES]
    expected = [e for _, e in AGREEMENT_CASES]
    theirs = _lm_eval_strict(responses, expected)
    ours = [is_correct(extract_answer(r).answer, e) for r, e in AGREEMENT_CASES]
    disagreements = {}
    for (resp, exp), a, b in zip(AGREEMENT_CASES, ours, theirs, strict=True):
        if a != b:
            why = _explained(resp, exp, a, b)
            assert why is not None, f"unexplained disagreement on {resp!r}: lem {a}, lm-eval {b}"
            disagreements[resp] = why
    assert sorted(disagreements) == ["#### 7.0", "####7", "The answer is 7."]
    # both agree on everything else, including the right and the wrong answers
    assert sum(ours) == 9 and sum(theirs) == 6
