"""What the report shows, read from the catalog and the metric history in one pass."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta

import catalogs
from farm.errors import InputError

DEFAULT_DAYS = 14
MAX_DAYS = 366
DEFAULT_HEALTH_THRESHOLD = 80


def parse_days(value: str | int) -> int:
    """``--days`` as a whole number of days from 1 to :data:`MAX_DAYS`; :class:`InputError` otherwise."""
    text = str(value).strip()
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        raise InputError(f"--days must be a whole number of days from 1 to {MAX_DAYS}, not {text!r}")
    return days


@dataclass(frozen=True)
class AccountAttention:
    """An account the user should look at, and why (health under the threshold, a reconnect)."""

    account_id: int
    username: str
    platform: str
    health: float | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ReportSummary:
    """The numbers at the top of the report, over the window ``since`` (a UTC midnight) to ``until``.

    ``views`` sums the latest snapshot of each of the ``posts_measured`` posts measured in the
    window; ``published`` counts posts made public, ``inbox`` those sent to a TikTok inbox.
    """

    days: int
    since: str
    until: str
    rendered: int
    published: int
    inbox: int
    failed: int
    upload_failures: int
    views: int
    posts_measured: int
    ai_tokens: int
    open_alerts: int
    accounts: int
    health_threshold: float
    attention: tuple[AccountAttention, ...] = field(default=())

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ReportData:
    """Everything the charts are drawn from (rows as the catalog queries return them)."""

    summary: ReportSummary
    since: datetime
    until: datetime
    rendered: list[dict]
    render_speed: list[dict]
    queue: list[dict]
    failures: list[dict]
    uploads: list[dict]
    views: list[dict]
    accounts: list[dict]
    health: list[dict]
    ai: list[dict]
    jobs_in_window: int
    # revenue: commission per day (every row), the best farm videos, commissions from no farm video
    revenue_days: list[dict] = field(default_factory=list)
    best_videos: list[dict] = field(default_factory=list)
    revenue_unmatched: list[dict] = field(default_factory=list)
    commissions: int = 0


def window_start(now: datetime, days: int) -> datetime:
    """The UTC midnight that starts a window of ``days`` calendar days ending today."""
    return datetime.combine(now.date() - timedelta(days=days - 1), time())


def _attention(accounts: list[dict], threshold: float) -> tuple[AccountAttention, ...]:
    out = []
    for a in accounts:
        reasons = []
        if a["health"] is not None and a["health"] < threshold:
            reasons.append(f"health {a['health']:.0f} (under {threshold:g})")
        if a["needs_reconnect"]:
            reasons.append("needs reconnect" + (f": {a['reconnect_reason']}" if a.get("reconnect_reason") else ""))
        if reasons:
            out.append(AccountAttention(account_id=int(a["id"]), username=a["username"], platform=a["platform"],
                                        health=a["health"], reasons=tuple(reasons)))
    return tuple(out)


def _revenue(con, metrics_dir, *, since: datetime) -> dict:
    """The revenue section's rows: commission per day, the ten best farm videos, the rest."""
    return {"revenue_days": catalogs.revenue_per_day(con, since=since),
            "best_videos": catalogs.revenue_by(con, metrics_dir, by="video", since=since, limit=10),
            "revenue_unmatched": catalogs.revenue_unmatched(con, since=since),
            "commissions": catalogs.commission_count(con)}


def collect_report_data(ws, *, days: int = DEFAULT_DAYS, now: datetime | None = None) -> ReportData:
    """Read everything the report shows for the ``days`` calendar days (UTC) ending at ``now``."""
    from catalogs import (  # here, not at the top: `farm --help` need not load DuckDB
        report_accounts,
        report_ai_per_day,
        report_counts,
        report_failures,
        report_health_history,
        report_open_alerts,
        report_queue_states,
        report_render_speed,
        report_rendered_per_day,
        report_uploads_per_day,
        report_views_per_day,
        report_views_total,
    )

    days = parse_days(days)
    until = now or catalogs.utcnow()
    since = window_start(until, days)
    alerts = getattr(ws.settings, "alerts", None)
    threshold = float(getattr(alerts, "health_threshold", DEFAULT_HEALTH_THRESHOLD))
    with ws.catalog.read() as con:
        counts = report_counts(con, since=since)
        rendered = report_rendered_per_day(con, since=since)
        speed = report_render_speed(con, since=since)
        queue = report_queue_states(con)
        failures = report_failures(con, since=since)
        uploads = report_uploads_per_day(con, since=since)
        accounts = report_accounts(con)
        health = report_health_history(con, since=since)
        ai = report_ai_per_day(con, since=since)
        open_alerts = report_open_alerts(con)
        views = report_views_per_day(con, ws.metrics_dir, since=since, until=until)
        total = report_views_total(con, ws.metrics_dir, since=since)
        revenue = _revenue(con, ws.metrics_dir, since=since)
    summary = ReportSummary(
        days=days, since=since.date().isoformat(), until=until.isoformat(timespec="seconds"),
        rendered=counts["rendered"], published=counts["published"], inbox=counts["inbox"], failed=counts["failed"],
        upload_failures=counts["upload_failures"], views=total["views"], posts_measured=total["posts"],
        ai_tokens=counts["ai_tokens"], open_alerts=open_alerts, accounts=len(accounts), health_threshold=threshold,
        attention=_attention(accounts, threshold),
    )
    return ReportData(summary=summary, since=since, until=until, rendered=rendered, render_speed=speed, queue=queue,
                      failures=failures, uploads=uploads, views=views, accounts=accounts, health=health, ai=ai,
                      jobs_in_window=sum(r["videos"] for r in rendered), **revenue)
