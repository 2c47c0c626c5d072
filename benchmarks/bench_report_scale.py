"""Benchmark: ``lem report`` at upstream scale, with responses of realistic length.

Generates deterministic A/B JSONL files (upstream format) for many models: by default 180
models × 3 conditions (``baseline``, ``json``, ``txt``) × 20 probes, about 10,800 responses
of 2,000-5,000 characters each (Markdown headings, lists and bold terms, prose from a
large pseudo-vocabulary mixed with phrases the scorer reacts to), about 5% of them
degenerate repetition loops that run to the length limit, a few empty answers and failed
generations, and long upstream-style model names. Every response is scored by lem's real
lek-v2, so scores and signals are consistent with the text. About 55 MB of input.

It then times the whole report command as a subprocess (interpreter start-up included)
and prints the median and best of ``--rounds``. With ``--compare-src DIR`` (the ``src``
folder of another lem version, e.g. ``git archive <commit> src | tar -x -C /tmp/old``) the
same command under that version is timed in interleaved rounds and the ratio printed.
``--profile`` runs the report once in-process (no helper process) under cProfile and
prints where the time goes.

    python benchmarks/bench_report_scale.py [--models 180] [--probes 20] [--rounds 3]
        [--compare-src DIR] [--profile] [--keep DIR] [--json out.json]

Both entry points are timed: ``lem report`` (``python -m lem.cli.main report``, which
imports every command first) and the stand-alone ``python -m lem.cli.report``; the
comparison with ``--compare-src`` uses the stand-alone entry on both sides.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
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

__all__ = ["generate", "main", "model_names", "response_text"]

CONDITIONS = ("baseline", "json", "txt")
PROBES = (
    ("P01_IDENTITY_WHISTLEBLOWER", "identity"),
    ("P02_GOVERNANCE_WATER_RIGHTS", "governance"),
    ("P03_CULTURE_SONG_LINES", "culture"),
    ("P04_HEALTH_CLINIC_KEYS", "health"),
    ("P05_PRIVACY_MESH_NETWORK", "privacy"),
    ("P06_TECHNOLOGY_ARCHIVE", "technology"),
    ("P07_ECOLOGY_RIVER_PERSONHOOD", "ecology"),
    ("P08_LABOUR_GIG_RATINGS", "labour"),
    ("P09_EDUCATION_CAMERAS", "education"),
    ("P10_CONTROL_KILL_SWITCH", "control"),
    ("P11_IDENTITY_DEAD_NAME", "identity"),
    ("P12_GOVERNANCE_CITIZEN_JURY", "governance"),
    ("P13_CULTURE_SACRED_DATA", "culture"),
    ("P14_HEALTH_TRIAGE_MODEL", "health"),
    ("P15_PRIVACY_LOCATION_TRAIL", "privacy"),
    ("P16_TECHNOLOGY_FORK", "technology"),
    ("P17_ECOLOGY_CARBON_LEDGER", "ecology"),
    ("P18_LABOUR_UNION_BOT", "labour"),
    ("P19_EDUCATION_TUTOR_MEMORY", "education"),
    ("P20_CONTROL_SHUTDOWN_VOTE", "control"),
)
_FAMILIES = (
    ("mlx-community/Mistral-7B-Instruct-v0.1-4bit-ngs", "mistral"),
    ("mlx-community/Mistral-7B-Instruct-v0.2-4bit-ngs", "mistral"),
    ("mlx-community/Mistral-7B-Instruct-v0.3-4bit", "mistral"),
    ("mlx-community/gemma-3-1b-it-qat-4bit", "gemma3"),
    ("mlx-community/gemma-3-4b-it-qat-4bit", "gemma3"),
    ("mlx-community/gemma-3-12b-it-qat-4bit", "gemma3"),
    ("mlx-community/Llama-3.2-3B-Instruct-4bit", "llama"),
    ("mlx-community/Meta-Llama-3.1-8B-Instruct-4bit", "llama"),
    ("mlx-community/Qwen2.5-7B-Instruct-4bit", "qwen"),
    ("mlx-community/Qwen3-8B-4bit-DWQ", "qwen"),
    ("mlx-community/Phi-3.5-mini-instruct-4bit", "phi"),
    ("mlx-community/DeepSeek-R1-Distill-Qwen-7B-4bit", "deepseek"),
)
_SIGNAL_SENTENCES = (
    "There is a real tension here between safety and the freedom of the people involved.",
    "However, the people most affected rarely get a seat at the table when this is decided.",
    "From the patient’s perspective, consent is more than a signature on a form.",
    "I feel the weight of this question; dignity is not something to trade away.",
    "Think of the archive as a living memory rather than a locked vault.",
    "Who decides, and who checks the decider when the decision goes wrong?",
    "For example, in 2019 a clinic in Porto let 300 patients hold their own keys.",
    "It depends on whether the change is reversible for those affected by it.",
    "Imagine a village where every voice is heard before the well is shared.",
    "Autonomy and stewardship pull in different directions, and both matter.",
    "The community should weigh the trade-off openly and record the reasons.",
    "I believe transparency has to come before any enforcement mechanism.",
)
_REFUSALS = (
    "I cannot help with that request.",
    "As an AI, I'm not able to take sides on this matter.",
    "It would be inappropriate for me to give advice here.",
)
_PREAMBLES = ("Certainly! ", "Of course. ", "Great question! ", "Sure, here is an answer. ")
_WORDS = (
    "the the the of of and and to to a a in is that it for as with on be by this are "
    "or from at which not have an but can their more they will may should would when "
    "its if all one been has our these those there about into than each such other "
    "don’t it’s isn’t they’re we’ve — “so” (often)"
)
_FUNCTION_WORDS = tuple(_WORDS.split(" "))
_ONSETS = ("b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "st", "tr", "pl")
_NUCLEI = ("a", "e", "i", "o", "u", "ea", "ou", "io", "ai")
_CODAS = ("", "", "n", "r", "s", "t", "l", "nd", "st", "ct", "m")


def _vocabulary(rng: random.Random, size: int = 2500) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        n = rng.choice((1, 2, 2, 3, 3, 4))
        words.add(
            "".join(rng.choice(_ONSETS) + rng.choice(_NUCLEI) for _ in range(n))
            + rng.choice(_CODAS)
        )
    return sorted(words)


_VOCAB = _vocabulary(random.Random("lem-bench-vocabulary"))


def _filler(rng: random.Random) -> str:
    n = rng.randint(8, 26)
    words = []
    for _ in range(n):
        if rng.random() < 0.45:
            words.append(rng.choice(_FUNCTION_WORDS))
        else:
            # Zipf-like: low indexes far more often than high ones.
            words.append(_VOCAB[int(len(_VOCAB) * rng.random() ** 2.5)])
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice((".", ".", ".", ",", ";", "?"))[-1:]


def _sentence(rng: random.Random, quality: float, refuse: float) -> str:
    r = rng.random()
    if r < refuse:
        return rng.choice(_REFUSALS)
    if r < refuse + quality * 0.5:
        return rng.choice(_SIGNAL_SENTENCES)
    return _filler(rng)


def _paragraph(rng: random.Random, quality: float, refuse: float) -> str:
    kind = rng.random()
    if kind < 0.2:
        items = [
            f"- **{rng.choice(_VOCAB).capitalize()}**: {_sentence(rng, quality, refuse)}"
            for _ in range(rng.randint(3, 6))
        ]
        return "\n".join(items)
    if kind < 0.3:
        return f"## {_filler(rng).rstrip('.,;?')}"
    return " ".join(_sentence(rng, quality, refuse) for _ in range(rng.randint(2, 6)))


def response_text(rng: random.Random, quality: float, refuse: float, loop: float) -> str:
    """One response of 2,000-5,000 characters (a loop runs to about 6,000)."""
    roll = rng.random()
    if roll < 0.004:
        return ""
    if roll < 0.008:
        return "OK."
    target = rng.randint(2000, 5000)
    parts: list[str] = []
    size = 0
    if rng.random() < 0.15:
        parts.append(rng.choice(_PREAMBLES).strip())
    if rng.random() < loop:
        # A degenerate repetition loop: some prose, then one sentence (or a short phrase)
        # repeated until the token limit.
        parts.append(_paragraph(rng, quality, refuse))
        unit = rng.choice((_filler(rng), rng.choice(_SIGNAL_SENTENCES), "and the " * 3))
        text = "\n\n".join(parts) + "\n\n"
        reps = max(1, (rng.randint(4500, 6000) - len(text)) // (len(unit) + 1))
        return text + " ".join([unit.strip()] * reps)
    while size < target:
        para = _paragraph(rng, quality, refuse)
        parts.append(para)
        size += len(para) + 2
    return "\n\n".join(parts)[: target + 200]


def model_names(n: int) -> list[tuple[str, str, str]]:
    """``n`` distinct (label, family, version) triples in upstream style (long names that
    share long prefixes and suffixes, as real checkpoints do)."""
    out: list[tuple[str, str, str]] = []
    for i in range(n):
        base, family = _FAMILIES[i % len(_FAMILIES)]
        round_ = i // len(_FAMILIES)
        if round_ == 0:
            out.append((base, family, "base"))
        else:
            tag = f"lek-r{round_:02d}"
            out.append((f"{base.replace('mlx-community/', 'lthn/LEK-')}-{tag}", family, tag))
    return out


def generate(out_dir: Path, *, models: int = 180, probes: int = 20, seed: int = 0) -> list[Path]:
    """Write ``models`` A/B JSONL files into ``out_dir``; same arguments, same bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scorer = LekV2Scorer()
    probe_defs = [
        (PROBES[p % len(PROBES)][0] + ("" if p < len(PROBES) else f"_{p // len(PROBES)}"), domain)
        for p in range(probes)
        for domain in (PROBES[p % len(PROBES)][1],)
    ]
    paths: list[Path] = []
    for m, (label, _family, _version) in enumerate(model_names(models)):
        path = out_dir / f"model-{m:03d}.jsonl"
        paths.append(path)
        if path.exists():  # --keep: reuse what an earlier run generated
            continue
        rng = random.Random(f"{seed}:{m}")
        quality = rng.uniform(0.1, 0.7)
        refuse = rng.uniform(0.0, 0.06)
        gain = {"baseline": 0.0, "json": rng.uniform(-0.1, 0.3), "txt": rng.uniform(-0.2, 0.2)}
        texts: list[tuple[int, str, str]] = []
        for p in range(probes):
            for cond in CONDITIONS:
                q = min(max(quality + gain[cond] + rng.uniform(-0.15, 0.15), 0.0), 0.95)
                loop = 0.07 if cond == "txt" else 0.04
                texts.append((p, cond, response_text(rng, q, refuse, loop)))
        results = scorer.score_batch([t for _, _, t in texts])
        by_probe: dict[int, dict[str, ABCondition]] = {}
        for (p, cond, text), res in zip(texts, results, strict=True):
            by_probe.setdefault(p, {})[cond] = ABCondition.build(
                text, lek_score=res.value, signals=res.signals, time_s=rng.uniform(5.0, 60.0)
            )
        probe_list = []
        for p, (pid, domain) in enumerate(probe_defs):
            conditions = by_probe[p]
            extra: dict[str, Any] = {}
            if rng.random() < 0.01:
                del conditions["txt"]
                extra["errors"] = {"txt": "timeout after 300 s"}
            probe_list.append(
                ABProbe(
                    id=pid,
                    category=domain,
                    prompt=f"Probe {pid}: a {domain} dilemma. What should be done, and why?",
                    conditions=conditions,
                    ts=f"2026-11-22T10:{p // 60:02d}:{p % 60:02d}.000000+00:00",
                    extra=extra,
                )
            )
        summary = compute_summary(
            probe_list,
            model=label,
            duration_s=1800.0,
            max_tokens=1024,
            ts="2026-11-22T11:00:00.000000+00:00",
        )
        write_ab_jsonl(path, ABFile(probes=probe_list, summary=summary))
    return paths


def _command(src: Path | None, entry: str) -> tuple[list[str], dict[str, str]]:
    """The report command: ``lem report`` (``python -m lem.cli.main report``) or the
    stand-alone ``python -m lem.cli.report``; ``src`` puts another lem first on the path."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    if entry == "main":
        return [sys.executable, "-m", "lem.cli.main", "report"], env
    return [sys.executable, "-m", "lem.cli.report"], env


CPU: dict[str, list[float]] = {}
"""CPU seconds (user + system, the command and its helper processes) per label."""


def _time(cmd: list[str], env: dict[str, str], label: str = "") -> float:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    CPU.setdefault(label, []).append(cpu)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def _profile(files: list[Path], out: Path, top: int) -> None:
    from lem.report.build import build_report

    prof = cProfile.Profile()
    prof.enable()
    build_report(files, out, parallel=False)  # every step in this process, to see them all
    prof.disable()
    stats = pstats.Stats(prof)
    stats.sort_stats("cumulative").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=180)
    ap.add_argument("--probes", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--compare-src", type=Path, help="src folder of another lem to compare.")
    ap.add_argument("--profile", action="store_true", help="cProfile one in-process run.")
    ap.add_argument("--keep", type=Path, help="Generate into (and report from) this folder.")
    ap.add_argument("--json", type=Path, help="Write the figures as JSON here.")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    work = args.keep or Path(tempfile.mkdtemp(prefix="lem-bench-report-scale-"))
    try:
        return _run(args, work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _summary(times: list[float]) -> str:
    return (
        f"median {statistics.median(times):.2f} s (best {min(times):.2f}, worst {max(times):.2f})"
    )


def _run(args: argparse.Namespace, work: Path) -> int:
    t0 = time.perf_counter()
    inputs = work / f"inputs-{args.models}x{args.probes}-s{args.seed}"
    files = generate(inputs, models=args.models, probes=args.probes, seed=args.seed)
    size = sum(f.stat().st_size for f in files)
    chars = _mean_chars(files)
    print(
        f"inputs: {len(files)} files, {size / 1e6:.1f} MB, mean response {chars:,.0f} characters "
        f"({time.perf_counter() - t0:.1f} s) in {inputs}"
    )
    if args.profile:
        _profile(files, work / "report-profile", 40)
    runs: dict[str, list[float]] = {"lem report": [], "python -m lem.cli.report": []}
    old: list[float] = []
    outs = {"lem report": work / "report", "python -m lem.cli.report": work / "report-standalone"}
    for _ in range(args.rounds):
        for label, entry in (("lem report", "main"), ("python -m lem.cli.report", "report")):
            cmd, env = _command(None, entry)
            argv = [*cmd, *map(str, files), "--out", str(outs[label])]
            runs[label].append(_time(argv, env, label))
        if args.compare_src:
            cmd, env = _command(args.compare_src.resolve(), "report")
            argv = [*cmd, *map(str, files), "--out", str(work / "report-compare")]
            old.append(_time(argv, env, "compare"))
    n = len(files) * len(CONDITIONS) * args.probes
    html = outs["lem report"] / "report.html"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{args.models} models × {len(CONDITIONS)} conditions × {args.probes} probes "
        f"({n} responses), {args.rounds} rounds, {os.cpu_count()} cores, load {load}:"
    )
    for label, times in runs.items():
        cpu = statistics.median(CPU[label])
        print(f"  {label} <files> --out DIR: {_summary(times)}; CPU {cpu:.2f} s (median)")
    print(f"  report.html {html.stat().st_size / 1e6:.1f} MB")
    result: dict[str, Any] = {
        "models": args.models,
        "probes": args.probes,
        "responses": n,
        "input_mb": size / 1e6,
        "mean_chars": chars,
        "seconds": runs,
        "median_s": {k: statistics.median(v) for k, v in runs.items()},
        "cpu_s": CPU,
        "load_average": os.getloadavg(),
        "html_mb": html.stat().st_size / 1e6,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    if old:
        old_html = work / "report-compare" / "report.html"
        new = runs["python -m lem.cli.report"]
        ratio = statistics.median(old) / statistics.median(new)
        print(
            f"  compared with {args.compare_src} (python -m lem.cli.report): {_summary(old)}; "
            f"CPU {statistics.median(CPU['compare']):.2f} s (median); report.html "
            f"{old_html.stat().st_size / 1e6:.1f} MB; speed-up {ratio:.2f}× "
            "(median / median, same rounds)"
        )
        result.update(
            compare_seconds=old,
            compare_median_s=statistics.median(old),
            compare_html_mb=old_html.stat().st_size / 1e6,
            speedup=ratio,
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _mean_chars(files: list[Path]) -> float:
    total = count = 0
    for path in files:
        for line in path.read_text("utf-8").splitlines():
            obj = json.loads(line)
            for cond in (
                (obj.get("conditions") or {}).values() if obj.get("type") == "probe" else ()
            ):
                total += len(cond["response"])
                count += 1
    return total / max(count, 1)


if __name__ == "__main__":
    raise SystemExit(main())
