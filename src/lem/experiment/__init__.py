"""Whole experiments from one file (``lem experiment run``): base A/B, distillation,
training, fusing, A/B of each tuned model with and without the kernel, and the report, as
stages that are skipped when their inputs are unchanged."""

from __future__ import annotations

from lem.experiment.config import ExperimentConfig, StageConfig, load_experiment
from lem.experiment.run import StageResult, experiment_status, run_experiment

__all__ = [
    "ExperimentConfig",
    "StageConfig",
    "StageResult",
    "experiment_status",
    "load_experiment",
    "run_experiment",
]
