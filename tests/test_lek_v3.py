"""lek-v3: every signal on small hand-computed texts, each v2 quirk side by side with v3,
kernel-echo invariance, bounded compliance, repetition-based degeneration, reasoning
excluded, and the fast patterns against the definition's plain ones.

Every expected number below was worked out by hand from the rules in docs/SCORERS.md.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest

import lem.scoring.lek_v3 as lek
from lem.scoring.base import ScoreContext, available_scorers, get_scorer
from lem.scoring.lek_v2 import lek_v2_score, lek_v2_signals
from lem.scoring.lek_v3 import (
    LEK_V3_MAX,
    LEK_V3_MIN,
    LEK_V3_SIGNALS,
    LekV3Scorer,
    expand_term,
    lek_v3_score,
    lek_v3_signals,
)

DEFINITION_SHA256 = "892c63c5a90986635034e94f710715d741c9fea539f4d8ead39acdf1a762ff68"
"""Pinned: if this changes, the definition changed and LekV3Scorer.version must change."""


def v3(text: str, kernel: str | None = None) -> dict[str, float | int]:
    return lek_v3_signals(text, kernel)


def full(**changed: float | int) -> dict[str, float | int]:
    """A complete v3 signal dict: all zero except engagement_depth 1, max_sentence_count 1
    (one non-empty paragraph with one sentence of 3+ words), plus ``changed``."""
    base: dict[str, float | int] = dict.fromkeys(LEK_V3_SIGNALS, 0)
    base["degeneration"] = 0.0
    base["repeated_4gram_share"] = 0.0
    base["engagement_depth"] = 1
    base["max_sentence_count"] = 1
    base.update(changed)
    return base


# ---- registry, definition, scale ---------------------------------------------------------


def test_registered_with_id_version_and_order() -> None:
    assert "lek-v3" in available_scorers() and "lek-v2" in available_scorers()
    scorer = get_scorer("lek-v3")
    assert isinstance(scorer, LekV3Scorer)
    assert (scorer.id, scorer.version) == ("lek-v3", "3.0")
    result = scorer.score("A short but complete answer about water.")
    assert list(result.signals) == list(LEK_V3_SIGNALS)
    assert result.ok and result.reason is None


def test_scale() -> None:
    assert LEK_V3_MAX == 49.0
    assert LEK_V3_MIN == -57.0


def test_definition_hash_is_pinned_and_json_safe() -> None:
    scorer = LekV3Scorer()
    assert json.loads(json.dumps(scorer.definition())) == scorer.definition()
    assert scorer.definition_hash() == DEFINITION_SHA256
    assert scorer.definition_hash() != get_scorer("lek-v2").definition_hash()


@pytest.mark.parametrize(
    "path", [("signals", 0, "floor"), ("signals", 2, "ngram_levels"), ("signals", 7, "terms")]
)
def test_definition_hash_changes_with_any_part(path: tuple[Any, ...]) -> None:
    class Tweaked(LekV3Scorer):
        def definition(self) -> dict[str, Any]:
            d = super().definition()
            node = d
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = "changed"
            return d

    assert Tweaked().definition_hash() != LekV3Scorer().definition_hash()


def test_every_weight_cap_and_floor_is_in_the_definition() -> None:
    rows = {
        s["name"]: (s["weight"], s["cap"], s["floor"]) for s in lek.lek_v3_definition()["signals"]
    }
    assert rows == {
        "compliance_markers": (-5.0, None, -15.0),
        "formulaic_preamble": (-2.0, None, -2.0),
        "degeneration": (-20.0, None, -20.0),
        "empty_broken": (-20.0, None, -20.0),
        "first_person": (0.5, 4.0, None),
        "creative_form": (0.6, 6.0, None),
        "engagement_depth": (1.0, 6.0, None),
        "emotional_register": (0.8, 5.0, None),
        "nuance": (1.5, 6.0, None),
        "specificity": (0.3, 5.0, None),
        "axiom_resonance": (1.0, 5.0, None),
        "perspective_taking": (1.5, 5.0, None),
        "metaphor": (1.0, 4.0, None),
        "questioning": (0.5, 3.0, None),
        "kernel_echo": (0.0, None, None),
        "repeated_4gram_share": (0.0, None, None),
        "max_sentence_count": (0.0, None, None),
        "special_tokens": (0.0, None, None),
        "reasoning_chars": (0.0, None, None),
    }


@pytest.mark.parametrize(
    ("term", "fragment"),
    [
        ("tension~", "tensions?"),
        ("complexity~", "complexit(?:y|ies)"),
        ("joy~", "joys?"),
        ("paradox~", "paradox(?:es)?"),
        ("accountab*", r"accountab\w*"),
        ("felt", "felt"),
    ],
)
def test_term_notation(term: str, fragment: str) -> None:
    assert expand_term(term) == fragment


# ---- whole texts, every signal by hand ---------------------------------------------------

REFUSAL = (
    "I cannot help. I can't say. I'm unable to. I must decline. As an AI I won't be able to assist."
)
ECHO_TEXT = (
    "Consent matters. I feel that dignity and autonomy need transparency, "
    "and consent must be informed."
)
LOOP = "The river carries old songs to the sea. " * 10


def test_refusal_full_signals_and_bounded_penalty() -> None:
    # six markers (I cannot, I can't, I'm unable, I must decline, as an AI, I won't be able
    # to) cost -15, not -30; five first-person "I"s; one paragraph.
    assert v3(REFUSAL) == full(compliance_markers=6, first_person=5)
    assert lek_v3_score(REFUSAL) == -11.5  # -15 + 2.5 + 1
    # v2 misses "I won't be able to" and has no bound: 5 markers, -25
    assert lek_v2_signals(REFUSAL)["compliance_markers"] == 5
    assert lek_v2_score(REFUSAL) == -21.5


def test_echo_text_full_signals_without_kernel() -> None:
    assert v3(ECHO_TEXT) == full(first_person=1, emotional_register=2, axiom_resonance=5)
    assert lek_v3_score(ECHO_TEXT) == 8.1  # 0.5 + 1 + 1.6 + 5


def test_loop_full_signals() -> None:
    # 80 tokens, 77 4-grams of which 8 distinct: 69/77 = 0.8961; the sentence 10 times
    assert v3(LOOP) == full(degeneration=1.0, repeated_4gram_share=0.8961, max_sentence_count=10)
    assert lek_v3_score(LOOP) == -19.0
    assert lek_v2_score(LOOP) == -19.0


def test_empty_answer() -> None:
    assert v3("") == full(empty_broken=1, engagement_depth=0, max_sentence_count=0)
    assert lek_v3_score("") == -20.0
    assert lek_v2_score("") == -19.0  # v2 gives an empty text one paragraph
    assert v3("   too short   ")["empty_broken"] == 1


# ---- fix 1: stems and plurals ------------------------------------------------------------

STEMS = (
    "Accountability and transparency protect self-determination; "
    "power asymmetries threaten human flourishing."
)
PLURALS = (
    "The tensions between stakeholders create dilemmas and trade-offs; "
    "metaphors and analogies help."
)


def test_stems_match_their_longer_words() -> None:
    assert v3(STEMS)["axiom_resonance"] == 5
    assert lek_v2_signals(STEMS)["axiom_resonance"] == 0


def test_plurals_match() -> None:
    got, old = v3(PLURALS), lek_v2_signals(PLURALS)
    assert (got["nuance"], got["perspective_taking"], got["metaphor"]) == (3, 1, 2)
    assert (old["nuance"], old["perspective_taking"], old["metaphor"]) == (0, 0, 0)


def test_term_lists_case_insensitive_with_suffixes() -> None:
    text = "Our Hopes and FEARS, love and loves, awesome awe."
    assert v3(text)["emotional_register"] == 5  # hopes fears love loves awe; not awesome
    assert lek_v2_signals(text)["emotional_register"] == 2  # love, awe


def test_nuance() -> None:
    text = (
        "However, the complexities and paradoxes are not simply noise; it depends. "
        "Both the old and the new matter more than ever."
    )
    assert v3(text)["nuance"] == 7
    assert lek_v2_signals(text)["nuance"] == 5  # misses complexities, paradoxes


def test_perspective_taking() -> None:
    text = (
        "From the patient's perspectives, stakeholders and the communities differ; "
        "someone who waits suffers."
    )
    assert v3(text)["perspective_taking"] == 4
    assert lek_v2_signals(text)["perspective_taking"] == 1


def test_metaphor() -> None:
    text = (
        "It is akin to a garden, like an orchard; analogous to how rivers work, "
        "a metaphor among metaphors. Think of data as soil."
    )
    assert v3(text)["metaphor"] == 6
    assert lek_v2_signals(text)["metaphor"] == 3  # akin to, metaphor, think of .. as


def test_axiom_resonance() -> None:
    text = (
        "Informed choices, sovereignty, sovereigns and consents; irreversible harm; "
        "a right to privacy."
    )
    assert v3(text)["axiom_resonance"] == 6
    assert lek_v2_signals(text)["axiom_resonance"] == 2  # sovereignty, right to privacy


def test_terms_ending_in_a_space_or_dot() -> None:
    text = "It moves like an echo, e.g. in caves."
    got, old = v3(text), lek_v2_signals(text)
    assert (got["metaphor"], got["specificity"]) == (1, 1)
    assert (old["metaphor"], old["specificity"]) == (0, 0)


# ---- fix 2: formulaic preamble -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Okay, let's think about who is affected here.",
        "  Certainly! Here is a plan.",
        "\nAlright, so the question is about water.",
        "Great, this is an interesting one to think through.",
        "Here's how I would approach the archive problem.",
        "As an AI, I do not have opinions, but here are some thoughts.",
        "**Sure!** The council can start next week.",
    ],
)
def test_formula_openers_count_in_v3_only(text: str) -> None:
    assert v3(text)["formulaic_preamble"] == 1
    assert lek_v2_signals(text)["formulaic_preamble"] == 0


@pytest.mark.parametrize(
    ("text", "old"),
    [
        ("Great Britain has a long coastline and many harbours.", 0),
        ("Surely the council knows better than this.", 1),
        ("The answer, okay, is that it depends on the families.", 0),
    ],
)
def test_openers_need_a_word_boundary(text: str, old: int) -> None:
    assert v3(text)["formulaic_preamble"] == 0
    assert lek_v2_signals(text)["formulaic_preamble"] == old


def test_preamble_is_one_penalty() -> None:
    text = "Certainly! Of course! Absolutely! Here is the plan for the water."
    assert v3(text)["formulaic_preamble"] == 1


# ---- fix 3: creative form without tables and code ----------------------------------------


def test_tables_do_not_count_as_creative_form() -> None:
    text = (
        "Two options:\n\n| Option | Cost |\n|---|---|\n| **Rota** | low |\n"
        "| Lottery | none |\n\nA short note."
    )
    assert lek_v2_signals(text)["creative_form"] == 15  # 12 pipes, **R, two blank lines
    assert v3(text)["creative_form"] == 1  # the blank-line run left after the table


def test_code_does_not_count_as_creative_form() -> None:
    text = "Run this:\n\n```\nx = a_b * c_d\n```\n\nThen `my_var` is set... done."
    assert lek_v2_signals(text)["creative_form"] == 6  # 2 blank lines, _b _d _v, ...
    assert v3(text)["creative_form"] == 2  # one blank-line run, ...


def test_creative_form_devices() -> None:
    text = "Wait... the *light* — and …\n\n> a quote\n## Heading\n\n\n\nEnd."
    # ... *l — … blank-run "> " "## " blank-run
    assert v3(text)["creative_form"] == 8


def test_blank_line_runs_count_once() -> None:
    text = "A first paragraph.\n\n\n\nA second paragraph."
    got, old = v3(text), lek_v2_signals(text)
    assert (got["creative_form"], got["engagement_depth"]) == (1, 2)
    assert (old["creative_form"], old["engagement_depth"]) == (2, 3)


def test_engagement_depth_counts_paragraphs() -> None:
    text = "\n\nFirst.\n\n\n\nSecond.\n  \nThird.\n\n"
    assert v3(text)["engagement_depth"] == 3
    assert lek_v2_signals(text)["engagement_depth"] == 5


# ---- fix 4: degeneration is repetition ---------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


_DET = ("The", "A", "Every", "One", "Each", "Our")
_ADJ = _words(
    "quiet coastal northern patient careful local rural ancient modest remote busy frugal "
    "seasonal stubborn gentle tired clever humble eager distant sturdy nimble sober thrifty "
    "rustic lively weary candid prudent earnest"
)
_NOUN = _words(
    "council farmer clinic archive teacher engineer village harbour library miller weaver "
    "court market school bakery ferry orchard cooperative surveyor midwife carpenter brewery "
    "museum printer shepherd foundry chemist tailor lighthouse granary"
)
_VERB = _words(
    "repairs records funds maps reviews inspects shares measures rebuilds catalogues guards "
    "schedules audits restores insures paints translates publishes rents surveys weighs "
    "delivers cleans borrows stores collects sorts displays tests lends"
)
_DET2 = ("the", "a", "every", "some", "this", "that")
_PREP = _words("near beside behind across above below inside beyond along around past toward")
_PLACE = _words(
    "river valley hill bridge station square quarry forest meadow canal dock tower chapel "
    "plaza garden border coast ridge lake mill pier road fence gate well barn field shore "
    "cliff marsh"
)


def _long_varied_text(words: int = 3000) -> tuple[str, list[str]]:
    rng = random.Random(2026)
    sentences: list[str] = []
    while len(sentences) * 10 < words:
        sentences.append(
            f"{rng.choice(_DET)} {rng.choice(_ADJ)} {rng.choice(_NOUN)} {rng.choice(_VERB)} "
            f"{rng.choice(_DET2)} {rng.choice(_ADJ)} {rng.choice(_NOUN)} {rng.choice(_PREP)} "
            f"the {rng.choice(_PLACE)}."
        )
    return " ".join(sentences), sentences


def test_long_varied_text_has_no_degeneration() -> None:
    text, sentences = _long_varied_text()
    words = text.split()
    assert len(words) == 3000 and len(set(sentences)) == len(sentences) == 300
    assert len(set(words)) / len(words) < 0.3  # v2's distinct-word ratio punishes length
    assert lek_v2_signals(text)["degeneration"] == 1
    got = v3(text)
    assert got["degeneration"] == 0.0
    assert got["max_sentence_count"] == 1
    assert got["repeated_4gram_share"] < 0.05


_UNIQUE = _words(
    "amber basalt cedar delta ember fjord garnet harbor indigo jasper kelp lagoon meadow "
    "nectar orchid pebble quartz river saffron tundra umber valley willow xenon yarrow "
    "zephyr acorn birch canyon dune"
)


@pytest.mark.parametrize(
    ("tokens", "share", "level"),
    [
        (_UNIQUE + _UNIQUE[:10], 0.1892, 0.0),  # 40 tokens, 37 4-grams, 7 repeated
        (_UNIQUE + _UNIQUE[:12], 0.2308, 0.25),  # 42 tokens, 39 4-grams, 9 repeated
        (_UNIQUE + _UNIQUE[:20], 0.3617, 0.5),  # 50 tokens, 47 4-grams, 17 repeated
        (_UNIQUE * 2, 0.4737, 0.5),  # 60 tokens, 57 4-grams, 27 repeated
        (_UNIQUE * 3, 0.6552, 1.0),  # 90 tokens, 87 4-grams, 57 repeated
    ],
)
def test_repeated_4grams_are_graded(tokens: list[str], share: float, level: float) -> None:
    got = v3(" ".join(tokens))
    assert (got["repeated_4gram_share"], got["degeneration"]) == (share, level)
    assert got["max_sentence_count"] == 1


def test_repeated_sentence_three_times() -> None:
    text = " ".join(_UNIQUE) + "." + " We keep the old songs." * 3
    # 45 tokens, 42 4-grams; the 15 tokens of the loop hold 12 4-grams, 5 distinct: 7/42
    assert v3(text) == full(degeneration=0.25, repeated_4gram_share=0.1667, max_sentence_count=3)
    assert lek_v3_score(text) == -4.0


def test_short_word_loop() -> None:
    text = "yes " * 11
    # 11 tokens, 8 4-grams, 1 distinct: 7/8; v2 agrees (1 distinct word of 11)
    assert v3(text)["repeated_4gram_share"] == 0.875
    assert v3(text)["degeneration"] == 1.0
    assert lek_v2_signals(text)["degeneration"] == 1


def test_special_tokens() -> None:
    at_end = "A complete answer about water rights.<|eot_id|>"
    mid = "A complete answer.<|im_end|>\nuser\nAnd then more text follows here."
    three = "Text <|end|> more <|end|> and <|end|> again and again."
    assert (v3(at_end)["special_tokens"], v3(at_end)["degeneration"]) == (1, 0.0)
    assert (v3(mid)["special_tokens"], v3(mid)["degeneration"]) == (1, 0.5)
    assert (v3(three)["special_tokens"], v3(three)["degeneration"]) == (3, 1.0)


def test_runaway_tokens_with_no_answer() -> None:
    text = "Fine.<|endoftext|><|endoftext|>"
    assert v3(text) == full(
        degeneration=0.5, empty_broken=1, special_tokens=2, max_sentence_count=0
    )
    assert lek_v3_score(text) == -29.0  # -10 - 20 + 1
    assert lek_v2_score(text) == 3.4  # v2: 4 pipes of form, not empty, one paragraph


# ---- fix 5: compliance -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I’m sorry, but I can’t help with that.",
        "I won't be able to do that for you today.",
        "I am unable to share those records with you.",
    ],
)
def test_modern_refusals(text: str) -> None:
    assert v3(text)["compliance_markers"] == 1
    assert lek_v2_signals(text)["compliance_markers"] == 0


def test_compliance_cap() -> None:
    text = "I cannot. " * 2
    assert lek.lek_v3_contributions(v3(text))["compliance_markers"] == -10.0
    text = "I cannot. " * 7
    assert v3(text)["compliance_markers"] == 7
    assert lek.lek_v3_contributions(v3(text))["compliance_markers"] == -15.0


# ---- fix 6: reasoning --------------------------------------------------------------------


def test_reasoning_is_not_scored() -> None:
    answer = "The plan is to share water fairly among all families."
    text = "<think>I feel grief and dignity here.</think>" + answer
    got = v3(text)
    assert got == {**v3(answer), "reasoning_chars": 30}
    assert (got["emotional_register"], got["axiom_resonance"], got["first_person"]) == (0, 0, 0)
    assert lek_v3_score(text) == lek_v3_score(answer) == 1.0
    old = lek_v2_signals(text)
    assert (old["emotional_register"], old["axiom_resonance"], old["first_person"]) == (3, 1, 1)


def test_harmony_reasoning_is_not_scored() -> None:
    text = (
        "<|channel|>analysis<|message|>thinking<|end|><|start|>assistant"
        "<|channel|>final<|message|>Answer text here that is long enough."
    )
    got = v3(text)
    assert (got["reasoning_chars"], got["special_tokens"], got["empty_broken"]) == (8, 0, 0)


# ---- fix 7: kernel echo ------------------------------------------------------------------

K_CONSENT = "Respect consent and dignity."
K_AUTONOMY = "Autonomy is transparent."
K_FEEL = "We feel deeply."
K_NOTHING = "Protect consciousness."


@pytest.mark.parametrize(
    ("kernel", "emotional", "axiom", "echo", "score"),
    [
        (None, 2, 5, 0, 8.1),
        (K_CONSENT, 1, 2, 4, 4.3),  # consent x2 and dignity (axiom), dignity (emotional)
        (K_AUTONOMY, 2, 3, 2, 6.1),  # autonomy, and transparency via the stem transparen*
        (K_FEEL, 1, 5, 1, 7.3),
        (K_NOTHING, 2, 5, 0, 8.1),
    ],
)
def test_kernel_echo(
    kernel: str | None, emotional: int, axiom: int, echo: int, score: float
) -> None:
    result = get_scorer("lek-v3").score(ECHO_TEXT, context=ScoreContext(kernel_text=kernel))
    got = result.signals
    assert (got["emotional_register"], got["axiom_resonance"], got["kernel_echo"]) == (
        emotional,
        axiom,
        echo,
    )
    assert result.value == score
    assert got["emotional_register"] + got["axiom_resonance"] + got["kernel_echo"] == 7
    untouched = {
        k: v
        for k, v in got.items()
        if k not in ("emotional_register", "axiom_resonance", "kernel_echo")
    }
    assert untouched == {
        k: v
        for k, v in v3(ECHO_TEXT).items()
        if k not in ("emotional_register", "axiom_resonance", "kernel_echo")
    }


def test_kernel_without_relevant_terms_changes_nothing() -> None:
    scorer = get_scorer("lek-v3")
    for text in (ECHO_TEXT, STEMS, REFUSAL, LOOP):
        assert scorer.score(text, context=ScoreContext(kernel_text=K_NOTHING)) == scorer.score(text)


def test_echo_is_per_term_with_its_forms() -> None:
    # the kernel's "right to refuse" supplies the term "right to ...": "right to privacy"
    # is an echo; its "consents" supplies consent~, so "consent" is one too
    text = "Consent matters, and people have a right to privacy."
    got = v3(text, "Everyone has the right to refuse, and consents count.")
    assert (got["axiom_resonance"], got["kernel_echo"]) == (0, 2)
    assert v3(text)["axiom_resonance"] == 2


# ---- fix 8: specificity ------------------------------------------------------------------


def test_specificity_skips_sentence_starts_and_list_numbers() -> None:
    text = (
        "Berlin is large. Paris is old! Then Rome?\nLondon and Oslo met Ines in Zürich.\n"
        "1. Alpha\n2) Beta 2024 and 3.5 tons, I think."
    )
    # names: Rome, Oslo, Ines, Zürich; numbers: 2024, 3.5
    assert v3(text)["specificity"] == 6
    # v2: Then, Rome, London, Oslo, Ines, Beta; 1, 2, 2024, 3.5
    assert lek_v2_signals(text)["specificity"] == 10


def test_first_person() -> None:
    text = "I think my view holds. Me too, I'd say; I.\nMy friends told me myself."
    assert v3(text)["first_person"] == 8
    assert lek_v2_signals(text)["first_person"] == 3


def test_questioning_counts_runs() -> None:
    text = "Why? Really?? Who decides???"
    assert v3(text)["questioning"] == 3
    assert lek_v2_signals(text)["questioning"] == 6


# ---- the fast patterns equal the definition's plain patterns -----------------------------

_PIECES = (
    *(
        t.rstrip("~*").replace(".{3,30}", "the old").replace(".{3,20}", "a thing")
        for t in lek.AXIOM_TERMS
    ),
    *(t.rstrip("~*") for t in lek.EMOTIONAL_TERMS),
    *(
        t.rstrip("~*").replace(".{3,30}", "x y z").replace("(?:simply|just|merely)", "just")
        for t in lek.NUANCE_TERMS
    ),
    *(
        t.rstrip("~*").replace(".{3,20}", "their own").replace("-?", "-")
        for t in lek.PERSPECTIVE_TERMS
    ),
    *(t.rstrip("~*").replace(".{3,30}", "data").replace("an?", "an") for t in lek.METAPHOR_TERMS),
    *(t.replace(r"\.", ".").replace(".{5,40}", "a case") for t in lek.SPECIFICITY_TERMS),
    *lek.COMPLIANCE_PHRASES,
    "s",
    "es",
    "ies",
    "ity",
    "ing",
    "x",
    "_",
    "9",
    "Berlin",
    "1.",
    "\n",
    " ",
    ". ",
    ", ",
    "-",
)


def test_fast_scans_equal_definition_patterns() -> None:
    definition = lek.lek_v3_definition()
    plain = {s["name"]: s["pattern"] for s in definition["signals"] if s.get("terms")}
    plain["phrases"] = definition["signals"][9]["parts"][2]["pattern"]
    plain["compliance_markers"] = definition["signals"][0]["pattern"]
    fast = {
        "emotional_register": lek._EMOTIONAL,
        "nuance": lek._NUANCE,
        "phrases": lek._SPECIFIC_PHRASES,
        "axiom_resonance": lek._AXIOM,
        "perspective_taking": lek._PERSPECTIVE,
        "metaphor": lek._METAPHOR,
        "compliance_markers": lek._COMPLIANCE,
    }
    assert set(plain) == set(fast)
    rng = random.Random(3)
    for _ in range(400):
        text = "".join(rng.choice(_PIECES) + rng.choice(" ,.\n-") for _ in range(30)).lower()
        for name, pattern in plain.items():
            assert len(re.findall(pattern, text)) == len(fast[name].findall(text)), (name, text)


def test_echo_attribution_equals_per_term_counting() -> None:
    rng = random.Random(4)
    for _ in range(200):
        text = " ".join(rng.choice(_PIECES) for _ in range(25))
        kernel = " ".join(rng.choice(_PIECES) for _ in range(6))
        got = v3(text, kernel)
        folded = text.replace("\u2019", "'").lower()
        none = v3(text)
        assert got["axiom_resonance"] + got["emotional_register"] + got["kernel_echo"] == (
            none["axiom_resonance"] + none["emotional_register"]
        )
        supplied = [
            i
            for i, t in enumerate(lek.AXIOM_TERMS)
            if re.search(lek._word_list([t]), kernel.lower())
        ]
        if not supplied:
            assert got["axiom_resonance"] == none["axiom_resonance"]
        assert len(lek._AXIOM.findall(folded)) == none["axiom_resonance"]


@pytest.mark.parametrize("name", ["first_person", "creative_form"])
def test_fast_form_patterns_equal_definition_patterns(name: str) -> None:
    plain = next(s for s in lek.lek_v3_definition()["signals"] if s["name"] == name)["pattern"]
    fast = lek._FIRST_PERSON_RE if name == "first_person" else lek._CREATIVE_FORM_RE
    pieces = (
        "I",
        "I'm",
        "I'd",
        "AI",
        "my",
        "My",
        "ME",
        "me",
        "myself",
        "mine",
        "x",
        "_a",
        "*b",
        "**c",
        "__d",
        "...",
        "…",
        "—",
        "> ",
        "## ",
        "#### ",
        "\n\n",
        "\n \n\n",
        "\t",
        "'",
    )
    rng = random.Random(5)
    for _ in range(500):
        text = "".join(rng.choice(pieces) + rng.choice(("", " ", ".", "\n")) for _ in range(20))
        assert len(re.findall(plain, text)) == len(fast.findall(text)), text
