"""Reports: statistics, tables, plots and an HTML viewer over scored A/B results."""

from lem.report.model import ResponseRecord, SourceInfo

__all__ = ["ResponseRecord", "SourceInfo"]
