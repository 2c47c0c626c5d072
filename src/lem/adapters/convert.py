"""LoRA adapters between MLX (mlx-lm) and PEFT, both directions (``lem convert``).

The two formats hold the same two matrices per adapted linear layer, named and laid out
differently:

- MLX ``adapters.safetensors``: ``model.layers.I.PATH.lora_a`` of shape (in, r) and
  ``model.layers.I.PATH.lora_b`` of shape (r, out); ``adapter_config.json`` holds
  ``lora_parameters`` (``rank``, ``scale``, ``dropout``, ``keys`` = the PATHs) and
  ``num_layers`` (the last N layers are adapted).
- PEFT ``adapter_model.safetensors``: ``base_model.model.model.layers.I.PATH.lora_A.weight``
  of shape (r, in) and ``...lora_B.weight`` of shape (out, r); ``adapter_config.json`` holds
  ``r``, ``lora_alpha`` (``scale = lora_alpha / r``, or ``/ sqrt(r)`` with rsLoRA),
  ``lora_dropout``, ``target_modules`` (the same PATHs) and ``layers_to_transform``.

Both matrices are transposed; rank, scale ↔ alpha, dropout, modules and layers are carried.
Every key and shape is checked against the base model's configuration (a skeleton built
on the meta device: no weights load) before anything is written; the first bad key is one
:class:`~lem.errors.InputError` line. MLX adapts a contiguous block of last layers only, so
a PEFT adapter on other layers is refused rather than silently changed.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lem.errors import InputError

__all__ = ["mlx_to_peft", "peft_to_mlx"]

_MLX_KEY = re.compile(r"^model\.layers\.(?P<layer>\d+)\.(?P<path>.+)\.lora_(?P<ab>[ab])$")
_PEFT_KEY = re.compile(
    r"^base_model\.model\.model\.layers\.(?P<layer>\d+)\.(?P<path>.+)\.lora_(?P<ab>[AB])\.weight$"
)


def _modules(base: Path) -> tuple[dict[str, Any], int]:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(base, local_files_only=True)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return dict(model.named_modules()), int(config.num_hidden_layers)


def _linear(modules: dict[str, Any], layer: int, path: str, key: str, src: Path) -> Any:
    module = modules.get(f"model.layers.{layer}.{path}")
    if module is None or not hasattr(module, "in_features"):
        raise InputError(
            f"{src}: key {key} adapts model.layers.{layer}.{path}, which the base model does "
            "not have as a linear layer; the adapter was made for another base"
        )
    return module


def _shape_error(src: Path, key: str, got: tuple[int, ...], want: tuple[int, ...]) -> InputError:
    return InputError(
        f"{src}: key {key} has shape {got}, the base model needs {want}; the adapter was made "
        "for another base"
    )


def _read(path: Path) -> dict[str, Any]:
    from safetensors.numpy import load_file

    if not path.is_file():
        raise InputError(f"{path} not found")
    return dict(load_file(str(path)))


def _write_dir(out: Path, files: dict[str, bytes]) -> Path:
    if out.exists() and any(out.iterdir()):
        raise InputError(f"--out {out} is not empty; choose a new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, blob in files.items():
            (tmp / name).write_bytes(blob)
        tmp.chmod(0o755)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _tensors_blob(tensors: dict[str, Any], meta: dict[str, str] | None = None) -> bytes:
    from safetensors.numpy import save

    return save({k: tensors[k] for k in sorted(tensors)}, metadata=meta)


def mlx_to_peft(adapter: str | Path, base: str | Path, out: str | Path) -> Path:
    """An mlx-lm LoRA adapter folder → a PEFT adapter folder for the same base."""
    import numpy as np

    src, base_dir = Path(adapter), Path(base)
    cfg_path = src / "adapter_config.json"
    if not cfg_path.is_file():
        raise InputError(f"{src}: no adapter_config.json (an mlx-lm adapter folder)")
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    if cfg.get("fine_tune_type", "lora") != "lora":
        raise InputError(f"{src}: fine_tune_type {cfg.get('fine_tune_type')!r}; only lora converts")
    params = cfg.get("lora_parameters") or {}
    rank = int(params.get("rank", 8))
    scale = float(params.get("scale", 20.0))
    weights = _read(src / "adapters.safetensors")
    modules, _n_layers = _modules(base_dir)
    out_tensors: dict[str, Any] = {}
    layers: set[int] = set()
    paths: set[str] = set()
    for key in sorted(weights):
        m = _MLX_KEY.match(key)
        if m is None:
            raise InputError(f"{src}: unexpected key {key} (not an mlx-lm LoRA weight)")
        layer, path = int(m["layer"]), m["path"]
        lin = _linear(modules, layer, path, key, src)
        arr = np.asarray(weights[key])
        want = (lin.in_features, rank) if m["ab"] == "a" else (rank, lin.out_features)
        if tuple(arr.shape) != want:
            raise _shape_error(src, key, tuple(arr.shape), want)
        name = "A" if m["ab"] == "a" else "B"
        peft_key = f"base_model.model.model.layers.{layer}.{path}.lora_{name}.weight"
        out_tensors[peft_key] = np.ascontiguousarray(arr.T)
        layers.add(layer)
        paths.add(path)
    if not out_tensors:
        raise InputError(f"{src}: the adapter holds no LoRA weights")
    peft_cfg = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": str(base_dir),
        "r": rank,
        "lora_alpha": scale * rank,
        "lora_dropout": float(params.get("dropout", 0.0)),
        "target_modules": sorted(paths),
        "layers_to_transform": sorted(layers),
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "use_rslora": False,
    }
    return _write_dir(
        Path(out),
        {
            "adapter_model.safetensors": _tensors_blob(out_tensors, {"format": "pt"}),
            "adapter_config.json": (json.dumps(peft_cfg, indent=2) + "\n").encode(),
        },
    )


def peft_to_mlx(adapter: str | Path, base: str | Path, out: str | Path) -> Path:
    """A PEFT LoRA adapter folder → an mlx-lm adapter folder for the same base."""
    import numpy as np

    src, base_dir = Path(adapter), Path(base)
    cfg_path = src / "adapter_config.json"
    if not cfg_path.is_file():
        raise InputError(f"{src}: no adapter_config.json (a PEFT adapter folder)")
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    if str(cfg.get("peft_type", "LORA")).upper() != "LORA":
        raise InputError(f"{src}: peft_type {cfg.get('peft_type')!r}; only LORA converts")
    rank = int(cfg.get("r", 8))
    alpha = float(cfg.get("lora_alpha", rank))
    scale = alpha / math.sqrt(rank) if cfg.get("use_rslora") else alpha / rank
    weights = _read(src / "adapter_model.safetensors")
    modules, n_layers = _modules(base_dir)
    out_tensors: dict[str, Any] = {}
    layers: set[int] = set()
    paths: set[str] = set()
    for key in sorted(weights):
        m = _PEFT_KEY.match(key)
        if m is None:
            raise InputError(f"{src}: unexpected key {key} (not a PEFT LoRA weight of a decoder)")
        layer, path = int(m["layer"]), m["path"]
        lin = _linear(modules, layer, path, key, src)
        arr = np.asarray(weights[key])
        want = (rank, lin.in_features) if m["ab"] == "A" else (lin.out_features, rank)
        if tuple(arr.shape) != want:
            raise _shape_error(src, key, tuple(arr.shape), want)
        mlx_key = f"model.layers.{layer}.{path}.lora_{m['ab'].lower()}"
        out_tensors[mlx_key] = np.ascontiguousarray(arr.T)
        layers.add(layer)
        paths.add(path)
    if not out_tensors:
        raise InputError(f"{src}: the adapter holds no LoRA weights")
    first = min(layers)
    if sorted(layers) != list(range(first, n_layers)):
        raise InputError(
            f"{src}: adapts layers {sorted(layers)}; MLX adapts a block of last layers only "
            f"(here {first}..{n_layers - 1}), so this adapter cannot be converted exactly"
        )
    for layer in layers:
        for path in paths:
            if f"model.layers.{layer}.{path}.lora_a" not in out_tensors:
                raise InputError(
                    f"{src}: layer {layer} lacks {path}; MLX adapts the same modules in every "
                    "adapted layer"
                )
    mlx_cfg = {
        "fine_tune_type": "lora",
        "num_layers": n_layers - first,
        "lora_parameters": {
            "rank": rank,
            "scale": scale,
            "dropout": float(cfg.get("lora_dropout", 0.0)),
            "keys": sorted(paths),
        },
    }
    return _write_dir(
        Path(out),
        {
            "adapters.safetensors": _tensors_blob(out_tensors),
            "adapter_config.json": (json.dumps(mlx_cfg, indent=2) + "\n").encode(),
        },
    )
