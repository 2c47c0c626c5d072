"""lem models import: a GGUF file written from a known Llama comes back as the same model.

A tiny random Llama (hidden 32, 2 layers, 4 query / 2 key-value heads, byte-level BPE of
300 tokens, a chat template) is written as GGUF the way llama.cpp's converter writes it
(q/k rows permuted, tokenizer as ``gpt2`` tokens + merges), imported with the CLI, and
compared with the original: same logits, same greedy tokens, same tokenization and chat
prompt, and the hf backend answers a chat message exactly as it does from the original.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("gguf")
pytest.importorskip("torch")

from typer.testing import CliRunner

from lem.backends.base import GenerationRequest, SamplingParams
from lem.backends.hf import HFBackend
from lem.cli.main import app
from tests.gguf_writer import write_llama_gguf
from tests.tiny_models import BOS, EOS, TEMPLATES, build_tiny_model

IDS = [0, 5, 17, 42, 99, 123, 200, 250, 280, 299, 7, 64]
CHAT = [
    {"role": "system", "content": "Answer with care."},
    {"role": "user", "content": "What is the meaning of fairness?"},
]


def _load(path: Path) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    model: Any = AutoModelForCausalLM.from_pretrained(
        path, use_safetensors=True, local_files_only=True, dtype=torch.float32
    )
    return model.eval()


def _answer(path: Path) -> tuple[str, int | None, str | None]:
    backend = HFBackend(str(path), device="cpu", dtype="float32")
    try:
        (result,) = backend.generate(
            [GenerationRequest(key="k", messages=CHAT, sampling=SamplingParams(max_tokens=8))]
        )
    finally:
        backend.close()
    assert result.ok, result.error
    return result.text, result.completion_tokens, result.finish_reason


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The reference model folder and the GGUF file written from it."""
    base = tmp_path_factory.mktemp("gguf")
    ref_dir = build_tiny_model(base / "ref", hidden=32, vocab_size=300, heads=4, layers=2)
    return ref_dir, write_llama_gguf(ref_dir, base / "tiny.gguf")


@pytest.fixture(scope="module")
def imported(written: tuple[Path, Path]) -> tuple[Path, Path, Path, str]:
    """``(ref_dir, gguf_path, out_dir, cli_stdout)`` after ``lem models import``."""
    ref_dir, gguf_path = written
    out = gguf_path.parent / "imported"
    res = CliRunner().invoke(app, ["models", "import", str(gguf_path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return ref_dir, gguf_path, out, res.stdout


def test_imported_gguf_is_the_model_it_was_written_from(
    imported: tuple[Path, Path, Path, str],
) -> None:
    import numpy as np
    import torch
    from gguf import GGUFReader
    from safetensors.numpy import load_file
    from transformers import AutoTokenizer

    ref_dir, gguf_path, out, stdout = imported
    # The file really carries llama.cpp's q/k layout: a missing un-permute would show.
    ref_weights = load_file(str(ref_dir / "model.safetensors"))
    stored = {t.name: np.asarray(t.data) for t in GGUFReader(str(gguf_path)).tensors}
    assert len(stored) == len(ref_weights) == 21
    for layer in range(2):
        for proj, gguf_proj in (("q_proj", "attn_q"), ("k_proj", "attn_k")):
            hf = ref_weights[f"model.layers.{layer}.self_attn.{proj}.weight"]
            gg = stored[f"blk.{layer}.{gguf_proj}.weight"]
            assert gg.shape == hf.shape
            assert not np.array_equal(gg, hf)
            assert sorted(gg.ravel().tolist()) == sorted(hf.ravel().tolist())
    np.testing.assert_array_equal(
        stored["token_embd.weight"], ref_weights["model.embed_tokens.weight"]
    )

    data = gguf_path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    n_params = sum(int(np.prod(w.shape)) for w in ref_weights.values())
    assert stdout.strip().splitlines() == [
        f"wrote {out}: llama, {n_params:,} parameters (from tiny.gguf, sha256 {sha[:12]})"
    ]

    # The folder: safetensors only, provenance, tokenizer with the chat template.
    assert (out / "model.safetensors").is_file()
    assert not list(out.glob("*.bin")) and not list(out.glob("*.gguf"))
    record = json.loads((out / "lem-import.json").read_text())
    assert record == {
        "source": "tiny.gguf",
        "bytes": len(data),
        "sha256": sha,
        "model_type": "llama",
        "parameters": n_params,
        "dropped_tokens": ["<|endoftext|>"],
    }
    assert sorted(p.name for p in out.parent.iterdir()) == ["imported", "ref", "tiny.gguf"]

    # The weights themselves round-trip exactly (float32 in, float32 out).
    imported_weights = load_file(str(out / "model.safetensors"))
    assert set(imported_weights) == set(ref_weights)
    for name, w in ref_weights.items():
        np.testing.assert_array_equal(imported_weights[name], w, err_msg=name)

    ref_cfg = json.loads((ref_dir / "config.json").read_text())
    cfg = json.loads((out / "config.json").read_text())
    for key in (
        "model_type",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "max_position_embeddings",
        "vocab_size",
        "tie_word_embeddings",
        "bos_token_id",
        "eos_token_id",
    ):
        assert cfg[key] == ref_cfg[key], key
    assert cfg["rms_norm_eps"] == pytest.approx(ref_cfg["rms_norm_eps"], rel=1e-6)
    assert cfg["rope_parameters"]["rope_theta"] == ref_cfg["rope_parameters"]["rope_theta"]
    gen = json.loads((out / "generation_config.json").read_text())
    assert (gen["bos_token_id"], gen["eos_token_id"]) == (0, 1)

    ref_tok: Any = AutoTokenizer.from_pretrained(ref_dir, local_files_only=True)
    tok: Any = AutoTokenizer.from_pretrained(out, local_files_only=True)
    assert tok.chat_template == TEMPLATES["system"]
    assert (tok.bos_token, tok.eos_token) == (BOS, EOS)
    # Every token keeps its id (the extra token transformers adds is the xfail test below).
    ref_vocab = ref_tok.get_vocab()
    assert {t: i for t, i in tok.get_vocab().items() if t in ref_vocab} == ref_vocab
    prompt = ref_tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    assert tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True) == prompt
    assert prompt.startswith(BOS + "<|system|>\nAnswer with care.<|end|>\n")
    text = "The quick brown fox, 42 <think> care </think>"
    assert tok(text)["input_ids"] == ref_tok(text)["input_ids"]
    assert tok(text)["input_ids"][0] == 0  # BOS added, as in the original
    assert tok.decode(tok(text)["input_ids"], skip_special_tokens=False) == BOS + text

    # The model computes what the original computes.
    ref_model, model = _load(ref_dir), _load(out)
    ids = torch.tensor([IDS])
    with torch.no_grad():
        ref_logits = ref_model(input_ids=ids).logits
        logits = model(input_ids=ids).logits
    assert logits.shape == (1, len(IDS), 300)
    torch.testing.assert_close(logits, ref_logits, atol=1e-5, rtol=0)
    assert ref_logits.abs().max() > 1.0  # not a degenerate all-zero comparison
    greedy = {
        "max_new_tokens": 6,
        "do_sample": False,
        "eos_token_id": None,
        "pad_token_id": 0,
    }
    with torch.no_grad():
        ref_gen = ref_model.generate(input_ids=ids, **greedy)[0, len(IDS) :].tolist()
        new_gen = model.generate(input_ids=ids, **greedy)[0, len(IDS) :].tolist()
    assert len(ref_gen) == 6 and new_gen == ref_gen

    # lem's hf backend loads the folder and answers exactly as it does from the original.
    ref_answer, imported_answer = _answer(ref_dir), _answer(out)
    assert imported_answer == ref_answer
    assert imported_answer[0] and imported_answer[1] is not None and imported_answer[1] >= 1


def test_imported_tokenizer_has_no_token_beyond_the_embedding(
    imported: tuple[Path, Path, Path, str],
) -> None:
    from transformers import AutoTokenizer

    _, _, out, _ = imported
    tok: Any = AutoTokenizer.from_pretrained(out, local_files_only=True)
    vocab_size = json.loads((out / "config.json").read_text())["vocab_size"]
    assert vocab_size == 300
    beyond = {t: i for t, i in tok.get_vocab().items() if i >= vocab_size}
    assert beyond == {}
    # transformers' GGUF tokenizer added GPT-2's end-of-text token; the import removed it
    record = json.loads((out / "lem-import.json").read_text())
    assert record["dropped_tokens"] == ["<|endoftext|>"]
    assert len(tok) == vocab_size
    assert len(tok) == vocab_size
