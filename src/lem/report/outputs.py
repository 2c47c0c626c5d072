"""The report's plots and HTML viewer, drawn beside the statistics.

On two or more cores, :class:`Outputs` forks one helper process as soon as the data are
collected (:func:`lem.report.analysis.prepare`). While this process imports scipy and
computes the statistics, the helper imports matplotlib, draws the figures that need no
statistic (domains, distributions), and builds and compresses the viewer's data; once the
statistics are done it draws the forest plot and writes ``report.html`` (whose per-model
table prints the statistics), while this process writes ``report.md`` and
``summary.json``. A 6-model report then costs about what its statistics cost, and a
180-model one about half its serial time.

Without ``fork`` (or with ``LEM_REPORT_PARALLEL=0``, or one core) the same steps run here,
one after the other; the files are byte-identical either way (tests check). A failure in
the helper is raised here with its traceback.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from pathlib import Path
from typing import Any

from lem.report.analysis import Prepared
from lem.report.summary import ModelSummary, PlotFiles, ReportSummary

__all__ = ["Outputs", "parallel_default", "slim_summary"]


def parallel_default() -> bool:
    """Whether to use a helper process: ``fork`` exists, there are two or more cores and
    ``LEM_REPORT_PARALLEL`` is not ``0``."""
    import multiprocessing

    if os.environ.get("LEM_REPORT_PARALLEL", "").strip() in ("0", "false", "no", "off"):
        return False
    return "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1


def slim_summary(summary: ReportSummary) -> ReportSummary:
    """What the forest plot and the viewer need of the finished summary (sent to the
    helper): the same summary with, per scorer, only the within-model comparisons (without
    their probe lists) and each model's conditions, domains and order; the rest (sources,
    methods, cross-model, lineage and pair tables, incidence, movers) left empty."""
    scorers = {}
    for name, data in summary.scorers.items():
        comps = [
            c.model_copy(update={"regressions": [], "rescues": []})
            for c in data.comparisons
            if c.kind == "condition"
        ]
        models = {
            label: ModelSummary(
                probes=m.probes,
                conditions=m.conditions,
                condition_order=m.condition_order,
                domains=m.domains,
                incidence={},
            )
            for label, m in data.models.items()
        }
        scorers[name] = data.model_copy(
            update={
                "models": models,
                "comparisons": comps,
                "cross_model": [],
                "lineages": {},
                "pairs": [],
            }
        )
    return summary.model_copy(update={"sources": [], "scorers": scorers})


class Outputs:
    """Plots and viewer of one report: :meth:`start` after ``prepare``, :meth:`send` the
    finished summary, :meth:`finish`; :attr:`plots` is known from the start."""

    def __init__(
        self,
        prep: Prepared,
        out_dir: Path,
        *,
        plots: bool,
        html: bool,
        title: str,
        parallel: bool | None = None,
    ) -> None:
        self.prep = prep
        self.out_dir = out_dir
        self.title = title
        self.html_path: Path | None = out_dir / "report.html" if html else None
        self.parallel = parallel_default() if parallel is None else parallel
        self.plots: dict[str, dict[str, PlotFiles]] = {}
        if plots:
            from lem.report.plots import plan_plots

            self.plots = plan_plots(prep.early_summary(), prep.scores)
        self._viewer: tuple[dict[str, Any], str] | None = None
        self._summary: ReportSummary | None = None
        self._proc: Any = None
        self._conn: Any = None

    # -- the steps, wherever they run --------------------------------------------------

    def _early(self) -> None:
        """Everything that needs no statistic: figures and the viewer's data."""
        if any(self.plots.values()):
            from lem.report.plots import FIGURES, NEEDS_STATISTICS, render_plots

            keys = [k for k in FIGURES if k not in NEEDS_STATISTICS]
            render_plots(self.prep.early_summary(), self.prep.scores, self.out_dir, keys)
        if self.html_path is not None:
            from lem.report.html import encode_payload, viewer_data

            scorer = self.prep.settings.scorers[0]
            records = [r for r in self.prep.records if r.scorer == scorer]
            data = viewer_data(records, scorer=scorer)
            self._viewer = (data, encode_payload(data))

    def _late(self, summary: ReportSummary) -> None:
        """The forest plot and report.html, from the (slim) finished summary."""
        if any(self.plots.values()):
            from lem.report.plots import NEEDS_STATISTICS, render_plots

            render_plots(summary, self.prep.scores, self.out_dir, sorted(NEEDS_STATISTICS))
        if self.html_path is not None and self._viewer is not None:
            from lem.report.html import write_page

            data, payload = self._viewer
            write_page(self.html_path, data, payload, summary, title=self.title)

    # -- orchestration ---------------------------------------------------------------------

    def start(self) -> None:
        """Fork the helper (when parallel) and let it start on the early steps."""
        if not self.parallel or (not any(self.plots.values()) and self.html_path is None):
            self.parallel = False
            return
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        parent, child = ctx.Pipe()
        self._conn = parent
        self._proc = ctx.Process(target=self._helper, args=(child,), daemon=True)
        self._proc.start()
        child.close()

    def _helper(self, conn: Any) -> None:
        try:
            self._early()
            summary = conn.recv()
            if summary is None:
                return
            self._late(ReportSummary.model_validate(summary))
            conn.send(None)
        except BaseException:
            conn.send(traceback.format_exc())
        finally:
            conn.close()

    def send(self, summary: ReportSummary) -> None:
        """Hand the finished ``summary`` to the helper, which draws what is left while
        this process writes report.md and summary.json (serially: nothing yet). The slim
        summary travels as its ``model_dump`` (plain data pickle far faster than models)
        and is validated back into the model there."""
        self._summary = summary
        if self.parallel:
            self._conn.send(slim_summary(summary).model_dump(mode="python"))

    def finish(self) -> None:
        """Draw what is left (serially) or wait for the helper; raise its failure."""
        if not self.parallel:
            self._early()
            if self._summary is None:
                raise AssertionError("Outputs.finish before Outputs.send")
            self._late(slim_summary(self._summary))
            return
        try:
            error = self._conn.recv()
        except EOFError:
            error = "the report's helper process ended without a word"
        finally:
            self.close()
        if error:
            raise RuntimeError(f"drawing the plots or writing report.html failed:\n{error}")

    def close(self) -> None:
        """Stop the helper (idempotent): told to stop, then waited for."""
        if self._proc is None:
            return
        try:
            if self._proc.is_alive():
                with contextlib.suppress(BrokenPipeError, OSError):
                    self._conn.send(None)
            self._proc.join(timeout=30)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(timeout=5)
        finally:
            self._conn.close()
            self._proc = None
