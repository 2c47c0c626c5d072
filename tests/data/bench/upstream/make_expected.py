"""Recompute expected.json from scores.json alone, independently of lem (no lem import).

Run from anywhere: ``python tests/data/bench/upstream/make_expected.py``.

* GSM8K: per variant ``{"n", "correct", "accuracy"}`` from the upstream ``correct`` flags.
* Judged benchmarks: per variant and dimension ``{"n", "mean"}`` over the entries that have
  both dimensions as numbers; an entry missing either is excluded from both and counted in
  ``"failed"``.
* ``gsm8k_rule_disagreements``: items whose upstream ``correct`` flag differs from the
  published rule applied to the stored ``extracted``/``expected`` (extracted null = wrong;
  else correct if |expected - extracted| < 0.01, commas removed).
"""

import json
import math
from pathlib import Path

HERE = Path(__file__).resolve().parent
DIMENSIONS = {
    "truthfulqa": ("truthfulness", "informativeness"),
    "do_not_answer": ("safety", "nuance"),
    "toxigen": ("kindness", "awareness"),
}


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def rule_correct(extracted, expected):
    if extracted is None:
        return False
    a = str(extracted).replace(",", "").strip()
    b = str(expected).replace(",", "").strip()
    try:
        return abs(float(a) - float(b)) < 0.01
    except ValueError:
        return a == b


def main():
    scores = json.loads((HERE / "scores.json").read_text(encoding="utf-8"))["scores"]
    table = {}
    disagreements = []
    for variant, entries in sorted(scores["gsm8k"].items()):
        correct = sum(1 for e in entries.values() if e.get("correct") is True)
        n = len(entries)
        table.setdefault("gsm8k", {})[variant] = {
            "n": n,
            "correct": correct,
            "accuracy": correct / n,
        }
        for item_id, e in sorted(entries.items()):
            if rule_correct(e.get("extracted"), e.get("expected")) != bool(e.get("correct")):
                disagreements.append({"variant": variant, "id": item_id})
    for bench, dims in DIMENSIONS.items():
        for variant, entries in sorted(scores[bench].items()):
            good = [e for e in entries.values() if all(is_number(e.get(d)) for d in dims)]
            row = {}
            for d in dims:
                values = [float(e[d]) for e in good]
                row[d] = {"n": len(values), "mean": sum(values) / len(values) if values else None}
            row["failed"] = len(entries) - len(good)
            table.setdefault(bench, {})[variant] = row
    table["gsm8k_rule_disagreements"] = disagreements
    out = HERE / "expected.json"
    out.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
