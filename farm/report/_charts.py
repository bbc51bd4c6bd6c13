"""The report's charts as Plotly figures; a chart with nothing to show says so on an empty plot."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from farm.report._data import ReportData

# (id, title, what it shows): the order they appear in on the page.
CHARTS: tuple[tuple[str, str, str], ...] = (
    ("rendered", "Videos rendered per day", "jobs whose render finished that day (UTC), and jobs that failed"),
    ("render_speed", "Render speed", "frames per second and seconds of rendering per video; the line is the daily median"),
    ("queue", "Queue states now", "every job in the catalog by state"),
    ("failures", "Failures by reason", "failed jobs and uploads by error class and message (numbers shown as N)"),
    ("uploads", "Posts per day by account and platform", "uploads published (or sent to a TikTok inbox)"),
    ("ai", "AI tokens and fallback rate", ("tokens spent writing post text, and the share of jobs whose text "
                                           "came from the fallback templates")),
    ("views", "Views and engagement per account", ("each account's total views and view-weighted engagement rate "
                                                   "at the end of each day, from the latest statistics of its posts")),
    ("health", "Account health", "0 to 100: latest per account, and over time; the dashed line is the alert threshold"),
)
CHART_IDS = tuple(c[0] for c in CHARTS)

NO_DATA = "no data yet"
STATE_COLOURS = {"pending": "#9aa5b1", "rendering": "#3b82f6", "ready": "#14b8a6", "publishing": "#8b5cf6",
                 "published": "#16a34a", "failed": "#dc2626", "cancelled": "#cbd5e1"}
KIND_COLOURS = {"mashup": "#3b82f6", "promo": "#f59e0b"}
FAILED = "#dc2626"
GOOD = "#16a34a"
_PALETTE = qualitative.Plotly + qualitative.D3
_HEIGHT = 380
_DAY_MS = 86_400_000
DAY_BAR_MS = int(_DAY_MS * 0.8)
"""Bars on a date axis get a day's width: plotly draws a lone bar (one day of data) a millisecond wide."""


@dataclass(frozen=True)
class Chart:
    """One drawn chart: its id, title, note, the figure as Plotly JSON, and whether it had no data."""

    id: str
    title: str
    note: str
    figure: dict
    empty: bool


def _base_layout(fig: go.Figure, *, height: int = _HEIGHT) -> go.Figure:
    fig.update_layout(
        template="plotly_white", height=height, margin=dict(l=56, r=24, t=36, b=40),
        font=dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif", size=12),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        hovermode="closest",
    )
    return fig


def _empty(text: str = NO_DATA, hint: str = "") -> go.Figure:
    """An empty plot with ``text`` in its middle: drawn like any other chart, so the page's check still sees it."""
    fig = go.Figure()
    label = f"<b>{text}</b>" + (f"<br><span style='font-size:12px'>{hint}</span>" if hint else "")
    fig.add_annotation(text=label, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=18, color="#6b7280"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _base_layout(fig, height=260)


def _day_axis(fig: go.Figure, data: ReportData, **where) -> None:
    """A date x axis over the whole window, so days without data show as gaps, not as nothing."""
    start = datetime.combine(data.since.date(), datetime.min.time()) - timedelta(hours=12)
    end = datetime.combine(data.until.date(), datetime.min.time()) + timedelta(hours=24)  # today's points too
    days = (data.until.date() - data.since.date()).days + 1
    fig.update_xaxes(type="date", range=[start.isoformat(), end.isoformat()], tickformat="%d %b",
                     dtick=_DAY_MS * max(1, -(-days // 8)), **where)


def _whole_numbers(fig: go.Figure, values, axis: str = "y") -> None:
    """Counts get whole-number ticks (no "0.5 posts") while they are small enough to tick each one."""
    if max(values, default=0) <= 8:
        (fig.update_yaxes if axis == "y" else fig.update_xaxes)(dtick=1, tick0=0)


def _iso(value) -> str:
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)


def _account_label(username: str, platform: str | None) -> str:
    return f"{username} ({platform})" if platform else username


def _colours(data: ReportData) -> dict[str, str]:
    """One colour per account, the same in every chart."""
    labels = [_account_label(a["username"], a["platform"]) for a in data.accounts]
    for rows in (data.uploads, data.views, data.health):
        labels += [_account_label(r["username"], r["platform"]) for r in rows]
    out: dict[str, str] = {}
    for label in labels:
        if label not in out:
            out[label] = _PALETTE[len(out) % len(_PALETTE)]
    return out


# -- the charts ----------------------------------------------------------------------------
def _rendered(data: ReportData) -> go.Figure | None:
    if not data.rendered:
        return None
    fig = go.Figure()
    series: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for r in data.rendered:
        series[(r["outcome"], r["kind"])][_iso(r["day"])] = int(r["videos"])
    for (outcome, kind), by_day in sorted(series.items(), key=lambda kv: (kv[0][0] != "rendered", kv[0][1])):
        ok = outcome == "rendered"
        fig.add_bar(x=list(by_day), y=list(by_day.values()), name=f"{kind} {outcome}", width=DAY_BAR_MS,
                    marker_color=KIND_COLOURS.get(kind, "#64748b") if ok else FAILED,
                    marker_pattern_shape="" if ok or kind == "mashup" else "/",
                    hovertemplate="%{x|%d %b}: %{y} " + f"{kind} {outcome}<extra></extra>")
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text="videos", rangemode="tozero")
    _whole_numbers(fig, [sum(v.get(d, 0) for v in series.values()) for d in {d for v in series.values() for d in v}])
    _day_axis(fig, data)
    return fig


def _render_speed(data: ReportData) -> go.Figure | None:
    rows = data.render_speed
    if not rows:
        return None
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1)
    per_day: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        per_day[r["at"].date().isoformat()].append(r)
    days = sorted(per_day)
    noon = [f"{d}T12:00:00" for d in days]
    for row, key, unit, colour in ((1, "render_fps", "fps", "#3b82f6"), (2, "render_s", "s per video", "#f59e0b")):
        fig.add_scatter(x=[_iso(r["at"]) for r in rows], y=[r[key] for r in rows], mode="markers", row=row, col=1,
                        name=f"{unit} (each video)", marker=dict(color=colour, size=6, opacity=0.45),
                        text=[f"job {r['job_id']} ({r['kind']}, {r['frames']} frames)" for r in rows],
                        hovertemplate="%{text}<br>%{y:.1f} " + unit + "<extra></extra>")
        fig.add_scatter(x=noon, y=[statistics.median(r[key] for r in per_day[d] if r[key] is not None) for d in days],
                        mode="lines+markers", row=row, col=1, name=f"{unit} (daily median)",
                        line=dict(color=colour, width=2.5), hovertemplate="%{x|%d %b}: median %{y:.1f} " + unit
                        + "<extra></extra>")
        fig.update_yaxes(title_text=unit, rangemode="tozero", row=row, col=1)
    _day_axis(fig, data)
    return fig


def _queue(data: ReportData) -> go.Figure | None:
    if not sum(r["jobs"] for r in data.queue):
        return None
    states = [r["state"] for r in data.queue]
    counts = [r["jobs"] for r in data.queue]
    fig = go.Figure(go.Bar(x=states, y=counts, text=counts, textposition="outside", cliponaxis=False,
                           marker_color=[STATE_COLOURS.get(s, "#64748b") for s in states],
                           hovertemplate="%{x}: %{y} job(s)<extra></extra>"))
    fig.update_yaxes(title_text="jobs", rangemode="tozero")
    _whole_numbers(fig, counts)
    fig.update_layout(showlegend=False)
    return fig


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _wrap(text: str, width: int) -> str:
    """``text`` broken onto lines of about ``width`` characters at spaces (Plotly labels take <br>)."""
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "<br>".join([*lines, line])


def _failures(data: ReportData) -> go.Figure | None:
    if not data.failures:
        return None
    totals: dict[str, int] = defaultdict(int)
    by_stage: dict[str, dict[str, tuple[int, str]]] = defaultdict(dict)
    for r in data.failures:
        label = _wrap(_short(f"{r['error_class']}: {r['reason']}" if r["reason"] else r["error_class"], 72), 38)
        totals[label] += int(r["failures"])
        by_stage[r["stage"]][label] = (int(r["failures"]), r["example"] or "")
    order = sorted(totals, key=lambda k: (totals[k], k))  # the commonest on top
    fig = go.Figure()
    for stage, colour in (("render", FAILED), ("upload", "#f97316")):
        cells = by_stage.get(stage, {})
        if not cells:
            continue
        labels = [k for k in order if k in cells]
        fig.add_bar(y=labels, x=[cells[k][0] for k in labels], orientation="h", name=f"{stage} failures",
                    marker_color=colour, customdata=[_short(cells[k][1], 200) for k in labels],
                    hovertemplate="%{x} " + stage + " failure(s)<br>e.g. %{customdata}<extra></extra>")
    fig.update_layout(barmode="stack")
    fig.update_yaxes(categoryorder="array", categoryarray=order, automargin=True)
    fig.update_xaxes(title_text="failures", rangemode="tozero")
    _whole_numbers(fig, totals.values(), axis="x")
    return _base_layout(fig, height=max(_HEIGHT, 90 + 44 * len(order)))


def _uploads(data: ReportData, colours: dict[str, str]) -> go.Figure | None:
    if not data.uploads:
        return None
    series: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in data.uploads:
        series[_account_label(r["username"], r["platform"])][_iso(r["day"])] += int(r["posts"])
    fig = go.Figure()
    for label in sorted(series):
        by_day = series[label]
        fig.add_bar(x=list(by_day), y=list(by_day.values()), name=label, marker_color=colours.get(label), width=DAY_BAR_MS,
                    hovertemplate="%{x|%d %b}: %{y} post(s) on %{fullData.name}<extra></extra>")
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text="posts", rangemode="tozero")
    _whole_numbers(fig, [sum(v.get(d, 0) for v in series.values()) for d in {d for v in series.values() for d in v}])
    _day_axis(fig, data)
    return fig


def _views(data: ReportData, colours: dict[str, str]) -> go.Figure | None:
    if not data.views:
        return None
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1, row_heights=[0.6, 0.4])
    series: dict[str, list[dict]] = defaultdict(list)
    for r in data.views:
        series[_account_label(r["username"], r["platform"])].append(r)
    for label in sorted(series):
        rows = series[label]
        x = [f"{_iso(r['day'])}T12:00:00" for r in rows]
        colour = colours.get(label)
        fig.add_scatter(x=x, y=[r["views"] for r in rows], mode="lines+markers", name=label, legendgroup=label,
                        line=dict(color=colour), row=1, col=1,
                        customdata=[r["posts"] for r in rows],
                        hovertemplate="%{fullData.name}<br>%{x|%d %b}: %{y:,} views over %{customdata} post(s)"
                                      "<extra></extra>")
        fig.add_scatter(x=x, y=[None if r["engagement_rate"] is None else 100 * r["engagement_rate"] for r in rows],
                        mode="lines+markers", name=label, legendgroup=label, showlegend=False,
                        line=dict(color=colour, dash="dot"), row=2, col=1,
                        hovertemplate="%{fullData.name}<br>%{x|%d %b}: %{y:.2f} % engagement<extra></extra>")
    fig.update_yaxes(title_text="views", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="engagement %", rangemode="tozero", row=2, col=1)
    _day_axis(fig, data)
    return _base_layout(fig, height=460)


def _health(data: ReportData, colours: dict[str, str]) -> go.Figure | None:
    latest = [a for a in data.accounts if a["health"] is not None]
    if not latest and not data.health:
        return None
    threshold = data.summary.health_threshold
    fig = make_subplots(rows=1, cols=2, column_widths=[0.34, 0.66], horizontal_spacing=0.12)
    labels = [_account_label(a["username"], a["platform"]) for a in latest]
    values = [float(a["health"]) for a in latest]
    fig.add_bar(y=labels, x=values, orientation="h", row=1, col=1, showlegend=False,
                marker_color=[FAILED if v < threshold else GOOD for v in values],
                text=[f"{v:.0f}" for v in values], textposition="inside", insidetextanchor="end",
                hovertemplate="%{y}: health %{x:.0f}<extra></extra>")
    fig.add_vline(x=threshold, line=dict(color="#6b7280", dash="dash", width=1), row=1, col=1)
    series: dict[str, list[dict]] = defaultdict(list)
    for r in data.health:
        series[_account_label(r["username"], r["platform"])].append(r)
    for label in sorted(series):
        rows = series[label]
        fig.add_scatter(x=[_iso(r["at"]) for r in rows], y=[r["health"] for r in rows], mode="lines+markers",
                        name=label, line=dict(color=colours.get(label)), row=1, col=2,
                        hovertemplate="%{fullData.name}<br>%{x|%d %b %H:%M}: %{y:.0f}<extra></extra>")
    fig.add_hline(y=threshold, line=dict(color="#6b7280", dash="dash", width=1), row=1, col=2)
    fig.update_xaxes(range=[0, 100], title_text="latest health", row=1, col=1)
    fig.update_yaxes(automargin=True, autorange="reversed", row=1, col=1)
    fig.update_yaxes(range=[0, 102], title_text="health", row=1, col=2)
    _day_axis(fig, data, row=1, col=2)
    return _base_layout(fig, height=max(_HEIGHT, 110 + 30 * len(latest)))


def _ai(data: ReportData) -> go.Figure | None:
    if not data.ai:
        return None
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    x = [_iso(r["day"]) for r in data.ai]
    fig.add_bar(x=x, y=[r["ai_tokens"] for r in data.ai], name="AI tokens", marker_color="#8b5cf6", width=DAY_BAR_MS,
                hovertemplate="%{x|%d %b}: %{y:,} tokens<extra></extra>", secondary_y=False)
    rates = []
    for r in data.ai:
        jobs = r["ai_jobs"] + r["fallback_jobs"]
        rates.append(100.0 * r["fallback_jobs"] / jobs if jobs else None)
    fig.add_scatter(x=[f"{d}T12:00:00" for d in x], y=rates, mode="lines+markers", name="fallback rate",
                    line=dict(color="#f97316", width=2.5),
                    customdata=[[r["fallback_jobs"], r["ai_jobs"] + r["fallback_jobs"]] for r in data.ai],
                    hovertemplate="%{x|%d %b}: %{y:.0f} % fallback (%{customdata[0]} of %{customdata[1]} jobs)"
                                  "<extra></extra>", secondary_y=True)
    fig.update_yaxes(title_text="tokens", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(title_text="fallback", range=[0, 105], tickvals=[0, 25, 50, 75, 100], ticksuffix=" %",
                     showgrid=False, secondary_y=True)
    _day_axis(fig, data)
    return fig


REVENUE_CHART = ("revenue", "Commission per day",
                 "net commission of the orders placed each day (UTC), as the networks last reported it: validated "
                 "(completed) and pending; cancelled orders are left out")


def revenue_chart(data: ReportData) -> Chart | None:
    """The revenue section's chart (validated and pending commission per day), or None with no orders in the window.

    Not one of :data:`CHARTS`: the revenue section draws it beside its table of best videos.
    """
    if not data.revenue_days:
        return None
    fig = go.Figure()
    currencies = sorted({r["currency"] for r in data.revenue_days})
    for currency in currencies:
        rows = [r for r in data.revenue_days if r["currency"] == currency]
        for key, label, colour in (("commission_validated", "validated", GOOD), ("commission_pending", "pending",
                                                                                 "#f59e0b")):
            name = label if len(currencies) == 1 else f"{label} ({currency})"
            fig.add_bar(x=[_iso(r["day"]) for r in rows], y=[r[key] for r in rows], name=name, marker_color=colour,
                        width=DAY_BAR_MS, hovertemplate="%{x|%d %b}: %{y:,.0f} " + f"{currency} {label}<extra></extra>")
    fig.update_layout(barmode="stack" if len(currencies) == 1 else "group")
    fig.update_yaxes(title_text="commission" + (f" ({currencies[0]})" if len(currencies) == 1 else ""),
                     rangemode="tozero")
    _day_axis(fig, data)
    _base_layout(fig)
    chart_id, title, note = REVENUE_CHART
    return Chart(id=chart_id, title=title, note=note, figure=json.loads(pio.to_json(fig, validate=False)), empty=False)


_HINTS = {
    "rendered": "renders appear after `farm nightly`",
    "render_speed": "measured on every render",
    "queue": "the queue is empty",
    "failures": "",
    "uploads": "posts appear after `farm publish`",
    "views": "statistics appear after `farm monitor`",
    "health": "health appears after `farm monitor`",
    "ai": "jobs with AI-written text appear here",
}


def build_charts(data: ReportData) -> list[Chart]:
    """Every chart of :data:`CHARTS`, in order; each an empty plot saying "no data yet" when it has none."""
    colours = _colours(data)
    made = {
        "rendered": _rendered(data),
        "render_speed": _render_speed(data),
        "queue": _queue(data),
        "failures": _failures(data),
        "uploads": _uploads(data, colours),
        "views": _views(data, colours),
        "health": _health(data, colours),
        "ai": _ai(data),
    }
    out = []
    for chart_id, title, note in CHARTS:
        fig = made[chart_id]
        empty = fig is None
        if empty:
            if chart_id == "failures" and data.jobs_in_window:
                fig = _empty(f"no failures in the last {data.summary.days} days")
            else:
                fig = _empty(NO_DATA, _HINTS[chart_id])
        elif chart_id not in ("failures", "views", "health"):
            _base_layout(fig)
        out.append(Chart(id=chart_id, title=title, note=note, figure=json.loads(pio.to_json(fig, validate=False)),
                         empty=empty))
    return out
