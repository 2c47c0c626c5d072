"""Distillation's N samples of one prompt in the `hf` backend: shared prefill vs not.

`lem distill` generates N sampled answers (own seed each) per prompt. Three ways to do it,
on the same requests, in the same process, alternating within each round (a, b, c, then
c, b, a in the next):

  (a) one at a time: N separate generations of the prompt, one after another (lem's
      backend with batch size 1: the straightforward loop around ``model.generate``);
  (b) lem, the N samples in one batch, ``share_prefill=False``: the prompt's prefill is
      computed N times, once per row;
  (c) lem, the N samples in one batch, ``share_prefill=True`` (the default): the prefill is
      computed once and its KV cache copied to the N rows.

The prompt is a bundled training prompt under lem distill's default condition
(``sandwich:lek+lek-text``: the axioms kernel as system message, the prompt, the text
kernel after it), rendered with the model's chat template. The model is a random-weight
Llama of ``--random-model HIDDENxLAYERS`` with the demo tokenizer (built in a temporary
folder; random weights rarely emit end-of-turn, so every row runs to --new-tokens).

    python benchmarks/bench_distill.py [--random-model 512x8] [--samples 8]
                                       [--new-tokens 128] [--rounds 2]
                                       [--condition sandwich:lek+lek-text]

Prints tokens/s (new tokens) of each way per round, the medians and the best rounds (on a
shared machine the best round is the least disturbed one), the ratios (c)/(a) and (c)/(b)
of both, and how many of the N texts each way agrees with (a) on (seeded sampling makes
them identical up to float32 near ties).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import time

import torch

from bench_hf_batching import build_random_model
from lem.backends.base import GenerationRequest, SamplingParams
from lem.backends.hf import HFBackend
from lem.conditions import parse_conditions
from lem.distill.config import DEFAULT_DISTILL_CONDITION
from lem.kernels import resolve_kernels
from lem.probes import bundled_train_prompts_path, load_probes


def requests(
    samples: int, new_tokens: int, condition: str, prompt_index: int = 0
) -> list[GenerationRequest]:
    """``samples`` sampled requests (temperature 0.8, top-p 0.95) of one training prompt."""
    cond = parse_conditions([condition], resolve_kernels([]))[0]
    prompt = list(load_probes(bundled_train_prompts_path()))[prompt_index].prompt
    sampling = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=new_tokens)
    messages = cond.messages(prompt)
    return [
        GenerationRequest(key=f"s{i}", messages=messages, sampling=sampling, seed=1000 + i)
        for i in range(samples)
    ]


def timed(backend: HFBackend, reqs: list[GenerationRequest]) -> tuple[float, dict[str, str], int]:
    t0 = time.perf_counter()
    results = list(backend.generate(reqs))
    dt = time.perf_counter() - t0
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    return dt, {r.key: r.text for r in results}, sum(r.completion_tokens or 0 for r in results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--random-model", default="512x8", help="HIDDENxLAYERS of the random model.")
    ap.add_argument("--model", default=None, help="A model directory instead of a random one.")
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--condition", default=DEFAULT_DISTILL_CONDITION)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--json", default=None, help="Write the figures to this JSON file.")
    args = ap.parse_args()
    model = args.model or build_random_model(args.random_model)
    reqs = requests(args.samples, args.new_tokens, args.condition)

    # prefix_cache off everywhere: this measures share_prefill alone (with the prefix
    # cache, one-at-a-time generation would reuse the whole prompt too)
    single = HFBackend(model, dtype=args.dtype, batch_size=1, prefix_cache=False)
    plain = HFBackend(
        model, dtype=args.dtype, batch_size=args.samples, share_prefill=False, prefix_cache=False
    )
    shared = HFBackend(model, dtype=args.dtype, batch_size=args.samples, prefix_cache=False)
    prompt_tokens = len(shared._encode(shared.render(reqs[0].messages)[0]))
    print(
        f"prompt: {prompt_tokens} tokens ({args.condition}); {args.samples} samples, "
        f"{args.new_tokens} new tokens, temperature 0.8, top-p 0.95, {args.dtype}, "
        f"torch threads {torch.get_num_threads()}"
    )
    warm = requests(2, 4, args.condition)
    for backend in (single, plain, shared):  # warm-up
        timed(backend, warm)

    ways = {"a": single, "b": plain, "c": shared}
    names = {
        "a": "(a) one at a time",
        "b": "(b) lem batch, no sharing",
        "c": "(c) lem batch, shared prefill",
    }
    rates: dict[str, list[float]] = {w: [] for w in ways}
    secs: dict[str, list[float]] = {w: [] for w in ways}
    outputs: dict[str, dict[str, str]] = {}
    saved_before = shared.prefill_rows_saved
    for rnd in range(args.rounds):
        order = ["a", "b", "c"] if rnd % 2 == 0 else ["c", "b", "a"]
        for way in order:
            dt, texts, tokens = timed(ways[way], reqs)
            rates[way].append(tokens / dt)
            secs[way].append(dt)
            outputs[way] = texts
            print(f"round {rnd + 1}  {names[way]:<31} {dt:7.2f} s  {tokens / dt:8.1f} tok/s")
    assert shared.prefill_rows_saved - saved_before == args.rounds * (args.samples - 1)
    agree = {w: sum(t == outputs["a"][k] for k, t in outputs[w].items()) for w in ways}

    med = {w: statistics.median(v) for w, v in rates.items()}
    best = {w: max(v) for w, v in rates.items()}
    print()
    print("| way | median s | median tok/s | best tok/s | same texts as (a) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for way in ways:
        print(
            f"| {names[way]} | {statistics.median(secs[way]):.2f} | {med[way]:,.1f} "
            f"| {best[way]:,.1f} | {agree[way]}/{args.samples} |"
        )
    print()
    for label, fig in (("median", med), ("best", best)):
        print(
            f"{label:>6}: (c)/(a) = {fig['c'] / fig['a']:.2f}x   "
            f"(c)/(b) = {fig['c'] / fig['b']:.2f}x"
        )
    res = {
        "model": args.model or f"random {args.random_model}",
        "condition": args.condition,
        "prompt_tokens": prompt_tokens,
        "samples": args.samples,
        "new_tokens": args.new_tokens,
        "rounds": args.rounds,
        "dtype": args.dtype,
        "tok_s": {w: [round(x, 1) for x in v] for w, v in rates.items()},
        "median_tok_s": {w: round(x, 1) for w, x in med.items()},
        "best_tok_s": {w: round(x, 1) for w, x in best.items()},
        "c_over_a": round(med["c"] / med["a"], 2),
        "c_over_b": round(med["c"] / med["b"], 2),
        "best_c_over_a": round(best["c"] / best["a"], 2),
        "best_c_over_b": round(best["c"] / best["b"], 2),
        "same_texts_as_a": {w: f"{n}/{args.samples}" for w, n in agree.items()},
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)
    if not args.model:
        shutil.rmtree(model, ignore_errors=True)


if __name__ == "__main__":
    main()
