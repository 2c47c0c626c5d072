"""``masked:SCORER[@KERNEL]``: another scorer applied to the answer with the kernel's own
words removed: a construct-validity guard for keyword scorers.

A kernel tells the model what to value in its own words; a keyword scorer then rewards an
answer that repeats them, whether or not the answer does what the words describe. The
masked scorer removes from the answer every word whose stem is the stem of a content word
of the kernel (``KERNEL``: a bundled kernel name, default ``lek``; the same mask for every
condition, baseline included, so masked scores compare across conditions) and scores what
is left with ``SCORER``. Reported beside the plain scorer, a kernel condition whose gain
shrinks under the mask got it from echoing the kernel; the report warns when most of it
does (``lem.report.echo``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, ClassVar

from lem.errors import InputError
from lem.scoring.base import (
    SCORERS,
    ScoreContext,
    Scorer,
    ScoreResult,
    get_scorer,
    register_scorer_factory,
)

__all__ = ["MaskedScorer", "kernel_stems", "mask_kernel_terms", "masked_scorer_factory", "stem"]

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
_MIN_LEN = 4
_STOP = frozenset(
    [
     "about", "above", "after", "again", "against", "also", "among", "because", "been", "before",
     "being", "below", "between", "both", "could", "does", "doing", "down", "during", "each",
     "every", "from", "further", "have", "having", "here", "into", "itself", "just", "more",
     "most", "must", "only", "other", "ought", "over", "same", "shall", "should", "some", "such",
     "than", "that", "their", "theirs", "them", "then", "there", "these", "they", "this",
     "those", "through", "under", "until", "upon", "very", "were", "what", "when", "where",
     "which", "while", "whom", "will", "with", "within", "without", "would", "your", "yours",
     "yourself",
    ]
)  # fmt: skip
_SUFFIXES = (
    "ational", "ization", "fulness", "iveness", "ousness", "ements", "ations", "ement",
    "ation", "ness", "ment", "ions", "ion", "ings", "ing", "ies", "ied", "ity", "ive",
    "ful", "ous", "ers", "er", "ed", "es", "ly", "al", "s", "e",
)  # fmt: skip


def stem(word: str) -> str:
    """A light suffix-stripping stem (lower-cased): ``consenting``, ``consents`` and
    ``consent`` share ``consent``; a stem keeps at least 4 letters. Deliberately simple:
    the mask should catch inflections of the kernel's words, not near-synonyms."""
    w = word.lower().replace("’", "'").split("'")[0]
    for suf in _SUFFIXES:
        if w.endswith(suf) and len(w) - len(suf) >= _MIN_LEN:
            return w[: -len(suf)]
    return w


def _content_stem(word: str) -> str | None:
    """The stem of a content word (4+ letters, not a function word); None for others."""
    return stem(word) if len(word) >= _MIN_LEN and word.lower() not in _STOP else None


@lru_cache(maxsize=16)
def kernel_stems(kernel_text: str) -> frozenset[str]:
    """The stems of the kernel's content words."""
    return frozenset(s for w in _WORD.findall(kernel_text) if (s := _content_stem(w)))


def mask_kernel_terms(text: str, stems: frozenset[str]) -> tuple[str, int]:
    """``text`` with every word whose stem is in ``stems`` removed (the spaces around it
    kept, so sentence shapes survive), and how many words were removed."""
    count = 0

    def drop(m: re.Match[str]) -> str:
        nonlocal count
        w = m.group(0)
        if _content_stem(w) in stems:
            count += 1
            return ""
        return w

    return _WORD.sub(drop, text), count


class MaskedScorer(Scorer):
    """``SCORER`` applied to the answer with the kernel's words removed."""

    id: ClassVar[str] = "masked"
    version: ClassVar[str] = "1"

    def __init__(self, inner: Scorer, kernel_name: str, kernel_text: str) -> None:
        self.inner = inner
        self.kernel_name = kernel_name
        self.stems = kernel_stems(kernel_text)
        suffix = "" if kernel_name == "lek" else f"@{kernel_name}"
        self.__dict__.update(
            id=f"masked:{inner.id}{suffix}", version=f"{MaskedScorer.version}+{inner.version}"
        )

    def score(self, text: str, *, context: ScoreContext | None = None) -> ScoreResult:
        masked, n = mask_kernel_terms(text, self.stems)
        res = self.inner.score(masked, context=context)
        return ScoreResult(
            value=res.value,
            signals={**res.signals, "masked_words": n},
            status=res.status,
            reason=res.reason,
        )

    def definition(self) -> dict[str, Any]:
        return {
            "inner": {"id": self.inner.id, "definition_hash": self.inner.definition_hash()},
            "kernel": self.kernel_name,
            "stems": sorted(self.stems),
            "rule": "words whose light stem is a kernel content-word stem (4+ letters, not a "
            "function word) are removed before the inner scorer runs",
        }

    def contributions(self, signals: Any) -> dict[str, float]:
        return self.inner.contributions(signals)

    def value_range(self) -> tuple[float, float]:
        return self.inner.value_range()


def masked_scorer_factory(args: str) -> MaskedScorer:
    """Build ``masked:SCORER[@KERNEL]``: ``SCORER`` a registered scorer id, ``KERNEL`` a
    bundled kernel name (default ``lek``)."""
    from lem.kernels import BUNDLED_KERNELS, resolve_kernels

    inner_id, _, kernel = args.strip().partition("@")
    kernel = kernel.strip() or "lek"
    if inner_id not in SCORERS.names():
        raise InputError(
            f"scorer masked:{args}: {inner_id!r} is not a scorer id; use masked:SCORER"
            f"[@KERNEL] with one of {', '.join(SCORERS.names())}"
        )
    if kernel not in BUNDLED_KERNELS:
        raise InputError(
            f"scorer masked:{args}: kernel {kernel!r} is not bundled; use one of "
            f"{', '.join(BUNDLED_KERNELS)}"
        )
    text = resolve_kernels([], render=True)[kernel].text
    return MaskedScorer(get_scorer(inner_id), kernel, text)


register_scorer_factory("masked", masked_scorer_factory)
