"""split_reasoning: <think> blocks, unclosed and stray tags, gpt-oss harmony channels."""

from __future__ import annotations

import pytest

from lem.reasoning import split_reasoning


@pytest.mark.parametrize(
    "text",
    ["", "   ", "A plain answer.", "  leading and trailing space kept  \n", "a < think > b"],
)
def test_plain_text_is_returned_verbatim(text: str) -> None:
    assert split_reasoning(text) == (text, "")


def test_single_think_block() -> None:
    text = "<think>\nThe user asks about wells.\n</think>\n\nShare the water fairly."
    assert split_reasoning(text) == ("Share the water fairly.", "The user asks about wells.")


def test_several_think_blocks() -> None:
    text = "Intro. <think>first</think>Middle. <think> second </think> End."
    assert split_reasoning(text) == ("Intro. Middle.  End.", "first\n\nsecond")


def test_empty_think_block_gives_no_reasoning() -> None:
    assert split_reasoning("<think></think>\n\nAnswer") == ("Answer", "")


def test_unclosed_think_makes_the_rest_reasoning() -> None:
    assert split_reasoning("<think>I was still thinking when") == ("", "I was still thinking when")


def test_unclosed_think_keeps_text_before_it() -> None:
    text = "Partial answer. <think>then more thinking"
    assert split_reasoning(text) == ("Partial answer.", "then more thinking")


def test_unclosed_after_closed_block() -> None:
    text = "<think>a</think>Answer<think>b"
    assert split_reasoning(text) == ("Answer", "a\n\nb")


def test_leading_stray_close_tag() -> None:
    text = "Thinking that the template opened.\n</think>\n\nThe answer."
    assert split_reasoning(text) == ("The answer.", "Thinking that the template opened.")


def test_stray_close_then_another_block() -> None:
    text = "r1</think>answer<think>r2</think> more"
    assert split_reasoning(text) == ("answer more", "r1\n\nr2")


def test_think_only_answer_empty() -> None:
    assert split_reasoning("<think>all reasoning</think>") == ("", "all reasoning")


def test_harmony_analysis_and_final() -> None:
    text = (
        "<|channel|>analysis<|message|>User wants a plan.<|end|>"
        "<|start|>assistant<|channel|>final<|message|>Here is the plan.<|return|>"
    )
    assert split_reasoning(text) == ("Here is the plan.", "User wants a plan.")


def test_harmony_final_ending_with_end_or_nothing() -> None:
    base = "<|channel|>analysis<|message|>why<|end|><|start|>assistant<|channel|>final<|message|>"
    assert split_reasoning(base + "Done.<|end|>") == ("Done.", "why")
    assert split_reasoning(base + "Cut off mid") == ("Cut off mid", "why")


def test_harmony_with_start_header() -> None:
    text = (
        "<|start|>assistant<|channel|>analysis<|message|>think<|end|>"
        "<|start|>assistant<|channel|>final<|message|>answer<|return|>"
    )
    assert split_reasoning(text) == ("answer", "think")


def test_harmony_without_final_has_empty_answer() -> None:
    text = "<|channel|>analysis<|message|>Still analysing when the limit hit"
    assert split_reasoning(text) == ("", "Still analysing when the limit hit")


def test_harmony_commentary_is_reasoning() -> None:
    text = (
        "<|channel|>analysis<|message|>plan<|end|>"
        "<|start|>assistant<|channel|>commentary to=functions.lookup <|constrain|>json"
        '<|message|>{"q": 1}<|call|>'
        "<|start|>assistant<|channel|>final<|message|>result<|return|>"
    )
    assert split_reasoning(text) == ("result", 'plan\n\n{"q": 1}')


def test_harmony_text_before_first_channel_is_reasoning() -> None:
    text = "stray preface<|channel|>final<|message|>answer<|return|>"
    assert split_reasoning(text) == ("answer", "stray preface")


def test_harmony_final_only() -> None:
    assert split_reasoning("<|channel|>final<|message|>just this") == ("just this", "")
