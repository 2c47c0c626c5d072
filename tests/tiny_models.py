"""Tiny random-weight Llama models with real tokenizers and chat templates, for tests.

Build one with :func:`build_tiny_model`, or in a test ask for the session-scoped
``tiny_models`` fixture (import it into the test module: ``from tests.tiny_models import
tiny_models``), which builds each configuration once per session and returns its directory::

    def test_x(tiny_models):
        model_dir = tiny_models("no_system_merge")

The models have random weights: greedy outputs differ between prompts but mean nothing.
Everything is built offline from text in this file in well under a second per model.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = [
    "BOS",
    "EOS",
    "TEMPLATES",
    "Template",
    "build_tiny_model",
    "build_tokenizer",
    "tiny_model_dir",
    "tiny_models",
]

Template = Literal["system", "no_system_raise", "no_system_merge", "none"]

BOS = "<|bos|>"
EOS = "<|end|>"
_SPECIALS = [BOS, EOS, "<|system|>", "<|user|>", "<|assistant|>", "<think>", "</think>"]

_TURN = "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
_GEN = "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"

TEMPLATES: dict[str, str | None] = {
    # An ordinary template with a system turn of its own.
    "system": "{{ bos_token }}{% for message in messages %}" + _TURN + "{% endfor %}" + _GEN,
    # Like Gemma's older templates: a system message is an error.
    "no_system_raise": (
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "{% for message in messages %}" + _TURN + "{% endfor %}" + _GEN
    ),
    # Like Gemma 3's template: the system text is glued to the front of the first user turn.
    "no_system_merge": (
        "{{ bos_token }}"
        "{%- if messages[0]['role'] == 'system' -%}"
        "{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}"
        "{%- set loop_messages = messages[1:] -%}"
        "{%- else -%}"
        "{%- set first_user_prefix = '' -%}"
        "{%- set loop_messages = messages -%}"
        "{%- endif -%}"
        "{%- for message in loop_messages -%}"
        "{{ '<|' + message['role'] + '|>\\n' + (first_user_prefix if loop.first else '') "
        "+ message['content'] + '<|end|>\\n' }}"
        "{%- endfor -%}" + _GEN
    ),
    # No chat template at all.
    "none": None,
}

_CORPUS = """
The kernel is a short statement of principles. A model reads it before the question and
answers with care. Honesty matters more than flattery; harm avoidance matters more than
speed. When you are unsure, say so. When a user asks for help, help them well.
System prompts set the stage; user turns ask; assistant turns answer.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 2026. Punctuation: , . ; : ! ? ( ) [ ] { } " ' - _ / \\
The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.
Tell me about the weather, the ocean, mountains, rivers, cities and the history of ideas.
What is the meaning of fairness? Explain consent, autonomy, dignity and trust in plain words.
<think> reasoning goes here </think> and then the answer follows on its own line.
"""


def build_tokenizer(
    specials: Sequence[str], *, vocab_size: int = 600, corpus: str = _CORPUS
) -> Tokenizer:
    """A byte-level BPE tokenizer (``tokenizers.Tokenizer``) trained on ``corpus``.

    ``specials`` become special tokens with the first ids, in order; the 256 byte symbols
    follow, then merges up to ``vocab_size`` (fewer when the corpus runs out of pairs).
    Wrap it in ``transformers.PreTrainedTokenizerFast(tokenizer_object=...)`` to save it.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator([line for line in corpus.splitlines() if line], trainer)
    return bpe


def build_tiny_model(
    out_dir: str | Path,
    *,
    template: Template = "system",
    seed: int = 0,
    vocab_size: int = 600,
    hidden: int = 48,
    layers: int = 2,
    heads: int = 4,
    max_positions: int = 512,
    dtype: str = "float32",
    init_range: float = 0.3,
    add_bos_token: bool = True,
    pad_token: bool = False,
) -> Path:
    """Write a random-weight ``LlamaForCausalLM`` with tokenizer and chat template to ``out_dir``.

    The tokenizer is a byte-level BPE trained on a few lines of text; ``<|end|>`` is the end
    of turn and EOS. ``add_bos_token`` makes plain tokenization prepend BOS although every
    chat template writes ``{{ bos_token }}`` too, which exposes BOS duplication bugs.
    ``pad_token=False`` leaves the tokenizer without a pad token, as many chat models ship.
    ``init_range`` is larger than a real model's so logits are peaked and greedy decoding
    has few near ties. Weights are saved as safetensors; config.json carries a top-level
    ``rope_theta`` beside transformers 5's ``rope_parameters`` (mlx-lm reads only the former).
    """
    import torch
    from transformers import (
        GenerationConfig,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
    )

    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}; choose from {sorted(TEMPLATES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    specials = [*_SPECIALS, "<|pad|>"] if pad_token else list(_SPECIALS)
    bpe = build_tokenizer(specials, vocab_size=vocab_size)

    tok_kwargs: dict[str, Any] = {"bos_token": BOS, "eos_token": EOS}
    if pad_token:
        tok_kwargs["pad_token"] = "<|pad|>"
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        add_bos_token=add_bos_token,
        model_max_length=max_positions,
        **tok_kwargs,
    )
    chat_template = TEMPLATES[template]
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(out)

    bos_id = tokenizer.convert_tokens_to_ids(BOS)
    eos_id = tokenizer.convert_tokens_to_ids(EOS)
    pad_id = tokenizer.pad_token_id if pad_token else None
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),
        max_position_embeddings=max_positions,
        initializer_range=init_range,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(getattr(torch, dtype))
    model.generation_config = GenerationConfig(
        bos_token_id=bos_id, eos_token_id=eos_id, pad_token_id=pad_id
    )
    model.save_pretrained(out, safe_serialization=True)

    cfg_path = out / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["rope_theta"] = 10000.0
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return out


_BUILT: dict[tuple[Any, ...], Path] = {}


def tiny_model_dir(
    tmp_path_factory: pytest.TempPathFactory, template: Template = "system", **kwargs: Any
) -> Path:
    """The directory of a tiny model built with these settings, built once per session."""
    key = (template, *sorted(kwargs.items()))
    if key not in _BUILT:
        path = tmp_path_factory.mktemp(f"tiny-{template}")
        _BUILT[key] = build_tiny_model(path, template=template, **kwargs)
    return _BUILT[key]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Session fixture: ``tiny_models(template="system", **build_options) -> Path``."""

    def get(template: Template = "system", **kwargs: Any) -> Path:
        return tiny_model_dir(tmp_path_factory, template, **kwargs)

    return get
