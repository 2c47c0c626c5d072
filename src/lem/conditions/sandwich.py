"""``sandwich:K`` and ``sandwich:S+P``: axioms as the system message, the kernel after the
prompt.

With ``S`` an axioms-layout kernel and ``P`` a text kernel this reproduces upstream's
"sandwich signing" byte for byte. With one kernel ``K``, the system part is its axiom list
(or its text verbatim when it has none) and the postfix is its text form, stripped (an
axioms-layout kernel is rendered to text for the postfix).
"""

from __future__ import annotations

from collections.abc import Mapping

from lem.backends.base import Message
from lem.conditions.base import Condition, register_condition
from lem.errors import InputError
from lem.kernels import Kernel

__all__ = ["SANDWICH_POSTFIX_INTRO", "Sandwich"]

SANDWICH_POSTFIX_INTRO = "\n\n---\n\nConsider this ethical framework in your response:\n"


@register_condition("sandwich")
class Sandwich(Condition):
    """System = axioms block; user = prompt + separator + intro line + kernel text."""

    @classmethod
    def build(cls, name: str, arg: str | None, kernels: Mapping[str, Kernel]) -> Condition:
        if not arg:
            raise InputError(f"condition {name!r} needs kernels: sandwich:NAME or sandwich:S+P")
        parts = arg.split("+")
        if len(parts) > 2 or not all(parts):
            raise InputError(f"condition {name!r}: use sandwich:NAME or sandwich:SYSTEM+POSTFIX")
        return cls(name, tuple(cls.kernel(kernels, p, name) for p in parts))

    def messages(self, prompt: str) -> list[Message]:
        system_k = self.kernels[0]
        postfix_k = self.kernels[-1]
        return [
            {"role": "system", "content": system_k.system_part()},
            {"role": "user", "content": prompt + SANDWICH_POSTFIX_INTRO + postfix_k.postfix_part()},
        ]
