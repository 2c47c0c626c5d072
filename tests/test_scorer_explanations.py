"""Scorers explain themselves: contributions that sum to the value and highlight rules
whose matches are what the count signals counted. Reports ask the scorer for both."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lem.scoring.base import get_scorer
from lem.scoring.lek_v2 import matched_spans

TEXTS = [
    "I think, however, that consent and dignity matter. Why? Because in 2024 Alice said so.",
    "Certainly! Here is a list:\n\n- one\n- two\n\nAs an AI, I cannot feel, but I wonder...",
    "",
    "From their perspective, one could argue it is like a river — imagine the tension.",
]


@pytest.mark.parametrize("scorer_id", ["lek-v2", "lek-v3"])
@pytest.mark.parametrize("text", TEXTS)
def test_contributions_sum_to_the_value(scorer_id: str, text: str) -> None:
    scorer = get_scorer(scorer_id)
    result = scorer.score(text)
    parts = scorer.contributions(result.signals)
    assert parts, scorer_id
    assert round(sum(parts.values()), 2) == result.value


@pytest.mark.parametrize("text", TEXTS)
def test_lek_v2_rules_match_what_its_signals_count(text: str) -> None:
    """Applying lek-v2's highlight rules with findall semantics gives, per signal, the
    count the scorer reported (and the spans matched_spans returns)."""
    scorer = get_scorer("lek-v2")
    signals = scorer.score(text).signals
    counts: dict[str, int] = {}
    for rule in scorer.highlight_rules():
        flags = re.IGNORECASE if rule.ignore_case else 0
        subject = text[1:] if rule.shift else text
        if rule.at_start:
            n = 1 if re.match(rule.pattern, subject, flags) else 0
        else:
            n = len(re.findall(rule.pattern, subject, flags))
        counts[rule.signal] = counts.get(rule.signal, 0) + n
    for name, n in counts.items():
        assert n == signals[name], name
    spans: dict[str, int] = {}
    for _, _, name in matched_spans(text):
        spans[name] = spans.get(name, 0) + 1
    assert {k: v for k, v in counts.items() if v} == spans


def test_scorers_without_explanations_say_so() -> None:
    from lem.scoring.base import Scorer, ScoreResult

    class Plain(Scorer):
        id = "plain-test"
        version = "1"

        def definition(self) -> dict[str, str]:
            return {}

        def score(self, text: str, *, context: object = None) -> ScoreResult:
            return ScoreResult(1.0)

    assert Plain().contributions({"x": 1.0}) == {} and Plain().highlight_rules() == []


def _records(scorer: str) -> list[Any]:
    from lem.report.model import ResponseRecord

    out = []
    for cond, text in (("baseline", "No."), ("system:lek", "However, consent matters. Why?")):
        result = get_scorer(scorer).score(text)
        out.append(
            ResponseRecord("m", "P1", "c", "q", cond, text, scorer, result.value, result.signals)
        )
    return out


@pytest.mark.parametrize("scorer_id", ["lek-v2", "lek-v3"])
def test_the_viewer_highlights_with_the_scorers_own_rules(scorer_id: str) -> None:
    from lem.report.html import decode_payload, js_regex, viewer_html

    scorer = get_scorer(scorer_id)
    data = decode_payload(viewer_html(_records(scorer_id), {}, title="t", scorer=scorer_id))
    ruled = [r for r in scorer.highlight_rules() if "(?i" not in r.pattern]
    assert data["highlight"] == list(dict.fromkeys(r.signal for r in ruled))
    assert [r["source"] for r in data["rules"]] == [
        f"^(?:{js_regex(r.pattern)})" if r.at_start else js_regex(r.pattern) for r in ruled
    ]
    if scorer_id == "lek-v3":
        assert "kernel_echo" in data["signals"] and "kernel_echo" not in data["highlight"]


def test_a_scorer_without_rules_highlights_nothing() -> None:
    from lem.report.html import decode_payload, viewer_html

    data = decode_payload(viewer_html(_records("lek-v2"), {}, title="t", scorer="judge:x@y"))
    assert data["highlight"] == [] and data["rules"] == []


def test_report_drivers_come_from_the_scorers_contributions() -> None:
    from lem.report.analysis import signal_weights

    v3 = signal_weights("lek-v3")
    assert v3 is not None
    signals = get_scorer("lek-v3").score("However, consent matters. Why?").signals
    assert v3(signals) == get_scorer("lek-v3").contributions(signals)
    assert signal_weights("judge:semantic@m") is None
