"""Evaluations used around training: quick capability checks with deterministic rules.

:mod:`lem.evals.quickcheck` holds the quick-check items, their pass rules, the loader
for quick-check files (lem's own set is bundled) and the grader.
"""

from __future__ import annotations

from lem.evals.quickcheck import (
    NUMBER_TOLERANCE,
    ChoiceRule,
    ContainsRule,
    NumberRule,
    QuickCheck,
    QuickCheckResult,
    RegexRule,
    Rule,
    bundled_quick_checks_path,
    grade,
    load_quick_checks,
    passes,
)

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
