"""Merging run stores: ``lem data consolidate --from A --from B --into C``.

Work done on separate stores (a laptop's SQLite file, a GPU box's, a lab PostgreSQL) is
merged item by item. Items are content-addressed, so the same question asked of the same
model is one item whichever store answered it: it is copied once, and a finished answer
replaces an unfinished copy but never another finished one. Runs, their item links,
scores (per item, scorer and version), benchmark item sets, datasets and judge-cache
entries are copied when the target lacks them. Every row keeps its ids, so lineage
(dataset rows → item keys → runs) holds in the merged store.

An A/B JSONL file (upstream's or lem's) becomes a run of its own: one item per probe,
condition and sample, keyed by the file's model label, prompt, condition and sample, with
its answers done and its scores (``lek_score`` as lek-v2 when the file has no ``scores``
map); merging the same file again changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select, update

from lem.store.ledger import Store, insert_ignore, utc_now
from lem.store.schema import (
    bench_items,
    datasets,
    experiment_stages,
    items,
    judge_cache,
    run_items,
    runs,
    scores,
)

__all__ = ["consolidate"]

_TABLES: tuple[Table, ...] = (
    runs,
    items,
    run_items,
    scores,
    bench_items,
    datasets,
    experiment_stages,
    judge_cache,
)
_CHUNK = 500


def _rows(store: Store, table: Table) -> Iterable[list[dict[str, Any]]]:
    with store.engine.connect() as conn:
        result = conn.execute(select(table)).mappings()
        batch: list[dict[str, Any]] = []
        for row in result:
            batch.append(dict(row))
            if len(batch) >= _CHUNK:
                yield batch
                batch = []
        if batch:
            yield batch


def _ab_store_rows(
    path: Path,
) -> tuple[dict[str, Any], list[Any], dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """An A/B JSONL file as a run: manifest, planned items, done values and score rows.
    Items are keyed by the file's model label, prompt, condition and sample, so the same
    file merged twice (or from two places) is one set of items."""
    import hashlib
    import json

    from lem.backends.base import prompt_hash
    from lem.formats.ab_jsonl import read_ab_jsonl
    from lem.responses import read_ab_file
    from lem.store.ledger import ItemPlan

    ab = read_ab_jsonl(path)
    responses = read_ab_file(ab, path)
    label = str(getattr(ab.summary, "model", "") or path.stem)

    def sha(obj: Any) -> str:
        blob = json.dumps(obj, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    file_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    model_key = sha({"ab-file-model": label})
    run_id = sha({"ab-file": file_sha})[:16]
    plan, done, score_rows = [], {}, []
    for pos, r in enumerate(responses):
        key = sha(
            {"model": model_key, "prompt": r.prompt, "condition": r.condition, "sample": r.sample}
        )
        messages = json.dumps([{"role": "user", "content": r.prompt}], ensure_ascii=False)
        plan.append(
            ItemPlan(
                key=key,
                model_key=model_key,
                messages=messages,
                rendered_hash=prompt_hash(r.prompt),
                system_fallback=False,
                sampling="{}",
                sample_index=r.sample,
                seed=0,
                position=pos,
                probe_id=r.probe_id,
                category=r.category,
                prompt=r.prompt,
                condition=r.condition,
            )
        )
        if r.status == "done":
            done[key] = {
                "text": r.answer,
                "answer": r.answer,
                "reasoning": r.reasoning or "",
                "time_s": r.time_s,
            }
        for sid, sc in r.scores.items():
            score_rows.append(
                {
                    "item_key": key,
                    "scorer": sid,
                    "version": sc.version or "file",
                    "definition_hash": sc.definition_hash or "file",
                    "value": sc.value,
                    "signals": json.dumps(dict(sc.signals)),
                    "status": "ok" if sc.ok else "failed",
                    "reason": sc.reason,
                }
            )
    conditions = list(dict.fromkeys(r.condition for r in responses))
    manifest = {
        "run_id": run_id,
        "model_spec": f"ab-file:{label}",
        "model": {"ab_file": label},
        "model_key": model_key,
        "imported": {"file": path.name, "sha256": file_sha, "format": "ab-jsonl"},
        "conditions": [{"name": c, "kernels": []} for c in conditions],
        "samples": 1,
        "items": len(plan),
    }
    return manifest, plan, done, score_rows


def _import_ab(target: Store, path: Path, counts: dict[str, dict[str, int]]) -> None:
    manifest, plan, done, score_rows = _ab_store_rows(path)
    existed = target.open_run(
        manifest["run_id"], name=path.stem, config={"ab_file": path.name}, manifest=manifest
    )
    counts["runs"]["skipped" if existed else "copied"] += 1
    new = target.add_plan(manifest["run_id"], plan)
    counts["items"]["copied"] += new
    counts["items"]["skipped"] += len(plan) - new
    counts["items"]["completed"] += target.record_imported(done)
    before = len(score_rows)
    with target.engine.begin() as conn:
        n = insert_ignore(conn, scores, [{**r, "created_at": utc_now()} for r in score_rows])
    counts["scores"]["copied"] += n
    counts["scores"]["skipped"] += before - n
    target.finish_run(
        manifest["run_id"], status="done", extra={"invocation_s": 0.0, "remaining": 0}
    )


def consolidate(sources: list[str], into: str) -> dict[str, dict[str, int]]:
    """Copy every source store (or A/B JSONL file, as a run of its own) into ``into``
    (created if missing); returns per table the rows copied and the duplicates skipped,
    plus unfinished items completed from a source."""
    counts: dict[str, dict[str, int]] = {t.name: {"copied": 0, "skipped": 0} for t in _TABLES}
    counts["items"]["completed"] = 0
    target = Store(into)
    try:
        for src in sources:
            if src.endswith(".jsonl") and Path(src).is_file():
                _import_ab(target, Path(src), counts)
                continue
            source = Store(src, create=False)
            try:
                for table in _TABLES:
                    for batch in _rows(source, table):
                        with target.engine.begin() as conn:
                            n = insert_ignore(conn, table, batch)
                            counts[table.name]["copied"] += n
                            counts[table.name]["skipped"] += len(batch) - n
                            if table is items and n < len(batch):
                                counts["items"]["completed"] += _complete(conn, batch)
            finally:
                source.close()
    finally:
        target.close()
    return counts


def _complete(conn: Any, batch: list[dict[str, Any]]) -> int:
    """Finished source items replace unfinished target copies (never finished ones)."""
    done = 0
    for row in batch:
        if row["status"] != "done":
            continue
        res = conn.execute(
            update(items)
            .where(items.c.key == row["key"], items.c.status != "done")
            .values({k: v for k, v in row.items() if k != "key"})
        )
        done += int(res.rowcount or 0)
    return done
