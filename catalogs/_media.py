"""Typed access to the ``media`` table: insert, find, list, remove, pick for planning, mark used."""

from __future__ import annotations

import duckdb

from catalogs._jobs import paged_ids
from catalogs._connect import rows_as_dicts, utcnow
from catalogs._schema import LICENSES, MEDIA_KINDS

# Licences that allow publishing a derived video; `unknown` never does.
PUBLISHABLE_LICENSES = tuple(x for x in LICENSES if x != "unknown")

MEDIA_COLUMNS = (
    "kind", "path", "sha256", "size_bytes", "duration_s", "width", "height", "fps", "has_audio",
    "mood", "category", "style", "platform", "license", "creator", "source_url", "attribution", "linked",
)


def insert_media(con: duckdb.DuckDBPyConnection, row: dict) -> int:
    """Insert one media row (keys from MEDIA_COLUMNS); returns its id."""
    cols = [c for c in MEDIA_COLUMNS if c in row]
    values = [row[c] for c in cols]
    sql = (
        f"INSERT INTO media ({', '.join(cols)}, created_at) VALUES ({', '.join('?' for _ in cols)}, ?) RETURNING id"
    )
    return int(con.execute(sql, [*values, row.get("created_at") or utcnow()]).fetchone()[0])


def media_by_sha(con: duckdb.DuckDBPyConnection, sha256: str) -> dict | None:
    rows = rows_as_dicts(con.execute("SELECT * FROM media WHERE sha256 = ?", [sha256]))
    return rows[0] if rows else None


def get_media(con: duckdb.DuckDBPyConnection, media_id: int) -> dict | None:
    rows = rows_as_dicts(con.execute("SELECT * FROM media WHERE id = ?", [int(media_id)]))
    return rows[0] if rows else None


def list_media(
    con: duckdb.DuckDBPyConnection, *, kind: str | None = None, mood: str | None = None, limit: int | None = None,
    license: str | None = None, offset: int = 0,
) -> list[dict]:
    where, args = [], []
    for column, value in (("kind", kind), ("mood", mood), ("license", license)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    clause = " WHERE " + " AND ".join(where) if where else ""
    sql = "SELECT * FROM media" + clause + " ORDER BY id"
    if limit or offset:
        sql = f"SELECT * FROM media WHERE id IN ({paged_ids('media', clause, ' ORDER BY id', limit, offset)}) ORDER BY id"
    return rows_as_dicts(con.execute(sql, args))


def jobs_using(con: duckdb.DuckDBPyConnection, media_id: int, *, states: tuple[str, ...] | None = None) -> list[int]:
    """Ids of the jobs whose inputs include ``media_id`` (optionally only in ``states``)."""
    sql = "SELECT DISTINCT j.id FROM job_media jm JOIN jobs j ON j.id = jm.job_id WHERE jm.media_id = ?"
    args: list = [int(media_id)]
    if states:
        sql += f" AND j.state IN ({', '.join('?' for _ in states)})"
        args.extend(states)
    return [int(r[0]) for r in con.execute(sql + " ORDER BY 1", args).fetchall()]


def delete_media(con: duckdb.DuckDBPyConnection, media_id: int) -> None:
    con.execute("DELETE FROM media WHERE id = ?", [int(media_id)])


def pick_media(
    con: duckdb.DuckDBPyConnection,
    *,
    kind: str,
    platform: str | None = None,
    mood: str | None = None,
    for_publishing: bool = False,
    seed: int = 0,
    exclude: tuple[int, ...] = (),
    count: int | None = 1,
) -> list[dict]:
    """Choose media for a job: least used first, then least recently used, ties by seed.

    Media tagged for another platform are skipped (untagged media suit every platform);
    media whose licence is ``unknown`` are skipped when the job is meant for publishing.
    The same seed over the same catalog gives the same choice. ``count=None`` returns
    every candidate in that order (a planner re-ranks them with its batch's own picks).
    """
    if kind not in MEDIA_KINDS:
        raise ValueError(f"Invalid media kind ({kind!r}). Supported: {', '.join(MEDIA_KINDS)}.")
    where, args = ["kind = ?"], [kind]
    if platform:
        where.append("(platform IS NULL OR platform = ?)")
        args.append(platform)
    if mood:
        where.append("mood = ?")
        args.append(mood)
    if for_publishing:
        where.append(f"license IN ({', '.join('?' for _ in PUBLISHABLE_LICENSES)})")
        args.extend(PUBLISHABLE_LICENSES)
    if exclude:
        where.append(f"id NOT IN ({', '.join('?' for _ in exclude)})")
        args.extend(int(x) for x in exclude)
    sql = (
        "SELECT * FROM media WHERE " + " AND ".join(where)
        + " ORDER BY usage_count, last_used_at NULLS FIRST, hash(id, ?), id"
    )
    if count is None:
        return rows_as_dicts(con.execute(sql, [*args, int(seed)]))
    return rows_as_dicts(con.execute(sql + " LIMIT ?", [*args, int(seed), int(count)]))


def mark_used(con: duckdb.DuckDBPyConnection, media_ids: list[int], *, at=None) -> None:
    """Count one more use of each media item (once per job, however often it appears)."""
    ids = sorted({int(x) for x in media_ids})
    if not ids:
        return
    con.execute(
        f"UPDATE media SET usage_count = usage_count + 1, last_used_at = ? WHERE id IN ({', '.join('?' for _ in ids)})",
        [at or utcnow(), *ids],
    )


def update_media(con: duckdb.DuckDBPyConnection, media_id: int, changes: dict) -> None:
    """Set the given columns of one media row (the caller checked names and values)."""
    bad = set(changes) - set(MEDIA_COLUMNS)
    if bad:
        raise ValueError(f"not media columns: {sorted(bad)}")
    con.execute(f"UPDATE media SET {', '.join(f'{k} = ?' for k in changes)} WHERE id = ?", [*changes.values(), int(media_id)])


def cleanup_candidates(con: duckdb.DuckDBPyConnection, *, kind: str, created_before) -> list[dict]:
    """Processed media (used at least once) of ``kind`` older than the cutoff that no pending
    or rendering job needs."""
    return rows_as_dicts(con.execute(
        """
        SELECT * FROM media m WHERE kind = ? AND created_at < ? AND usage_count > 0
        AND NOT EXISTS (SELECT 1 FROM job_media jm JOIN jobs j ON j.id = jm.job_id
                        WHERE jm.media_id = m.id AND j.state IN ('pending', 'rendering'))
        ORDER BY id
        """,
        [kind, created_before],
    ))


def audio_moods(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The moods the library has music for, sorted."""
    rows = con.execute("SELECT DISTINCT mood FROM media WHERE kind = 'audio' AND mood IS NOT NULL ORDER BY 1")
    return [r[0] for r in rows.fetchall()]
