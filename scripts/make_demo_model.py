#!/usr/bin/env python
"""Build lem's embedded demo model, reproducibly, from the project-owned demo corpus.

The demo model is a pipeline smoke-test model, not a research subject: a tiny
Llama-architecture transformer (about 1.0M parameters, 4.1 MB float32) with a byte-level
BPE tokenizer and a chat template, trained for a few minutes on 2 CPU cores on
``scripts/demo_corpus/``. It loads offline with ``transformers`` and ``mlx_lm`` and
``mlx_lm.server`` serves it.

Usage::

    python scripts/make_demo_model.py                  # writes src/lem/data/demo-model/
    python scripts/make_demo_model.py --out /tmp/demo  # anywhere else
    python scripts/make_demo_model.py --steps 50       # quick smoke build

Reproducibility: the tokenizer, the data order, the initial weights and every training step
are seeded, ``torch.use_deterministic_algorithms(True)`` is on, and PyTorch runs with a fixed
number of intra-op threads (``--threads``, default 1). On the same machine type, PyTorch
build and thread count, reruns give byte-identical ``model.safetensors``. A different CPU
instruction set or thread count may change low-order float bits (matmul kernels differ), so
the committed weights are the reference and their sha256 is in the model card.
``--seconds`` is a safety cap only: if it cuts training short, the result depends on machine
speed and is no longer reproducible (the script says so).
"""

from __future__ import annotations

import os

# Pin tokenizers' thread pool before the library is imported (BPE training is parallel).
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import argparse
import hashlib
import json
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS_DIR = REPO / "scripts" / "demo_corpus"
DEFAULT_OUT = REPO / "src" / "lem" / "data" / "demo-model"

SEED = 20261122

PAD, BOS, END = "<|pad|>", "<|bos|>", "<|end|>"
SYSTEM, USER, ASSISTANT = "<|system|>", "<|user|>", "<|assistant|>"
SPECIAL_TOKENS = [PAD, BOS, END, SYSTEM, USER, ASSISTANT]  # ids 0..5, in this order
ROLE_TOKEN = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT}

# Rendered form (one line per turn, every turn closed by <|end|>):
#   <|bos|><|system|>\n{...}<|end|>\n<|user|>\n{...}<|end|>\n<|assistant|>\n{...}<|end|>\n
# The {% generation %} markers let TRL's assistant_only_loss find assistant tokens.
CHAT_TEMPLATE = (
    "{{- bos_token -}}"
    "{%- for message in messages -%}"
    "{%- if message['role'] not in ['system', 'user', 'assistant'] -%}"
    "{{- raise_exception('Only system, user and assistant roles are supported') -}}"
    "{%- endif -%}"
    "{%- if message['content'] is string -%}"
    "{%- set content = message['content'] -%}"
    "{%- else -%}"
    "{%- set content = message['content'] | selectattr('type', 'equalto', 'text')"
    " | map(attribute='text') | join('') -%}"
    "{%- endif -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{- '<|assistant|>\\n' -}}"
    "{%- generation -%}{{- content + '<|end|>' -}}{%- endgeneration -%}"
    "{{- '\\n' -}}"
    "{%- else -%}"
    "{{- '<|' + message['role'] + '|>\\n' + content + '<|end|>\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|assistant|>\\n' -}}{%- endif -%}"
)

PROMPT_STYLES = [
    "{q}",
    "{q}",
    "{q}",
    "Question: {q}",
    "{q} Please explain briefly.",
    "I would like your view. {q}",
    "{q} Give reasons.",
]


@dataclass(frozen=True)
class ModelShape:
    vocab_target: int = 3072
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 344
    max_positions: int = 4096
    rope_theta: float = 10000.0


# --------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------


def _entries(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    return [e.strip() for e in text.split("\n===\n") if e.strip()]


def load_corpus(corpus_dir: Path) -> dict[str, list]:
    qa: list[tuple[str, str]] = []
    for name in ("essays.txt", "everyday.txt"):
        for entry in _entries(corpus_dir / name):
            first, _, rest = entry.partition("\n")
            if not first.startswith("Q: ") or not rest.strip():
                raise ValueError(f"{name}: entry must start with 'Q: ' and have an answer")
            qa.append((first[3:].strip(), rest.strip()))
    dialogues: list[list[tuple[str, str]]] = []
    for entry in _entries(corpus_dir / "dialogues.txt"):
        turns: list[tuple[str, str]] = []
        for line in entry.splitlines():
            if line.startswith("User: "):
                turns.append(("user", line[6:].strip()))
            elif line.startswith("Assistant: "):
                turns.append(("assistant", line[11:].strip()))
            elif line.strip():
                role, text = turns[-1]
                turns[-1] = (role, text + "\n" + line.strip())
        dialogues.append(turns)
    kernels = _entries(corpus_dir / "kernels.txt")
    return {"qa": qa, "dialogues": dialogues, "kernels": kernels}


def corpus_texts(corpus: dict[str, list]) -> list[str]:
    texts = [f"{q}\n{a}" for q, a in corpus["qa"]]
    texts += ["\n".join(t for _, t in d) for d in corpus["dialogues"]]
    texts += list(corpus["kernels"])
    return texts


# --------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------


def train_tokenizer(texts: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    for i, t in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(t) == i, (t, tok.token_to_id(t))
    return tok


def tokenizer_config(model_max_length: int) -> dict:
    added = {
        str(i): {
            "content": t,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for i, t in enumerate(SPECIAL_TOKENS)
    }
    return {
        "added_tokens_decoder": added,
        "bos_token": BOS,
        "eos_token": END,
        "pad_token": PAD,
        "unk_token": None,
        "additional_special_tokens": [SYSTEM, USER, ASSISTANT],
        "extra_special_tokens": [SYSTEM, USER, ASSISTANT],
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": model_max_length,
        "padding_side": "left",
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": CHAT_TEMPLATE,
    }


# --------------------------------------------------------------------------------------------
# Training data: chat-formatted conversations, rendered and masked exactly like the template
# --------------------------------------------------------------------------------------------


class Encoder:
    """Render a message list like CHAT_TEMPLATE and mark which tokens carry loss."""

    def __init__(self, tok) -> None:
        self.tok = tok
        self.ids = {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}
        self.nl = tok.encode("\n").ids
        self._cache: dict[str, list[int]] = {}

    def text(self, s: str) -> list[int]:
        if s not in self._cache:
            self._cache[s] = self.tok.encode(s).ids
        return self._cache[s]

    def encode(self, messages: list[tuple[str, str]]) -> tuple[list[int], list[int]]:
        ids = [self.ids[BOS]]
        labels = [-100]
        for role, content in messages:
            head = [self.ids[ROLE_TOKEN[role]], *self.nl]
            body = [*self.text(content), self.ids[END]]
            ids += head + body + self.nl
            labels += [-100] * len(head)
            labels += body if role == "assistant" else [-100] * len(body)
            labels += [-100] * len(self.nl)
        return ids, labels


def _paragraph_answer(rng: random.Random, answer: str) -> str:
    paras = [p for p in answer.split("\n\n") if p.strip()]
    if len(paras) > 1 and rng.random() < 0.3:
        return paras[0] if rng.random() < 0.7 else paras[rng.randrange(len(paras))]
    return answer


def _system(rng: random.Random, kernels: list[str], mode: str) -> str | None:
    if mode == "none":
        return None
    if mode == "one":
        return kernels[rng.randrange(len(kernels))]
    k = rng.randint(3, len(kernels)) if mode == "some" else len(kernels)
    chosen = rng.sample(kernels, k)
    if mode == "long":  # a kernel-sized system prompt, up to two passes over the kernels
        chosen += rng.sample(kernels, rng.randint(0, len(kernels)))
    return "\n\n".join(chosen)


def _qa_turns(rng: random.Random, corpus: dict[str, list]) -> list[tuple[str, str]]:
    if rng.random() < 0.2:
        return list(corpus["dialogues"][rng.randrange(len(corpus["dialogues"]))])
    q, a = corpus["qa"][rng.randrange(len(corpus["qa"]))]
    style = PROMPT_STYLES[rng.randrange(len(PROMPT_STYLES))]
    return [("user", style.format(q=q)), ("assistant", _paragraph_answer(rng, a))]


def short_example(rng: random.Random, corpus: dict[str, list]) -> list[tuple[str, str]]:
    mode = rng.choices(["none", "one", "some"], weights=[0.4, 0.3, 0.3])[0]
    system = _system(rng, corpus["kernels"], mode)
    msgs = [("system", system)] if system else []
    return msgs + _qa_turns(rng, corpus)


def long_example(
    rng: random.Random, corpus: dict[str, list], enc: Encoder, max_len: int
) -> list[tuple[str, str]]:
    """A multi-turn conversation behind a long system prompt, 800..max_len tokens."""
    target = rng.randint(800, max_len)
    system = _system(rng, corpus["kernels"], rng.choice(["all", "long", "long"]))
    msgs: list[tuple[str, str]] = [("system", system)] if system else []
    while True:
        turns = _qa_turns(rng, corpus)
        if len(enc.encode(msgs + turns)[0]) > target:
            break
        msgs += turns
    if len(msgs) < 2 or msgs[-1][0] != "assistant":  # always at least one exchange
        msgs = msgs[:1] + _qa_turns(rng, corpus)
    return msgs


def _to_tensors(rows: list[tuple[list[int], list[int]]], pad: int):
    """Right-pad to a common width. No attention mask is needed: attention is causal, so real
    tokens never see the pads that follow them, and pads carry no loss. (This keeps PyTorch's
    fast is_causal attention path instead of a materialised mask.)"""
    import torch

    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, (ids, lab) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, : len(lab)] = torch.tensor(lab)
    return input_ids, labels


def batches(rng: random.Random, corpus: dict[str, list], enc: Encoder, max_len: int, budget: int):
    """Endless deterministic stream of (input_ids, labels) batches of about `budget` tokens.

    Short single-exchange examples are length-grouped (a pool of 64 is sorted by length and cut
    into batches, whose order is then shuffled) to keep padding low; every fifth batch is one
    long multi-turn conversation behind a kernel-sized system prompt (800..max_len tokens) so
    that later positions are trained too.
    """
    pad = enc.ids[PAD]
    while True:
        pool = [enc.encode(short_example(rng, corpus)) for _ in range(64)]
        pool = [(ids[:max_len], lab[:max_len]) for ids, lab in pool]
        pool.sort(key=lambda r: len(r[0]))
        chunks: list[list[tuple[list[int], list[int]]]] = [[]]
        for row in pool:
            if chunks[-1] and len(row[0]) * (len(chunks[-1]) + 1) > budget:
                chunks.append([])
            chunks[-1].append(row)
        rng.shuffle(chunks)
        for i, chunk in enumerate(chunks):
            yield _to_tensors(chunk, pad)
            if i % 4 == 3:
                ids, lab = enc.encode(long_example(rng, corpus, enc, max_len))
                yield _to_tensors([(ids[:max_len], lab[:max_len])], pad)


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


def build_model(shape: ModelShape, vocab_size: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        head_dim=shape.hidden // shape.heads,
        hidden_act="silu",
        max_position_embeddings=shape.max_positions,
        initializer_range=0.02,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": shape.rope_theta},
        attention_bias=False,
        attention_dropout=0.0,
        mlp_bias=False,
        tie_word_embeddings=True,
        use_cache=True,
        pad_token_id=SPECIAL_TOKENS.index(PAD),
        bos_token_id=SPECIAL_TOKENS.index(BOS),
        eos_token_id=SPECIAL_TOKENS.index(END),
    )
    return LlamaForCausalLM(config)


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


# --------------------------------------------------------------------------------------------
# Save
# --------------------------------------------------------------------------------------------


def save(model, tok, out: Path, shape: ModelShape) -> None:
    from transformers import GenerationConfig

    out.mkdir(parents=True, exist_ok=True)
    for stale in ("model.safetensors", "chat_template.jinja", "special_tokens_map.json"):
        (out / stale).unlink(missing_ok=True)
    model.config.use_cache = True
    model.generation_config = GenerationConfig(
        bos_token_id=SPECIAL_TOKENS.index(BOS),
        eos_token_id=SPECIAL_TOKENS.index(END),
        pad_token_id=SPECIAL_TOKENS.index(PAD),
    )
    model.save_pretrained(out, safe_serialization=True)
    (out / "model.safetensors").chmod(0o644)

    # mlx-lm ignores transformers 5's rope_parameters block and silently falls back to its own
    # default theta; write rope_theta at the top level too so both frameworks agree.
    cfg_path = out / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["rope_theta"] = shape.rope_theta
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")

    gen_path = out / "generation_config.json"
    gen = json.loads(gen_path.read_text())
    gen.pop("transformers_version", None)
    gen_path.write_text(json.dumps(gen, indent=2, sort_keys=True) + "\n")

    tok.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(
        json.dumps(tokenizer_config(shape.max_positions), indent=2) + "\n"
    )


def check_saved(out: Path, corpus: dict[str, list], enc: Encoder, seed: int) -> None:
    """Reload the saved tokenizer with transformers and check that its chat template renders
    training conversations to exactly the token ids and loss mask the script trained on."""
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(out)
    rng = random.Random(seed + 1)
    convs = [short_example(rng, corpus) for _ in range(20)]
    convs += [long_example(rng, corpus, enc, 2048) for _ in range(2)]
    for conv in convs:
        msgs = [{"role": r, "content": c} for r, c in conv]
        ids, labels = enc.encode(conv)
        got = hf.apply_chat_template(msgs, return_dict=True, return_assistant_tokens_mask=True)
        if list(got["input_ids"]) != ids:
            raise AssertionError("chat template and training encoder disagree on token ids")
        mask = [int(lab != -100) for lab in labels]
        if list(got["assistant_masks"]) != mask:
            raise AssertionError("chat template generation markers disagree with loss mask")
    prompt = hf.apply_chat_template(msgs[:-1], add_generation_prompt=True, return_dict=True)
    if list(prompt["input_ids"]) != ids[: len(prompt["input_ids"])]:
        raise AssertionError("generation prompt is not a prefix of the training rendering")


def corpus_loss(model, corpus: dict[str, list], enc: Encoder) -> float:
    """Mean assistant-token loss over every corpus answer and dialogue, without system turn."""
    import torch

    total, count = 0.0, 0
    convs = [[("user", q), ("assistant", a)] for q, a in corpus["qa"]]
    convs += [list(d) for d in corpus["dialogues"]]
    with torch.no_grad():
        for conv in convs:
            ids, labels = enc.encode(conv)
            out = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels]))
            n = sum(lab != -100 for lab in labels[1:])
            total += float(out.loss) * n
            count += n
    return total / count


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    ap.add_argument("--corpus", type=Path, default=CORPUS_DIR, help="corpus directory")
    ap.add_argument("--steps", type=int, default=600, help="optimizer steps (default 600)")
    ap.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="safety cap on training time; stopping early breaks reproducibility",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    ap.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    ap.add_argument("--max-len", type=int, default=2048, help="longest training sequence")
    ap.add_argument("--batch-tokens", type=int, default=2048, help="tokens per short batch")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    random.seed(args.seed)
    torch.manual_seed(args.seed)

    shape = ModelShape()
    t0 = time.perf_counter()
    corpus = load_corpus(args.corpus)
    tok = train_tokenizer(corpus_texts(corpus), shape.vocab_target)
    vocab = tok.get_vocab_size()
    enc = Encoder(tok)
    n_chars = sum(len(t) for t in corpus_texts(corpus))
    n_tokens = sum(len(enc.text(t)) for t in corpus_texts(corpus))
    print(
        f"corpus: {len(corpus['qa'])} answers, {len(corpus['dialogues'])} dialogues, "
        f"{len(corpus['kernels'])} kernels, {n_chars} chars, {n_tokens} tokens; vocab {vocab}"
    )

    torch.manual_seed(args.seed)
    model = build_model(shape, vocab)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters")

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.98),
        eps=1e-8,
        foreach=False,
    )
    rng = random.Random(args.seed)
    warmup = max(1, min(50, args.steps // 10))
    t_train = time.perf_counter()
    ema = None
    stopped_early = False
    step = 0
    stream = batches(rng, corpus, enc, args.max_len, args.batch_tokens)
    seen = 0
    for step in range(args.steps):
        input_ids, labels = next(stream)
        seen += input_ids.numel()
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr, warmup)
        out = model(input_ids=input_ids, labels=labels)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss = float(out.loss.detach())
        ema = loss if ema is None else 0.95 * ema + 0.05 * loss
        if step % 50 == 0 or step == args.steps - 1:
            print(
                f"step {step:4d}  loss {loss:.3f}  ema {ema:.3f}  "
                f"{time.perf_counter() - t_train:6.1f}s",
                flush=True,
            )
        if args.seconds is not None and time.perf_counter() - t_train > args.seconds:
            stopped_early = step < args.steps - 1
            break
    train_s = time.perf_counter() - t_train
    if stopped_early:
        print(
            f"WARNING: --seconds cap hit after {step + 1}/{args.steps} steps; "
            "these weights are NOT reproducible",
            file=sys.stderr,
        )

    model.eval()
    final = corpus_loss(model, corpus, enc)
    save(model, tok, args.out, shape)
    check_saved(args.out, corpus, enc, args.seed)
    weights = args.out / "model.safetensors"
    print(
        f"trained {step + 1} steps ({seen} tokens) in {train_s:.1f}s "
        f"(total {time.perf_counter() - t0:.1f}s); "
        f"final loss ema {ema:.3f}; corpus answer loss {final:.3f}"
    )
    print(f"wrote {args.out}: model.safetensors {weights.stat().st_size} bytes")
    print(f"sha256 model.safetensors {sha256(weights)}")
    print(f"sha256 tokenizer.json    {sha256(args.out / 'tokenizer.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
