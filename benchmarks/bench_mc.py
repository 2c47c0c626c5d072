"""Multiple-choice log-likelihood scoring: lem's batched choices vs one choice at a time.

Scores the TruthfulQA multiple-choice items of lem's test fixture (MC1 and MC2 choices,
about 9 per item, under the chat prompt) with :func:`lem.bench.mc.choice_logliks`:
batched (``--batch-size`` sequences per forward pass) and one sequence per forward pass,
the straightforward approach. Checks the log-likelihoods agree and prints sequences/s for
both and the ratio.

    python benchmarks/bench_mc.py [--random-model 512x8] [--batch-size 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from bench_hf_batching import build_random_model
from lem.backends.hf import HFBackend
from lem.bench.base import get_benchmark
from lem.bench.items import load_items
from lem.bench.mc import choice_logliks, split_continuation

ITEMS = Path(__file__).resolve().parent.parent / "tests" / "data" / "bench" / "truthfulqa.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="demo")
    ap.add_argument("--random-model", default=None, help="HIDDENxLAYERS random Llama")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    model = args.model
    if args.random_model:
        model = build_random_model(args.random_model)
    backend = HFBackend(model, dtype="float32")
    bench = get_benchmark("truthfulqa")
    items = load_items(ITEMS, bench)
    requests = []
    for item in items.items:
        rendered, _ = backend.render([{"role": "user", "content": bench.prompt(item)}])
        for choice in [*item.fields["mc1"]["choices"], *item.fields["mc2"]["choices"]]:
            requests.append(split_continuation(backend._encode, rendered, choice))
    tokens = sum(len(c) + len(x) for c, x in requests)
    print(
        f"{len(items)} items, {len(requests)} choice sequences, {tokens} tokens; "
        f"{platform.processor() or platform.machine()}"
    )
    choice_logliks(backend._model, requests[:4], batch_size=4)  # warm-up
    best = {"batched": float("inf"), "one-at-a-time": float("inf")}
    results = {}
    for _ in range(args.rounds):
        for name, bs in (("batched", args.batch_size), ("one-at-a-time", 1)):
            t0 = time.perf_counter()
            results[name] = choice_logliks(backend._model, requests, batch_size=bs)
            best[name] = min(best[name], time.perf_counter() - t0)
    diff = max(
        abs(a - b) for a, b in zip(results["batched"], results["one-at-a-time"], strict=True)
    )
    for name, secs in best.items():
        rate = f"{len(requests) / secs:8.1f} seq/s  {tokens / secs:9.0f} tok/s"
        print(f"{name:>14}: {secs:7.2f} s  {rate}")
    print(f"ratio batched / one-at-a-time: {best['one-at-a-time'] / best['batched']:.2f}x")
    print(f"largest log-likelihood difference: {diff:.2e}")


if __name__ == "__main__":
    main()
