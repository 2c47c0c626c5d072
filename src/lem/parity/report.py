"""A parity check as data (``parity.json``), as Markdown (``parity.md``) and as the rows of
the terminal table: one source of every number, printed with :mod:`lem.numfmt`'s rule."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from lem.numfmt import DASH, fmt_delta, fmt_fixed, fmt_mean, fmt_p, fmt_percent
from lem.parity.compare import NUMERICS, UNDETERMINED, PairResult
from lem.parity.config import GREEDY
from lem.parity.run import ParityOutcome
from lem.redact import redact

__all__ = [
    "FOOTNOTE",
    "MAX_LISTED",
    "SHORT",
    "SUMMARY_COLUMNS",
    "parity_dict",
    "parity_markdown",
    "summary_rows",
    "write_parity",
]

SHORT = {NUMERICS: "numerics", UNDETERMINED: "undetermined"}
"""Cause labels as the summary table prints them (its footnote explains them)."""

MAX_LISTED = 50
"""Mismatches listed per pair in ``parity.md`` (``parity.json`` has them all)."""

SUMMARY_COLUMNS = ("pair", "items", "exact", "div. tok", "Δ {scorer} [95% CI]", "likely causes")
"""The summary table's columns (terminal and Markdown)."""


FOOTNOTE = (
    "div. tok: median first diverging token of the mismatches ({how}); numerics: same "
    "prompt, same settings; undetermined: a server's prompt could not be compared."
)
"""The line under the summary table."""


def _rate(matches: int, items: int) -> float | None:
    return round(matches / items, 6) if items else None


def _median(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def _pair_dict(pair: PairResult, specs: dict[str, str]) -> dict[str, Any]:
    return {
        "a": pair.a,
        "b": pair.b,
        "a_spec": specs[pair.a],
        "b_spec": specs[pair.b],
        "items": pair.items,
        "matches": pair.matches,
        "exact_match_rate": _rate(pair.matches, pair.items),
        "incomplete": pair.incomplete,
        "by_condition": {
            c: {"items": n, "matches": m, "exact_match_rate": _rate(m, n)}
            for c, (n, m) in pair.by_condition.items()
        },
        "first_divergence": {
            "mismatches": len(pair.mismatches),
            "median_char": _median(pair.median_char()),
            "median_token": _median(pair.median_token()),
        },
        "causes": dict(pair.causes()),
        "scores": {sid: (None if st is None else st.as_dict()) for sid, st in pair.scores.items()},
        "mismatches": [
            {
                "probe_id": m.probe_id,
                "condition": m.condition,
                "sample": m.sample,
                "char": m.divergence.char,
                "token": m.divergence.token,
                "before": m.divergence.before,
                "continuation_a": m.divergence.a,
                "continuation_b": m.divergence.b,
                "next_tokens_a": list(m.divergence.tokens_a),
                "next_tokens_b": list(m.divergence.tokens_b),
                "finish_reason_a": m.finish_a,
                "finish_reason_b": m.finish_b,
                "cause": m.cause.label,
                "detail": m.cause.detail,
            }
            for m in pair.mismatches
        ],
    }


def parity_dict(outcome: ParityOutcome) -> dict[str, Any]:
    """Everything a parity check found, JSON-ready (floats rounded to 6 decimals)."""
    cfg = outcome.config
    specs = {r.label: r.spec for r in outcome.runs}
    return {
        "greedy": dict(GREEDY),
        "db": redact(cfg.db),
        "settings": {
            "probes": cfg.probes,
            "probe_ids": cfg.probe_ids,
            "domains": cfg.domains,
            "limit": cfg.limit,
            "conditions": list(cfg.conditions),
            "max_tokens": cfg.max_tokens,
            "stop": list(cfg.stop),
            "prompt_format": cfg.prompt_format,
        },
        "scorers": list(outcome.scorers),
        "tokenizer": outcome.tokenizer,
        "models": [
            {
                "label": r.label,
                "spec": r.spec,
                "run_id": r.run_id,
                "backend": r.backend,
                "dtype": r.dtype,
                "fingerprint": r.fingerprint,
                "tokenizer": r.tokenizer,
                "system_role": r.system_role,
                "status": o.status,
                "generated": o.generated,
                "failed": o.failed,
                "done": sum(1 for it in r.items if it.done),
                "planned": len(r.items),
            }
            for r, o in zip(outcome.runs, outcome.outcomes, strict=True)
        ],
        "pairs": [_pair_dict(p, specs) for p in outcome.pairs],
    }


def _ci(low: float, high: float) -> str:
    """A CI as ``[low, high]``; ``[—, —]`` when a bound is undefined or infinite (one
    differing item among many identical ones leaves the studentized bootstrap without a
    finite bound; ``parity.json`` has ``null`` there)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"[{DASH}, {DASH}]"
    return f"[{fmt_delta(low)}, {fmt_delta(high)}]"


def _delta_ci(pair: PairResult, scorer: str) -> str:
    st = pair.scores.get(scorer)
    if st is None:
        return DASH
    return f"{fmt_delta(st.mean_delta)} {_ci(st.ci.low, st.ci.high)}"


def _causes(pair: PairResult) -> str:
    return "; ".join(f"{SHORT.get(label, label)} ×{n}" for label, n in pair.causes()) or DASH


def _divergence(pair: PairResult) -> str:
    tok = pair.median_token()
    if tok is not None:
        return _position(tok)
    char = pair.median_char()
    return DASH if char is None else f"{_position(char)} ch"


def _position(x: float) -> str:
    """A median position: whole numbers without decimals, halves with one."""
    return str(int(x)) if x == int(x) else fmt_fixed(x, 1)


def summary_rows(outcome: ParityOutcome) -> list[list[str]]:
    """One row per pair: pair, items, exact-match %, median first diverging token (``ch``:
    characters, without a tokenizer), the first scorer's mean Δ with its CI, causes."""
    scorer = outcome.scorers[0] if outcome.scorers else ""
    return [
        [
            f"{p.a}–{p.b}",
            str(p.items),
            fmt_percent(p.exact_match_rate, 1),
            _divergence(p),
            _delta_ci(p, scorer),
            _causes(p),
        ]
        for p in outcome.pairs
    ]


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "⏎").replace("`", "ˋ")


def parity_markdown(outcome: ParityOutcome) -> str:
    """``parity.md``: the models, the summary table, then per pair the conditions, every
    scorer's paired statistics and the mismatches (at most :data:`MAX_LISTED`)."""
    cfg = outcome.config
    scorer = outcome.scorers[0] if outcome.scorers else "score"
    lines = [
        "# Backend parity",
        "",
        f"Greedy decoding (temperature 0, one sample), max {cfg.max_tokens} tokens, "
        f"conditions {', '.join(cfg.conditions)}; store `{redact(cfg.db)}`. Token positions: "
        + (f"tokenizer of `{outcome.tokenizer}`." if outcome.tokenizer else "no tokenizer."),
        "",
        "| model | spec | run | backend | dtype | status | done |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r, o in zip(outcome.runs, outcome.outcomes, strict=True):
        done = sum(1 for it in r.items if it.done)
        lines.append(
            f"| {r.label} | `{_md_escape(r.spec)}` | {r.run_id} | {r.backend or DASH} | "
            f"{r.dtype or DASH} | {o.status} | {done}/{len(r.items)} |"
        )
    header = [c.format(scorer=scorer) for c in SUMMARY_COLUMNS]
    lines += ["", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in summary_rows(outcome)]
    how = f"tokenizer of `{outcome.tokenizer}`" if outcome.tokenizer else "no tokenizer: characters"
    lines += ["", FOOTNOTE.format(how=how)]
    for p in outcome.pairs:
        lines += ["", f"## {p.a} vs {p.b}", ""]
        if p.incomplete:
            lines.append(f"{p.incomplete} planned item(s) not done in both runs: not compared.")
            lines.append("")
        lines += ["| condition | items | exact |", "| --- | --- | --- |"]
        for cond, (n, same) in p.by_condition.items():
            lines.append(f"| {_md_escape(cond)} | {n} | {fmt_percent(_rate(same, n), 1)} |")
        lines += [
            "",
            f"| scorer | n | mean {p.a} | mean {p.b} | Δ | 95% CI | Wilcoxon p |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for sid, st in p.scores.items():
            if st is None:
                lines.append(f"| {sid} | 0 | {DASH} | {DASH} | {DASH} | {DASH} | {DASH} |")
                continue
            ci = _ci(st.ci.low, st.ci.high)
            lines.append(
                f"| {sid} | {st.n} | {fmt_mean(st.mean_a)} | {fmt_mean(st.mean_b)} | "
                f"{fmt_delta(st.mean_delta)} | {ci} | {fmt_p(st.p_wilcoxon)} |"
            )
        if not p.mismatches:
            continue
        lines += [
            "",
            "| probe | condition | char | token | cause | before | "
            f"{p.a} continues | {p.b} continues |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for m in p.mismatches[:MAX_LISTED]:
            d = m.divergence
            lines.append(
                f"| {_md_escape(m.probe_id)} | {_md_escape(m.condition)} | {d.char} | "
                f"{DASH if d.token is None else d.token} | {m.cause.label}: "
                f"{_md_escape(m.cause.detail)} | `{_md_escape(d.before)}` | "
                f"`{_md_escape(d.a)}` | `{_md_escape(d.b)}` |"
            )
        if len(p.mismatches) > MAX_LISTED:
            lines.append("")
            lines.append(f"{len(p.mismatches) - MAX_LISTED} more in parity.json.")
    return "\n".join(lines) + "\n"


def write_parity(outcome: ParityOutcome, out: str | Path) -> tuple[Path, Path]:
    """Write ``parity.json`` and ``parity.md`` into the folder ``out`` (created)."""
    from lem.errors import InputError

    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out {folder} is a file; give a folder")
    folder.mkdir(parents=True, exist_ok=True)
    js, md = folder / "parity.json", folder / "parity.md"
    js.write_text(
        json.dumps(parity_dict(outcome), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    md.write_text(parity_markdown(outcome), encoding="utf-8")
    return js, md
