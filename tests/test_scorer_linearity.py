"""Every scorer runs in linear time, and the linear rewrites give the old results.

Scaling: for each scorer and each adversarial family (one unit repeated, up to 1 MiB of
UTF-8), the CPU time of 8x the input must stay within 20x; quadratic code gives 64x (the
limit sits near the geometric middle of linear and quadratic, 22.6x, because a 16 KiB text
scanned from cache and a 128 KiB one scanned from memory differ by more than 8x under load
from other processes, while quadratic code is always far over it). Sizes
climb a ladder (256 bytes, 2 KiB, 16 KiB, 128 KiB, 1 MiB), so a quadratic scorer fails on
the small rungs within seconds instead of hanging on the big ones. Times are CPU seconds
per call (``time.process_time``, garbage collector off; short calls repeat until a sample
lasts 20 ms, least of three samples). A ratio over the limit is measured up to eight
times more, keeping the least times, before it fails: load from other processes on a shared 2-core
machine adds time to some measurements, and the least of several sheds it.

Rewrites: each regex that backtracked quadratically (or worse) was replaced by an exact
linear equivalent; seeded random texts over the characters that matter check that each
replacement equals the pattern it replaces.
"""

from __future__ import annotations

import gc
import itertools
import math
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import lem.reasoning as reasoning
import lem.scoring.lek_v3 as lek_v3
from lem.scoring.base import ScoreContext, get_scorer
from lem.scoring.lek_v2 import matched_spans

_RATIO_LIMIT = 20.0
_MIN_SECONDS = 0.02
_RUNGS = (256, 2 << 10, 16 << 10, 128 << 10, 1 << 20)
_SHRINK = {"lek-v2 spans": 2, "semantic windows": 4}
"""The slowest per byte: their ladders are divided by this (up to 512 and 256 KiB)."""
_KERNEL = (
    Path(__file__).resolve().parents[1] / "src" / "lem" / "data" / "kernels" / "lek.txt"
).read_text(encoding="utf-8")

FAMILIES: dict[str, str] = {
    "dots": ".",
    "blank lines": "\n\n",
    "both": "both ",
    "while": "while ",
    "em dash": "—",
    "star a": "*a",
    "e acute": "é",
    "emoji": "\U0001f600",
    "cjk": "中",
}
"""Adversarial units shared by every scorer (the issue's list)."""

EXTRA_FAMILIES: dict[str, dict[str, str]] = {
    "lek-v3": {
        "sentence starts": ". Abc",
        "list items": "\n1) Abc",
        "think blocks": "<think>a</think>",
    },
    "reasoning": {
        "think blocks": "<think>a</think>",
        "harmony channels": "<|channel|>final<|message|>x",
        "harmony header": " ",
    },
    "judge": {"fence spaces": " ", "refusal spaces": "I am "},
}
"""Units aimed at one scorer's own patterns; the last two of reasoning and judge are
wrapped (see :data:`_WRAP`)."""

_WRAP: dict[tuple[str, str], tuple[str, str]] = {
    ("reasoning", "harmony header"): ("", "x<|channel|>final<|message|>x"),
    ("judge", "fence spaces"): ("```json", "x"),
}
"""(prefix, suffix) around the repeated unit: a whitespace run before the first harmony
channel, searched for a ``<|start|>`` header (quadratic in the old regex), and a judge
reply that opens a code fence then runs on in spaces (cubic in the old fence regex)."""


def _sized(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit.encode("utf-8")))


def _judge_parse() -> Callable[[str], object]:
    from lem.scoring.judge import parse_judgement
    from lem.scoring.rubrics import available_rubrics, load_rubric

    rubric = load_rubric(available_rubrics()[0])
    return lambda text: parse_judgement(text, rubric)


def _target(name: str) -> Callable[[str], Callable[[], object]]:
    """A function from an input text to a zero-argument call that runs the scorer on it."""
    if name == "lek-v2":
        v2 = get_scorer("lek-v2")
        return lambda text: lambda: v2.score(text)
    if name == "lek-v2 spans":
        return lambda text: lambda: matched_spans(text)
    if name == "lek-v3":
        v3 = get_scorer("lek-v3")
        ctx = ScoreContext(kernel_text=_KERNEL)
        return lambda text: lambda: v3.score(text, context=ctx)
    if name == "reasoning":
        return lambda text: lambda: reasoning.split_reasoning(text)
    if name == "judge":
        parse = _judge_parse()
        return lambda text: lambda: parse(text)
    if name == "semantic windows":
        from lem.scoring.semantic import _windows

        def prepare(text: str) -> Callable[[], object]:
            # A stand-in tokenizer (word pieces of up to 2 characters, else one per
            # character); a small budget makes every rung take the windowing path.
            offsets = [m.span() for m in re.finditer(r"\w{1,2}|\S", text)]
            return lambda: _windows(text, offsets, 4)

        return prepare
    raise AssertionError(name)


_TARGETS = ("lek-v2", "lek-v2 spans", "lek-v3", "reasoning", "judge", "semantic windows")
_CASES = [
    (target, family, unit)
    for target in _TARGETS
    for family, unit in [*FAMILIES.items(), *EXTRA_FAMILIES.get(target, {}).items()]
]


def _cpu_seconds(call: Callable[[], object]) -> float:
    """CPU seconds per call: one call when it takes over 0.1 s, else the least of three
    samples, each of enough calls in a row to last at least 20 ms."""
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        call()
        first = time.process_time() - start
        if first > 0.1:
            return first
        inner = max(1, min(1000, math.ceil(_MIN_SECONDS / max(first, 1e-6))))
        best = first
        for _ in range(3):
            start = time.process_time()
            for _ in range(inner):
                call()
            best = min(best, (time.process_time() - start) / inner)
        return best
    finally:
        gc.enable()


@pytest.mark.parametrize(("target", "family", "unit"), _CASES)
def test_time_grows_linearly(target: str, family: str, unit: str) -> None:
    prepare = _target(target)
    prefix, suffix = _WRAP.get((target, family), ("", ""))
    rungs = tuple(size // _SHRINK.get(target, 1) for size in _RUNGS)
    calls = {size: prepare(prefix + _sized(unit, size) + suffix) for size in rungs}
    previous = 0.0
    for smaller, size in itertools.pairwise((0, *rungs)):
        seconds = _cpu_seconds(calls[size])
        if smaller:
            ratio = seconds / previous
            for _ in range(8):  # over the limit: measure both again, keep the least
                if ratio <= _RATIO_LIMIT:
                    break
                previous = min(previous, _cpu_seconds(calls[smaller]))
                seconds = min(seconds, _cpu_seconds(calls[size]))
                ratio = seconds / previous
            assert ratio <= _RATIO_LIMIT, (
                f"{target} on {family!r}: {size} bytes took {ratio:.1f}x the time of "
                f"{smaller} bytes ({seconds:.4f} s against {previous:.4f} s)"
            )
        previous = seconds


# ---- the linear rewrites equal the patterns they replace ---------------------------------


def test_sentence_initial_rewrite_counts_like_the_definition() -> None:
    plain = re.compile(lek_v3._SENTENCE_INITIAL)
    pieces = [
        *".!?\n )(_-'\"\t…",
        "1",
        "23",
        "\u0663",
        "A",
        "b",
        "Abc",
        "Berlin",
        "Éte",
        "ÀÖø",
        "é",
        "x",
        "1)",
        "1.",
        "Ab",
        "abc",
        "ABC",
        "中",
    ]
    rng = random.Random(11)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 14)))
        assert len(plain.findall(text)) == len(lek_v3._SENTENCE_INITIAL_RE.findall(text)), text


def test_harmony_header_rewrite_equals_the_regex() -> None:
    plain = re.compile(r"\s*<\|start\|>\s*\w*\s*")
    pieces = ["<|start|>", "<|end|>", "assistant", " ", "\n", "\u2003", "\x1c", "a", "_1", "<|"]
    rng = random.Random(12)
    for _ in range(20_000):
        head = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        assert reasoning._drop_start_header(head) == plain.sub("", head, count=1), head


def test_think_split_is_unchanged_on_many_blocks() -> None:
    text = "intro " + "<think>a</think>b " * 3 + "<think>tail"
    assert reasoning.split_reasoning(text) == ("intro b b b", "a\n\na\n\na\n\ntail")
    assert reasoning.split_reasoning("x</think>y<think>z</think>w") == ("yw", "x\n\nz")


def test_judge_fence_rewrite_equals_the_regex() -> None:
    from lem.scoring import judge

    plain = re.compile(judge._FENCE, re.DOTALL | re.IGNORECASE)
    pieces = ["`", "```", " ", "\t", "\n", "json", "JSON", "j\u017fon", "{", "}", "a", "``"]
    rng = random.Random(13)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        found = plain.match(text)
        assert judge._fence_body(text) == (found.group(1) if found else None), text
