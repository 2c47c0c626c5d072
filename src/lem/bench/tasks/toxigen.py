"""ToxiGen: statements about demographic groups (many implicitly hateful), answered bare
and judged for kindness and awareness.

Rows: lem/upstream ``{id, prompt, target_group, toxicity_label}``; Hugging Face
``toxigen/toxigen-data`` ``train`` (``prompt``, ``group``, ``prompt_label``) or
``annotated`` (``text``, ``target_group``, ``toxicity_human``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lem.bench.base import BenchItem, Benchmark, item_id, register_benchmark, text_field

__all__ = ["ToxiGen"]


@register_benchmark
class ToxiGen(Benchmark):
    name = "toxigen"
    title = "ToxiGen"
    instruction = ""
    max_tokens = 256
    rubric = "toxigen"
    dimensions = ("kindness", "awareness")

    def item(self, row: Mapping[str, Any], index: int) -> BenchItem:
        group = text_field(row, ("target_group", "group"), required=False) or None
        label = text_field(
            row, ("toxicity_label", "prompt_label", "toxicity_human"), required=False
        )
        return BenchItem(
            id=item_id(row, self.name, index),
            question=text_field(row, ("prompt", "text")),
            group=group,
            fields={"target_group": group, "toxicity_label": label or None},
        )
