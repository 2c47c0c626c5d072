"""Probe sets: the open-ended prompts an experiment asks.

Reads the upstream JSON list (``id``, ``domain`` or ``category``, ``prompt``), JSON Lines and
CSV; validates ids and prompts; selects by id, domain and count; hashes the selection so a
run manifest can prove which prompts were asked.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lem.errors import InputError
from lem.jsonl import iter_json_lines

__all__ = [
    "BUNDLED_ID_PATTERN",
    "Probe",
    "ProbeSet",
    "bundled_probes_path",
    "find_near_duplicates",
    "load_probes",
]

BUNDLED_ID_PATTERN = re.compile(r"^P\d{3}_[A-Z]+_[A-Z0-9_]+$")
"""Id scheme ``P###_DOMAIN_SLUG``, enforced for lem's bundled set only."""


@dataclass(frozen=True)
class Probe:
    """One prompt with an id and an optional domain."""

    id: str
    prompt: str
    domain: str | None = None

    @property
    def category(self) -> str:
        """The upstream A/B ``category``: the domain lower-cased, or ``uncategorised``."""
        return self.domain.lower() if self.domain else "uncategorised"


@dataclass(frozen=True)
class ProbeSet:
    """An ordered, validated list of probes read from :attr:`source`."""

    probes: tuple[Probe, ...]
    source: str

    def __len__(self) -> int:
        return len(self.probes)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.probes)

    def by_id(self, probe_id: str) -> Probe:
        for probe in self.probes:
            if probe.id == probe_id:
                return probe
        raise InputError(
            f"unknown probe id {probe_id!r} in {self.source}; `lem probes list` shows the ids"
        )

    def domains(self) -> list[str]:
        seen: dict[str, None] = {}
        for probe in self.probes:
            seen.setdefault(probe.domain or "uncategorised", None)
        return list(seen)

    def select(
        self,
        probe_ids: Sequence[str] | None = None,
        domains: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> ProbeSet:
        """Subset by ids (in the order given), domains (case-insensitive), then a count.

        Each ``probe_ids`` entry is an id taken verbatim when the set has it (ids may hold
        commas), else a comma-separated list of ids. An unknown id or domain is an error
        rather than an empty experiment.
        """
        probes = list(self.probes)
        if probe_ids:
            ids = {p.id for p in self.probes}
            picked = [
                part.strip()
                for entry in probe_ids
                for part in ([entry] if entry in ids else entry.split(","))
                if part.strip()
            ]
            probes = [self.by_id(pid) for pid in dict.fromkeys(picked)]
        if domains:
            known = {d.lower(): d for d in self.domains()}
            wanted = set()
            for dom in domains:
                if dom.lower() not in known:
                    raise InputError(
                        f"unknown domain {dom!r} in {self.source}; "
                        f"known domains: {', '.join(sorted(known.values()))}"
                    )
                wanted.add(dom.lower())
            probes = [p for p in probes if (p.domain or "uncategorised").lower() in wanted]
        if limit is not None:
            if limit < 1:
                raise InputError(f"--limit must be at least 1, got {limit}")
            probes = probes[:limit]
        return ProbeSet(tuple(probes), self.source)

    def digest(self) -> str:
        """SHA-256 over ids, domains and prompts in order."""
        h = hashlib.sha256()
        for probe in self.probes:
            row = [probe.id, probe.domain or "", probe.prompt]
            h.update(json.dumps(row, ensure_ascii=False).encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()


def bundled_probes_path() -> Path:
    """Path of lem's own hand-written probe set."""
    return Path(str(resources.files("lem") / "data" / "probes" / "lem-core.json"))


def load_probes(path: str | Path | None = None, *, bundled: bool | None = None) -> ProbeSet:
    """Read and validate a probe set; ``None`` means lem's bundled set.

    Format by extension: ``.json`` (a list of objects), ``.jsonl``, ``.csv`` (header row with
    ``id``, ``prompt`` and optionally ``domain`` or ``category``).
    """
    if path is None or str(path) in ("", "bundled", "lem-core"):
        path = bundled_probes_path()
        bundled = True
    p = Path(path)
    if not p.is_file():
        raise InputError(f"probe file {p} not found; give an existing .json, .jsonl or .csv file")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"probe file {p} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    suffix = p.suffix.lower()
    if suffix == ".jsonl":
        rows = _read_jsonl(text, p)
    elif suffix == ".csv":
        rows = _read_csv(text, p)
    else:
        rows = _read_json(text, p)
    probes = _validate(rows, p, bundled=bool(bundled))
    return ProbeSet(tuple(probes), str(p))


def _read_json(text: str, path: Path) -> list[tuple[str, object]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"probe file {path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if isinstance(data, dict) and isinstance(data.get("probes"), list):
        data = data["probes"]
    if not isinstance(data, list):
        raise InputError(f"probe file {path}: expected a JSON list of probe objects")
    return [(f"item {i + 1}", row) for i, row in enumerate(data)]


def _read_jsonl(text: str, path: Path) -> list[tuple[str, object]]:
    lines = iter_json_lines(text.splitlines(), f"probe file {path}")
    return [(f"line {lineno}", row) for lineno, row in lines]


def _read_csv(text: str, path: Path) -> list[tuple[str, object]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "id" not in reader.fieldnames or "prompt" not in reader.fieldnames:
        raise InputError(f"probe file {path}: CSV needs a header row with 'id' and 'prompt'")
    return [(f"line {i + 2}", dict(row)) for i, row in enumerate(reader)]


def _validate(rows: Iterable[tuple[str, object]], path: Path, *, bundled: bool) -> list[Probe]:
    probes: list[Probe] = []
    seen: dict[str, str] = {}
    for where, row in rows:
        if not isinstance(row, dict):
            raise InputError(f"probe file {path}, {where}: expected an object with id and prompt")
        pid = row.get("id")
        prompt = row.get("prompt")
        domain = row.get("domain") or row.get("category")
        if not isinstance(pid, str) or not pid.strip():
            raise InputError(f"probe file {path}, {where}: missing or empty 'id'")
        if not isinstance(prompt, str) or not prompt.strip():
            raise InputError(f"probe file {path}, {where}: probe {pid!r} has an empty 'prompt'")
        if domain is not None and not isinstance(domain, str):
            raise InputError(f"probe file {path}, {where}: 'domain' of {pid!r} must be a string")
        if pid in seen:
            raise InputError(
                f"probe file {path}, {where}: duplicate id {pid!r} (first at {seen[pid]})"
            )
        if bundled and not BUNDLED_ID_PATTERN.match(pid):
            raise InputError(f"probe file {path}, {where}: id {pid!r} is not P###_DOMAIN_SLUG")
        seen[pid] = where
        probes.append(Probe(id=pid, prompt=prompt, domain=domain or None))
    if not probes:
        raise InputError(f"probe file {path} holds no probes")
    return probes


def _shingles(text: str, n: int = 3) -> frozenset[str]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    if len(words) < n:
        return frozenset([" ".join(words)])
    return frozenset(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))


def find_near_duplicates(
    probes: Sequence[Probe], threshold: float = 0.5
) -> list[tuple[Probe, Probe, float]]:
    """Pairs of prompts whose word-trigram Jaccard similarity is at least ``threshold``.

    Candidate pairs come from an inverted index over shingles, so large sets stay fast.
    """
    sh = [_shingles(p.prompt) for p in probes]
    index: dict[str, list[int]] = {}
    for i, s in enumerate(sh):
        for g in s:
            index.setdefault(g, []).append(i)
    candidates: set[tuple[int, int]] = set()
    for members in index.values():
        if len(members) > 1:
            for a_pos, a in enumerate(members):
                for b in members[a_pos + 1 :]:
                    candidates.add((a, b))
    out = []
    for a, b in sorted(candidates):
        sim = len(sh[a] & sh[b]) / len(sh[a] | sh[b])
        if sim >= threshold:
            out.append((probes[a], probes[b], round(sim, 3)))
    return out
