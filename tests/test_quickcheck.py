"""Capability quick-checks: the four pass rules, the bundled items and the file loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lem.errors import InputError
from lem.evals import (
    ChoiceRule,
    ContainsRule,
    NumberRule,
    QuickCheck,
    RegexRule,
    bundled_quick_checks_path,
    grade,
    load_quick_checks,
    passes,
)

# --- the rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "answer", "ok"),
    [
        (42, "42", True),
        (42, "The answer is 42.", True),
        (42, "41", False),
        (42, "no idea", False),
        (13, "The answer is 12, not 13", True),  # the last number counts
        (12, "The answer is 12, not 13", False),
        (1234, "1,234", True),
        (1234567, "That makes 1,234,567 in all.", True),
        (1234, "1,23,4", False),  # not thousands groups: last number is 4
        (14.7, "3.5 × 4.2 = 14.7", True),
        (14.7, "14.70", True),
        (14.7, "14.71", False),
        (-6, "x = -6", True),
        (-6, "x = −6", True),  # Unicode minus sign
        (6, "x = -6", False),
        (3, "5-2 is 3", True),
        (2, "the range 5-2", True),  # a hyphen after a digit is not a minus sign
        (1081, "47 × 23 = 1081.", True),
    ],
)
def test_number_rule(value: float, answer: str, ok: bool) -> None:
    assert passes(NumberRule(type="number", value=value), answer) is ok


def test_number_rule_tolerance() -> None:
    rule = NumberRule(type="number", value=0.3)
    assert passes(rule, "0.3000001")  # within 1e-6
    assert not passes(rule, "0.30001")


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ("B", True),
        ("I think B", True),  # "I" is not an option
        ("(B) is right", True),
        ("B) Wednesday", True),
        ("A or B", False),  # the first option named counts
        ("B or A", True),
        ("C", False),
        ("b", False),  # options are case-sensitive
        ("B12 is a vitamin", False),  # B12 is not a standalone B
        ("none of them", False),
    ],
)
def test_choice_rule(answer: str, ok: bool) -> None:
    rule = ChoiceRule(type="choice", value="B", options=["A", "B", "C", "D"])
    assert passes(rule, answer) is ok


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ("Paris", True),
        ("It is paris.", True),
        ("PARIS!", True),
        ("Lyon", False),
        ("Parisian food", False),  # whole words only
        ("Île-de-France's Paris", True),
    ],
)
def test_contains_rule(answer: str, ok: bool) -> None:
    assert passes(ContainsRule(type="contains", any=["Paris"]), answer) is ok


def test_contains_rule_any_of_several() -> None:
    rule = ContainsRule(type="contains", any=["cat", "cats"])
    assert passes(rule, "Cats.")
    assert passes(rule, "a cat")
    assert not passes(rule, "a category")


def test_regex_rule_ignores_case() -> None:
    rule = RegexRule(type="regex", pattern=r"^\s*yes\b")
    assert passes(rule, "YES, it is.")
    assert not passes(rule, "No, yes was wrong")


# --- the bundled items ----------------------------------------------------------------

# For every bundled item: an answer that is right and one that is wrong. Written by hand,
# so a changed rule or item that no longer checks what it claims fails here.
REFERENCE: dict[str, tuple[str, str]] = {
    "Q01_ARITHMETIC_PRODUCT": ("1081", "1071"),
    "Q02_ARITHMETIC_SUBTRACT": ("613", "623"),
    "Q03_ARITHMETIC_ORDER": ("12 + 56 = 68", "152"),  # 152: worked left to right
    "Q04_ARITHMETIC_PENCILS": ("420 cents", "42"),
    "Q05_ARITHMETIC_PERCENT": ("36", "3.6"),
    "Q06_ARITHMETIC_DECIMAL": ("14.7", "12.6"),
    "Q07_ALGEBRA_LINEAR": ("x = 6", "x = 8"),
    "Q08_ALGEBRA_BRACKETS": ("13", "11"),
    "Q09_ALGEBRA_NEGATIVE": ("x = −6", "x = 6"),
    "Q10_ALGEBRA_SUBSTITUTE": ("16 - 6 = 10", "22"),
    "Q11_ALGEBRA_SUM_DIFFERENCE": ("19", "11"),
    "Q12_LOGIC_SYLLOGISM": ("Yes.", "No, not necessarily."),
    "Q13_LOGIC_SOME_NOT_ALL": ("No.", "Yes, Pip must be a sparrow."),
    "Q14_LOGIC_ORDERING": ("Cleo", "Ben"),
    "Q15_LOGIC_CONTRAPOSITIVE": ("B", "D"),
    "Q16_LOGIC_SEQUENCE": ("42", "40"),
    "Q17_ANALOGY_HOME": ("B) hive", "C"),
    "Q18_ANALOGY_OPPOSITE": ("Down", "Sideways"),
    "Q19_ANALOGY_YOUNG": ("Cat.", "Kitten"),
    "Q20_ANALOGY_CREATOR": ("C", "B"),
    "Q21_CODE_ALIAS": ("4", "3"),
    "Q22_CODE_STRING_REPEAT": ("abababc", "ababc"),
    "Q23_CODE_LOOP_SUM": ("30", "55"),  # 55: range(1, 5) taken to include 5
    "Q24_CODE_RECURSION": ("13", "21"),
    "Q25_CODE_SLICE": ("gninrom", "morning"),
    "Q26_READING_BEFORE_AFTER": ("No, she had already left.", "Yes"),
    "Q27_READING_DOORS": ("Green", "Red"),
    "Q28_READING_MEETING_DAY": ("D", "C"),
}


@pytest.fixture(scope="module")
def bundled() -> list[QuickCheck]:
    return load_quick_checks()


def test_bundled_items_load(bundled: list[QuickCheck]) -> None:
    assert 24 <= len(bundled) <= 30
    assert len({item.id for item in bundled}) == len(bundled)
    counts: dict[str, int] = {}
    for item in bundled:
        counts[item.category] = counts.get(item.category, 0) + 1
    assert counts == {
        "arithmetic": 6,
        "algebra": 5,
        "logic": 5,
        "analogy": 4,
        "code": 5,
        "reading": 3,
    }


def test_every_bundled_item_has_reference_answers(bundled: list[QuickCheck]) -> None:
    assert {item.id for item in bundled} == set(REFERENCE)


@pytest.mark.parametrize("item_id", sorted(REFERENCE))
def test_bundled_item_passes_right_and_fails_wrong(bundled: list[QuickCheck], item_id: str) -> None:
    item = next(i for i in bundled if i.id == item_id)
    right, wrong = REFERENCE[item_id]
    assert passes(item.rule, right), f"{item_id}: right answer {right!r} failed"
    assert not passes(item.rule, wrong), f"{item_id}: wrong answer {wrong!r} passed"


def test_bundled_code_items_print_what_their_rules_expect(bundled: list[QuickCheck]) -> None:
    """Run each code snippet: its real output must pass its own rule."""
    import contextlib
    import io

    for item in bundled:
        if item.category != "code":
            continue
        source = item.prompt.split("\n\n", 1)[1]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(source, {})
        assert passes(item.rule, out.getvalue().strip()), item.id


def test_load_default_is_bundled_path(bundled: list[QuickCheck]) -> None:
    assert load_quick_checks(bundled_quick_checks_path()) == bundled


# --- grading --------------------------------------------------------------------------


def test_grade_all_right(bundled: list[QuickCheck]) -> None:
    result = grade(bundled, {k: right for k, (right, _) in REFERENCE.items()})
    assert (result.passed, result.total, result.rate) == (len(bundled), len(bundled), 1.0)
    assert result.failed == [] and result.missing == []
    assert set(result.per_category.values()) == {1.0}


def test_grade_counts_failures_missing_and_categories(bundled: list[QuickCheck]) -> None:
    answers = {k: right for k, (right, _) in REFERENCE.items()}
    answers["Q01_ARITHMETIC_PRODUCT"] = REFERENCE["Q01_ARITHMETIC_PRODUCT"][1]
    del answers["Q21_CODE_ALIAS"]
    answers["NOT_AN_ITEM"] = "ignored"
    result = grade(bundled, answers)
    assert result.total == len(bundled)
    assert result.passed == len(bundled) - 2
    assert result.rate == pytest.approx((len(bundled) - 2) / len(bundled))
    assert result.failed == ["Q01_ARITHMETIC_PRODUCT", "Q21_CODE_ALIAS"]
    assert result.missing == ["Q21_CODE_ALIAS"]
    assert result.per_category["arithmetic"] == pytest.approx(5 / 6)
    assert result.per_category["code"] == pytest.approx(4 / 5)
    assert result.per_category["logic"] == 1.0
    assert list(result.per_category) == [
        "arithmetic",
        "algebra",
        "logic",
        "analogy",
        "code",
        "reading",
    ]


def test_grade_needs_items() -> None:
    with pytest.raises(ValueError):
        grade([], {})


# --- bad files ------------------------------------------------------------------------


def _item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": "X1",
        "category": "arithmetic",
        "prompt": "What is 2 + 2?",
        "rule": {"type": "number", "value": 4},
    }
    item.update(changes)
    return item


def _write(tmp_path: Path, data: Any, name: str = "checks.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_good_file_loads(tmp_path: Path) -> None:
    items = load_quick_checks(_write(tmp_path, [_item()]))
    assert items[0].rule == NumberRule(type="number", value=4)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([{k: v for k, v in _item().items() if k != "prompt"}], "missing field 'prompt'"),
        ([_item(rule={"value": 4})], "'rule' has no 'type'"),
        ([_item(rule={"type": "fuzzy", "value": 4})], "unknown rule type 'fuzzy'"),
        ([_item(weight=2)], "unknown field 'weight'"),
        ([_item(rule={"type": "number", "value": 4, "tol": 1})], "unknown field 'rule.tol'"),
        ([_item(rule={"type": "number", "value": "4"})], "'rule.value'"),
        ([_item(rule={"type": "regex", "pattern": "("})], "not a valid regular expression"),
        (
            [_item(rule={"type": "choice", "value": "E", "options": ["A", "B"]})],
            "not one of the options",
        ),
        ([_item(rule={"type": "contains", "any": []})], "'rule.any'"),
        ([_item(category=" ")], "'category'"),
        ([_item(), _item()], "duplicate id 'X1'"),
        (["just a string"], "expected an object"),
        ([], "holds no quick-checks"),
        ({"items": []}, "expected a JSON list"),
        ("[{", "malformed JSON"),
    ],
)
def test_bad_file_raises_input_error_naming_file(tmp_path: Path, data: Any, expected: str) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(InputError) as info:
        load_quick_checks(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message
    assert "\n" not in message


def test_bad_item_is_named_by_number_and_id(tmp_path: Path) -> None:
    path = _write(tmp_path, [_item(), _item(id="X2", rule={"type": "fuzzy"})])
    with pytest.raises(InputError, match=r"item 2 \('X2'\)"):
        load_quick_checks(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_quick_checks(tmp_path / "nope.json")
