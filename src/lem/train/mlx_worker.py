"""The mlx-lm training process of ``lem train --backend mlx``: ``python -m
lem.train.mlx_worker CONFIG.yaml``.

It does what ``mlx_lm lora -c CONFIG.yaml`` does (load the model and the dataset, train)
but through mlx-lm's documented :class:`~mlx_lm.tuner.callbacks.TrainingCallback`, printing
each training and validation report as one ``LEM-METRICS {json}`` line, so the parent reads
numbers rather than mlx-lm's human-readable table. It runs in its own process so MLX never
loads into lem's.
"""

from __future__ import annotations

import json
import sys
import types
from typing import Any

import yaml

__all__ = ["main"]

PREFIX = "LEM-METRICS "


def main(argv: list[str]) -> int:
    """Train as the YAML file ``argv[0]`` says; returns the exit code."""
    import numpy as np
    from mlx_lm.lora import CONFIG_DEFAULTS, load_dataset, train_model
    from mlx_lm.tuner.callbacks import TrainingCallback
    from mlx_lm.utils import load

    with open(argv[0], encoding="utf-8") as fh:
        settings = yaml.safe_load(fh)
    merged = {**CONFIG_DEFAULTS, **settings, "config": argv[0], "test": False}
    args = types.SimpleNamespace(**merged)
    np.random.seed(args.seed)

    class Report(TrainingCallback):
        def on_train_loss_report(self, info: dict[str, Any]) -> None:
            print(PREFIX + json.dumps({"kind": "train", **_plain(info)}), flush=True)

        def on_val_loss_report(self, info: dict[str, Any]) -> None:
            print(PREFIX + json.dumps({"kind": "val", **_plain(info)}), flush=True)

    loaded: Any = load(
        args.model,
        tokenizer_config={"trust_remote_code": args.trust_remote_code},
    )
    model, tokenizer = loaded[0], loaded[1]
    train_set, valid_set, _test = load_dataset(args, tokenizer)
    train_model(args, model, train_set, valid_set, Report())
    return 0


def _plain(info: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in info.items():
        try:
            out[k] = float(v) if not isinstance(v, int) else v
        except (TypeError, ValueError):
            continue
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
