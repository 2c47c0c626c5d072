"""What every in-process backend of a local model directory shares: identity with a cached
weights fingerprint, and the prompt side (chat template, system-role detection and
fallback, encoding with at most one BOS) from :mod:`lem.backends.templates`.

A subclass loads its framework's model and sets :attr:`path`, :attr:`batch_size`,
:attr:`dtype_name`, ``_tokenizer`` (a Hugging Face tokenizer), ``_bos_id`` and
``_has_template`` in its constructor; everything here then works unchanged, so the same
conversation gets the same rendered prompt and ``rendered_hash`` in every framework.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lem.backends.base import Backend, Message
from lem.backends.templates import (
    apply_chat_template,
    encode_prompt,
    probe_system_role,
    render_prompt,
)

__all__ = ["NO_LIMIT", "LocalModelBackend", "as_id_list", "describe_error"]

NO_LIMIT = 1 << 60
"""Tokenizer ``model_max_length`` for lem's backends: prompt length is checked against the
model's context before generation (see :mod:`lem.runner`), so the tokenizer's own warning
would only repeat it."""

_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length")


class LocalModelBackend(Backend):
    """Base for backends that run a local model directory in this process."""

    path: Path
    batch_size: int
    dtype_name: str
    _tokenizer: Any
    _bos_id: int | None
    _has_template: bool
    _system_ok: bool | None = None
    _tokenizer_adds_bos: bool | None = None
    _fingerprint: str | None = None

    def identity(self) -> dict[str, Any]:
        """Backend kind, weights fingerprint (cached; it covers config, tokenizer and chat
        template) and dtype name. The path is :meth:`provenance`, not identity."""
        if self._fingerprint is None:
            from lem.fingerprint import weights_fingerprint

            self._fingerprint = weights_fingerprint(self.path)
        return {
            "backend": self.name,
            "fingerprint": self._fingerprint,
            "dtype": self.dtype_name,
        }

    def provenance(self) -> dict[str, Any]:
        return {"path": str(self.path)}

    def preferred_batch_size(self) -> int:
        return self.batch_size

    def context_length(self) -> int | None:
        """``max_position_embeddings`` (or ``n_positions`` / ``max_seq_len`` /
        ``seq_length``) from ``config.json``, looking inside ``text_config`` for
        multimodal configs; None when the config names none."""
        try:
            config = json.loads((self.path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        for section in (config, config.get("text_config") or {}):
            for key in _CONTEXT_KEYS:
                value = section.get(key) if isinstance(section, dict) else None
                if isinstance(value, int) and value > 0:
                    return value
        return None

    def count_tokens(self, rendered: str) -> int | None:
        return len(self._encode(rendered))

    def supports_system_role(self) -> bool:
        """Whether the chat template gives a system message a turn of its own (cached).

        The template renders ``[system: S, user: U]`` with two probe strings. The system
        role is unsupported when rendering raises (Gemma's ``raise_exception``), when ``S``
        is missing from the render (the template drops it), when the render equals that of
        ``[user: S + "\\n\\n" + U]`` (Gemma 3 merges system text into the user turn), or
        when ``S`` sits inside the user turn: directly after the whole preamble that
        ``[user: U]`` renders before ``U`` (its user header included), or separated from
        ``U`` by whitespace only, on either side. Markup between the user header and ``S``
        (Llama 2's ``<<SYS>>``) counts as a system slot. Without a chat template the plain
        ``System:`` line format is used, which has a system line, so this is True.
        """
        if self._system_ok is None:
            self._system_ok = (
                probe_system_role(self._apply_template) if self._has_template else True
            )
        return self._system_ok

    def render(self, messages: list[Message]) -> tuple[str, bool]:
        """The exact prompt text and whether the system message was folded into the user turn.

        With a chat template the text is ``apply_chat_template(..., add_generation_prompt=
        True)``. If the template cannot take a system message, system contents are joined
        and put in front of the first user message as ``system + "\\n\\n" + user``. Without a
        chat template each message becomes a ``System: …`` / ``User: …`` / ``Assistant: …``
        line, followed by ``Assistant:``.
        """
        apply = self._apply_template if self._has_template else None
        return render_prompt(messages, apply, self.supports_system_role)

    def _apply_template(self, messages: list[dict[str, str]]) -> str:
        return apply_chat_template(self._tokenizer, messages, self.path)

    def _encode(self, text: str) -> list[int]:
        """Token ids of a rendered prompt, with at most one leading BOS (see
        :func:`~lem.backends.templates.encode_prompt`)."""
        return encode_prompt(
            self._tokenizer,
            text,
            has_template=self._has_template,
            bos_id=self._bos_id,
            adds_bos=self._adds_bos,
        )

    def _adds_bos(self) -> bool:
        if self._tokenizer_adds_bos is None:
            ids = self._tokenizer("a", add_special_tokens=True)["input_ids"]
            self._tokenizer_adds_bos = bool(ids) and ids[0] == self._bos_id
        return self._tokenizer_adds_bos


def as_id_list(value: Any) -> list[int]:
    """Token id(s) from a config field (None, an int or a list) as a list."""
    if value is None:
        return []
    if isinstance(value, int):
        return [value]
    return [int(v) for v in value]


def describe_error(exc: BaseException, what: str) -> str:
    """``what: ExcType: message`` on one line, for a failed row's ``error``."""
    detail = " ".join(str(exc).split())
    return f"{what}: {type(exc).__name__}: {detail}" if detail else f"{what}: {type(exc).__name__}"
