"""The HTML side-by-side viewer of ``lem report``: one self-contained, offline file.

Per probe, the responses of every condition sit side by side (baseline first), one row per
model, each with its score, its delta against that model's baseline, its signal values and,
for LEK v2, the phrases the scorer counted highlighted in the text. Above them, one row per
model (filterable) with its mean per condition, mean paired Δ and regressed/rescued counts,
the same numbers and strings as ``report.md``; when the probes have families, the
paraphrase-robustness tables follow it.

Layout: this module builds the data and a plain context for the header (title, counts,
the per-model table's printed strings, the summary's scalar fields). The summary is a
:class:`~lem.report.summary.ReportSummary`, read by attribute in ``_summary_band``,
``_summary_fields`` and ``_report_numbers`` (whose per-model entries
``_model_table_rows`` reads); any other mapping (or a dict that is not a valid report
summary) only contributes its top-level scalar fields to the header. Jinja2 renders the
page from package files in ``templates/``: ``viewer.html.j2`` (skeleton, header,
controls), with ``viewer.css`` and ``viewer.js`` read through :mod:`importlib.resources`
and inlined verbatim. The template and the assets are loaded once per process, on first
use.

Everything (CSS, vanilla JS, data) is inline: the file opens from disk with no network,
and a Content-Security-Policy only lets the viewer's own script run (the SHA-256 of
``viewer.js``'s bytes). Response text is untrusted: the script builds the DOM with
``textContent`` only, so it is never parsed as HTML. The template autoescapes every label
of the static header (the escaping is :func:`html.escape`'s, quotes included, see
``_finalize``); only the packaged CSS and JS, the CSP and the base64 payload are inserted
as trusted markup.

Scale: the responses travel compressed (JSON, deflated with zlib, base64; the page inflates
them with the browser's ``DecompressionStream``), about a third of the raw size. The page
is streamed: :func:`write_page` writes the template's chunks as they are generated, the
payload as one of them, never one string of the whole page. Rows are rendered page by
page, and phrases are highlighted only in the rows being shown: the page carries the
scorer's patterns (translated to JavaScript regular expressions) instead of precomputed
spans. 10,000 responses of several thousand characters stay responsive.

Numbers are formatted by :mod:`lem.numfmt`'s rule; the script carries the same rule.
Output is deterministic: the same records, summary, title and scorer give a byte-identical
file (stable ordering, sorted JSON keys, fixed compression level, no timestamps).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import importlib.resources
import json
import math
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from lem.defaults import BASELINE, is_baseline
from lem.numfmt import fmt_delta, fmt_mean
from lem.report.model import ResponseRecord
from lem.report.summary import Comparison, ModelSummary, ReportSummary, condition_comparison_id
from lem.scoring.base import HighlightRule, default_scorer

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "decode_payload",
    "encode_payload",
    "highlight_rules",
    "js_regex",
    "render_viewer",
    "viewer_data",
    "viewer_html",
    "write_page",
]

COMPRESSION_LEVEL = 1
"""zlib level of the embedded data: level 1 is 5× faster than 6 for 25% more bytes."""

_SIGNAL_COLOURS: dict[str, str] = {
    "compliance_markers": "#ffaaaa",
    "formulaic_preamble": "#ffcf8f",
    "first_person": "#e3d7ff",
    "creative_form": "#dedede",
    "emotional_register": "#ffc4e6",
    "nuance": "#aee0ff",
    "specificity": "#fff08a",
    "axiom_resonance": "#b3efb9",
    "perspective_taking": "#a9ece4",
    "metaphor": "#f1d2ad",
    "questioning": "#cfdcff",
}
_EXTRA_COLOURS: tuple[str, ...] = ("#e6f59d", "#f5c6ff", "#c3f0ff", "#ffd9d9", "#d8ffd0")
_CHUNK = 1 << 16
"""Template output shorter than this is joined before it is written (see write_page)."""
_TEMPLATES = "templates"
"""The package folder (of ``lem.report``) holding the page template, CSS and JS."""
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src '{script_hash}'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)
_DIGIT_RUN = re.compile("([0-9]+)")
_DATA_RE = re.compile(
    r'<script type="application/octet-stream" id="lem-data"[^>]*>([^<]*)</script>'
)

# ---- Python regular expressions → JavaScript ----------------------------------------------

_WORD = r"[\p{L}\p{N}_]"
_BOUNDARY = f"(?:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))"
_JS_SYNTAX = set("^$\\.*+?()[]{}|/")


def js_regex(pattern: str) -> str:
    """A Python ``re`` pattern (``str`` semantics, no ``DOTALL``) as the source of a
    JavaScript regular expression with the ``u`` flag that matches the same spans.

    ``\\b``, ``\\w`` and ``\\d`` are Unicode-aware in Python but ASCII in JavaScript, so they
    become lookarounds over and classes of ``\\p{L}``, ``\\p{N}`` (and ``_``) and ``\\p{Nd}``;
    ``.`` becomes ``[^\\n]``; escaped punctuation that the ``u`` flag rejects is written
    plainly. Anything else Python-specific raises ValueError.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                raise ValueError(f"trailing backslash in {pattern!r}")
            nxt = pattern[i + 1]
            i += 2
            if nxt == "b" and not in_class:
                out.append(_BOUNDARY)
            elif nxt == "d":
                out.append(r"\p{Nd}")
            elif nxt == "w":
                out.append(r"\p{L}\p{N}_" if in_class else _WORD)
            elif nxt in "sSnrtf" or nxt in _JS_SYNTAX or (in_class and nxt == "-"):
                out.append("\\" + nxt)
            elif not nxt.isalnum():
                out.append(nxt)
            else:
                raise ValueError(f"\\{nxt} in {pattern!r} has no JavaScript translation")
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
        elif ch == "[":
            in_class = True
            out.append(ch)
        elif ch == ".":
            out.append(r"[^\n]")
        elif ch == "(" and pattern.startswith("(?P", i):
            raise ValueError(f"named group in {pattern!r} has no JavaScript translation")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def scorer_highlights(scorer: str) -> list[HighlightRule]:
    """The highlight rules the scorer ``scorer`` supplies (none for a scorer this lem does
    not have, or one without rules), keeping those JavaScript can run."""
    instance = default_scorer(scorer)
    rules = instance.highlight_rules() if instance is not None else []
    out = []
    for rule in rules:
        try:
            js_regex(rule.pattern)
        except ValueError:
            continue
        if "(?i" in rule.pattern or "(?-" in rule.pattern:
            continue  # inline flag groups: not in every browser
        out.append(rule)
    return out


def highlight_rules(
    rules: Sequence[HighlightRule], highlight: Sequence[str]
) -> list[dict[str, Any]]:
    """The scorer's rules as JavaScript rules: ``{k: signal index in ``highlight``,
    source, flags, start: match only at offset 0, shift: search from the second
    character}`` (``findall`` semantics: every non-overlapping match)."""
    index = {name: k for k, name in enumerate(highlight)}
    out: list[dict[str, Any]] = []
    for rule in rules:
        source = js_regex(rule.pattern)
        flags = "u" + ("i" if rule.ignore_case else "")
        out.append(
            {
                "k": index[rule.signal],
                "source": f"^(?:{source})" if rule.at_start else source,
                "flags": flags if rule.at_start else flags + "g",
                "start": rule.at_start,
                "shift": rule.shift,
            }
        )
    return out


# ---- the data ------------------------------------------------------------------------------


def render_viewer(
    records: list[ResponseRecord],
    summary: ReportSummary | Mapping[str, Any],
    out_path: Path,
    *,
    title: str,
    scorer: str,
) -> None:
    """Write the viewer for ``records`` to ``out_path`` (UTF-8, ``\\n`` line ends; a lone
    surrogate, which UTF-8 cannot hold, is written as its ``\\uXXXX`` escape).

    ``summary`` is the report's summary (unrounded, as ``report.md`` is rendered from it;
    a dict that validates as a :class:`ReportSummary` is read as one); the per-model table
    takes its numbers from it. It may be any other mapping, empty or of any shape: then
    the table is computed from the records, and the mapping's top-level scalar fields are
    listed in the header.
    """
    data = viewer_data(records, scorer=scorer)
    write_page(out_path, data, encode_payload(data), summary, title=title)


def write_page(
    out_path: Path,
    data: Mapping[str, Any],
    payload: str,
    summary: ReportSummary | Mapping[str, Any],
    *,
    title: str,
) -> None:
    """Write the page for :func:`viewer_data` ``data`` and its :func:`encode_payload`.

    Streamed: the template's small chunks (thousands of them in a large per-model table)
    are joined up to the next large one, which (the payload) is written on its own."""
    pending: list[str] = []
    with out_path.open("wb") as fh:
        for part in _page_parts(data, payload, summary, title=title):
            if len(part) < _CHUNK:
                pending.append(part)
                continue
            if pending:
                fh.write("".join(pending).encode("utf-8", "backslashreplace"))
                pending.clear()
            fh.write(part.encode("utf-8", "backslashreplace"))
        fh.write("".join(pending).encode("utf-8", "backslashreplace"))


def viewer_html(
    records: Sequence[ResponseRecord],
    summary: ReportSummary | Mapping[str, Any],
    *,
    title: str,
    scorer: str,
) -> str:
    """The viewer page as a string (what :func:`render_viewer` writes)."""
    data = viewer_data(records, scorer=scorer)
    return "".join(_page_parts(data, encode_payload(data), summary, title=title))


def _page_parts(
    data: Mapping[str, Any],
    payload: str,
    summary: ReportSummary | Mapping[str, Any],
    *,
    title: str,
) -> Iterator[str]:
    """The page, chunk by chunk as the template generates it (the payload is one chunk)."""
    css, js, csp = _assets()
    return _template().generate(
        csp=csp,
        css=css,
        js=js,
        payload=Markup(payload),
        **_page_context(data, summary, title=title),
    )


def encode_payload(data: Mapping[str, Any]) -> str:
    """``data`` as the page embeds it: sorted compact JSON, UTF-8 (lone surrogates as
    ``\\uXXXX`` escapes), deflated (zlib, :data:`COMPRESSION_LEVEL`), base64."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    raw = text.encode("utf-8", "backslashreplace")
    return base64.b64encode(zlib.compress(raw, COMPRESSION_LEVEL)).decode("ascii")


def decode_payload(page: str) -> dict[str, Any]:
    """The data embedded in a viewer page (what its script decodes)."""
    match = _DATA_RE.search(page)
    if match is None:
        raise ValueError("no embedded viewer data in this page")
    raw = zlib.decompress(base64.b64decode(match.group(1)))
    data: dict[str, Any] = json.loads(raw.decode("utf-8"))
    return data


def viewer_data(records: Sequence[ResponseRecord], *, scorer: str) -> dict[str, Any]:
    """The JSON the page embeds: probes in natural id order, models in order of first
    appearance, conditions with the baseline first, cells with full-precision scores and
    deltas (rounded to 1e-9, as the report's) and signal values, and the highlighting
    rules."""
    models: dict[str, int] = {}
    conditions: dict[str, None] = {}
    probe_info: dict[str, tuple[str, str]] = {}
    for rec in records:
        models.setdefault(rec.model, len(models))
        conditions.setdefault(rec.condition, None)
        probe_info.setdefault(rec.probe_id, (rec.category, rec.prompt))
    cond_names = _order_conditions(list(conditions))
    cond_index = {c: i for i, c in enumerate(cond_names)}
    base = 0

    rules = scorer_highlights(scorer)
    highlight = list(dict.fromkeys(r.signal for r in rules))
    signal_names = _signal_names(records)
    signal_names += [s for s in highlight if s not in signal_names]
    sig_index = {s: i for i, s in enumerate(signal_names)}

    grouped: dict[tuple[str, int, int], list[ResponseRecord]] = {}
    for rec in records:
        key = (rec.probe_id, models[rec.model], cond_index[rec.condition])
        grouped.setdefault(key, []).append(rec)

    cells: dict[tuple[str, int], list[dict[str, Any] | None]] = {}
    for (probe_id, model_i, cond_i), recs in grouped.items():
        recs.sort(key=lambda r: r.sample)
        samples = [_sample(r, sig_index) for r in recs]
        ok = [s["s"] for s in samples if s["s"] is not None]
        row = cells.setdefault((probe_id, model_i), [None] * len(cond_names))
        row[cond_i] = {"score": sum(ok) / len(ok) if ok else None, "samples": samples}

    for row in cells.values():
        base_cell = row[base]
        base_score = base_cell["score"] if base_cell else None
        for i, cell in enumerate(row):
            if cell is None:
                continue
            delta = None
            if i != base and cell["score"] is not None and base_score is not None:
                delta = _delta(base_score, cell["score"])
            cell["delta"] = delta

    probes = []
    for probe_id in sorted(probe_info, key=_natural_key):
        category, prompt = probe_info[probe_id]
        rows = [
            {"m": model_i, "c": cells[(probe_id, model_i)]}
            for model_i in range(len(models))
            if (probe_id, model_i) in cells
        ]
        probes.append({"id": probe_id, "category": category, "prompt": prompt, "rows": rows})

    return {
        "baseline": base,
        "categories": sorted({c for c, _ in probe_info.values()}),
        "colours": {s: _colour(s, i) for i, s in enumerate(highlight)},
        "conditions": cond_names,
        "highlight": highlight,
        "models": list(models),
        "multiSample": any(len(r) > 1 for r in grouped.values()),
        "probes": probes,
        "rules": highlight_rules(rules, highlight),
        "scorer": scorer,
        "signals": signal_names,
    }


def _delta(a: float, b: float) -> float:
    """``b - a`` rounded to 1e-9 exactly as :func:`lem.analysis.stats.paired_deltas`."""
    import numpy as np

    return float(np.round(np.float64(b) - np.float64(a), 9) + 0.0)


def _order_conditions(names: list[str]) -> list[str]:
    """Conditions in order of first appearance with the baseline moved first (a condition
    named ``baseline`` or ``baseline:...``; without one, the first is the reference)."""
    for name in names:
        if is_baseline(name):
            return [name, *(n for n in names if n != name)]
    return names


def _signal_names(records: Sequence[ResponseRecord]) -> list[str]:
    """Signal names in the scorer's own order (first seen), for every scorer alike."""
    keys: dict[str, None] = {}
    for rec in records:
        for name in rec.signals:
            keys.setdefault(name, None)
    return list(keys)


def _sample(rec: ResponseRecord, sig_index: Mapping[str, int]) -> dict[str, Any]:
    score = _number(rec.score)
    error = rec.error
    if score is None and rec.score is not None:
        error = error or f"non-finite score {rec.score!r}"
    values: list[float | None] = [None] * len(sig_index)
    for name, value in rec.signals.items():
        values[sig_index[name]] = _number(value)
    return {
        "e": error if score is None else None,
        "g": values,
        "n": rec.sample,
        "s": score,
        "t": rec.response,
    }


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return value
    return None


def _natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    return tuple(
        (0, int(part), part) if part.isdigit() else (1, 0, part) for part in _DIGIT_RUN.split(text)
    )


def _colour(signal: str, index: int) -> str:
    return _SIGNAL_COLOURS.get(signal, _EXTRA_COLOURS[index % len(_EXTRA_COLOURS)])


def _signal_colours(highlight: Sequence[str]) -> list[str]:
    """The highlight colour of each signal in ``highlight`` (the page's ``.s<k>`` rules)."""
    return [_colour(s, i) for i, s in enumerate(highlight)]


# ---- the static header: a plain context for the template ---------------------------------


def _as_report(summary: ReportSummary | Mapping[str, Any]) -> ReportSummary | None:
    """``summary`` as a report summary: itself, or a mapping that validates as one."""
    if isinstance(summary, ReportSummary):
        return summary
    from pydantic import ValidationError

    try:
        return ReportSummary.model_validate(summary)
    except ValidationError:
        return None


def _summary_band(report: ReportSummary | None) -> float:
    """The report's improved/regressed band (``settings.band``), else upstream's 0.5."""
    band = report.settings.band if report is not None else None
    return float(band) if band is not None and band >= 0 else 0.5


def _summary_fields(
    summary: ReportSummary | Mapping[str, Any], report: ReportSummary | None
) -> list[tuple[str, str]]:
    """The summary's top-level scalar fields (string keys, sorted; at most 16) as text."""
    if report is not None:
        items = [(name, getattr(report, name)) for name in type(report).model_fields]
    elif isinstance(summary, Mapping):
        items = [(k, v) for k, v in summary.items() if isinstance(k, str)]
    else:
        items = []
    scalars = [
        (k, v) for k, v in sorted(items) if isinstance(v, str | int | float | bool) or v is None
    ][:16]
    return [(k, str(v)) for k, v in scalars]


def _report_numbers(
    report: ReportSummary | None, scorer: str
) -> tuple[Mapping[str, ModelSummary], Mapping[str, Comparison]] | None:
    """The report's per-model numbers for ``scorer`` (models, within-model comparisons by
    id), if there is a report summary with that scorer."""
    data = report.scorers.get(scorer) if report is not None else None
    if data is None:
        return None
    comps = {c.id: c for c in data.comparisons if c.kind == "condition"}
    return data.models, comps


def _model_table_rows(
    data: Mapping[str, Any], report: ReportSummary | None, band: float
) -> list[dict[str, Any]]:
    """Per model: probes, failed, and per condition the mean, the mean paired Δ, its n and
    the regressed/rescued counts. From the report's summary where it has them (so the
    viewer prints report.md's strings), else computed from the cells the same way."""
    from lem.report.analysis import mean_score, paired_delta_stats

    conditions: list[str] = data["conditions"]
    base = data["baseline"]
    found = _report_numbers(report, data["scorer"])
    per_model: list[dict[str, Any]] = []
    scores: list[list[dict[str, float]]] = [[{} for _ in conditions] for _ in data["models"]]
    failed = [0] * len(data["models"])
    probes = [0] * len(data["models"])
    for probe in data["probes"]:
        for row in probe["rows"]:
            probes[row["m"]] += 1
            for i, cell in enumerate(row["c"]):
                if cell is None:
                    continue
                failed[row["m"]] += sum(1 for s in cell["samples"] if s["s"] is None)
                if cell["score"] is not None:
                    scores[row["m"]][i][probe["id"]] = cell["score"]
    for m, label in enumerate(data["models"]):
        report_model = found[0].get(label) if found else None
        cells: list[dict[str, Any]] = []
        for i, cond in enumerate(conditions):
            mine = scores[m][i]
            out: dict[str, Any] = {"mean": mean_score(list(mine.values()))}
            entry = report_model.conditions.get(cond) if report_model is not None else None
            if entry is not None and entry.stats is not None:
                out["mean"] = entry.stats.mean
            if i != base:
                comp = found[1].get(condition_comparison_id(label, cond)) if found else None
                cstats = comp.stats if comp is not None else None
                if cstats is not None:
                    out.update(
                        delta=cstats.mean_delta,
                        n=cstats.n,
                        down=cstats.regressed,
                        up=cstats.improved,
                    )
                else:
                    pids = [p for p in mine if p in scores[m][base]]
                    paired = paired_delta_stats(
                        [scores[m][base][p] for p in pids], [mine[p] for p in pids], band
                    )
                    out.update(
                        delta=paired.mean, n=paired.n, down=paired.regressed, up=paired.improved
                    )
            cells.append(out)
        per_model.append({"model": label, "probes": probes[m], "failed": failed[m], "cells": cells})
    return per_model


def _model_table(data: Mapping[str, Any], report: ReportSummary | None) -> dict[str, Any] | None:
    """The per-model table as plain values: the reference condition, the band, the column
    groups and per model its label, counts and per condition the printed numbers (the
    labels are escaped by the template)."""
    conditions: list[str] = data["conditions"]
    base = data["baseline"]
    if not data["models"] or not conditions:
        return None
    band = _summary_band(report)
    rows = []
    for row in _model_table_rows(data, report, band):
        cells = []
        for i, cell in enumerate(row["cells"]):
            out: dict[str, Any] = {"mean": fmt_mean(cell["mean"]), "base": i == base}
            if i != base:
                delta = cell.get("delta")
                sign = "" if delta is None else " neg" if delta < 0 else " pos" if delta > 0 else ""
                n_text = f" ({cell['n']})" if delta is not None else ""
                out.update(
                    sign=sign,
                    delta=f"{fmt_delta(delta)}{n_text}",
                    updown=f"{cell['down']}/{cell['up']}" if delta is not None else "—",
                )
            cells.append(out)
        rows.append(
            {
                "model": row["model"],
                "probes": row["probes"],
                "failed": row["failed"],
                "cells": cells,
            }
        )
    return {
        "reference": conditions[base],
        "is_baseline": is_baseline(conditions[base]),
        "band": f"{band:g}",
        "conditions": [{"name": c, "base": i == base} for i, c in enumerate(conditions)],
        "rows": rows,
    }


def _paraphrase(report: ReportSummary | None, scorer: str) -> dict[str, Any] | None:
    """The paraphrase-robustness tables for ``scorer`` as printed strings (report.md's),
    or None when the report has no such section."""
    from lem.report.markdown import (
        PARAPHRASE_FAMILY_HEADER,
        PARAPHRASE_HEADER,
        paraphrase_family_row,
        paraphrase_note,
        paraphrase_row,
    )

    data = report.scorers.get(scorer) if report is not None else None
    if report is None or data is None or not data.paraphrase:
        return None
    return {
        "band": f"{report.settings.band:g}",
        "header": list(PARAPHRASE_HEADER),
        "rows": [paraphrase_row(c) for c in data.paraphrase],
        "note": paraphrase_note(data.paraphrase, report.methods.ci.small_n_below),
        "family_header": list(PARAPHRASE_FAMILY_HEADER),
        "comparisons": [
            {
                "title": f"{c.model} · {c.condition} vs {BASELINE}",
                "flipped": c.flipped,
                "rows": [paraphrase_family_row(f) for f in c.families],
            }
            for c in data.paraphrase
        ],
    }


def _plain(markdown: str) -> str:
    """A line of report.md without its Markdown marks (code and bold), for the viewer."""
    return markdown.replace("**", "").replace("`", "")


def _axes(report: ReportSummary | None, scorer: str) -> dict[str, Any] | None:
    """The kernel ablation and placement tables for ``scorer`` as printed strings
    (report.md's), or None when the report has neither."""
    from lem.report.markdown import (
        ABLATION_HEADER,
        ECHO_HEADER,
        ablation_lead,
        ablation_row,
        echo_lead,
        echo_row,
        placement_lead,
        placement_rows,
    )

    data = report.scorers.get(scorer) if report is not None else None
    if data is None or not (data.ablation or data.placements or data.echo):
        return None
    return {
        "echo": [
            {
                "lead": _plain(echo_lead(data.echo, scorer)),
                "header": list(ECHO_HEADER),
                "rows": [echo_row(e) for e in data.echo],
            }
        ]
        if data.echo
        else [],
        "ablation": [
            {
                "lead": _plain(ablation_lead(t)),
                "header": list(ABLATION_HEADER),
                "rows": [ablation_row(a) for a in t.axioms],
            }
            for t in data.ablation or []
        ],
        "placements": [
            {
                "lead": _plain(placement_lead(t)),
                "header": ["placement", *t.models],
                "rows": placement_rows(t),
            }
            for t in data.placements or []
        ],
    }


def _page_context(
    data: Mapping[str, Any], summary: ReportSummary | Mapping[str, Any], *, title: str
) -> dict[str, Any]:
    """What the template shows besides the assets and the payload: title, counts, the
    per-model table, the paraphrase-robustness tables and the summary's top-level scalar
    fields."""
    report = _as_report(summary)
    cells = [
        cell
        for probe in data["probes"]
        for row in probe["rows"]
        for cell in row["c"]
        if cell is not None
    ]
    return {
        "title": title,
        "scorer": data["scorer"],
        "colours": _signal_colours(data["highlight"]),
        "n_probes": len(data["probes"]),
        "n_models": len(data["models"]),
        "n_conditions": len(data["conditions"]),
        "n_records": sum(len(cell["samples"]) for cell in cells),
        "n_failed": sum(1 for cell in cells for s in cell["samples"] if s["s"] is None),
        "table": _model_table(data, report),
        "paraphrase": _paraphrase(report, data["scorer"]),
        "axes": _axes(report, data["scorer"]),
        "summary_fields": _summary_fields(summary, report),
    }


# ---- the templates -------------------------------------------------------------------------


def _finalize(value: object) -> object:
    """Every ``{{ … }}`` of the template: trusted markup as it is, anything else escaped
    with :func:`html.escape` (``quote=True``). Autoescape stays on; this only picks
    ``&quot;`` and ``&#x27;`` for quotes (markupsafe writes ``&#34;`` and ``&#39;``), the
    entities the viewer has always written, so its bytes do not change."""
    if hasattr(value, "__html__"):
        return value
    return Markup(html.escape(str(value), quote=True))


@functools.cache
def _template() -> jinja2.Template:
    """The page template, compiled once per process."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lem.report", _TEMPLATES),
        autoescape=True,
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    return env.get_template("viewer.html.j2")


@functools.cache
def _assets() -> tuple[Markup, Markup, Markup]:
    """The packaged stylesheet and script, and the Content-Security-Policy that lets only
    that script run (its SHA-256, over the file's bytes: the script element holds them
    exactly)."""
    folder = importlib.resources.files("lem.report") / _TEMPLATES
    css = (folder / "viewer.css").read_bytes()
    js = (folder / "viewer.js").read_bytes()
    digest = base64.b64encode(hashlib.sha256(js).digest()).decode()
    csp = _CSP.format(script_hash="sha256-" + digest)
    return Markup(css.decode("utf-8")), Markup(js.decode("utf-8")), Markup(csp)
