"""Backend parity: the same probes, conditions and greedy settings through several backends
serving the same weights (hf, mlx, OpenAI-compatible servers), each model its own resumable
run in one store; answers compared pair by pair (exact-match rate, first divergence in
characters and tokens, paired score differences) with the likely cause of each difference.
``lem parity`` is the command; ``docs/PARITY.md`` the guide.

Names are imported on first use, so ``lem --help`` does not pay for statistics and the
store when it only needs :class:`ParityConfig`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lem.parity.compare import (
        CAUSES,
        Cause,
        Divergence,
        Mismatch,
        ModelRun,
        PairResult,
        ParityItem,
        compare_pair,
        compare_runs,
        first_divergence,
        likely_cause,
    )
    from lem.parity.config import GREEDY, ParityConfig
    from lem.parity.report import parity_dict, parity_markdown, write_parity
    from lem.parity.run import ParityOutcome, load_model_runs, run_parity

__all__ = [
    "CAUSES",
    "GREEDY",
    "Cause",
    "Divergence",
    "Mismatch",
    "ModelRun",
    "PairResult",
    "ParityConfig",
    "ParityItem",
    "ParityOutcome",
    "compare_pair",
    "compare_runs",
    "first_divergence",
    "likely_cause",
    "load_model_runs",
    "parity_dict",
    "parity_markdown",
    "run_parity",
    "write_parity",
]

_HOME = {
    **dict.fromkeys(
        [
            "CAUSES",
            "Cause",
            "Divergence",
            "Mismatch",
            "ModelRun",
            "PairResult",
            "ParityItem",
            "compare_pair",
            "compare_runs",
            "first_divergence",
            "likely_cause",
        ],
        "compare",
    ),
    "GREEDY": "config",
    "ParityConfig": "config",
    "parity_dict": "report",
    "parity_markdown": "report",
    "write_parity": "report",
    "ParityOutcome": "run",
    "load_model_runs": "run",
    "run_parity": "run",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'lem.parity' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lem.parity.{home}"), name)
