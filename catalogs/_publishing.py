"""Typed access to publishing: accounts (tokens only as ciphertext), the uploads ledger, API calls and holds."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

from catalogs._connect import rows_as_dicts, utcnow
from farm.errors import InputError

ACCOUNT_PUBLIC_COLUMNS = (
    "id", "platform", "username", "page_id", "privacy", "daily_cap", "min_gap_min", "window_start", "window_end",
    "active", "needs_reconnect", "reconnect_reason", "token_expires_at", "refresh_expires_at", "token_refreshed_at",
    "error_count", "last_posted_at", "health", "key_id", "created_at", "updated_at", "allow_comments", "allow_duet",
    "allow_stitch", "scopes", "missing_scope", "key_problem", "remote_name", "paused_until", "pause_reason",
    "warmup_days", "warmup_from", "window_auto",
)
_PUBLIC_SELECT = ", ".join(ACCOUNT_PUBLIC_COLUMNS) + ", refresh_blob IS NOT NULL AS has_refresh_token"
"""Every column of ``accounts`` but the two token blobs: what listing code may read."""


# -- accounts ------------------------------------------------------------------------
def insert_account(con: duckdb.DuckDBPyConnection, row: dict) -> int:
    now = utcnow()
    cols = list(row)
    sql = (f"INSERT INTO accounts ({', '.join(cols)}, created_at, updated_at) "
           f"VALUES ({', '.join('?' for _ in cols)}, ?, ?) RETURNING id")
    try:
        return int(con.execute(sql, [*row.values(), now, now]).fetchone()[0])
    except duckdb.ConstraintException:
        raise InputError(f"a {row.get('platform')} account named {row.get('username')!r} already exists") from None


def list_accounts(con: duckdb.DuckDBPyConnection, *, platform: str | None = None,
                  active_only: bool = False) -> list[dict]:
    """Accounts without their token blobs, by platform then id."""
    sql, args = f"SELECT {_PUBLIC_SELECT} FROM accounts WHERE true", []
    if platform:
        sql += " AND platform = ?"
        args.append(platform)
    if active_only:
        sql += " AND active AND NOT coalesce(needs_reconnect, false)"
    return rows_as_dicts(con.execute(sql + " ORDER BY platform, id", args))


def find_account(con: duckdb.DuckDBPyConnection, ref: str | int) -> dict:
    """The account (without blobs) named by id or name; InputError when none or several match."""
    text = str(ref)
    cols = _PUBLIC_SELECT
    if text.isdigit():
        rows = rows_as_dicts(con.execute(f"SELECT {cols} FROM accounts WHERE id = ?", [int(text)]))
    else:
        platform, _, name = text.rpartition(":") if ":" in text else ("", "", text)
        sql, args = f"SELECT {cols} FROM accounts WHERE username = ?", [name]
        if platform:
            sql += " AND platform = ?"
            args.append(platform)
        rows = rows_as_dicts(con.execute(sql, args))
    if not rows:
        raise InputError(f"account {text}: no such account (see `farm accounts list`)")
    if len(rows) > 1:
        names = ", ".join(f"{r['platform']}:{r['username']}" for r in rows)
        raise InputError(f"account {text}: several accounts have that name ({names}); say PLATFORM:NAME or the id")
    return rows[0]


def account_tokens(con: duckdb.DuckDBPyConnection, account_id: int) -> tuple[bytes | None, bytes | None]:
    """The account's encrypted access and refresh tokens (ciphertext, as stored)."""
    row = con.execute("SELECT token_blob, refresh_blob FROM accounts WHERE id = ?", [int(account_id)]).fetchone()
    if row is None:
        raise InputError(f"account {account_id}: no such account")
    return (bytes(row[0]) if row[0] is not None else None, bytes(row[1]) if row[1] is not None else None)


def all_token_blobs(con: duckdb.DuckDBPyConnection) -> list[tuple[int, bytes | None, bytes | None]]:
    return [(int(i), bytes(a) if a is not None else None, bytes(r) if r is not None else None)
            for i, a, r in con.execute("SELECT id, token_blob, refresh_blob FROM accounts ORDER BY id").fetchall()]


def update_account(con: duckdb.DuckDBPyConnection, account_id: int, **sets) -> None:
    sets["updated_at"] = utcnow()
    assign = ", ".join(f"{k} = ?" for k in sets)
    con.execute(f"UPDATE accounts SET {assign} WHERE id = ?", [*sets.values(), int(account_id)])


def delete_account(con: duckdb.DuckDBPyConnection, account_id: int) -> None:
    con.execute("DELETE FROM accounts WHERE id = ?", [int(account_id)])


# -- uploads ledger ------------------------------------------------------------------
def _upload_row(row: dict) -> dict:
    if isinstance(row.get("remote_session"), str):
        row["remote_session"] = json.loads(row["remote_session"])
    return row


def get_upload(con: duckdb.DuckDBPyConnection, job_id: int, platform: str) -> dict | None:
    rows = rows_as_dicts(con.execute("SELECT * FROM uploads WHERE job_id = ? AND platform = ?",
                                     [int(job_id), platform]))
    return _upload_row(rows[0]) if rows else None


def insert_upload(con: duckdb.DuckDBPyConnection, *, job_id: int, account_id: int, platform: str, marker: str,
                  size_bytes: int, privacy: str) -> None:
    """A new ledger row (state ``assigned``); the primary key (job, platform) makes a second one fail."""
    now = utcnow()
    con.execute(
        "INSERT INTO uploads (job_id, account_id, platform, state, marker, size_bytes, sent_bytes, privacy, "
        "requested_privacy, attempts, created_at, updated_at) VALUES (?, ?, ?, 'assigned', ?, ?, 0, ?, ?, 0, ?, ?)",
        [int(job_id), int(account_id), platform, marker, int(size_bytes), privacy, privacy, now, now])


def update_upload(con: duckdb.DuckDBPyConnection, job_id: int, platform: str, **sets) -> None:
    if "remote_session" in sets and isinstance(sets["remote_session"], dict):
        sets["remote_session"] = json.dumps(sets["remote_session"])
    sets["updated_at"] = utcnow()
    assign = ", ".join(f"{k} = ?" for k in sets)
    con.execute(f"UPDATE uploads SET {assign} WHERE job_id = ? AND platform = ?",
                [*sets.values(), int(job_id), platform])


def delete_failed_uploads(con: duckdb.DuckDBPyConnection, job_id: int, platform: str | None = None) -> int:
    """Forget a job's failed uploads (or its failed upload to ``platform``): it is being retried, they may be
    tried again."""
    sql, args = "DELETE FROM uploads WHERE job_id = ? AND state = 'failed'", [int(job_id)]
    if platform is not None:
        sql += " AND platform = ?"
        args.append(platform)
    return len(con.execute(sql + " RETURNING platform", args).fetchall())


def delete_upload(con: duckdb.DuckDBPyConnection, job_id: int, platform: str) -> None:
    con.execute("DELETE FROM uploads WHERE job_id = ? AND platform = ? AND state = 'assigned'", [int(job_id), platform])


def list_uploads(con: duckdb.DuckDBPyConnection, *, job_id: int | None = None, states: tuple[str, ...] = (),
                 account_id: int | None = None) -> list[dict]:
    sql, args = "SELECT * FROM uploads WHERE true", []
    if job_id is not None:
        sql += " AND job_id = ?"
        args.append(int(job_id))
    if states:
        sql += f" AND state IN ({', '.join('?' for _ in states)})"
        args.extend(states)
    if account_id is not None:
        sql += " AND account_id = ?"
        args.append(int(account_id))
    return [_upload_row(r) for r in rows_as_dicts(con.execute(sql + " ORDER BY job_id, platform", args))]


def account_posts_since(con: duckdb.DuckDBPyConnection, account_id: int, since: datetime) -> int:
    """Uploads an account started (or finished) since ``since``, failed ones excepted: its use of the day."""
    return int(con.execute(
        "SELECT count(*) FROM uploads WHERE account_id = ? AND state <> 'failed' AND coalesce(started_at, created_at) >= ?",
        [int(account_id), since]).fetchone()[0])


def account_last_post(con: duckdb.DuckDBPyConnection, account_id: int) -> datetime | None:
    row = con.execute(
        "SELECT max(coalesce(started_at, created_at)) FROM uploads WHERE account_id = ? AND state <> 'failed'",
        [int(account_id)]).fetchone()
    return row[0] if row else None


# -- API calls and holds (rate limits, quotas) ---------------------------------------
def record_call(con: duckdb.DuckDBPyConnection, platform: str, kind: str, *, account_id: int | None = None,
                at: datetime | None = None) -> None:
    con.execute("INSERT INTO api_calls VALUES (?, ?, ?, ?)", [platform, account_id, kind, at or utcnow()])


def count_calls(con: duckdb.DuckDBPyConnection, platform: str, kind: str, *, since: datetime,
                account_id: int | None = None) -> int:
    sql, args = 'SELECT count(*) FROM api_calls WHERE platform = ? AND kind = ? AND "at" >= ?', [platform, kind, since]
    if account_id is not None:
        sql += " AND account_id = ?"
        args.append(int(account_id))
    return int(con.execute(sql, args).fetchone()[0])


def add_hold(con: duckdb.DuckDBPyConnection, platform: str, *, until: datetime, reason: str,
             account_id: int | None = None, bucket: str = "upload") -> None:
    """Nothing more of ``bucket`` (``upload``: publishing; ``read``: statistics and lookups) goes to
    ``platform`` (or to that account) before ``until`` (a quota spent)."""
    con.execute("INSERT INTO platform_holds (platform, account_id, until, reason, \"at\", bucket) "
                "VALUES (?, ?, ?, ?, ?, ?)", [platform, account_id, until, reason, utcnow(), bucket])


def active_holds(con: duckdb.DuckDBPyConnection, now: datetime, *, bucket: str | None = None) -> list[dict]:
    """Holds still in force, one per (platform, account, bucket): the latest ``until``; ``bucket``
    None: every bucket."""
    sql, args = ("SELECT platform, account_id, coalesce(bucket, 'upload') AS bucket, max(until) AS until, "
                 "arg_max(reason, until) AS reason FROM platform_holds WHERE until > ?"), [now]
    if bucket is not None:
        sql += " AND coalesce(bucket, 'upload') = ?"
        args.append(bucket)
    return rows_as_dicts(con.execute(sql + " GROUP BY platform, account_id, coalesce(bucket, 'upload') "
                                     "ORDER BY platform, account_id", args))


def pending_uploads(con: duckdb.DuckDBPyConnection, *, platform: str | None = None) -> list[dict]:
    """Published uploads about which the platform still owes something (``pending``: a public id, a
    copyright verdict), with their session: later passes ask again."""
    sql, args = "SELECT * FROM uploads WHERE state = 'published' AND pending IS NOT NULL", []
    if platform is not None:
        sql += " AND platform = ?"
        args.append(platform)
    return [_upload_row(r) for r in rows_as_dicts(con.execute(sql + " ORDER BY job_id", args))]


def retired_metrics(con: duckdb.DuckDBPyConnection, platform: str) -> dict[str, str]:
    """The platform's metrics found retired, with the platform's words: not asked for again."""
    return {str(m): str(msg or "") for m, msg in con.execute(
        "SELECT metric, message FROM retired_metrics WHERE platform = ? ORDER BY metric", [platform]).fetchall()}


def retire_metric(con: duckdb.DuckDBPyConnection, platform: str, metric: str, message: str) -> bool:
    """Record a retired metric; True when it is new (said once), False when already known."""
    known = con.execute("SELECT count(*) FROM retired_metrics WHERE platform = ? AND metric = ?",
                        [platform, metric]).fetchone()[0]
    if known:
        return False
    con.execute('INSERT INTO retired_metrics (platform, metric, message, "at") VALUES (?, ?, ?, ?)',
                [platform, metric, message[:500], utcnow()])
    return True


def count_account_error(con: duckdb.DuckDBPyConnection, account_id: int) -> None:
    con.execute("UPDATE accounts SET error_count = error_count + 1 WHERE id = ?", [int(account_id)])


def drop_assigned_uploads(con: duckdb.DuckDBPyConnection, *, account_id: int | None = None) -> int:
    """Delete ledger rows still ``assigned`` (nothing was sent for them); returns how many."""
    sql, args = "DELETE FROM uploads WHERE state = 'assigned'", []
    if account_id is not None:
        sql += " AND account_id = ?"
        args.append(int(account_id))
    return len(con.execute(sql + " RETURNING job_id", args).fetchall())


def due_job_ids(con: duckdb.DuckDBPyConnection, now: datetime) -> list[int]:
    """Jobs ready (or publishing) whose earliest publish time has come, oldest first."""
    rows = con.execute(
        "SELECT id FROM jobs WHERE state IN ('ready', 'publishing') AND (publish_after IS NULL OR publish_after <= ?) "
        "ORDER BY coalesce(publish_after, finished_at, created_at), id", [now]).fetchall()
    return [int(r[0]) for r in rows]


# -- account safety: what share of an account's posts are originals -------------------
_REUSES_SOURCE = ("EXISTS (SELECT 1 FROM job_media jm JOIN media m ON m.id = jm.media_id "
                  "WHERE jm.job_id = {job} AND jm.role = 'main' AND m.license <> 'owned')")
"""A job reuses a source when one of its main clips is not the user's own footage (licence ``owned``)."""


def job_is_original(con: duckdb.DuckDBPyConnection, job_id: int) -> bool:
    """True for a promo, or a mashup whose main clip(s) are all the user's own footage (licence
    ``owned``). A job the catalog does not know, or one without recorded main clips, counts as
    original: nothing shows that it reuses a source."""
    row = con.execute(f"SELECT kind = 'promo' OR NOT {_REUSES_SOURCE.format(job='j.id')} FROM jobs j WHERE j.id = ?",
                      [int(job_id)]).fetchone()
    return True if row is None else bool(row[0])


def account_post_mix(con: duckdb.DuckDBPyConnection, account_id: int, since: datetime) -> tuple[int, int]:
    """(originals, total): the account's posts since ``since`` (published or under way; failed ones
    do not count), and how many of them are originals as ``job_is_original`` says."""
    row = con.execute(
        "SELECT count(*) FILTER (WHERE j.id IS NULL OR j.kind = 'promo' OR NOT "
        f"{_REUSES_SOURCE.format(job='u.job_id')}), count(*) "
        "FROM uploads u LEFT JOIN jobs j ON j.id = u.job_id "
        "WHERE u.account_id = ? AND u.state <> 'failed' AND coalesce(u.started_at, u.created_at) >= ?",
        [int(account_id), since]).fetchone()
    return int(row[0]), int(row[1])


def job_plan_facts(con: duckdb.DuckDBPyConnection, *, states: tuple[str, ...] = ("ready", "publishing")
                   ) -> dict[int, tuple[bool, int | None]]:
    """For every job in ``states`` (those the publisher may choose accounts for): (is it original,
    as ``job_is_original`` says; its planned account, ``jobs.account_id``, or None). One query."""
    rows = con.execute(
        f"SELECT j.id, j.kind = 'promo' OR NOT {_REUSES_SOURCE.format(job='j.id')}, j.account_id FROM jobs j "
        f"WHERE j.state IN ({', '.join('?' for _ in states)})", list(states)).fetchall()
    return {int(i): (bool(orig), int(acc) if acc is not None else None) for i, orig, acc in rows}
