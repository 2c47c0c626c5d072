"""lem convert: an MLX adapter and its PEFT conversion (and the reverse) give the same
logits on the same base; a wrong adapter is one line; lem train --backend mlx."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lem.adapters.convert import mlx_to_peft, peft_to_mlx
from lem.errors import InputError
from lem.train.config import TrainConfig
from lem.train.loop import train_hf
from tests.ci import in_ci
from tests.tiny_models import build_tiny_model

try:
    import mlx.core  # noqa: F401
    import mlx_lm  # noqa: F401
    import peft  # noqa: F401
except ImportError:  # pragma: no cover - depends on the machine
    if in_ci():
        pytest.fail("mlx, mlx-lm and peft must be importable on CI", pytrace=False)
    pytest.skip("mlx / mlx-lm / peft not installed", allow_module_level=True)

IDS = [1, 5, 9, 33, 70, 100, 12, 7, 250, 3]


def _data(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Question {i}?"},
                {"role": "assistant", "content": f"Consent first, answer {i}."},
            ]
        }
        for i in range(8)
    ]
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "valid.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    return root


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", layers=3)


def _mlx_logits(model: Path, adapter: Path | None) -> Any:
    import mlx.core as mx
    from mlx_lm import load

    loaded: Any = load(str(model), adapter_path=str(adapter) if adapter else None)
    return np.array(loaded[0](mx.array([IDS])).astype(mx.float32))[0]


def _peft_logits(model: Path, adapter: Path | None) -> Any:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    lm: Any = AutoModelForCausalLM.from_pretrained(model, local_files_only=True)
    if adapter is not None:
        lm = PeftModel.from_pretrained(lm, str(adapter))
    lm.eval()
    with torch.no_grad():
        return lm(input_ids=torch.tensor([IDS])).logits[0].numpy()


def test_mlx_training_then_mlx_to_peft_gives_the_same_logits(base: Path, tmp_path: Path) -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "lem.cli.main",
            "train",
            "--backend",
            "mlx",
            "--model",
            str(base),
            "--data",
            str(_data(tmp_path / "d")),
            "--out",
            str(tmp_path / "mlx"),
            "--iters",
            "6",
            "--learning-rate",
            "5e-3",
            "--save-every",
            "3",
            "--val-every",
            "3",
            "--num-layers",
            "2",
            "--rank",
            "4",
            "--alpha",
            "12",
            "--dropout",
            "0.05",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    metrics = [json.loads(x) for x in (tmp_path / "mlx" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics if "loss" in m] == [1, 2, 3, 4, 5, 6]
    adapter = tmp_path / "mlx" / "adapter"
    assert {p.name for p in adapter.glob("*.safetensors")} >= {
        "adapters.safetensors",
        "0000003_adapters.safetensors",
        "0000006_adapters.safetensors",
    }
    peft_dir = mlx_to_peft(adapter, base, tmp_path / "peft")
    cfg = json.loads((peft_dir / "adapter_config.json").read_text())
    assert (cfg["r"], cfg["lora_alpha"], cfg["lora_dropout"]) == (4, 12.0, 0.05)
    assert cfg["layers_to_transform"] == [1, 2]
    assert cfg["target_modules"] == [
        f"self_attn.{m}" for m in ("k_proj", "o_proj", "q_proj", "v_proj")
    ]
    via_mlx = _mlx_logits(base, adapter)
    via_peft = _peft_logits(base, peft_dir)
    assert np.abs(via_mlx - via_peft).max() < 1e-4
    assert np.abs(via_peft - _peft_logits(base, None)).max() > 1e-2  # the adapter does something
    # an MLX adapter fuses through mlx-lm; the fused model, read by transformers, agrees
    from lem.adapters.peft import fuse_adapter

    fused = fuse_adapter(str(base), adapter, tmp_path / "fused")
    assert (fused / "README.md").is_file() and list(fused.glob("*.safetensors"))
    assert np.abs(_peft_logits(fused, None) - via_peft).max() < 1e-4


def test_peft_to_mlx_gives_the_same_logits_and_round_trips(base: Path, tmp_path: Path) -> None:
    out = train_hf(
        TrainConfig(
            model=str(base),
            data=str(_data(tmp_path / "d")),
            out=str(tmp_path / "hf"),
            iters=6,
            learning_rate=5e-3,
            rank=4,
            alpha=8,
            num_layers=2,
            save_every=6,
        )
    )
    mlx_dir = peft_to_mlx(out.adapter, base, tmp_path / "mlx")
    cfg = json.loads((mlx_dir / "adapter_config.json").read_text())
    assert cfg["num_layers"] == 2 and cfg["lora_parameters"]["scale"] == 2.0
    via_peft = _peft_logits(base, out.adapter)
    assert np.abs(_mlx_logits(base, mlx_dir) - via_peft).max() < 1e-4
    assert np.abs(via_peft - _peft_logits(base, None)).max() > 1e-2
    back = mlx_to_peft(mlx_dir, base, tmp_path / "back")
    assert np.abs(_peft_logits(base, back) - via_peft).max() < 1e-5


def test_an_adapter_for_another_base_is_one_line(base: Path, tmp_path: Path) -> None:
    other = build_tiny_model(tmp_path / "other", hidden=64, layers=3)
    out = train_hf(
        TrainConfig(
            model=str(other),
            data=str(_data(tmp_path / "d")),
            out=str(tmp_path / "hf"),
            iters=1,
            save_every=1,
        )
    )
    with pytest.raises(InputError, match=r"key base_model\.model\.model\.layers\.0\..* shape"):
        peft_to_mlx(out.adapter, base, tmp_path / "x")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "lem.cli.main",
            "convert",
            "--adapter",
            str(out.adapter),
            "--model",
            str(base),
            "--out",
            str(tmp_path / "y"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2
    (line,) = res.stderr.strip().splitlines()
    assert "the adapter was made for another base" in line
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_a_peft_adapter_on_middle_layers_is_refused_for_mlx(base: Path, tmp_path: Path) -> None:
    out = train_hf(
        TrainConfig(
            model=str(base),
            data=str(_data(tmp_path / "d")),
            out=str(tmp_path / "hf"),
            iters=1,
            save_every=1,
        )
    )
    cfg_path = out.adapter / "adapter_config.json"
    from safetensors.numpy import load_file, save_file

    weights = load_file(str(out.adapter / "adapter_model.safetensors"))
    save_file(
        {k: v for k, v in weights.items() if ".layers.2." not in k},
        str(out.adapter / "adapter_model.safetensors"),
    )
    assert cfg_path.is_file()
    with pytest.raises(InputError, match=r"adapts layers \[0, 1\]; MLX adapts a block of last"):
        peft_to_mlx(out.adapter, base, tmp_path / "x")
