"""The typed settings of ``lem parity``: two or more model specs serving the same weights,
and the A/B experiment fields that say what they are asked (probes, conditions, token
budget, stop strings, store, scorers, backend options).

The experiment fields are :class:`~lem.config.ABConfig`'s own (same names, types, defaults,
help and validation), so ``lem parity``'s flags, its YAML file and ``--help`` come from one
schema and every model's run is the run ``lem ab`` would make with the same settings: the
same work items, shared with an earlier ``lem ab`` run of that model. Decoding is greedy
and fixed (temperature 0, top-p 1, one sample, seed 0): sampled answers cannot be compared
token by token.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lem.config import ABConfig, make_config, merge_settings
from lem.errors import InputError, LemWarning

__all__ = ["GREEDY", "ParityConfig"]

GREEDY: dict[str, Any] = {"temperature": 0.0, "top_p": 1.0, "samples": 1, "seed": 0}
"""The decoding every model of a parity run gets (ABConfig fields); not settable."""


def _ab(name: str) -> Any:
    """A copy of :class:`ABConfig`'s field ``name`` (type, default, help, flag details)."""
    return copy.deepcopy(ABConfig.model_fields[name])


class ParityConfig(BaseModel):
    """The same probes and conditions, decoded greedily, through several backends serving
    the same weights; their answers and scores compared pair by pair."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)
    command: ClassVar[str] = "parity"

    models: list[str] = Field(
        default_factory=list,
        description="Two or more model specs serving the same weights (hf:PATH, hf:demo, "
        "mlx:PATH, openai:URL#MODEL); the first is the reference.",
        json_schema_extra={
            "flag": "--model",
            "short": "-m",
            "help": "A model spec (hf:PATH, "
            "hf:demo, mlx:PATH, openai:URL#MODEL); repeat for each model, the first is the "
            "reference.",
        },
    )
    probes: str | None = _ab("probes")
    probe_ids: list[str] | None = _ab("probe_ids")
    domains: list[str] | None = _ab("domains")
    limit: int | None = _ab("limit")
    kernels: list[str] = _ab("kernels")
    render_json_kernels: bool = _ab("render_json_kernels")
    conditions: list[str] = _ab("conditions")
    prompt_format: Literal["chat", "completion"] = _ab("prompt_format")
    max_tokens: int = _ab("max_tokens")
    stop: list[str] = _ab("stop")
    context_overflow: Literal["error", "warn"] = _ab("context_overflow")
    batch_size: int = _ab("batch_size")
    device: str = _ab("device")
    dtype: str = _ab("dtype")
    trust_remote_code: bool = _ab("trust_remote_code")
    model_id: str | None = _ab("model_id")
    canary: bool = _ab("canary")
    api_key_env: str = _ab("api_key_env")
    concurrency: int = _ab("concurrency")
    timeout: float = _ab("timeout")
    max_retries: int = _ab("max_retries")
    db: str = _ab("db")
    scorers: list[str] = _ab("scorers")
    judge: str | None = _ab("judge")
    lease_s: float = _ab("lease_s")
    tokenizer: str | None = Field(
        None,
        description="Model directory (or demo) whose tokenizer counts the first diverging "
        "token; default: the reference model's, else the first local model's.",
    )
    window: int = Field(
        40, ge=1, le=1000, description="Characters of each continuation shown after a divergence."
    )

    @model_validator(mode="before")
    @classmethod
    def _greedy(cls, data: Any) -> Any:
        """Decoding settings from an A/B file are accepted when greedy, else an error that
        says why (parity compares greedy answers only)."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, value in data.items():
            if key in GREEDY:
                if value != GREEDY[key]:
                    raise ValueError(
                        f"{key} {value!r}: lem parity decodes greedily (temperature 0, top_p 1, "
                        "one sample, seed 0); sampled answers cannot be compared token by token"
                    )
                del out[key]
        return out

    @field_validator("dtype")
    @classmethod
    def _dtype(cls, v: str) -> str:
        ABConfig(dtype=v)
        return v

    def merged(self, overrides: dict[str, Any]) -> ParityConfig:
        """A copy with the given (non-None) fields replaced: flags win over the file."""
        return merge_settings(self, overrides)

    def checked(self) -> ParityConfig:
        """These settings if they name at least two distinct models, else an
        :class:`~lem.errors.InputError` saying what to give. Also warns about a backend
        option given that none of the models takes."""
        specs = [m.strip() for m in self.models]
        if len(specs) < 2:
            got = f" (got {specs[0]!r} only)" if specs else ""
            raise InputError(
                f"lem parity compares two or more models{got}; give --model A --model B"
            )
        if any(not s for s in specs):
            raise InputError("--model: a model spec is empty")
        twice = sorted({s for s in specs if specs.count(s) > 1})
        if twice:
            raise InputError(f"--model {twice[0]} is given twice; give each model once")
        unused = sorted(
            f
            for f in self.model_fields_set & _backend_fields()
            if not any(f in _accepted(m) for m in specs)
        )
        if unused:
            flags = ", ".join("--" + f.replace("_", "-") for f in unused)
            warnings.warn(LemWarning(f"{flags}: no model here takes it; ignored"), stacklevel=2)
        return self

    def ab_config(self, model: str) -> ABConfig:
        """The A/B experiment run for ``model``: the fields given here (a backend option
        only if ``model``'s backend takes it: options are shared by all models), greedy
        decoding (:data:`GREEDY`)."""
        accepted = _accepted(model)
        backend_only = _backend_fields()
        keep = {
            k
            for k in ABConfig.model_fields
            if k in type(self).model_fields
            and k in self.model_fields_set
            and (k not in backend_only or k in accepted)
        }
        data = self.model_dump(include=keep)
        data.update(GREEDY, model=model)
        return make_config(data, source=f"lem parity --model {model}", schema=ABConfig)


def _accepted(model: str) -> set[str]:
    """The backend options the backend of ``model`` takes (none for an unknown kind)."""
    from lem.backends.base import BACKENDS, backend_options, parse_model_spec

    cls = BACKENDS.get(parse_model_spec(model)[0])
    return set(backend_options(cls).model_fields) if cls is not None else set()


def _backend_fields() -> set[str]:
    """ABConfig fields that are an option of some backend."""
    from lem.backends.base import BACKENDS, backend_options

    names = {f for _, cls in BACKENDS.items() for f in backend_options(cls).model_fields}
    return names & set(ABConfig.model_fields)
