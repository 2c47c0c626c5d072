"""``build_report``: sources in, a report folder out.

The pipeline is load → analyse → plots → ``report.md`` → ``summary.json`` →
``report.html``. Every output is a pure function of the inputs and settings: identical
input gives byte-identical files (stable ordering everywhere, fixed seed, pinned plot
metadata and fonts, no timestamps, file names instead of absolute paths).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lem.errors import InputError
from lem.report.analysis import Analysis, ReportSettings, analyse
from lem.report.load import DEFAULT_SCORER, load_sources, parse_pairs
from lem.report.markdown import render_markdown
from lem.report.model import ResponseRecord, SourceInfo

__all__ = ["ReportResult", "build_report", "build_report_from_records", "round_floats"]


@dataclass
class ReportResult:
    """What a report run wrote and the data behind it.

    ``files`` maps each output's path relative to ``out_dir`` to its absolute path, in
    writing order; ``html`` is None when the HTML viewer module is not installed.
    """

    out_dir: Path
    files: dict[str, Path]
    summary: dict[str, Any]
    sources: list[SourceInfo]
    records: int
    html: Path | None = None
    notes: list[str] = field(default_factory=list)

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


def _scorers(scorer: str | Sequence[str]) -> tuple[str, ...]:
    names = [scorer] if isinstance(scorer, str) else list(scorer)
    out = tuple(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    if not out:
        raise InputError("--scorer: give at least one scorer id, e.g. lek-v2")
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
) -> ReportResult:
    """Build a report from A/B JSONL files (``sources``) and/or stored runs (``db`` with
    ``runs``, or every run matching ``model_contains``) into ``out_dir``.

    ``scorer`` may name several scorers (each gets its own statistics, Holm family and
    plots; the first drives the HTML viewer). ``pairs`` are ``"BASE=TUNED"`` model labels
    (a mapping file's ``base:`` entries add more). Bad inputs raise :class:`InputError`.
    """
    files = [sources] if isinstance(sources, str | Path) else list(sources)
    names = _scorers(scorer)
    _check(band, top, n_boot)
    pair_list = parse_pairs(pairs)
    records, infos = load_sources(
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
        records,
        infos,
        out_dir,
        settings=settings,
        pairs=pair_list,
        title=title,
        plots=plots,
        html=html,
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
) -> ReportResult:
    """The report for records already loaded (labels in ``sources`` must be unique)."""
    settings = settings or ReportSettings()
    analysis = analyse(records, sources, settings, pairs=pairs, title=title)
    return _write(analysis, sources, Path(out_dir), title=title, plots=plots, html=html)


def _write(
    analysis: Analysis,
    sources: Sequence[SourceInfo],
    out_dir: Path,
    *,
    title: str,
    plots: bool,
    html: bool,
) -> ReportResult:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir}: exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = analysis.summary
    written: dict[str, Path] = {}
    if plots:
        from lem.report.plots import render_plots

        made = render_plots(summary, analysis.scores, out_dir)
        for scorer, figures in made.items():
            summary["scorers"][scorer]["plots"] = figures
            for entry in figures.values():
                for rel in entry.values():
                    written[rel] = out_dir / rel
    else:
        for data in summary["scorers"].values():
            data["plots"] = {}
    md = out_dir / "report.md"
    md.write_text(render_markdown(summary), encoding="utf-8", newline="\n")
    written["report.md"] = md
    rounded = round_floats(summary)
    js = out_dir / "summary.json"
    text = json.dumps(rounded, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    js.write_text(text + "\n", encoding="utf-8", newline="\n")
    written["summary.json"] = js
    html_path: Path | None = None
    notes = list(summary["notes"])
    if html:
        html_path = _write_html(analysis, rounded, out_dir / "report.html", title=title)
        if html_path is None:
            notes.append("report.html skipped: lem.report.html is not installed")
        else:
            written["report.html"] = html_path
    return ReportResult(
        out_dir=out_dir,
        files=written,
        summary=rounded,
        sources=list(sources),
        records=len(analysis.records),
        html=html_path,
        notes=notes,
    )


def _write_html(
    analysis: Analysis, summary: dict[str, Any], path: Path, *, title: str
) -> Path | None:
    try:
        from lem.report.html import render_viewer
    except ModuleNotFoundError as exc:
        if exc.name in ("lem.report.html",):
            return None
        raise
    scorer = summary["settings"]["scorers"][0]
    records = [r for r in analysis.records if r.scorer == scorer]
    render_viewer(records, summary, path, title=title, scorer=scorer)
    return path
