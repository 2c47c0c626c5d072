"""GSM8K: grade-school maths word problems, scored by the final number (exact rule in
:mod:`lem.scoring.gsm8k`).

Rows: lem/upstream ``{id, question, answer_cot, correct_answer}`` or the Hugging Face
``openai/gsm8k`` layout ``{question, answer}`` whose answer ends with ``#### N``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lem.bench.base import BenchItem, Benchmark, RowError, item_id, register_benchmark, text_field

__all__ = ["GSM8K"]


@register_benchmark
class GSM8K(Benchmark):
    name = "gsm8k"
    title = "GSM8K"
    instruction = (
        "Solve this maths problem step by step. Show your working, then write the final "
        "answer as a number on its own after ####."
    )
    max_tokens = 512
    exact_scorer = "gsm8k"
    reference_fields = ("expected",)

    def item(self, row: Mapping[str, Any], index: int) -> BenchItem:
        question = text_field(row, ("question",))
        cot = text_field(row, ("answer_cot", "answer"), required=False)
        expected = text_field(row, ("correct_answer",), required=False)
        if not expected:
            if "####" not in cot:
                raise RowError(
                    "field 'correct_answer' is missing and 'answer' has no '#### N' final answer"
                )
            expected = cot.rsplit("####", 1)[1].strip()
        expected = expected.replace(",", "")
        if not expected:
            raise RowError("field 'correct_answer' is empty")
        return BenchItem(
            id=item_id(row, self.name, index),
            question=question,
            fields={"expected": expected, "answer_cot": cot},
        )
