"""Compare the answers several backends gave to the same greedy work, pair by pair.

Pure functions over :class:`ModelRun` records (what :mod:`lem.parity.run` reads from the
store), so every rule can be checked on constructed answers:

- answers are paired by (probe, condition, sample); a pair counts when both generations
  are done, and matches when the answers are equal character for character;
- a mismatch's first divergence is the length of the common prefix, in characters always
  and in tokens when a tokenizer is given (each answer encoded alone, without special
  tokens; the position is the length of the common token prefix), with a window of both
  continuations;
- per scorer, the paired statistics of the score difference (later model minus earlier)
  are :func:`lem.analysis.stats.paired_comparison`'s, as in ``lem report``;
- each mismatch gets the first cause the runs' records show (:func:`likely_cause`).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Protocol

from lem.analysis.stats import PairedComparison, paired_comparison

__all__ = [
    "CAUSES",
    "DTYPE",
    "NUMERICS",
    "PROMPT",
    "STOP",
    "SYSTEM_ROLE",
    "TOKENIZER",
    "UNDETERMINED",
    "WEIGHTS",
    "WHITESPACE",
    "Cause",
    "Divergence",
    "Mismatch",
    "ModelRun",
    "PairResult",
    "ParityItem",
    "TokenCodec",
    "compare_pair",
    "compare_runs",
    "first_divergence",
    "likely_cause",
]

SYSTEM_ROLE = "system-role handling"
PROMPT = "rendered prompt"
TOKENIZER = "tokenizer"
DTYPE = "dtype"
WEIGHTS = "weights"
WHITESPACE = "whitespace"
STOP = "stop handling"
NUMERICS = "numerics (same prompt, same settings)"
UNDETERMINED = "undetermined (prompts not comparable)"
CAUSES = (SYSTEM_ROLE, PROMPT, TOKENIZER, DTYPE, WEIGHTS, WHITESPACE, STOP, NUMERICS, UNDETERMINED)
"""Every likely cause, in the order :func:`likely_cause` tests them."""

CONTEXT_CHARS = 20
"""Characters of the shared text shown before a divergence."""
NEXT_TOKENS = 5
"""Tokens of each continuation listed after a divergence (with a tokenizer)."""


class TokenCodec(Protocol):
    """A tokenizer as parity uses it: text to ids (no special tokens added) and back."""

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


@dataclass(frozen=True)
class ParityItem:
    """One stored generation of a model's run: what parity compares and what it looks at
    to explain a difference. ``scores`` maps scorer id to value (None: not scored ok)."""

    probe_id: str
    condition: str
    sample: int
    status: str
    answer: str
    finish_reason: str | None = None
    system_fallback: bool = False
    rendered_hash: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    scores: Mapping[str, float | None] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.probe_id, self.condition, self.sample)

    @property
    def done(self) -> bool:
        return self.status == "done"


@dataclass(frozen=True)
class ModelRun:
    """One model's run and what its manifest says about how it produced its answers.

    ``renders_locally``: ``rendered_hash`` is the hash of the exact prompt text (hf, mlx),
    not of the message list a server renders itself, so two such runs' hashes compare.
    ``tokenizer`` is a digest of the model directory's tokenizer files (local models).
    None means unknown (a server's dtype), and unknown never counts as a difference.
    """

    label: str
    spec: str
    run_id: str
    items: Sequence[ParityItem]
    backend: str | None = None
    renders_locally: bool = False
    dtype: str | None = None
    fingerprint: str | None = None
    tokenizer: str | None = None
    system_role: bool | None = None


@dataclass(frozen=True)
class Divergence:
    """Where two answers first differ: ``char`` (and ``token`` with a tokenizer), the
    shared text just ``before`` it, and each answer's continuation from there."""

    char: int
    before: str
    a: str
    b: str
    token: int | None = None
    tokens_a: tuple[str, ...] = ()
    tokens_b: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cause:
    """A mismatch's likely cause (one of :data:`CAUSES`) and the evidence, in words."""

    label: str
    detail: str


@dataclass(frozen=True)
class Mismatch:
    """One (probe, condition, sample) whose answers differ."""

    probe_id: str
    condition: str
    sample: int
    divergence: Divergence
    cause: Cause
    finish_a: str | None
    finish_b: str | None


@dataclass(frozen=True)
class PairResult:
    """Model ``a`` (the earlier one, the reference for its pairs) against model ``b``.

    ``items`` pairs were done in both runs and ``matches`` of them had equal answers;
    ``incomplete`` planned items were not done in one run or both. ``by_condition`` holds
    (items, matches) per condition; ``scores`` the paired comparison of each scorer over
    the pairs both scored (None when none did), with Δ = b − a."""

    a: str
    b: str
    items: int
    matches: int
    incomplete: int
    by_condition: dict[str, tuple[int, int]]
    mismatches: list[Mismatch]
    scores: dict[str, PairedComparison | None]

    @property
    def exact_match_rate(self) -> float | None:
        return self.matches / self.items if self.items else None

    def causes(self) -> list[tuple[str, int]]:
        """Likely causes with their counts, most frequent first (ties in rule order)."""
        counts = Counter(m.cause.label for m in self.mismatches)
        return sorted(counts.items(), key=lambda kv: (-kv[1], CAUSES.index(kv[0])))

    def median_char(self) -> float | None:
        chars = [m.divergence.char for m in self.mismatches]
        return float(statistics.median(chars)) if chars else None

    def median_token(self) -> float | None:
        toks = [m.divergence.token for m in self.mismatches if m.divergence.token is not None]
        return float(statistics.median(toks)) if toks else None


def _common_prefix(a: Sequence[object], b: Sequence[object]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def first_divergence(
    a: str, b: str, *, window: int = 40, codec: TokenCodec | None = None
) -> Divergence | None:
    """Where ``a`` and ``b`` first differ (None when equal): the character position, the
    ``CONTEXT_CHARS`` shared characters before it and ``window`` characters of each
    continuation; with ``codec``, the first differing token of the two encodings and the
    next :data:`NEXT_TOKENS` tokens of each, decoded one by one."""
    if a == b:
        return None
    pos = _common_prefix(a, b)
    token: int | None = None
    tokens_a: tuple[str, ...] = ()
    tokens_b: tuple[str, ...] = ()
    if codec is not None:
        ids_a, ids_b = codec.encode(a), codec.encode(b)
        token = _common_prefix(ids_a, ids_b)
        tokens_a = tuple(codec.decode([t]) for t in ids_a[token : token + NEXT_TOKENS])
        tokens_b = tuple(codec.decode([t]) for t in ids_b[token : token + NEXT_TOKENS])
    return Divergence(
        char=pos,
        before=a[max(0, pos - CONTEXT_CHARS) : pos],
        a=a[pos : pos + window],
        b=b[pos : pos + window],
        token=token,
        tokens_a=tokens_a,
        tokens_b=tokens_b,
    )


def _differ(x: object, y: object) -> bool:
    """Both known and different (an unknown value is never evidence)."""
    return x is not None and y is not None and x != y


def likely_cause(
    a: ParityItem, b: ParityItem, ra: ModelRun, rb: ModelRun, divergence: Divergence
) -> Cause:
    """The first cause of a mismatch that the records show, tested in this order:

    1. system-role handling: one generation folded the system message into the user turn;
    2. rendered prompt: both prompts were rendered by lem and their hashes differ;
    3. tokenizer: the local models' tokenizer files differ, or the same prompt text gave
       different prompt token counts;
    4. rendered prompt: a server was involved (its template is its own) and the prompt
       token counts differ;
    5. dtype, then weights: the local models' recorded dtype, then weights fingerprint;
    6. whitespace: the answers are equal once leading and trailing whitespace is removed;
    7. stop handling: one answer is a strict prefix of the other (one stopped, at EOS, a
       stop string or the token budget, where the other went on);
    8. numerics (same prompt, same settings): the prompts are known to be the same (equal
       hashes, or equal prompt token counts from a server) and nothing above differs;
    9. undetermined: nothing above differs but the prompts cannot be compared.
    """
    if a.system_fallback != b.system_fallback:
        who = ra.label if a.system_fallback else rb.label
        return Cause(SYSTEM_ROLE, f"{who} folded the system message into the user turn")
    hashes = ra.renders_locally and rb.renders_locally and bool(a.rendered_hash and b.rendered_hash)
    if hashes and a.rendered_hash != b.rendered_hash:
        return Cause(
            PROMPT,
            f"rendered prompt hashes differ ({(a.rendered_hash or '')[:12]} vs "
            f"{(b.rendered_hash or '')[:12]})",
        )
    counts = (a.prompt_tokens, b.prompt_tokens)
    if ra.renders_locally and rb.renders_locally:
        if _differ(ra.tokenizer, rb.tokenizer):
            return Cause(TOKENIZER, "the models' tokenizer files differ")
        if _differ(*counts):
            return Cause(TOKENIZER, f"same prompt text, {counts[0]} vs {counts[1]} prompt tokens")
    elif _differ(*counts):
        return Cause(
            PROMPT,
            f"prompt token counts differ ({counts[0]} vs {counts[1]}): the server renders or "
            "encodes the prompt differently",
        )
    if _differ(ra.dtype, rb.dtype):
        return Cause(DTYPE, f"dtype {ra.dtype} vs {rb.dtype}")
    if _differ(ra.fingerprint, rb.fingerprint):
        return Cause(WEIGHTS, "the models' weights fingerprints differ")
    if a.answer.strip() == b.answer.strip():
        return Cause(WHITESPACE, "the answers differ only in leading or trailing whitespace")
    if divergence.char == min(len(a.answer), len(b.answer)):
        short, other = (ra, rb) if len(a.answer) < len(b.answer) else (rb, ra)
        fa, fb = (a, b) if short is ra else (b, a)
        return Cause(
            STOP,
            f"{short.label} stopped after {divergence.char} chars "
            f"({fa.finish_reason or 'finish unknown'}), {other.label} went on "
            f"({fb.finish_reason or 'finish unknown'})",
        )
    if hashes:
        return Cause(NUMERICS, "same rendered prompt, same settings")
    if counts[0] is not None and counts[0] == counts[1]:
        return Cause(NUMERICS, f"same prompt token count ({counts[0]}), same settings")
    return Cause(UNDETERMINED, "a server rendered the prompt and reported no token counts")


def compare_pair(
    ra: ModelRun,
    rb: ModelRun,
    scorers: Sequence[str],
    *,
    window: int = 40,
    codec: TokenCodec | None = None,
    seed: int = 0,
) -> PairResult:
    """Pair ``ra``'s and ``rb``'s items by (probe, condition, sample) and compare them."""
    by_b = {it.key: it for it in rb.items}
    keys = list(dict.fromkeys([*(it.key for it in ra.items), *by_b]))
    by_a = {it.key: it for it in ra.items}
    items = matches = incomplete = 0
    per: dict[str, list[int]] = {}
    mismatches: list[Mismatch] = []
    values: dict[str, tuple[list[float], list[float]]] = {s: ([], []) for s in scorers}
    for key in keys:
        a, b = by_a.get(key), by_b.get(key)
        if a is None or b is None or not (a.done and b.done):
            incomplete += 1
            continue
        items += 1
        cell = per.setdefault(a.condition, [0, 0])
        cell[0] += 1
        div = first_divergence(a.answer, b.answer, window=window, codec=codec)
        if div is None:
            matches += 1
            cell[1] += 1
        else:
            mismatches.append(
                Mismatch(
                    a.probe_id,
                    a.condition,
                    a.sample,
                    div,
                    likely_cause(a, b, ra, rb, div),
                    a.finish_reason,
                    b.finish_reason,
                )
            )
        for sid in scorers:
            va, vb = a.scores.get(sid), b.scores.get(sid)
            if va is not None and vb is not None:
                values[sid][0].append(float(va))
                values[sid][1].append(float(vb))
    stats: dict[str, PairedComparison | None] = {
        sid: paired_comparison(xs, ys, seed=seed) if xs else None
        for sid, (xs, ys) in values.items()
    }
    return PairResult(
        a=ra.label,
        b=rb.label,
        items=items,
        matches=matches,
        incomplete=incomplete,
        by_condition={c: (n, m) for c, (n, m) in per.items()},
        mismatches=mismatches,
        scores=stats,
    )


def compare_runs(
    runs: Sequence[ModelRun],
    scorers: Sequence[str],
    *,
    window: int = 40,
    codec: TokenCodec | None = None,
    seed: int = 0,
) -> list[PairResult]:
    """Every pair of runs in order (first with second, first with third, ..., second with
    third, ...): the earlier run of a pair is its reference."""
    return [
        compare_pair(ra, rb, scorers, window=window, codec=codec, seed=seed)
        for ra, rb in combinations(runs, 2)
    ]
