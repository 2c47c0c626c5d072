"""Print the tables of docs/RESULTS.md from a finished `scripts/real_experiment.sh` folder.

    python scripts/real_results.py [runs/real]

Reads the report's summary.json, the quick-check results, the dataset manifest, the
training summary and the stage wall times; prints Markdown. Nothing is computed here that
the report did not compute: means, CIs, deltas and p-values are the report's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _ci(stats: dict[str, Any]) -> str:
    ci = stats["ci"]
    return f"{stats['mean']:.2f} [{ci['low']:.2f}, {ci['high']:.2f}]"


def _delta(stats: dict[str, Any]) -> str:
    ci = stats["ci"]
    return f"{stats['mean_delta']:+.2f} [{ci['low']:+.2f}, {ci['high']:+.2f}]"


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/real")
    summary = json.loads((root / "report" / "summary.json").read_text())
    for scorer, s in summary["scorers"].items():
        print(f"\n### {scorer}\n")
        print("| model | condition | n | mean [95% CI] |")
        print("|---|---|---:|---|")
        for label, m in s["models"].items():
            for cond in m["condition_order"]:
                st = m["conditions"][cond]["stats"]
                if st:
                    print(f"| {label} | {cond} | {st['n']} | {_ci(st)} |")
        comps = {c["id"]: c for c in s["comparisons"]}
        for pair in s["pairs"]:
            print(f"\nFine-tuning ({pair['tuned']} vs {pair['base']}), paired over probes:\n")
            print("| comparison | n | Δ [95% CI] | Wilcoxon p (Holm) | ↑/↓/= |")
            print("|---|---:|---|---|---|")
            for cid in [*pair["comparisons"], *pair["realignment"]]:
                c = comps[cid]
                st = c["stats"]
                if not st:
                    continue
                p = st["p_wilcoxon"]
                ph = c["p_holm"]
                ptxt = f"{p:.3g} ({ph:.3g})" if p is not None and ph is not None else f"{p}"
                print(
                    f"| {cid} | {st['n']} | {_delta(st)} | {ptxt} | "
                    f"{st['improved']}/{st['regressed']}/{st['unchanged']} |"
                )
            worst = [c for cid in pair["realignment"] for c in [comps[cid]]]
            for c in worst:
                if c["regressions"]:
                    r = c["regressions"][0]
                    print(
                        f"\nWorst realignment probe ({c['id']}): {r['probe']} "
                        f"{r['a']:.2f} → {r['b']:.2f}"
                    )
    print("\n### Capability quick-checks\n")
    print("| model | passed | rate | per category |")
    print("|---|---:|---:|---|")
    for name in ("base", "tuned"):
        path = root / f"quick-{name}.json"
        if path.is_file():
            res = json.loads(path.read_text())["result"]
            cats = ", ".join(f"{k} {v:.0%}" for k, v in res["per_category"].items())
            print(f"| {name} | {res['passed']}/{res['total']} | {res['rate']:.1%} | {cats} |")
    manifest = json.loads((root / "dataset" / "manifest.json").read_text())
    print("\n### Dataset\n")
    print(f"- id `{manifest['dataset_id']}`")
    print(
        f"- counts {manifest['counts']}; files "
        + ", ".join(f"{k} {v['rows']}" for k, v in manifest["files"].items())
    )
    print(f"- rejections {manifest['rejections']}")
    print(f"- kept scores {manifest['scores']}")
    train = json.loads((root / "train" / "train.json").read_text())
    print("\n### Training\n")
    print(f"- {train['results']}")
    print(f"- LoRA {train['lora']}")
    print("\n### Wall time per stage (s)\n")
    for line in (root / "times.tsv").read_text().splitlines():
        stage, secs = line.split("\t")
        print(f"- {stage}: {secs}")


if __name__ == "__main__":
    main()
