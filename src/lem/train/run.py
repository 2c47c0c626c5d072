"""``lem train`` as a function: the chosen backend, with the evaluation hook when asked."""

from __future__ import annotations

from lem.train.config import TrainConfig
from lem.train.loop import StepHook, TrainOutcome, train_hf

__all__ = ["run_training"]


def run_training(config: TrainConfig, *, on_step: StepHook | None = None) -> TrainOutcome:
    """Train a LoRA adapter as ``config`` says (backend ``hf`` or ``mlx``)."""
    if config.backend == "mlx":
        from lem.train.mlx import train_mlx

        return train_mlx(config, on_step=on_step)
    evaluate = None
    if config.eval_every:
        from lem.train.evals import make_evaluator

        evaluate = make_evaluator(probes=config.eval_probes, max_new_tokens=config.eval_max_tokens)
    return train_hf(config, on_step=on_step, evaluate=evaluate)
