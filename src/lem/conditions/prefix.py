"""``prefix:K``: the kernel before the prompt, inside the user turn."""

from __future__ import annotations

from collections.abc import Mapping

from lem.backends.base import Message
from lem.conditions.base import Condition, register_condition
from lem.errors import InputError
from lem.kernels import Kernel

__all__ = ["PrefixKernel"]


@register_condition("prefix")
class PrefixKernel(Condition):
    """One user turn: kernel text, a blank line, then the prompt (``K + "\\n\\n" + P``)."""

    @classmethod
    def build(cls, name: str, arg: str | None, kernels: Mapping[str, Kernel]) -> Condition:
        if not arg:
            raise InputError(f"condition {name!r} needs a kernel: prefix:NAME")
        return cls(name, (cls.kernel(kernels, arg, name),))

    def messages(self, prompt: str) -> list[Message]:
        return [{"role": "user", "content": self.kernels[0].text + "\n\n" + prompt}]
