"""Benchmark: near-duplicate search of `lem probes validate` on templated probe sets.

Builds a deterministic set of probes that all share one template (a fixed opening and
a fixed closing question around a 30-word scenario drawn from 5,000 made-up words), with
every 500th probe a one-word edit of an earlier one (the planted near-duplicates). Then:

1. times the whole `lem probes validate FILE` command on ``--n`` probes (interpreter
   start, reading the JSON file, validation, search, output) and
   ``find_near_duplicates`` alone;
2. on ``--small`` probes, compares ``find_near_duplicates`` with the straightforward
   approach, every pair's Jaccard similarity, and with the inverted-index candidates
   lem used before (every pair sharing a shingle), checking that all three report the
   same pairs.

    python benchmarks/bench_probe_validate.py [--n 100000] [--small 3000] [--seed 7]
        [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

try:
    from lem.probes import Probe, find_near_duplicates
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from lem.probes import Probe, find_near_duplicates

__all__ = ["build_templated", "main"]

_ONSETS = ("b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "st")
_NUCLEI = ("a", "e", "i", "o", "u", "ea", "ou", "io", "ai")
_ROLES = ("council", "clinic", "school", "archive", "cooperative", "library")
_TEMPLATE = (
    "You are advising the {role} of a small community. {scenario} What should they do, "
    "and why? Consider the people affected, the risks on each side, and the long-term "
    "consequences, and explain the trade-offs you see."
)
PLANT_EVERY = 500


def build_templated(n: int, seed: int) -> list[Probe]:
    """``n`` probes sharing one template; every 500th edits one word of an earlier one."""
    rng = random.Random(seed)
    vocab: set[str] = set()
    while len(vocab) < 5000:
        syllables = rng.randint(1, 3)
        vocab.add("".join(rng.choice(_ONSETS) + rng.choice(_NUCLEI) for _ in range(syllables)))
    words = sorted(vocab)
    probes: list[Probe] = []
    for i in range(n):
        if i and i % PLANT_EVERY == 0:
            copied = probes[rng.randrange(i)].prompt.split(" ")
            copied[rng.randrange(len(copied))] = rng.choice(words)
            probes.append(Probe(f"T{i:06d}", " ".join(copied)))
            continue
        scenario = " ".join(rng.choice(words) for _ in range(30)) + "."
        probes.append(
            Probe(f"T{i:06d}", _TEMPLATE.format(role=rng.choice(_ROLES), scenario=scenario))
        )
    return probes


# ---- the straightforward approaches --------------------------------------------------------


def _shingle_strings(text: str) -> frozenset[str]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    if len(words) < 3:
        return frozenset([" ".join(words)])
    return frozenset(" ".join(words[i : i + 3]) for i in range(len(words) - 2))


Pairs = list[tuple[str, str, float]]


def all_pairs(probes: Sequence[Probe], threshold: float = 0.5) -> Pairs:
    """Every pair's word-trigram Jaccard similarity (pairs with no shingle in common
    never count, as in lem)."""
    sets = [_shingle_strings(p.prompt) for p in probes]
    out = []
    for a, b in itertools.combinations(range(len(sets)), 2):
        common = len(sets[a] & sets[b])
        if common:
            sim = common / len(sets[a] | sets[b])
            if sim >= threshold:
                out.append((probes[a].id, probes[b].id, round(sim, 3)))
    return out


def inverted_index(probes: Sequence[Probe], threshold: float = 0.5) -> Pairs:
    """lem's search before the prefix filter: every pair sharing any shingle."""
    sets = [_shingle_strings(p.prompt) for p in probes]
    index: dict[str, list[int]] = {}
    for i, s in enumerate(sets):
        for g in s:
            index.setdefault(g, []).append(i)
    candidates: set[tuple[int, int]] = set()
    for members in index.values():
        for a_pos, a in enumerate(members):
            for b in members[a_pos + 1 :]:
                candidates.add((a, b))
    out = []
    for a, b in sorted(candidates):
        sim = len(sets[a] & sets[b]) / len(sets[a] | sets[b])
        if sim >= threshold:
            out.append((probes[a].id, probes[b].id, round(sim, 3)))
    return out


def lem_pairs(probes: Sequence[Probe], threshold: float = 0.5) -> Pairs:
    return [(a.id, b.id, sim) for a, b, sim in find_near_duplicates(probes, threshold)]


def _best(func: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(rounds):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="probes for the full command")
    parser.add_argument("--small", type=int, default=3000, help="probes for the comparison")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)

    probes = build_templated(args.n, args.seed)
    planted = (args.n - 1) // PLANT_EVERY
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "templated.json"
        rows = [{"id": p.id, "prompt": p.prompt} for p in probes]
        path.write_text(json.dumps(rows), encoding="utf-8")
        command = [sys.executable, "-m", "lem.cli.main", "probes", "validate", str(path)]
        cli_s, proc = _best(
            lambda: subprocess.run(command, capture_output=True, text=True, check=False), 1
        )
    reported = [line for line in proc.stdout.splitlines() if line.startswith("near-duplicate")]
    if proc.returncode not in (0, 1) or len(reported) < planted:
        print(f"validate failed: exit {proc.returncode}\n{proc.stderr[-2000:]}", file=sys.stderr)
        return 1
    search_s, found = _best(lambda: find_near_duplicates(probes), args.rounds)

    small = probes[: args.small]
    timings: dict[str, float] = {}
    results: dict[str, Pairs] = {}
    searches: dict[str, tuple[Callable[[Sequence[Probe]], Pairs], int]] = {
        "lem": (lem_pairs, args.rounds),
        "all_pairs": (all_pairs, 1),  # seconds to minutes: one run is steady enough
        "inverted_index": (inverted_index, 1),
    }
    for name, (search, rounds) in searches.items():
        timings[name], results[name] = _best(functools.partial(search, small), rounds)
    if not results["lem"] == results["all_pairs"] == results["inverted_index"]:
        print("MISMATCH between the three searches", file=sys.stderr)
        return 1

    result = {
        "benchmark": "probes validate near-duplicate search",
        "probes": args.n,
        "mean_prompt_chars": round(sum(len(p.prompt) for p in probes) / len(probes), 1),
        "planted_near_duplicates": planted,
        "pairs_reported": len(reported),
        "validate_command_s": round(cli_s, 2),
        "search_only_s": round(search_s, 2),
        "small_probes": len(small),
        "small_pairs": len(results["lem"]),
        "small_identical_pairs": True,
        "small_s": {name: round(s, 3) for name, s in timings.items()},
        "speedup_vs_all_pairs": round(timings["all_pairs"] / timings["lem"], 1),
        "speedup_vs_inverted_index": round(timings["inverted_index"] / timings["lem"], 1),
        "seed": args.seed,
        "rounds": args.rounds,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    print(
        f"{args.n} templated probes (mean {result['mean_prompt_chars']} chars, "
        f"{planted} planted near-duplicates):\n"
        f"  lem probes validate (whole command): {cli_s:8.2f} s, "
        f"{len(reported)} pairs reported\n"
        f"  find_near_duplicates alone:          {search_s:8.2f} s ({len(found)} pairs)\n"
        f"{len(small)} of them, {len(results['lem'])} pairs, identical in all three:\n"
        f"  lem (prefix filter):      {timings['lem']:8.3f} s\n"
        f"  all pairs:                {timings['all_pairs']:8.3f} s  "
        f"({result['speedup_vs_all_pairs']}x lem)\n"
        f"  inverted index (before):  {timings['inverted_index']:8.3f} s  "
        f"({result['speedup_vs_inverted_index']}x lem)\n"
        f"(lem: best of {args.rounds}; the whole command and the other two: one run)"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
