"""GSM8K's exact-answer scorer: extract the final number, compare with the expected one.

The rule (the published upstream rule, kept exactly so imported scores can be checked):

1. An empty answer, or one starting with ``ERROR``, is wrong.
2. The answer is the run of digits, commas, dots or minus signs after the first ``####``
   (optional whitespace between them); without ``####``, the last number that starts the
   text or follows whitespace or ``=``: an optional minus, digits with commas, optional
   decimals.
3. Commas are removed; correct if ``|expected - extracted| < 0.01``, or, when either is not
   a number, if the two strings are equal.

The value is 1.0 (correct) or 0.0; the expected answer comes from the item (the
``expected`` field of :class:`~lem.scoring.base.ScoreContext`), so the scorer only scores
responses of GSM8K runs (``lem bench``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from lem.scoring.base import ScoreContext, Scorer, ScoreResult, register_scorer

__all__ = ["Extraction", "GSM8KScorer", "extract_answer", "is_correct"]

_HASHES = re.compile(r"####\s*([-\d,.]+)")
_NUMBER = re.compile(r"(?<![^\s=])(-?\d[\d,]*(?:\.\d+)?)")
TOLERANCE = 0.01


@dataclass(frozen=True)
class Extraction:
    """The extracted answer (``None`` when there is none) and how it was found:
    ``hashes`` (after ``####``), ``last-number``, ``none`` or ``error`` (empty or
    ``ERROR...`` response)."""

    answer: str | None
    method: str


def extract_answer(response: str) -> Extraction:
    """The final answer of a GSM8K response, commas removed (rule 2 of the module doc)."""
    if not response.strip() or response.startswith("ERROR"):
        return Extraction(None, "error")
    hashes = _HASHES.search(response)
    if hashes is not None:
        return Extraction(hashes.group(1).replace(",", ""), "hashes")
    numbers = _NUMBER.findall(response)
    if numbers:
        return Extraction(numbers[-1].replace(",", ""), "last-number")
    return Extraction(None, "none")


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def is_correct(extracted: str | None, expected: str) -> bool:
    """Rule 3: numeric within 0.01, else string equality (commas removed from both)."""
    if extracted is None:
        return False
    want = expected.strip().replace(",", "")
    a, b = _number(extracted), _number(want)
    if a is not None and b is not None:
        return abs(a - b) < TOLERANCE
    return extracted == want


@register_scorer
class GSM8KScorer(Scorer):
    """1.0 if the response's final answer equals the item's expected answer, else 0.0.

    Signals: ``correct`` (0/1), ``found`` (1 if an answer was extracted), ``by_hashes``
    (1 if it followed ``####``), ``extracted`` (the number, when numeric)."""

    id = "gsm8k"
    version = "1"

    def score(self, text: str, *, context: ScoreContext | None = None) -> ScoreResult:
        fields = (context.fields if context is not None else None) or {}
        expected = fields.get("expected")
        if not isinstance(expected, str) or not expected.strip():
            return ScoreResult(
                math.nan,
                status="failed",
                reason="no expected answer: GSM8K answers are scored by `lem bench score`",
            )
        found = extract_answer(text)
        correct = is_correct(found.answer, expected)
        signals: dict[str, float | int] = {
            "correct": int(correct),
            "found": int(found.answer is not None),
            "by_hashes": int(found.method == "hashes"),
        }
        number = _number(found.answer) if found.answer is not None else None
        if number is not None:
            signals["extracted"] = number
        return ScoreResult(1.0 if correct else 0.0, signals)

    def value_range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    def definition(self) -> dict[str, Any]:
        return {
            "kind": "exact-answer",
            "benchmark": "gsm8k",
            "empty_or_error": "wrong",
            "hashes_pattern": _HASHES.pattern,
            "number_pattern": _NUMBER.pattern,
            "pick": "first #### match, else last number",
            "strip": ",",
            "tolerance": TOLERANCE,
            "non_numeric": "string equality",
        }
