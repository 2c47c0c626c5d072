"""The typed experiment schema shared by ``lem ab --config FILE`` and the CLI flags.

Every field carries its help text; ``lem ab``'s flags are generated from these fields
(:mod:`lem.cli.schema`), and flags given on the command line win over the YAML file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from lem.defaults import DEFAULT_SCORER
from lem.errors import InputError

if TYPE_CHECKING:
    from lem.kernels import Kernel

__all__ = [
    "DEFAULT_CONDITIONS",
    "DEFAULT_DB",
    "PLACEMENTS",
    "ABConfig",
    "load_config",
    "make_config",
    "merge_settings",
]

DEFAULT_CONDITIONS = ["baseline", "system:lek", "sandwich:lek"]
PLACEMENTS = ("system", "prefix", "suffix", "sandwich", "wrap")
"""Where ``--placements`` can put a kernel; each is the condition kind of that name."""
PLACEMENT_ALIASES = {"system+suffix": "sandwich", "prefix+suffix": "wrap"}
DEFAULT_DB = "sqlite:///runs/lem.db"


class ABConfig(BaseModel):
    """One A/B experiment: a model, conditions and probes, decoding and storage settings."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)
    command: ClassVar[str] = "ab"
    """The ``lem`` command this schema belongs to (named in error messages)."""

    model: str = Field(
        "demo",
        description="Model spec: hf:PATH (or a bare directory), hf:demo (bundled demo model), "
        "mlx:PATH (MLX in-process, Apple Silicon), openai:URL#MODEL for an "
        "OpenAI-compatible server.",
        json_schema_extra={"short": "-m"},
    )
    model_id: str | None = Field(
        None,
        description="openai: a name you declare for the served model (weights, quantisation); "
        "part of its identity.",
    )
    canary: bool = Field(
        True,
        description="openai: fingerprint the served model by its greedy answer to a fixed "
        "prompt, so swapped weights behind one URL are a new model.",
    )
    context_overflow: Literal["error", "warn"] = Field(
        "error",
        description="When prompt + max tokens exceed the model's context: refuse before "
        "generating (error) or generate and flag the items (warn).",
    )
    probes: str | None = Field(
        None, description="Probe set file (.json, .jsonl, .csv); default: lem's bundled set."
    )
    probe_ids: list[str] | None = Field(
        None,
        description="Only these probe ids, in this order.",
        json_schema_extra={
            "help": "Only these probe ids: repeat the flag (each value is an id as written, "
            "commas included) or give a comma-separated list."
        },
    )
    domains: list[str] | None = Field(
        None, description="Only probes of these domains.", json_schema_extra={"split": True}
    )
    limit: int | None = Field(None, ge=1, description="At most this many probes.")
    kernels: list[str] = Field(
        default_factory=list,
        description="Extra kernels as NAME=PATH; bundled: lek (axioms JSON), lek-text (text).",
        json_schema_extra={"flag": "--kernel", "short": "-k"},
    )
    render_json_kernels: bool = Field(
        False,
        description="Render axioms-layout JSON kernels to text instead of using them verbatim.",
        json_schema_extra={"off": "--verbatim-json-kernels"},
    )
    conditions: list[str] = Field(
        default_factory=lambda: list(DEFAULT_CONDITIONS),
        description="Conditions: baseline, system:K, prefix:K, sandwich:K, sandwich:S+P; "
        "NAME=SPEC names one (e.g. json=system:lek).",
        json_schema_extra={"flag": "--condition", "short": "-C", "split": True},
    )
    ablate: str | None = Field(
        None,
        description="Kernel ablation: add the axioms-layout kernel K rendered as the system "
        "message in full, without each axiom and with each axiom alone (axioms:K, "
        "axioms:K/minus-ID, axioms:K/only-ID); the report attributes the effect per axiom.",
    )
    placements: list[str] = Field(
        default_factory=list,
        description="Placement axis: add --placement-kernel at each of these places: system, "
        "prefix, suffix, sandwich (system + suffix), wrap (prefix + suffix); the report "
        "compares them.",
        json_schema_extra={"split": True},
    )
    placement_kernel: str = Field("lek", description="The kernel --placements places.")
    prompt_format: Literal["chat", "completion"] = Field(
        "chat",
        description="chat: the chat template; completion: each condition's messages as one "
        "plain text prompt (base models; hf and mlx only).",
    )
    samples: int = Field(1, ge=1, description="Generations per probe and condition.")
    temperature: float = Field(0.0, ge=0.0, description="Sampling temperature; 0 = greedy.")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    max_tokens: int = Field(1024, ge=1, description="Maximum new tokens per generation.")
    seed: int = Field(0, description="Run seed; each item's seed derives from it and its key.")
    stop: list[str] = Field(
        default_factory=list,
        description="Stop strings.",
        json_schema_extra={"help": "Stop strings. Repeatable."},
    )
    batch_size: int = Field(
        8, ge=1, description="hf: prompts per batch.", json_schema_extra={"short": "-b"}
    )
    device: str = Field("auto", description="hf: auto, cpu, cuda, cuda:N or mps.")
    dtype: str = Field("auto", description="hf: auto, float32, float16, bfloat16 or float64.")
    trust_remote_code: bool = Field(False, description="hf: allow model code from the model dir.")
    prefix_cache: bool = Field(
        True,
        description="hf: compute a token prefix the batch's prompts share (a kernel) once "
        "and reuse its KV cache; outputs equal computing it afresh.",
        json_schema_extra={"off": "--no-prefix-cache"},
    )
    api_key_env: str = Field(
        "OPENAI_API_KEY", description="openai: environment variable holding the API key."
    )
    concurrency: int = Field(4, ge=1, description="openai: requests in flight.")
    timeout: float = Field(
        300.0, gt=0, description="openai: total seconds per request (a deadline, then retried)."
    )
    max_retries: int = Field(6, ge=0, description="openai: retries on 429/5xx/timeouts.")
    db: str = Field(DEFAULT_DB, description="Run store: SQLite path or SQLAlchemy URL.")
    scorers: list[str] = Field(
        default_factory=lambda: [DEFAULT_SCORER],
        description="Scorers applied inline.",
        json_schema_extra={"flag": "--scorer", "split": True},
    )
    judge: str | None = Field(
        None, description="Judge endpoint for judge:RUBRIC@MODEL scorers: openai:URL#MODEL."
    )
    name: str | None = Field(None, description="A label for the run (not part of its id).")
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Labels for reports, e.g. family=mistral version=0.2 base=NAME "
        "(not part of the run id).",
        json_schema_extra={"flag": "--tag", "pairs": True},
    )
    lease_s: float = Field(1800.0, gt=0, description="Seconds a claimed item stays reserved.")

    @field_validator("placements")
    @classmethod
    def _placements(cls, v: list[str]) -> list[str]:
        out: list[str] = []
        for p in v:
            name = PLACEMENT_ALIASES.get(p.strip(), p.strip())
            if name not in PLACEMENTS:
                raise ValueError(
                    f"unknown placement {p!r}; use {', '.join(PLACEMENTS)} "
                    "(system+suffix = sandwich, prefix+suffix = wrap)"
                )
            if name not in out:
                out.append(name)
        return out

    @model_validator(mode="after")
    def _axes_replace_default_conditions(self) -> ABConfig:
        """With --ablate or --placements and no --condition, the conditions are baseline
        plus the generated ones (not the default set)."""
        if (self.ablate or self.placements) and "conditions" not in self.model_fields_set:
            self.__dict__["conditions"] = ["baseline"]
            self.model_fields_set.add("conditions")
        return self

    def condition_specs(self, kernels: Mapping[str, Kernel] | None = None) -> list[str]:
        """Every condition of the run: ``conditions``, then the placements of
        ``placement_kernel``, then the ablation of ``ablate`` (duplicates once); with either
        axis, ``baseline`` is always one of them. ``kernels``: the run's kernels when the
        caller has loaded them (else they are read for an ablation)."""
        specs = list(self.conditions)
        if (self.placements or self.ablate) and "baseline" not in specs:
            specs.insert(0, "baseline")
        specs += [f"{p}:{self.placement_kernel}" for p in self.placements]
        if self.ablate:
            from lem.conditions.axioms import ablation_specs
            from lem.kernels import resolve_kernels

            if kernels is None:
                kernels = resolve_kernels(self.kernels, render=self.render_json_kernels)
            if self.ablate not in kernels:
                raise InputError(
                    f"--ablate {self.ablate}: unknown kernel; known kernels: "
                    f"{', '.join(sorted(kernels))} (add one with --kernel NAME=PATH)"
                )
            specs += ablation_specs(kernels[self.ablate])
        return list(dict.fromkeys(specs))

    @field_validator("dtype")
    @classmethod
    def _dtype(cls, v: str) -> str:
        allowed = {"auto", "float32", "float16", "bfloat16", "float64"}
        if v not in allowed:
            raise ValueError(f"must be one of {', '.join(sorted(allowed))}")
        return v

    def merged(self: C, overrides: dict[str, Any]) -> C:
        """A copy with the given (non-None) fields replaced: flags win over the file. Only
        fields set in the file or by a flag count as set (``model_fields_set``)."""
        return merge_settings(self, overrides)

    def ab_config(self) -> ABConfig:
        """The A/B experiment part of these settings (for a subclass: its generation
        settings). Fields set by the user, or whose default the subclass changes, count as
        set."""
        plain = ABConfig()
        keep = {
            k
            for k in ABConfig.model_fields
            if k in self.model_fields_set or getattr(self, k) != getattr(plain, k)
        }
        return ABConfig(**self.model_dump(include=keep))


C = TypeVar("C", bound=BaseModel)


def merge_settings(base: C, overrides: dict[str, Any]) -> C:
    """``base`` with the given (non-None) fields replaced: flags win over the file. Only
    fields set in the file or by a flag count as set (``model_fields_set``)."""
    data = base.model_dump(exclude_unset=True)
    data.update({k: v for k, v in overrides.items() if v is not None})
    return make_config(data, source="command-line flags", schema=type(base))


def make_config(data: dict[str, Any], *, source: str, schema: type[C] = ABConfig) -> C:  # type: ignore[assignment]
    """Validate a mapping into ``schema`` (a settings model such as :class:`ABConfig`),
    naming the bad field on failure."""
    try:
        return schema(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            raise InputError(
                f"{source}: unknown field {field!r}; see `lem {_command(schema)} --help` for "
                "the fields"
            ) from None
        if not err["loc"]:
            raise InputError(f"{source}: {err['msg'].removeprefix('Value error, ')}") from None
        raise InputError(f"{source}: field {field!r}: {err['msg']}") from None


def _command(schema: type[BaseModel]) -> str:
    return str(getattr(schema, "command", "ab"))


def load_config(path: str | Path | None, schema: type[C] = ABConfig) -> C:  # type: ignore[assignment]
    """Read a YAML settings file into ``schema`` (the defaults for ``None``)."""
    if path is None:
        return schema()
    p = Path(path)
    if not p.is_file():
        raise InputError(f"config file {p} not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise InputError(f"config file {p}: malformed YAML{where}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"config file {p}: expected a mapping of field: value")
    data = {str(k).replace("-", "_"): v for k, v in data.items()}
    return make_config(data, source=f"config file {p}", schema=schema)
