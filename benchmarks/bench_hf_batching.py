"""Batched `hf` generation vs one prompt at a time (the upstream pattern), same outputs.

Generates greedy answers for N prompts (bundled probes under the baseline and system:lek
conditions) with lem's batched backend and with batch size 1, checks the texts are
identical, and prints tokens/s for both and the ratio.

    python benchmarks/bench_hf_batching.py [--model demo] [--n 64] [--batch-size 16]
    python benchmarks/bench_hf_batching.py --random-model 512x8   # ~30M params, random weights

``--random-model HIDDENxLAYERS`` builds a Llama of that size with random weights and the
demo model's tokenizer in a temporary folder: a stand-in for a realistic model size, where
compute rather than per-step overhead dominates (random weights rarely emit end-of-turn, so
every row runs to --max-tokens).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from lem.backends.base import GenerationRequest, SamplingParams
from lem.backends.hf import HFBackend
from lem.conditions import parse_conditions
from lem.kernels import resolve_kernels
from lem.probes import load_probes


def requests(
    n: int, max_tokens: int, conditions: tuple[str, ...] = ("baseline", "system:lek")
) -> list[GenerationRequest]:
    conds = parse_conditions(list(conditions), resolve_kernels([]))
    probes = list(load_probes())
    sampling = SamplingParams(max_tokens=max_tokens)
    out = []
    for i in range(n):
        cond = conds[i % len(conds)]
        msgs = cond.messages(probes[i % len(probes)].prompt)
        out.append(GenerationRequest(key=f"r{i}", messages=msgs, sampling=sampling))
    return out


def build_random_model(spec: str) -> str:
    """A random-weight Llama (``HIDDENxLAYERS``) with the demo tokenizer, saved to a temp dir."""
    import shutil
    import tempfile

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from lem.backends.hf import resolve_model_dir

    hidden, layers = (int(x) for x in spec.lower().split("x"))
    demo = resolve_model_dir("demo")
    out = Path(tempfile.mkdtemp(prefix="lem-bench-model-"))
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        if (demo / name).is_file():
            shutil.copy(demo / name, out / name)
    demo_cfg = json.loads((demo / "config.json").read_text())
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=demo_cfg["vocab_size"],
        hidden_size=hidden,
        intermediate_size=hidden * 8 // 3,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),
        num_key_value_heads=max(1, hidden // 128),
        max_position_embeddings=4096,
        bos_token_id=demo_cfg.get("bos_token_id"),
        eos_token_id=demo_cfg.get("eos_token_id"),
        pad_token_id=demo_cfg.get("pad_token_id"),
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(out, safe_serialization=True)
    params = sum(p.numel() for p in model.parameters())
    print(f"random model {spec}: {params / 1e6:.1f}M parameters in {out}")
    return str(out)


def timed(backend: HFBackend, reqs: list[GenerationRequest]) -> tuple[float, dict[str, str], int]:
    t0 = time.perf_counter()
    results = list(backend.generate(reqs))
    dt = time.perf_counter() - t0
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    return dt, {r.key: r.text for r in results}, sum(r.completion_tokens or 0 for r in results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="demo")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--json", default=None, help="Write the figures to this JSON file.")
    ap.add_argument(
        "--conditions",
        default="baseline,system:lek",
        help="Conditions the prompts cycle through (kernel ones make long prompts).",
    )
    ap.add_argument(
        "--random-model", default=None, help="HIDDENxLAYERS: benchmark a random-weight model."
    )
    args = ap.parse_args()
    if args.random_model:
        args.model = build_random_model(args.random_model)
    reqs = requests(args.n, args.max_tokens, tuple(args.conditions.split(",")))
    batched = HFBackend(args.model, dtype=args.dtype, batch_size=args.batch_size)
    single = HFBackend(args.model, dtype=args.dtype, batch_size=1)
    timed(batched, reqs[:4])  # warm-up
    t_b, texts_b, tok_b = timed(batched, reqs)
    t_s, texts_s, tok_s = timed(single, reqs)
    same = sum(texts_b[k] == texts_s[k] for k in texts_b)
    res = {
        "model": (args.random_model and f"random {args.random_model}") or args.model,
        "prompts": args.n,
        "conditions": args.conditions,
        "batch_size": args.batch_size,
        "max_tokens": args.max_tokens,
        "dtype": args.dtype,
        "identical_outputs": f"{same}/{args.n}",
        "batched_s": round(t_b, 2),
        "single_s": round(t_s, 2),
        "batched_tok_s": round(tok_b / t_b, 1),
        "single_tok_s": round(tok_s / t_s, 1),
        "speedup": round(t_s / t_b, 2),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }
    print(json.dumps(res, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":
    main()
