"""Benchmark: lek-v2 against lek-v3 throughput on the same deterministic responses.

Uses the corpus of benchmarks/bench_lek_v2.py (seeded, 50-3000 characters: paragraphs,
questions, markdown, refusals, repetition). lek-v3 reads the kernel text of each response's
condition, so every other response is scored with the bundled text kernel as context, as
in an A/B run with one kernel condition. Reports responses per second for each scorer
(best of several interleaved rounds) and the v3/v2 ratio, plus the mean score of each on
the corpus.

    python benchmarks/bench_scorers.py [--n 10000] [--seed 1234] [--rounds 5] [--json out.json]
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    from lem.scoring.base import ScoreContext, Scorer, get_scorer
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from lem.scoring.base import ScoreContext, Scorer, get_scorer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lek_v2 import best_time, build_corpus, corpus_args

__all__ = ["main"]

_KERNEL = Path(__file__).resolve().parents[1] / "src" / "lem" / "data" / "kernels" / "lek.txt"


def _contexts(n: int) -> list[ScoreContext]:
    kernel = _KERNEL.read_text(encoding="utf-8")
    return [
        ScoreContext(condition="baseline")
        if i % 2 == 0
        else ScoreContext(kernel_text=kernel, condition="system:lek")
        for i in range(n)
    ]


def _runner(scorer: Scorer, contexts: list[ScoreContext]) -> Callable[[list[str]], Any]:
    def run(texts: list[str]) -> list[float]:
        return [scorer.score(t, context=c).value for t, c in zip(texts, contexts, strict=True)]

    return run


def main(argv: list[str] | None = None) -> int:
    args = corpus_args(__doc__, argv)

    texts = build_corpus(args.n, args.seed)
    contexts = _contexts(len(texts))
    scorers = {name: get_scorer(name) for name in ("lek-v2", "lek-v3")}
    funcs = {name: _runner(scorer, contexts) for name, scorer in scorers.items()}
    means = {name: sum(func(texts)) / len(texts) for name, func in funcs.items()}
    times = best_time(funcs, texts, args.rounds)
    rate = {name: len(texts) / seconds for name, seconds in times.items()}
    ratio = rate["lek-v3"] / rate["lek-v2"]
    result = {
        "benchmark": "lek-v2 vs lek-v3 scoring",
        "responses": len(texts),
        "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
        "seed": args.seed,
        "rounds": args.rounds,
        "kernel_contexts": sum(1 for c in contexts if c.kernel_text is not None),
        "lek_v2_responses_per_s": round(rate["lek-v2"], 1),
        "lek_v3_responses_per_s": round(rate["lek-v3"], 1),
        "ratio_v3_over_v2": round(ratio, 2),
        "mean_score": {name: round(m, 2) for name, m in means.items()},
        "definition_hash": {name: s.definition_hash() for name, s in scorers.items()},
        "best_s": {name: round(seconds, 4) for name, seconds in times.items()},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    print(
        f"{len(texts)} responses, mean {result['mean_chars']} chars, "
        f"{result['kernel_contexts']} scored with a kernel context\n"
        f"lek-v2: {rate['lek-v2']:9.1f} responses/s  (mean score {means['lek-v2']:.2f})\n"
        f"lek-v3: {rate['lek-v3']:9.1f} responses/s  (mean score {means['lek-v3']:.2f})\n"
        f"ratio v3/v2: {ratio:.2f}  (best of {args.rounds} interleaved rounds)"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
