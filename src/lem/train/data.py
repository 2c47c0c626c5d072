"""Chat rows → token ids and labels with the prompt masked.

Each conversation is rendered with the model's own chat template and cut into pieces at
the turn boundaries: for the assistant turn ``k``, the prompt piece is what the template
adds up to and including the generation prompt (``render(messages[:k],
add_generation_prompt=True)``) and the answer piece is what the assistant turn adds
(``render(messages[:k+1])`` minus that). Pieces are tokenized one by one, as at inference
time the answer's tokens are generated after the prompt's. Labels are the token ids on
answer pieces and ``-100`` (ignored by the loss) everywhere else: the loss is computed on
assistant tokens only, the end-of-turn token included.

A template that re-renders earlier turns differently once later turns exist (so one
render is not a prefix of the next) cannot be masked this way and is an
:class:`~lem.errors.InputError`. So is a tokenizer without a chat template.

Truncation: rows longer than ``max_seq_length`` tokens are cut at the end (policy
``truncate``) or left out (``drop``); either way they are counted, and a row with no answer
token left is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lem.errors import InputError

__all__ = ["IGNORE", "Encoded", "EncodedSet", "encode_conversation", "encode_file", "read_rows"]

IGNORE = -100
"""The label of a token the loss ignores."""


@dataclass(frozen=True)
class Encoded:
    """One training row: input ids and labels (``IGNORE`` on prompt tokens)."""

    ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        """How many tokens carry a loss."""
        return sum(1 for x in self.labels if x != IGNORE)


@dataclass
class EncodedSet:
    """A split's rows after encoding, with what truncation did."""

    rows: list[Encoded] = field(default_factory=list)
    truncated: int = 0
    dropped: int = 0

    @property
    def tokens(self) -> int:
        """Total tokens (inputs) in the kept rows."""
        return sum(len(r.ids) for r in self.rows)


def read_rows(path: str | Path) -> list[list[dict[str, str]]]:
    """The ``messages`` lists of a chat JSONL file (one line per example)."""
    p = Path(path)
    rows: list[list[dict[str, str]]] = []
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{p} not found; give a dataset folder with train.jsonl") from None
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}:{n}: malformed JSON ({exc.msg})") from None
        msgs = obj.get("messages") if isinstance(obj, dict) else None
        if not isinstance(msgs, list) or not msgs:
            raise InputError(f"{p}:{n}: no messages list; expected the chat format")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or not isinstance(m.get("content"), str):
                raise InputError(f"{p}:{n}: turn {i + 1} has no text content")
            if m.get("role") not in ("system", "user", "assistant"):
                raise InputError(f"{p}:{n}: turn {i + 1} has role {m.get('role')!r}")
            if not m["content"].strip():
                raise InputError(f"{p}:{n}: turn {i + 1} ({m['role']}) is empty; fix the dataset")
        if msgs[-1].get("role") != "assistant":
            raise InputError(f"{p}:{n}: the last turn must be the assistant's")
        rows.append(msgs)
    return rows


def _render(tokenizer: Any, messages: Sequence[dict[str, str]], gen: bool) -> str:
    if not messages:
        return ""
    text: str = tokenizer.apply_chat_template(
        list(messages), tokenize=False, add_generation_prompt=gen
    )
    return text


def _tok(tokenizer: Any, text: str) -> list[int]:
    ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids


def encode_conversation(tokenizer: Any, messages: Sequence[dict[str, str]]) -> Encoded:
    """Token ids and masked labels of one conversation (see the module docstring)."""
    ids: list[int] = []
    labels: list[int] = []
    done = ""
    for k, msg in enumerate(messages):
        if msg["role"] != "assistant":
            continue
        prompt = _render(tokenizer, messages[:k], True)
        full = _render(tokenizer, messages[: k + 1], False)
        if not prompt.startswith(done) or not full.startswith(prompt):
            raise InputError(
                "the model's chat template renders earlier turns differently once later "
                "turns follow, so the prompt cannot be masked; use a template whose renders "
                "extend each other"
            )
        p_ids = _tok(tokenizer, prompt[len(done) :])
        a_ids = _tok(tokenizer, full[len(prompt) :])
        ids += p_ids + a_ids
        labels += [IGNORE] * len(p_ids) + a_ids
        done = full
    return Encoded(ids, labels)


def encode_file(
    tokenizer: Any,
    path: str | Path,
    *,
    max_seq_length: int,
    truncation: Literal["truncate", "drop"] = "truncate",
) -> EncodedSet:
    """Every row of a chat JSONL file, encoded, with the truncation policy applied."""
    if not getattr(tokenizer, "chat_template", None):
        raise InputError(
            "the base model has no chat template (tokenizer_config.json chat_template); "
            "give a chat model or add a template"
        )
    out = EncodedSet()
    for messages in read_rows(path):
        enc = encode_conversation(tokenizer, messages)
        if len(enc.ids) > max_seq_length:
            if truncation == "drop":
                out.dropped += 1
                continue
            out.truncated += 1
            enc = Encoded(enc.ids[:max_seq_length], enc.labels[:max_seq_length])
        if enc.trained_tokens == 0:
            out.dropped += 1
            continue
        out.rows.append(enc)
    return out
