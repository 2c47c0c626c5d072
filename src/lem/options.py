"""Typed options for pluggable parts: one pydantic model per backend or scorer, derived
from the keyword-only parameters of its constructor or factory, so the signature stays
the single definition. Unknown or ill-typed options are errors naming the valid ones."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from lem.errors import InputError

__all__ = ["NoOptions", "options_model_from", "validate_options"]


class NoOptions(BaseModel):
    """The options of a part that takes none."""

    model_config = ConfigDict(extra="forbid")


def options_model_from(
    func: Callable[..., Any], name: str, *, skip: Iterable[str] = ()
) -> type[BaseModel]:
    """A pydantic model (unknown fields forbidden, numbers finite) of ``func``'s
    keyword-only parameters, with their annotated types and defaults."""
    hints = typing.get_type_hints(func)
    skipped = set(skip)
    fields: dict[str, Any] = {}
    for param in inspect.signature(func).parameters.values():
        if param.kind is not inspect.Parameter.KEYWORD_ONLY or param.name in skipped:
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hints.get(param.name, Any), default)
    config = ConfigDict(extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True)
    model: type[BaseModel] = create_model(name, __config__=config, **fields)
    return model


def validate_options(
    model: type[BaseModel], options: Mapping[str, Any], what: str
) -> dict[str, Any]:
    """``options`` checked against ``model``: the ones given, validated (defaults are left
    to the constructor). An unknown or invalid option is an :class:`InputError`."""
    valid = sorted(model.model_fields)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise InputError(
            f"{what} has no option {unknown[0]!r}; its options: {', '.join(valid) or 'none'}"
        )
    try:
        parsed = model(**options)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise InputError(f"{what}: option {field!r}: {err['msg']}") from None
    return {k: getattr(parsed, k) for k in options}
