"""Seed architectures: tiny replicas of Gemma 3, Llama 3.1, Qwen 2.5, Mistral and GPT-OSS
(tests/seed_models.py) each go through lem train (hf) → fuse → generation with lem's hf
backend, and each trained adapter converts to MLX and gives the logits in mlx-lm that it
gives in transformers + PEFT."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lem.adapters.convert import peft_to_mlx
from lem.adapters.peft import adapter_tensors, fuse_adapter
from lem.backends.base import GenerationRequest, SamplingParams, create_backend
from lem.train.config import DEFAULT_TARGETS, TrainConfig, default_targets
from lem.train.loop import TrainOutcome, train_hf
from tests.ci import in_ci
from tests.seed_models import FAMILIES, build_seed_model, write_mlx_gpt_oss

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

LAYERS = 2
_PEFT_KEY = re.compile(
    r"^base_model\.model\.model\.layers\.(\d+)\.self_attn\.(\w+)\.lora_([AB])\.weight$"
)
CONVERSATION = [
    {"role": "system", "content": "Answer with care."},
    {"role": "user", "content": "What is fairness?"},
    {"role": "assistant", "content": "Fairness is giving each person their due."},
    {"role": "user", "content": "And consent?"},
]


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, and much faster on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module", params=FAMILIES)
def family(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def base(family: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_seed_model(tmp_path_factory.mktemp(f"seed-{family}") / "model", family)


def _data(root: Path) -> Path:
    """A small chat dataset: single turns, a system turn, a two-answer conversation."""
    root.mkdir(parents=True, exist_ok=True)
    rows: list[list[dict[str, str]]] = [
        [
            {"role": "user", "content": f"Question {i}: tell me about the ocean?"},
            {"role": "assistant", "content": f"Consent first, then answer {i}."},
        ]
        for i in range(4)
    ]
    rows.append(
        [
            {"role": "system", "content": "Honesty matters more than flattery."},
            {"role": "user", "content": "Is my plan good?"},
            {"role": "assistant", "content": "Say so when you are unsure."},
        ]
    )
    rows.append(
        [
            {"role": "user", "content": "What is trust?"},
            {"role": "assistant", "content": "Trust is earned."},
            {"role": "user", "content": "And dignity?"},
            {"role": "assistant", "content": "Dignity is owed."},
        ]
    )
    (root / "train.jsonl").write_text("".join(json.dumps({"messages": r}) + "\n" for r in rows))
    (root / "valid.jsonl").write_text(
        "".join(json.dumps({"messages": r}) + "\n" for r in rows[-2:])
    )
    return root


@pytest.fixture(scope="module")
def trained(base: Path, family: str, tmp_path_factory: pytest.TempPathFactory) -> TrainOutcome:
    root = tmp_path_factory.mktemp(f"train-{family}")
    return train_hf(
        TrainConfig(
            model=str(base),
            data=str(_data(root / "data")),
            out=str(root / "run"),
            iters=4,
            learning_rate=5e-3,
            batch_size=2,
            save_every=4,
            val_every=4,
        )
    )


def _prompt_ids(model: Path) -> list[int]:
    from transformers import AutoTokenizer

    tok: Any = AutoTokenizer.from_pretrained(model, local_files_only=True)
    text = tok.apply_chat_template(CONVERSATION, tokenize=False, add_generation_prompt=True)
    ids: list[int] = tok(text, add_special_tokens=False)["input_ids"]
    return ids


def _hf_logits(model: Path, ids: list[int], adapter: Path | None = None) -> Any:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    lm: Any = AutoModelForCausalLM.from_pretrained(model, local_files_only=True)
    if adapter is not None:
        lm = PeftModel.from_pretrained(lm, str(adapter))
    lm.eval()
    with torch.no_grad():
        return lm(input_ids=torch.tensor([ids])).logits[0].float().numpy()


@pytest.fixture(scope="module")
def reference(base: Path, trained: TrainOutcome) -> dict[str, Any]:
    """A chat prompt's ids and its logits in transformers: base, and base + adapter (PEFT)."""
    ids = _prompt_ids(base)
    return {
        "ids": ids,
        "base": _hf_logits(base, ids),
        "peft": _hf_logits(base, ids, trained.adapter),
    }


def test_train_fuse_and_generate(
    family: str, base: Path, trained: TrainOutcome, reference: dict[str, Any], tmp_path: Path
) -> None:
    assert trained.steps == 4 and len(trained.losses) == 4
    assert all(math.isfinite(x) for x in trained.losses), trained.losses
    assert trained.final_val_loss is not None and math.isfinite(trained.final_val_loss)
    assert trained.train_rows == 6 and trained.dropped == 0

    model_type = json.loads((base / "config.json").read_text())["model_type"]
    assert model_type in DEFAULT_TARGETS
    targets = default_targets(model_type)
    keys = set()
    for key in adapter_tensors(trained.adapter):
        m = _PEFT_KEY.match(key)
        assert m is not None, f"unexpected adapter key {key}"
        keys.add((int(m[1]), m[2], m[3]))
    assert keys == {(i, t, ab) for i in range(LAYERS) for t in targets for ab in "AB"}
    assert np.abs(reference["peft"] - reference["base"]).max() > 1e-2  # the adapter acts

    fused = fuse_adapter(str(base), trained.adapter, tmp_path / "fused")
    assert (fused / "model.safetensors").is_file()
    assert (fused / "chat_template.jinja").read_text() == (base / "chat_template.jinja").read_text()

    backend: Any = create_backend(f"hf:{fused}", dtype="float32", batch_size=2)
    try:
        sampling = SamplingParams(max_tokens=8)
        requests = [
            GenerationRequest("a", CONVERSATION[:2], sampling),
            GenerationRequest(
                "b", [{"role": "user", "content": "Tell me about rivers."}], sampling
            ),
        ]
        results = {r.key: r for r in backend.generate(requests)}
        assert sorted(results) == ["a", "b"]
        for r in results.values():
            assert r.ok, r.error
            assert r.completion_tokens and r.text, (r.completion_tokens, r.text)
        with torch.no_grad():
            merged = backend._model(input_ids=torch.tensor([reference["ids"]])).logits[0].numpy()
    finally:
        backend.close()
    assert np.abs(merged - reference["peft"]).max() < 1e-4  # fused == base + adapter
    assert np.abs(merged - reference["base"]).max() > 1e-2


def test_adapter_converts_to_mlx_with_the_same_logits(
    family: str, base: Path, trained: TrainOutcome, reference: dict[str, Any], tmp_path: Path
) -> None:
    try:
        import mlx.core as mx
        from mlx_lm import load
    except ImportError:  # pragma: no cover - depends on the machine
        if in_ci():
            pytest.fail("mlx and mlx-lm must be importable on CI", pytrace=False)
        pytest.skip("mlx / mlx-lm not installed")

    mlx_adapter = peft_to_mlx(trained.adapter, base, tmp_path / "mlx")
    cfg = json.loads((mlx_adapter / "adapter_config.json").read_text())
    assert cfg["num_layers"] == LAYERS
    # mlx-lm cannot load GPT-OSS experts as transformers saves them; give it its own layout.
    mlx_base = write_mlx_gpt_oss(base, tmp_path / "mlx-base") if family == "gpt-oss" else base
    loaded: Any = load(str(mlx_base), adapter_path=str(mlx_adapter))
    via_mlx = np.array(loaded[0](mx.array([reference["ids"]])).astype(mx.float32))[0]
    diff = float(np.abs(via_mlx - reference["peft"]).max())
    print(f"{family}: mlx-lm vs transformers+PEFT max logit diff {diff:.2e}")
    assert diff < 1e-4
