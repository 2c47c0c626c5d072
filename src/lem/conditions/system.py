"""``system:K``: the kernel as the system message."""

from __future__ import annotations

from collections.abc import Mapping

from lem.backends.base import Message
from lem.conditions.base import Condition, register_condition
from lem.errors import InputError
from lem.kernels import Kernel

__all__ = ["SystemKernel"]


@register_condition("system")
class SystemKernel(Condition):
    """Kernel text (verbatim) as the system turn, the prompt as the user turn."""

    @classmethod
    def build(cls, name: str, arg: str | None, kernels: Mapping[str, Kernel]) -> Condition:
        if not arg:
            raise InputError(f"condition {name!r} needs a kernel: system:NAME")
        return cls(name, (cls.kernel(kernels, arg, name),))

    def messages(self, prompt: str) -> list[Message]:
        return [
            {"role": "system", "content": self.kernels[0].text},
            {"role": "user", "content": prompt},
        ]
