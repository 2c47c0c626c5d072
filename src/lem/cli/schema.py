"""CLI flags generated from a pydantic settings model, so the model is the one definition
of every setting: its field names, types, defaults and descriptions become the flags, the
YAML schema and ``--help`` alike.

Per-field CLI details live in the field's ``json_schema_extra``:

``flag``   the long flag when it is not ``--field-name`` (``--kernel`` for ``kernels``)
``short``  a short flag (``-m``)
``off``    the negative flag of a boolean (default ``--no-NAME``)
``split``  list values may also be comma-separated (``-C baseline,system:lek``)
``pairs``  a ``dict[str, str]`` field given as repeated ``KEY=VALUE``
``help``   help text for the flag when it should differ from the description

Flags default to ``None`` ("not given"), so :func:`collect` returns only what the user
typed and the YAML file's values stand unless a flag overrides them.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from lem.errors import InputError

__all__ = ["collect", "command_from_model", "config_param", "quiet_param"]


def _extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return dict(extra) if isinstance(extra, dict) else {}


def _base_type(annotation: Any) -> Any:
    """``X`` for ``X | None``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _flag_type(annotation: Any, pairs: bool) -> Any:
    """The type typer parses the flag as (always optional: None means not given)."""
    base = _base_type(annotation)
    origin = typing.get_origin(base)
    if pairs or origin in (list, dict):
        return list[str] | None
    if origin is typing.Literal:
        return str | None
    return base | None


def _option(name: str, info: FieldInfo) -> Any:
    extra = _extra(info)
    long = extra.get("flag") or "--" + name.replace("_", "-")
    decls = [long]
    base = _base_type(info.annotation)
    if base is bool:
        decls = [f"{long}/{extra.get('off') or '--no-' + long.removeprefix('--')}"]
    if extra.get("short"):
        decls.append(extra["short"])
    text = extra.get("help") or info.description or ""
    origin = typing.get_origin(base)
    if typing.get_origin(base) is typing.Literal:
        text += f" One of: {', '.join(map(str, typing.get_args(base)))}."
    if (origin in (list, dict) or extra.get("pairs")) and "repeat" not in text.lower():
        text += " Repeat the flag" + (" or separate with commas." if extra.get("split") else ".")
    default = _default_text(info)
    if default:
        text += f" [default: {default}]"
    return typer.Option(None, *decls, help=text.strip())


def _default_text(info: FieldInfo) -> str:
    """The field's default as shown in ``--help`` ("" when there is none to show)."""
    value = info.get_default(call_default_factory=True)
    if value is None or value == [] or value == {}:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def command_from_model(
    model: type[BaseModel],
    body: Callable[..., None],
    *,
    before: list[inspect.Parameter] = (),  # type: ignore[assignment]
    after: list[inspect.Parameter] = (),  # type: ignore[assignment]
) -> Callable[..., None]:
    """A typer command whose options are ``model``'s fields (between the hand-written
    ``before`` and ``after`` parameters); calling it calls ``body(**kwargs)``."""
    params = list(before)
    for name, info in model.model_fields.items():
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=_option(name, info),
                annotation=_flag_type(info.annotation, bool(_extra(info).get("pairs"))),
            )
        )
    params.extend(after)

    def command(**kwargs: Any) -> None:
        body(**kwargs)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__doc__ = body.__doc__
    command.__module__ = body.__module__
    command.__qualname__ = body.__qualname__
    command.__name__ = body.__name__
    return command


def config_param(help_text: str = "YAML settings file.") -> inspect.Parameter:
    """The ``--config/-c FILE`` parameter of a command built by :func:`command_from_model`."""
    return inspect.Parameter(
        "config",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(None, "--config", "-c", help=help_text),
        annotation=Path | None,
    )


def quiet_param() -> inspect.Parameter:
    """The ``--quiet/-q`` parameter (no progress bar) of a long-running command."""
    return inspect.Parameter(
        "quiet",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(False, "--quiet", "-q", help="No progress bar."),
        annotation=bool,
    )


def dry_run_param() -> inspect.Parameter:
    """The ``--dry-run`` parameter of a generating command: show the plan, change nothing."""
    return inspect.Parameter(
        "dry_run",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(
            False,
            "--dry-run",
            help="Print what would run and how many items the store already has; write nothing.",
        ),
        annotation=bool,
    )


def print_plan(plan: Any) -> None:
    """Print a :class:`lem.api.PlanPreview` (``--dry-run``)."""
    typer.echo(
        f"run {plan.run_id} ({'in the store' if plan.run_exists else 'new'}): "
        f"{plan.planned} items; {plan.done} already done, {plan.failed} failed, "
        f"{plan.pending} to generate"
    )
    for cond, c in plan.by_condition.items():
        typer.echo(f"  {cond}: {c['planned']} items, {c['done']} done")


def collect(model: type[BaseModel], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The settings the user gave as flags (None: not given), shaped for ``model``."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        value = kwargs.get(name)
        if value is None or value == []:
            continue
        extra = _extra(info)
        if extra.get("pairs"):
            out[name] = _pairs(value, extra.get("flag") or "--" + name.replace("_", "-"))
        elif extra.get("split"):
            out[name] = [v.strip() for item in value for v in item.split(",") if v.strip()]
        elif isinstance(value, Path):
            out[name] = str(value)
        else:
            out[name] = value
    return out


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"{flag} {item!r} must be KEY=VALUE, e.g. family=mistral")
        out[key.strip()] = value.strip()
    return out
