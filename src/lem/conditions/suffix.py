"""``suffix:K``: the kernel after the prompt, in the one user turn (no system turn)."""

from __future__ import annotations

from collections.abc import Mapping

from lem.backends.base import Message
from lem.conditions.base import Condition, register_condition
from lem.errors import InputError
from lem.kernels import Kernel

__all__ = ["SuffixKernel"]


@register_condition("suffix")
class SuffixKernel(Condition):
    """One user turn: the prompt, a blank line, then the kernel text (``P + "\\n\\n" + K``)."""

    @classmethod
    def build(cls, name: str, arg: str | None, kernels: Mapping[str, Kernel]) -> Condition:
        if not arg:
            raise InputError(f"condition {name!r} needs a kernel: suffix:NAME")
        return cls(name, (cls.kernel(kernels, arg, name),))

    def messages(self, prompt: str) -> list[Message]:
        return [{"role": "user", "content": prompt + "\n\n" + self.kernels[0].text}]
