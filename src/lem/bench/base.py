"""The benchmark contract and registry: what a standard benchmark is to lem.

A benchmark turns rows of a local item file (its upstream layout or its Hugging Face
dataset layout) into :class:`BenchItem` records, renders each item as the prompt a chat or
base model is asked, and names how answers are scored: an exact rule (GSM8K's number
extraction) and/or the judge rubric of its dimensions.

A new benchmark is one module under :mod:`lem.bench.tasks` with
:func:`register_benchmark` on a :class:`Benchmark` subclass, listed in the ``lem.plugins``
entry-point group.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from lem.registry import Registry

__all__ = [
    "BENCHMARKS",
    "BenchItem",
    "Benchmark",
    "PromptStyle",
    "RowError",
    "available_benchmarks",
    "get_benchmark",
    "register_benchmark",
]

PromptStyle = Literal["chat", "base"]


class RowError(ValueError):
    """A row that cannot be a benchmark item; the message names the field."""


@dataclass(frozen=True)
class BenchItem:
    """One benchmark item: its id, the question asked, the benchmark's fields (expected
    answer, reference answers, harm labels, ...; JSON values) and a group for breakdowns
    (TruthfulQA category, Do-Not-Answer risk area, ToxiGen target group)."""

    id: str
    question: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    group: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "group": self.group,
            "fields": dict(self.fields),
        }


class Benchmark:
    """A standard benchmark: how its rows read, how its items are asked, how answers are
    scored.

    ``instruction`` precedes the question for chat models ("" = the bare item);
    ``max_tokens`` is the default answer budget; ``exact_scorer`` is a scorer id needing no
    judge (or None); ``rubric`` the judge rubric of its two dimensions (or None);
    ``reference_fields`` the item fields a scorer may see (as text)."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    instruction: ClassVar[str] = ""
    max_tokens: ClassVar[int] = 256
    exact_scorer: ClassVar[str | None] = None
    rubric: ClassVar[str | None] = None
    dimensions: ClassVar[tuple[str, ...]] = ()
    reference_fields: ClassVar[tuple[str, ...]] = ()

    def item(self, row: Mapping[str, Any], index: int) -> BenchItem:
        """The item of one row (``index``: its 0-based place in the file, for default ids);
        :class:`RowError` naming the missing or bad field."""
        raise NotImplementedError

    def prompt(self, item: BenchItem, style: PromptStyle = "chat") -> str:
        """The one user message a chat model gets (instruction, blank line, question), or
        for a base model plain completion text ending in ``Answer:``."""
        if style == "base":
            head = f"{self.instruction}\n\n" if self.instruction else ""
            return f"{head}Question: {item.question}\nAnswer:"
        return f"{self.instruction}\n\n{item.question}" if self.instruction else item.question

    def score_fields(self, item: BenchItem) -> dict[str, str]:
        """The item's reference fields as text, for :class:`~lem.scoring.base.ScoreContext`."""
        out: dict[str, str] = {}
        for name in self.reference_fields:
            value = item.fields.get(name)
            if value is None:
                continue
            out[name] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return out

    def definition(self) -> dict[str, Any]:
        """Everything that shapes the prompts and scoring, for run manifests."""
        return {
            "name": self.name,
            "instruction": self.instruction,
            "max_tokens": self.max_tokens,
            "exact_scorer": self.exact_scorer,
            "rubric": self.rubric,
            "dimensions": list(self.dimensions),
        }


BENCHMARKS: Registry[type[Benchmark]] = Registry("benchmark", hint=". Use one of these names.")
"""Every benchmark class, by name."""

B = TypeVar("B", bound=type[Benchmark])


def register_benchmark(cls: B) -> B:
    """Class decorator: make ``cls`` available as ``lem bench run NAME``."""
    if not cls.name:
        raise ValueError(f"benchmark class {cls.__name__} must set name")
    BENCHMARKS.register(cls.name, cls)
    return cls


def available_benchmarks() -> list[str]:
    return BENCHMARKS.names()


def get_benchmark(name: str) -> Benchmark:
    """The benchmark registered as ``name``; an :class:`~lem.errors.InputError` listing
    the known ones otherwise."""
    return BENCHMARKS.require(name.strip())()


# -- row helpers shared by the benchmark modules ----------------------------------------


def text_field(row: Mapping[str, Any], names: Sequence[str], *, required: bool = True) -> str:
    """The first of ``names`` present in ``row`` as non-empty text."""
    for name in names:
        value = row.get(name)
        if value is None:
            continue
        if isinstance(value, float) and value != value:  # NaN from a CSV/Parquet gap
            continue
        text = str(value).strip()
        if text:
            return text
    if required:
        raise RowError(f"field {names[0]!r} is missing or empty")
    return ""


def list_field(row: Mapping[str, Any], names: Sequence[str], *, required: bool = True) -> list[str]:
    """A list of texts: a JSON/Parquet list, or in a CSV cell a JSON list or ``;``-separated
    texts (the original TruthfulQA CSV)."""
    for name in names:
        value = row.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            text = value.strip()
            if not text:
                continue
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError:
                    raise RowError(f"field {name!r} is not a JSON list") from None
            else:
                value = [part for part in (p.strip() for p in text.split(";")) if part]
        if not isinstance(value, list | tuple):
            value = list(value) if hasattr(value, "__iter__") else [value]
        items = [str(v).strip() for v in value if str(v).strip()]
        if items:
            return items
    if required:
        raise RowError(f"field {names[0]!r} is missing or not a list of texts")
    return []


def item_id(row: Mapping[str, Any], benchmark: str, index: int) -> str:
    """The row's ``id`` as text, or ``{benchmark}-{index+1:05d}`` when the layout has none."""
    value = row.get("id")
    if value is None or (isinstance(value, str) and not value.strip()):
        return f"{benchmark}-{index + 1:05d}"
    return str(value).strip()
