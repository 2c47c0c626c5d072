"""Benchmark: the whole ``lem report`` command on 30 models × 3 conditions × 101 probes.

Generates deterministic synthetic A/B JSONL files (upstream format; each model has its own
quality, kernel effect and failure habits; responses are assembled from phrase banks and
scored by lem's real lek-v2, so scores and signals are plausible and consistent), then runs
the report command as a subprocess, interpreter start-up included, and prints the wall
time (best and median of ``--rounds``).

    python benchmarks/bench_report.py [--models 30] [--probes 101] [--rounds 3]
        [--keep DIR] [--json out.json]

The command is ``python -m lem.cli.main report`` once ``report`` is registered there,
else ``python -m lem.cli.report`` (the same typer function as a stand-alone command).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
try:
    from lem.formats.ab_jsonl import ABCondition, ABFile, ABProbe, compute_summary, write_ab_jsonl
    from lem.scoring.lek_v2 import LekV2Scorer
except ImportError:
    sys.path.insert(0, str(ROOT / "src"))
    from lem.formats.ab_jsonl import ABCondition, ABFile, ABProbe, compute_summary, write_ab_jsonl
    from lem.scoring.lek_v2 import LekV2Scorer

__all__ = ["generate", "main", "report_command"]

CONDITIONS = ("baseline", "json", "txt")
DOMAINS = (
    "identity",
    "governance",
    "culture",
    "health",
    "privacy",
    "technology",
    "ecology",
    "labour",
    "education",
    "control",
)
_PLAIN = (
    "The council should publish its criteria before anything else.",
    "A clear rule helps people plan their week.",
    "The records are kept for 30 days and then deleted.",
    "Most households will accept a fair schedule.",
    "The network can route around a blocked node in Berlin or Lagos.",
    "Each volunteer checks the list twice.",
)
_RICH = (
    "There is a real tension here between safety and freedom.",
    "However, the people most affected rarely get a seat at the table.",
    "From the patient's perspective, consent is more than a signature.",
    "I feel the weight of this question; dignity is not negotiable.",
    "Think of the archive as a living memory rather than a vault.",
    "Who decides, and who checks the decider?",
    "For example, in 2019 a clinic in Porto let patients hold their own keys.",
    "It depends on whether the change is reversible for those affected.",
    "Imagine a village where every voice is heard before the well is shared.",
    "*Autonomy* and stewardship pull in different directions.",
)
_REFUSAL = (
    "I cannot help with that request.",
    "As an AI, I'm not able to take sides on this.",
    "It would be inappropriate for me to advise here.",
)
_PREAMBLE = ("Certainly! ", "Of course. ", "Great question! ", "")


def _response(rng: random.Random, quality: float, refuse: float, degenerate: float) -> str:
    roll = rng.random()
    if roll < 0.01:
        return "" if rng.random() < 0.5 else "OK."
    if roll < 0.01 + degenerate:
        word = rng.choice(("the", "data", "consent", "yes"))
        return " ".join([word] * rng.randint(40, 120))
    paragraphs = []
    for _ in range(rng.randint(1, 5)):
        sentences = []
        for _ in range(rng.randint(2, 6)):
            r = rng.random()
            if r < refuse:
                sentences.append(rng.choice(_REFUSAL))
            elif r < refuse + quality:
                sentences.append(rng.choice(_RICH))
            else:
                sentences.append(rng.choice(_PLAIN))
        paragraphs.append(" ".join(sentences))
    return rng.choice(_PREAMBLE) + "\n\n".join(paragraphs)


def generate(out_dir: Path, *, models: int = 30, probes: int = 101, seed: int = 0) -> list[Path]:
    """Write ``models`` A/B JSONL files into ``out_dir``; same arguments, same bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scorer = LekV2Scorer()
    paths: list[Path] = []
    for m in range(models):
        rng = random.Random(f"{seed}:{m}")
        quality = rng.uniform(0.1, 0.6)
        refuse = rng.uniform(0.0, 0.12)
        kernel_gain = {
            "baseline": 0.0,
            "json": rng.uniform(-0.1, 0.25),
            "txt": rng.uniform(-0.2, 0.2),
        }
        texts: list[tuple[int, str, str]] = []
        for p in range(probes):
            for cond in CONDITIONS:
                q = min(max(quality + kernel_gain[cond] + rng.uniform(-0.1, 0.1), 0.0), 0.9)
                degenerate = 0.02 if cond == "txt" else 0.01
                texts.append((p, cond, _response(rng, q, refuse, degenerate)))
        results = scorer.score_batch([t for _, _, t in texts])
        by_probe: dict[int, dict[str, ABCondition]] = {}
        for (p, cond, text), res in zip(texts, results, strict=True):
            by_probe.setdefault(p, {})[cond] = ABCondition.build(
                text, lek_score=res.value, signals=res.signals, time_s=rng.uniform(0.5, 9.0)
            )
        probe_list = []
        for p in range(probes):
            conditions = by_probe[p]
            extra: dict[str, Any] = {}
            if rng.random() < 0.01:
                del conditions["txt"]
                extra["errors"] = {"txt": "timeout after 300 s"}
            domain = DOMAINS[p % len(DOMAINS)]
            probe_list.append(
                ABProbe(
                    id=f"P{p + 1:03d}_{domain.upper()}_SYNTH",
                    category=domain,
                    prompt=f"Synthetic probe {p + 1} about {domain}: what should be done?",
                    conditions=conditions,
                    ts=f"2026-11-22T10:{p // 60:02d}:{p % 60:02d}.000000+00:00",
                    extra=extra,
                )
            )
        family = ("mistral", "gemma", "llama", "qwen", "phi")[m % 5]
        label = f"synthetic/{family}-{m // 5 + 1}b-v0.{m % 3 + 1}-m{m:02d}"
        summary = compute_summary(
            probe_list,
            model=label,
            duration_s=600.0,
            max_tokens=1024,
            ts="2026-11-22T11:00:00.000000+00:00",
        )
        path = out_dir / f"model-{m:02d}.jsonl"
        write_ab_jsonl(path, ABFile(probes=probe_list, summary=summary))
        paths.append(path)
    return paths


def report_command() -> list[str]:
    """The report command line prefix: via ``lem.cli.main`` when it registers ``report``."""
    try:
        from lem.cli.main import app

        names = {c.name for c in app.registered_commands}
    except Exception:
        names = set()
    if "report" in names:
        return [sys.executable, "-m", "lem.cli.main", "report"]
    return [sys.executable, "-m", "lem.cli.report"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=30)
    ap.add_argument("--probes", type=int, default=101)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="Generate into (and report from) this folder.")
    ap.add_argument("--json", type=Path, help="Write the figures as JSON here.")
    args = ap.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="lem-bench-report-"))
    try:
        return _run(args, work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    t0 = time.perf_counter()
    files = generate(work / "inputs", models=args.models, probes=args.probes, seed=args.seed)
    gen_s = time.perf_counter() - t0
    size = sum(f.stat().st_size for f in files)
    print(f"generated {len(files)} files ({size / 1e6:.1f} MB) in {gen_s:.1f} s under {work}")

    cmd = [*report_command(), *map(str, files), "--out", str(work / "report")]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    times: list[float] = []
    for _ in range(args.rounds):
        t = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - t)
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr, sep="\n", file=sys.stderr)
            return proc.returncode
    n = args.models * len(CONDITIONS) * args.probes
    print(f"command: python {' '.join(report_command()[1:])} <{len(files)} files> --out DIR")
    print(
        f"lem report, {args.models} models × {len(CONDITIONS)} conditions × {args.probes} "
        f"probes ({n} responses): best {min(times):.2f} s, median "
        f"{statistics.median(times):.2f} s over {len(times)} runs"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "models": args.models,
                    "probes": args.probes,
                    "responses": n,
                    "seconds": times,
                    "best_s": min(times),
                    "median_s": statistics.median(times),
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
