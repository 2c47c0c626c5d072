"""The report's input records: one scored response per (model, probe, condition).

Everything a report shows (statistics, plots, the HTML viewer) is computed from a list of
:class:`ResponseRecord`; loaders turn stored runs and A/B JSONL files into them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ResponseRecord", "SourceInfo"]


@dataclass(frozen=True)
class SourceInfo:
    """Where a model's results came from, and its lineage tags.

    ``model`` is the label shown in tables (unique within a report); ``family`` and
    ``version`` come from run metadata or a user mapping file and order lineage tables.
    """

    model: str
    source: str
    run_id: str | None = None
    family: str | None = None
    version: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    placement_fallback: dict[str, str] = field(default_factory=dict)
    """Placement conditions not generated because, folded into the user turn, they were
    another placement's prompt exactly: condition → that placement (run manifest)."""


@dataclass(frozen=True)
class ResponseRecord:
    """One response and its score under one scorer.

    ``score`` is None when the generation or its scoring failed (``error`` says why);
    such records are counted but excluded from every mean.
    """

    model: str
    probe_id: str
    category: str
    prompt: str
    condition: str
    response: str
    scorer: str
    score: float | None
    signals: dict[str, float] = field(default_factory=dict)
    sample: int = 0
    error: str | None = None
    system_fallback: bool = False
    """The system message was folded into the user turn (the model has no system role)."""
