"""The HTML side-by-side viewer of ``lem report``: one self-contained, offline file.

Per probe, the responses of every condition sit side by side (baseline first), one row per
model, each with its score, its delta against that model's baseline, its signal values and,
for LEK v2, the phrases the scorer counted highlighted in the text. Everything (CSS, vanilla
JS, data) is inline: the file opens from disk with no network, and a Content-Security-Policy
only lets the viewer's own script run. The data travels as a JSON block and the script
builds the DOM with ``textContent`` only, so response text (untrusted) is never parsed as
HTML. Rows are rendered page by page, which keeps ~9,000 responses responsive.

Output is deterministic: the same records, summary, title and scorer give a byte-identical
file (stable ordering, sorted JSON keys, no timestamps).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lem.report.model import ResponseRecord
from lem.scoring.lek_v2 import LEK_V2_SIGNALS, matched_spans

__all__ = ["HIGHLIGHT_SIGNALS", "render_viewer", "viewer_data", "viewer_html"]

HIGHLIGHT_SIGNALS: tuple[str, ...] = tuple(
    s for s in LEK_V2_SIGNALS if s not in ("degeneration", "empty_broken", "engagement_depth")
)
"""The LEK v2 signals whose matches :func:`~lem.scoring.lek_v2.matched_spans` reports."""

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
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_DIGIT_RUN = re.compile("([0-9]+)")
_MEAN_KEYS: tuple[str, ...] = ("mean", "mean_score", "score_mean", "avg", "average")
_BASELINE = "baseline"


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

    ``summary`` is the report's summary.json content; it may be empty or of any shape:
    its top-level scalar fields are listed in the header, and per-condition means found
    in it are shown beside the means computed from the records.
    """
    page = viewer_html(records, summary, title=title, scorer=scorer)
    out_path.write_bytes(page.encode("utf-8", "backslashreplace"))


def viewer_html(
    records: Sequence[ResponseRecord],
    summary: Mapping[str, Any],
    *,
    title: str,
    scorer: str,
) -> str:
    """The viewer page as a string (what :func:`render_viewer` writes)."""
    data = viewer_data(records, scorer=scorer)
    payload = json.dumps(
        data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    payload = payload.replace("<", "\\u003c")
    digest = base64.b64encode(hashlib.sha256(_JS.encode()).digest()).decode()
    csp = _CSP.format(script_hash="sha256-" + digest)
    css = _CSS + _signal_css(data["highlight"])
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        '<meta name="generator" content="lem report">\n',
        f"<title>{_esc(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n",
        _header_html(data, summary, title=title),
        _CONTROLS_HTML,
        '<script type="application/json" id="lem-data">',
        payload,
        "</script>\n<script>",
        _JS,
        "</script>\n</body>\n</html>\n",
    ]
    return "".join(parts)


def viewer_data(records: Sequence[ResponseRecord], *, scorer: str) -> dict[str, Any]:
    """The JSON the page embeds: probes in natural id order, models in order of first
    appearance, conditions with the baseline first, cells with scores, deltas, signal
    values and highlight spans (UTF-16 offsets, as the browser indexes strings)."""
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

    looks_lek = scorer == "lek-v2"
    signal_names = _signal_names(records, lek=looks_lek)
    if not looks_lek and set(LEK_V2_SIGNALS) <= set(signal_names):
        looks_lek = True
    highlight = list(HIGHLIGHT_SIGNALS) if looks_lek else []
    if looks_lek:
        signal_names = _signal_names(records, lek=True)
    sig_index = {s: i for i, s in enumerate(signal_names)}
    span_index = {s: i for i, s in enumerate(highlight)}

    grouped: dict[tuple[str, int, int], list[ResponseRecord]] = {}
    for rec in records:
        key = (rec.probe_id, models[rec.model], cond_index[rec.condition])
        grouped.setdefault(key, []).append(rec)

    cells: dict[tuple[str, int], list[dict[str, Any] | None]] = {}
    for (probe_id, model_i, cond_i), recs in grouped.items():
        recs.sort(key=lambda r: r.sample)
        samples = [_sample(r, sig_index, span_index, highlight=looks_lek) for r in recs]
        ok = [s["s"] for s in samples if s["s"] is not None]
        row = cells.setdefault((probe_id, model_i), [None] * len(cond_names))
        row[cond_i] = {"score": _round(sum(ok) / len(ok)) if ok else None, "samples": samples}

    for row in cells.values():
        base_cell = row[base]
        base_score = base_cell["score"] if base_cell else None
        for i, cell in enumerate(row):
            if cell is None:
                continue
            delta = None
            if i != base and cell["score"] is not None and base_score is not None:
                delta = _round(cell["score"] - base_score)
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
        "scorer": scorer,
        "signals": signal_names,
    }


def _order_conditions(names: list[str]) -> list[str]:
    """Conditions in order of first appearance with the baseline moved first (a condition
    named ``baseline`` or ``baseline:...``; without one, the first is the reference)."""
    for name in names:
        if _is_baseline(name):
            return [name, *(n for n in names if n != name)]
    return names


def _is_baseline(name: str) -> bool:
    return name.split(":", 1)[0] == _BASELINE


def _signal_names(records: Sequence[ResponseRecord], *, lek: bool) -> list[str]:
    keys: set[str] = set()
    for rec in records:
        keys.update(rec.signals)
    if lek:
        return [*LEK_V2_SIGNALS, *sorted(keys - set(LEK_V2_SIGNALS))]
    return sorted(keys)


def _sample(
    rec: ResponseRecord,
    sig_index: Mapping[str, int],
    span_index: Mapping[str, int],
    *,
    highlight: bool,
) -> dict[str, Any]:
    score = _number(rec.score)
    error = rec.error
    if score is None and rec.score is not None:
        error = error or f"non-finite score {rec.score!r}"
    values: list[float | None] = [None] * len(sig_index)
    for name, value in rec.signals.items():
        values[sig_index[name]] = _number(value)
    spans: list[int] = []
    if highlight and score is not None and rec.response:
        spans = _flat_spans(rec.response, span_index)
    return {
        "e": error if score is None else None,
        "g": values,
        "m": spans,
        "n": rec.sample,
        "s": score,
        "t": rec.response,
    }


def _flat_spans(text: str, span_index: Mapping[str, int]) -> list[int]:
    """``matched_spans`` as a flat ``[start, end, signal, ...]`` list in UTF-16 units."""
    spans = matched_spans(text)
    if text.isascii() or not _ASTRAL.search(text):
        return [v for s, e, name in spans for v in (s, e, span_index[name])]
    offsets = [0]
    for ch in text:
        offsets.append(offsets[-1] + (2 if ord(ch) > 0xFFFF else 1))
    return [v for s, e, name in spans for v in (offsets[s], offsets[e], span_index[name])]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return value
    return None


def _round(value: float) -> float:
    return round(value, 4)


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


def _fmt(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "–"
    text = f"{abs(value) if signed else value:.2f}"
    if not signed:
        return text
    return ("+" if value > 0 else "−" if value < 0 else "±") + text


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _summary_band(summary: Mapping[str, Any] | None) -> float:
    """The report's improved/regressed band (``settings.band``), else upstream's 0.5."""
    settings = (summary or {}).get("settings")
    band = settings.get("band") if isinstance(settings, Mapping) else None
    return float(band) if isinstance(band, int | float) and band >= 0 else 0.5


def _summary_condition_means(
    summary: Mapping[str, Any], conditions: Sequence[str]
) -> dict[str, float] | None:
    """Per-condition means found anywhere (breadth first, depth <= 3) in ``summary``: the
    first mapping keyed by condition names whose values are numbers or carry a numeric
    ``mean``-like field. None when there is no such mapping."""
    wanted = set(conditions)
    queue: list[tuple[Any, int]] = [(summary, 0)]
    while queue:
        node, depth = queue.pop(0)
        if not isinstance(node, Mapping):
            continue
        found: dict[str, float] = {}
        for key in sorted(k for k in node if isinstance(k, str) and k in wanted):
            value = node[key]
            if isinstance(value, Mapping):
                value = next((value[k] for k in _MEAN_KEYS if k in value), None)
            number = _number(value)
            if number is not None:
                found[key] = float(number)
        if found:
            return found
        if depth < 3:
            for key in sorted(k for k in node if isinstance(k, str)):
                queue.append((node[key], depth + 1))
    return None


def _header_html(data: Mapping[str, Any], summary: Mapping[str, Any], *, title: str) -> str:
    """The static header: title, counts, per-condition means and deltas, per-model means,
    and the summary's top-level scalar fields."""
    conditions: list[str] = data["conditions"]
    models: list[str] = data["models"]
    base = data["baseline"]
    n = len(conditions)
    counts = [0] * n
    failed = [0] * n
    scores: list[list[float]] = [[] for _ in range(n)]
    deltas: list[list[float]] = [[] for _ in range(n)]
    model_scores: list[list[list[float]]] = [[[] for _ in range(n)] for _ in models]
    model_deltas: list[list[list[float]]] = [[[] for _ in range(n)] for _ in models]
    for probe in data["probes"]:
        for row in probe["rows"]:
            for i, cell in enumerate(row["c"]):
                if cell is None:
                    continue
                for sample in cell["samples"]:
                    counts[i] += 1
                    if sample["s"] is None:
                        failed[i] += 1
                    else:
                        scores[i].append(sample["s"])
                if cell["score"] is not None:
                    model_scores[row["m"]][i].append(cell["score"])
                if cell.get("delta") is not None:
                    deltas[i].append(cell["delta"])
                    model_deltas[row["m"]][i].append(cell["delta"])
    from_summary = _summary_condition_means(summary, conditions) if summary else None
    band = _summary_band(summary)

    out = [f'<header class="top">\n<h1>{_esc(title)}</h1>\n']
    n_records = sum(counts)
    meta = [
        f"scorer <b>{_esc(data['scorer'])}</b>",
        f"{len(data['probes'])} probes",
        f"{len(models)} model{'s' if len(models) != 1 else ''}",
        f"{n} condition{'s' if n != 1 else ''}",
        f"{n_records} responses",
        f"{sum(failed)} failed",
    ]
    out.append('<p class="meta">' + " · ".join(meta) + "</p>\n")
    if n:
        out.append('<table class="overview"><thead><tr><th>condition</th><th>responses</th>')
        out.append("<th>failed</th><th>mean score</th><th>mean Δ vs baseline</th>")
        out.append(f"<th>regressed (Δ &lt; −{band:g})</th><th>rescued (Δ &gt; {band:g})</th>")
        if from_summary:
            out.append("<th>mean (summary.json)</th>")
        out.append("</tr></thead><tbody>\n")
        for i, cond in enumerate(conditions):
            is_base = i == base
            ref = is_base and not _is_baseline(cond)
            down = sum(1 for d in deltas[i] if d < -band)
            up = sum(1 for d in deltas[i] if d > band)
            delta = _mean(deltas[i])
            cls = "" if delta is None else " neg" if delta < 0 else " pos" if delta > 0 else ""
            out.append(
                f"<tr><th>{_esc(cond)}{' <i>(reference)</i>' if ref else ''}</th>"
                f"<td>{counts[i]}</td><td>{failed[i]}</td><td>{_fmt(_mean(scores[i]))}</td>"
                f'<td class="num{cls}">{"" if is_base else _fmt(delta, signed=True)}</td>'
                f"<td>{'' if is_base else down}</td><td>{'' if is_base else up}</td>"
            )
            if from_summary:
                out.append(f"<td>{_fmt(from_summary.get(cond))}</td>")
            out.append("</tr>\n")
        out.append("</tbody></table>\n")
    if len(models) > 1:
        out.append(
            f'<details class="per-model"><summary>Per-model means ({len(models)} models)'
            '</summary>\n<table class="overview"><thead><tr><th>model</th>'
        )
        out.extend(f"<th>{_esc(c)}</th>" for c in conditions)
        out.append("</tr></thead><tbody>\n")
        for m, model in enumerate(models):
            out.append(f"<tr><th>{_esc(model)}</th>")
            for i in range(n):
                mean = _fmt(_mean(model_scores[m][i]))
                delta = _mean(model_deltas[m][i])
                extra = ""
                if i != base and delta is not None:
                    cls = "neg" if delta < 0 else "pos" if delta > 0 else ""
                    extra = f' <span class="{cls}">({_fmt(delta, signed=True)})</span>'
                out.append(f"<td>{mean}{extra}</td>")
            out.append("</tr>\n")
        out.append("</tbody></table></details>\n")
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
<main id="probes"></main>
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
table.overview{border-collapse:collapse;margin:4px 0 10px;font-size:13px}
table.overview th,table.overview td{border:1px solid var(--line);padding:3px 8px;text-align:right}
table.overview th:first-child{text-align:left}
table.overview thead th{background:#eef1f6;text-align:center}
details.per-model summary{cursor:pointer;color:var(--muted);margin:4px 0}
.neg{color:var(--neg)}.pos{color:var(--pos)}
nav.controls{position:sticky;top:0;z-index:5;display:flex;flex-wrap:wrap;gap:8px 16px;
align-items:center;padding:8px 20px;background:#fff;border-bottom:1px solid var(--line);
box-shadow:0 1px 3px rgba(0,0,0,.05)}
nav.controls label{display:flex;align-items:center;gap:5px;color:var(--muted)}
nav.controls select,nav.controls input{font:inherit;padding:2px 4px}
#f-search{width:16em}#f-reg-x{width:5em}
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
.model-name{font-weight:600;font-size:13px;margin:0 0 4px;color:#344054}
.cells{display:grid;gap:8px}
article.cell{border:1px solid var(--line);border-radius:6px;padding:6px 8px;min-width:0;
display:flex;flex-direction:column}
article.cell.failed{border-color:#f3b4ae;background:#fffafa}
article.cell.missing{opacity:.6}
.cell-head{display:flex;flex-wrap:wrap;gap:6px;align-items:baseline;margin-bottom:4px}
.cond{font-weight:600}
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
table.sig{border-collapse:collapse;font-size:11px;margin-top:auto;padding-top:6px;width:100%;
font-variant-numeric:tabular-nums}
table.sig td{padding:0 4px;border-top:1px solid #eef0f4;white-space:nowrap}
table.sig td.v{text-align:right;width:3.5em}
table.sig td.z{color:#b0b7c3}
table.sig .sw{display:inline-block;width:8px;height:8px;border-radius:2px;margin-right:3px}
table.sig .up{color:var(--pos)}table.sig .down{color:var(--neg)}
.empty{padding:30px;text-align:center;color:var(--muted)}
"""

_JS = r"""
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("lem-data").textContent);
  const NC = D.conditions.length;
  const BASE = D.baseline;
  const HL = D.highlight;
  const hidden = new Set();
  const state = { domain: "", model: "", query: "", sort: "id", reg: false, regX: -5,
    pageSize: 50, page: 0 };

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmt(x) {
    return x === null || x === undefined ? "–" : (Math.round(x * 100) / 100).toFixed(2);
  }
  function signed(x) {
    if (x === null || x === undefined) return "–";
    return (x > 0 ? "+" : x < 0 ? "−" : "±") + fmt(Math.abs(x));
  }
  function cmpStr(a, b) { return a < b ? -1 : a > b ? 1 : 0; }

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

  function paginate(items) {
    const pages = [];
    let cur = [], rows = 0;
    for (const it of items) {
      cur.push(it);
      rows += it.rows.length;
      if (rows >= state.pageSize) { pages.push(cur); cur = []; rows = 0; }
    }
    if (cur.length) pages.push(cur);
    return pages;
  }

  function highlighted(text, flat) {
    const frag = document.createDocumentFragment();
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
    for (let j = 0; j + 1 < xs.length; j++) {
      const a = xs[j], b = xs[j + 1];
      const seg = text.slice(a, b);
      const on = [];
      for (const s of spans) if (s[0] <= a && b <= s[1] && on.indexOf(s[2]) < 0) on.push(s[2]);
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

  function signalTable(sample, base) {
    const idx = [];
    D.signals.forEach((_, k) => { if (sample.g[k] !== null) idx.push(k); });
    if (!idx.length) return null;
    const t = el("table", "sig");
    const body = el("tbody");
    for (let j = 0; j < idx.length; j += 2) {
      const tr = el("tr");
      for (const k of idx.slice(j, j + 2)) {
        const name = D.signals[k];
        const v = sample.g[k];
        const n = el("td", v === 0 ? "z" : "");
        const h = HL.indexOf(name);
        if (h >= 0) n.append(el("span", "sw s" + h));
        n.append(name);
        const vc = el("td", "v" + (v === 0 ? " z" : ""), Math.round(v * 100) / 100);
        if (base && base[k] !== null && v !== base[k]) {
          vc.append(el("span", v > base[k] ? "up" : "down", v > base[k] ? "▲" : "▼"));
          vc.title = "baseline " + fmt(base[k]);
        }
        tr.append(n, vc);
      }
      body.append(tr);
    }
    t.append(body);
    return t;
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
      pre.append(s.m.length ? highlighted(s.t, s.m) : s.t);
      art.append(pre);
      const t = s.s === null ? null : signalTable(s, ci === BASE ? null : base);
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
      cells.style.gridTemplateColumns = "repeat(" + NC + ", minmax(0, 1fr))";
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
    let prevId = null;
    if (state.page > 0) {
      const before = pages[state.page - 1];
      prevId = before[before.length - 1].e.p.id;
    }
    for (const item of page) main.append(renderProbe(item, item.e.p.id === prevId));
    if (!page.length) main.append(el("div", "empty", "No probes match."));
    const nRows = items.reduce((n, it) => n + it.rows.length, 0);
    pager(document.getElementById("pager-top"), pages.length, items.length, nRows);
    pager(document.getElementById("pager-bottom"), pages.length, items.length, nRows);
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
})();
"""
