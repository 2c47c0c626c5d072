"""The condition contract and registry."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from lem.backends.base import Message, fold_system
from lem.errors import InputError
from lem.kernels import Kernel
from lem.registry import Registry

__all__ = [
    "CONDITIONS",
    "Condition",
    "available_conditions",
    "fold_system",
    "parse_condition",
    "parse_conditions",
    "register_condition",
]


class Condition(abc.ABC):
    """Turns a probe prompt into a message list; ``name`` is the spec string as given."""

    kind: ClassVar[str] = ""

    def __init__(self, name: str, kernels: tuple[Kernel, ...]) -> None:
        self.name = name
        self.kernels = kernels

    @classmethod
    @abc.abstractmethod
    def build(cls, name: str, arg: str | None, kernels: Mapping[str, Kernel]) -> Condition:
        """Validate ``arg`` against the known kernels and construct the condition."""

    @abc.abstractmethod
    def messages(self, prompt: str) -> list[Message]:
        """The chat messages for one probe."""

    spec: str = ""

    def manifest(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.spec or self.name,
            "kind": self.kind,
            "kernels": [k.manifest() for k in self.kernels],
        }

    @staticmethod
    def kernel(kernels: Mapping[str, Kernel], name: str, spec: str) -> Kernel:
        if name not in kernels:
            raise InputError(
                f"condition {spec!r} names unknown kernel {name!r}; known kernels: "
                f"{', '.join(sorted(kernels))} (add one with --kernel NAME=PATH)"
            )
        return kernels[name]


CONDITIONS: Registry[type[Condition]] = Registry(
    "condition kind", hint=" (e.g. baseline, system:lek, prefix:lek, sandwich:lek)"
)
"""Every condition kind, by the ``KIND`` of ``KIND:ARG`` specs."""


def register_condition(kind: str) -> Callable[[type[Condition]], type[Condition]]:
    """Class decorator: make a condition kind available in condition specs."""

    def deco(cls: type[Condition]) -> type[Condition]:
        cls.kind = kind
        CONDITIONS.register(kind, cls)
        return cls

    return deco


def available_conditions() -> list[str]:
    return CONDITIONS.names()


def parse_condition(spec: str, kernels: Mapping[str, Kernel]) -> Condition:
    """Build one condition from its spec string: ``KIND[:ARG]``, or ``NAME=KIND[:ARG]`` to
    give it a name of its own (e.g. ``json=system:lek``, so exports carry another tool's
    condition names). Without a name the spec itself is the name."""
    spec = spec.strip()
    name = spec
    head, eq, rest = spec.partition("=")
    if eq and ":" not in head:
        name, spec = head.strip(), rest.strip()
        if not name or any(ch.isspace() for ch in name):
            raise InputError(
                f"condition {head + eq + rest!r}: the name before '=' must be a non-empty "
                "word, e.g. json=system:lek"
            )
    kind, sep, arg = spec.partition(":")
    cls = CONDITIONS.get(kind)
    if cls is None:
        raise InputError(
            f"unknown condition {spec!r}; kinds: {', '.join(available_conditions())} "
            "(e.g. baseline, system:lek, prefix:lek, sandwich:lek, json=system:lek)"
        )
    cond = cls.build(name, arg if sep else None, kernels)
    cond.spec = spec
    return cond


def parse_conditions(specs: list[str], kernels: Mapping[str, Kernel]) -> list[Condition]:
    """Build every condition; ``baseline`` is moved first, duplicates are an error."""
    if not specs:
        raise InputError("no conditions given; e.g. --condition baseline --condition system:lek")
    conds = [parse_condition(s, kernels) for s in specs]
    names = [c.name for c in conds]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"condition {dupes[0]!r} is given twice")
    return sorted(conds, key=lambda c: c.kind != "baseline")
