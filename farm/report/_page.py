"""The report as one self-contained HTML page (plotly.js inline), written atomically."""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from farm.errors import InputError
from farm.report._charts import Chart, build_charts, revenue_chart
from farm.report._data import DEFAULT_DAYS, ReportData, ReportSummary, collect_report_data

_CSS = """
:root { color-scheme: light; --ink: #111827; --muted: #6b7280; --line: #e5e7eb; --bad: #b91c1c; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; background: #f3f4f6; color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; color: var(--muted); }
.top { display: flex; flex-wrap: wrap; gap: 16px; margin: 20px 0; align-items: flex-start; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 14px 18px; }
.card h2 { margin: 0 0 2px; font-size: 16px; }
.card p.note { margin: 0 0 6px; color: var(--muted); font-size: 12.5px; }
table { border-collapse: collapse; }
table.summary th { text-align: left; font-weight: 500; color: #374151; padding: 4px 24px 4px 0; }
table.summary td { text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; padding: 4px 0; }
table.summary tr + tr th, table.summary tr + tr td { border-top: 1px solid var(--line); }
table.summary td.bad { color: var(--bad); }
table.attention th, table.attention td { text-align: left; padding: 4px 14px 4px 0; border-bottom: 1px solid var(--line); }
table.attention th { font-weight: 500; color: var(--muted); }
table.attention td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #15803d; margin: 4px 0 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; }
.charts .wide { grid-column: 1 / -1; }
.chart { width: 100%; min-height: 260px; }
footer { margin-top: 24px; color: var(--muted); font-size: 12px; }
.revenue { margin-top: 16px; }
.revenue h3 { margin: 14px 0 4px; font-size: 14px; }
table.videos th, table.videos td { text-align: left; padding: 4px 14px 4px 0; border-bottom: 1px solid var(--line); }
table.videos th { font-weight: 500; color: var(--muted); }
table.videos td.num { text-align: right; font-variant-numeric: tabular-nums; }
"""

# Draws every chart, then marks the page for a headless check: body[data-charts-drawn] counts
# the charts whose Plotly.newPlot promise resolved; the title says so once all have settled.
_DRAW_JS = """
(function () {
  var figures = JSON.parse(document.getElementById("report-figures").textContent);
  var body = document.body, total = figures.length, drawn = 0, failed = 0, title = document.title;
  function settle() {
    body.dataset.chartsDrawn = String(drawn);
    body.dataset.chartsFailed = String(failed);
    if (drawn + failed === total) {
      document.title = title + " [" + drawn + "/" + total + " charts drawn]";
      body.dataset.chartsDone = "true";
    }
  }
  figures.forEach(function (f) {
    var el = document.getElementById("chart-" + f.id);
    var drawing;
    try {
      drawing = Plotly.newPlot(el, f.data, f.layout, {responsive: true, displayModeBar: false});
    } catch (err) {
      drawing = Promise.reject(err);
    }
    drawing.then(function () { drawn += 1; el.dataset.drawn = "true"; settle(); },
                 function (err) { failed += 1; el.dataset.error = String(err); settle(); });
  });
  settle();
})();
"""
_WIDE = {"views", "health"}


@dataclass(frozen=True)
class ReportResult:
    """A written report: where, how big, which charts it has and which of them had no data."""

    path: str
    size_bytes: int
    charts: tuple[str, ...]
    empty_charts: tuple[str, ...]
    summary: ReportSummary

    def as_dict(self) -> dict:
        return {"path": self.path, "size_bytes": self.size_bytes, "charts": list(self.charts),
                "empty_charts": list(self.empty_charts), "summary": self.summary.as_dict()}


def _script_json(value) -> str:
    """JSON safe inside a <script> element: no ``</script>`` or ``<!--`` can end it early."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def _num(n: int | float) -> str:
    return f"{n:,}"


def _summary_html(s: ReportSummary) -> str:
    rows = [
        ("rendered", "Videos rendered", s.rendered, False),
        ("published", "Posts published", s.published, False),
    ]
    if s.inbox:
        rows.append(("inbox", "Sent to a TikTok inbox", s.inbox, False))
    rows += [
        ("failed", "Jobs failed", s.failed, s.failed > 0),
        ("upload_failures", "Uploads failed", s.upload_failures, s.upload_failures > 0),
        ("views", f"Views (latest counts of {_num(s.posts_measured)} posts)", s.views, False),
        ("ai_tokens", "AI tokens used", s.ai_tokens, False),
        ("open_alerts", "Open alerts", s.open_alerts, s.open_alerts > 0),
        ("attention", f"Accounts needing attention (of {s.accounts})", len(s.attention), bool(s.attention)),
    ]
    cells = "".join(
        f'<tr><th>{html.escape(label)}</th><td data-key="{key}" data-value="{value}"'
        f'{" class=bad" if bad else ""}>{_num(value)}</td></tr>'
        for key, label, value, bad in rows
    )
    return f'<section class="card"><h2>Summary</h2><table class="summary">{cells}</table></section>'


def _attention_html(s: ReportSummary) -> str:
    if not s.attention:
        ok = "every account is healthy" if s.accounts else "no accounts yet"
        return f'<section class="card"><h2>Accounts needing attention</h2><p class="ok">{ok}</p></section>'
    rows = "".join(
        f'<tr data-account="{a.account_id}"><td>{html.escape(a.username)}</td><td>{html.escape(a.platform)}</td>'
        f'<td class="num">{"-" if a.health is None else f"{a.health:.0f}"}</td>'
        f"<td>{html.escape('; '.join(a.reasons))}</td></tr>"
        for a in s.attention
    )
    return ('<section class="card"><h2>Accounts needing attention</h2><table class="attention">'
            "<tr><th>account</th><th>platform</th><th>health</th><th>why</th></tr>"
            f"{rows}</table></section>")


_HOW_TO_IMPORT = ("No commissions yet. Import the commission report you download from the Shopee Affiliate or "
                  "AccessTrade dashboard with <code>farm revenue import FILE.csv</code>, or set the network keys in "
                  "<code>[affiliate]</code> of farm.toml and run <code>farm revenue sync</code>.")


def _amount(value: float, currency: str) -> str:
    digits = 0 if currency in ("VND", "IDR") else 2  # no minor unit in use
    return f"{value:,.{digits}f} {html.escape(currency)}"


def _video_rows(videos: list[dict]) -> str:
    out = []
    for v in videos:
        what = v.get("title") or f"job {v['job_id']}"
        views = "-" if v["views"] is None else f"{v['views']:,}"
        per_1000 = "-" if v["commission_per_1000_views"] is None else _amount(v["commission_per_1000_views"],
                                                                              v["currency"])
        out.append(
            f'<tr data-job="{v["job_id"]}"><td>{html.escape(str(what))} <small>(job {v["job_id"]})</small></td>'
            f'<td>{html.escape(str(v["platform"]))}</td><td>{html.escape(str(v.get("account") or "-"))}</td>'
            f'<td class="num">{v["orders"]}</td>'
            f'<td class="num">{_amount(v["commission_validated"], v["currency"])}</td>'
            f'<td class="num">{_amount(v["commission_pending"], v["currency"])}</td>'
            f'<td class="num">{views}</td><td class="num">{per_1000}</td></tr>')
    return "".join(out)


def _revenue_html(data: ReportData, chart: Chart | None) -> str:
    """The revenue section: commission per day, the best videos, and what came from no farm video."""
    head = '<section class="card revenue" id="revenue"><h2>Revenue</h2>'
    if not data.commissions:
        return f'{head}<p class="ok">{_HOW_TO_IMPORT}</p></section>'
    parts = [head]
    if chart is None:
        parts.append(f'<p class="ok">No orders placed in the last {data.summary.days} days.</p>')
    else:
        parts.append(f'<p class="note">{html.escape(chart.note)}</p>'
                     f'<div class="chart" id="chart-{chart.id}" data-chart="{chart.id}"></div>')
    if data.best_videos:
        parts.append("<h3>Best videos</h3><table class=\"videos\"><tr><th>video</th><th>platform</th><th>account</th>"
                     "<th>orders</th><th>validated</th><th>pending</th><th>views</th><th>per 1,000 views</th></tr>"
                     f"{_video_rows(data.best_videos)}</table>")
    for r in data.revenue_unmatched:
        parts.append(f'<p class="note">Not from a farm video (no sub-id of a farm post): {r["orders"]} order(s), '
                     f'{_amount(r["commission_validated"], r["currency"])} validated, '
                     f'{_amount(r["commission_pending"], r["currency"])} pending.</p>')
    return "".join(parts) + "</section>"


def render_report_html(data: ReportData, charts: list[Chart], *, workspace: str = "",
                       plotly_js: str | None = None) -> str:
    """The page for ``data`` with ``charts`` drawn by inline plotly.js (no network needed to view it)."""
    if plotly_js is None:
        from plotly.offline import get_plotlyjs

        plotly_js = get_plotlyjs()
    s = data.summary
    title = f"Reel farm report: {s.days} days to {data.until:%Y-%m-%d}"
    cards = "".join(
        f'<section class="card{" wide" if c.id in _WIDE else ""}" id="card-{c.id}"><h2>{html.escape(c.title)}</h2>'
        f'<p class="note">{html.escape(c.note)}</p>'
        f'<div class="chart" id="chart-{c.id}" data-chart="{c.id}"{" data-empty=true" if c.empty else ""}></div>'
        "</section>"
        for c in charts if c.id != "revenue"
    )
    revenue = _revenue_html(data, next((c for c in charts if c.id == "revenue"), None))
    figures = [{"id": c.id, "data": c.figure.get("data", []), "layout": c.figure.get("layout", {})} for c in charts]
    where = f" · workspace {html.escape(workspace)}" if workspace else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n"
        f'<script type="text/javascript">{plotly_js}</script>\n'
        "</head>\n"
        f'<body data-charts-total="{len(charts)}" data-charts-drawn="0">\n'
        f"<header><h1>Reel farm report</h1><p>Last {s.days} days: {s.since} to {data.until:%Y-%m-%d} (UTC)"
        f" · generated {data.until:%Y-%m-%d %H:%M} UTC{where}</p></header>\n"
        f'<div class="top">{_summary_html(s)}{_attention_html(s)}</div>\n'
        f'<main class="charts">{cards}</main>\n'
        f"{revenue}\n"
        "<footer>Made by <code>farm report</code> from the workspace catalog and its metric history.</footer>\n"
        f'<script type="application/json" id="report-figures">{_script_json(figures)}</script>\n'
        f"<script>{_DRAW_JS}</script>\n"
        "</body>\n</html>\n"
    )


def _write_atomically(path: Path, text: str) -> int:
    data = text.encode("utf-8")
    if not path.parent.is_dir():
        raise InputError(f"{path}: folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write the report ({err.strerror or err})") from None
    return len(data)


def write_report(ws, path: str | os.PathLike = "report.html", *, days: int = DEFAULT_DAYS,
                 now: datetime | None = None) -> ReportResult:
    """Write the report over the last ``days`` calendar days (UTC) of workspace ``ws`` to ``path``.

    The file appears whole or not at all (written beside it, then renamed). Returns what
    was written. Raises :class:`~farm.errors.InputError` for a bad ``days`` or a path that
    cannot be written.

    Example::

        result = write_report(find_workspace(), "report.html", days=14)
        print(result.path, result.summary.rendered)
    """
    data = collect_report_data(ws, days=days, now=now)
    charts = build_charts(data)
    revenue = revenue_chart(data)
    if revenue is not None:  # drawn in the revenue section, after the others
        charts.append(revenue)
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{target}: is a folder; give a file name such as {target / 'report.html'}")
    size = _write_atomically(target, render_report_html(data, charts, workspace=str(ws.root)))
    return ReportResult(path=str(target.resolve()), size_bytes=size, charts=tuple(c.id for c in charts),
                        empty_charts=tuple(c.id for c in charts if c.empty), summary=data.summary)
