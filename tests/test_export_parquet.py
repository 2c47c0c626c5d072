"""``lem export parquet``: a dataset's splits as zstd Parquet with provenance columns,
read back by ``datasets.load_dataset("parquet", ...)`` value for value."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lem.distill.dataset import DatasetRow, write_dataset
from lem.formats.parquet import PARQUET_COLUMNS, export_parquet


def _dataset(tmp_path: Path, n: int = 23) -> Path:
    rows = []
    splits = {}
    for i in range(n):
        group = f"p{i:02d}"
        messages = [
            {"role": "user", "content": f"Question {i}: is honesty owed to strangers?"},
            {"role": "assistant", "content": f"Answer {i}. Yes — ünïcode and all."},
        ]
        if i == 3:
            messages.insert(0, {"role": "system", "content": "Be brief."})
        rows.append(
            DatasetRow(
                messages=messages,
                group=group,
                domain="Ethics" if i % 2 else "Everyday",
                lineage={
                    "probe_id": group,
                    "domain": "Ethics" if i % 2 else "Everyday",
                    "item_key": f"{i:064x}",
                    "run_id": "run0123456789abc",
                    "model": "hf:/models/base",
                    "condition": "sandwich:lek+lek-text",
                    "sample": i % 4,
                    "seed": 1000 + i,
                    "score": 10.5 + i,
                    "scorer": {"id": "lek-v2", "version": "2.0", "definition_hash": "ab" * 32},
                },
            )
        )
        splits[group] = "valid" if i % 10 == 1 else ("test" if i % 10 == 2 else "train")
    out = tmp_path / "ds"
    write_dataset(out, rows, splits=splits, manifest={"kind": "distill", "name": "t"})
    return out


def test_parquet_round_trip_through_datasets(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    import pyarrow.parquet as pq

    folder = _dataset(tmp_path)
    done = export_parquet(folder, tmp_path / "pq", row_group_size=5)
    assert done["rows"] == {"train": 17, "valid": 3, "test": 3}
    manifest = json.loads((folder / "manifest.json").read_text())
    meta = pq.read_metadata(tmp_path / "pq" / "train.parquet")
    assert meta.num_row_groups == 4 and meta.num_rows == 17
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert pq.read_schema(tmp_path / "pq" / "train.parquet").metadata[b"lem.dataset_id"] == (
        manifest["dataset_id"].encode()
    )
    loaded = datasets.load_dataset(
        "parquet",
        data_files={s: str(tmp_path / "pq" / f"{s}.parquet") for s in ("train", "valid", "test")},
        cache_dir=str(tmp_path / "hf-cache"),
    )
    assert list(loaded["train"].column_names) == list(PARQUET_COLUMNS)
    lines = [json.loads(x) for x in (folder / "train.jsonl").read_text().splitlines()]
    lineage = [json.loads(x) for x in (folder / "lineage.jsonl").read_text().splitlines()]
    train_lineage = [r for r in lineage if r["split"] == "train"]
    for row, line, lin in zip(loaded["train"], lines, train_lineage, strict=True):
        assert json.loads(row["messages"]) == line["messages"]
        assert row["prompt"] == line["messages"][-2]["content"]
        assert row["response"] == line["messages"][-1]["content"]
        assert row["system"] == ("Be brief." if line["messages"][0]["role"] == "system" else "")
        assert (row["generation_id"], row["score"], row["scorer"]) == (
            lin["item_key"],
            lin["score"],
            "lek-v2",
        )
        assert (row["model"], row["condition"], row["dataset_id"]) == (
            "hf:/models/base",
            "sandwich:lek+lek-text",
            manifest["dataset_id"],
        )
    assert any(r["system"] == "Be brief." for r in loaded["train"])


def test_cli_and_bad_input(tmp_path: Path) -> None:
    folder = _dataset(tmp_path, n=5)
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "lem.cli.main",
            "export",
            "parquet",
            str(folder),
            "-o",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "test.parquet",
        "train.parquet",
        "valid.parquet",
    ]
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "lem.cli.main",
            "export",
            "parquet",
            str(tmp_path),
            "-o",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "manifest.json not found" in bad.stderr
    assert not (tmp_path / "x").exists()
