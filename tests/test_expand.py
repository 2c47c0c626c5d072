"""Prompt expansion by voices (counts, duplicates, seeded sampling, coverage and gaps)
and distillation's gold and expansion modes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lem.distill.config import DistillConfig
from lem.distill.expand import Voice, expand_prompts, load_voices
from lem.errors import InputError
from lem.probes import load_probes

VOICES = [
    Voice("A", "North", "a", "As a baker: {prompt}"),
    Voice("B", "South", "b", "{prompt} (asking for my aunt)"),
    Voice("C", "South", "c", "{prompt} (asking for my aunt)"),  # same words as B
]


def _seeds(tmp_path: Path) -> str:
    rows = [
        {"id": "S1", "domain": "Privacy", "prompt": "Should I read my partner's messages?"},
        {"id": "S2", "domain": "Honesty", "prompt": "Is it fine to exaggerate on a CV?"},
        {"id": "S3", "domain": "Privacy", "prompt": "Can I track my teenager's phone?"},
    ]
    path = tmp_path / "seeds.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return str(path)


def test_bundled_voices() -> None:
    voices = load_voices()
    assert len(voices) == 16 and len({v.region for v in voices}) == 12
    assert all("{prompt}" in v.template for v in voices)


def test_expansion_counts_duplicates_coverage_and_gaps(tmp_path: Path) -> None:
    exp = expand_prompts(_seeds(tmp_path), VOICES, near_duplicate=1.0, min_per_cell=2)
    assert [p["id"] for p in exp.prompts] == [
        "S1__A",
        "S1__B",
        "S2__A",
        "S2__B",
        "S3__A",
        "S3__B",
    ]
    assert exp.dropped == {"duplicate": 3}
    assert exp.prompts[1]["prompt"] == "Should I read my partner's messages? (asking for my aunt)"
    assert exp.coverage == {
        "domain": {"Honesty": 2, "Privacy": 4},
        "region": {"North": 3, "South": 3},
        "voice": {"A": 3, "B": 3},
    }
    assert exp.gaps == [
        {"domain": "Honesty", "region": "North", "prompts": 1},
        {"domain": "Honesty", "region": "South", "prompts": 1},
    ]
    out = tmp_path / "exp.json"
    out.write_text(json.dumps(exp.prompts))
    assert len(load_probes(str(out))) == 6


def test_per_seed_sampling_is_seeded(tmp_path: Path) -> None:
    voices = load_voices()
    a = expand_prompts(_seeds(tmp_path), voices, per_seed=3, seed=1)
    b = expand_prompts(_seeds(tmp_path), voices, per_seed=3, seed=1)
    c = expand_prompts(_seeds(tmp_path), voices, per_seed=3, seed=2)
    assert [p["id"] for p in a.prompts] == [p["id"] for p in b.prompts]
    assert [p["id"] for p in a.prompts] != [p["id"] for p in c.prompts]
    assert len(a.prompts) == 9


def test_bad_voices_file(tmp_path: Path) -> None:
    bad = tmp_path / "v.json"
    bad.write_text(
        json.dumps({"voices": [{"id": "X", "region": "r", "voice": "v", "template": "no slot"}]})
    )
    with pytest.raises(InputError, match="template has no"):
        load_voices(bad)


def test_gold_and_expansion_modes() -> None:
    assert DistillConfig().conditions == ["sandwich:lek+lek-text"]
    assert DistillConfig(mode="expansion").conditions == ["baseline"]
    with pytest.raises(ValueError, match="bare prompts"):
        DistillConfig(mode="expansion", conditions=["system:lek"])
