"""Separate a model's visible reasoning from its answer.

Reasoning models put their thinking in the generated text: ``<think>...</think>`` blocks
(Qwen3, DeepSeek-R1 and many others) or gpt-oss "harmony" channels
(``<|channel|>analysis<|message|>...<|end|>`` then ``<|channel|>final<|message|>...``).
Only the answer should be scored, and the reasoning should be kept, so the runner splits
every generation with :func:`split_reasoning`.

Rules:

- Text without any of these markers is returned unchanged as the answer (scorers see it
  verbatim).
- ``<think>`` blocks, possibly several: the answer is the text outside them, stripped of
  surrounding whitespace; the reasoning is the inner texts, each stripped, joined by a
  blank line.
- An unclosed ``<think>`` (the model hit its token limit while thinking) makes everything
  after it reasoning; the text before it, if any, stays the answer.
- A ``</think>`` before any ``<think>`` (chat templates that put ``<think>`` in the prompt)
  makes everything before it reasoning.
- Harmony channels: ``analysis`` and ``commentary`` messages are reasoning, ``final``
  messages the answer. Without a ``final`` channel (the model never got there) the answer
  is empty. Text before the first channel tag other than a ``<|start|>ROLE`` header is
  treated as reasoning.
"""

from __future__ import annotations

import re

__all__ = ["split_reasoning"]

_OPEN = "<think>"
_CLOSE = "</think>"
_CHANNEL = "<|channel|>"
_MESSAGE = "<|message|>"
_HARMONY_END = re.compile(r"<\|(?:end|return|call|start)\|>")
_HARMONY_TOKEN = re.compile(r"<\|[a-z_]+\|>")
_START = "<|start|>"
_AFTER_START = re.compile(r"\s*\w*\s*")
_FINAL_CHANNELS = frozenset({"final"})


def split_reasoning(text: str) -> tuple[str, str]:
    """``(answer, reasoning)`` for a generated text; see the module docstring for the rules."""
    if _CHANNEL in text:
        return _split_harmony(text)
    if _OPEN in text or _CLOSE in text:
        return _split_think(text)
    return text, ""


def _join(parts: list[str]) -> str:
    return "\n\n".join(p for p in (part.strip() for part in parts) if p)


def _split_think(text: str) -> tuple[str, str]:
    # Positions into ``text``, never slices of the rest: slicing the remainder after each
    # block copied it once per block, quadratic in the number of blocks.
    reasoning: list[str] = []
    answer: list[str] = []
    pos = 0
    first_open = text.find(_OPEN)
    first_close = text.find(_CLOSE)
    if first_close != -1 and (first_open == -1 or first_close < first_open):
        reasoning.append(text[:first_close])
        pos = first_close + len(_CLOSE)
    while True:
        start = text.find(_OPEN, pos)
        if start == -1:
            answer.append(text[pos:])
            break
        answer.append(text[pos:start])
        inner_start = start + len(_OPEN)
        end = text.find(_CLOSE, inner_start)
        if end == -1:
            reasoning.append(text[inner_start:])
            break
        reasoning.append(text[inner_start:end])
        pos = end + len(_CLOSE)
    return "".join(answer).strip(), _join(reasoning)


def _drop_start_header(head: str) -> str:
    """``re.sub(r"\\s*<\\|start\\|>\\s*\\w*\\s*", "", head, count=1)`` in linear time.

    The leftmost match is at the first ``<|start|>`` with the whitespace run before it (a
    later ``<|start|>`` cannot begin earlier); the regex itself rescanned that run from
    every position in it, quadratic in its length.
    """
    at = head.find(_START)
    if at == -1:
        return head
    begin = len(head[:at].rstrip())
    after = _AFTER_START.match(head, at + len(_START))
    assert after is not None  # \s*\w*\s* matches everywhere
    return head[:begin] + head[after.end() :]


def _split_harmony(text: str) -> tuple[str, str]:
    reasoning: list[str] = []
    answer: list[str] = []
    head, *segments = text.split(_CHANNEL)
    head = _drop_start_header(head)
    if head.strip():
        reasoning.append(_HARMONY_TOKEN.sub("", head))
    for segment in segments:
        header, sep, body = segment.partition(_MESSAGE)
        if not sep:
            continue
        channel = header.split(" ", 1)[0].split("<|", 1)[0].strip()
        end = _HARMONY_END.search(body)
        if end is not None:
            body = body[: end.start()]
        (answer if channel in _FINAL_CHANNELS else reasoning).append(body)
    return _join(answer), _join(reasoning)
