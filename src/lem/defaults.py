"""The two names every part of lem agrees on, defined once.

``BASELINE`` is the name of the condition every other condition is compared with (the
analysis, the summaries and the viewer all test it with :func:`is_baseline`).
``DEFAULT_SCORER`` scores runs when none is named, and is what an upstream A/B file's
``lek_score`` holds."""

from __future__ import annotations

__all__ = ["BASELINE", "DEFAULT_SCORER", "is_baseline"]

BASELINE = "baseline"
DEFAULT_SCORER = "lek-v2"


def is_baseline(condition: str) -> bool:
    """Whether a condition name is the baseline."""
    return condition == BASELINE
