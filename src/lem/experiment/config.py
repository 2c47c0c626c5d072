"""The experiment file of ``lem experiment run``: the whole alignment loop in one YAML.

::

    name: smollm2-lek
    model: runs/models/smollm2-135m-instruct    # the base model folder (or demo)
    eval:                                       # lem ab settings for every evaluation
      limit: 40
      conditions: [baseline, json=system:lek]   # the tuned models are re-tested with both
      max_tokens: 128
      scorers: [lek-v2, lek-v3]
    stages:                                     # one or more training stages (a curriculum)
      - name: ethics
        distill: {probes: lem-train, samples: 4, max_tokens: 128}
        train: {epochs: 3, learning_rate: 2e-4}
    report: {scorers: [lek-v2, lek-v3]}

Each training stage either distils its data (``distill``: the settings of ``lem
distill``) or takes a dataset (``data``: a dataset folder, or ``@STAGE`` for an earlier
stage's dataset), trains from the previous stage's
model (the base for the first) with ``train`` (the settings of ``lem train``), fuses, and
is evaluated with ``eval``'s settings. The settings blocks are validated by the same
schemas as the commands, so an unknown key is an error naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lem.errors import InputError

__all__ = ["ExperimentConfig", "StageConfig", "load_experiment"]

_OWNED_EVAL = {"model", "db"}
_OWNED_DISTILL = {"model", "db", "out"}
_OWNED_TRAIN = {"model", "data", "out", "resume"}


class StageConfig(BaseModel):
    """One training stage: data (distilled or given), training settings."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]+$")
    distill: dict[str, Any] | None = None
    data: str | None = None
    train: dict[str, Any] = Field(default_factory=dict)

    @field_validator("distill")
    @classmethod
    def _distill(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            _check_block(v, "distill", _OWNED_DISTILL)
        return v

    @field_validator("train")
    @classmethod
    def _train(cls, v: dict[str, Any]) -> dict[str, Any]:
        _check_block(v, "train", _OWNED_TRAIN)
        return v


class ExperimentConfig(BaseModel):
    """A declarative alignment-loop experiment (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]+$")
    model: str
    out: str | None = None
    db: str | None = None
    eval: dict[str, Any] = Field(default_factory=dict)
    stages: list[StageConfig] = Field(..., min_length=1)
    report: dict[str, Any] = Field(default_factory=dict)

    @field_validator("eval")
    @classmethod
    def _eval(cls, v: dict[str, Any]) -> dict[str, Any]:
        _check_block(v, "eval", _OWNED_EVAL)
        return v

    @property
    def folder(self) -> Path:
        """Where the experiment's files go (default ``runs/experiments/NAME``)."""
        return Path(self.out or f"runs/experiments/{self.name}")

    @property
    def store(self) -> str:
        """The experiment's store (default a SQLite file in its folder)."""
        return self.db or str(self.folder / "lem.db")


def _check_block(block: dict[str, Any], name: str, owned: set[str]) -> None:
    taken = sorted(set(block) & owned)
    if taken:
        raise ValueError(f"{name}.{taken[0]} is set by the experiment; remove it")


def _validate(schema: type[BaseModel], data: Any, prefix: str, path: Path) -> Any:
    try:
        return schema(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = prefix + ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        raise InputError(
            f"experiment file {path}: {field.rstrip('.') or '(top level)'}: {msg}"
        ) from None


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment file, naming the bad field on failure; the
    settings blocks are checked against the command schemas too."""
    from lem.config import ABConfig
    from lem.distill.config import DistillConfig
    from lem.train.config import TrainConfig

    p = Path(path)
    if not p.is_file():
        raise InputError(f"experiment file {p} not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError:
        raise InputError(f"experiment file {p}: malformed YAML") from None
    if not isinstance(data, dict):
        raise InputError(f"experiment file {p}: expected a mapping")
    exp = _validate(ExperimentConfig, data, "", p)
    _validate(ABConfig, exp.eval, "eval.", p)
    for i, stage in enumerate(exp.stages):
        where = f"stages.{i}"
        if (stage.distill is None) == (stage.data is None):
            raise InputError(f"experiment file {p}: {where} needs exactly one of distill or data")
        if stage.distill is not None:
            _validate(DistillConfig, stage.distill, f"{where}.distill.", p)
        _validate(TrainConfig, {"data": ".", **stage.train}, f"{where}.train.", p)
    names = [s.name for s in exp.stages]
    if len(set(names)) != len(names):
        raise InputError(f"experiment file {p}: stage names must be unique ({', '.join(names)})")
    for i, stage in enumerate(exp.stages):
        ref = stage.data or ""
        if ref.startswith("@") and ref[1:] not in names[:i]:
            earlier = ", ".join(f"@{n}" for n in names[:i]) or "none"
            raise InputError(
                f"experiment file {p}: stages.{i}.data {ref} names no earlier stage's dataset "
                f"(earlier: {earlier})"
            )
    return exp
