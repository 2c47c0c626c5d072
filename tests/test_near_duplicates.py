"""Near-duplicate probes: the prefix-filtered search finds exactly the pairs an all-pairs
Jaccard comparison finds, and its time grows near-linearly on templated prompt sets."""

from __future__ import annotations

import gc
import itertools
import json
import random
import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lem.probes as probes_module
from lem.cli.main import app
from lem.probes import Probe, find_near_duplicates, load_probes

_WORDS = tuple(
    " ".join(
        (
            "water well council drought village share ration ledger archive record clinic",
            "patient consent data network node key elder family child school river field",
            "market price grain seed storm flood road bridge lamp winter harvest debt loan",
        )
    ).split(" ")
)
_TEMPLATE = (
    "You are advising the {role} of a small community. {scenario} What should they do, "
    "and why? Consider the people affected, the risks on each side, and the long-term "
    "consequences."
)


def _brute_force(probes: list[Probe], threshold: float) -> list[tuple[str, str, float]]:
    """Every pair compared, shingles as upstream writes them: word trigrams joined by
    spaces (all the words when a prompt has fewer than three)."""

    def shingles(text: str) -> frozenset[str]:
        words = re.findall(r"[a-z0-9']+", text.lower())
        if len(words) < 3:
            return frozenset([" ".join(words)])
        return frozenset(" ".join(words[i : i + 3]) for i in range(len(words) - 2))

    sets = [shingles(p.prompt) for p in probes]
    out = []
    for a, b in itertools.combinations(range(len(probes)), 2):
        if sets[a] & sets[b]:  # as before: pairs with no shingle in common never count
            sim = len(sets[a] & sets[b]) / len(sets[a] | sets[b])
            if sim >= threshold:
                out.append((probes[a].id, probes[b].id, round(sim, 3)))
    return out


def _mutated(rng: random.Random, prompt: str, edits: int) -> str:
    words = prompt.split()
    for _ in range(edits):
        kind = rng.random()
        at = rng.randrange(len(words))
        if kind < 0.4:
            words[at] = rng.choice(_WORDS)
        elif kind < 0.7:
            words.insert(at, rng.choice(_WORDS))
        elif len(words) > 1:
            del words[at]
    return " ".join(words)


def _known_set() -> list[Probe]:
    """The bundled probes, copies of some of them with 1-6 word edits, templated prompts
    (with copies), short and empty-worded prompts, and exact repeats."""
    rng = random.Random(2024)
    probes = list(load_probes())
    for i, base in enumerate(rng.sample(probes, 40)):
        probes.append(Probe(f"edit{i}", _mutated(rng, base.prompt, rng.randint(1, 6))))
    for i in range(60):
        scenario = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 24))) + "."
        text = _TEMPLATE.format(role=rng.choice(("council", "clinic", "school")), scenario=scenario)
        probes.append(Probe(f"tpl{i}", text))
        if i % 6 == 0:
            probes.append(Probe(f"tpl{i}b", _mutated(rng, text, rng.randint(1, 3))))
    short = ["Why?", "Why not?", "why not", "!!", "?", "Is it fair?", "Is it fair now?", "x y"]
    probes.extend(Probe(f"short{i}", text) for i, text in enumerate(short))
    probes.append(Probe("repeat", probes[0].prompt))
    return probes


KNOWN = _known_set()


@pytest.mark.parametrize("threshold", [0.0, 0.2, 0.3, 0.5, 0.6, 2 / 3, 0.8, 0.9, 1.0, 1.5])
def test_pairs_equal_an_all_pairs_jaccard(threshold: float) -> None:
    got = [(a.id, b.id, sim) for a, b, sim in find_near_duplicates(KNOWN, threshold)]
    assert got == _brute_force(KNOWN, threshold)


def test_pairs_are_the_same_with_two_step_trigram_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Vocabularies too large for one int64 per trigram code word pairs first."""
    monkeypatch.setattr(probes_module, "_DIRECT_CODES", 2)
    got = [(a.id, b.id, sim) for a, b, sim in find_near_duplicates(KNOWN, 0.5)]
    assert got == _brute_force(KNOWN, 0.5)


def test_the_known_set_has_pairs_of_every_kind() -> None:
    got = {(a.id, b.id) for a, b, _ in find_near_duplicates(KNOWN, 0.5)}
    ids = {i for pair in got for i in pair}
    assert (KNOWN[0].id, "repeat") in got
    assert ("short3", "short4") in got  # "!!" and "?": no words, the same empty shingle
    assert ("short1", "short2") in got  # "Why not?" and "why not": the same two words
    assert sum(i.startswith("edit") for i in ids) >= 20
    assert sum(i.startswith("tpl") and i.endswith("b") for i in ids) >= 5
    assert len(got) >= 30


def test_random_sets_equal_an_all_pairs_jaccard() -> None:
    rng = random.Random(7)
    vocab = ["a", "b", "c", "d", "e", "the", "of", "it's", "x1"]
    for _ in range(300):
        base = [rng.choice(vocab) for _ in range(rng.randint(0, 12))]
        probes = []
        for i in range(rng.randint(2, 20)):
            words = (
                _mutated(rng, " ".join(base), rng.randint(0, 3)).split()
                if base and rng.random() < 0.6
                else [rng.choice(vocab) for _ in range(rng.randint(0, 12))]
            )
            probes.append(Probe(f"p{i}", " ".join(words) + "?"))
        threshold = rng.choice([0.0, 0.25, 1 / 3, 0.5, 0.7, 0.75, 1.0])
        got = [(a.id, b.id, sim) for a, b, sim in find_near_duplicates(probes, threshold)]
        assert got == _brute_force(probes, threshold), (threshold, [p.prompt for p in probes])


def test_limit_stops_early_with_a_subset() -> None:
    probes = [Probe(f"p{i}", f"Write a short poem about the sea, number {i}.") for i in range(400)]
    everything = find_near_duplicates(probes[:60], 0.5)
    assert len(everything) == 60 * 59 // 2
    some = find_near_duplicates(probes, 0.5, limit=25)
    assert len(some) == 25
    assert some == sorted(some, key=lambda p: (int(p[0].id[1:]), int(p[1].id[1:])))
    assert all(sim >= 0.5 for _, _, sim in some)


def _templated(n: int) -> list[Probe]:
    rng = random.Random(n)
    probes = []
    for i in range(n):
        scenario = " ".join(f"{rng.choice(_WORDS)}{rng.randrange(400)}" for _ in range(30))
        probes.append(Probe(f"t{i}", _TEMPLATE.format(role="council", scenario=scenario)))
    return probes


def _cpu_seconds(probes: list[Probe]) -> float:
    """Least CPU time of three searches (one when a search takes over a second); each
    must find nothing (the scenarios share no three words in a row)."""
    gc.collect()
    gc.disable()
    try:
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            found = find_near_duplicates(probes)
            best = min(best, time.process_time() - start)
            assert found == []
            if best > 1.0:
                break
        return best
    finally:
        gc.enable()


def test_time_grows_near_linearly_on_templated_prompts() -> None:
    """8x the prompts, all sharing one template, within 12x the CPU time, at 125, 1,000
    and 8,000 prompts (every pair sharing a shingle as candidates, as before, is 64x: 11 s
    for 1,000 here). A ratio over the limit is measured twice more, keeping the least."""
    sizes = (125, 1000, 8000)
    sets = {n: _templated(n) for n in sizes}
    for smaller, larger in itertools.pairwise(sizes):
        ratio = _cpu_seconds(sets[larger]) / _cpu_seconds(sets[smaller])
        for _ in range(2):
            if ratio <= 12:
                break
            ratio = min(ratio, _cpu_seconds(sets[larger]) / _cpu_seconds(sets[smaller]))
        assert ratio <= 12, f"{larger} templated probes took {ratio:.1f}x the time of {smaller}"


def test_validate_lists_at_most_max_pairs(tmp_path: Path) -> None:
    rows = [
        {"id": f"p{i}", "prompt": f"Write a short poem about the sea, number {i}."}
        for i in range(30)
    ]
    path = tmp_path / "probes.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    result = CliRunner().invoke(app, ["probes", "validate", str(path), "--max-pairs", "5"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"{path}: 30 probes, 1 domains: ok"
    assert len([line for line in lines if line.startswith("near-duplicate (")]) == 5
    assert lines[-1] == (
        "more than 5 near-duplicate pairs: stopped searching; raise --max-pairs to list more"
    )
    full = CliRunner().invoke(app, ["probes", "validate", str(path), "--max-pairs", "435"])
    assert full.exit_code == 1
    assert len(full.output.splitlines()) == 1 + 435
