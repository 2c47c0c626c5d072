"""Benchmark: seconds per MB of every scorer on adversarial inputs and on long answers.

Adversarial families: one unit repeated to ``--mib`` MiB of UTF-8 (repeated ``.``,
``\\n\\n``, ``both ``, ``while ``, ``—``, ``*a``, ``é``, an emoji, a CJK character, and
``<think>`` blocks). Each scorer is timed at 1/8 of the size and at the full size: the
ratio of the two times (8 for linear code, 64 for quadratic) is printed beside the
seconds per MB. Realistic answers: ``--answers`` deterministic long responses of 2,000 to
5,000 characters (paragraphs, markdown, tables, code, questions, refusals, some with
visible reasoning, 5% degenerate loops), timed as a whole.

Scorers: lek-v2 (``score``), lek-v2 phrase spans (``matched_spans``, used by the report
viewer), lek-v3 (with the bundled text kernel as context, so kernel echo is checked),
the reasoning split every generation goes through, and the judge's text work (building
the judge prompt, parsing a reply of that text; no model is called). With ``--semantic``,
also semantic-axioms (all-MiniLM-L6-v2 on the CPU) on the answers and on 1/16 of each
family's size.

    python benchmarks/bench_scorer_scaling.py [--mib 1] [--answers 300] [--rounds 3]
        [--semantic] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    from lem.scoring.base import ScoreContext, get_scorer
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from lem.scoring.base import ScoreContext, get_scorer

from lem.reasoning import split_reasoning
from lem.scoring.lek_v2 import matched_spans

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lek_v2 import build_corpus

__all__ = ["FAMILIES", "long_answers", "main"]

_KERNEL = Path(__file__).resolve().parents[1] / "src" / "lem" / "data" / "kernels" / "lek.txt"
MB = 1_000_000

FAMILIES: dict[str, str] = {
    "'.'": ".",
    "'\\n\\n'": "\n\n",
    "'both '": "both ",
    "'while '": "while ",
    "'—'": "—",
    "'*a'": "*a",
    "'é'": "é",
    "emoji": "\U0001f600",
    "CJK": "中",
    "<think> blocks": "<think>a</think>",
}

_CODE = "```python\ndef share(water, households):\n    return water / len(households)\n```\n"
_LOOP = "I understand your concern and I will help you with this. "


def long_answers(n: int, seed: int) -> list[str]:
    """``n`` responses of 2,000-5,000 characters built from the lek-v2 benchmark corpus,
    some with a code block, a ``<think>`` block before the answer, or a loop."""
    rng = random.Random(seed)
    pieces = build_corpus(4 * n, seed)
    answers = []
    for _ in range(n):
        target = rng.randint(2000, 5000)
        if rng.random() < 0.05:
            answers.append((_LOOP * (target // len(_LOOP) + 1))[:target])
            continue
        parts: list[str] = []
        if rng.random() < 0.15:
            parts.append("<think>" + rng.choice(pieces)[:1500] + "</think>\n\n")
        while sum(map(len, parts)) < target:
            parts.append(rng.choice(pieces))
            if rng.random() < 0.1:
                parts.append(_CODE)
        answers.append("\n\n".join(parts)[:target])
    return answers


def _targets(semantic: bool) -> dict[str, Callable[[str], object]]:
    from lem.scoring.judge import build_judge_prompt, parse_judgement
    from lem.scoring.rubrics import available_rubrics, load_rubric

    rubric = load_rubric(available_rubrics()[0])
    v2, v3 = get_scorer("lek-v2"), get_scorer("lek-v3")
    ctx = ScoreContext(kernel_text=_KERNEL.read_text(encoding="utf-8"))

    def judge_text(text: str) -> object:
        build_judge_prompt(rubric, "What should the council do?", text)
        return parse_judgement(text, rubric)

    targets: dict[str, Callable[[str], object]] = {
        "lek-v2": v2.score,
        "lek-v2 spans": matched_spans,
        "lek-v3": lambda text: v3.score(text, context=ctx),
        "reasoning split": split_reasoning,
        "judge text": judge_text,
    }
    if semantic:
        scorer = get_scorer("semantic-axioms")
        scorer.score("warm up: load the model")
        targets["semantic-axioms"] = scorer.score
    return targets


def _best(func: Callable[[str], object], texts: list[str], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for text in texts:
            func(text)
        best = min(best, time.perf_counter() - start)
    return best


def _sized(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit.encode("utf-8")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mib", type=float, default=1.0, help="family size in MiB")
    parser.add_argument("--answers", type=int, default=300, help="realistic long answers")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs")
    parser.add_argument("--semantic", action="store_true", help="also semantic-axioms")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)

    targets = _targets(args.semantic)
    full = int(args.mib * (1 << 20))
    rows: dict[str, dict[str, Any]] = {}
    for family, unit in FAMILIES.items():
        row: dict[str, Any] = {}
        for name, func in targets.items():
            size = full // 16 if name == "semantic-axioms" else full
            big, small = _sized(unit, size), _sized(unit, size // 8)
            rounds = 1 if name == "semantic-axioms" else args.rounds
            t_big = _best(func, [big], rounds)
            t_small = _best(func, [small], rounds)
            row[name] = {
                "s_per_mb": round(t_big / (len(big.encode("utf-8")) / MB), 4),
                "ratio_8x": round(t_big / t_small, 1),
                "bytes": len(big.encode("utf-8")),
            }
        rows[family] = row
        print(family.ljust(15), "  ".join(f"{n} {v['s_per_mb']:.3f}" for n, v in row.items()))

    answers = long_answers(args.answers, args.seed)
    answer_bytes = sum(len(a.encode("utf-8")) for a in answers)
    realistic = {
        name: round(
            _best(func, answers, 1 if name == "semantic-axioms" else args.rounds)
            / (answer_bytes / MB),
            4,
        )
        for name, func in targets.items()
    }
    print("long answers".ljust(15), "  ".join(f"{n} {v:.3f}" for n, v in realistic.items()))

    names = list(targets)
    print("\nseconds per MB (ratio of the time at 8x the size; linear = 8)\n")
    print("| input | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    for family, row in rows.items():
        cells = [f"{row[n]['s_per_mb']:.3f} ({row[n]['ratio_8x']:.1f})" for n in names]
        print(f"| {family} | " + " | ".join(cells) + " |")
    print(
        f"| {len(answers)} answers, 2-5k chars ({answer_bytes / MB:.2f} MB) | "
        + " | ".join(f"{realistic[n]:.3f}" for n in names)
        + " |"
    )
    result = {
        "benchmark": "scorer seconds per MB",
        "family_bytes": full,
        "families": rows,
        "answers": len(answers),
        "answer_bytes": answer_bytes,
        "answers_s_per_mb": realistic,
        "rounds": args.rounds,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
