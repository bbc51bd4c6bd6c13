"""The report's queries: per-day counts, render speed, failures, uploads, metrics and health over a window."""

from __future__ import annotations

import os
from datetime import datetime

import duckdb

from catalogs._connect import rows_as_dicts
from catalogs._metrics import create_metric_views
from catalogs._schema import JOB_STATES, UPLOAD_DONE, sql_list

# Columns of the `metrics` view the report reads, with their types: Parquet files written
# before a column existed lack it, so a missing one is read as NULL instead of failing.
_METRIC_COLUMNS = {
    "upload": "VARCHAR", "at": "TIMESTAMP", "views": "BIGINT", "likes": "BIGINT", "comments": "BIGINT",
    "shares": "BIGINT", "engagement_rate": "DOUBLE", "job_id": "BIGINT", "platform": "VARCHAR",
    "account_id": "BIGINT", "available": "BOOLEAN",
}
_DONE = sql_list(UPLOAD_DONE)
# A job's moment for the report: when its render finished (or failed), else its last change.
_JOB_AT = "coalesce(finished_at, updated_at, created_at)"


def _label(account_id: str) -> str:
    """SQL for an account's name: its username, else its id, else 'unknown account'."""
    return f"coalesce(a.username, '#' || CAST({account_id} AS VARCHAR), 'unknown account')"


def report_rendered_per_day(con: duckdb.DuckDBPyConnection, *, since: datetime) -> list[dict]:
    """Videos rendered and jobs failed per UTC day since ``since``: ``day, kind, outcome, videos``.

    A job counts as rendered once it has frames (it stays rendered whatever publishing
    does later); ``failed`` counts jobs that are failed and never rendered.
    """
    return rows_as_dicts(con.execute(
        f"SELECT CAST({_JOB_AT} AS DATE) AS day, kind, "
        "CASE WHEN frames IS NOT NULL THEN 'rendered' ELSE 'failed' END AS outcome, count(*) AS videos "
        f"FROM jobs WHERE {_JOB_AT} >= ? AND (frames IS NOT NULL OR state = 'failed') "
        "GROUP BY ALL ORDER BY day, kind, outcome",
        [since],
    ))


def report_render_speed(con: duckdb.DuckDBPyConnection, *, since: datetime) -> list[dict]:
    """One row per video rendered since ``since``: ``job_id, at, kind, render_fps, frames, render_s``."""
    return rows_as_dicts(con.execute(
        "SELECT id AS job_id, finished_at AS \"at\", kind, render_fps, frames, "
        "CASE WHEN render_fps > 0 THEN frames / render_fps END AS render_s "
        "FROM jobs WHERE frames IS NOT NULL AND render_fps IS NOT NULL AND finished_at >= ? ORDER BY finished_at, id",
        [since],
    ))


def report_queue_states(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every job state with its count now (zero for states no job is in): ``state, jobs``."""
    counts = dict(con.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())
    return [{"state": s, "jobs": int(counts.get(s, 0))} for s in JOB_STATES]


def report_failures(con: duckdb.DuckDBPyConnection, *, since: datetime, limit: int = 12) -> list[dict]:
    """The commonest failure reasons since ``since``, jobs and uploads together.

    Rows ``stage ('render' or 'upload'), error_class, reason, failures, example``: the reason is
    the message with its numbers replaced by ``N`` (so "job 12: ..." and "job 13: ..." are one
    reason), cut to 80 characters; ``example`` is one message as it was written.
    """
    return rows_as_dicts(con.execute(
        "WITH f AS ("
        f"  SELECT 'render' AS stage, error_class, error_message FROM jobs WHERE state = 'failed' AND {_JOB_AT} >= ? "
        "  UNION ALL "
        "  SELECT 'upload', error_class, error_message FROM uploads "
        "  WHERE state = 'failed' AND coalesce(updated_at, created_at) >= ?"
        ") SELECT stage, coalesce(error_class, 'unknown') AS error_class, "
        "left(regexp_replace(coalesce(error_message, ''), '[0-9]+', 'N', 'g'), 80) AS reason, "
        "count(*) AS failures, min(error_message) AS example "
        "FROM f GROUP BY ALL ORDER BY failures DESC, stage, error_class, reason LIMIT ?",
        [since, since, int(limit)],
    ))


def report_uploads_per_day(con: duckdb.DuckDBPyConnection, *, since: datetime) -> list[dict]:
    """Posts made per UTC day, account and platform: ``day, account_id, username, platform, state, posts``."""
    return rows_as_dicts(con.execute(
        f"SELECT CAST(coalesce(u.published_at, u.updated_at, u.created_at) AS DATE) AS day, u.account_id, "
        f"{_label('u.account_id')} AS username, u.platform, u.state, count(*) AS posts "
        "FROM uploads u LEFT JOIN accounts a ON a.id = u.account_id "
        f"WHERE u.state IN {_DONE} AND coalesce(u.published_at, u.updated_at, u.created_at) >= ? "
        "GROUP BY ALL ORDER BY day, u.platform, username",
        [since],
    ))


def report_accounts(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every account with its latest health (NULL when never measured): ``id, username, platform,
    active, needs_reconnect, reconnect_reason, token_expires_at, health, health_at, components``."""
    return rows_as_dicts(con.execute(
        "SELECT a.id, a.username, a.platform, a.active, coalesce(a.needs_reconnect, false) AS needs_reconnect, "
        "a.reconnect_reason, a.token_expires_at, h.health, h.\"at\" AS health_at, h.components "
        "FROM accounts a LEFT JOIN ("
        "  SELECT account_id, health, \"at\", components FROM account_health "
        "  QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY \"at\" DESC) = 1"
        ") h ON h.account_id = a.id ORDER BY a.platform, a.username, a.id"
    ))


def report_health_history(con: duckdb.DuckDBPyConnection, *, since: datetime) -> list[dict]:
    """Account health measurements since ``since``: ``account_id, username, platform, at, health``."""
    return rows_as_dicts(con.execute(
        f"SELECT h.account_id, {_label('h.account_id')} AS username, a.platform, "
        "h.\"at\" AS \"at\", h.health FROM account_health h LEFT JOIN accounts a ON a.id = h.account_id "
        "WHERE h.\"at\" >= ? ORDER BY h.account_id, h.\"at\"",
        [since],
    ))


def report_ai_per_day(con: duckdb.DuckDBPyConnection, *, since: datetime) -> list[dict]:
    """AI use per UTC day of job creation: ``day, ai_tokens, ai_jobs, fallback_jobs``.

    Only jobs that wrote text count (``text_source`` set); a fallback job's words came from
    the templates because the AI was unavailable, over budget or refused.
    """
    return rows_as_dicts(con.execute(
        "SELECT CAST(created_at AS DATE) AS day, coalesce(sum(ai_tokens), 0) AS ai_tokens, "
        "count(*) FILTER (WHERE text_source = 'ai') AS ai_jobs, "
        "count(*) FILTER (WHERE text_source = 'fallback') AS fallback_jobs "
        "FROM jobs WHERE text_source IS NOT NULL AND created_at >= ? GROUP BY ALL ORDER BY day",
        [since],
    ))


def report_open_alerts(con: duckdb.DuckDBPyConnection) -> int:
    """How many alerts are raised and not cleared."""
    return int(con.execute("SELECT count(*) FROM alerts WHERE cleared_at IS NULL").fetchone()[0])


def report_counts(con: duckdb.DuckDBPyConnection, *, since: datetime) -> dict:
    """The summary's counts since ``since``: ``rendered, failed, published, inbox, upload_failures, ai_tokens``.

    Jobs count by when their render finished (or failed), uploads by when they were
    published (or last changed), AI tokens by when their job was planned.
    """
    row = con.execute(
        "SELECT count(*) FILTER (WHERE frames IS NOT NULL), count(*) FILTER (WHERE state = 'failed') "
        f"FROM jobs WHERE {_JOB_AT} >= ?",
        [since],
    ).fetchone()
    tokens = con.execute("SELECT coalesce(sum(ai_tokens), 0) FROM jobs WHERE created_at >= ?", [since]).fetchone()[0]
    up = con.execute(
        "SELECT count(*) FILTER (WHERE state = 'published'), count(*) FILTER (WHERE state = 'inbox'), "
        "count(*) FILTER (WHERE state = 'failed') FROM uploads "
        "WHERE coalesce(published_at, updated_at, created_at) >= ?",
        [since],
    ).fetchone()
    return {"rendered": int(row[0]), "failed": int(row[1]), "ai_tokens": int(tokens),
            "published": int(up[0]), "inbox": int(up[1]), "upload_failures": int(up[2])}


# -- the metric history (Parquet) -------------------------------------------------------
def _metric_snapshots(con: duckdb.DuckDBPyConnection, metrics_dir: str | os.PathLike) -> str:
    """Create the temp view ``report_snapshots``: one row per statistics snapshot with an account.

    The account comes from the snapshot itself, else from the uploads ledger by (job, platform).
    Snapshots of posts a platform gives no statistics for (``available`` false) are left out.
    """
    create_metric_views(con, metrics_dir)
    have = {r[0] for r in con.execute("DESCRIBE metrics").fetchall()}
    cols = ", ".join(f'"{c}"' if c in have else f'NULL::{t} AS "{c}"' for c, t in _METRIC_COLUMNS.items())
    con.execute(
        "CREATE OR REPLACE TEMP VIEW report_snapshots AS "
        "SELECT coalesce(m.upload, CAST(m.job_id AS VARCHAR) || '/' || m.platform) AS post, m.\"at\" AS \"at\", "
        "coalesce(m.account_id, u.account_id) AS account_id, coalesce(m.platform, u.platform) AS platform, "
        "m.views, m.likes, m.comments, m.shares, m.engagement_rate "
        f"FROM (SELECT {cols} FROM metrics) m "
        "LEFT JOIN uploads u ON u.job_id = m.job_id AND u.platform = m.platform "
        "WHERE coalesce(m.available, true) AND m.\"at\" IS NOT NULL AND m.views IS NOT NULL"
    )
    return "report_snapshots"


def report_views_per_day(con: duckdb.DuckDBPyConnection, metrics_dir: str | os.PathLike, *, since: datetime,
                         until: datetime) -> list[dict]:
    """Each account's views and engagement at the end of every UTC day from ``since`` to ``until``.

    Snapshots are running totals per post, so a day's figure for an account sums, over its
    posts, each post's latest snapshot taken before the day ended (a post the monitor
    skipped that day keeps its last count instead of dropping out). Engagement is the
    posts' engagement rates weighted by their views. Rows ``day, account_id, username,
    platform, posts, views, engagement_rate``; days before an account's first snapshot are
    left out.
    """
    view = _metric_snapshots(con, metrics_dir)
    return rows_as_dicts(con.execute(
        "WITH days AS (SELECT CAST(d AS DATE) AS day, d + INTERVAL 1 DAY AS day_end "
        "              FROM generate_series(CAST(? AS DATE), CAST(? AS DATE), INTERVAL 1 DAY) t(d)), "
        f"posts AS (SELECT post, max(account_id) AS account_id FROM {view} GROUP BY post), "
        "grid AS (SELECT days.day, days.day_end, posts.post, posts.account_id FROM days CROSS JOIN posts), "
        "latest AS (SELECT g.day, g.account_id, s.views, s.engagement_rate "
        f"           FROM grid g ASOF JOIN {view} s ON g.post = s.post AND g.day_end > s.\"at\") "
        f"SELECT l.day, l.account_id, {_label('l.account_id')} AS username, "
        "a.platform, count(*) AS posts, sum(l.views) AS views, "
        "sum(l.engagement_rate * l.views) FILTER (WHERE l.engagement_rate IS NOT NULL) "
        "  / nullif(sum(l.views) FILTER (WHERE l.engagement_rate IS NOT NULL), 0) AS engagement_rate "
        "FROM latest l LEFT JOIN accounts a ON a.id = l.account_id "
        "GROUP BY ALL ORDER BY l.day, username",
        [since, until],
    ))


def report_views_total(con: duckdb.DuckDBPyConnection, metrics_dir: str | os.PathLike, *,
                       since: datetime) -> dict:
    """Views of the posts measured since ``since``, each at its latest snapshot: ``posts, views``."""
    view = _metric_snapshots(con, metrics_dir)
    row = con.execute(
        f"SELECT count(*), coalesce(sum(views), 0) FROM (SELECT post, views FROM {view} WHERE \"at\" >= ? "
        "QUALIFY row_number() OVER (PARTITION BY post ORDER BY \"at\" DESC) = 1)",
        [since],
    ).fetchone()
    return {"posts": int(row[0]), "views": int(row[1])}
