"""The upstream A/B results JSONL format: read, write, and the summary rules.

One JSON object per line: a ``probe`` line per probe (each condition's response, score,
signals, length and time), then one ``summary`` line (per-condition means, deltas against
``baseline``, improved/regressed/unchanged counts, per-category means). lem writes the
format key for key and byte for byte as upstream does (``json.dumps`` with its default
separators and ASCII escapes), so upstream analysis scripts keep working.

The format has no place for several samples or failed generations; lem adds keys of its
own (``errors``, ``sample``, ``reasoning``, ...) after the upstream keys, which upstream
readers ignore. Reading keeps such keys in each record's ``extra``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lem.defaults import BASELINE
from lem.errors import InputError
from lem.jsonl import iter_json_lines

__all__ = [
    "BASELINE",
    "ABCondition",
    "ABFile",
    "ABProbe",
    "ABSummary",
    "compute_summary",
    "format_probe_line",
    "format_summary_line",
    "iso_now",
    "normalise_category",
    "read_ab_jsonl",
    "summary_mismatches",
    "write_ab_jsonl",
]


CHANGE_BAND = 0.5
"""A probe improved (regressed) when its score rose (fell) by more than this."""

_CONDITION_KEYS = ("response", "lek_score", "heuristic", "chars", "time_s")
_PROBE_KEYS = ("type", "id", "category", "prompt", "conditions", "ts")
_SUMMARY_KEYS = (
    "type",
    "model",
    "total_probes",
    "conditions",
    "categories",
    "duration",
    "max_tokens",
    "ts",
)


@dataclass
class ABCondition:
    """One condition's result for one probe.

    ``heuristic`` holds every signal's raw value followed by ``lek_score``; ``chars`` is
    ``len(response)``; ``time_s`` is the generation time rounded to 0.1 s. ``extra`` keys
    are written after the upstream keys.
    """

    response: str
    lek_score: float
    heuristic: dict[str, Any]
    chars: int
    time_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        response: str,
        *,
        lek_score: float,
        signals: Mapping[str, float | int],
        time_s: float,
        extra: Mapping[str, Any] | None = None,
    ) -> ABCondition:
        """A condition record from a response, its score and signals, and its time."""
        return cls(
            response=response,
            lek_score=lek_score,
            heuristic={**signals, "lek_score": lek_score},
            chars=len(response),
            time_s=round(time_s, 1),
            extra=dict(extra or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "response": self.response,
            "lek_score": self.lek_score,
            "heuristic": self.heuristic,
            "chars": self.chars,
            "time_s": self.time_s,
            **self.extra,
        }


@dataclass
class ABProbe:
    """One probe line: the probe and every condition's result, ``baseline`` first."""

    id: str
    category: str
    prompt: str
    conditions: dict[str, ABCondition]
    ts: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "probe",
            "id": self.id,
            "category": self.category,
            "prompt": self.prompt,
            "conditions": {
                name: cond.to_dict() for name, cond in _baseline_first(self.conditions).items()
            },
            "ts": self.ts,
            **self.extra,
        }


@dataclass
class ABSummary:
    """The summary line.

    ``conditions`` rows are ``{"name", "avg_lek", "improved", "regressed", "unchanged"}``
    plus ``"delta_vs_baseline"`` for every condition but ``baseline``; ``categories`` maps
    category → condition → mean score; ``duration`` is ``"<whole seconds>s"``.
    """

    model: str
    total_probes: int
    conditions: list[dict[str, Any]]
    categories: dict[str, dict[str, float]]
    duration: str
    max_tokens: int
    ts: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "summary",
            "model": self.model,
            "total_probes": self.total_probes,
            "conditions": self.conditions,
            "categories": self.categories,
            "duration": self.duration,
            "max_tokens": self.max_tokens,
            "ts": self.ts,
            **self.extra,
        }


@dataclass
class ABFile:
    """A whole results file: probe lines in order, then the summary."""

    probes: list[ABProbe]
    summary: ABSummary


def iso_now() -> str:
    """The current UTC time as upstream stamps it: ``2026-11-22T10:00:00.123456+00:00``."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def normalise_category(value: str | None) -> str:
    """A probe's domain or category as the format stores it: lower-cased, or
    ``"uncategorised"`` when absent or blank."""
    if value is None or not value.strip():
        return "uncategorised"
    return value.strip().lower()


def _baseline_first(conditions: Mapping[str, ABCondition]) -> dict[str, ABCondition]:
    if BASELINE not in conditions or next(iter(conditions)) == BASELINE:
        return dict(conditions)
    return {BASELINE: conditions[BASELINE], **conditions}


def _dumps(obj: Mapping[str, Any], ensure_ascii: bool) -> str:
    return json.dumps(obj, ensure_ascii=ensure_ascii)


def format_probe_line(probe: ABProbe, *, ensure_ascii: bool = True) -> str:
    """One probe record as its JSON line (without the newline)."""
    return _dumps(probe.to_dict(), ensure_ascii)


def format_summary_line(summary: ABSummary, *, ensure_ascii: bool = True) -> str:
    """The summary record as its JSON line (without the newline)."""
    return _dumps(summary.to_dict(), ensure_ascii)


def write_ab_jsonl(path: str | Path, abfile: ABFile, *, ensure_ascii: bool = True) -> None:
    """Write ``abfile`` in the upstream layout: probe lines, then the summary line.

    Upstream writes with ``json.dumps`` defaults, which escape non-ASCII characters
    (``\\u2014``); ``ensure_ascii=False`` writes them as UTF-8 instead (still valid JSON,
    but no longer byte-identical to upstream files).
    """
    lines = [format_probe_line(p, ensure_ascii=ensure_ascii) for p in abfile.probes]
    lines.append(format_summary_line(abfile.summary, ensure_ascii=ensure_ascii))
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


# ---- reading -----------------------------------------------------------------------------


class _Line:
    """Where a record came from, for error messages."""

    def __init__(self, path: Path, lineno: int) -> None:
        self.where = f"{path}:{lineno}"

    def require(self, obj: Mapping[str, Any], key: str, kinds: tuple[type, ...], what: str) -> Any:
        if key not in obj:
            raise InputError(f"{self.where}: {what} has no {key!r} key; add it or regenerate")
        value = obj[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise InputError(
                f"{self.where}: {what} key {key!r} must be {names}, not {type(value).__name__}"
            )
        return value


_NUMBER = (int, float)


def _extra(obj: Mapping[str, Any], known: Sequence[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in known}


def _read_condition(line: _Line, name: str, obj: Any) -> ABCondition:
    what = f"condition {name!r}"
    if not isinstance(obj, dict):
        raise InputError(f"{line.where}: {what} must be a JSON object")
    return ABCondition(
        response=line.require(obj, "response", (str,), what),
        lek_score=line.require(obj, "lek_score", _NUMBER, what),
        heuristic=line.require(obj, "heuristic", (dict,), what),
        chars=line.require(obj, "chars", (int,), what),
        time_s=line.require(obj, "time_s", _NUMBER, what),
        extra=_extra(obj, _CONDITION_KEYS),
    )


def _read_probe(line: _Line, obj: dict[str, Any]) -> ABProbe:
    what = "probe line"
    probe_id = line.require(obj, "id", (str,), what)
    category = line.require(obj, "category", (str,), what)
    prompt = line.require(obj, "prompt", (str,), what)
    conditions = line.require(obj, "conditions", (dict,), what)
    return ABProbe(
        id=probe_id,
        category=category,
        prompt=prompt,
        conditions={name: _read_condition(line, name, c) for name, c in conditions.items()},
        ts=line.require(obj, "ts", (str,), what),
        extra=_extra(obj, _PROBE_KEYS),
    )


def _read_summary(line: _Line, obj: dict[str, Any]) -> ABSummary:
    what = "summary line"
    return ABSummary(
        model=line.require(obj, "model", (str,), what),
        total_probes=line.require(obj, "total_probes", (int,), what),
        conditions=line.require(obj, "conditions", (list,), what),
        categories=line.require(obj, "categories", (dict,), what),
        duration=line.require(obj, "duration", (str,), what),
        max_tokens=line.require(obj, "max_tokens", (int,), what),
        ts=line.require(obj, "ts", (str,), what),
        extra=_extra(obj, _SUMMARY_KEYS),
    )


def read_ab_jsonl(path: str | Path) -> ABFile:
    """Read an upstream (or lem-written) A/B results file, strictly.

    Blank lines are skipped. Malformed JSON, a line that is not an object, an unknown
    ``type``, a missing or mistyped key, a record after the summary line, or a missing
    summary line (a run that stopped early) raises :class:`InputError` naming the file
    and line (and column for bad JSON).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{p}: A/B results file not found; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read A/B results file ({exc})") from None
    probes: list[ABProbe] = []
    summary: ABSummary | None = None
    for lineno, obj in iter_json_lines(text.split("\n"), str(p)):
        line = _Line(p, lineno)
        if not isinstance(obj, dict):
            raise InputError(f"{line.where}: expected a JSON object, got {type(obj).__name__}")
        if summary is not None:
            raise InputError(f"{line.where}: record after the summary line; the summary is last")
        kind = obj.get("type")
        if kind == "probe":
            probes.append(_read_probe(line, obj))
        elif kind == "summary":
            summary = _read_summary(line, obj)
        elif "type" not in obj:
            raise InputError(f"{line.where}: record has no 'type' key (probe or summary)")
        else:
            raise InputError(
                f"{line.where}: unknown record type {kind!r}; expected 'probe' or 'summary'"
            )
    if summary is None:
        raise InputError(
            f"{p}: no summary line (the run stopped before writing one); "
            "re-export the run or append a summary line"
        )
    return ABFile(probes=probes, summary=summary)


# ---- summary -----------------------------------------------------------------------------


def _mean2(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 2)


def compute_summary(
    probes: Iterable[ABProbe],
    *,
    model: str,
    duration_s: float,
    max_tokens: int,
    ts: str,
    condition_order: Sequence[str] | None = None,
) -> ABSummary:
    """The summary line for ``probes``, by the upstream rules.

    - ``avg_lek``: mean of the stored (already rounded) scores, rounded to 2 places.
    - ``delta_vs_baseline``: ``round(avg_lek(cond) - avg_lek(baseline), 2)``.
    - improved / regressed / unchanged: per probe having both conditions, the stored score
      difference against ``baseline`` is ``> 0.5`` / ``< -0.5`` / otherwise, with no
      further rounding (0.5000000000000018 counts as improved). ``baseline`` itself gets
      0/0/0 and no delta. Without a ``baseline`` condition no row has a delta.
    - ``categories``: per category (first-seen order), per condition, the mean stored score
      rounded to 2 places.
    - ``duration``: ``duration_s`` rounded to whole seconds, e.g. ``"13s"``.

    Conditions are ordered ``baseline`` first, then ``condition_order`` (if given), then in
    order of first appearance. A condition missing from a probe (failed generation) is
    left out of that probe's means and comparisons.
    """
    probe_list = list(probes)
    order: list[str] = []
    seen: set[str] = set()

    def add(name: str) -> None:
        if name not in seen:
            seen.add(name)
            order.append(name)

    present = {name for p in probe_list for name in p.conditions}
    if BASELINE in present:
        add(BASELINE)
    for name in condition_order or ():
        if name in present:
            add(name)
    for p in probe_list:
        for name in p.conditions:
            add(name)

    rows: list[dict[str, Any]] = []
    averages: dict[str, float] = {}
    for name in order:
        scores = [p.conditions[name].lek_score for p in probe_list if name in p.conditions]
        averages[name] = _mean2(scores)
        improved = regressed = unchanged = 0
        if name != BASELINE and BASELINE in present:
            for p in probe_list:
                if name not in p.conditions or BASELINE not in p.conditions:
                    continue
                diff = p.conditions[name].lek_score - p.conditions[BASELINE].lek_score
                if diff > CHANGE_BAND:
                    improved += 1
                elif diff < -CHANGE_BAND:
                    regressed += 1
                else:
                    unchanged += 1
        row: dict[str, Any] = {
            "name": name,
            "avg_lek": averages[name],
            "improved": improved,
            "regressed": regressed,
            "unchanged": unchanged,
        }
        if name != BASELINE and BASELINE in present:
            row["delta_vs_baseline"] = round(averages[name] - averages[BASELINE], 2)
        rows.append(row)

    by_category: dict[str, dict[str, list[float]]] = {}
    for p in probe_list:
        cat = by_category.setdefault(p.category, {})
        for name, cond in p.conditions.items():
            cat.setdefault(name, []).append(cond.lek_score)
    categories = {
        cat: {name: _mean2(per[name]) for name in order if name in per}
        for cat, per in by_category.items()
    }
    return ABSummary(
        model=model,
        total_probes=len(probe_list),
        conditions=rows,
        categories=categories,
        duration=f"{duration_s:.0f}s",
        max_tokens=max_tokens,
        ts=ts,
    )


def summary_mismatches(abfile: ABFile) -> list[str]:
    """Where a file's summary line disagrees with what its probe lines give by the rules of
    :func:`compute_summary` (an edited or truncated file, or one from a buggy writer):
    one phrase per disagreement, empty when they agree."""
    old = abfile.summary
    new = compute_summary(
        abfile.probes,
        model=old.model,
        duration_s=0.0,
        max_tokens=old.max_tokens,
        ts=old.ts,
        condition_order=[str(c.get("name")) for c in old.conditions],
    )
    out: list[str] = []
    if old.total_probes != new.total_probes:
        out.append(f"total_probes {old.total_probes} vs {new.total_probes} probe lines")
    said = {str(c.get("name")): c for c in old.conditions}
    seen = {str(c["name"]): c for c in new.conditions}
    for name in sorted(set(said) ^ set(seen)):
        where = "only in the summary" if name in said else "missing from the summary"
        out.append(f"condition {name!r} {where}")
    for name, row in seen.items():
        if name not in said:
            continue
        for key in ("avg_lek", "delta_vs_baseline", "improved", "regressed", "unchanged"):
            a, b = said[name].get(key), row.get(key)
            if a is None and b is None:
                continue
            if not isinstance(a, int | float) or b is None or abs(float(a) - float(b)) > 1e-9:
                out.append(f"{key} of {name} is {a} in the summary, {b} from the probe lines")
    return out
