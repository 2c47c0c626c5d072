"""lem fuse: the fused model computes what base + adapter computes, differs from the base,
carries a model card; an adapter for another base is one line; GGUF import refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lem.adapters.peft import check_adapter, fuse_adapter
from lem.backends.hf import resolve_model_dir
from lem.errors import InputError
from lem.models.gguf import import_gguf
from lem.train.config import TrainConfig
from lem.train.loop import train_hf
from tests.tiny_models import build_tiny_model

pytest.importorskip("peft")


def _adapter(tmp_path: Path, model: str = "demo") -> Path:
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Q{i}?"},
                {"role": "assistant", "content": f"Care and consent, {i}."},
            ]
        }
        for i in range(8)
    ]
    (data / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (data / "manifest.json").write_text(json.dumps({"dataset_id": "d" * 64, "kind": "test"}))
    out = train_hf(
        TrainConfig(
            model=model,
            data=str(data),
            out=str(tmp_path / "run"),
            iters=8,
            learning_rate=5e-3,
            batch_size=4,
            save_every=8,
        )
    )
    return out.adapter


def _logits(path: Path | str, ids: list[int], adapter: Path | None = None) -> Any:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model: Any = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter))
    model.eval()
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0]


def test_fused_model_equals_base_plus_adapter_and_differs_from_base(tmp_path: Path) -> None:
    import torch

    adapter = _adapter(tmp_path)
    fused = fuse_adapter("demo", adapter, tmp_path / "fused")
    ids = list(range(5, 40))
    base = resolve_model_dir("demo")
    with_adapter = _logits(base, ids, adapter)
    merged = _logits(fused, ids)
    plain = _logits(base, ids)
    assert torch.allclose(merged, with_adapter, atol=1e-4)
    assert (merged - plain).abs().max() > 1e-2
    card = (fused / "README.md").read_text()
    assert "| base model | `demo-model` |" in card and "d" * 64 in card
    assert "rank 8, alpha 16.0" in card
    for name in ("model.safetensors", "tokenizer_config.json", "generation_config.json"):
        assert (fused / name).is_file(), name
    assert not list(fused.glob("*.bin"))
    with pytest.raises(InputError, match="is not empty"):
        fuse_adapter("demo", adapter, tmp_path / "fused")


def test_an_adapter_for_another_base_is_one_line(tmp_path: Path) -> None:
    other = build_tiny_model(tmp_path / "other", hidden=64)
    adapter = _adapter(tmp_path / "a", model=str(other))
    with pytest.raises(InputError, match=r"key base_model\.model\.model\.layers\.0\.self_attn"):
        check_adapter(resolve_model_dir("demo"), adapter)
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "lem.cli.main",
            "fuse",
            "--adapter",
            str(adapter),
            "--out",
            str(tmp_path / "f"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2
    (line,) = res.stderr.strip().splitlines()
    assert "the adapter was trained on another base" in line
    assert not (tmp_path / "f").exists()


def test_gguf_import_refuses_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such GGUF file"):
        import_gguf(tmp_path / "none.gguf", tmp_path / "out")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(InputError, match="transformers cannot read this GGUF"):
        import_gguf(broken, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(InputError, match="is not empty"):
        import_gguf(broken, tmp_path / "full")
