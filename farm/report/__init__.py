"""The report: one self-contained HTML page of charts over the farm's recent nights (`farm report`).

Names load on first use (PEP 562), as in ``catalogs``: the CLI reads the defaults without
pulling in plotly and DuckDB for every other command.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "CHARTS": "farm.report._charts",
    "CHART_IDS": "farm.report._charts",
    "NO_DATA": "farm.report._charts",
    "Chart": "farm.report._charts",
    "build_charts": "farm.report._charts",
    "revenue_chart": "farm.report._charts",
    "DEFAULT_DAYS": "farm.report._data",
    "MAX_DAYS": "farm.report._data",
    "AccountAttention": "farm.report._data",
    "ReportData": "farm.report._data",
    "ReportSummary": "farm.report._data",
    "collect_report_data": "farm.report._data",
    "parse_days": "farm.report._data",
    "ReportResult": "farm.report._page",
    "render_report_html": "farm.report._page",
    "write_report": "farm.report._page",
}

__all__ = [
    "CHARTS", "CHART_IDS", "DEFAULT_DAYS", "MAX_DAYS", "NO_DATA", "AccountAttention", "Chart", "ReportData",
    "ReportResult", "ReportSummary", "build_charts", "collect_report_data", "parse_days", "render_report_html",
    "write_report", "revenue_chart",
]

if TYPE_CHECKING:
    from farm.report._charts import CHART_IDS, CHARTS, NO_DATA, Chart, build_charts, revenue_chart
    from farm.report._data import (
        DEFAULT_DAYS,
        MAX_DAYS,
        AccountAttention,
        ReportData,
        ReportSummary,
        collect_report_data,
        parse_days,
    )
    from farm.report._page import ReportResult, render_report_html, write_report


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'farm.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
