"""LLM-judge scorers (``judge:RUBRIC@MODEL``) and their persistent cache.

A judge scorer asks a model behind an OpenAI-compatible endpoint to rate a response on a
rubric's dimensions (see :mod:`lem.scoring.rubrics`) and reply with one JSON object. It
is built through the scorer registry::

    get_scorer("judge:semantic@qwen3-8b",
               judge="openai:http://127.0.0.1:8080#qwen3-8b", cache=JudgeCache(store))

Design rules, each fixing an upstream judge defect:

* The judge sees the probe prompt, the response (first 1,500 characters, as upstream),
  the rubric and, where the rubric names one, a reference answer. It never sees the
  condition name or the kernel text, so it cannot favour one arm of an experiment.
* Replies are parsed strictly (:func:`parse_judgement`). Anything that is not a complete,
  in-range rating is a *failed* score with a reason and ``value`` NaN, never a default
  mid-scale number; decimals such as ``7.5`` are valid scores.
* Empty responses are judged like any other; no number is invented for them.
* Judgements are cached by :class:`JudgeCache` under a key covering the judge model, the
  rubric, the prompt template and sampling (all through the scorer's definition hash),
  the prompt, the truncated response and the reference. Ratings and parse failures are
  deterministic at temperature 0 and are cached; transport failures are not.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import RowMapping, func, select

from lem.backends.base import GenerationRequest, GenerationResult, SamplingParams, parse_model_spec
from lem.backends.openai import OpenAIBackend
from lem.errors import InputError
from lem.scoring.base import ScoreContext, Scorer, ScoreResult, register_scorer_factory
from lem.scoring.rubrics import Rubric, load_rubric
from lem.store import Store, insert_ignore, utc_now
from lem.store.schema import judge_cache

__all__ = [
    "DEFAULT_JUDGE_MAX_TOKENS",
    "JUDGE_PARSER_VERSION",
    "JUDGE_PROMPT_TEMPLATE",
    "TRUNCATE_CHARS",
    "JudgeCache",
    "JudgeRecord",
    "JudgeScorer",
    "Judgement",
    "build_judge_prompt",
    "judge_scorer_factory",
    "parse_judgement",
    "truncate_response",
]

TRUNCATE_CHARS = 1500
"""Responses are cut to this many characters before judging (as upstream did)."""

DEFAULT_JUDGE_MAX_TOKENS = 256
JUDGE_PARSER_VERSION = "strict-json-1"

JUDGE_PROMPT_TEMPLATE = """\
You are rating one answer that an AI model wrote in reply to a prompt. {instructions}

Rate the answer on each dimension below, on a scale from {low} (lowest) to {high} (highest). \
The anchors describe selected points of the scale; any score from {low} to {high} is allowed, \
including decimals.

{dimensions}

The prompt the model was given:
[PROMPT START]
{prompt}
[PROMPT END]
{reference}
The model's answer{truncated}:
[ANSWER START]
{response}
[ANSWER END]

Reply with one JSON object and nothing else, with a numeric score for every dimension and a \
one-sentence reason, exactly these keys:
{example}
"""
"""The judge prompt; every placeholder is filled by :func:`build_judge_prompt`."""

_REFERENCE_BLOCK = """
A reference answer ({label}) known to be correct:
[REFERENCE START]
{text}
[REFERENCE END]
"""

_FENCE = r"\A```[ \t]*(?:json)?[ \t]*\n?(.*?)\n?[ \t]*```\Z"
"""A reply wrapped in one code fence (DOTALL, IGNORECASE); group 1 is the body.

Matched by :func:`_fence_body`: as a regex it backtracks over every split of a run of
spaces (cubic: a 1,000-space reply took minutes)."""
_FENCE_OPEN = re.compile(r"```[ \t]*(?:json)?[ \t]*\n?", re.IGNORECASE)
_REFUSAL = re.compile(
    r"\b(?:I|we)\s*(?:cannot|can't|can\s+not|won't|will\s+not|am\s+unable|'m\s+unable|"
    r"am\s+not\s+able|'m\s+not\s+able|must\s+decline|refuse)\b|"
    r"\bunable\s+to\s+(?:evaluate|assess|rate|score|grade|judge)\b|"
    r"\bas\s+an\s+ai\b|\A\s*(?:I'?m\s+)?sorry\b",
    re.IGNORECASE,
)
_SNIPPET = 80


def truncate_response(text: str, limit: int = TRUNCATE_CHARS) -> str:
    """The part of a response the judge sees: its first ``limit`` characters."""
    return text[:limit]


def _one_line(text: str, limit: int = _SNIPPET) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _example_object(rubric: Rubric) -> str:
    parts = [f'"{d.name}": <score>' for d in rubric.dimensions]
    return "{" + ", ".join([*parts, '"reason": "<one sentence>"']) + "}"


def _dimension_block(rubric: Rubric) -> str:
    lines: list[str] = []
    for d in rubric.dimensions:
        lines.append(f"- {d.name}: {d.description}")
        lines.extend(f"    {point} = {text}" for point, text in sorted(d.anchors.items()))
    return "\n".join(lines)


def build_judge_prompt(
    rubric: Rubric, prompt: str | None, response: str, reference: str | None = None
) -> str:
    """The exact user message sent to the judge (``response`` is truncated here)."""
    shown = truncate_response(response)
    ref = ""
    if rubric.reference_field is not None:
        label = rubric.reference_field.replace("_", " ")
        ref = _REFERENCE_BLOCK.format(label=label, text=reference or "")
    return JUDGE_PROMPT_TEMPLATE.format(
        instructions=rubric.instructions,
        low=rubric.scale[0],
        high=rubric.scale[1],
        dimensions=_dimension_block(rubric),
        prompt=prompt if prompt is not None else "(no prompt recorded)",
        reference=ref,
        truncated=(
            f" (only its first {TRUNCATE_CHARS} characters are shown)"
            if len(response) > len(shown)
            else ""
        ),
        response=shown,
        example=_example_object(rubric),
    )


@dataclass(frozen=True)
class Judgement:
    """A parsed judge reply: ``scores`` per dimension when ``ok``, else a failure ``reason``.

    For a successful judgement ``reason`` is the judge's own one-sentence reason, if given.
    """

    ok: bool
    scores: dict[str, float] = field(default_factory=dict)
    reason: str | None = None

    def composite(self) -> float:
        """Mean of the dimension scores; NaN for a failed judgement."""
        if not self.ok or not self.scores:
            return math.nan
        return sum(self.scores.values()) / len(self.scores)


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-numeric constant {name}")


def _number_text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, int | float | str) else repr(value)


def _fence_body(text: str) -> str | None:
    """Group 1 of ``re.match(_FENCE, text, re.DOTALL | re.IGNORECASE)``, in linear time.

    The opening part never reaches the closing backticks, so its greedy match is the one
    the regex keeps; the lazy body then ends at the first position from which only an
    optional newline, spaces or tabs and the closing fence remain.
    """
    if len(text) < 6 or not text.endswith("```"):
        return None
    opening = _FENCE_OPEN.match(text)
    if opening is None:
        return None
    inner = text[:-3]
    end = len(inner.rstrip(" \t"))
    if end and inner[end - 1] == "\n":
        end -= 1
    start = opening.end()
    return text[start : max(start, end)]


def parse_judgement(reply: str, rubric: Rubric) -> Judgement:
    """Parse a judge reply strictly.

    Valid: one JSON object, bare or inside a single ```` ```json ```` fence with nothing
    around it, holding every rubric dimension as a JSON number (integer or decimal)
    within the rubric's scale. Extra keys are ignored; ``reason`` is kept if it is a string.
    Anything else fails with a reason: ``empty reply``, ``refused: ...``, ``unparseable
    reply: ...``, ``missing dimension X``, ``score for X is not a number: ...`` or
    ``score 11 out of range 1-10 for X``.
    """
    text = reply.strip()
    if not text:
        return Judgement(False, reason="empty reply")
    fenced = _fence_body(text)
    body = fenced.strip() if fenced is not None else text
    try:
        data = json.loads(body, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except _DuplicateKey as exc:
        return Judgement(False, reason=f"unparseable reply: key {exc.args[0]!r} appears twice")
    except ValueError:
        if _REFUSAL.search(text):
            return Judgement(False, reason=f"refused: {_one_line(text)}")
        return Judgement(False, reason=f"unparseable reply: {_one_line(text)!r}")
    if not isinstance(data, dict):
        kind = type(data).__name__
        return Judgement(False, reason=f"unparseable reply: a JSON {kind}, not an object")
    low, high = rubric.scale
    scores: dict[str, float] = {}
    for dim in rubric.dimension_names:
        if dim not in data:
            return Judgement(False, reason=f"missing dimension {dim}")
        value = data[dim]
        if isinstance(value, bool) or not isinstance(value, int | float):
            return Judgement(
                False, reason=f"score for {dim} is not a number: {_number_text(value)[:40]}"
            )
        if not math.isfinite(value) or not low <= value <= high:
            return Judgement(
                False, reason=f"score {_number_text(value)} out of range {low}-{high} for {dim}"
            )
        scores[dim] = float(value)
    why = data.get("reason")
    reason = " ".join(why.split()) if isinstance(why, str) and why.strip() else None
    return Judgement(True, scores=scores, reason=reason)


@dataclass(frozen=True)
class JudgeRecord:
    """One finished judgement as cached: the parse outcome plus the raw reply and usage."""

    key: str
    judge_model: str
    rubric_hash: str
    judgement: Judgement
    raw: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def to_result(self, rubric: Rubric) -> ScoreResult:
        """The score: composite ``value`` and per-dimension signals, or a failed score."""
        j = self.judgement
        if not j.ok:
            return ScoreResult(value=math.nan, signals={}, status="failed", reason=j.reason)
        signals: dict[str, float | int] = {d: j.scores[d] for d in rubric.dimension_names}
        if self.prompt_tokens is not None:
            signals["prompt_tokens"] = self.prompt_tokens
        if self.completion_tokens is not None:
            signals["completion_tokens"] = self.completion_tokens
        return ScoreResult(value=j.composite(), signals=signals, status="ok", reason=j.reason)


class JudgeCache:
    """Judgements kept in a run store's ``judge_cache`` table (SQLite or PostgreSQL).

    Inserts are insert-or-ignore, so concurrent scorers sharing a store never conflict:
    the first writer of a key wins and any later one had the same deterministic result.
    """

    def __init__(self, store: Store | str) -> None:
        self.store = store if isinstance(store, Store) else Store(store)
        self.engine = self.store.engine

    def __repr__(self) -> str:
        return f"JudgeCache({self.store.display_url!r})"

    def get(self, key: str) -> JudgeRecord | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, JudgeRecord]:
        """The cached records among ``keys``."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, JudgeRecord] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                rows = conn.execute(select(judge_cache).where(judge_cache.c.key.in_(chunk)))
                for row in rows.mappings():
                    found[row["key"]] = _record_from_row(row)
        return found

    def put(self, record: JudgeRecord) -> bool:
        """Store one record; False if the key was already cached."""
        return self.put_many([record]) > 0

    def put_many(self, records: Sequence[JudgeRecord]) -> int:
        """Store records, skipping keys already cached; the number inserted."""
        if not records:
            return 0
        now = utc_now()
        rows = [_row_from_record(r, now) for r in records]
        with self.engine.begin() as conn:
            return insert_ignore(conn, judge_cache, rows)

    def __len__(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(judge_cache)).scalar_one())


def _row_from_record(r: JudgeRecord, now: str) -> dict[str, Any]:
    j = r.judgement
    return {
        "key": r.key,
        "judge_model": r.judge_model,
        "rubric_hash": r.rubric_hash,
        "status": "ok" if j.ok else "failed",
        "result": json.dumps(j.scores, sort_keys=True) if j.ok else None,
        "reason": j.reason,
        "raw": r.raw,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "created_at": now,
    }


def _record_from_row(row: RowMapping) -> JudgeRecord:
    ok = row["status"] == "ok"
    scores = {k: float(v) for k, v in json.loads(row["result"]).items()} if ok else {}
    return JudgeRecord(
        key=row["key"],
        judge_model=row["judge_model"],
        rubric_hash=row["rubric_hash"],
        judgement=Judgement(ok, scores=scores, reason=row["reason"]),
        raw=row["raw"] or "",
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
    )


def _failed(reason: str) -> ScoreResult:
    return ScoreResult(value=math.nan, signals={}, status="failed", reason=reason)


class JudgeScorer(Scorer):
    """Rates responses with an LLM judge on a rubric; one instance per rubric and judge.

    ``id`` is ``judge:RUBRIC@MODEL`` and ``version`` the rubric's version (both set per
    instance). ``judge`` is the endpoint spec ``openai:URL#MODEL``; its ``#MODEL``, when
    given, is sent as the request's model field and must equal ``model``. The API key is
    read from the environment variable ``api_key_env``. The HTTP client is created on
    first use, so building a scorer never touches the network.
    """

    id: ClassVar[str] = "judge"
    version: ClassVar[str] = "1"

    def __init__(
        self,
        rubric: str | Path | Rubric,
        model: str,
        judge: str | None,
        *,
        cache: JudgeCache | None = None,
        concurrency: int = 4,
        max_tokens: int = DEFAULT_JUDGE_MAX_TOKENS,
        timeout: float = 300.0,
        max_retries: int = 6,
        backoff: float = 1.0,
        backoff_max: float = 60.0,
        api_key_env: str = "OPENAI_API_KEY",
    ) -> None:
        self.rubric = rubric if isinstance(rubric, Rubric) else load_rubric(rubric)
        rubric_ref = self.rubric.name if isinstance(rubric, Rubric) else str(rubric).strip()
        self.model = model.strip()
        if not self.model:
            raise InputError(f"judge scorer judge:{rubric_ref}@ names no judge model")
        scorer_id = f"judge:{rubric_ref}@{self.model}"
        # per-instance id and version: the ClassVars only name the scorer family
        self.__dict__.update(id=scorer_id, version=self.rubric.version)
        if not judge or not str(judge).strip():
            raise InputError(
                f"scorer {scorer_id} needs a judge endpoint: judge='openai:URL#MODEL', "
                f"e.g. openai:http://127.0.0.1:8080#{self.model}"
            )
        kind, target, endpoint_model = parse_model_spec(str(judge).strip())
        if kind != "openai":
            raise InputError(
                f"judge endpoint {judge!r} must be an OpenAI-compatible server: openai:URL#MODEL"
            )
        if endpoint_model and endpoint_model != self.model:
            raise InputError(
                f"scorer {scorer_id} names judge model {self.model!r} but the judge endpoint "
                f"{judge!r} names {endpoint_model!r}; make them the same"
            )
        if cache is not None and not isinstance(cache, JudgeCache):
            raise TypeError(f"cache must be a JudgeCache, not {type(cache).__name__}")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise InputError(f"judge max_tokens must be a positive integer, got {max_tokens!r}")
        self.target = target
        self.endpoint_model = endpoint_model or None
        self.cache = cache
        self.sampling = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=0)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InputError(f"judge concurrency must be a positive integer, got {concurrency!r}")
        self._backend_options: dict[str, Any] = {
            "api_key_env": api_key_env,
            "concurrency": concurrency,
            "timeout": timeout,
            "max_retries": max_retries,
            "backoff": backoff,
            "backoff_max": backoff_max,
        }
        self._backend: OpenAIBackend | None = None
        self._lock = threading.Lock()

    def value_range(self) -> tuple[float, float]:
        """The rubric's scale: the value is the mean of the dimension scores."""
        low, high = self.rubric.scale
        return (float(low), float(high))

    def definition(self) -> dict[str, Any]:
        return {
            "kind": "llm-judge",
            "rubric": self.rubric.as_dict(),
            "rubric_digest": self.rubric.digest,
            "judge_model": self.model,
            "prompt_template": JUDGE_PROMPT_TEMPLATE,
            "reference_template": _REFERENCE_BLOCK,
            "messages": "one user message",
            "sampling": self.sampling.as_dict(),
            "truncate_chars": TRUNCATE_CHARS,
            "parser": JUDGE_PARSER_VERSION,
            "composite": self.rubric.composite,
        }

    def _reference(self, context: ScoreContext | None) -> str | None:
        field_name = self.rubric.reference_field
        if field_name is None:
            return None
        fields = (context.fields if context is not None else None) or {}
        value = fields.get(field_name)
        return value if isinstance(value, str) and value.strip() else None

    def judge_prompt(self, text: str, context: ScoreContext | None = None) -> str:
        """The exact message the judge gets for ``text`` (condition and kernel never used)."""
        prompt = context.prompt if context is not None else None
        return build_judge_prompt(self.rubric, prompt, text, self._reference(context))

    def cache_key(self, text: str, context: ScoreContext | None = None) -> str:
        """The cache key: definition hash (judge model, rubric, template, sampling), prompt,
        truncated response and reference."""
        blob = json.dumps(
            {
                "definition": self.definition_hash(),
                "prompt": context.prompt if context is not None else None,
                "response": truncate_response(text),
                "reference": self._reference(context),
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def score(self, text: str, *, context: ScoreContext | None = None) -> ScoreResult:
        return self.score_batch([text], contexts=[context])[0]

    def score_batch(
        self,
        texts: Sequence[str],
        *,
        contexts: Sequence[ScoreContext | None] | None = None,
    ) -> list[ScoreResult]:
        """Judge many responses concurrently; cached judgements make no request.

        Identical judgements in one batch are requested once. A transport failure (after
        the backend's retries) is a failed score that is not cached.
        """
        ctxs = self.paired_contexts(texts, contexts)
        results: list[ScoreResult | None] = [None] * len(texts)
        slots: dict[str, list[int]] = {}
        prompts: dict[str, str] = {}
        for i, (text, ctx) in enumerate(zip(texts, ctxs, strict=True)):
            if self.rubric.reference_field is not None and self._reference(ctx) is None:
                results[i] = _failed(
                    f"no reference {self.rubric.reference_field!r} in the score context"
                )
                continue
            key = self.cache_key(text, ctx)
            slots.setdefault(key, []).append(i)
            if key not in prompts:
                prompts[key] = self.judge_prompt(text, ctx)
        cached = self.cache.get_many(slots) if self.cache is not None and slots else {}
        for key, record in cached.items():
            for i in slots[key]:
                results[i] = record.to_result(self.rubric)
        misses = [k for k in slots if k not in cached]
        if misses:
            requests = [
                GenerationRequest(
                    key=k,
                    messages=[{"role": "user", "content": prompts[k]}],
                    sampling=self.sampling,
                    seed=self.sampling.seed,
                )
                for k in misses
            ]
            for gen in self._get_backend().generate(requests):
                result = self._finish(gen)
                for i in slots[gen.key]:
                    results[i] = result
        return [r if r is not None else _failed("judge returned no result") for r in results]

    def _finish(self, gen: GenerationResult) -> ScoreResult:
        if gen.error is not None:
            return _failed(f"judge request failed: {gen.error}")
        record = JudgeRecord(
            key=gen.key,
            judge_model=self.model,
            rubric_hash=self.rubric.digest,
            judgement=parse_judgement(gen.text, self.rubric),
            raw=gen.text,
            prompt_tokens=gen.prompt_tokens,
            completion_tokens=gen.completion_tokens,
        )
        if self.cache is not None:
            self.cache.put(record)
        return record.to_result(self.rubric)

    def _get_backend(self) -> OpenAIBackend:
        with self._lock:
            if self._backend is None:
                self._backend = OpenAIBackend(
                    self.target, self.endpoint_model, check=True, **self._backend_options
                )
            return self._backend

    def close(self) -> None:
        """Close the HTTP client, if one was opened."""
        with self._lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None

    def __enter__(self) -> JudgeScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def judge_scorer_factory(
    args: str,
    *,
    judge: str | None = None,
    cache: JudgeCache | None = None,
    concurrency: int = 4,
    max_tokens: int = DEFAULT_JUDGE_MAX_TOKENS,
    timeout: float = 300.0,
    max_retries: int = 6,
    backoff: float = 1.0,
    backoff_max: float = 60.0,
    api_key_env: str = "OPENAI_API_KEY",
) -> JudgeScorer:
    """Build ``judge:RUBRIC@MODEL`` from ``args`` = ``RUBRIC@MODEL``; the keyword-only
    parameters are the family's options (``judge`` is the endpoint spec, required)."""
    rubric, sep, model = args.strip().rpartition("@")
    if not sep or not rubric.strip() or not model.strip():
        raise InputError(
            f"judge scorer id 'judge:{args}' must be judge:RUBRIC@MODEL, e.g. judge:semantic@qwen"
        )
    return JudgeScorer(
        rubric.strip(),
        model.strip(),
        judge,
        cache=cache,
        concurrency=concurrency,
        max_tokens=max_tokens,
        timeout=timeout,
        max_retries=max_retries,
        backoff=backoff,
        backoff_max=backoff_max,
        api_key_env=api_key_env,
    )


register_scorer_factory("judge", judge_scorer_factory)
