"""Write a Hugging Face Llama folder (a tiny test model) as a GGUF file, the way llama.cpp's
``convert_hf_to_gguf.py`` does for a float32 Llama with a byte-level BPE tokenizer.

What the converter does and this copies:

* metadata under ``llama.*`` (context length, widths, layer and head counts, RMS epsilon,
  rope base and dimension count) and ``general.architecture = llama``;
* the tokenizer as ``tokenizer.ggml.model = gpt2``: the tokens in id order, one token type
  per token (3 = control for the special tokens, 1 = normal), the merges as ``"a b"``
  strings, the BOS/EOS ids, ``add_bos_token`` and the chat template;
* tensors under llama.cpp's names, in the model's own (out, in) layout, with the rows of
  ``q_proj`` and ``k_proj`` permuted (llama.cpp's ``LlamaModel.permute``: GGUF keeps the
  rotary halves of each head interleaved, Hugging Face keeps them split). transformers
  undoes the permutation when it reads the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["permute", "write_llama_gguf"]

_TENSOR_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
_LAYER_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
}


def permute(weights: Any, n_head: int, n_head_kv: int | None = None) -> Any:
    """llama.cpp's ``LlamaModel.permute`` (convert_hf_to_gguf.py), verbatim."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _gguf_name(hf_name: str) -> str:
    if hf_name in _TENSOR_NAMES:
        return _TENSOR_NAMES[hf_name]
    prefix, layer, rest = hf_name.split(".", 3)[1:]
    assert prefix == "layers", hf_name
    module, leaf = rest.rsplit(".", 1)
    return f"blk.{layer}.{_LAYER_NAMES[module]}.{leaf}"


def write_llama_gguf(model_dir: str | Path, out: str | Path, *, name: str = "tiny") -> Path:
    """Write the float32 Llama in ``model_dir`` (config.json, model.safetensors,
    tokenizer.json with a byte-level BPE, chat_template.jinja) as the GGUF file ``out``."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    src = Path(model_dir)
    cfg = json.loads((src / "config.json").read_text())
    tok = json.loads((src / "tokenizer.json").read_text())
    assert cfg["model_type"] == "llama" and tok["model"]["type"] == "BPE"
    n_head, n_kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    head_dim = cfg["hidden_size"] // n_head

    vocab: dict[str, int] = dict(tok["model"]["vocab"])
    for added in tok["added_tokens"]:
        vocab[added["content"]] = added["id"]
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    assert len(tokens) == cfg["vocab_size"] and [vocab[t] for t in tokens] == list(
        range(len(tokens))
    )
    special = {a["id"] for a in tok["added_tokens"] if a["special"]}
    token_types = [
        gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL
        for i in range(len(tokens))
    ]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    tok_cfg = json.loads((src / "tokenizer_config.json").read_text())

    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_name(name)
    writer.add_context_length(cfg["max_position_embeddings"])
    writer.add_embedding_length(cfg["hidden_size"])
    writer.add_block_count(cfg["num_hidden_layers"])
    writer.add_feed_forward_length(cfg["intermediate_size"])
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    writer.add_rope_freq_base(cfg["rope_parameters"]["rope_theta"])
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(cfg["vocab_size"])
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(vocab[tok_cfg["bos_token"]])
    writer.add_eos_token_id(vocab[tok_cfg["eos_token"]])
    writer.add_add_bos_token(True)
    writer.add_chat_template((src / "chat_template.jinja").read_text())

    weights = load_file(str(src / "model.safetensors"))
    for hf_name in sorted(weights):
        data = np.ascontiguousarray(weights[hf_name], dtype=np.float32)
        if hf_name.endswith("self_attn.q_proj.weight"):
            data = permute(data, n_head, n_head)
        elif hf_name.endswith("self_attn.k_proj.weight"):
            data = permute(data, n_head, n_kv)
        writer.add_tensor(_gguf_name(hf_name), np.ascontiguousarray(data))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(out)
