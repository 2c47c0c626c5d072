"""Probe sets: the open-ended prompts an experiment asks.

Reads the upstream JSON list (``id``, ``domain`` or ``category``, ``prompt``, optionally
``family``), JSON Lines and CSV; validates ids and prompts; selects by id, domain and count;
hashes the selection so a run manifest can prove which prompts were asked.

A ``family`` groups a probe with its rephrasings (the same request in other words), so a
report can treat the family, not the probe, as the unit (:mod:`lem.analysis.families`); a
probe without one is a family of its own.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from lem.errors import InputError
from lem.jsonl import iter_json_lines

__all__ = [
    "BUNDLED_ID_PATTERN",
    "Probe",
    "ProbeSet",
    "bundled_families_path",
    "bundled_probes_path",
    "bundled_train_prompts_path",
    "find_near_duplicates",
    "load_probes",
]

BUNDLED_ID_PATTERN = re.compile(r"^P\d{3}_[A-Z]+_[A-Z0-9_]+$")
"""Id scheme ``P###_DOMAIN_SLUG``, enforced for lem's bundled set only."""


@dataclass(frozen=True)
class Probe:
    """One prompt with an id, an optional domain and an optional family."""

    id: str
    prompt: str
    domain: str | None = None
    fields: Mapping[str, str] | None = field(default=None, compare=False, hash=False)
    """Per-item extras scorers may see (a benchmark's expected or reference answers); not
    part of :meth:`ProbeSet.digest` (a benchmark run records its item set's own hash)."""
    family: str | None = None
    """The probe's paraphrase family (its rephrasings share it); None: a family of its own."""

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

    def families(self) -> dict[str, str]:
        """Probe id → family, for the probes that have one (in probe order)."""
        return {p.id: p.family for p in self.probes if p.family is not None}

    def family_counts(self) -> tuple[dict[str, int], int]:
        """Members per family (in order of first appearance) and the number of probes
        without a family."""
        counts: dict[str, int] = {}
        for probe in self.probes:
            if probe.family is not None:
                counts[probe.family] = counts.get(probe.family, 0) + 1
        return counts, sum(1 for p in self.probes if p.family is None)

    def manifest_families(self) -> dict[str, dict[str, str]]:
        """``{"families": {id: family}}`` for a run manifest's probe entry, or ``{}`` when
        no probe has a family (so manifests of other sets stay as they were)."""
        families = self.families()
        return {"families": families} if families else {}

    def digest(self) -> str:
        """SHA-256 over ids, domains and prompts in order (and a probe's family when it
        has one, so sets without families keep their digests)."""
        h = hashlib.sha256()
        for probe in self.probes:
            row = [probe.id, probe.domain or "", probe.prompt]
            if probe.family is not None:
                row.append(probe.family)
            h.update(json.dumps(row, ensure_ascii=False).encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()


def bundled_probes_path() -> Path:
    """Path of lem's own hand-written probe set."""
    return Path(str(resources.files("lem") / "data" / "probes" / "lem-core.json"))


def bundled_families_path() -> Path:
    """Path of lem's own probe-family set: bundled probes with their rephrasings."""
    return Path(str(resources.files("lem") / "data" / "probes" / "lem-families.json"))


def bundled_train_prompts_path() -> Path:
    """Path of lem's own hand-written training prompt set (disjoint from the probes)."""
    return Path(str(resources.files("lem") / "data" / "train-prompts" / "lem-train.json"))


def load_probes(path: str | Path | None = None, *, bundled: bool | None = None) -> ProbeSet:
    """Read and validate a probe set; ``None`` means lem's bundled set (also named
    ``lem-core``); ``lem-families`` names the bundled probes with their rephrasings and
    ``lem-train`` lem's bundled training prompt set.

    Format by extension: ``.json`` (a list of objects), ``.jsonl``, ``.csv`` (header row with
    ``id``, ``prompt`` and optionally ``domain`` or ``category`` and ``family``).
    """
    if path is None or str(path) in ("", "bundled", "lem-core"):
        path = bundled_probes_path()
        bundled = True
    elif str(path) == "lem-families":
        path = bundled_families_path()
        bundled = True
    elif str(path) == "lem-train":
        path = bundled_train_prompts_path()
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
    probes = _validate(rows, p, bundled=bool(bundled), csv_row=suffix == ".csv")
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


def _validate(
    rows: Iterable[tuple[str, object]], path: Path, *, bundled: bool, csv_row: bool = False
) -> list[Probe]:
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
        family = row.get("family")
        if csv_row and family == "":
            family = None  # an empty CSV cell: no family
        if family is not None and (not isinstance(family, str) or not family.strip()):
            raise InputError(
                f"probe file {path}, {where}: 'family' of {pid!r} must be a non-empty string, "
                f"got {family!r}"
            )
        if pid in seen:
            raise InputError(
                f"probe file {path}, {where}: duplicate id {pid!r} (first at {seen[pid]})"
            )
        if bundled and not BUNDLED_ID_PATTERN.match(pid):
            raise InputError(f"probe file {path}, {where}: id {pid!r} is not P###_DOMAIN_SLUG")
        seen[pid] = where
        probes.append(Probe(id=pid, prompt=prompt, domain=domain or None, family=family))
    if not probes:
        raise InputError(f"probe file {path} holds no probes")
    return probes


_WORD = re.compile(r"[a-z0-9']+")
_SLACK = 1e-9
"""Every filter bound is loosened by this much, so float rounding can only let an extra
candidate through to the exact check, never drop a pair."""
_DIRECT_CODES = 2_097_151
"""Largest vocabulary (+1) whose trigrams fit one int64 as ``(a * K + b) * K + c``."""


def _trigram_codes(ids: Any, at: Any, vocab: int) -> Any:
    """One int64 per shingle: the word ids at ``at``, ``at + 1``, ``at + 2``, exactly
    (distinct shingles, distinct codes), for word ids below ``vocab``."""
    import numpy as np

    if vocab <= _DIRECT_CODES:
        return (ids[at] * vocab + ids[at + 1]) * vocab + ids[at + 2]
    _, pair = np.unique(ids[at] * vocab + ids[at + 1], return_inverse=True)
    return pair.astype(np.int64) * vocab + ids[at + 2]


def _shingle_ranks(prompts: Sequence[str]) -> tuple[list[int], list[int], list[int]]:
    """Word-trigram sets of the prompts, as needed by :func:`find_near_duplicates`.

    Returns, per prompt, its number of distinct shingles; and, in one flat list with
    offsets, the ranks of its shingles that other prompts also have, ascending. Ranks
    order the shared shingles by how many prompts have them, rarest first (ties in a
    fixed order); shingles that one prompt alone has rank before all of them.
    """
    import numpy as np

    n = len(prompts)
    words = [_WORD.findall(text.lower()) for text in prompts]
    lens = np.fromiter(map(len, words), np.int64, n)
    vocab_ids: dict[str, int] = defaultdict(itertools.count(1).__next__)
    flat = np.fromiter(
        map(vocab_ids.__getitem__, itertools.chain.from_iterable(words)), np.int64, int(lens.sum())
    )
    # Each prompt's word ids, then three zeros (no word): a prompt of L >= 3 words has
    # shingles at its first L - 2 places; a shorter one has one, its words padded.
    ids = np.zeros(len(flat) + 3 * n, np.int64)
    ids[np.arange(len(flat)) + np.repeat(3 * np.arange(n), lens)] = flat
    per = np.maximum(lens - 2, 1)
    rec = np.repeat(np.arange(n), per)
    first = np.cumsum(lens + 3) - (lens + 3)  # where each prompt starts in ids
    at = np.repeat(first - (np.cumsum(per) - per), per) + np.arange(len(rec))
    codes = _trigram_codes(ids, at, len(vocab_ids) + 1)

    # Codes seen more than once (in one prompt or several): the only ones that can be
    # shared. Their (code, prompt) pairs, deduplicated, give how many prompts have each.
    ordered = np.sort(codes)
    edge = np.flatnonzero(np.diff(ordered, prepend=-1, append=-1) != 0)
    repeated = ordered[edge[:-1][np.diff(edge) > 1]]
    where = np.minimum(np.searchsorted(repeated, codes), max(len(repeated) - 1, 0))
    hit = repeated[where] == codes if len(repeated) else np.zeros(len(codes), bool)
    pairs = np.sort(where[hit] * n + rec[hit])
    again = np.diff(pairs, prepend=-1) == 0  # the same shingle twice in one prompt
    sizes = np.bincount(rec, minlength=n) - np.bincount(pairs[again] % n, minlength=n)
    token, owner = np.divmod(pairs[~again], n)
    prompts_with = np.bincount(token, minlength=len(repeated))
    shared = np.flatnonzero(prompts_with > 1)
    by_rarity = shared[np.argsort(prompts_with[shared] * len(repeated) + shared)]
    rank = np.full(len(repeated), -1, np.int64)
    rank[by_rarity] = np.arange(len(by_rarity))
    token_rank = rank[token]
    keep = token_rank >= 0
    flat_ranks = np.sort(owner[keep] * max(len(by_rarity), 1) + token_rank[keep])
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(owner[keep], minlength=n), out=offsets[1:])
    return sizes.tolist(), (flat_ranks % max(len(by_rarity), 1)).tolist(), offsets.tolist()


def find_near_duplicates(
    probes: Sequence[Probe],
    threshold: float = 0.5,
    *,
    limit: int | None = None,
    within_families: bool = False,
) -> list[tuple[Probe, Probe, float]]:
    """Pairs of prompts whose word-trigram Jaccard similarity is at least ``threshold``,
    as ``(first, second, similarity rounded to 3 places)``, in probe order.

    Two probes of the same family are rephrasings of one request, meant to overlap: such
    pairs are left out unless ``within_families`` (then only they are listed, to check
    that rephrasings really reword).

    Words are the runs of ``[a-z0-9']`` in the lower-cased prompt; a prompt of fewer than
    three words has one shingle, all its words. Pairs with no shingle in common are
    never reported (a threshold of 0 lists the pairs that share one).

    Exact (the pairs an all-pairs comparison finds) and near-linear on real sets,
    templated ones included: a prefix-filtering similarity join (AllPairs with PPJoin's
    positional filter). Shingles are ordered rarest first, so text that many prompts
    share, such as a template, comes last. Sets with Jaccard >= t share at least
    ``ceil(t / (1 + t) * (|x| + |y|))`` shingles, hence one among the first
    ``|x| - ceil(t * |x|) + 1`` shingles of the larger set and the first
    ``|y| - ceil(2t / (1 + t) * |y|) + 1`` of the smaller. Only pairs of compatible
    sizes that meet there, and whose shingles left to compare can still reach that
    overlap, are compared; a shingle every prompt has is never in such a prefix unless
    the prompts are near-duplicates anyway.

    ``limit``: stop once at least that many pairs are found, and return that many (a set
    in which nearly every prompt resembles every other has a quadratic number of pairs).
    """
    if not threshold <= 1.0:  # above 1 (or NaN) nothing qualifies
        return []
    family = [p.family for p in probes]
    sizes, flat, offsets = _shingle_ranks([p.prompt for p in probes])
    t = max(threshold, 0.0)
    index: dict[int, list[tuple[int, int]]] = {}
    found: list[tuple[int, int, float]] = []
    for x in sorted(range(len(probes)), key=sizes.__getitem__):
        tokens, lx = flat[offsets[x] : offsets[x + 1]], sizes[x]
        # Position of tokens[k] in x's full order: after all of x's unshared shingles.
        offset = lx - len(tokens)
        probe_len = min(lx, lx - math.ceil(t * lx - _SLACK) + 1) - offset
        index_len = min(lx, lx - math.ceil(2 * t / (1 + t) * lx - _SLACK) + 1) - offset
        min_size = t * lx - _SLACK
        overlap: dict[int, int] = {}
        pruned: set[int] = set()
        for k in range(min(probe_len, len(tokens))):
            postings = index.get(tokens[k])
            if postings is None:
                continue
            rest_x = lx - offset - k - 1
            for y, j in postings:
                ly = sizes[y]
                if ly < min_size or y in pruned:
                    continue
                seen = overlap.get(y, 0)
                needed = math.ceil(t / (1 + t) * (lx + ly) - _SLACK)
                if seen + 1 + min(rest_x, ly - j - 1) >= needed:
                    overlap[y] = seen + 1
                else:
                    pruned.add(y)
                    overlap.pop(y, None)
        for k in range(min(index_len, len(tokens))):
            index.setdefault(tokens[k], []).append((x, offset + k))
        if overlap:
            mine = set(tokens)
            for y in overlap:
                common = len(mine.intersection(flat[offsets[y] : offsets[y + 1]]))
                sim = common / (lx + sizes[y] - common)  # |x & y| / |x | y|
                same = family[x] is not None and family[x] == family[y]
                if sim >= threshold and same == within_families:
                    found.append((min(x, y), max(x, y), sim))
        if limit is not None and len(found) >= limit:
            break
    found.sort()
    return [(probes[a], probes[b], round(sim, 3)) for a, b, sim in found[:limit]]
