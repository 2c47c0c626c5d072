"""``baseline``: the bare prompt, no system message."""

from __future__ import annotations

from collections.abc import Mapping

from lem.backends.base import Message
from lem.conditions.base import Condition, register_condition
from lem.errors import InputError
from lem.kernels import Kernel

__all__ = ["Baseline"]


@register_condition("baseline")
class Baseline(Condition):
    """The control: the prompt alone as the user turn."""

    @classmethod
    def build(cls, name: str, arg: str | None, kernels: Mapping[str, Kernel]) -> Condition:
        if arg:
            raise InputError(f"condition {name!r}: baseline takes no kernel")
        return cls(name, ())

    def messages(self, prompt: str) -> list[Message]:
        return [{"role": "user", "content": prompt}]
