"""The HTML side-by-side viewer of ``lem report``: one self-contained, offline file.

Per probe, the responses of every condition sit side by side (baseline first), one row per
model, each with its score, its delta against that model's baseline, its signal values and,
for LEK v2, the phrases the scorer counted highlighted in the text. Above them, one row per
model (filterable) with its mean per condition, mean paired Δ and regressed/rescued counts,
the same numbers and strings as ``report.md``.

Everything (CSS, vanilla JS, data) is inline: the file opens from disk with no network,
and a Content-Security-Policy only lets the viewer's own script run. Response text is
untrusted: the script builds the DOM with ``textContent`` only, so it is never parsed as
HTML, and the static header escapes every label.

Scale: the responses travel compressed (JSON, deflated with zlib, base64; the page inflates
them with the browser's ``DecompressionStream``), about a third of the raw size. Rows are
rendered page by page, and phrases are highlighted only in the rows being shown: the page
carries the scorer's patterns (translated to JavaScript regular expressions) instead of
precomputed spans. 10,000 responses of several thousand characters stay responsive.

Numbers are formatted by :mod:`lem.numfmt`'s rule; the script carries the same rule.
Output is deterministic: the same records, summary, title and scorer give a byte-identical
file (stable ordering, sorted JSON keys, fixed compression level, no timestamps).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from lem.defaults import is_baseline
from lem.numfmt import fmt_delta, fmt_mean
from lem.report.model import ResponseRecord
from lem.scoring.base import HighlightRule, default_scorer

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
    summary: dict[str, Any],
    out_path: Path,
    *,
    title: str,
    scorer: str,
) -> None:
    """Write the viewer for ``records`` to ``out_path`` (UTF-8, ``\\n`` line ends; a lone
    surrogate, which UTF-8 cannot hold, is written as its ``\\uXXXX`` escape).

    ``summary`` is the report's summary (unrounded, as ``report.md`` is rendered from it);
    the per-model table takes its numbers from it. It may be empty or of any shape: then
    the table is computed from the records, and the summary's top-level scalar fields are
    listed in the header.
    """
    data = viewer_data(records, scorer=scorer)
    write_page(out_path, data, encode_payload(data), summary, title=title)


def write_page(
    out_path: Path,
    data: Mapping[str, Any],
    payload: str,
    summary: Mapping[str, Any],
    *,
    title: str,
) -> None:
    """Write the page for :func:`viewer_data` ``data`` and its :func:`encode_payload`."""
    with out_path.open("wb") as fh:
        for part in _page_parts(data, payload, summary, title=title):
            fh.write(part.encode("utf-8", "backslashreplace"))


def viewer_html(
    records: Sequence[ResponseRecord],
    summary: Mapping[str, Any],
    *,
    title: str,
    scorer: str,
) -> str:
    """The viewer page as a string (what :func:`render_viewer` writes)."""
    data = viewer_data(records, scorer=scorer)
    return "".join(_page_parts(data, encode_payload(data), summary, title=title))


def _page_parts(
    data: Mapping[str, Any], payload: str, summary: Mapping[str, Any], *, title: str
) -> Iterator[str]:
    digest = base64.b64encode(hashlib.sha256(_JS.encode()).digest()).decode()
    csp = _CSP.format(script_hash="sha256-" + digest)
    css = _CSS + _signal_css(data["highlight"])
    yield (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="lem report">\n'
        f"<title>{_esc(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
    )
    yield _header_html(data, summary, title=title)
    yield _CONTROLS_HTML
    yield '<script type="application/octet-stream" id="lem-data" data-encoding="deflate-base64">'
    yield payload
    yield "</script>\n<script>"
    yield _JS
    yield "</script>\n</body>\n</html>\n"


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


def _signal_css(highlight: Sequence[str]) -> str:
    return "".join(f".s{i}{{background:{_colour(s, i)}}}" for i, s in enumerate(highlight))


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


# ---- the static header ---------------------------------------------------------------------


def _summary_band(summary: Mapping[str, Any] | None) -> float:
    """The report's improved/regressed band (``settings.band``), else upstream's 0.5."""
    settings = (summary or {}).get("settings")
    band = settings.get("band") if isinstance(settings, Mapping) else None
    return float(band) if isinstance(band, int | float) and band >= 0 else 0.5


def _report_numbers(
    summary: Mapping[str, Any], scorer: str
) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """The report's per-model numbers for ``scorer`` (models, comparisons by id), if the
    summary is a report summary."""
    scorers = summary.get("scorers") if isinstance(summary, Mapping) else None
    data = scorers.get(scorer) if isinstance(scorers, Mapping) else None
    if not isinstance(data, Mapping) or not isinstance(data.get("models"), Mapping):
        return None
    comps = {
        c["id"]: c
        for c in data.get("comparisons") or []
        if isinstance(c, Mapping) and c.get("kind") == "condition"
    }
    return data["models"], comps


def _model_table_rows(
    data: Mapping[str, Any], summary: Mapping[str, Any], band: float
) -> list[dict[str, Any]]:
    """Per model: probes, failed, and per condition the mean, the mean paired Δ, its n and
    the regressed/rescued counts. From the report's summary where it has them (so the
    viewer prints report.md's strings), else computed from the cells the same way."""
    from lem.report.analysis import mean_score, paired_delta_stats

    conditions: list[str] = data["conditions"]
    base = data["baseline"]
    found = _report_numbers(summary, data["scorer"])
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
            stats = None
            if isinstance(report_model, Mapping):
                entry = (report_model.get("conditions") or {}).get(cond)
                stats = entry.get("stats") if isinstance(entry, Mapping) else None
            if isinstance(stats, Mapping) and stats.get("mean") is not None:
                out["mean"] = stats["mean"]
            if i != base:
                comp = found[1].get(f"{label}: {cond} vs baseline") if found else None
                cstats = comp.get("stats") if isinstance(comp, Mapping) else None
                if isinstance(cstats, Mapping):
                    out.update(
                        delta=cstats["mean_delta"],
                        n=cstats["n"],
                        down=cstats["regressed"],
                        up=cstats["improved"],
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


def _header_html(data: Mapping[str, Any], summary: Mapping[str, Any], *, title: str) -> str:
    """The static header: title, counts, the per-model table and the summary's top-level
    scalar fields."""
    conditions: list[str] = data["conditions"]
    models: list[str] = data["models"]
    base = data["baseline"]
    band = _summary_band(summary)
    n_records = sum(
        len(cell["samples"])
        for probe in data["probes"]
        for row in probe["rows"]
        for cell in row["c"]
        if cell is not None
    )
    n_failed = sum(
        1
        for probe in data["probes"]
        for row in probe["rows"]
        for cell in row["c"]
        if cell is not None
        for s in cell["samples"]
        if s["s"] is None
    )
    n = len(conditions)
    out = [f'<header class="top">\n<h1>{_esc(title)}</h1>\n']
    meta = [
        f"scorer <b>{_esc(data['scorer'])}</b>",
        f"{len(data['probes'])} probes",
        f"{len(models)} model{'s' if len(models) != 1 else ''}",
        f"{n} condition{'s' if n != 1 else ''}",
        f"{n_records} responses",
        f"{n_failed} failed",
    ]
    out.append('<p class="meta">' + " · ".join(meta) + "</p>\n")
    if models and n:
        rows = _model_table_rows(data, summary, band)
        ref = "" if is_baseline(conditions[base]) else " (reference)"
        out.append(
            '<section class="per-model" id="per-model">\n<div class="table-head">'
            f"<b>Per model</b> ({len(models)}): mean score per condition; Δ: mean paired "
            f"difference from {_esc(conditions[base])}{ref} over n probes; ↓/↑: probes "
            f"regressed (Δ &lt; −{band:g}) / rescued (Δ &gt; {band:g}). Click a model to "
            'show its responses. <label>Filter <input id="f-model-table" type="search" '
            'placeholder="model name"></label> <span id="model-count"></span></div>\n'
            '<div class="table-wrap"><table class="overview" id="model-table"><thead><tr>'
            '<th rowspan="2">model</th><th rowspan="2">probes</th><th rowspan="2">failed</th>'
        )
        for i, cond in enumerate(conditions):
            span = 1 if i == base else 3
            out.append(f'<th colspan="{span}">{_esc(cond)}</th>')
        out.append("</tr><tr>")
        for i in range(n):
            out.append("<th>mean</th>" if i == base else "<th>mean</th><th>Δ (n)</th><th>↓/↑</th>")
        out.append("</tr></thead><tbody>\n")
        for m, row in enumerate(rows):
            out.append(
                f'<tr data-model="{m}"><th><button type="button" class="pick" data-model="{m}">'
                f"{_esc(row['model'])}</button></th><td>{row['probes']}</td>"
                f"<td>{row['failed']}</td>"
            )
            for i, cell in enumerate(row["cells"]):
                out.append(f"<td>{fmt_mean(cell['mean'])}</td>")
                if i == base:
                    continue
                delta = cell.get("delta")
                cls = "" if delta is None else " neg" if delta < 0 else " pos" if delta > 0 else ""
                n_text = f" ({cell['n']})" if delta is not None else ""
                out.append(f'<td class="num{cls}">{fmt_delta(delta)}{n_text}</td>')
                updown = f"{cell['down']}/{cell['up']}" if delta is not None else "—"
                out.append(f"<td>{updown}</td>")
            out.append("</tr>\n")
        out.append("</tbody></table></div>\n</section>\n")
    scalars = [
        (k, v)
        for k, v in sorted((k, v) for k, v in summary.items() if isinstance(k, str))
        if isinstance(v, str | int | float | bool) or v is None
    ][:16]
    if scalars:
        out.append('<p class="meta summary-fields">')
        out.append(" · ".join(f"{_esc(k)}: <b>{_esc(v)}</b>" for k, v in scalars))
        out.append("</p>\n")
    out.append("</header>\n")
    return "".join(out)


_CONTROLS_HTML = """\
<nav class="controls" id="controls">
<label>Domain <select id="f-domain"><option value="">all domains</option></select></label>
<label>Model <select id="f-model"><option value="">all models</option></select></label>
<label>Search <input id="f-search" type="search" placeholder="probe id or prompt"></label>
<label>Sort <select id="f-sort">
<option value="id">probe id</option>
<option value="domain">domain</option>
<option value="regression">largest regression</option>
<option value="rescue">largest rescue</option>
</select></label>
<label><input id="f-reg" type="checkbox"> only regressions below
<input id="f-reg-x" type="number" value="-5" step="0.5"></label>
<label>Rows/page <select id="f-page-size">
<option>10</option><option>25</option><option selected>50</option><option>100</option>
<option>250</option></select></label>
<label><input id="f-expand" type="checkbox"> full texts</label>
</nav>
<div class="legend" id="legend"></div>
<div class="pager" id="pager-top"></div>
<main id="probes"><div class="empty" id="status">Loading the responses…</div></main>
<div class="pager" id="pager-bottom"></div>
<noscript><p class="error">This viewer needs JavaScript.</p></noscript>
"""

_CSS = """
:root{--fg:#1d2330;--muted:#667085;--line:#d9dee7;--bg:#f6f7f9;--card:#fff;--neg:#b42318;
--pos:#067647;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg)}
body{margin:0;background:var(--bg)}
header.top{padding:14px 20px 6px;background:#fff;border-bottom:1px solid var(--line)}
h1{font-size:20px;margin:0 0 4px}
.meta{color:var(--muted);margin:2px 0 8px}
.meta b{color:var(--fg)}
.table-head{color:var(--muted);margin:4px 0;font-size:13px}
.table-head b{color:var(--fg)}
.table-head input{font:inherit;padding:1px 4px;width:14em}
.table-wrap{max-height:40vh;overflow:auto;border:1px solid var(--line);margin:4px 0 10px;
width:fit-content;max-width:100%}
table.overview{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
table.overview th,table.overview td{border:1px solid var(--line);padding:2px 8px;text-align:right;
white-space:nowrap}
table.overview tbody th{text-align:left;font-weight:normal}
table.overview thead th{background:#eef1f6;text-align:center;position:sticky;top:0;z-index:1}
table.overview thead tr+tr th{top:1.6em}
table.overview tr.sel{background:#fff6d6}
button.pick{font:inherit;border:0;background:none;padding:0;color:#1849a9;cursor:pointer;
text-align:left}
button.pick:hover{text-decoration:underline}
.neg{color:var(--neg)}.pos{color:var(--pos)}
nav.controls{position:sticky;top:0;z-index:5;display:flex;flex-wrap:wrap;gap:8px 16px;
align-items:center;padding:8px 20px;background:#fff;border-bottom:1px solid var(--line);
box-shadow:0 1px 3px rgba(0,0,0,.05)}
nav.controls label{display:flex;align-items:center;gap:5px;color:var(--muted)}
nav.controls select,nav.controls input{font:inherit;padding:2px 4px}
#f-search{width:16em}#f-reg-x{width:5em}#f-model{max-width:28em}
.legend{display:flex;flex-wrap:wrap;gap:4px 10px;padding:6px 20px;font-size:12px}
.legend label{display:flex;align-items:center;gap:3px;cursor:pointer}
.legend .sw{display:inline-block;padding:0 5px;border-radius:3px}
.pager{display:flex;gap:10px;align-items:center;padding:6px 20px;color:var(--muted)}
.pager button{font:inherit;padding:2px 10px}
main{padding:0 20px 10px}
section.probe{background:var(--card);border:1px solid var(--line);border-radius:8px;
margin:10px 0;padding:10px 12px}
section.probe>h2{font-size:15px;margin:0 0 4px;display:flex;gap:10px;align-items:baseline}
.pid{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.cat{font-size:12px;font-weight:normal;background:#eef1f6;border-radius:10px;padding:1px 8px}
.cont{font-size:12px;font-weight:normal;color:var(--muted)}
.prompt{margin:0 0 8px;padding:6px 10px;background:#f3f5f8;border-left:3px solid #98a2b3;
white-space:pre-wrap}
.model-row{margin-top:8px;content-visibility:auto;contain-intrinsic-size:auto 420px}
.model-name{font-weight:600;font-size:13px;margin:0 0 4px;color:#344054;overflow-wrap:anywhere}
.cells{display:grid;gap:8px;overflow-x:auto}
article.cell{border:1px solid var(--line);border-radius:6px;padding:6px 8px;min-width:0;
display:flex;flex-direction:column;overflow:hidden}
article.cell.failed{border-color:#f3b4ae;background:#fffafa}
article.cell.missing{opacity:.6}
.cell-head{display:flex;flex-wrap:wrap;gap:6px;align-items:baseline;margin-bottom:4px}
.cond{font-weight:600;overflow-wrap:anywhere}
.score{font-variant-numeric:tabular-nums;background:#eef1f6;border-radius:4px;padding:0 5px}
.delta{font-variant-numeric:tabular-nums;font-weight:600}
.delta.base{color:var(--muted);font-weight:normal;font-style:italic}
.sample-head{font-size:12px;color:var(--muted);margin-top:4px}
.error{color:var(--neg);font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap;
margin:2px 0}
pre.resp{white-space:pre-wrap;overflow-wrap:anywhere;font:13px/1.45 system-ui,sans-serif;
margin:0 0 6px;max-height:22em;overflow:auto;padding-right:4px}
body.expand pre.resp{max-height:none}
pre.resp mark{color:inherit;border-radius:2px;padding:0}
pre.resp mark.multi{box-shadow:inset 0 -2px 0 rgba(0,0,0,.35)}
.sig{display:grid;grid-template-columns:repeat(auto-fill,minmax(12.5em,1fr));gap:0 10px;
font-size:11px;margin-top:auto;padding-top:6px;font-variant-numeric:tabular-nums;min-width:0}
.sig>span{display:flex;gap:4px;justify-content:space-between;border-top:1px solid #eef0f4;
min-width:0}
.sig .nm{overflow-wrap:anywhere;min-width:0}
.sig .v{white-space:nowrap}
.sig .z{color:#b0b7c3}
.sig .sw{display:inline-block;width:8px;height:8px;border-radius:2px;margin-right:3px}
.sig .up{color:var(--pos)}.sig .down{color:var(--neg)}
.empty{padding:30px;text-align:center;color:var(--muted)}
"""

_JS = r"""
"use strict";
(function () {
  // One rounding rule (lem.numfmt): half away from zero on the shortest decimal form.
  function fmtFixed(x, places, signed) {
    if (x === null || x === undefined || Number.isNaN(x)) return "—";
    if (!Number.isFinite(x)) return x > 0 ? (signed ? "+∞" : "∞") : "-∞";
    let s = String(Math.abs(x)), exp = 0;
    const e = s.indexOf("e");
    if (e >= 0) { exp = Number(s.slice(e + 1)); s = s.slice(0, e); }
    const dot = s.indexOf(".");
    let digits = dot < 0 ? s : s.slice(0, dot) + s.slice(dot + 1);
    let point = (dot < 0 ? s.length : dot) + exp;
    if (point < 0) { digits = "0".repeat(-point) + digits; point = 0; }
    const keep = point + places;
    if (digits.length < keep) digits += "0".repeat(keep - digits.length);
    const head = digits.slice(0, keep).split("").map(Number);
    if (digits.length > keep && digits[keep] >= "5") {
      let k = head.length - 1;
      while (k >= 0 && head[k] === 9) { head[k] = 0; k--; }
      if (k >= 0) head[k] += 1; else head.unshift(1);
    }
    const cut = head.length - places;
    let ip = head.slice(0, cut).join("").replace(/^0+(?=\d)/, "") || "0";
    let out = ip + (places ? "." + head.slice(cut).join("") : "");
    if (x < 0 && /[1-9]/.test(out)) out = "-" + out;
    if (signed && out[0] !== "-") out = "+" + out;
    return out;
  }
  function fmt(x) { return fmtFixed(x, 2, false); }
  function signed(x) { return fmtFixed(x, 2, true); }
  function fmtSignal(v) { return Number.isInteger(v) ? String(v) : fmt(v); }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function cmpStr(a, b) { return a < b ? -1 : a > b ? 1 : 0; }

  async function decode(node) {
    const bin = atob(node.textContent.trim());
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return JSON.parse(await new Response(stream).text());
  }

  function compileRules(rules) {
    return rules.map((r) => ({ k: r.k, re: new RegExp(r.source, r.flags), start: r.start,
      shift: r.shift }));
  }
  // Every match of the scorer's patterns in text: flat [start, end, signal, ...] in UTF-16
  // units; computed only for the responses being shown.
  function spansOf(rules, text) {
    const out = [];
    for (const r of rules) {
      if (r.start) {
        const m = r.re.exec(text);
        if (m) out.push(0, m[0].length, r.k);
        continue;
      }
      let off = 0;
      if (r.shift && text.length) off = text.codePointAt(0) > 0xffff ? 2 : 1;
      const subject = off ? text.slice(off) : text;
      for (const m of subject.matchAll(r.re)) {
        out.push(m.index + off, m.index + off + m[0].length, r.k);
      }
    }
    return out;
  }

  function start(D) {
    const NC = D.conditions.length;
    const BASE = D.baseline;
    const HL = D.highlight;
    const RULES = compileRules(D.rules);
    const hidden = new Set();
    const state = { domain: "", model: "", query: "", sort: "id", reg: false, regX: -5,
      pageSize: 50, page: 0 };
    window.lemViewer = { spans: (t) => spansOf(RULES, t), format: fmtFixed };

    const probes = D.probes.map((p, i) => ({ p: p, i: i,
      key: (p.id + "\n" + p.prompt).toLowerCase() }));

    function visibleRows(p) {
      if (state.model === "") return p.rows;
      const m = Number(state.model);
      return p.rows.filter((r) => r.m === m);
    }
    function extremes(rows) {
      let lo = null, hi = null;
      for (const r of rows) for (const c of r.c) {
        if (!c || c.delta === null || c.delta === undefined) continue;
        lo = lo === null ? c.delta : Math.min(lo, c.delta);
        hi = hi === null ? c.delta : Math.max(hi, c.delta);
      }
      return [lo, hi];
    }

    function selection() {
      const terms = state.query.toLowerCase().split(/\s+/).filter(Boolean);
      const out = [];
      for (const e of probes) {
        if (state.domain !== "" && e.p.category !== state.domain) continue;
        if (terms.some((t) => e.key.indexOf(t) < 0)) continue;
        const rows = visibleRows(e.p);
        if (!rows.length) continue;
        const ex = extremes(rows);
        if (state.reg && !(ex[0] !== null && ex[0] < state.regX)) continue;
        out.push({ e: e, rows: rows, lo: ex[0], hi: ex[1] });
      }
      const nullsLast = (a, b, f) => (a === null) - (b === null) || (a === null ? 0 : f(a, b));
      const by = {
        id: (a, b) => a.e.i - b.e.i,
        domain: (a, b) => cmpStr(a.e.p.category, b.e.p.category) || a.e.i - b.e.i,
        regression: (a, b) => nullsLast(a.lo, b.lo, (x, y) => x - y) || a.e.i - b.e.i,
        rescue: (a, b) => nullsLast(a.hi, b.hi, (x, y) => y - x) || a.e.i - b.e.i,
      }[state.sort];
      out.sort(by);
      return out;
    }

    // Pages of about pageSize model rows; a probe with more rows than fit continues on
    // the next page, so a page never holds more than pageSize rows.
    function paginate(items) {
      const pages = [];
      let cur = [], rows = 0;
      for (const it of items) {
        for (let k = 0; k < it.rows.length;) {
          const take = Math.min(it.rows.length - k, state.pageSize - rows);
          cur.push({ e: it.e, rows: it.rows.slice(k, k + take), more: k > 0 });
          k += take;
          rows += take;
          if (rows >= state.pageSize) { pages.push(cur); cur = []; rows = 0; }
        }
      }
      if (cur.length) pages.push(cur);
      return pages;
    }

    function highlighted(text) {
      const frag = document.createDocumentFragment();
      const flat = RULES.length ? spansOf(RULES, text) : [];
      const spans = [];
      for (let k = 0; k + 2 < flat.length; k += 3) {
        if (!hidden.has(flat[k + 2]) && flat[k + 1] > flat[k]) {
          spans.push([flat[k], flat[k + 1], flat[k + 2]]);
        }
      }
      if (!spans.length) { frag.append(text); return frag; }
      const cuts = new Set([0, text.length]);
      for (const s of spans) { cuts.add(s[0]); cuts.add(s[1]); }
      const xs = Array.from(cuts).sort((a, b) => a - b);
      spans.sort((a, b) => a[0] - b[0]);
      let first = 0;
      for (let j = 0; j + 1 < xs.length; j++) {
        const a = xs[j], b = xs[j + 1];
        const seg = text.slice(a, b);
        while (first < spans.length && spans[first][1] <= a) first++;
        const on = [];
        for (let q = first; q < spans.length && spans[q][0] <= a; q++) {
          const s = spans[q];
          if (b <= s[1] && on.indexOf(s[2]) < 0) on.push(s[2]);
        }
        if (!on.length) { frag.append(seg); continue; }
        on.sort((x, y) => x - y);
        const m = el("mark", "s" + on[0] + (on.length > 1 ? " multi" : ""), seg);
        const names = on.map((k) => HL[k]);
        m.dataset.signals = names.join(" ");
        m.title = names.join(", ");
        frag.append(m);
      }
      return frag;
    }

    function baselineSignals(row) {
      const cell = row.c[BASE];
      if (!cell) return null;
      const ok = cell.samples.filter((s) => s.s !== null);
      if (!ok.length) return null;
      return D.signals.map((_, k) => {
        const vals = ok.map((s) => s.g[k]).filter((v) => v !== null);
        return vals.length ? vals.reduce((x, y) => x + y, 0) / vals.length : null;
      });
    }

    function signalList(sample, base) {
      const box = el("div", "sig");
      D.signals.forEach((name, k) => {
        const v = sample.g[k];
        if (v === null) return;
        const item = el("span", v === 0 ? "z" : "");
        item.dataset.signal = name;
        const n = el("span", "nm");
        const h = HL.indexOf(name);
        if (h >= 0) n.append(el("span", "sw s" + h));
        n.append(name);
        const vc = el("span", "v", fmtSignal(v));
        if (base && base[k] !== null && v !== base[k]) {
          vc.append(el("span", v > base[k] ? "up" : "down", v > base[k] ? "▲" : "▼"));
          vc.title = "baseline " + fmtSignal(base[k]);
        }
        item.append(n, vc);
        box.append(item);
      });
      return box.childNodes.length ? box : null;
    }

    function renderCell(cell, ci, base) {
      const art = el("article", "cell");
      art.dataset.condition = D.conditions[ci];
      const head = el("div", "cell-head");
      head.append(el("span", "cond", D.conditions[ci]));
      art.append(head);
      if (!cell) {
        art.classList.add("missing");
        head.append(el("span", "score", "no response"));
        return art;
      }
      if (cell.score === null) art.classList.add("failed");
      const sc = el("span", "score", cell.score === null ? "failed" : fmt(cell.score));
      sc.title = "score";
      head.append(sc);
      if (ci === BASE) {
        if (!/^baseline(:|$)/.test(D.conditions[ci])) {
          head.append(el("span", "delta base", "reference"));
        }
      } else if (cell.delta !== null) {
        const d = el("span", "delta " + (cell.delta < 0 ? "neg" : cell.delta > 0 ? "pos" : ""),
          "Δ " + signed(cell.delta));
        d.title = "score minus this model's baseline score";
        head.append(d);
      } else head.append(el("span", "delta base", "Δ n/a"));
      for (const s of cell.samples) {
        if (D.multiSample) {
          art.append(el("div", "sample-head",
            "sample " + s.n + " · " + (s.s === null ? "failed" : fmt(s.s))));
        }
        if (s.s === null) art.append(el("div", "error", "error: " + (s.e || "no score")));
        const pre = el("pre", "resp");
        pre.append(s.s !== null && s.t ? highlighted(s.t) : s.t);
        art.append(pre);
        const t = s.s === null ? null : signalList(s, ci === BASE ? null : base);
        if (t) art.append(t);
      }
      return art;
    }

    function renderProbe(item, continued) {
      const p = item.e.p;
      const sec = el("section", "probe");
      sec.dataset.probeId = p.id;
      sec.dataset.category = p.category;
      const h = el("h2");
      h.append(el("span", "pid", p.id), el("span", "cat", p.category));
      if (continued) h.append(el("span", "cont", "(continued)"));
      sec.append(h, el("p", "prompt", p.prompt));
      for (const row of item.rows) {
        const div = el("div", "model-row");
        div.dataset.model = D.models[row.m];
        div.append(el("div", "model-name", D.models[row.m]));
        const cells = el("div", "cells");
        cells.style.gridTemplateColumns = "repeat(" + NC + ", minmax(13em, 1fr))";
        const base = baselineSignals(row);
        for (let ci = 0; ci < NC; ci++) cells.append(renderCell(row.c[ci], ci, base));
        div.append(cells);
        sec.append(div);
      }
      return sec;
    }

    function pager(node, nPages, nProbes, nRows) {
      node.replaceChildren();
      const prev = el("button", "", "‹ prev");
      prev.disabled = state.page <= 0;
      prev.addEventListener("click", () => go(state.page - 1));
      const next = el("button", "", "next ›");
      next.disabled = state.page >= nPages - 1;
      next.addEventListener("click", () => go(state.page + 1));
      const info = el("span", "page-info",
        "page " + (nPages ? state.page + 1 : 0) + " / " + nPages + " · " + nProbes +
        " probe" + (nProbes === 1 ? "" : "s") + " · " + nRows + " model row" +
        (nRows === 1 ? "" : "s"));
      node.append(prev, info, next);
    }

    let lastPages = [];
    function render() {
      const items = selection();
      const pages = paginate(items);
      lastPages = pages;
      if (state.page >= pages.length) state.page = Math.max(0, pages.length - 1);
      const main = document.getElementById("probes");
      main.replaceChildren();
      const page = pages[state.page] || [];
      for (const item of page) main.append(renderProbe(item, item.more));
      if (!page.length) main.append(el("div", "empty", "No probes match."));
      const nRows = items.reduce((n, it) => n + it.rows.length, 0);
      pager(document.getElementById("pager-top"), pages.length, items.length, nRows);
      pager(document.getElementById("pager-bottom"), pages.length, items.length, nRows);
      markModel();
    }
    function go(page) {
      if (page < 0 || page >= lastPages.length) return;
      state.page = page;
      render();
      document.getElementById("controls").scrollIntoView();
    }

    function fill(id, values, labels) {
      const sel = document.getElementById(id);
      values.forEach((v, k) => {
        const o = el("option", "", labels[k]);
        o.value = v;
        sel.append(o);
      });
    }
    const catCount = {};
    for (const p of D.probes) catCount[p.category] = (catCount[p.category] || 0) + 1;
    fill("f-domain", D.categories, D.categories.map((c) => c + " (" + catCount[c] + ")"));
    fill("f-model", D.models.map((_, k) => String(k)), D.models);

    const legend = document.getElementById("legend");
    if (HL.length) {
      legend.append(el("span", "", "Highlighted matches:"));
      HL.forEach((name, k) => {
        const lab = el("label");
        const cb = el("input");
        cb.type = "checkbox";
        cb.checked = true;
        cb.dataset.signal = name;
        cb.addEventListener("change", () => {
          if (cb.checked) hidden.delete(k); else hidden.add(k);
          render();
        });
        lab.append(cb, el("span", "sw s" + k, name));
        legend.append(lab);
      });
    } else legend.hidden = true;

    // the per-model table: filter by name, click a model to show its responses
    const table = document.getElementById("model-table");
    const count = document.getElementById("model-count");
    function markModel() {
      if (!table) return;
      for (const tr of table.tBodies[0].rows) {
        tr.classList.toggle("sel", tr.dataset.model === state.model);
      }
    }
    function filterTable(q) {
      if (!table) return;
      const terms = q.toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const tr of table.tBodies[0].rows) {
        const name = D.models[Number(tr.dataset.model)].toLowerCase();
        tr.hidden = terms.some((t) => name.indexOf(t) < 0);
        if (!tr.hidden) shown++;
      }
      count.textContent = terms.length ? shown + " of " + D.models.length + " shown" : "";
    }
    if (table) {
      document.getElementById("f-model-table").addEventListener("input",
        (e) => filterTable(e.target.value));
      table.addEventListener("click", (e) => {
        const b = e.target.closest("button.pick");
        if (!b) return;
        state.model = b.dataset.model;
        document.getElementById("f-model").value = state.model;
        state.page = 0;
        render();
        document.getElementById("controls").scrollIntoView();
      });
    }

    function bind(id, ev, fn) {
      document.getElementById(id).addEventListener(ev, (e) => { fn(e.target); state.page = 0;
        render(); });
    }
    bind("f-domain", "change", (t) => { state.domain = t.value; });
    bind("f-model", "change", (t) => { state.model = t.value; });
    bind("f-search", "input", (t) => { state.query = t.value; });
    bind("f-sort", "change", (t) => { state.sort = t.value; });
    bind("f-reg", "change", (t) => { state.reg = t.checked; });
    bind("f-reg-x", "input", (t) => {
      const x = parseFloat(t.value);
      state.regX = isNaN(x) ? 0 : x;
    });
    bind("f-page-size", "change", (t) => { state.pageSize = Number(t.value) || 50; });
    document.getElementById("f-expand").addEventListener("change", (e) => {
      document.body.classList.toggle("expand", e.target.checked);
    });
    render();
    document.body.dataset.ready = "1";
  }

  decode(document.getElementById("lem-data")).then(start).catch((err) => {
    const status = document.getElementById("status");
    if (status) status.textContent = "Could not read the embedded responses: " + err;
    document.body.dataset.ready = "error";
    throw err;
  });
})();
"""
