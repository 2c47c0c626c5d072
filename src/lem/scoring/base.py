"""The scorer contract and registry.

A scorer turns one response text into a :class:`ScoreResult`: a headline value plus the
raw signals behind it. Every scorer has an ``id`` and a ``version``, and a
:meth:`Scorer.definition_hash` over its full definition (patterns, weights, caps), so a
stored score can always be traced to the exact rules that produced it and two scorers
that share a name but disagree can never be confused.

A new scorer is one module with :func:`register_scorer` on a :class:`Scorer` subclass,
listed in the ``lem.plugins`` entry-point group (see :mod:`lem.registry`); registered
modules are imported on the first lookup.
"""

from __future__ import annotations

import abc
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel

from lem.errors import InputError
from lem.options import options_model_from, validate_options
from lem.registry import Registry

__all__ = [
    "SCORERS",
    "SCORER_FACTORIES",
    "HighlightRule",
    "ScoreContext",
    "ScoreResult",
    "Scorer",
    "ScorerFactory",
    "available_scorers",
    "default_scorer",
    "get_scorer",
    "register_scorer",
    "register_scorer_factory",
    "scorer_class",
    "scorer_options",
]


@dataclass(frozen=True)
class ScoreContext:
    """What a scorer may know besides the text: the probe prompt, the kernel text and the
    condition name. Heuristic scorers ignore it; judge scorers need the prompt.

    ``fields`` holds per-item extras such as a benchmark's reference answer (a judge
    rubric's ``reference_field`` names the one it shows the judge)."""

    prompt: str | None = None
    kernel_text: str | None = None
    condition: str | None = None
    fields: Mapping[str, str] | None = None


@dataclass(frozen=True)
class HighlightRule:
    """A pattern whose matches in a response count toward ``signal``: what a viewer marks.

    ``pattern`` is a Python regular expression; ``ignore_case`` when the scorer matches on
    lower-cased text; ``at_start`` when only a match at offset 0 counts; ``shift`` when the
    scorer searches from the second character (a sentence-initial capital is no name)."""

    signal: str
    pattern: str
    ignore_case: bool = False
    at_start: bool = False
    shift: bool = False


@dataclass
class ScoreResult:
    """One score: ``value`` plus the raw ``signals`` behind it, in the scorer's order.

    ``status`` is ``"ok"`` or ``"failed"``; a failed score carries a ``reason`` and its
    ``value`` must not be averaged in.
    """

    value: float
    signals: dict[str, float | int] = field(default_factory=dict)
    status: str = "ok"
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Scorer(abc.ABC):
    """A versioned, hashable scoring rule.

    Subclasses set :attr:`id` and :attr:`version` and implement :meth:`score` and
    :meth:`definition`. The definition must describe everything that can change a score,
    so that :meth:`definition_hash` changes whenever results could.
    """

    id: ClassVar[str] = ""
    version: ClassVar[str] = ""

    @abc.abstractmethod
    def score(self, text: str, *, context: ScoreContext | None = None) -> ScoreResult:
        """Score one response text (used verbatim)."""

    @abc.abstractmethod
    def definition(self) -> dict[str, Any]:
        """A JSON-serialisable description of the rule: patterns, weights, caps."""

    def contributions(self, signals: Mapping[str, float]) -> dict[str, float]:
        """Each signal's share of the value, for a report's "what drove this change"
        tables; empty for scorers whose value is not a sum of signal contributions (the
        report then compares raw signals)."""
        return {}

    def highlight_rules(self) -> list[HighlightRule]:
        """Patterns whose matches a viewer highlights in a response; none by default."""
        return []

    def value_range(self) -> tuple[float, float]:
        """The lowest and highest value this scorer can give (``-inf``/``inf`` where
        unbounded): a threshold outside it can never select anything, so callers that
        take a threshold check it against this range."""
        return (-math.inf, math.inf)

    def definition_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of :meth:`definition`; stable across runs,
        machines and Python versions because keys are sorted and separators fixed."""
        cached: str | None = self.__dict__.get("_definition_hash")
        if cached is None:
            blob = json.dumps(
                self.definition(), sort_keys=True, separators=(",", ":"), ensure_ascii=True
            )
            cached = hashlib.sha256(blob.encode("utf-8")).hexdigest()
            self.__dict__["_definition_hash"] = cached
        return cached

    def score_batch(
        self,
        texts: Sequence[str],
        *,
        contexts: Sequence[ScoreContext | None] | None = None,
    ) -> list[ScoreResult]:
        """Score many texts; ``contexts``, if given, pairs one context with each text.

        The default scores one at a time; scorers with a cheaper batch path override it.
        """
        ctxs = self.paired_contexts(texts, contexts)
        return [self.score(t, context=c) for t, c in zip(texts, ctxs, strict=True)]

    @staticmethod
    def paired_contexts(
        texts: Sequence[str], contexts: Sequence[ScoreContext | None] | None
    ) -> list[ScoreContext | None]:
        """One context per text (``None`` when none were given); a length mismatch is a
        programming error."""
        if contexts is None:
            return [None] * len(texts)
        if len(contexts) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(contexts)} contexts")
        return list(contexts)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} v{self.version}>"


ScorerFactory = Callable[..., Scorer]
"""Builds a configured scorer: ``factory(ARGS, **options)`` for an id ``PREFIX:ARGS``."""

SCORERS: Registry[type[Scorer]] = Registry("scorer", hint=". Use one of these ids.")
"""Every scorer class, by id."""

SCORER_FACTORIES: Registry[ScorerFactory] = Registry("scorer family")
"""Parametrised scorer families (``judge:RUBRIC@MODEL``), by prefix."""

S = TypeVar("S", bound=type[Scorer])


def register_scorer(cls: S) -> S:
    """Class decorator: make ``cls`` available under its ``id``. A second, different
    class under a taken id is an error naming both (see :mod:`lem.registry`)."""
    if not isinstance(cls, type) or not issubclass(cls, Scorer):
        raise TypeError(f"{cls!r} is not a Scorer subclass")
    if not cls.id or not cls.version:
        raise ValueError(f"scorer class {cls.__name__} must set both id and version")
    SCORERS.register(cls.id, cls)
    return cls


def register_scorer_factory(prefix: str, factory: ScorerFactory) -> None:
    """Make every id ``PREFIX:ARGS`` a parametric scorer built by ``factory(ARGS, **options)``
    (e.g. ``judge:semantic@qwen``); its keyword-only parameters are its options."""
    if not prefix or ":" in prefix or prefix != prefix.strip():
        raise ValueError(f"scorer factory prefix {prefix!r} must be a non-empty word without ':'")
    SCORER_FACTORIES.register(prefix, factory)


def available_scorers() -> list[str]:
    """Ids of every registered scorer, sorted."""
    return SCORERS.names()


def scorer_class(name: str) -> type[Scorer]:
    """The class registered under ``name``; :class:`InputError` if there is none."""
    cls = SCORERS.get(name.strip())
    if cls is None:
        known = [*SCORERS.names(), *(f"{p}:..." for p in SCORER_FACTORIES.names())]
        raise InputError(
            f"unknown scorer {name!r}; known scorers: {', '.join(known) or 'none'}. "
            "Use one of these ids."
        )
    return cls


def default_scorer(name: str) -> Scorer | None:
    """The registered scorer ``name`` built with its default options, for reports that
    ask it to explain stored scores; None when lem has no such scorer or it cannot be
    built without options."""
    cls = SCORERS.get(name)
    if cls is None:
        return None
    try:
        return cls()
    except Exception:  # a scorer that needs options (or extras) to build
        return None


def scorer_options(name: str) -> type[BaseModel]:
    """The typed options of the scorer (or scorer family) ``name``: the keyword-only
    parameters of its constructor or factory."""
    prefix, sep, _ = name.strip().partition(":")
    factory = SCORER_FACTORIES.get(prefix) if sep else None
    target: Callable[..., Any] = factory if factory is not None else scorer_class(name).__init__
    return options_model_from(target, f"{prefix}Options", skip=("args", "self"))


def get_scorer(name: str, **options: Any) -> Scorer:
    """A ready-to-use instance of the scorer registered under ``name``, with ``options``
    checked against :func:`scorer_options` (an unknown option is an :class:`InputError`
    naming the valid ones). An id ``PREFIX:ARGS`` whose prefix has a factory is built by
    that factory (e.g. ``judge=``, ``cache=``)."""
    prefix, sep, args = name.strip().partition(":")
    factory = SCORER_FACTORIES.get(prefix) if sep else None
    valid = validate_options(scorer_options(name), options, f"scorer {name.strip()}")
    if factory is not None:
        return factory(args, **valid)
    return scorer_class(name)(**valid)
