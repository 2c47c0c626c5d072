"""``lem bench import``: upstream benchmark results (and their per-item scores) into the
store, so ``lem bench report`` recomputes the upstream table from upstream data and lem's
own scoring can be checked against it item by item.

Inputs (the upstream layouts):

* a folder of result files ``{benchmark}_{variant}.jsonl`` (e.g. ``gsm8k_lem_ethics.jsonl``),
  one line per item: ``{id, benchmark, model, prompt, response, elapsed_seconds}`` where
  ``model`` is the variant;
* optionally the per-item score file, one JSON object ``{"scores": {benchmark: {variant:
  {item_id: ...}}}}``; a GSM8K entry is ``{correct, extracted, expected}``, a judged entry
  its two dimensions as 0-10 numbers plus ``reasoning``.

Each (benchmark, variant) becomes a run whose one condition is ``baseline`` (upstream
recorded no condition), tagged with the benchmark, the variant and an item set built from
the result lines (GSM8K's expected answers from the score file, or from ``--items``).
Upstream scores are stored as scorers ``upstream-gsm8k`` and ``upstream-judge`` (version
``upstream``); an entry without its numbers is a failed score, never a default.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lem.backends.base import prompt_hash
from lem.bench.base import BenchItem, Benchmark, available_benchmarks, get_benchmark
from lem.bench.items import ItemSet, load_items
from lem.bench.run import TAG_BENCH, TAG_ITEMS, TAG_SOURCE, TAG_STYLE
from lem.errors import InputError
from lem.jsonl import iter_json_lines
from lem.store import Store
from lem.store.ledger import ItemPlan

__all__ = [
    "IMPORT_CONDITION",
    "TAG_VARIANT",
    "UPSTREAM_GSM8K",
    "UPSTREAM_JUDGE",
    "ImportOutcome",
    "import_upstream",
]

UPSTREAM_GSM8K = "upstream-gsm8k"
UPSTREAM_JUDGE = "upstream-judge"
IMPORT_CONDITION = "baseline"
TAG_VARIANT = "variant"
_VERSION = "upstream"
_FIELDS = ("id", "benchmark", "model", "prompt", "response")


@dataclass
class ImportOutcome:
    """What an import did: one entry per (benchmark, variant) run."""

    runs: list[dict[str, Any]] = field(default_factory=list)


def _sha(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _split_name(stem: str) -> tuple[str, str] | None:
    for name in sorted(available_benchmarks(), key=len, reverse=True):
        if stem.startswith(name + "_") and len(stem) > len(name) + 1:
            return name, stem[len(name) + 1 :]
    return None


def _read_results(path: Path, benchmark: str, variant: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    for lineno, obj in iter_json_lines(lines, str(path)):
        where = f"{path} line {lineno}"
        if not isinstance(obj, dict):
            raise InputError(f"{where}: expected a JSON object")
        missing = [k for k in _FIELDS if k not in obj]
        if missing:
            raise InputError(f"{where}: missing field {missing[0]!r}")
        if str(obj["benchmark"]) != benchmark or str(obj["model"]) != variant:
            raise InputError(
                f"{where}: benchmark/model {obj['benchmark']!r}/{obj['model']!r} does not "
                f"match the file name ({benchmark}_{variant}.jsonl)"
            )
        item_id = str(obj["id"])
        if item_id in seen:
            raise InputError(f"{where}: id {item_id!r} repeats an earlier line")
        seen.add(item_id)
        rows.append(obj)
    if not rows:
        raise InputError(f"{path} has no result lines")
    return rows


def _read_scores(path: Path | None) -> Mapping[str, Any]:
    if path is None:
        return {}
    if not path.is_file():
        raise InputError(f"--scores {path} not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise InputError(f"--scores {path}: malformed JSON at line {exc.lineno}") from None
    if not isinstance(data, dict) or not isinstance(data.get("scores"), dict):
        raise InputError(f'--scores {path}: expected one object {{"scores": {{benchmark: ...}}}}')
    return data["scores"]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _gsm8k_score(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("correct"), bool):
        return {
            "value": None,
            "signals": {},
            "status": "failed",
            "reason": "no 'correct' in the upstream entry",
        }
    signals: dict[str, Any] = {"correct": int(entry["correct"])}
    extracted = _number(entry.get("extracted"))
    if extracted is not None:
        signals["extracted"] = extracted
    return {"value": float(entry["correct"]), "signals": signals, "status": "ok", "reason": None}


def _judge_score(entry: Any, dimensions: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(entry, dict):
        return {"value": None, "signals": {}, "status": "failed", "reason": "not an object"}
    values = {d: _number(entry.get(d)) for d in dimensions}
    missing = [d for d, v in values.items() if v is None]
    if missing:
        return {
            "value": None,
            "signals": {},
            "status": "failed",
            "reason": f"upstream entry has no number for {', '.join(missing)}",
        }
    nums = {d: float(v) for d, v in values.items() if v is not None}
    reason = entry.get("reasoning")
    return {
        "value": sum(nums.values()) / len(nums),
        "signals": nums,
        "status": "ok",
        "reason": str(reason) if reason else None,
    }


def _item_set(
    benchmark: Benchmark,
    rows: list[dict[str, Any]],
    scores: Mapping[str, Any],
    reference: ItemSet | None,
    source: str,
) -> ItemSet:
    known = {i.id: i for i in reference.items} if reference is not None else {}
    items = []
    for r in rows:
        item_id = str(r["id"])
        if item_id in known:
            items.append(known[item_id])
            continue
        fields: dict[str, Any] = {}
        entry = scores.get(item_id)
        if (
            benchmark.name == "gsm8k"
            and isinstance(entry, dict)
            and entry.get("expected") is not None
        ):
            fields["expected"] = str(entry["expected"]).replace(",", "").strip()
        items.append(BenchItem(item_id, str(r["prompt"]), fields))
    return ItemSet(benchmark.name, tuple(items), source, "upstream-results", len(items))


def import_upstream(
    folder: str | Path,
    db: str,
    *,
    scores: str | Path | None = None,
    items: Mapping[str, str] | None = None,
) -> ImportOutcome:
    """Import every ``{benchmark}_{variant}.jsonl`` of ``folder`` (see the module doc);
    ``items`` maps a benchmark to its item file for reference fields. Re-importing the
    same files changes nothing."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder of upstream result files")
    files = sorted(root.glob("*.jsonl"))
    parsed = []
    for f in files:
        split = _split_name(f.stem)
        if split is None:
            raise InputError(
                f"{f.name}: not named {{benchmark}}_{{variant}}.jsonl with a benchmark of "
                f"{', '.join(available_benchmarks())}; move it out of {root}"
            )
        parsed.append((f, *split))
    if not parsed:
        raise InputError(f"{root} has no {{benchmark}}_{{variant}}.jsonl result files")
    all_scores = _read_scores(Path(scores) if scores is not None else None)
    references: dict[str, ItemSet] = {}
    for name, path in (items or {}).items():
        references[name] = load_items(path, get_benchmark(name))
    loaded = [(f, b, v, _read_results(f, b, v)) for f, b, v in parsed]
    outcome = ImportOutcome()
    store = Store(db)
    try:
        for f, bench_name, variant, rows in loaded:
            outcome.runs.append(
                _import_one(
                    store, f, get_benchmark(bench_name), variant, rows, all_scores, references
                )
            )
    finally:
        store.close()
    return outcome


def _import_one(
    store: Store,
    path: Path,
    benchmark: Benchmark,
    variant: str,
    rows: list[dict[str, Any]],
    all_scores: Mapping[str, Any],
    references: Mapping[str, ItemSet],
) -> dict[str, Any]:
    scores = (all_scores.get(benchmark.name) or {}).get(variant) or {}
    item_set = _item_set(benchmark, rows, scores, references.get(benchmark.name), path.name)
    sha = item_set.digest()
    store.put_bench_items(sha, benchmark.name, [i.as_dict() for i in item_set.items])
    file_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    model_key = _sha({"imported": variant})
    run_id = _sha({"imported": variant, "benchmark": benchmark.name, "file": file_sha})[:16]
    plan = []
    done: dict[str, dict[str, Any]] = {}
    for position, r in enumerate(rows):
        prompt = str(r["prompt"])
        key = _sha(
            {
                "model": model_key,
                "benchmark": benchmark.name,
                "id": str(r["id"]),
                "prompt": prompt_hash(prompt),
            }
        )
        messages = json.dumps([{"role": "user", "content": prompt}], ensure_ascii=False)
        item = next(i for i in item_set.items if i.id == str(r["id"]))
        plan.append(
            ItemPlan(
                key=key,
                model_key=model_key,
                messages=messages,
                rendered_hash=prompt_hash(prompt),
                system_fallback=False,
                sampling="{}",
                sample_index=0,
                seed=0,
                position=position,
                probe_id=str(r["id"]),
                category=(item.group or benchmark.name).lower(),
                prompt=prompt,
                condition=IMPORT_CONDITION,
            )
        )
        response = "" if r["response"] is None else str(r["response"])
        elapsed = _number(r.get("elapsed_seconds"))
        done[key] = {
            "text": response,
            "answer": response,
            "reasoning": "",
            "time_s": elapsed,
            "extra": json.dumps({"imported_from": path.name}),
        }
    score_rows = []
    definition = {
        UPSTREAM_GSM8K: _sha({"source": "upstream score file", "benchmark": "gsm8k"}),
        UPSTREAM_JUDGE: _sha(
            {"source": "upstream score file", "dimensions": list(benchmark.dimensions)}
        ),
    }
    if scores:
        scorer = UPSTREAM_GSM8K if benchmark.name == "gsm8k" else UPSTREAM_JUDGE
        for p in plan:
            entry = scores.get(p.probe_id)
            if entry is None:
                continue
            row = (
                _gsm8k_score(entry)
                if scorer == UPSTREAM_GSM8K
                else _judge_score(entry, benchmark.dimensions)
            )
            score_rows.append(
                {
                    "item_key": p.key,
                    "scorer": scorer,
                    "version": _VERSION,
                    "definition_hash": definition[scorer],
                    "value": row["value"],
                    "signals": json.dumps(row["signals"]),
                    "status": row["status"],
                    "reason": row["reason"],
                }
            )
    manifest = {
        "run_id": run_id,
        "model_spec": f"imported:{variant}",
        "model": {"imported": variant},
        "model_key": model_key,
        "imported": {"file": path.name, "sha256": file_sha, "lines": len(rows)},
        "probes": {
            "source": path.name,
            "sha256": sha,
            "count": len(rows),
            "ids": [p.probe_id for p in plan],
        },
        "conditions": [{"name": IMPORT_CONDITION, "kernels": []}],
        "samples": 1,
        "scorers": [
            {"id": s, "version": _VERSION, "definition_hash": definition[s]}
            for s in sorted({r["scorer"] for r in score_rows})
        ],
        "tags": {
            TAG_BENCH: benchmark.name,
            TAG_ITEMS: sha,
            TAG_STYLE: "upstream",
            TAG_SOURCE: path.name,
            TAG_VARIANT: variant,
        },
        "items": len(plan),
    }
    resumed = store.open_run(
        run_id, name=variant, config={"imported": path.name}, manifest=manifest
    )
    store.add_plan(run_id, plan)
    written = store.record_imported(done)
    store.add_scores(score_rows)
    store.finish_run(run_id, status="done", extra={"invocation_s": 0.0, "remaining": 0})
    return {
        "run_id": run_id,
        "benchmark": benchmark.name,
        "variant": variant,
        "items": len(plan),
        "new": written,
        "scores": len(score_rows),
        "already_imported": resumed,
    }
