"""File formats lem reads and writes: upstream A/B results JSONL (more to come:
training JSONL, Parquet, adapters)."""

from __future__ import annotations

from lem.formats.ab_jsonl import (
    ABCondition,
    ABFile,
    ABProbe,
    ABSummary,
    compute_summary,
    format_probe_line,
    format_summary_line,
    iso_now,
    normalise_category,
    read_ab_jsonl,
    write_ab_jsonl,
)

__all__ = [
    "ABCondition",
    "ABFile",
    "ABProbe",
    "ABSummary",
    "compute_summary",
    "format_probe_line",
    "format_summary_line",
    "iso_now",
    "normalise_category",
    "read_ab_jsonl",
    "write_ab_jsonl",
]
