"""PEFT LoRA adapters: validate against a base model, fuse into a standalone model.

:func:`check_adapter` compares every ``lora_A``/``lora_B`` tensor of an adapter with the
module it adapts in the base model's config-built skeleton (no weights loaded): the module
must exist and be linear, ``lora_A`` must be ``(r, in_features)`` and ``lora_B``
``(out_features, r)``. The first mismatch is one :class:`~lem.errors.InputError` line
naming the key, so an adapter trained on another base is refused before anything loads.

:func:`fuse_adapter` merges the adapter into the base weights (``W + B A · alpha/r``),
saves a standalone model (safetensors, tokenizer with its chat template, generation
config) and a model card (``README.md``) with the base, the dataset hash, the selection
scorer and threshold, the training settings, the lem version and evaluation results when
known. An mlx-lm adapter is fused by mlx-lm itself (``mlx_lm fuse``), after the same key
and shape checks.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from lem.errors import InputError

__all__ = ["adapter_tensors", "check_adapter", "fuse_adapter", "fuse_mlx_adapter"]

_KEY = re.compile(r"^base_model\.model\.(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.[^.]+)?\.weight$")


def adapter_tensors(adapter: Path) -> dict[str, tuple[int, ...]]:
    """Key → shape of the tensors in ``adapter/adapter_model.safetensors`` (header only)."""
    from safetensors import safe_open

    path = adapter / "adapter_model.safetensors"
    if not path.is_file():
        raise InputError(f"--adapter {adapter}: no adapter_model.safetensors (a PEFT adapter)")
    with safe_open(str(path), framework="pt") as fh:
        return {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}  # noqa: SIM118


def _skeleton(base: Path) -> Any:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(base, local_files_only=True)
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def check_adapter(base: Path, adapter: Path) -> dict[str, Any]:
    """Refuse an adapter whose keys or shapes do not fit ``base`` (one line naming the
    first bad key); return its ``adapter_config.json``."""
    cfg_path = adapter / "adapter_config.json"
    if not cfg_path.is_file():
        raise InputError(f"--adapter {adapter}: no adapter_config.json (a PEFT adapter)")
    config: dict[str, Any] = json.loads(cfg_path.read_text(encoding="utf-8"))
    modules = dict(_skeleton(base).named_modules())
    for key, shape in sorted(adapter_tensors(adapter).items()):
        m = _KEY.match(key)
        if m is None:
            raise InputError(f"--adapter {adapter}: unexpected key {key} (not a PEFT LoRA weight)")
        module = modules.get(m["module"])
        if module is None or not hasattr(module, "in_features"):
            raise InputError(
                f"--adapter {adapter}: key {key} adapts {m['module']}, which {base.name} "
                "does not have as a linear layer; the adapter was trained on another base"
            )
        want = (shape[0], module.in_features) if m["ab"] == "A" else (module.out_features, shape[1])
        if tuple(shape) != want:
            raise InputError(
                f"--adapter {adapter}: key {key} has shape {tuple(shape)}, {base.name} needs "
                f"{want}; the adapter was trained on another base"
            )
    return config


def _card(base: Path, adapter: Path, out: Path) -> str:
    from lem import __version__

    train: dict[str, Any] = {}
    train_json = adapter.parent / "train.json"
    if train_json.is_file():
        train = json.loads(train_json.read_text(encoding="utf-8"))
    dataset: dict[str, Any] = {}
    ds_path = (train.get("dataset") or {}).get("path")
    if ds_path and (Path(ds_path) / "manifest.json").is_file():
        dataset = json.loads((Path(ds_path) / "manifest.json").read_text(encoding="utf-8"))
    sel = dataset.get("selection") or {}
    scorer = sel.get("scorer") or {}
    lines = [
        f"# {out.name}",
        "",
        f"A LoRA fine-tune of `{base.name}` fused into a standalone model by lem {__version__}.",
        "",
        "| | |",
        "|---|---|",
        f"| base model | `{base.name}` |",
        f"| dataset | `{dataset.get('dataset_id', 'unknown')}` ({dataset.get('kind', '?')}, "
        f"{(dataset.get('counts') or {}).get('kept', '?')} examples) |",
        f"| selection | {scorer.get('id', '?')} v{scorer.get('version', '?')}, keep "
        f"{sel.get('keep', '?')}, min score {sel.get('min_score')} |",
    ]
    settings = train.get("settings") or {}
    lora = train.get("lora") or {}
    if settings:
        lines.append(
            f"| training | {settings.get('iters') or settings.get('epochs') or 1} "
            f"{'iters' if settings.get('iters') else 'epochs'}, batch {settings.get('batch_size')}"
            f" × {settings.get('grad_accum')}, lr {settings.get('learning_rate')} "
            f"({settings.get('lr_schedule')}), seed {settings.get('seed')} |"
        )
    if lora:
        lines.append(
            f"| LoRA | rank {lora.get('rank')}, alpha {lora.get('alpha')}, dropout "
            f"{lora.get('dropout')}, targets {', '.join(lora.get('target_modules') or [])} |"
        )
    results = train.get("results") or {}
    if results:
        lines.append(
            f"| results | final loss {results.get('final_loss')}, validation loss "
            f"{results.get('final_val_loss')} |"
        )
    lines += ["", "Weights are safetensors; the tokenizer and chat template are the base's.", ""]
    return "\n".join(lines)


def fuse_mlx_adapter(base: Path, adapter: Path, dest: Path) -> Path:
    """Fuse an mlx-lm adapter with mlx-lm (``python -m mlx_lm fuse``) into ``dest``, with
    lem's model card; the adapter is first checked against the base, converted key by key
    (:func:`lem.adapters.convert.mlx_to_peft` validates every key and shape)."""
    import subprocess
    import sys

    from lem.adapters.convert import mlx_to_peft

    with tempfile.TemporaryDirectory() as tmp:
        mlx_to_peft(adapter, base, Path(tmp) / "check")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    shutil.rmtree(tmp_out)
    cmd = [
        sys.executable,
        "-m",
        "mlx_lm",
        "fuse",
        "--model",
        str(base),
        "--adapter-path",
        str(adapter),
        "--save-path",
        str(tmp_out),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        shutil.rmtree(tmp_out, ignore_errors=True)
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
        raise InputError(f"mlx-lm fuse failed (exit {res.returncode}): {tail[0]}")
    (tmp_out / "README.md").write_text(_card(base, adapter, dest), encoding="utf-8")
    if dest.exists():
        dest.rmdir()
    tmp_out.rename(dest)
    return dest


def fuse_adapter(base_ref: str, adapter: str | Path, out: str | Path) -> Path:
    """Merge ``adapter`` into the base model ``base_ref`` and save it to ``out`` (a new
    folder); see the module docstring. An mlx-lm adapter (``adapters.safetensors``) is
    fused by mlx-lm (:func:`fuse_mlx_adapter`)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from lem.backends.hf import resolve_model_dir
    from lem.errors import BackendError

    hf_logging.disable_progress_bar()
    try:
        base = resolve_model_dir(base_ref)
    except BackendError as exc:
        raise InputError(f"--model: {exc.message}") from None
    adapter = Path(adapter)
    dest = Path(out)
    if dest.exists() and any(dest.iterdir()):
        raise InputError(f"--out {dest} is not empty; choose a new folder")
    if (adapter / "adapters.safetensors").is_file():
        return fuse_mlx_adapter(base, adapter, dest)
    check_adapter(base, adapter)
    model = AutoModelForCausalLM.from_pretrained(
        base, dtype=torch.float32, use_safetensors=True, local_files_only=True
    )
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "README.md").write_text(_card(base, adapter, dest), encoding="utf-8")
        tmp.chmod(0o755)
        if dest.exists():
            dest.rmdir()
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
