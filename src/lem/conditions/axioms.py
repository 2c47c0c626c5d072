"""``axioms:K``, ``axioms:K/minus-ID``, ``axioms:K/only-ID``: an axioms-layout kernel (or
the kernel without one axiom, or with that axiom alone) rendered to text, as the system
message. The conditions of a kernel ablation (``lem ab --ablate K``)."""

from __future__ import annotations

from collections.abc import Mapping

from lem.backends.base import Message
from lem.conditions.base import Condition, register_condition
from lem.errors import InputError
from lem.kernels import Kernel, axiom_ids, axiom_variant

__all__ = ["AxiomsKernel", "ablation_specs"]


def ablation_specs(kernel: Kernel) -> list[str]:
    """The condition specs of an ablation of ``kernel``: the full kernel, then without
    each axiom, then each axiom alone (file order)."""
    ids = axiom_ids(kernel)
    if len(ids) < 2:
        raise InputError(
            f"kernel {kernel.name!r} has {len(ids)} axiom(s); ablation needs at least 2 "
            "(with one, the kernel and its only axiom are the same prompt)"
        )
    k = kernel.name
    return [f"axioms:{k}", *(f"axioms:{k}/minus-{i}" for i in ids)] + [
        f"axioms:{k}/only-{i}" for i in ids
    ]


@register_condition("axioms")
class AxiomsKernel(Condition):
    """System message: the kernel's axioms (all, all but one, or one) rendered as text."""

    variant: str = "full"
    axiom: str | None = None

    @classmethod
    def build(cls, name: str, arg: str | None, kernels: Mapping[str, Kernel]) -> Condition:
        if not arg:
            raise InputError(
                f"condition {name!r} needs a kernel: axioms:NAME, axioms:NAME/minus-ID or "
                "axioms:NAME/only-ID"
            )
        kname, slash, which = arg.partition("/")
        kernel = cls.kernel(kernels, kname, name)
        ids = axiom_ids(kernel)
        variant, axiom = "full", None
        if slash:
            variant, dash, axiom = which.partition("-")
            if variant not in ("minus", "only") or not dash or axiom not in ids:
                raise InputError(
                    f"condition {name!r}: after '/' give minus-ID or only-ID with an axiom "
                    f"id of kernel {kname!r} ({', '.join(ids)})"
                )
        keep: list[str] = {
            "full": ids,
            "minus": [i for i in ids if i != axiom],
            "only": [str(axiom)],
        }[variant]
        label = kname if variant == "full" else f"{kname}/{variant}-{axiom}"
        cond = cls(name, (axiom_variant(kernel, keep, label),))
        cond.variant, cond.axiom = variant, axiom
        return cond

    def messages(self, prompt: str) -> list[Message]:
        return [
            {"role": "system", "content": self.kernels[0].text},
            {"role": "user", "content": prompt},
        ]

    def manifest(self) -> dict[str, object]:
        return {**super().manifest(), "ablation": {"variant": self.variant, "axiom": self.axiom}}
