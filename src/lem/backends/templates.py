"""Chat-template inspection shared by the local backends (hf, mlx).

Both backends render prompts with a Hugging Face tokenizer's ``apply_chat_template`` and
must agree on when the system role is usable and how a system message is folded into the
user turn, so that the same conversation yields the same rendered prompt (and
``rendered_hash``) whichever framework runs the weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lem.backends.base import COMPLETION_ROLE, Message, fold_system
from lem.errors import BackendError

__all__ = [
    "SYSTEM_PROBE",
    "USER_PROBE",
    "apply_chat_template",
    "encode_prompt",
    "has_chat_template",
    "probe_system_role",
    "raw_prompt",
    "render_prompt",
]

SYSTEM_PROBE = "lem-system-probe-7f3a9c"
USER_PROBE = "lem-user-probe-5c1e2d"

Apply = Callable[[list[dict[str, str]]], str]


def has_chat_template(tokenizer: Any) -> bool:
    """Whether a Hugging Face tokenizer carries a chat template."""
    return bool(getattr(tokenizer, "chat_template", None))


def apply_chat_template(tokenizer: Any, messages: list[dict[str, str]], where: object) -> str:
    """``apply_chat_template(messages, add_generation_prompt=True)`` as text; ``where``
    names the model in the error raised when the template renders something else."""
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if not isinstance(text, str):
        raise BackendError(f"the chat template in {where} did not render to text")
    return text


def probe_system_role(apply: Apply) -> bool:
    """Whether the template ``apply`` renders gives a system message a turn of its own.

    The template renders ``[system: S, user: U]`` with two probe strings. The system role
    is unsupported when rendering raises (Gemma's ``raise_exception``), when ``S`` is
    missing from the render (the template drops it), when the render equals that of
    ``[user: S + "\\n\\n" + U]`` (Gemma 3 merges system text into the user turn), or when
    ``S`` sits inside the user turn: directly after the whole preamble that ``[user: U]``
    renders before ``U`` (its user header included), or separated from ``U`` by whitespace
    only, on either side. Markup between the user header and ``S`` (Llama 2's
    ``<<SYS>>``) counts as a system slot.
    """
    probe = [
        {"role": "system", "content": SYSTEM_PROBE},
        {"role": "user", "content": USER_PROBE},
    ]
    try:
        both = apply(probe)
        alone = apply([{"role": "user", "content": USER_PROBE}])
    except Exception:
        return False
    if SYSTEM_PROBE not in both or USER_PROBE not in both or USER_PROBE not in alone:
        return False
    try:
        merged: str | None = apply(
            [{"role": "user", "content": SYSTEM_PROBE + "\n\n" + USER_PROBE}]
        )
    except Exception:
        merged = None
    if both == merged:
        return False
    s_at = both.index(SYSTEM_PROBE)
    u_at = both.index(USER_PROBE)
    u_pre = alone[: alone.index(USER_PROBE)]
    u_post = alone[alone.index(USER_PROBE) + len(USER_PROBE) :]
    if s_at < u_at:
        gap = both[s_at + len(SYSTEM_PROBE) : u_at]
        return not (gap.strip() == "" or both[:s_at] == u_pre)
    gap = both[u_at + len(USER_PROBE) : s_at]
    return not (gap.strip() == "" or both[s_at + len(SYSTEM_PROBE) :] == u_post)


def render_prompt(
    messages: list[Message],
    apply: Apply | None,
    supports_system_role: Callable[[], bool],
) -> tuple[str, bool]:
    """The prompt text for ``messages`` and whether the system fallback was applied.

    A single :data:`~lem.backends.base.COMPLETION_ROLE` message is a plain completion
    prompt: its text, verbatim, whatever the template.

    ``apply`` renders with the chat template (``None``: no template, use
    :func:`raw_prompt`). System messages are folded into the first user turn with
    :func:`~lem.backends.base.fold_system` when ``supports_system_role()`` is False; it is
    only asked when a system message is present, so the probe runs lazily.
    """
    if len(messages) == 1 and messages[0].get("role") == COMPLETION_ROLE:
        return messages[0].get("content", ""), False
    fallback = False
    msgs = [dict(m) for m in messages]
    if any(m.get("role") == "system" for m in msgs) and not supports_system_role():
        msgs = fold_system(msgs)
        fallback = True
    if apply is None:
        return raw_prompt(msgs), fallback
    return apply(msgs), fallback


def encode_prompt(
    tokenizer: Any,
    text: str,
    *,
    has_template: bool,
    bos_id: int | None,
    adds_bos: Callable[[], bool],
) -> list[int]:
    """Token ids of a rendered prompt, with at most one leading BOS.

    A chat template writes its own special tokens, so its text is encoded as is (as
    ``apply_chat_template(tokenize=True)`` and vLLM do). A raw prompt gets the BOS the
    tokenizer normally adds (``adds_bos()``), but never an EOS.
    """
    ids: list[int] = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    if bos_id is None:
        return ids
    if not has_template and (not ids or ids[0] != bos_id) and adds_bos():
        ids = [bos_id, *ids]
    while len(ids) >= 2 and ids[0] == bos_id and ids[1] == bos_id:
        ids = ids[1:]
    return ids


def raw_prompt(messages: list[dict[str, str]]) -> str:
    """Plain-text prompt for tokenizers without a chat template."""
    names = {"system": "System", "user": "User", "assistant": "Assistant"}
    lines = [
        f"{names.get(m.get('role', ''), m.get('role', '').title())}: {m.get('content', '')}"
        for m in messages
    ]
    return "\n".join([*lines, "Assistant:"])
