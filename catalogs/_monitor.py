"""Typed access for watching the farm: published uploads to measure, account health history, alerts."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

from catalogs._connect import rows_as_dicts, utcnow


def published_uploads(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Uploads live on a platform (or a TikTok draft), with their account: what the monitor measures."""
    return rows_as_dicts(con.execute(
        "SELECT u.job_id, u.platform, u.account_id, u.remote_id, u.remote_url, u.state, u.privacy, u.published_at, u.pending, "
        "a.privacy AS account_privacy, a.username FROM uploads u JOIN accounts a ON a.id = u.account_id "
        "WHERE u.state IN ('published', 'inbox') ORDER BY u.account_id, u.job_id"))


def upload_failures(con: duckdb.DuckDBPyConnection, account_id: int, since: datetime) -> dict[str, int]:
    """An account's failed uploads since ``since``, by error class (policy rejections are PolicyError)."""
    rows = con.execute(
        "SELECT coalesce(error_class, 'unknown'), count(*) FROM uploads WHERE account_id = ? AND state = 'failed' "
        "AND coalesce(updated_at, created_at) >= ? GROUP BY 1", [int(account_id), since]).fetchall()
    return {str(k): int(n) for k, n in rows}


def forced_private(con: duckdb.DuckDBPyConnection, account_id: int, since: datetime) -> int:
    """Posts the platform made private (or self-only) although they asked to be public (a post the farm
    itself asked to be self-only, as unaudited TikTok apps must, does not count)."""
    return int(con.execute(
        "SELECT count(*) FROM uploads WHERE account_id = ? AND state = 'published' "
        "AND privacy IN ('private', 'self-only') AND coalesce(requested_privacy, 'public') = 'public' "
        "AND published_at >= ?", [int(account_id), since]).fetchone()[0])


def post_times(con: duckdb.DuckDBPyConnection, account_id: int, since: datetime) -> list[datetime]:
    """When an account's uploads (failed ones excepted) started, since ``since`` (naive UTC)."""
    return [r[0] for r in con.execute(
        "SELECT started_at FROM uploads WHERE account_id = ? AND state <> 'failed' AND started_at >= ? ORDER BY 1",
        [int(account_id), since]).fetchall()]


def daily_engagement(con: duckdb.DuckDBPyConnection, account_id: int, since: datetime) -> list[tuple]:
    """(day, engagement rate) of an account from the metric snapshots: each day's latest snapshot of each
    video, the rate over the sum of their counts (call ``create_metric_views`` on ``con`` first)."""
    return con.execute(
        """
        WITH latest AS (
            SELECT upload, CAST("at" AS DATE) AS day, arg_max(likes, "at") AS likes, arg_max(comments, "at") AS comments,
                   arg_max(shares, "at") AS shares, arg_max(views, "at") AS views
            FROM metrics WHERE account_id = ? AND available AND "at" >= ? GROUP BY upload, day)
        SELECT day, sum(coalesce(likes, 0) + coalesce(comments, 0) + coalesce(shares, 0)) / nullif(sum(views), 0)
        FROM latest GROUP BY day ORDER BY day
        """, [int(account_id), since]).fetchall()


def insert_health(con: duckdb.DuckDBPyConnection, account_id: int, health: float, components: dict,
                  at: datetime | None = None) -> None:
    con.execute('INSERT INTO account_health VALUES (?, ?, ?, ?)',
                [int(account_id), at or utcnow(), float(health), json.dumps(components, default=str)])
    con.execute("UPDATE accounts SET health = ? WHERE id = ?", [float(health), int(account_id)])


def latest_health(con: duckdb.DuckDBPyConnection) -> list[dict]:
    rows = rows_as_dicts(con.execute(
        'SELECT account_id, max("at") AS "at", arg_max(health, "at") AS health, arg_max(components, "at") AS components '
        "FROM account_health GROUP BY account_id ORDER BY account_id"))
    for r in rows:
        r["components"] = json.loads(r["components"]) if isinstance(r["components"], str) else r["components"]
    return rows


def nightly_batches(con: duckdb.DuckDBPyConnection, *, since: datetime) -> list[dict]:
    """Each nightly batch since ``since``: its jobs, failed ones, and whether any is still unfinished."""
    return rows_as_dicts(con.execute(
        "SELECT batch_id, count(*) AS jobs, count(*) FILTER (WHERE state = 'failed') AS failed, "
        "count(*) FILTER (WHERE state IN ('pending', 'rendering')) AS unfinished, min(created_at) AS started "
        "FROM jobs WHERE batch_id LIKE 'nightly-%' AND created_at >= ? GROUP BY batch_id ORDER BY started",
        [since]))


# -- alerts ----------------------------------------------------------------------------
def open_alerts(con: duckdb.DuckDBPyConnection) -> list[dict]:
    return _alerts(rows_as_dicts(con.execute("SELECT * FROM alerts WHERE cleared_at IS NULL ORDER BY id")))


def recent_alerts(con: duckdb.DuckDBPyConnection, since: datetime) -> list[dict]:
    return _alerts(rows_as_dicts(con.execute(
        "SELECT * FROM alerts WHERE cleared_at IS NULL OR raised_at >= ? ORDER BY id", [since])))


def _alerts(rows: list[dict]) -> list[dict]:
    for r in rows:
        if isinstance(r.get("details"), str):
            r["details"] = json.loads(r["details"])
    return rows


def insert_alert(con: duckdb.DuckDBPyConnection, *, kind: str, key: str, severity: str, message: str,
                 account_id: int | None, details: dict, at: datetime, webhook: bool) -> int:
    return int(con.execute(
        "INSERT INTO alerts (kind, key, severity, account_id, message, details, raised_at, webhook_state, "
        "webhook_attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) RETURNING id",
        [kind, key, severity, account_id, message, json.dumps(details, default=str), at,
         "pending" if webhook else None]).fetchone()[0])


def update_alert(con: duckdb.DuckDBPyConnection, alert_id: int, **sets) -> None:
    if "details" in sets and not isinstance(sets["details"], str):
        sets["details"] = json.dumps(sets["details"], default=str)
    assign = ", ".join(f"{k} = ?" for k in sets)
    con.execute(f"UPDATE alerts SET {assign} WHERE id = ?", [*sets.values(), int(alert_id)])


def pending_webhooks(con: duckdb.DuckDBPyConnection) -> list[dict]:
    return _alerts(rows_as_dicts(con.execute("SELECT * FROM alerts WHERE webhook_state = 'pending' ORDER BY id")))
