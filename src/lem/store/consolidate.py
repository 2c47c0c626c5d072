"""Merging run stores: ``lem data consolidate --from A --from B --into C``.

Work done on separate stores (a laptop's SQLite file, a GPU box's, a lab PostgreSQL) is
merged item by item. Items are content-addressed, so the same question asked of the same
model is one item whichever store answered it: it is copied once, and a finished answer
replaces an unfinished copy but never another finished one. Runs, their item links,
scores (per item, scorer and version), benchmark item sets, datasets and judge-cache
entries are copied when the target lacks them. Every row keeps its ids, so lineage
(dataset rows → item keys → runs) holds in the merged store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, select, update

from lem.store.ledger import Store, insert_ignore
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


def consolidate(sources: list[str], into: str) -> dict[str, dict[str, int]]:
    """Copy every source store into ``into`` (created if missing); returns per table the
    rows copied and the duplicates skipped, plus unfinished items completed from a source."""
    counts: dict[str, dict[str, int]] = {t.name: {"copied": 0, "skipped": 0} for t in _TABLES}
    counts["items"]["completed"] = 0
    target = Store(into)
    try:
        for src in sources:
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
