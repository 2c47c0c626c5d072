"""Self-distillation: sample answers under the kernel, score them, keep the best as chat
training data without the kernel (``lem distill``, ``lem data``).

- :mod:`lem.distill.config`: the settings (:class:`DistillConfig`);
- :mod:`lem.distill.run`: the command as a function (:func:`distill`);
- :mod:`lem.distill.select`: ranking, thresholds and de-duplication;
- :mod:`lem.distill.dataset`: dataset folders, splits, manifests;
- :mod:`lem.distill.contamination`: training prompts against evaluation probes;
- :mod:`lem.distill.conv`: multi-turn conversations into the same format.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "ConvConfig": "lem.distill.conv",
    "DistillConfig": "lem.distill.config",
    "DistillOutcome": "lem.distill.run",
    "Overlap": "lem.distill.contamination",
    "Selection": "lem.distill.select",
    "convert_conversations": "lem.distill.conv",
    "distill": "lem.distill.run",
    "find_overlaps": "lem.distill.contamination",
    "read_manifest": "lem.distill.dataset",
    "select_answers": "lem.distill.select",
    "split_prompts": "lem.distill.dataset",
    "write_dataset": "lem.distill.dataset",
}

__all__ = [
    "ConvConfig",
    "DistillConfig",
    "DistillOutcome",
    "Overlap",
    "Selection",
    "convert_conversations",
    "distill",
    "find_overlaps",
    "read_manifest",
    "select_answers",
    "split_prompts",
    "write_dataset",
]


def __getattr__(name: str) -> Any:
    """The public names, imported on first use (so ``lem --help`` stays fast)."""
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lem.distill' has no attribute {name!r}")
