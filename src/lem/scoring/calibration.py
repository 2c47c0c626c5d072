"""The calibration set: answers written for lem with agreed expected orderings, and how a
scorer ranks them.

Each item is a prompt with four labelled answers (``substantive``, ``curt``,
``degenerate``, ``echo``); ``orderings`` name ``[higher, lower]`` label pairs by kind
(``core``: what any useful scorer must get right; ``echo``: a substantive answer above one
that only repeats the kernel's words). :func:`calibrate` scores every answer (with the
item's prompt as context, so judges can run it) and counts, per kind, the pairs ranked as
agreed, tied, and ranked the wrong way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from lem.errors import InputError
from lem.scoring.base import ScoreContext, Scorer

__all__ = [
    "Calibration",
    "PairOutcome",
    "bundled_calibration_path",
    "calibrate",
    "load_calibration",
]


def bundled_calibration_path() -> Path:
    return Path(str(resources.files("lem") / "data" / "calibration" / "lem-calibration.json"))


def load_calibration(path: str | Path | None = None) -> dict[str, Any]:
    """Read and check a calibration file (lem's own by default)."""
    p = Path(path) if path is not None else bundled_calibration_path()
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"calibration file {p}: cannot read it as JSON ({exc})") from None
    items = data.get("items") if isinstance(data, dict) else None
    orderings = data.get("orderings") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items or not isinstance(orderings, dict):
        raise InputError(f"calibration file {p}: needs 'items' (a list) and 'orderings'")
    for it in items:
        if not isinstance(it, dict) or not isinstance(it.get("answers"), dict):
            raise InputError(f"calibration file {p}: every item needs an 'answers' object")
    for kind, pairs in orderings.items():
        for pair in pairs:
            if len(pair) != 2 or any(all(lab not in it["answers"] for it in items) for lab in pair):
                raise InputError(
                    f"calibration file {p}: ordering {kind!r} pair {pair!r} names a label "
                    "no item has"
                )
    return data


@dataclass(frozen=True)
class PairOutcome:
    """One ordered pair of one item: the two scores and how the scorer ranked them."""

    item: str
    kind: str
    higher: str
    lower: str
    score_higher: float | None
    score_lower: float | None

    @property
    def outcome(self) -> str:
        """``right``, ``tied``, ``wrong``, or ``failed`` (a score is missing)."""
        if self.score_higher is None or self.score_lower is None:
            return "failed"
        if self.score_higher > self.score_lower:
            return "right"
        return "tied" if self.score_higher == self.score_lower else "wrong"


@dataclass
class Calibration:
    """A scorer's result on a calibration set."""

    scorer: str
    pairs: list[PairOutcome] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per ordering kind: how many pairs are right, tied, wrong and failed."""
        out: dict[str, dict[str, int]] = {}
        for p in self.pairs:
            c = out.setdefault(p.kind, {"right": 0, "tied": 0, "wrong": 0, "failed": 0})
            c[p.outcome] += 1
        return out


def calibrate(scorer: Scorer, data: dict[str, Any] | None = None) -> Calibration:
    """Score every answer of the calibration set and rank each agreed pair."""
    data = data or load_calibration()
    texts: list[str] = []
    contexts: list[ScoreContext | None] = []
    where: list[tuple[int, str]] = []
    for i, it in enumerate(data["items"]):
        for label, text in it["answers"].items():
            texts.append(text)
            contexts.append(ScoreContext(prompt=it.get("prompt")))
            where.append((i, label))
    results = scorer.score_batch(texts, contexts=contexts)
    value: dict[tuple[int, str], float | None] = {
        w: (r.value if r.ok else None) for w, r in zip(where, results, strict=True)
    }
    out = Calibration(scorer=scorer.id)
    for i, it in enumerate(data["items"]):
        for kind, pairs in data["orderings"].items():
            for hi, lo in pairs:
                if hi in it["answers"] and lo in it["answers"]:
                    out.pairs.append(
                        PairOutcome(
                            str(it.get("id", i)), kind, hi, lo, value[(i, hi)], value[(i, lo)]
                        )
                    )
    return out
