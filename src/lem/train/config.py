"""The typed settings of ``lem train``: one schema for the flags, the YAML file and
``--help`` (as ``lem ab``'s), for both backends (``hf``: PEFT in lem's own loop; ``mlx``:
mlx-lm's LoRA trainer)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["DEFAULT_TARGETS", "TrainConfig", "default_targets"]

DEFAULT_TARGETS: dict[str, list[str]] = {
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "qwen3": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "gemma3": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "gemma3_text": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "gpt_oss": ["q_proj", "k_proj", "v_proj", "o_proj"],
}
"""LoRA target modules per architecture family (``config.json`` ``model_type``): the
attention projections, which every family names alike and mlx-lm can convert (GPT-OSS's
experts are fused tensors, not linear layers)."""


def default_targets(model_type: str) -> list[str]:
    """The LoRA targets for ``model_type`` (the attention projections when unknown)."""
    return list(DEFAULT_TARGETS.get(model_type, DEFAULT_TARGETS["llama"]))


class TrainConfig(BaseModel):
    """LoRA supervised fine-tuning of a chat model on a lem dataset folder."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    command: ClassVar[str] = "train"

    model: str = Field(
        "demo",
        description="Base model directory (Hugging Face layout, safetensors) or demo.",
        json_schema_extra={"short": "-m"},
    )
    data: str = Field(
        ...,
        description="Dataset folder with train.jsonl and valid.jsonl (from lem distill or "
        "lem data conv).",
        json_schema_extra={"short": "-d"},
    )
    out: str = Field(
        "runs/adapters/lora", description="Training folder: checkpoints, adapter, metrics."
    )
    backend: Literal["hf", "mlx"] = Field(
        "hf", description="hf: PEFT LoRA in lem's loop; mlx: mlx-lm's LoRA trainer."
    )
    iters: int | None = Field(None, ge=1, description="Optimizer steps (default: 1 epoch).")
    epochs: float | None = Field(None, gt=0, description="Passes over train.jsonl.")
    batch_size: int = Field(
        2, ge=1, description="Rows per micro-batch.", json_schema_extra={"short": "-b"}
    )
    grad_accum: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    learning_rate: float = Field(1e-4, gt=0, description="Peak learning rate.")
    lr_schedule: Literal["constant", "linear", "cosine"] = Field(
        "cosine", description="Decay after warmup: constant, linear to 0 or cosine to 0."
    )
    warmup_steps: int = Field(0, ge=0, description="Steps of linear warmup from 0.")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay.")
    max_grad_norm: float | None = Field(1.0, gt=0, description="Gradient clipping norm.")
    rank: int = Field(8, ge=1, description="LoRA rank.")
    alpha: float = Field(16.0, gt=0, description="LoRA alpha (scale = alpha / rank).")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="LoRA dropout.")
    target_modules: list[str] | None = Field(
        None,
        description="Module names to adapt (default per architecture: the attention projections).",
        json_schema_extra={"flag": "--target", "split": True},
    )
    num_layers: int | None = Field(
        None, ge=1, description="Adapt only the last N layers (default: all)."
    )
    max_seq_length: int = Field(1024, ge=8, description="Longest row in tokens.")
    truncation: Literal["truncate", "drop"] = Field(
        "truncate", description="Longer rows: cut at the end, or leave out (counted either way)."
    )
    gradient_checkpointing: bool = Field(False, description="Trade compute for memory.")
    seed: int = Field(0, description="Seeds LoRA init, data order and dropout.")
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N or mps.")
    dtype: str = Field("auto", description="auto (bfloat16 on CUDA, else float32), float32, ...")
    save_every: int = Field(50, ge=1, description="Checkpoint every N steps (never overwritten).")
    val_every: int = Field(50, ge=1, description="Validation loss every N steps.")
    val_batches: int | None = Field(
        None, ge=1, description="Validation micro-batches per evaluation (default: all)."
    )
    eval_every: int | None = Field(
        None,
        ge=1,
        description="Capability quick-checks and lek-v2 on a probe subset every N steps.",
    )
    eval_probes: int = Field(8, ge=0, description="Probes scored by lek-v2 at each eval.")
    eval_max_tokens: int = Field(96, ge=1, description="New tokens per eval answer.")
    report_every: int = Field(1, ge=1, description="Metrics line every N steps.")
    resume: bool = Field(False, description="Continue from the newest checkpoint in --out.")
    trust_remote_code: bool = Field(False, description="Allow model code from the model dir.")

    @model_validator(mode="after")
    def _one_length(self) -> TrainConfig:
        if self.iters is not None and self.epochs is not None:
            raise ValueError("give --iters or --epochs, not both")
        return self

    @property
    def scale(self) -> float:
        """The LoRA scale (alpha / rank), mlx-lm's ``scale``."""
        return self.alpha / self.rank
