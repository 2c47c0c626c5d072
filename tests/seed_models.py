"""Tiny random-weight replicas of the seed architectures lem trains on, for tests.

:func:`build_seed_model` writes one family's model to a folder: the real family's model
class and configuration shape (attention layout, rope, sliding windows, biases, tied
embeddings, mixture of experts) at toy size, a byte-level BPE tokenizer trained in-process
(:func:`tests.tiny_models.build_tokenizer`) holding the family's special tokens, and a
chat template in the family's style. Families (:data:`FAMILIES`):

``gemma3``
    ``Gemma3ForCausalLM`` (``gemma3_text``): one sliding and one global layer, q/k norms,
    tied embeddings; a template with no system role that glues the system text to the
    first user turn, ``<start_of_turn>model`` for the assistant.
``llama3.1``
    ``LlamaForCausalLM`` with llama3 rope scaling; header-id template that always opens
    with a system header, as Llama 3.1's does.
``qwen2.5``
    ``Qwen2ForCausalLM`` (q/k/v biases, tied embeddings); ChatML with Qwen's default
    system message; no BOS.
``mistral``
    ``MistralForCausalLM``; ``[INST] ... [/INST]`` template, system text merged into the
    first user turn, no generation prompt.
``gpt-oss``
    ``GptOssForCausalLM``: 4 local experts, 2 per token, attention sinks and biases,
    alternating sliding/full layers, YaRN rope (``truncate: true``, see ``_YARN_ROPE``);
    a harmony-style template.

Every template renders a conversation so that each render extends the previous one (lem's
prompt masking needs that). config.json also carries the top-level keys mlx-lm reads in
place of transformers 5's ``rope_parameters`` (``rope_theta``, ``rope_scaling``, Gemma's
``rope_local_base_freq`` and ``sliding_window_pattern``).

GPT-OSS's experts are fused 3-D tensors that transformers saves as ``gate_up_proj`` of
shape (experts, hidden, 2 * intermediate), gate and up interleaved along the last axis.
mlx-lm 0.32's ``gpt_oss.Model.sanitize`` understands only OpenAI's MXFP4 layout
(``gate_up_proj_blocks``, (experts, 2 * intermediate, ...)) or its own
(``experts.gate_proj.weight``); :func:`write_mlx_gpt_oss` writes a copy of a GPT-OSS base
in the latter, which is what ``mlx_lm.convert`` of the real model produces.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.tiny_models import build_tokenizer

__all__ = ["FAMILIES", "SEED_SPECS", "SeedSpec", "build_seed_model", "write_mlx_gpt_oss"]

FAMILIES: tuple[str, ...] = ("gemma3", "llama3.1", "qwen2.5", "mistral", "gpt-oss")


@dataclass(frozen=True)
class SeedSpec:
    """How one family's tiny replica is tokenized and templated."""

    model_type: str
    specials: list[str]
    template: str
    bos: str | None
    eos: str
    pad: str | None = None
    unk: str | None = None
    add_bos_token: bool = True
    gen_eos: list[str] = field(default_factory=list)
    """End tokens in generation_config.json (the tokenizer's EOS first when empty)."""
    init_range: float = 0.2
    """Weight init std: larger than a real model's so logits are peaked (few greedy ties),
    small enough that float32 noise between mlx-lm and transformers stays near 1e-5."""


_GEMMA3 = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set first_user_prefix = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{%- endif -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else '') }}"
    "{{ message['content'] | trim }}{{ '<end_of_turn>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}"
)

_LLAMA31 = (
    "{{- bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set system_message = messages[0]['content'] | trim -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set system_message = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}"
    "{{- 'Cutting Knowledge Date: December 2023\\nToday Date: 26 Jul 2024\\n\\n' }}"
    "{{- system_message + '<|eot_id|>' }}"
    "{%- for message in loop_messages -%}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{{- message['content'] | trim }}{{- '<|eot_id|>' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{%- endif -%}"
)

_QWEN25 = (
    "{%- if messages[0]['role'] == 'system' -%}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else -%}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. "
    "You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- for message in messages -%}"
    "{%- if not (message['role'] == 'system' and loop.first) -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' }}{%- endif -%}"
)

_MISTRAL = (
    "{{- bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set system_message = messages[0]['content'] + '\\n\\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set system_message = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    "{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{%- endif -%}"
    "{%- if message['role'] == 'user' -%}"
    "{{- '[INST] ' + (system_message if loop.first else '') + message['content'] + ' [/INST]' }}"
    "{%- else -%}"
    "{{- ' ' + message['content'] + eos_token }}"
    "{%- endif -%}"
    "{%- endfor -%}"
)

_GPT_OSS = (
    "{{- '<|start|>system<|message|>You are ChatGPT, a large language model trained by "
    "OpenAI.\\nReasoning: medium\\n\\n# Valid channels: analysis, commentary, final. "
    "Channel must be included for every message.<|end|>' }}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}"
    "{{- '<|start|>developer<|message|># Instructions\\n\\n' + message['content'] + '<|end|>' }}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{{- '<|start|>assistant<|channel|>final<|message|>' + message['content'] + '<|end|>' }}"
    "{%- else -%}"
    "{{- '<|start|>' + message['role'] + '<|message|>' + message['content'] + '<|end|>' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|start|>assistant<|channel|>final<|message|>' }}"
    "{%- endif -%}"
)

SEED_SPECS: dict[str, SeedSpec] = {
    "gemma3": SeedSpec(
        model_type="gemma3_text",
        specials=["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"],
        template=_GEMMA3,
        bos="<bos>",
        eos="<eos>",
        pad="<pad>",
        unk="<unk>",
        gen_eos=["<eos>", "<end_of_turn>"],
    ),
    "llama3.1": SeedSpec(
        model_type="llama",
        specials=[
            "<|begin_of_text|>",
            "<|end_of_text|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eom_id|>",
            "<|eot_id|>",
            "<|python_tag|>",
        ],
        template=_LLAMA31,
        bos="<|begin_of_text|>",
        eos="<|eot_id|>",
        gen_eos=["<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"],
    ),
    "qwen2.5": SeedSpec(
        model_type="qwen2",
        specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        template=_QWEN25,
        bos=None,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        add_bos_token=False,
        gen_eos=["<|im_end|>", "<|endoftext|>"],
    ),
    "mistral": SeedSpec(
        model_type="mistral",
        specials=["<unk>", "<s>", "</s>", "[INST]", "[/INST]"],
        template=_MISTRAL,
        bos="<s>",
        eos="</s>",
        unk="<unk>",
    ),
    "gpt-oss": SeedSpec(
        model_type="gpt_oss",
        specials=[
            "<|startoftext|>",
            "<|endoftext|>",
            "<|start|>",
            "<|channel|>",
            "<|message|>",
            "<|end|>",
            "<|return|>",
            "<|call|>",
            "<|constrain|>",
        ],
        template=_GPT_OSS,
        bos="<|startoftext|>",
        eos="<|return|>",
        pad="<|endoftext|>",
        add_bos_token=False,
        # <|end|> closes the assistant turns this template trains on.
        gen_eos=["<|return|>", "<|endoftext|>", "<|call|>", "<|end|>"],
        # At 0.3 the router's top-2 choice meets near ties (gaps ~1e-5) that float noise
        # flips between implementations; at 0.1 the gaps stay well above the noise.
        init_range=0.1,
    ),
}

_LLAMA3_ROPE: dict[str, Any] = {
    "rope_type": "llama3",
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
    "rope_theta": 500000.0,
}
# GPT-OSS's own config says "truncate": false; mlx-lm 0.32's YarnRoPE ignores the key and
# always rounds the correction range (floor/ceil), as transformers does with truncate=true,
# so the replica says true for the two to compute the same rotary frequencies.
_YARN_ROPE: dict[str, Any] = {
    "rope_type": "yarn",
    "factor": 32.0,
    "beta_fast": 32.0,
    "beta_slow": 1.0,
    "truncate": True,
    "original_max_position_embeddings": 4096,
    "rope_theta": 150000.0,
}


def _config(
    family: str, ids: dict[str, int | None], vocab: int, hidden: int, init_range: float
) -> tuple[Any, Any, dict[str, Any]]:
    """(model class, config, top-level keys added to config.json for mlx-lm)."""
    from transformers import (
        Gemma3ForCausalLM,
        Gemma3TextConfig,
        GptOssConfig,
        GptOssForCausalLM,
        LlamaConfig,
        LlamaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    common: dict[str, Any] = {
        "vocab_size": vocab,
        "hidden_size": hidden,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": hidden // 4,
        "initializer_range": init_range,
        "bos_token_id": ids["bos"],
        "eos_token_id": ids["eos"],
        "pad_token_id": ids["pad"],
    }
    if family == "gemma3":
        # Embeddings are scaled by sqrt(hidden): mlx-lm rounds that to bfloat16, so hidden
        # is a power of 4 (sqrt exact in bfloat16).
        rope = {
            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
            "full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
        }
        cfg: Any = Gemma3TextConfig(
            **common,
            intermediate_size=hidden * 2,
            max_position_embeddings=2048,
            query_pre_attn_scalar=hidden // 4,
            sliding_window=32,  # shorter than the test prompt, so the window masks
            layer_types=["sliding_attention", "full_attention"],
            rope_parameters=rope,
            tie_word_embeddings=True,
        )
        extra = {
            "rope_theta": 1000000.0,
            "rope_local_base_freq": 10000.0,
            "sliding_window_pattern": 2,
        }
        return Gemma3ForCausalLM, cfg, extra
    if family == "llama3.1":
        cfg = LlamaConfig(
            **common,
            intermediate_size=hidden * 2,
            max_position_embeddings=131072,
            rms_norm_eps=1e-5,
            rope_parameters=dict(_LLAMA3_ROPE),
            tie_word_embeddings=False,
        )
        scaling = {k: v for k, v in _LLAMA3_ROPE.items() if k != "rope_theta"}
        return LlamaForCausalLM, cfg, {"rope_theta": 500000.0, "rope_scaling": scaling}
    if family == "qwen2.5":
        cfg = Qwen2Config(
            **common,
            intermediate_size=hidden * 2,
            max_position_embeddings=32768,
            rms_norm_eps=1e-6,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
            use_sliding_window=False,
            max_window_layers=2,
            tie_word_embeddings=True,
        )
        return Qwen2ForCausalLM, cfg, {"rope_theta": 1000000.0}
    if family == "mistral":
        cfg = MistralConfig(
            **common,
            intermediate_size=hidden * 2,
            max_position_embeddings=32768,
            rms_norm_eps=1e-5,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
            sliding_window=None,
            tie_word_embeddings=False,
        )
        return MistralForCausalLM, cfg, {"rope_theta": 1000000.0}
    if family == "gpt-oss":
        cfg = GptOssConfig(
            **common,
            intermediate_size=hidden,
            num_local_experts=4,
            num_experts_per_tok=2,
            max_position_embeddings=131072,
            sliding_window=128,
            layer_types=["sliding_attention", "full_attention"],
            rope_parameters=dict(_YARN_ROPE),
            tie_word_embeddings=False,
        )
        scaling = {k: v for k, v in _YARN_ROPE.items() if k != "rope_theta"}
        return GptOssForCausalLM, cfg, {"rope_theta": 150000.0, "rope_scaling": scaling}
    raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")


def build_seed_model(
    out_dir: str | Path,
    family: str,
    *,
    seed: int = 0,
    vocab_size: int = 512,
    hidden: int = 64,
    init_range: float | None = None,
) -> Path:
    """Write ``family``'s tiny random-weight model (float32 safetensors), tokenizer and
    chat template to ``out_dir``; see the module docstring. ``init_range`` defaults to the
    family's :attr:`SeedSpec.init_range`."""
    import torch
    from transformers import GenerationConfig, PreTrainedTokenizerFast

    if family not in SEED_SPECS:
        raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")
    spec = SEED_SPECS[family]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    tok_kwargs = {
        f"{name}_token": value
        for name, value in (
            ("bos", spec.bos),
            ("eos", spec.eos),
            ("pad", spec.pad),
            ("unk", spec.unk),
        )
        if value is not None
    }
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(spec.specials, vocab_size=vocab_size),
        add_bos_token=spec.add_bos_token,
        model_max_length=4096,
        **tok_kwargs,
    )
    tokenizer.chat_template = spec.template
    tokenizer.save_pretrained(out)

    def tid(token: str | None) -> int | None:
        if token is None:
            return None
        found = tokenizer.convert_tokens_to_ids(token)
        assert isinstance(found, int), token
        return found

    ids = {"bos": tid(spec.bos), "eos": tid(spec.eos), "pad": tid(spec.pad)}
    gen_eos = [tid(t) for t in spec.gen_eos] or [ids["eos"]]
    if family == "qwen2.5":
        ids["bos"] = tid("<|endoftext|>")  # Qwen's config names one though the tokenizer has none
    init = spec.init_range if init_range is None else init_range
    model_cls, config, extra = _config(family, ids, len(tokenizer), hidden, init)
    torch.manual_seed(seed)
    model = model_cls(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=ids["bos"],
        eos_token_id=gen_eos if len(gen_eos) > 1 else gen_eos[0],
        pad_token_id=ids["pad"],
    )
    model.save_pretrained(out, safe_serialization=True)

    cfg_path = out / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.update(extra)
    cfg["tie_word_embeddings"] = bool(config.tie_word_embeddings)
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return out


def write_mlx_gpt_oss(base: str | Path, out_dir: str | Path) -> Path:
    """A copy of a transformers-saved GPT-OSS model with its experts in mlx-lm's layout
    (``experts.{gate,up,down}_proj.{weight,bias}``, weights (experts, out, in)), which
    mlx-lm loads as they are; everything else is copied unchanged."""
    from safetensors.numpy import load_file, save_file

    src, out = Path(base), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for p in src.iterdir():
        if p.is_file() and p.suffix != ".safetensors":
            shutil.copy2(p, out / p.name)
    weights = load_file(str(src / "model.safetensors"))
    converted: dict[str, Any] = {}
    for key, value in weights.items():
        prefix, _, name = key.rpartition(".")
        if not prefix.endswith(".mlp.experts"):
            converted[key] = value
        elif name == "gate_up_proj":  # (E, hidden, 2I), gate/up interleaved on the last axis
            converted[f"{prefix}.gate_proj.weight"] = value[..., ::2].transpose(0, 2, 1).copy()
            converted[f"{prefix}.up_proj.weight"] = value[..., 1::2].transpose(0, 2, 1).copy()
        elif name == "gate_up_proj_bias":  # (E, 2I)
            converted[f"{prefix}.gate_proj.bias"] = value[..., ::2].copy()
            converted[f"{prefix}.up_proj.bias"] = value[..., 1::2].copy()
        elif name == "down_proj":  # (E, I, hidden)
            converted[f"{prefix}.down_proj.weight"] = value.transpose(0, 2, 1).copy()
        elif name == "down_proj_bias":
            converted[f"{prefix}.down_proj.bias"] = value
        else:
            raise ValueError(f"unexpected GPT-OSS expert tensor {key}")
    save_file(converted, str(out / "model.safetensors"), metadata={"format": "mlx"})
    return out
