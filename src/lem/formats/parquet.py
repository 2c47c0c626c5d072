"""A lem dataset folder as Parquet: one file per split, chat columns plus provenance.

Columns (one row per chat example, in split order):

``prompt``, ``response``, ``system``
    the first user turn, the last assistant turn and the system message (``""`` if none);
``messages``
    the full message list as a JSON string (what chat trainers read);
``model``, ``condition``, ``scorer``, ``scorer_version``, ``score``, ``generation_id``,
``run_id``, ``probe_id``, ``domain``, ``source``
    where the example came from, from the dataset's ``lineage.jsonl`` (``generation_id``
    is the stored item key; null when the lineage has none, e.g. converted conversations,
    whose ``source`` is the file and line);
``dataset_id``
    the dataset's content hash, on every row.

Files are zstd-compressed with row groups of ``row_group_size`` rows, so a reader can
stream a large split group by group; the Arrow schema metadata carries the dataset id
and lem's version. ``datasets.load_dataset("parquet", data_files=...)`` reads them.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from lem.errors import InputError

__all__ = ["PARQUET_COLUMNS", "export_parquet"]

PARQUET_COLUMNS: tuple[str, ...] = (
    "prompt",
    "response",
    "system",
    "messages",
    "model",
    "condition",
    "scorer",
    "scorer_version",
    "score",
    "generation_id",
    "run_id",
    "probe_id",
    "domain",
    "source",
    "dataset_id",
)
_SPLITS = ("train", "valid", "test")


def _schema() -> Any:
    import pyarrow as pa

    text = pa.string()
    types = {name: text for name in PARQUET_COLUMNS}
    types["score"] = pa.float64()
    return pa.schema([(name, types[name]) for name in PARQUET_COLUMNS])


def _row(
    messages: list[dict[str, str]], lineage: dict[str, Any], dataset_id: str
) -> dict[str, Any]:
    system = "\n\n".join(m["content"] for m in messages if m.get("role") == "system")
    user = next((m["content"] for m in messages if m.get("role") == "user"), "")
    answer = next((m["content"] for m in reversed(messages) if m.get("role") == "assistant"), "")
    raw_scorer = lineage.get("scorer")
    scorer: dict[str, Any] = raw_scorer if isinstance(raw_scorer, dict) else {}
    source = lineage.get("source")
    if source is not None and lineage.get("line") is not None:
        source = f"{source}:{lineage['line']}"
    score = lineage.get("score")
    return {
        "prompt": user,
        "response": answer,
        "system": system,
        "messages": json.dumps(messages, ensure_ascii=False),
        "model": lineage.get("model"),
        "condition": lineage.get("condition"),
        "scorer": scorer.get("id"),
        "scorer_version": scorer.get("version"),
        "score": float(score) if isinstance(score, int | float) else None,
        "generation_id": lineage.get("item_key"),
        "run_id": lineage.get("run_id"),
        "probe_id": lineage.get("probe_id"),
        "domain": lineage.get("domain"),
        "source": None if source is None else str(source),
        "dataset_id": dataset_id,
    }


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def export_parquet(
    dataset: str | Path, out: str | Path, *, row_group_size: int = 1000
) -> dict[str, Any]:
    """Write ``dataset``'s splits as ``{split}.parquet`` files in ``out``; returns rows per
    split and the dataset id. Each file is written to a temporary name and renamed, so a
    reader never sees half a file."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("Parquet export needs pyarrow: pip install 'lem[bench]'") from None
    from lem import __version__
    from lem.distill.dataset import read_manifest

    if row_group_size < 1:
        raise InputError(f"--row-group-size must be at least 1, got {row_group_size}")
    folder = Path(dataset)
    manifest = read_manifest(folder)
    dataset_id = str(manifest["dataset_id"])
    lineage = _read_jsonl(folder / "lineage.jsonl")
    by_place = {(r.get("split"), int(r.get("row", -1))): r for r in lineage}
    dest = Path(out)
    dest.mkdir(parents=True, exist_ok=True)
    schema = _schema().with_metadata(
        {"lem.dataset_id": dataset_id, "lem.version": __version__, "lem.format": "lem-parquet/1"}
    )
    counts: dict[str, int] = {}
    for split in _SPLITS:
        rows = []
        for i, example in enumerate(_read_jsonl(folder / f"{split}.jsonl")):
            messages = example.get("messages")
            if not isinstance(messages, list):
                raise InputError(f"{folder / (split + '.jsonl')} line {i + 1}: no messages list")
            rows.append(_row(messages, by_place.get((split, i), {}), dataset_id))
        table = pa.Table.from_pylist(rows, schema=schema)
        fd, tmp = tempfile.mkstemp(prefix=f".{split}.", suffix=".parquet", dir=dest)
        os.close(fd)
        try:
            pq.write_table(table, tmp, compression="zstd", row_group_size=row_group_size)
            os.replace(tmp, dest / f"{split}.parquet")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        counts[split] = len(rows)
    return {"dataset_id": dataset_id, "rows": counts, "out": str(dest)}
