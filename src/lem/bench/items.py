"""Reading benchmark items from local files, in every layout they come in.

Supported: a JSON list, JSON Lines, CSV, Parquet, and a folder written by the Hugging Face
``datasets`` library's ``save_to_disk`` (a ``Dataset``, or a ``DatasetDict`` with one
folder per split; the Arrow files are read with pyarrow, so ``datasets`` itself is not
needed). Nothing is ever downloaded.

``--limit N`` draws N items with a seeded sample (kept in file order), and the selected
item set has a SHA-256 over its canonical JSON, recorded in every run manifest.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lem.bench.base import BenchItem, Benchmark, RowError
from lem.errors import InputError
from lem.jsonl import iter_json_lines

__all__ = ["ItemSet", "load_items", "read_rows"]


@dataclass(frozen=True)
class ItemSet:
    """The selected items of one benchmark file, with where they came from."""

    benchmark: str
    items: tuple[BenchItem, ...]
    source: str
    layout: str
    total: int
    limit: int | None = None
    seed: int = 0
    split: str | None = None

    def __len__(self) -> int:
        return len(self.items)

    def digest(self) -> str:
        """SHA-256 of the benchmark name and the selected items' canonical JSON."""
        blob = json.dumps(
            {"benchmark": self.benchmark, "items": [i.as_dict() for i in self.items]},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def manifest(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "source": self.source,
            "layout": self.layout,
            "split": self.split,
            "total": self.total,
            "count": len(self.items),
            "limit": self.limit,
            "seed": self.seed,
            "sha256": self.digest(),
        }


def read_rows(
    path: str | Path, *, split: str | None = None
) -> tuple[str, str | None, list[dict[str, Any]]]:
    """``(layout, split, rows)`` of an item file or ``save_to_disk`` folder."""
    p = Path(path)
    if p.is_dir():
        return _read_saved(p, split)
    if not p.is_file():
        raise InputError(
            f"benchmark items {p} not found; give a .json, .jsonl, .csv or .parquet file "
            "or a datasets save_to_disk folder"
        )
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        return "parquet", None, _read_parquet(p)
    if suffix == ".csv":
        return "csv", None, _read_csv(p)
    if suffix in (".json", ".jsonl"):
        return _read_json(p)
    raise InputError(
        f"benchmark items {p}: unknown file type {suffix or '(none)'}; use .json, .jsonl, "
        ".csv, .parquet or a datasets save_to_disk folder"
    )


def _read_json(p: Path) -> tuple[str, str | None, list[dict[str, Any]]]:
    text = p.read_text(encoding="utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"benchmark items {p}: malformed JSON at line {exc.lineno}") from None
        rows = [r for r in data if isinstance(r, dict)]
        if len(rows) != len(data):
            raise InputError(f"benchmark items {p}: every list entry must be an object")
        return "json", None, rows
    rows = []
    for lineno, obj in iter_json_lines(text.splitlines(), f"benchmark items {p}"):
        if not isinstance(obj, dict):
            raise InputError(f"benchmark items {p} line {lineno}: expected a JSON object")
        rows.append(obj)
    return "jsonl", None, rows


def _read_csv(p: Path) -> list[dict[str, Any]]:
    with p.open(encoding="utf-8-sig", newline="") as fh:
        return [dict(r) for r in csv.DictReader(fh)]


def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError:
        raise InputError(
            "reading Parquet or datasets folders needs pyarrow: pip install 'lem[bench]'"
        ) from None
    return pyarrow


def _read_parquet(p: Path) -> list[dict[str, Any]]:
    _pyarrow()
    import pyarrow.parquet as pq

    try:
        return list(pq.read_table(p).to_pylist())
    except Exception as exc:
        raise InputError(f"benchmark items {p}: not a readable Parquet file ({exc})") from None


def _read_saved(p: Path, split: str | None) -> tuple[str, str | None, list[dict[str, Any]]]:
    dict_file = p / "dataset_dict.json"
    if dict_file.is_file():
        splits = list(json.loads(dict_file.read_text(encoding="utf-8")).get("splits", []))
        chosen = split or (
            "test" if "test" in splits else (splits[0] if len(splits) == 1 else None)
        )
        if chosen is None or chosen not in splits:
            raise InputError(
                f"benchmark items {p}: choose a split with --split ({', '.join(splits)})"
            )
        return "datasets", chosen, _read_arrow_folder(p / chosen)
    if (p / "state.json").is_file():
        return "datasets", split, _read_arrow_folder(p)
    raise InputError(
        f"benchmark items {p} is a folder without dataset_dict.json or state.json; give an "
        "item file or a datasets save_to_disk folder"
    )


def _read_arrow_folder(p: Path) -> list[dict[str, Any]]:
    _pyarrow()
    import pyarrow as pa

    state_file = p / "state.json"
    if not state_file.is_file():
        raise InputError(f"benchmark items {p}: no state.json (not a datasets folder)")
    state = json.loads(state_file.read_text(encoding="utf-8"))
    rows: list[dict[str, Any]] = []
    for entry in state.get("_data_files", []):
        path = p / str(entry.get("filename", ""))
        try:
            with pa.memory_map(str(path)) as source:
                table = pa.ipc.open_stream(source).read_all()
        except Exception as exc:
            raise InputError(f"benchmark items {path}: not a readable Arrow file ({exc})") from None
        rows.extend(table.to_pylist())
    return rows


def _items(benchmark: Benchmark, rows: list[dict[str, Any]], where: str) -> Iterator[BenchItem]:
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        try:
            item = benchmark.item(row, index)
        except RowError as exc:
            raise InputError(f"{where} row {index + 1}: {exc}; fix or remove that row") from None
        if item.id in seen:
            raise InputError(
                f"{where} row {index + 1}: id {item.id!r} repeats row {seen[item.id] + 1}; ids "
                "must be unique"
            )
        seen[item.id] = index
        yield item


def load_items(
    path: str | Path,
    benchmark: Benchmark,
    *,
    limit: int | None = None,
    seed: int = 0,
    split: str | None = None,
    ids: list[str] | None = None,
) -> ItemSet:
    """The items of ``path`` read as ``benchmark``; ``ids`` keeps only those ids (an
    unknown id is an error), ``limit`` then draws that many with ``seed``."""
    layout, chosen, rows = read_rows(path, split=split)
    where = f"benchmark items {Path(path)}"
    if not rows:
        raise InputError(f"{where} has no rows")
    items = list(_items(benchmark, rows, where))
    total = len(items)
    if ids:
        by_id = {i.id: i for i in items}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise InputError(f"{where}: unknown item id(s) {', '.join(missing[:5])}")
        wanted = set(ids)
        items = [i for i in items if i.id in wanted]
    if limit is not None and limit < len(items):
        keep = sorted(random.Random(seed).sample(range(len(items)), limit))
        items = [items[k] for k in keep]
    return ItemSet(
        benchmark=benchmark.name,
        items=tuple(items),
        source=str(Path(path).name),
        layout=layout,
        total=total,
        limit=limit,
        seed=seed,
        split=chosen,
    )
