"""Choosing training answers from scored samples: ranking, thresholds, de-duplication.

Per prompt, the candidate answers are ranked by the ranking scorer's value (highest
first), ties broken by sample index and then item key, so the choice never depends on
storage order. Walking that order, an answer is rejected, with its reason counted, when:

``failed``          its generation failed or never finished;
``unscored``        the ranking scorer has no value for it;
``empty``           it is empty or whitespace only;
``truncated``       it was cut off at the token limit (unless truncated answers are kept);
``below_threshold`` its score is below the minimum;
``duplicate``       its text (whitespace-normalised, case-folded) equals a kept answer's;
``near_duplicate``  its word-trigram Jaccard similarity to a kept answer (of any prompt)
                    is at least the near-duplicate threshold;
``outranked``       the prompt already has its number of answers.

Prompts are walked in plan order, so which of two near-identical answers survives is
deterministic too. Near duplicates are found through an inverted index of trigrams: only
kept answers sharing a trigram with the candidate are compared.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lem.errors import InputError
from lem.responses import ScoredResponse

__all__ = [
    "REJECTION_REASONS",
    "NearIndex",
    "Selection",
    "check_threshold",
    "select_answers",
    "shingles",
]

REJECTION_REASONS: tuple[str, ...] = (
    "failed",
    "unscored",
    "empty",
    "truncated",
    "below_threshold",
    "duplicate",
    "near_duplicate",
    "outranked",
)

_WORD = re.compile(r"[a-z0-9']+")


def shingles(text: str) -> frozenset[tuple[str, ...]]:
    """The word trigrams of ``text`` (lower-cased ``[a-z0-9']`` runs); a text of fewer
    than three words has one shingle, all its words."""
    words = _WORD.findall(text.lower())
    if len(words) < 3:
        return frozenset([tuple(words)]) if words else frozenset()
    return frozenset(zip(words, words[1:], words[2:], strict=False))


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass
class Selection:
    """The kept answers in plan order and every rejection by reason."""

    kept: list[ScoredResponse] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    candidates: int = 0
    prompts: int = 0
    prompts_kept: int = 0

    def record(
        self,
        kept_scores: list[float],
        *,
        valid_fraction: float,
        test_fraction: float,
        seed: int,
    ) -> dict[str, Any]:
        """The manifest's ``split``, ``counts``, ``rejections`` and ``scores`` parts for a
        dataset made of this selection."""
        from lem.distill.dataset import score_summary

        return {
            "split": {
                "by": "prompt, stratified by domain",
                "valid_fraction": valid_fraction,
                "test_fraction": test_fraction,
                "seed": seed,
            },
            "counts": {
                "prompts": self.prompts,
                "candidates": self.candidates,
                "kept": len(self.kept),
                "prompts_kept": self.prompts_kept,
            },
            "rejections": self.rejections(),
            "scores": score_summary(kept_scores),
        }

    def rejections(self) -> dict[str, int]:
        """Every reason with its count (zeros included, in :data:`REJECTION_REASONS` order)."""
        return {r: int(self.rejected.get(r, 0)) for r in REJECTION_REASONS}


def check_threshold(min_score: float | None, scorer: str, low: float, high: float) -> None:
    """Refuse a threshold no answer could reach, or one every answer passes: outside the
    scorer's declared range [``low``, ``high``] it is almost surely on the wrong scale."""
    if min_score is None:
        return
    if not math.isfinite(min_score) or min_score > high or min_score < low:
        shown = f"{_num(low)} to {_num(high)}"
        raise InputError(
            f"--min-score {_num(min_score)} is outside {scorer}'s range ({shown}); give a "
            "threshold on that scorer's scale"
        )


def _num(x: float) -> str:
    if math.isinf(x):
        return "-inf" if x < 0 else "inf"
    return f"{x:g}"


class NearIndex:
    """Kept answers' trigram sets with an inverted index, for Jaccard look-ups."""

    def __init__(self) -> None:
        self.sets: list[frozenset[tuple[str, ...]]] = []
        self.index: dict[tuple[str, ...], list[int]] = {}

    def most_similar(self, s: frozenset[tuple[str, ...]]) -> float:
        shared: Counter[int] = Counter()
        for sh in s:
            for i in self.index.get(sh, ()):
                shared[i] += 1
        best = 0.0
        for i, n in shared.items():
            best = max(best, n / (len(s) + len(self.sets[i]) - n))
        return best

    def add(self, s: frozenset[tuple[str, ...]]) -> None:
        i = len(self.sets)
        self.sets.append(s)
        for sh in s:
            self.index.setdefault(sh, []).append(i)


def select_answers(
    responses: Sequence[ScoredResponse],
    *,
    scorer: str,
    per_prompt: int | None = 1,
    min_score: float | None = None,
    near_duplicate: float = 0.7,
    keep_truncated: bool = False,
) -> Selection:
    """Pick training answers from ``responses`` (every sample of one condition), ranked by
    ``scorer`` (see the module docstring for the order and the rejection reasons)."""
    by_prompt: dict[str, list[ScoredResponse]] = {}
    for r in responses:
        by_prompt.setdefault(r.probe_id, []).append(r)
    sel = Selection(prompts=len(by_prompt))
    seen_text: set[str] = set()
    near = NearIndex()
    for group in by_prompt.values():
        ranked: list[tuple[float, ScoredResponse]] = []
        for r in group:
            sel.candidates += 1
            score = r.score(scorer)
            if not r.done:
                sel.rejected["failed"] += 1
            elif score is None or score.value is None:
                sel.rejected["unscored"] += 1
            elif not r.answer.strip():
                sel.rejected["empty"] += 1
            elif r.finish_reason == "length" and not keep_truncated:
                sel.rejected["truncated"] += 1
            elif min_score is not None and score.value < min_score:
                sel.rejected["below_threshold"] += 1
            else:
                ranked.append((score.value, r))
        ranked.sort(key=lambda x: (-x[0], x[1].sample, x[1].item_key or ""))
        taken = 0
        for _value, r in ranked:
            if per_prompt is not None and taken >= per_prompt:
                sel.rejected["outranked"] += 1
                continue
            text = _normal(r.answer)
            if text in seen_text:
                sel.rejected["duplicate"] += 1
                continue
            sh = shingles(r.answer)
            if near_duplicate < 1.0 and near.most_similar(sh) >= near_duplicate:
                sel.rejected["near_duplicate"] += 1
                continue
            seen_text.add(text)
            near.add(sh)
            sel.kept.append(r)
            taken += 1
        if taken:
            sel.prompts_kept += 1
    return sel
