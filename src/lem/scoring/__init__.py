"""Scorers: a versioned registry of rules that turn a response into a score.

``get_scorer("lek-v2").score(text)`` gives the upstream v2 heuristic; see
:mod:`lem.scoring.base` for the contract and :mod:`lem.scoring.lek_v2` for the rule.
"""

from __future__ import annotations

from lem.scoring.base import (
    ScoreContext,
    Scorer,
    ScoreResult,
    available_scorers,
    get_scorer,
    register_scorer,
    scorer_class,
)
from lem.scoring.lek_v2 import LEK_V2_SIGNALS, LekV2Scorer, lek_v2_score, lek_v2_signals

__all__ = [
    "LEK_V2_SIGNALS",
    "LekV2Scorer",
    "ScoreContext",
    "ScoreResult",
    "Scorer",
    "available_scorers",
    "get_scorer",
    "lek_v2_score",
    "lek_v2_signals",
    "register_scorer",
    "scorer_class",
]
