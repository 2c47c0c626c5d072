"""``build_report``: sources in, a report folder out.

The pipeline is load → analyse (a :class:`~lem.report.summary.ReportSummary`) → plots →
``report.md`` → ``summary.json`` (the summary's ``model_dump``, floats rounded) →
``report.html``. Every output is a pure function of the inputs and settings: identical
input gives byte-identical files (stable ordering everywhere, fixed seed, pinned plot
metadata and fonts, no timestamps, file names instead of absolute paths).
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lem.defaults import DEFAULT_SCORER
from lem.errors import InputError
from lem.report.analysis import ReportSettings, finish, prepare
from lem.report.load import load_report_inputs, parse_pairs
from lem.report.markdown import render_markdown
from lem.report.model import ResponseRecord, SourceInfo
from lem.report.outputs import Outputs
from lem.report.summary import ReportSummary

__all__ = [
    "ReportResult",
    "build_report",
    "build_report_from_records",
    "round_floats",
    "summary_json_text",
]


@dataclass
class ReportResult:
    """What a report run wrote and the data behind it.

    ``files`` maps each output's path relative to ``out_dir`` to its absolute path, in
    writing order; ``html`` is None when the HTML viewer module is not installed.
    ``report`` is the typed summary (unrounded), which every printed number is formatted
    from (:mod:`lem.numfmt`: rounded once, from full precision); ``full_summary`` is its
    ``model_dump`` and ``summary`` the ``summary.json`` content (the same with floats
    rounded to 6 decimals).
    """

    out_dir: Path
    files: dict[str, Path]
    summary: dict[str, Any]
    report: ReportSummary
    sources: list[SourceInfo]
    records: int
    html: Path | None = None
    notes: list[str] = field(default_factory=list)
    full_summary: dict[str, Any] = field(default_factory=dict)

    @property
    def markdown(self) -> Path:
        """The ``report.md`` path."""
        return self.out_dir / "report.md"

    @property
    def summary_json(self) -> Path:
        """The ``summary.json`` path."""
        return self.out_dir / "summary.json"


def round_floats(obj: Any, places: int = 6) -> Any:
    """``obj`` with every float rounded to ``places`` decimals (``-0.0`` → ``0.0``) and
    NaN or infinity as None; mappings get string keys; anything else not JSON becomes
    its ``str``."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, int | str):
        return obj
    if isinstance(obj, float):
        return round(obj, places) + 0.0 if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): round_floats(v, places) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [round_floats(v, places) for v in obj]
    if hasattr(obj, "item"):
        return round_floats(obj.item(), places)
    return str(obj)


def summary_json_text(summary: Any, places: int = 6) -> str:
    """``summary.json``'s text: ``json.dumps(round_floats(summary, places), sort_keys=True,
    indent=2, ensure_ascii=False, allow_nan=False)`` byte for byte, in one pass (the
    standard encoder falls back to pure Python with ``indent``; a 180-model summary has
    half a million values)."""
    from json.encoder import encode_basestring

    out: list[str] = []
    append = out.append
    float_repr = float.__repr__
    int_repr = int.__repr__
    isfinite = math.isfinite

    def scalar(obj: Any) -> str | None:
        kind = type(obj)
        if kind is float:
            return float_repr(round(obj, places) + 0.0) if isfinite(obj) else "null"
        if kind is str:
            return encode_basestring(obj)
        if obj is None:
            return "null"
        if kind is bool:
            return "true" if obj else "false"
        if kind is int:
            return int_repr(obj)
        return None

    def value(obj: Any, pad: str) -> None:
        text = scalar(obj)
        if text is not None:
            append(text)
        elif isinstance(obj, Mapping):
            if not obj:
                append("{}")
                return
            inner = ",\n" + pad + "  "
            append("{\n" + pad + "  ")
            first = True
            for key in sorted(obj, key=str):
                if first:
                    first = False
                else:
                    append(inner)
                item = obj[key]
                text = scalar(item)
                if text is not None:
                    append(encode_basestring(str(key)) + ": " + text)
                else:
                    append(encode_basestring(str(key)) + ": ")
                    value(item, pad + "  ")
            append("\n" + pad + "}")
        elif isinstance(obj, list | tuple):
            if not obj:
                append("[]")
                return
            inner = ",\n" + pad + "  "
            append("[\n" + pad + "  ")
            first = True
            for item in obj:
                if first:
                    first = False
                else:
                    append(inner)
                value(item, pad + "  ")
            append("\n" + pad + "]")
        elif isinstance(obj, bool):
            value(bool(obj), pad)
        elif isinstance(obj, int | float | str):  # subclasses, e.g. numpy.float64
            value(
                (int if isinstance(obj, int) else float if isinstance(obj, float) else str)(obj),
                pad,
            )
        elif hasattr(obj, "item"):
            value(obj.item(), pad)
        else:
            append(encode_basestring(str(obj)))

    value(summary, "")
    return "".join(out)


def _scorers(scorer: str | Sequence[str]) -> tuple[str, ...]:
    names = [scorer] if isinstance(scorer, str) else list(scorer)
    out = tuple(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    if not out:
        raise InputError(f"--scorer: give at least one scorer id, e.g. {DEFAULT_SCORER}")
    return out


def _check(band: float, top: int, n_boot: int) -> None:
    if not math.isfinite(band) or band < 0:
        raise InputError(f"--band {band}: must be a finite number >= 0")
    if top < 0:
        raise InputError(f"--top {top}: must be >= 0")
    if n_boot < 1:
        raise InputError(f"n_boot {n_boot}: must be >= 1")


def build_report(
    sources: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    *,
    scorer: str | Sequence[str] = DEFAULT_SCORER,
    band: float = 0.5,
    seed: int = 0,
    top: int = 10,
    models_file: str | Path | None = None,
    pairs: Sequence[str | tuple[str, str]] = (),
    db: str | None = None,
    runs: Sequence[str] = (),
    model_contains: Sequence[str] = (),
    all_samples: bool = False,
    title: str = "lem report",
    n_boot: int = 10_000,
    plots: bool = True,
    html: bool = True,
    parallel: bool | None = None,
) -> ReportResult:
    """Build a report from A/B JSONL files (``sources``) and/or stored runs (``db`` with
    ``runs``, or every run matching ``model_contains``) into ``out_dir``.

    ``scorer`` may name several scorers (each gets its own statistics, Holm family and
    plots; the first drives the HTML viewer). ``pairs`` are ``"BASE=TUNED"`` model labels
    (a mapping file's ``base:`` entries add more). Bad inputs raise :class:`InputError`.
    ``parallel``: see :func:`build_report_from_records`.
    """
    files = [sources] if isinstance(sources, str | Path) else list(sources)
    names = _scorers(scorer)
    _check(band, top, n_boot)
    pair_list = parse_pairs(pairs)
    loaded = load_report_inputs(
        files,
        db=db,
        runs=runs,
        model_contains=model_contains,
        scorers=names,
        all_samples=all_samples,
        models_file=models_file,
    )
    settings = ReportSettings(
        scorers=names,
        band=float(band),
        seed=int(seed),
        top=int(top),
        n_boot=int(n_boot),
        all_samples=all_samples,
    )
    return build_report_from_records(
        loaded.records,
        loaded.sources,
        out_dir,
        settings=settings,
        pairs=pair_list,
        title=title,
        plots=plots,
        html=html,
        parallel=parallel,
        probe_families=loaded.probe_families,
    )


def build_report_from_records(
    records: Sequence[ResponseRecord],
    sources: Sequence[SourceInfo],
    out_dir: str | Path,
    *,
    settings: ReportSettings | None = None,
    pairs: Sequence[tuple[str, str]] = (),
    title: str = "lem report",
    plots: bool = True,
    html: bool = True,
    parallel: bool | None = None,
    probe_families: Mapping[str, Mapping[str, str]] | None = None,
) -> ReportResult:
    """The report for records already loaded (labels in ``sources`` must be unique).

    ``parallel`` (default: on with ``fork`` and two or more cores, see
    :mod:`lem.report.outputs`) draws the plots and writes the viewer in a helper process
    while the statistics run; the files are the same either way. ``probe_families`` (per
    model label, probe id → family) adds the paraphrase-robustness section."""
    settings = settings or ReportSettings()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    prep = prepare(
        records, sources, settings, pairs=pairs, title=title, probe_families=probe_families
    )
    out.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    if html and not _viewer_available():
        notes.append("report.html skipped: lem.report.html is not installed")
        html = False
    outputs = Outputs(prep, out, plots=plots, html=html, title=title, parallel=parallel)
    try:
        outputs.start()
        with _collector_paused():
            analysis = finish(prep, plots=outputs.plots)
            report = analysis.summary
            outputs.send(report)
            written: dict[str, Path] = {}
            for figures in outputs.plots.values():
                for entry in figures.values():
                    for rel in (entry.png, entry.svg):
                        written[rel] = out / rel
            md = out / "report.md"
            md.write_text(render_markdown(report), encoding="utf-8", newline="\n")
            written["report.md"] = md
            summary = report.model_dump(mode="python")
            text = summary_json_text(summary)
        js = out / "summary.json"
        js.write_text(text + "\n", encoding="utf-8", newline="\n")
        written["summary.json"] = js
        outputs.finish()
    finally:
        outputs.close()
    if outputs.html_path is not None:
        written["report.html"] = outputs.html_path
    return ReportResult(
        out_dir=out,
        files=written,
        summary=json.loads(text),
        report=report,
        sources=list(sources),
        records=len(analysis.records),
        html=outputs.html_path,
        notes=list(report.notes) + notes,
        full_summary=summary,
    )


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (if it runs) while the summary is computed,
    rendered and dumped: tens of thousands of new objects (the typed summary, its dump)
    that all stay alive, so a collection on the way would scan the whole heap, the loaded
    records included, and free nothing. Acyclic garbage is still freed at once; anything
    else waits for the next collection after this."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _viewer_available() -> bool:
    try:
        import lem.report.html  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name == "lem.report.html":
            return False
        raise
    return True
