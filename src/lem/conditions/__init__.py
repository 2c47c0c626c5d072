"""Conditions: how a probe and kernels become the messages a model sees.

A condition spec is ``KIND`` or ``KIND:ARG`` (``baseline``, ``system:K``, ``prefix:K``,
``sandwich:K``, ``sandwich:S+P``). Each kind is one module in this package registered with
:func:`register_condition`.
"""

from __future__ import annotations

from lem.conditions.base import (
    Condition,
    available_conditions,
    fold_system,
    parse_condition,
    parse_conditions,
    register_condition,
)

__all__ = [
    "Condition",
    "available_conditions",
    "fold_system",
    "parse_condition",
    "parse_conditions",
    "register_condition",
]
