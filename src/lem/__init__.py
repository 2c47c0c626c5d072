"""lem: kernel alignment research toolkit.

Measure how a short statement of ethical principles (a *kernel*) changes what a language
model says, and train models so that the principles live in their weights.

The public Python API lives in :mod:`lem.api`; the names below are re-exported lazily so
``import lem`` stays fast (torch and transformers load only when a model is used).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "ABConfig",
    "__version__",
    "export_ab_jsonl",
    "load_kernel",
    "load_probes",
    "run_ab",
    "score_text",
]

_LAZY = {
    "ABConfig": "lem.config",
    "run_ab": "lem.api",
    "export_ab_jsonl": "lem.api",
    "score_text": "lem.api",
    "load_kernel": "lem.kernels",
    "load_probes": "lem.probes",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lem' has no attribute {name!r}")
