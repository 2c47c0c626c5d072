"""Training datasets on disk: chat JSONL splits, per-row lineage and a manifest.

A dataset folder holds

``train.jsonl``, ``valid.jsonl``, ``test.jsonl``
    one chat example per line, ``{"messages": [{"role": "user", "content": PROMPT},
    {"role": "assistant", "content": ANSWER}]}`` (the format mlx-lm and lem train read).
    Distilled rows hold the bare prompt: never the kernel the answer was generated under.
``lineage.jsonl``
    one line per example, in split then row order: ``split``, ``row``, the prompt's
    ``probe_id`` and ``domain``, and where the answer came from (``item_key``, ``run_id``,
    ``model``, ``condition``, ``sample``, ``seed``, ``score`` and the scorer's ``id``,
    ``version`` and ``definition_hash``), or for converted conversations the source file
    and line.
``manifest.json``
    the dataset id (its content hash), the settings that made it, counts per split and
    domain, the score distribution, rejections by reason and the contamination check.

The dataset id is the SHA-256 of the three split files' SHA-256 digests (train, valid,
test), so the same examples in the same splits always have the same id. Splits are by
prompt (all answers to one prompt land in one split), seeded and stratified by domain
(largest remainder across domains, so small domains still give valid and test rows).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lem.errors import InputError

__all__ = [
    "DATASET_FORMAT",
    "SPLITS",
    "DatasetRow",
    "WrittenDataset",
    "read_manifest",
    "score_summary",
    "split_prompts",
    "write_dataset",
]

DATASET_FORMAT = "lem-dataset/1"
SPLITS: tuple[str, ...] = ("train", "valid", "test")


@dataclass(frozen=True)
class DatasetRow:
    """One chat example and where it came from."""

    messages: list[dict[str, str]]
    group: str
    domain: str
    lineage: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WrittenDataset:
    """What :func:`write_dataset` wrote."""

    dataset_id: str
    path: Path
    manifest: dict[str, Any]
    created: bool


def _allocate(sizes: dict[str, int], fraction: float, room: dict[str, int]) -> dict[str, int]:
    """``round(total × fraction)`` rows spread over the domains by largest remainder of
    ``size × fraction`` (ties by domain name), never more than a domain's ``room``."""
    total = sum(sizes.values())
    target = round(total * fraction)
    quota = {d: sizes[d] * fraction for d in sizes}
    out = {d: min(int(quota[d]), room[d]) for d in sizes}
    order = sorted(sizes, key=lambda d: (-(quota[d] - int(quota[d])), d))
    left = target - sum(out.values())
    while left > 0:
        moved = False
        for d in order:
            if left and out[d] < room[d]:
                out[d] += 1
                left -= 1
                moved = True
        if not moved:
            break
    return out


def split_prompts(
    groups: Mapping[str, str], *, valid_fraction: float, test_fraction: float, seed: int
) -> dict[str, str]:
    """Assign each prompt (``group id → domain``) to a split.

    Over all domains with more than one prompt, ``round(n × test_fraction)`` prompts go to
    test and ``round(n × valid_fraction)`` to valid, spread over the domains by the largest
    remainder of each domain's share, so small domains still contribute; every such domain
    keeps at least one training prompt, and a domain with one prompt trains. Within a
    domain the prompts, in id order, are shuffled with a generator seeded by ``seed`` and
    the domain: test first, then valid, then train."""
    by_domain: dict[str, list[str]] = {}
    for gid, dom in groups.items():
        by_domain.setdefault(dom, []).append(gid)
    sizes = {d: len(ids) for d, ids in by_domain.items() if len(ids) > 1}
    room = {d: n - 1 for d, n in sizes.items()}
    n_test = _allocate(sizes, test_fraction, room)
    room = {d: room[d] - n_test[d] for d in sizes}
    n_valid = _allocate(sizes, valid_fraction, room)
    out: dict[str, str] = {}
    for dom in sorted(by_domain):
        ids = sorted(by_domain[dom])
        random.Random(f"{seed}:{dom}").shuffle(ids)
        t, v = n_test.get(dom, 0), n_valid.get(dom, 0)
        for i, gid in enumerate(ids):
            out[gid] = "test" if i < t else "valid" if i < t + v else "train"
    return out


def score_summary(values: Sequence[float]) -> dict[str, Any]:
    """n, mean, min, quartiles and max of kept scores (None when empty)."""
    if not values:
        return {
            "n": 0,
            "mean": None,
            "min": None,
            "q1": None,
            "median": None,
            "q3": None,
            "max": None,
        }
    xs = sorted(values)

    def q(p: float) -> float:
        pos = p * (len(xs) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(xs) - 1)
        return round(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo), 4)

    return {
        "n": len(xs),
        "mean": round(sum(xs) / len(xs), 4),
        "min": xs[0],
        "q1": q(0.25),
        "median": q(0.5),
        "q3": q(0.75),
        "max": xs[-1],
    }


def _line(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, separators=(", ", ": ")) + "\n").encode("utf-8")


def write_dataset(
    out: str | Path,
    rows: Sequence[DatasetRow],
    *,
    splits: Mapping[str, str],
    manifest: Mapping[str, Any],
) -> WrittenDataset:
    """Write ``rows`` into the folder ``out`` (split per ``splits``: group id → split).

    The files are written to a temporary folder beside ``out`` and moved into place, so a
    crash never leaves half a dataset. An existing ``out`` holding the same dataset is left
    as it is (``created`` False); one holding anything else is an :class:`InputError`:
    nothing is overwritten.
    """
    target = Path(out)
    by_split: dict[str, list[DatasetRow]] = {s: [] for s in SPLITS}
    for row in rows:
        by_split[splits[row.group]].append(row)
    blobs = {s: b"".join(_line({"messages": r.messages}) for r in by_split[s]) for s in SPLITS}
    digests = {s: hashlib.sha256(blobs[s]).hexdigest() for s in SPLITS}
    dataset_id = hashlib.sha256("".join(digests[s] for s in SPLITS).encode()).hexdigest()
    lineage = b"".join(
        _line({"split": s, "row": i, **r.lineage})
        for s in SPLITS
        for i, r in enumerate(by_split[s])
    )
    domains: dict[str, dict[str, int]] = {}
    for s in SPLITS:
        for r in by_split[s]:
            domains.setdefault(r.domain, dict.fromkeys(SPLITS, 0))[s] += 1
    full = {
        "format": DATASET_FORMAT,
        "dataset_id": dataset_id,
        **manifest,
        "files": {
            s: {"file": f"{s}.jsonl", "rows": len(by_split[s]), "sha256": digests[s]}
            for s in SPLITS
        },
        "domains": {d: domains[d] for d in sorted(domains)},
    }
    if target.exists():
        existing = _existing_id(target)
        if existing == dataset_id:
            return WrittenDataset(dataset_id, target, read_manifest(target), created=False)
        what = f"dataset {existing[:12]}" if existing else "other files"
        raise InputError(
            f"--out {target} already holds {what}; choose another --out folder or remove it"
        )
    if not target.parent.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for s in SPLITS:
            (tmp / f"{s}.jsonl").write_bytes(blobs[s])
        (tmp / "lineage.jsonl").write_bytes(lineage)
        text = json.dumps(full, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
        (tmp / "manifest.json").write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return WrittenDataset(dataset_id, target, full, created=True)


def _existing_id(folder: Path) -> str | None:
    try:
        return str(read_manifest(folder)["dataset_id"])
    except (InputError, KeyError):
        return None


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """A dataset folder's manifest (an :class:`InputError` naming the file if absent or
    unreadable)."""
    path = Path(folder) / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path} not found; give a dataset folder written by lem") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != DATASET_FORMAT:
        raise InputError(f"{path}: not a {DATASET_FORMAT} manifest")
    return data
