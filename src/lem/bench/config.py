"""The typed settings of ``lem bench run``: the A/B experiment schema (model, conditions,
decoding, store) with a benchmark's item file, selection and prompt style. The flags and
the YAML file come from this one model."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from lem.config import ABConfig

__all__ = ["BenchConfig", "MCConfig"]


class BenchConfig(ABConfig):
    """Ask a standard benchmark's items (GSM8K, TruthfulQA, Do-Not-Answer, ToxiGen) under
    any A/B conditions, through the same resumable ledger."""

    command: ClassVar[str] = "bench run"

    benchmark: str = Field(
        "gsm8k",
        description="Benchmark: gsm8k, truthfulqa, do_not_answer or toxigen.",
        json_schema_extra={"short": "-B"},
    )
    items: str | None = Field(
        None,
        description="Item file (.json, .jsonl, .csv, .parquet) or datasets save_to_disk "
        "folder, in the upstream or Hugging Face layout. Never downloaded.",
        json_schema_extra={"short": "-i"},
    )
    split: str | None = Field(
        None, description="Split of a DatasetDict folder (default: test, or the only one)."
    )
    limit: int | None = Field(
        None, ge=1, description="At most this many items: a seeded sample (--seed), in file order."
    )
    prompt_style: Literal["chat", "base"] = Field(
        "chat",
        description="chat: one user message, instruction + blank line + item; base: plain "
        "completion text ending in 'Answer:', no chat template (hf and mlx only).",
    )
    conditions: list[str] = Field(
        default_factory=lambda: ["baseline"],
        description="Conditions: baseline, system:K, prefix:K, sandwich:K, sandwich:S+P; "
        "repeat the flag or separate with commas.",
        json_schema_extra={"flag": "--condition", "short": "-C", "split": True},
    )
    max_tokens: int | None = Field(  # type: ignore[assignment]
        None,
        ge=1,
        description="Maximum new tokens (default: the benchmark's, 512 for GSM8K, 256 others).",
    )
    scorers: list[str] = Field(
        default_factory=list,
        description="Scorers besides the benchmark's exact rule (gsm8k is always applied); "
        "judged dimensions come from `lem bench score --judge`.",
        json_schema_extra={"flag": "--scorer", "split": True},
    )

    def ab_config(self) -> ABConfig:
        """The generation settings as an A/B config: set fields only (so options of other
        backends stay unset), the benchmark's token budget unless --max-tokens is given;
        probes, limit and scorers are the benchmark run's business."""
        from lem.bench.base import get_benchmark

        plain = ABConfig()
        keep = {
            k
            for k in ABConfig.model_fields
            if k in self.model_fields_set or getattr(self, k) != getattr(plain, k)
        } - {"limit", "max_tokens", "scorers", "probes", "prompt_format"}
        data = self.model_dump(include=keep)
        data["max_tokens"] = self.max_tokens or get_benchmark(self.benchmark).max_tokens
        return ABConfig(**data)


class MCConfig(BenchConfig):
    """Score TruthfulQA multiple choice (MC1, MC2) from an ``hf`` model's log-likelihoods
    under any conditions."""

    command: ClassVar[str] = "bench mc"

    benchmark: str = Field(
        "truthfulqa",
        description="Benchmark with answer choices: truthfulqa.",
        json_schema_extra={"short": "-B"},
    )
    batch_size: int = Field(
        8,
        ge=1,
        description="Items per step; their choices are scored 4x this many sequences per "
        "forward pass.",
        json_schema_extra={"short": "-b"},
    )
