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
_LEADING_START = re.compile(r"\s*<\|start\|>\s*\w*\s*")
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
    reasoning: list[str] = []
    answer: list[str] = []
    rest = text
    first_open = rest.find(_OPEN)
    first_close = rest.find(_CLOSE)
    if first_close != -1 and (first_open == -1 or first_close < first_open):
        reasoning.append(rest[:first_close])
        rest = rest[first_close + len(_CLOSE) :]
    while True:
        start = rest.find(_OPEN)
        if start == -1:
            answer.append(rest)
            break
        answer.append(rest[:start])
        inner_start = start + len(_OPEN)
        end = rest.find(_CLOSE, inner_start)
        if end == -1:
            reasoning.append(rest[inner_start:])
            break
        reasoning.append(rest[inner_start:end])
        rest = rest[end + len(_CLOSE) :]
    return "".join(answer).strip(), _join(reasoning)


def _split_harmony(text: str) -> tuple[str, str]:
    reasoning: list[str] = []
    answer: list[str] = []
    head, *segments = text.split(_CHANNEL)
    head = _LEADING_START.sub("", head, count=1)
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
