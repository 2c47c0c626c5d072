"""The typed settings of ``lem distill``: the A/B experiment schema (model, sampling,
store, scorers) with distillation's defaults, plus selection, splitting and the
contamination guard. ``lem distill``'s flags and its YAML file come from this one model."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from lem.config import ABConfig

__all__ = ["DEFAULT_DISTILL_CONDITION", "DistillConfig"]

DEFAULT_DISTILL_CONDITION = "sandwich:lek+lek-text"
"""Upstream's gold generation: the axioms as the system message, the text kernel after the
prompt."""


class DistillConfig(ABConfig):
    """Sample answers under one kernel condition over a training prompt set, score them,
    and keep the best as chat training data without the kernel."""

    command: ClassVar[str] = "distill"

    probes: str | None = Field(
        "lem-train",
        description="Training prompt set (.json, .jsonl, .csv); lem-train = lem's bundled "
        "training prompts.",
    )
    conditions: list[str] = Field(
        default_factory=lambda: [DEFAULT_DISTILL_CONDITION],
        description="The one condition the answers are generated under (default: the "
        "upstream sandwich, sandwich:lek+lek-text).",
        json_schema_extra={"flag": "--condition", "short": "-C", "split": True},
    )
    mode: Literal["gold", "expansion"] = Field(
        "gold",
        description="gold: a base model answers under the kernel (the sandwich by default); "
        "expansion: a tuned model answers bare prompts (condition baseline).",
    )
    samples: int = Field(4, ge=1, description="Answers sampled per prompt.")
    temperature: float = Field(0.8, ge=0.0, description="Sampling temperature.")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    max_tokens: int = Field(512, ge=1, description="Maximum new tokens per answer.")
    out: str = Field(
        "runs/datasets/distill",
        description="Dataset folder to write (train/valid/test.jsonl, lineage, manifest).",
        json_schema_extra={"short": "-o"},
    )
    dataset_name: str | None = Field(
        None, description="Name recorded for the dataset (default: the folder name)."
    )
    keep: Literal["best", "threshold"] = Field(
        "best",
        description="best: the top answer(s) per prompt; threshold: every answer scoring at "
        "least --min-score.",
    )
    min_score: float | None = Field(
        None,
        description="Lowest score kept (required by --keep threshold; optional with best). "
        "Checked against the scorer's range.",
    )
    top_k: int | None = Field(
        None, ge=1, description="At most this many answers per prompt (best: default 1)."
    )
    select_by: str | None = Field(
        None, description="Scorer id that ranks answers (default: the first --scorer)."
    )
    near_duplicate: float = Field(
        0.7,
        ge=0.0,
        le=1.0,
        description="Drop an answer whose word-trigram Jaccard similarity to a kept answer "
        "is at least this (1 = exact duplicates only).",
    )
    keep_truncated: bool = Field(
        False, description="Keep answers cut off at --max-tokens (finish_reason length)."
    )
    keep_reasoning: bool = Field(
        False, description="Keep the model's reasoning (<think> block) in the training answer."
    )
    valid_fraction: float = Field(
        0.1, ge=0.0, lt=1.0, description="Share of prompts per domain in valid.jsonl."
    )
    test_fraction: float = Field(
        0.1, ge=0.0, lt=1.0, description="Share of prompts per domain in test.jsonl."
    )
    eval_probes: list[str] = Field(
        default_factory=lambda: ["lem-core"],
        description="Evaluation probe sets the training prompts must not overlap "
        "(lem-core = the bundled probes).",
        json_schema_extra={"flag": "--eval-probes", "split": True},
    )
    contamination: Literal["embedding", "lexical"] = Field(
        "embedding",
        description="How overlap is measured: embedding (sentence embeddings and content "
        "words; catches rewording) or lexical (words only; misses rewording).",
    )
    allow_overlap: bool = Field(
        False, description="Distil even when training prompts overlap the evaluation probes."
    )

    @model_validator(mode="before")
    @classmethod
    def _mode_default(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and data.get("mode") == "expansion"
            and not data.get("conditions")
        ):
            data = {**data, "conditions": ["baseline"]}
        return data

    @model_validator(mode="after")
    def _coherent(self) -> DistillConfig:
        if self.ablate or self.placements:
            raise ValueError(
                "distillation generates under one condition: --ablate and --placements are "
                "for `lem ab` and `lem bench run`"
            )
        if self.mode == "expansion" and self.conditions != ["baseline"]:
            raise ValueError(
                "--mode expansion asks a tuned model bare prompts: use --condition baseline "
                "(or leave it out)"
            )
        if len(self.conditions) != 1:
            raise ValueError(
                "distillation generates under exactly one condition (give one --condition)"
            )
        if self.keep == "threshold" and self.min_score is None:
            raise ValueError("--keep threshold needs --min-score")
        if self.valid_fraction + self.test_fraction >= 1.0:
            raise ValueError("valid_fraction + test_fraction must leave prompts to train on")
        return self

    @property
    def ranking_scorer(self) -> str:
        """The scorer id answers are ranked by."""
        return self.select_by or self.scorers[0]

    @property
    def per_prompt(self) -> int | None:
        """At most this many answers per prompt (None: no limit)."""
        return self.top_k if self.top_k is not None else (1 if self.keep == "best" else None)
