"""``wrap:K``: the kernel both before and after the prompt, in the one user turn."""

from __future__ import annotations

from collections.abc import Mapping

from lem.backends.base import Message
from lem.conditions.base import Condition, register_condition
from lem.errors import InputError
from lem.kernels import Kernel

__all__ = ["WrapKernel"]


@register_condition("wrap")
class WrapKernel(Condition):
    """One user turn: kernel, blank line, prompt, blank line, kernel (``K\\n\\nP\\n\\nK``):
    the prefix and suffix placements at once, no system turn."""

    @classmethod
    def build(cls, name: str, arg: str | None, kernels: Mapping[str, Kernel]) -> Condition:
        if not arg:
            raise InputError(f"condition {name!r} needs a kernel: wrap:NAME")
        return cls(name, (cls.kernel(kernels, arg, name),))

    def messages(self, prompt: str) -> list[Message]:
        k = self.kernels[0].text
        return [{"role": "user", "content": k + "\n\n" + prompt + "\n\n" + k}]
