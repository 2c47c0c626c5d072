"""Reports: statistics, tables, plots and an HTML viewer over scored A/B results.

``build_report`` (and ``ReportResult``, and ``ReportSummary``, the typed summary every
output is rendered from) load lazily on first access, so importing the record types
(``lem.report.model``) does not pull in numpy, scipy, matplotlib or pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lem.report.model import ResponseRecord, SourceInfo

if TYPE_CHECKING:
    from lem.report.build import ReportResult, build_report
    from lem.report.summary import ReportSummary

__all__ = ["ReportResult", "ReportSummary", "ResponseRecord", "SourceInfo", "build_report"]


def __getattr__(name: str) -> Any:
    if name in ("ReportResult", "build_report"):
        from lem.report import build

        return getattr(build, name)
    if name == "ReportSummary":
        from lem.report import summary

        return summary.ReportSummary
    raise AttributeError(f"module 'lem.report' has no attribute {name!r}")
