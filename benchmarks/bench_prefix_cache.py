"""A kernel condition at the cost of a bare prompt: the `hf` backend's prefix KV cache.

Every `system:K` prompt starts with the same rendered kernel (about 1,000 tokens of the
bundled `lek` with the demo tokenizer); a probe is 50-150 tokens. With ``prefix_cache`` on,
the backend computes that prefix once and reuses its KV cache; off, every row computes it.
This script times, in one process, batches as the runner hands them to the backend (one
`generate` call per batch of `--batch-size` probes of one condition), greedy, every row
forced to exactly `--new-tokens` new tokens (end-of-turn ignored, so both conditions do the
same decoding work), float32:

  baseline    batch A of bundled probes, the prompt alone;
  kernel 1st  batch A under `--condition` (default `system:lek`), prefix cache empty: with
              the cache on, the kernel is computed once for the batch;
  kernel next batch B (the next probes) under the condition: with the cache on, the kernel
              comes from the cache (as for every batch after a condition's first).

Each way (`off`: ``prefix_cache=False``; `on`: the default, with ``prefix_attention`` from
`--prefix-attention`: `cascade`, one copy of the kernel's keys and values attended by every
row, or `expanded`, a copy per row) runs all three per round,
alternating which way goes first. Prints seconds per batch, the ratios kernel/baseline for
both ways (medians over rounds, and the best round), and how many texts `on` and `off`
agree on (float32: identical up to near ties).

    python benchmarks/bench_prefix_cache.py [--random-model 512x8 | --model demo]
                                            [--batch-size 8] [--new-tokens 64] [--rounds 3]
                                            [--condition system:lek] [--json out.json]
                                            [--prefix-attention cascade|expanded]
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
from lem.conditions import Condition, parse_conditions
from lem.kernels import resolve_kernels
from lem.probes import load_probes

STEPS = ("baseline", "kernel 1st", "kernel next")


def batches(condition: str, size: int, new_tokens: int) -> dict[str, list[GenerationRequest]]:
    """The three batches: probes 0..size-1 bare and under ``condition``, then the next
    ``size`` probes under ``condition``."""
    baseline, kernel = parse_conditions(["baseline", condition], resolve_kernels([]))
    probes = list(load_probes())
    sampling = SamplingParams(max_tokens=new_tokens)

    def batch(cond: Condition, first: int, tag: str) -> list[GenerationRequest]:
        return [
            GenerationRequest(f"{tag}{i}", cond.messages(p.prompt), sampling)
            for i, p in enumerate(probes[first : first + size])
        ]

    return {
        "baseline": batch(baseline, 0, "b"),
        "kernel 1st": batch(kernel, 0, "k"),
        "kernel next": batch(kernel, size, "n"),
    }


def fixed_length(backend: HFBackend) -> HFBackend:
    """End-of-turn ignored: every row decodes exactly max_tokens, whatever the model."""
    backend._eos_ids = []
    backend._strip_id = None
    backend._model.generation_config.eos_token_id = None
    return backend


def timed(
    backend: HFBackend, reqs: list[GenerationRequest], new_tokens: int
) -> tuple[float, dict[str, str]]:
    t0 = time.perf_counter()
    results = list(backend.generate(reqs))
    dt = time.perf_counter() - t0
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    assert all(r.completion_tokens == new_tokens for r in results)
    assert not any(r.extra.get("retried_alone") for r in results)  # no batch failed
    return dt, {r.key: r.text for r in results}


def condition_ratio(seconds: dict[str, float], n_batches: int) -> float:
    """A whole condition over the probe set (its first batch computes the kernel, the
    others reuse it) against the baseline over the same batches."""
    kernel = seconds["kernel 1st"] + (n_batches - 1) * seconds["kernel next"]
    return kernel / (n_batches * seconds["baseline"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--random-model", default="512x8", help="HIDDENxLAYERS of the random model.")
    ap.add_argument("--model", default=None, help="A model directory (or demo) instead.")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--condition", default="system:lek")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's).")
    ap.add_argument("--json", default=None, help="Write the figures to this JSON file.")
    ap.add_argument(
        "--prefix-attention",
        choices=("cascade", "expanded"),
        default="cascade",
        help="How the `on` way attends to the cached kernel.",
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = args.model or build_random_model(args.random_model)
    n_probes = len(load_probes())
    n_batches = -(-n_probes // args.batch_size)
    reqs = batches(args.condition, args.batch_size, args.new_tokens)

    ways = {
        "off": fixed_length(
            HFBackend(model, dtype=args.dtype, batch_size=args.batch_size, prefix_cache=False)
        ),
        "on": fixed_length(
            HFBackend(
                model,
                dtype=args.dtype,
                batch_size=args.batch_size,
                prefix_attention=args.prefix_attention,
            )
        ),
    }
    on = ways["on"]
    lengths = {
        step: [len(on._encode(on.render(r.messages)[0])) for r in rs] for step, rs in reqs.items()
    }
    print(
        f"model {args.model or 'random ' + args.random_model}, {args.dtype}, torch threads "
        f"{torch.get_num_threads()}; batch {args.batch_size}, {args.new_tokens} new tokens; "
        f"prefix attention {args.prefix_attention}; "
        "prompt tokens (mean): "
        + ", ".join(f"{s} {statistics.mean(v):.0f}" for s, v in lengths.items())
    )
    warm = {k: v[:2] for k, v in batches(args.condition, 2, 4).items()}
    for backend in ways.values():  # warm-up, then an empty prefix cache
        for rs in warm.values():
            list(backend.generate(rs))
        backend._prefixes.clear()

    secs: dict[str, dict[str, list[float]]] = {w: {s: [] for s in STEPS} for w in ways}
    texts: dict[str, dict[str, str]] = {w: {} for w in ways}
    for rnd in range(args.rounds):
        order = ["off", "on"] if rnd % 2 == 0 else ["on", "off"]
        for way in order:
            backend = ways[way]
            backend._prefixes.clear()
            for step in STEPS:
                dt, out = timed(backend, reqs[step], args.new_tokens)
                secs[way][step].append(dt)
                texts[way].update(out)
            line = "  ".join(f"{s} {secs[way][s][-1]:6.2f} s" for s in STEPS)
            print(f"round {rnd + 1}  {way:<3}  {line}")
    same = sum(texts["on"][k] == t for k, t in texts["off"].items())

    med = {w: {s: statistics.median(v) for s, v in d.items()} for w, d in secs.items()}
    best = {w: {s: min(v) for s, v in d.items()} for w, d in secs.items()}

    def ratios(fig: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        return {w: {s: round(fig[w][s] / fig[w]["baseline"], 2) for s in STEPS[1:]} for w in fig}

    r_med, r_best = ratios(med), ratios(best)
    print()
    print(
        "| prefix cache | baseline | kernel 1st | kernel next | 1st / baseline | next / baseline |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for way in ways:
        print(
            f"| {way} | {med[way]['baseline']:.2f} s | {med[way]['kernel 1st']:.2f} s "
            f"| {med[way]['kernel next']:.2f} s | {r_med[way]['kernel 1st']:.2f}x "
            f"| {r_med[way]['kernel next']:.2f}x |"
        )
    print()
    for way in ways:
        print(
            f"best rounds, {way:<3}: 1st/baseline {r_best[way]['kernel 1st']:.2f}x, "
            f"next/baseline {r_best[way]['kernel next']:.2f}x"
        )
    speedup = {s: med["off"][s] / med["on"][s] for s in STEPS[1:]}
    whole = {w: condition_ratio(med[w], n_batches) for w in ways}
    print(
        f"kernel batches off/on (median): 1st {speedup['kernel 1st']:.2f}x, "
        f"next {speedup['kernel next']:.2f}x; same texts on/off {same}/{len(texts['off'])}; "
        f"prefix tokens computed {on.prefix_tokens_computed}, reused {on.prefix_tokens_reused}"
    )
    print(
        f"whole probe set ({n_probes} probes, {n_batches} batches: one 1st, the rest next), "
        f"condition / baseline: off {whole['off']:.2f}x, on {whole['on']:.2f}x"
    )
    res = {
        "model": args.model or f"random {args.random_model}",
        "condition": args.condition,
        "batch_size": args.batch_size,
        "new_tokens": args.new_tokens,
        "rounds": args.rounds,
        "dtype": args.dtype,
        "prefix_attention": args.prefix_attention,
        "mean_prompt_tokens": {s: round(statistics.mean(v), 1) for s, v in lengths.items()},
        "seconds": {
            w: {s: [round(x, 3) for x in v] for s, v in d.items()} for w, d in secs.items()
        },
        "median_ratio_to_baseline": r_med,
        "best_ratio_to_baseline": r_best,
        "off_over_on": {s: round(x, 2) for s, x in speedup.items()},
        "whole_condition_ratio": {w: round(x, 2) for w, x in whole.items()},
        "same_texts_on_off": f"{same}/{len(texts['off'])}",
        "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)
    for backend in ways.values():
        backend.close()
    if not args.model:
        shutil.rmtree(model, ignore_errors=True)


if __name__ == "__main__":
    main()
