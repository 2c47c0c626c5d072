"""``lem train --backend mlx``: mlx-lm's LoRA trainer driven from lem's training schema.

The :class:`~lem.train.config.TrainConfig` becomes an mlx-lm YAML config (``mlx.yaml`` in
the training folder, kept as a record) and :mod:`lem.train.mlx_worker` trains with it in a
subprocess, as ``mlx_lm lora -c mlx.yaml`` would, with the prompt masked (``mask_prompt``);
its reports arrive through mlx-lm's training callback and become the same
``metrics.jsonl`` lines and progress events as the ``hf`` backend's. The adapter is mlx-lm's
(``adapter/adapters.safetensors`` with numbered checkpoints in the same folder); ``lem
convert`` turns it into a PEFT adapter.

Differences from the ``hf`` backend, all mlx-lm's: the loss is mlx-lm's mean over each
micro-batch's masked tokens; checkpoints hold the adapter weights only (no optimizer
state), so ``--resume`` is refused rather than restarting the optimizer silently;
``lr_schedule`` maps to mlx-lm's ``cosine_decay`` / ``linear_schedule`` with warmup.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from lem.errors import InputError, LemError
from lem.train.config import TrainConfig, default_targets
from lem.train.loop import StepHook, StepMetrics, TrainOutcome
from lem.train.mlx_worker import PREFIX

__all__ = ["mlx_config", "train_mlx"]


def _rows(path: Path) -> int:
    if not path.is_file():
        return 0
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def mlx_config(config: TrainConfig, model_dir: Path, model_type: str) -> dict[str, Any]:
    """The mlx-lm LoRA config for ``config`` (what ``mlx.yaml`` holds)."""
    data = Path(config.data)
    n_train = _rows(data / "train.jsonl")
    if config.iters is not None:
        iters = config.iters
    else:
        per_epoch = math.ceil(n_train / config.batch_size)
        iters = max(1, math.ceil((config.epochs or 1.0) * per_epoch / config.grad_accum))
    targets = config.target_modules or default_targets(model_type)
    out: dict[str, Any] = {
        "model": str(model_dir),
        "train": True,
        "data": str(data),
        "fine_tune_type": "lora",
        "optimizer": "adamw",
        "optimizer_config": {"adamw": {"weight_decay": config.weight_decay}},
        "mask_prompt": True,
        "num_layers": config.num_layers or -1,
        "batch_size": config.batch_size,
        "iters": iters,
        "val_batches": config.val_batches or -1,
        "learning_rate": config.learning_rate,
        "steps_per_report": config.report_every,
        "steps_per_eval": config.val_every,
        "grad_accumulation_steps": config.grad_accum,
        "adapter_path": str(Path(config.out) / "adapter"),
        "save_every": config.save_every,
        "max_seq_length": config.max_seq_length,
        "grad_checkpoint": config.gradient_checkpointing,
        "seed": config.seed,
        "lora_parameters": {
            "rank": config.rank,
            "scale": config.scale,
            "dropout": config.dropout,
            "keys": [f"self_attn.{t}" if "." not in t else t for t in targets],
        },
        "trust_remote_code": config.trust_remote_code,
    }
    if config.lr_schedule != "constant":
        name = "cosine_decay" if config.lr_schedule == "cosine" else "linear_schedule"
        args = (
            [config.learning_rate, max(1, iters - config.warmup_steps)]
            if name == "cosine_decay"
            else [config.learning_rate, 0.0, max(1, iters - config.warmup_steps)]
        )
        schedule: dict[str, Any] = {"name": name, "arguments": args}
        if config.warmup_steps:
            schedule["warmup"] = config.warmup_steps
        out["lr_schedule"] = schedule
    return out


def train_mlx(config: TrainConfig, *, on_step: StepHook | None = None) -> TrainOutcome:
    """Train a LoRA adapter with mlx-lm (see the module docstring)."""
    from lem.backends.hf import resolve_model_dir

    try:
        import mlx_lm  # noqa: F401
    except ImportError:
        raise InputError(
            "--backend mlx needs mlx-lm; install lem with the mlx extra (pip install 'lem[mlx]')"
        ) from None
    if config.resume:
        raise InputError(
            "--resume is not supported with --backend mlx (mlx-lm checkpoints hold no "
            "optimizer state); use --backend hf or start a new --out"
        )
    out = Path(config.out)
    if (out / "adapter").exists():
        raise InputError(f"--out {out} already holds an adapter; choose another --out")
    data = Path(config.data)
    for split in ("train", "valid"):
        if _rows(data / f"{split}.jsonl") == 0:
            raise InputError(
                f"--data {data}: {split}.jsonl is missing or empty; mlx-lm needs both train "
                "and valid rows"
            )
    try:
        model_dir = resolve_model_dir(config.model)
    except LemError as exc:
        raise InputError(f"--model: {exc.message}") from None
    cfg = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    settings = mlx_config(config, model_dir, str(cfg.get("model_type", "")))
    out.mkdir(parents=True, exist_ok=True)
    (out / "mlx.yaml").write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    cmd = [sys.executable, "-m", "lem.train.mlx_worker", str(out / "mlx.yaml")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    losses: list[float] = []
    rates: list[float] = []
    last_val: float | None = None
    t0 = time.monotonic()
    tail: list[str] = []
    total = int(settings["iters"])
    with (
        (out / "metrics.jsonl").open("w", encoding="utf-8") as mfh,
        subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        ) as proc,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = [*tail, line.rstrip()][-20:]
            if not line.startswith(PREFIX):
                continue
            info = json.loads(line[len(PREFIX) :])
            step = int(info.get("iteration", 0))
            if info["kind"] == "val":
                last_val = float(info["val_loss"])
                mfh.write(json.dumps({"step": step, "val_loss": round(last_val, 6)}) + "\n")
                continue
            loss = float(info["train_loss"])
            losses.append(loss)
            rates.append(float(info.get("tokens_per_second", 0.0)))
            metrics = StepMetrics(
                step=step,
                total_steps=total,
                loss=loss,
                lr=float(info.get("learning_rate", 0.0)),
                tokens=int(info.get("trained_tokens", 0)),
                trained_tokens=int(info.get("trained_tokens", 0)),
                tokens_per_s=rates[-1],
                elapsed_s=time.monotonic() - t0,
            )
            mfh.write(json.dumps(metrics.as_dict()) + "\n")
            mfh.flush()
            if on_step is not None:
                on_step(metrics)
        code = proc.wait()
    if code != 0:
        detail = next((x for x in reversed(tail) if x.strip()), "no output")
        raise InputError(f"mlx-lm LoRA training failed (exit {code}): {detail}")
    outcome = TrainOutcome(
        out=out,
        adapter=out / "adapter",
        steps=total,
        resumed_from=None,
        final_loss=losses[-1] if losses else None,
        final_val_loss=last_val,
        train_rows=_rows(data / "train.jsonl"),
        truncated=0,
        dropped=0,
        tokens_per_s=sum(rates) / len(rates) if rates else 0.0,
        losses=losses,
    )
    summary = {
        "format": "lem-train/1",
        "backend": "mlx",
        "base_model": str(model_dir),
        "settings": config.model_dump(),
        "mlx": settings,
        "results": {"steps": total, "final_loss": outcome.final_loss, "final_val_loss": last_val},
    }
    (out / "train.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return outcome
