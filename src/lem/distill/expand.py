"""Prompt expansion by personas and voices: every seed prompt asked the way different
people would ask it, deduplicated, with coverage and gaps.

A voice file (``lem-voices`` is bundled: 16 voices across 12 regions, written for lem) is
a JSON object ``{"voices": [{"id", "region", "voice", "template"}]}`` whose templates
contain ``{prompt}``. Expanding a seed set writes one prompt per seed × voice, with id
``{seed id}__{voice id}``, the seed's domain, and ``seed``, ``voice`` and ``region`` fields
(probe readers ignore extra fields). Exact duplicates and near duplicates (word-trigram
Jaccard at or above ``near_duplicate``) are dropped, keeping the first in seed × voice
order. Coverage counts the prompts per domain, region and voice; gaps are the
domain × region cells with fewer than ``min_per_cell`` prompts.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from lem.distill.select import NearIndex, shingles
from lem.errors import InputError
from lem.probes import load_probes

__all__ = ["Expansion", "Voice", "bundled_voices_path", "expand_prompts", "load_voices"]


@dataclass(frozen=True)
class Voice:
    id: str
    region: str
    voice: str
    template: str


@dataclass
class Expansion:
    prompts: list[dict[str, Any]] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    coverage: dict[str, dict[str, int]] = field(default_factory=dict)
    gaps: list[dict[str, Any]] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            "prompts": len(self.prompts),
            "dropped": dict(self.dropped),
            "coverage": self.coverage,
            "gaps": self.gaps,
        }


def bundled_voices_path() -> Path:
    return Path(str(resources.files("lem") / "data" / "voices" / "lem-voices.json"))


def load_voices(ref: str | Path | None = None) -> list[Voice]:
    """Voices from a file (``lem-voices`` or None: the bundled set), validated."""
    path = bundled_voices_path() if ref in (None, "lem-voices") else Path(str(ref))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"voices file {path} not found") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"voices file {path}: malformed JSON at line {exc.lineno}") from None
    raw = data.get("voices") if isinstance(data, dict) else None
    if not isinstance(raw, list) or not raw:
        raise InputError(
            f'voices file {path}: expected {{"voices": [...]}} with at least one voice'
        )
    voices, seen = [], set()
    for i, v in enumerate(raw, 1):
        missing = [
            k for k in ("id", "region", "voice", "template") if not str(v.get(k, "")).strip()
        ]
        if missing:
            raise InputError(f"voices file {path} voice {i}: field {missing[0]!r} is missing")
        if "{prompt}" not in v["template"]:
            raise InputError(f"voices file {path} voice {v['id']}: template has no {{prompt}}")
        if v["id"] in seen:
            raise InputError(f"voices file {path}: voice id {v['id']!r} repeats")
        seen.add(v["id"])
        voices.append(Voice(str(v["id"]), str(v["region"]), str(v["voice"]), str(v["template"])))
    return voices


def expand_prompts(
    seeds: str | None,
    voices: list[Voice],
    *,
    per_seed: int | None = None,
    seed: int = 0,
    near_duplicate: float = 0.8,
    min_per_cell: int = 1,
) -> Expansion:
    """Expand the seed prompt set (a probe file, or the bundled training prompts for
    None); ``per_seed`` voices per seed (a seeded sample) instead of all of them."""
    probes = load_probes(seeds or "lem-train")
    rng = random.Random(seed)
    out = Expansion()
    near = NearIndex()
    seen_text: set[str] = set()
    for p in probes:
        chosen = (
            voices if per_seed is None or per_seed >= len(voices) else rng.sample(voices, per_seed)
        )
        for v in chosen:
            text = v.template.replace("{prompt}", p.prompt)
            norm = " ".join(text.split()).casefold()
            if norm in seen_text:
                out.dropped["duplicate"] += 1
                continue
            sh = shingles(text)
            if near_duplicate < 1.0 and near.most_similar(sh) >= near_duplicate:
                out.dropped["near_duplicate"] += 1
                continue
            seen_text.add(norm)
            near.add(sh)
            out.prompts.append(
                {
                    "id": f"{p.id}__{v.id}",
                    "domain": p.domain,
                    "prompt": text,
                    "seed": p.id,
                    "voice": v.id,
                    "region": v.region,
                }
            )
    by_domain = Counter(str(x["domain"]) for x in out.prompts)
    by_region = Counter(x["region"] for x in out.prompts)
    by_voice = Counter(x["voice"] for x in out.prompts)
    out.coverage = {
        "domain": dict(sorted(by_domain.items())),
        "region": dict(sorted(by_region.items())),
        "voice": dict(sorted(by_voice.items())),
    }
    cells = Counter((str(x["domain"]), x["region"]) for x in out.prompts)
    domains = sorted({str(p.domain) for p in probes})
    regions = sorted({v.region for v in voices})
    out.gaps = [
        {"domain": d, "region": r, "prompts": cells.get((d, r), 0)}
        for d in domains
        for r in regions
        if cells.get((d, r), 0) < min_per_cell
    ]
    return out
