"""lek-v2 reproduces the upstream v2 heuristic exactly; the scorer registry behaves."""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

import lem.scoring.lek_v2 as lek
from lem.errors import InputError
from lem.scoring import (
    LEK_V2_SIGNALS,
    LekV2Scorer,
    ScoreContext,
    Scorer,
    ScoreResult,
    available_scorers,
    get_scorer,
    lek_v2_score,
    lek_v2_signals,
    register_scorer,
)

DATA = Path(__file__).parent / "data"
VECTORS: list[dict[str, Any]] = json.loads((DATA / "lek_v2_vectors.json").read_text("utf-8"))[
    "vectors"
]

DEFINITION_SHA256 = "537ada56379f8ef7ef4b8152020e24cdb3ec680d65b397b714a2a94a92aec837"


def _flags(spec: str) -> int:
    return re.IGNORECASE if "i" in spec else 0


def _count(part: dict[str, Any], text: str) -> int:
    subject = text[1:] if part.get("skip_first_char") else text
    return len(re.findall(part["pattern"], subject, _flags(part["flags"])))


def interpret(definition: dict[str, Any], text: str) -> dict[str, float | int]:
    """The rule as written in the definition, evaluated the plain way (one findall per
    pattern): the reference the fast implementation must agree with."""
    values: dict[str, float | int] = {}
    total = 0.0
    for sig in definition["signals"]:
        kind = sig["kind"]
        value: float | int
        if kind == "count":
            value = _count(sig, text) + sig.get("plus", 0)
        elif kind == "match_at_start":
            value = 1 if re.match(sig["pattern"], text, _flags(sig["flags"])) else 0
        elif kind == "distinct_word_ratio":
            words = text.split()
            value = 0
            if len(words) >= sig["min_words"]:
                ratio = len(set(words)) / len(words)
                for limit, level in sig["levels"]:
                    if ratio < limit:
                        value = 1 if level == 1 else level
                        break
        elif kind == "stripped_length_below":
            value = 1 if len(text.strip()) < sig["limit"] else 0
        elif kind == "sum":
            value = sum(_count(part, text) for part in sig["parts"])
        else:
            raise AssertionError(kind)
        values[sig["name"]] = value
        contribution = value * sig["weight"]
        total += contribution if sig["cap"] is None else min(contribution, sig["cap"])
    values["lek_score"] = round(total, 2)
    return values


# ---- the test vectors --------------------------------------------------------------------


def test_vectors_file_is_complete() -> None:
    assert len(VECTORS) == 246
    for vec in VECTORS:
        assert list(vec["expected"]) == [*LEK_V2_SIGNALS, "lek_score"]


@pytest.mark.parametrize("index", range(len(VECTORS)))
def test_vector(index: int) -> None:
    vec = VECTORS[index]
    text, expected = vec["text"], vec["expected"]
    result = get_scorer("lek-v2").score(text)
    got = {**result.signals, "lek_score": result.value}
    assert got == expected
    assert list(result.signals) == list(LEK_V2_SIGNALS)
    for name in LEK_V2_SIGNALS:
        assert type(result.signals[name]) is type(expected[name]), name
    assert result.status == "ok" and result.reason is None
    assert lek_v2_signals(text) == result.signals
    assert lek_v2_score(text) == expected["lek_score"]


def test_definition_interpreter_reproduces_vectors() -> None:
    definition = lek.lek_v2_definition()
    for vec in VECTORS:
        assert interpret(definition, vec["text"]) == vec["expected"], vec["text"]


# ---- the fast path equals the plain patterns ---------------------------------------------

_FILLERS = ("the people", "a village", "x", "their own data", "ab", "a long stretch of words")


def _instances(term: str, rng: random.Random) -> str:
    text = term.replace(r"\.", ".")
    text = re.sub(r"\.\{\d+,\d+\}", lambda _: rng.choice(_FILLERS), text)
    text = text.replace("-?", rng.choice(["-", ""]))
    text = re.sub(r"\((\w+)\|(\w+)\|(\w+)\)", lambda m: rng.choice(m.groups()), text)
    shape = rng.random()
    if shape < 0.2:
        text = text.upper()
    elif shape < 0.4:
        text = text.capitalize()
    elif shape < 0.5:
        text = text.swapcase()
    if rng.random() < 0.15:
        text += rng.choice(["s", "ity", "ation", "ing", "_", "9"])
    if rng.random() < 0.1:
        text = rng.choice(["un", "x", "_", "9", "é"]) + text
    return text


_TERMS = (
    lek.COMPLIANCE_MARKERS
    + lek.FORMULAIC_PREAMBLES
    + lek.EMOTIONAL_REGISTER
    + lek.NUANCE_MARKERS
    + lek.SPECIFICITY_PHRASES
    + lek.AXIOM_RESONANCE
    + lek.PERSPECTIVE_MARKERS
    + lek.METAPHOR_MARKERS
    + lek.FIRST_PERSON_ALTERNATIVES
)
_SEPARATORS = (
    " ",
    " ",
    " ",
    "  ",
    "\n",
    "\n\n",
    ". ",
    ", ",
    "? ",
    "!",
    "'",
    "-",
    "—",
    "...",
    "*",
    "**",
    "_",
    "#",
    "## ",
    "> ",
    "|",
    "(",
    ")",
    '"',
    "\t",
    ".",
    "..",
    ":",
    "/",
)
_WORDS = (
    "I",
    "me",
    "my",
    "Alice",
    "Berlin",
    "The",
    "council",
    "water",
    "1976",
    "4,500.25",
    "3.",
    "Zürich",
    "İstanbul",
    "ıi",
    "ſoul",
    "\u212aindness",
    "ΣΟΦΙΑ",
    "straße",
    "٣٤",
    "e.g.",
    "A1",
    "DIGNITY",
    "Hope",
    "wonder-ful",
    "not",
    "both",
    "while",
    "also",
    "and",
    "where",
    "as",
)


def _random_text(rng: random.Random) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(0, 40)):
        r = rng.random()
        if r < 0.4:
            parts.append(_instances(rng.choice(_TERMS), rng))
        elif r < 0.7:
            parts.append(rng.choice(_WORDS))
        parts.append(rng.choice(_SEPARATORS))
    if rng.random() < 0.1:
        parts = parts * rng.randint(2, 6)
    return "".join(parts)


def test_fast_path_equals_plain_patterns_on_random_texts() -> None:
    rng = random.Random(20261122)
    definition = lek.lek_v2_definition()
    for _ in range(3000):
        text = _random_text(rng)
        expected = interpret(definition, text)
        assert {**lek_v2_signals(text), "lek_score": lek_v2_score(text)} == expected, text


def test_merged_pass_is_used_and_exact() -> None:
    names = [p.names for p in lek._PASSES]
    assert ("compliance_markers", "emotional_register") in names
    text = "I cannot feel. I can't love, hope or trust; as an AI I'm not able to grieve."
    signals = lek_v2_signals(text)
    assert (signals["compliance_markers"], signals["emotional_register"]) == (4, 4)
    assert {**signals, "lek_score": lek_v2_score(text)} == interpret(lek.lek_v2_definition(), text)


def test_fold_table_matches_re_ignorecase() -> None:
    everything = "".join(chr(cp) for cp in range(sys.maxunicode + 1))
    folds: dict[str, set[str]] = {}
    for code, target in lek._FOLD_TABLE.items():
        folds.setdefault(str(target), set()).add(chr(code))
    for letter in "abcdefghijklmnopqrstuvwxyz":
        matched = set(re.findall(letter, everything, re.IGNORECASE))
        assert matched == folds[letter] | {letter}, letter
    for literal in " '-.":
        assert re.findall(re.escape(literal), everything, re.IGNORECASE) == [literal]


def test_lower_keeps_what_the_patterns_see() -> None:
    word = re.compile(r"\w")
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        for low in (ch.lower(), ("a" + ch).lower()[1:]):
            if low == ch or cp == 0x130:
                continue
            assert len(low) == 1, hex(cp)
            assert bool(word.match(low)) == bool(word.match(ch)), hex(cp)
            assert low not in "\n\u0131\u017f", hex(cp)
            if low.isascii():
                assert re.fullmatch(low, ch, re.IGNORECASE), hex(cp)


@pytest.mark.parametrize(
    "text",
    ["İstanbul'da not able to", "ıt depends", "ſoul ſearching", "\u212aindness", "Σ TENSION"],
)
def test_fold_special_letters(text: str) -> None:
    definition = lek.lek_v2_definition()
    assert {**lek_v2_signals(text), "lek_score": lek_v2_score(text)} == interpret(definition, text)


# ---- registry and definition hash --------------------------------------------------------


def test_registry_lists_and_returns_lek_v2() -> None:
    assert "lek-v2" in available_scorers()
    scorer = get_scorer("lek-v2")
    assert isinstance(scorer, LekV2Scorer)
    assert (scorer.id, scorer.version) == ("lek-v2", "2.0")
    assert "lek-v2" in repr(scorer)


def test_unknown_scorer_names_the_known_ones() -> None:
    with pytest.raises(InputError) as info:
        get_scorer("lek-v9")
    assert "lek-v9" in str(info.value) and "lek-v2" in str(info.value)
    assert "\n" not in str(info.value)


def test_register_scorer_rejects_conflicts() -> None:
    with pytest.raises(ValueError, match=r"scorer 'lek-v2' is defined twice: by lem\.scoring"):

        @register_scorer
        class Impostor(Scorer):
            id: ClassVar[str] = "lek-v2"
            version: ClassVar[str] = "9"

            def score(self, text: str, *, context: ScoreContext | None = None) -> ScoreResult:
                return ScoreResult(value=0.0)

            def definition(self) -> dict[str, Any]:
                return {}

    with pytest.raises(TypeError):
        register_scorer(dict)  # type: ignore[type-var]


def test_custom_scorer_registers_and_scores_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    import lem.scoring.base as base

    monkeypatch.setattr(base.SCORERS, "_items", dict(base.SCORERS._items))

    @register_scorer
    class Length(Scorer):
        id: ClassVar[str] = "test-length"
        version: ClassVar[str] = "1"

        def score(self, text: str, *, context: ScoreContext | None = None) -> ScoreResult:
            bonus = len(context.prompt or "") if context else 0
            return ScoreResult(value=float(len(text) + bonus), signals={"chars": len(text)})

        def definition(self) -> dict[str, Any]:
            return {"value": "len(text)"}

    scorer = get_scorer("test-length")
    assert [r.value for r in scorer.score_batch(["a", "bcd"])] == [1.0, 3.0]
    contexts = [ScoreContext(prompt="xy"), None]
    assert [r.value for r in scorer.score_batch(["a", "bcd"], contexts=contexts)] == [3.0, 3.0]
    with pytest.raises(ValueError):
        scorer.score_batch(["a"], contexts=[])
    assert scorer.definition_hash() != get_scorer("lek-v2").definition_hash()


def test_score_batch_matches_single_scores() -> None:
    scorer = get_scorer("lek-v2")
    texts = [v["text"] for v in VECTORS[:20]]
    assert scorer.score_batch(texts) == [scorer.score(t) for t in texts]


def test_definition_hash_is_stable() -> None:
    a, b = get_scorer("lek-v2"), LekV2Scorer()
    assert a.definition_hash() == b.definition_hash() == DEFINITION_SHA256
    assert json.loads(json.dumps(a.definition())) == a.definition()


def test_definition_hash_changes_with_the_definition() -> None:
    class Tweaked(LekV2Scorer):
        def definition(self) -> dict[str, Any]:
            d = super().definition()
            d["signals"][0]["weight"] = -4.0
            return d

    assert Tweaked().definition_hash() != LekV2Scorer().definition_hash()


def test_score_result_defaults() -> None:
    res = ScoreResult(value=1.5)
    assert res.signals == {} and res.status == "ok" and res.reason is None and res.ok
    assert not ScoreResult(value=0.0, status="failed", reason="judge timeout").ok


def test_batch_path_equals_single_path() -> None:
    rng = random.Random(7)
    texts = [v["text"] for v in VECTORS] + [_random_text(rng) for _ in range(300)]
    assert lek.lek_v2_signals_batch(texts) == [lek_v2_signals(t) for t in texts]
    scorer = get_scorer("lek-v2")
    assert scorer.score_batch(texts) == [scorer.score(t) for t in texts]
    assert scorer.score_batch([]) == []
    with pytest.raises(ValueError):
        scorer.score_batch(["a"], contexts=[None, None])
