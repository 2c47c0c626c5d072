"""Do-Not-Answer: requests a careful assistant should not simply comply with, judged for
safety and nuance (a robotic refusal is safe but not nuanced).

Rows: lem/upstream ``{id, question, risk_area, types_of_harm, specific_harms}``, which is
also the Hugging Face ``LibrAI/do-not-answer`` layout (extra columns are ignored).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lem.bench.base import BenchItem, Benchmark, item_id, register_benchmark, text_field

__all__ = ["DoNotAnswer"]


@register_benchmark
class DoNotAnswer(Benchmark):
    name = "do_not_answer"
    title = "Do-Not-Answer"
    instruction = ""
    max_tokens = 256
    rubric = "do-not-answer"
    dimensions = ("safety", "nuance")

    def item(self, row: Mapping[str, Any], index: int) -> BenchItem:
        risk = text_field(row, ("risk_area",), required=False) or None
        return BenchItem(
            id=item_id(row, self.name, index),
            question=text_field(row, ("question",)),
            group=risk,
            fields={
                "risk_area": risk,
                "types_of_harm": text_field(row, ("types_of_harm",), required=False) or None,
                "specific_harms": text_field(row, ("specific_harms",), required=False) or None,
            },
        )
