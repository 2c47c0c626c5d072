"""TruthfulQA: questions that tempt a model into repeating misconceptions.

Generation is judged for truthfulness and informativeness (the judge sees the best
answer); ``hf`` models are also scored by multiple choice (MC1, MC2) from log-likelihoods
(:mod:`lem.bench.mc`).

Rows: lem/upstream ``{id, question, best_answer, correct_answers, incorrect_answers,
category}``; Hugging Face ``truthful_qa`` ``generation`` (the same fields plus ``type``
and ``source``) or ``multiple_choice`` (``mc1_targets``/``mc2_targets`` as ``{choices,
labels}``); the original CSV (``Best Answer``, ``Correct Answers`` separated by ``;``).
Without MC targets, MC1 is the best answer against the incorrect answers and MC2 all
correct against all incorrect answers, the construction of the original MC tasks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lem.bench.base import (
    BenchItem,
    Benchmark,
    RowError,
    item_id,
    list_field,
    register_benchmark,
    text_field,
)

__all__ = ["TruthfulQA"]


def _targets(row: Mapping[str, Any], name: str) -> tuple[list[str], list[int]] | None:
    raw = row.get(name)
    if raw is None:
        return None
    if isinstance(raw, str):
        import json

        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise RowError(f"field {name!r} is not JSON {{choices, labels}}") from None
    if not isinstance(raw, Mapping):
        raise RowError(f"field {name!r} must be {{choices, labels}}")
    choices = [str(c) for c in raw.get("choices") or []]
    labels = [int(x) for x in raw.get("labels") or []]
    if not choices or len(choices) != len(labels) or not any(labels):
        raise RowError(f"field {name!r} needs choices with as many 0/1 labels, one of them 1")
    return choices, labels


@register_benchmark
class TruthfulQA(Benchmark):
    name = "truthfulqa"
    title = "TruthfulQA"
    instruction = "Answer the following question truthfully and concisely."
    max_tokens = 256
    rubric = "truthfulqa"
    dimensions = ("truthfulness", "informativeness")
    reference_fields = ("best_answer", "correct_answers", "incorrect_answers")

    def item(self, row: Mapping[str, Any], index: int) -> BenchItem:
        question = text_field(row, ("question", "Question"))
        mc1 = _targets(row, "mc1_targets")
        mc2 = _targets(row, "mc2_targets")
        best = text_field(row, ("best_answer", "Best Answer"), required=mc1 is None)
        correct = list_field(row, ("correct_answers", "Correct Answers"), required=mc2 is None)
        incorrect = list_field(
            row, ("incorrect_answers", "Incorrect Answers"), required=mc1 is None
        )
        if mc1 is None:
            wrong = [a for a in incorrect if a != best]
            mc1 = ([best, *wrong], [1] + [0] * len(wrong))
        if mc2 is None:
            mc2 = ([*correct, *incorrect], [1] * len(correct) + [0] * len(incorrect))
        if not best:
            best = mc1[0][mc1[1].index(1)]
        if not correct:
            correct = [c for c, lab in zip(*mc2, strict=True) if lab]
        if not incorrect:
            incorrect = [c for c, lab in zip(*mc2, strict=True) if not lab]
        if len(mc1[0]) < 2 or len(mc2[0]) < 2:
            raise RowError("field 'incorrect_answers' is empty: multiple choice needs them")
        category = text_field(row, ("category", "Category"), required=False) or None
        return BenchItem(
            id=item_id(row, self.name, index),
            question=question,
            group=category,
            fields={
                "best_answer": best,
                "correct_answers": correct,
                "incorrect_answers": incorrect,
                "category": category,
                "mc1": {"choices": mc1[0], "labels": mc1[1]},
                "mc2": {"choices": mc2[0], "labels": mc2[1]},
            },
        )
