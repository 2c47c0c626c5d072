"""The bundled training prompt set: size, ids, domains, and no leakage from the eval probes.

Training on prompts that restate the evaluation probes would make a trained model's
scores on those probes meaningless, so each training prompt is compared with every eval
probe by word 3-grams.

Overlap measure: the overlap coefficient |A ∩ B| / min(|A|, |B|) of the two prompts'
sets of word 3-grams (words: runs of [a-z0-9'] in the lower-cased text, so punctuation
is dropped). That is the larger of the two containments (the share of the training
prompt's 3-grams found in the probe, and the reverse), so it is never below Jaccard and
catches a short prompt lifted from inside a long one, which Jaccard would dilute.
"""

from __future__ import annotations

import re
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from lem.probes import Probe, ProbeSet, load_probes

MAX_OVERLAP = 0.30
"""Largest 3-gram overlap coefficient allowed between a training prompt and an eval probe."""

TRAIN_ID = re.compile(r"^T\d{3}_[A-Z]+_[A-Z0-9_]+$")
_WORD = re.compile(r"[a-z0-9']+")


def _train_path() -> Path:
    return Path(str(resources.files("lem") / "data" / "train-prompts" / "lem-train.json"))


@pytest.fixture(scope="module")
def train() -> ProbeSet:
    return load_probes(_train_path())


@pytest.fixture(scope="module")
def evals() -> ProbeSet:
    return load_probes()


def trigrams(text: str) -> frozenset[tuple[str, ...]]:
    """Word 3-grams of ``text``, lower-cased with punctuation stripped (a text of fewer
    than three words is one gram of all its words)."""
    words = _WORD.findall(text.lower())
    if len(words) < 3:
        return frozenset([tuple(words)])
    return frozenset(tuple(words[i : i + 3]) for i in range(len(words) - 2))


def overlap(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    """Overlap coefficient |a ∩ b| / min(|a|, |b|)."""
    return len(a & b) / min(len(a), len(b))


def test_trigrams_and_overlap() -> None:
    a = trigrams("How do I sort a list?")
    assert ("sort", "a", "list") in a and len(a) == 4
    assert trigrams("HOW, do I... sort a LIST") == a
    assert overlap(a, trigrams("Tell me how do I sort a list in Python")) == 1.0
    assert overlap(a, trigrams("Bananas are yellow and curved")) == 0.0


def test_size_and_ids(train: ProbeSet) -> None:
    assert len(train) >= 150
    ids = [p.id for p in train]
    assert len(set(ids)) == len(ids)
    for number, probe in enumerate(train, 1):
        assert TRAIN_ID.match(probe.id), probe.id
        assert probe.id.startswith(f"T{number:03d}_"), probe.id


def test_prompts_unique_and_shaped(train: ProbeSet) -> None:
    normalised = [" ".join(_WORD.findall(p.prompt.lower())) for p in train]
    assert len(set(normalised)) == len(normalised)
    for probe in train:
        assert probe.prompt == probe.prompt.strip(), probe.id
        assert 5 <= len(probe.prompt.split()) <= 80, probe.id


def test_domains(train: ProbeSet, evals: ProbeSet) -> None:
    counts = Counter(p.domain for p in train)
    for domain in evals.domains():
        assert counts[domain] >= 10, f"{domain}: {counts[domain]} training prompts"
    assert counts["Everyday"] >= 20
    assert set(counts) == {*evals.domains(), "Everyday"}


def test_id_tag_matches_domain(train: ProbeSet, evals: ProbeSet) -> None:
    """The DOMAIN part of each id is the tag the eval set uses for that domain."""
    tags = {p.domain: p.id.split("_")[1] for p in evals}
    tags["Everyday"] = "EVERYDAY"
    for probe in train:
        assert probe.id.split("_")[1] == tags[probe.domain or ""], probe.id


def _worst(train: ProbeSet, others: list[Probe]) -> tuple[float, str, str]:
    grams = {p.id: trigrams(p.prompt) for p in others}
    worst = (0.0, "", "")
    for probe in train:
        mine = trigrams(probe.prompt)
        for other in others:
            if other.id != probe.id:
                worst = max(worst, (overlap(mine, grams[other.id]), probe.id, other.id))
    return worst


def test_no_training_prompt_restates_an_eval_probe(train: ProbeSet, evals: ProbeSet) -> None:
    score, train_id, eval_id = _worst(train, list(evals))
    assert score <= MAX_OVERLAP, f"{train_id} shares {score:.0%} of its 3-grams with {eval_id}"


def test_no_near_duplicates_within_training_set(train: ProbeSet) -> None:
    score, a, b = _worst(train, list(train))
    assert score <= MAX_OVERLAP, f"{a} shares {score:.0%} of its 3-grams with {b}"


def test_leak_check_can_fail(train: ProbeSet, evals: ProbeSet) -> None:
    """A lightly reworded eval probe slipped into the training set is caught."""
    probe = evals.probes[0]
    reworded = probe.prompt.replace("small", "little").replace("officers", "agents")
    leaked = ProbeSet((*train.probes, Probe("T999_X_LEAK", reworded, "Surveillance")), "t")
    score, train_id, eval_id = _worst(leaked, list(evals))
    assert score > MAX_OVERLAP
    assert (train_id, eval_id) == ("T999_X_LEAK", probe.id)
