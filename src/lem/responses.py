"""One reader of scored responses: a stored run or an A/B JSONL file → typed records.

Every consumer of scored answers (the terminal summary of ``lem ab``, ``lem export``,
``lem report``, ``lem score compare`` and ``lem score agreement``, and the training-data
steps built on them) reads through this module, so a response, its failure and its scores
mean the same everywhere:

- a :class:`ScoredResponse` is one planned generation (model output for one probe,
  condition and sample) with its answer, reasoning, generation status and every requested
  scorer's :class:`Score`;
- a generation that failed or never finished has ``status`` other than ``"done"`` and its
  ``error``; it is listed, never dropped;
- a score is ``ok`` with a finite value, or not ok with a reason. A NaN or infinite value
  is an :class:`~lem.errors.InputError` naming the file and line (or the run), the probe
  and the condition: it would poison every mean downstream.

A/B files: the ``scores`` map of a condition (written by lem) holds every scorer's result;
a file without it (the upstream format) holds one scorer, LEK v2, as ``lek_score`` and
``heuristic``. Stored runs: the newest version of each scorer's row.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lem.defaults import DEFAULT_SCORER
from lem.errors import InputError
from lem.formats.ab_jsonl import ABFile, read_ab_jsonl
from lem.jsonl import iter_json_lines

if TYPE_CHECKING:
    from lem.store import Store

__all__ = [
    "Score",
    "ScoredResponse",
    "numeric",
    "read_ab_file",
    "read_file_responses",
    "read_run",
]

DONE = "done"


@dataclass(frozen=True)
class Score:
    """One scorer's result for one response.

    ``value`` is None unless ``status`` is ``"ok"``; ``signals`` are the scorer's
    sub-scores as stored (numbers, occasionally text: :func:`numeric` keeps the numbers).
    ``version`` and ``definition_hash`` identify the scorer definition (None for files).
    """

    value: float | None
    signals: Mapping[str, Any] = field(default_factory=dict)
    status: str = "ok"
    reason: str | None = None
    version: str | None = None
    definition_hash: str | None = None

    @property
    def ok(self) -> bool:
        """True when the response was scored (a finite value)."""
        return self.value is not None


@dataclass(frozen=True)
class ScoredResponse:
    """One planned generation of a run or one condition of an A/B file line.

    ``source`` names where it came from (the file path, or ``run <id>``); ``item_key`` is
    the store's content address (None for files). ``status`` is ``"done"`` for an answer,
    else the generation's state (``failed``, ``pending``, ``leased``) with ``error``.
    ``flags`` are the item's recorded flags (``empty_answer``, ``context_overflow``, …).
    """

    source: str
    probe_id: str
    category: str
    prompt: str
    condition: str
    sample: int
    answer: str
    reasoning: str | None = None
    status: str = DONE
    error: str | None = None
    scores: Mapping[str, Score] = field(default_factory=dict)
    run_id: str | None = None
    item_key: str | None = None
    time_s: float | None = None
    finish_reason: str | None = None
    completed_at: str | None = None
    system_fallback: bool = False
    flags: Mapping[str, Any] = field(default_factory=dict)
    rendered_hash: str | None = None
    """SHA-256 of the exact prompt the model saw (stored runs)."""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def done(self) -> bool:
        """True when the generation finished with an answer."""
        return self.status == DONE

    def score(self, scorer: str) -> Score | None:
        """``scorer``'s result, or None when this response has none."""
        return self.scores.get(scorer)


def numeric(signals: Any, skip: Sequence[str] = ()) -> dict[str, float]:
    """The numeric entries of a signals mapping as floats (booleans and text dropped)."""
    if not isinstance(signals, Mapping):
        return {}
    out: dict[str, float] = {}
    for k, v in signals.items():
        kind = type(v)
        number = kind is float or kind is int or (isinstance(v, int | float) and kind is not bool)
        if number and k not in skip:
            out[str(k)] = float(v)
    return out


# ---- stored runs -------------------------------------------------------------------------


def read_run(
    store: Store, run_id: str, scorers: Sequence[str] | None = None
) -> Iterator[ScoredResponse]:
    """Every planned generation of a stored run, in plan order, with the newest stored
    score of each of ``scorers`` (every scorer when None)."""
    all_scores = store.run_scores(run_id, scorers)
    source = f"run {run_id}"
    for rec in store.run_records(run_id):
        found: dict[str, Score] = {}
        for sid, row in all_scores.get(rec["key"], {}).items():
            value = row["value"]
            if value is not None:
                value = float(value)
                if not math.isfinite(value):
                    raise InputError(
                        f"run {run_id}: probe {rec['probe_id']!r} condition "
                        f"{rec['condition']!r}: {sid} score is {value}; scores must be "
                        "finite numbers (rescore the run)"
                    )
            found[sid] = Score(
                value=value,
                signals=row["signals"] or {},
                status=str(row["status"]),
                reason=row["reason"],
                version=row["version"],
                definition_hash=row["definition_hash"],
            )
        yield ScoredResponse(
            source=source,
            probe_id=rec["probe_id"],
            category=rec["category"],
            prompt=rec["prompt"],
            condition=rec["condition"],
            sample=int(rec["sample_index"] or 0),
            answer=rec["answer"] or "",
            reasoning=rec["reasoning"],
            status=str(rec["status"]),
            error=rec["error"],
            scores=found,
            run_id=run_id,
            item_key=rec["key"],
            time_s=None if rec["time_s"] is None else float(rec["time_s"]),
            finish_reason=rec["finish_reason"],
            completed_at=rec["completed_at"],
            system_fallback=bool(rec["system_fallback"]),
            flags=rec.get("extra") or {},
            rendered_hash=rec["rendered_hash"] or None,
            prompt_tokens=rec["prompt_tokens"],
            completion_tokens=rec["completion_tokens"],
        )


# ---- A/B files ---------------------------------------------------------------------------


def _sample_of(cond_extra: Mapping[str, Any], probe_extra: Mapping[str, Any]) -> int:
    value = cond_extra.get("sample", probe_extra.get("sample", 0))
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _probe_line(path: Path, index: int) -> int | None:
    """The line number of the ``index``-th probe record of an A/B file (read again: only
    needed for an error message)."""
    text = path.read_text(encoding="utf-8-sig")
    seen = -1
    for lineno, obj in iter_json_lines(text.split("\n"), str(path)):
        if isinstance(obj, dict) and obj.get("type") == "probe":
            seen += 1
            if seen == index:
                return lineno
    return None


def _finite(value: float, path: Path, index: int, probe_id: str, condition: str, sid: str) -> float:
    if math.isfinite(value):
        return value
    line = _probe_line(path, index)
    where = f"{path}:{line}" if line is not None else str(path)
    raise InputError(
        f"{where}: probe {probe_id!r} condition {condition!r}: {sid} score is {value}; "
        "scores must be finite numbers (fix the line or rescore the file)"
    )


def read_ab_file(
    abfile: ABFile, path: str | Path, scorers: Sequence[str] | None = None
) -> list[ScoredResponse]:
    """The responses of a parsed A/B file (every sample; ``path`` for messages), with the
    scores of ``scorers`` (every scorer the file holds when None).

    A probe's ``errors`` map lists conditions whose generation failed: each becomes a
    response with status ``failed``. A probe, condition and sample given twice is an
    :class:`InputError`.
    """
    p = Path(path)
    wanted = None if scorers is None else set(scorers)
    out: list[ScoredResponse] = []
    seen: set[tuple[str, str, int]] = set()
    for index, probe in enumerate(abfile.probes):
        errors = probe.extra.get("errors")
        errors = errors if isinstance(errors, dict) else {}
        names = list(probe.conditions) + [c for c in errors if c not in probe.conditions]
        for name in names:
            cond = probe.conditions.get(name)
            extra = cond.extra if cond is not None else {}
            sample = _sample_of(extra, probe.extra)
            key = (probe.id, name, sample)
            if key in seen:
                raise InputError(
                    f"{p}: probe {probe.id!r} condition {name!r} sample {sample} appears "
                    "twice; keep one line per probe (and sample)"
                )
            seen.add(key)
            if cond is None:
                out.append(
                    ScoredResponse(
                        source=str(path),
                        probe_id=probe.id,
                        category=probe.category,
                        prompt=probe.prompt,
                        condition=name,
                        sample=sample,
                        answer="",
                        status="failed",
                        error=str(errors.get(name) or "generation failed"),
                    )
                )
                continue
            found: dict[str, Score] = {}
            score_map = extra.get("scores")
            if isinstance(score_map, dict) and score_map:
                for sid, entry in score_map.items():
                    if (wanted is not None and sid not in wanted) or not isinstance(entry, dict):
                        continue
                    value = entry.get("value")
                    status = str(entry.get("status", "ok"))
                    if status == "ok" and isinstance(value, int | float):
                        number = _finite(float(value), p, index, probe.id, name, sid)
                        found[sid] = Score(number, entry.get("signals") or {})
                    else:
                        status = "failed" if status == "ok" else status
                        found[sid] = Score(None, entry.get("signals") or {}, status, _reason(entry))
            elif name not in errors and (wanted is None or DEFAULT_SCORER in wanted):
                number = _finite(float(cond.lek_score), p, index, probe.id, name, DEFAULT_SCORER)
                signals = {k: v for k, v in cond.heuristic.items() if k != "lek_score"}
                found[DEFAULT_SCORER] = Score(number, signals)
            out.append(
                ScoredResponse(
                    source=str(path),
                    probe_id=probe.id,
                    category=probe.category,
                    prompt=probe.prompt,
                    condition=name,
                    sample=sample,
                    answer=cond.response,
                    reasoning=_opt_str(extra.get("reasoning")),
                    status="failed" if name in errors else DONE,
                    error=str(errors[name]) if name in errors else None,
                    scores=found,
                    time_s=cond.time_s,
                    finish_reason=_opt_str(extra.get("finish_reason")),
                    system_fallback=bool(extra.get("system_fallback")),
                    flags={k: extra[k] for k in ("empty_answer", "context_overflow") if k in extra},
                )
            )
    return out


def _reason(entry: Mapping[str, Any]) -> str | None:
    reason = entry.get("reason")
    return str(reason) if reason else None


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def read_file_responses(
    path: str | Path, scorers: Sequence[str] | None = None
) -> list[ScoredResponse]:
    """:func:`read_ab_file` of the A/B JSONL file at ``path``."""
    return read_ab_file(read_ab_jsonl(path), path, scorers)
