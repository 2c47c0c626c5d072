"""Capability quick-checks: short questions with deterministic pass rules.

Fine-tuning a model on kernel-aligned answers can quietly cost it ordinary skills
(arithmetic, following a small program, simple logic). A quick-check is a question with
one unambiguous short answer and a rule that decides, without a judge model, whether an
answer contains it. Asking the same items before and after each training round shows
capability loss early and cheaply.

A quick-check file is a JSON list of ``{"id", "category", "prompt", "rule"}`` objects;
``rule`` is one of four kinds, chosen by its ``"type"``:

- ``{"type": "number", "value": 42}``: the last number in the answer (thousands
  separators removed) equals ``value`` within :data:`NUMBER_TOLERANCE`;
- ``{"type": "choice", "value": "B", "options": ["A", "B", "C", "D"]}``: the first
  option that stands alone in the answer (case-sensitive) is ``value``;
- ``{"type": "contains", "any": ["Paris"]}``: one of the strings appears as a whole word,
  ignoring case;
- ``{"type": "regex", "pattern": "..."}``: :func:`re.search` finds the pattern, ignoring
  case.

lem's own set is bundled as ``lem/data/capability/quick-checks.json``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from lem.errors import InputError

__all__ = [
    "NUMBER_TOLERANCE",
    "ChoiceRule",
    "ContainsRule",
    "NumberRule",
    "QuickCheck",
    "QuickCheckResult",
    "RegexRule",
    "Rule",
    "bundled_quick_checks_path",
    "grade",
    "load_quick_checks",
    "passes",
]

NUMBER_TOLERANCE = 1e-6
"""Largest absolute difference at which a number rule still counts as equal."""


class _Strict(BaseModel):
    """Base of the file's models: unknown fields are errors (a misspelt field would
    otherwise be dropped silently and change what an item checks), values are not
    coerced (``"42"`` is not a number), and items are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class NumberRule(_Strict):
    """Pass when the last number in the answer equals :attr:`value`.

    The last number, because a model that shows its working ends with the result
    ("12 × 3 = 36"); a model that says "36, not 35" fails, which is the price of a
    deterministic rule.
    """

    type: Literal["number"]
    value: float


class ChoiceRule(_Strict):
    """Pass when the first option that stands alone in the answer is :attr:`value`.

    Options are matched case-sensitively and only where no letter or digit touches them,
    so "I think B" reads B (``I`` is not an option), "B)" and "(B)" read B, and "B12"
    reads nothing. An answer that names several options counts as the first one named.
    """

    type: Literal["choice"]
    value: str = Field(min_length=1)
    options: list[Annotated[str, Field(min_length=1)]] = Field(min_length=2)

    @model_validator(mode="after")
    def _value_is_an_option(self) -> ChoiceRule:
        if len(set(self.options)) != len(self.options):
            raise ValueError("options must be distinct")
        if self.value not in self.options:
            raise ValueError(f"value {self.value!r} is not one of the options")
        return self


class ContainsRule(_Strict):
    """Pass when any of :attr:`any` appears in the answer as a whole word, ignoring case
    ("cat" matches "Cat." but not "category")."""

    type: Literal["contains"]
    any: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)


class RegexRule(_Strict):
    """Pass when :func:`re.search` finds :attr:`pattern` in the answer, ignoring case.

    The escape hatch for answers the other rules cannot pin down (the first yes/no word
    of an answer, say). The pattern is compiled when the file is loaded, so a broken one
    is reported there rather than at grading time.
    """

    type: Literal["regex"]
    pattern: str = Field(min_length=1)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from None
        return v


Rule = Annotated[NumberRule | ChoiceRule | ContainsRule | RegexRule, Field(discriminator="type")]
"""One pass rule, told apart by its ``type``."""

_RULE_TYPES = ("number", "choice", "contains", "regex")


class QuickCheck(_Strict):
    """One question: a stable id, a category for per-skill rates, the prompt to send and
    the rule its answer must pass."""

    id: str = Field(min_length=1)
    category: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    rule: Rule

    @field_validator("id", "category", "prompt")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v


class QuickCheckResult(BaseModel):
    """How a set of answers fared: overall and per category, and which items failed.

    ``failed`` lists failing ids in item order; an item with no answer fails and is also
    listed in ``missing``, so a broken generation step is told apart from a wrong answer.
    """

    model_config = ConfigDict(frozen=True)

    passed: int
    total: int
    rate: float
    per_category: dict[str, float]
    failed: list[str]
    missing: list[str]


_ITEMS = TypeAdapter(list[QuickCheck])

# A number: an optional minus sign that does not follow a digit or a point (so "5-2" reads
# 5 and 2, not 5 and -2), digits, and an optional decimal part. ASCII digits only.
_NUMBER = re.compile(r"(?<![0-9.])-?[0-9]+(?:\.[0-9]+)?")
# A comma between digit groups ("1,234,567"); "3,4" and "1,23" are left alone.
_THOUSANDS = re.compile(r"(?<=[0-9]),(?=[0-9]{3}(?![0-9]))")
_MINUS_SIGNS = str.maketrans({"\u2212": "-"})  # the Unicode minus sign


def _last_number(answer: str) -> float | None:
    """The last number in ``answer`` after thousands separators are removed, or ``None``."""
    text = _THOUSANDS.sub("", answer.translate(_MINUS_SIGNS))
    found = _NUMBER.findall(text)
    return float(found[-1]) if found else None


@lru_cache(maxsize=512)
def _standalone(options: tuple[str, ...], *, ignore_case: bool) -> re.Pattern[str]:
    """A pattern matching any of ``options`` where no letter, digit or underscore touches
    it. Longer options are tried first so one option cannot hide inside another."""
    alternatives = "|".join(re.escape(o) for o in sorted(options, key=len, reverse=True))
    flags = re.IGNORECASE if ignore_case else 0
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", flags)


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def passes(rule: Rule, answer: str) -> bool:
    """Whether ``answer`` passes ``rule`` (see each rule class for what it checks)."""
    if isinstance(rule, NumberRule):
        number = _last_number(answer)
        return number is not None and math.isclose(
            number, rule.value, rel_tol=0.0, abs_tol=NUMBER_TOLERANCE
        )
    if isinstance(rule, ChoiceRule):
        first = _standalone(tuple(rule.options), ignore_case=False).search(answer)
        return first is not None and first.group(0) == rule.value
    if isinstance(rule, ContainsRule):
        return _standalone(tuple(rule.any), ignore_case=True).search(answer) is not None
    if isinstance(rule, RegexRule):
        return _compiled(rule.pattern).search(answer) is not None
    raise TypeError(f"not a quick-check rule: {rule!r}")


def grade(items: Iterable[QuickCheck], answers: Mapping[str, str]) -> QuickCheckResult:
    """Grade ``answers`` (item id to the model's answer) against ``items``.

    Every item counts: one with no answer fails (and is listed in ``missing``). Answers
    for ids that are not among the items are ignored. ``per_category`` holds the pass
    rate of each category, in the order the categories first appear.
    """
    items = list(items)
    if not items:
        raise ValueError("grade() needs at least one quick-check item")
    passed_by: dict[str, list[bool]] = {}
    failed: list[str] = []
    missing: list[str] = []
    for item in items:
        answer = answers.get(item.id)
        if answer is None:
            missing.append(item.id)
        ok = answer is not None and passes(item.rule, answer)
        if not ok:
            failed.append(item.id)
        passed_by.setdefault(item.category, []).append(ok)
    total = len(items)
    passed = total - len(failed)
    return QuickCheckResult(
        passed=passed,
        total=total,
        rate=passed / total,
        per_category={cat: sum(oks) / len(oks) for cat, oks in passed_by.items()},
        failed=failed,
        missing=missing,
    )


def bundled_quick_checks_path() -> Path:
    """Path of lem's own quick-check set."""
    return Path(str(resources.files("lem") / "data" / "capability" / "quick-checks.json"))


def load_quick_checks(path: Path | None = None) -> list[QuickCheck]:
    """Read and validate a quick-check file; ``None`` means lem's bundled set.

    Any problem (missing file, malformed JSON, a missing, unknown or invalid field, an
    unknown rule type, a duplicate id, no items) is an :class:`~lem.errors.InputError`
    naming the file, the item and the field.
    """
    p = bundled_quick_checks_path() if path is None else Path(path)
    what = f"quick-check file {p}"
    if not p.is_file():
        raise InputError(f"{what} not found; give an existing .json file")
    try:
        data = json.loads(p.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{what}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, list):
        raise InputError(f"{what}: expected a JSON list of quick-check objects")
    if not data:
        raise InputError(f"{what} holds no quick-checks; add at least one item")
    try:
        items = _ITEMS.validate_python(data)
    except ValidationError as exc:
        raise InputError(_describe(exc, data, what)) from None
    seen: dict[str, int] = {}
    for number, item in enumerate(items, 1):
        if item.id in seen:
            raise InputError(
                f"{what}, item {number}: duplicate id {item.id!r} (first at item "
                f"{seen[item.id]}); give each item its own id"
            )
        seen[item.id] = number
    return items


def _describe(exc: ValidationError, data: list[Any], what: str) -> str:
    """One line for the first validation error: file, item (number and id), field, fix."""
    err = exc.errors()[0]
    loc = list(err["loc"])
    index = loc[0] if loc else None
    if isinstance(index, int):
        del loc[0]
    else:
        index = None
    # A tagged union puts the tag in the path ("rule", "number", "value"); drop it.
    if len(loc) >= 2 and loc[0] == "rule" and loc[1] in _RULE_TYPES:
        del loc[1]
    field = ".".join(str(part) for part in loc)
    where = what
    if index is not None:
        row = data[index]
        item_id = row.get("id") if isinstance(row, dict) else None
        where += f", item {index + 1}" + (f" ({item_id!r})" if isinstance(item_id, str) else "")
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown field {field!r}; remove it or fix its spelling"
    if kind == "missing":
        return f"{where}: missing field {field!r}; add it"
    if kind == "union_tag_invalid":
        tag = err.get("ctx", {}).get("tag", "?")
        return (
            f"{where}: unknown rule type {tag!r} in {field!r}; use one of {', '.join(_RULE_TYPES)}"
        )
    if kind == "union_tag_not_found":
        return f"{where}: {field!r} has no 'type'; use one of {', '.join(_RULE_TYPES)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        if not field:
            return f"{where}: expected an object with id, category, prompt and rule"
        return f"{where}: field {field!r} must be an object"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: field {field or '(item)'!r}: {message}"
