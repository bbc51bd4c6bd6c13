"""Typed access to the job queue: insert, claim, state moves with a legal-transition table, stats."""

from __future__ import annotations

import json

import duckdb

from catalogs._connect import rows_as_dicts, utcnow
from catalogs._schema import JOB_STATES
from farm.errors import InputError

# For each target state, the states a job may come from.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending": ("rendering", "failed", "cancelled"),  # recovered orphan, retry
    "rendering": ("pending",),
    "ready": ("rendering", "publishing"),  # publishing -> ready: every upload waits (quota, an account to reconnect)
    "publishing": ("ready",),
    "published": ("publishing",),
    "failed": ("pending", "rendering", "ready", "publishing"),  # ready -> failed: refused before any upload
    "cancelled": ("pending", "failed", "ready"),
}

JOB_LIST_COLUMNS = (
    "id", "kind", "state", "platform", "attempts", "error_class", "error_message", "output_path",
    "output_sha256", "output_size_bytes", "frames", "render_fps", "encoder", "worker", "batch_id",
    "created_at", "started_at", "finished_at", "updated_at",
)


class IllegalTransition(InputError):
    """A job was asked to move to a state it cannot reach from where it is."""


def insert_job(
    con: duckdb.DuckDBPyConnection,
    *,
    kind: str,
    spec: dict,
    platform: str | None,
    inputs: list[tuple[int, str, int]],
    job_id: int | None = None,
    batch_id: str | None = None,
) -> int:
    """Insert a pending job and its input rows ``(media_id, role, position)``; returns its id."""
    now = utcnow()
    if job_id is None:
        job_id = next_job_id(con)
    con.execute(
        "INSERT INTO jobs (id, kind, spec, platform, state, created_at, updated_at, batch_id) "
        "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
        [job_id, kind, json.dumps(spec, ensure_ascii=False), platform, now, now, batch_id],
    )
    if inputs:
        con.executemany(
            "INSERT INTO job_media VALUES (?, ?, ?, ?)", [(job_id, int(m), role, int(pos)) for m, role, pos in inputs]
        )
    return job_id


def next_job_id(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT nextval('job_id_seq')").fetchone()[0])


def get_job(con: duckdb.DuckDBPyConnection, job_id: int) -> dict | None:
    rows = rows_as_dicts(con.execute("SELECT * FROM jobs WHERE id = ?", [int(job_id)]))
    if not rows:
        return None
    row = rows[0]
    row["spec"] = json.loads(row["spec"])
    if isinstance(row.get("post_metadata"), str):
        row["post_metadata"] = json.loads(row["post_metadata"])
    return row


def set_job_text(con: duckdb.DuckDBPyConnection, job_id: int, *, post_metadata: dict, text_source: str,
                 text_source_reason: str | None, ai_tokens: int, product_id: int | None = None) -> None:
    """A job's post metadata (per platform), where its words came from and the AI tokens they cost."""
    con.execute(
        "UPDATE jobs SET post_metadata = ?, text_source = ?, text_source_reason = ?, ai_tokens = ?, product_id = ? "
        "WHERE id = ?",
        [json.dumps(post_metadata, ensure_ascii=False), text_source, text_source_reason, int(ai_tokens), product_id,
         int(job_id)])


def job_inputs(con: duckdb.DuckDBPyConnection, job_id: int) -> list[dict]:
    return rows_as_dicts(
        con.execute("SELECT * FROM job_media WHERE job_id = ? ORDER BY role, position", [int(job_id)])
    )


def list_jobs(
    con: duckdb.DuckDBPyConnection, *, state: str | None = None, limit: int | None = None, with_spec: bool = False,
    kind: str | None = None, platform: str | None = None, offset: int = 0, newest_first: bool = False,
) -> list[dict]:
    cols = ", ".join(JOB_LIST_COLUMNS) + (", spec" if with_spec else "")
    where, args = _job_filter(state=state, kind=kind, platform=platform)
    order = " ORDER BY id DESC" if newest_first else " ORDER BY id"
    sql = f"SELECT {cols} FROM jobs" + where + order
    if limit or offset:
        sql = f"SELECT {cols} FROM jobs WHERE id IN ({paged_ids('jobs', where, order, limit, offset)})" + order
    rows = rows_as_dicts(con.execute(sql, args))
    if with_spec:
        for r in rows:
            r["spec"] = json.loads(r["spec"])
    return rows


def set_job_output(con: duckdb.DuckDBPyConnection, job_id: int, *, path: str, size_bytes: int) -> None:
    """Point a job at an output file (benchmarks and fixtures that bring their own video)."""
    con.execute("UPDATE jobs SET output_path = ?, output_size_bytes = ? WHERE id = ?",
                [str(path), int(size_bytes), int(job_id)])


def paged_ids(table: str, where: str, order: str, limit: int | None, offset: int) -> str:
    """The SQL of one page's ids: sorting and skipping only the id column, then reading the page's rows,
    is ten times quicker at 100,000 rows than sorting whole rows (a deep page: 50 ms to 4 ms)."""
    sql = f"SELECT id FROM {table}{where}{order}"
    if limit:
        sql += f" LIMIT {int(limit)}"
    if offset:
        sql += f" OFFSET {int(offset)}"
    return sql


def _job_filter(**equal) -> tuple[str, list]:
    where = [(c, v) for c, v in equal.items() if v]
    return (" WHERE " + " AND ".join(f"{c} = ?" for c, _ in where) if where else ""), [v for _, v in where]


def count_jobs(con: duckdb.DuckDBPyConnection, *, state: str | None = None, kind: str | None = None,
               platform: str | None = None) -> int:
    """How many jobs ``list_jobs`` with the same filters would list (a page's total, without reading the rows)."""
    where, args = _job_filter(state=state, kind=kind, platform=platform)
    return int(con.execute("SELECT count(*) FROM jobs" + where, args).fetchone()[0])


def move(
    con: duckdb.DuckDBPyConnection, job_id: int, to: str, *, sets: dict | None = None, expect: tuple[str, ...] | None = None
) -> dict:
    """Move a job to state ``to`` if the move is legal; ``sets`` updates other columns too.

    Raises :class:`IllegalTransition` naming the job, its state and the states it could
    come from. Returns the row as it was before the move.
    """
    if to not in JOB_STATES:
        raise InputError(f"Invalid job state ({to!r}). Supported: {', '.join(JOB_STATES)}.")
    allowed = expect or TRANSITIONS[to]
    row = con.execute("SELECT state FROM jobs WHERE id = ?", [int(job_id)]).fetchone()
    if row is None:
        raise InputError(f"job {job_id}: no such job")
    if row[0] not in allowed:
        raise IllegalTransition(
            f"job {job_id} is {row[0]}; it cannot move to {to} (only from {', '.join(allowed)})"
        )
    sets = dict(sets or {})
    sets["state"] = to
    sets["updated_at"] = utcnow()
    assign = ", ".join(f"{k} = ?" for k in sets)
    con.execute(f"UPDATE jobs SET {assign} WHERE id = ?", [*sets.values(), int(job_id)])
    return {"id": int(job_id), "state": row[0]}


def next_pending(con: duckdb.DuckDBPyConnection, *, limit: int = 1, exclude: tuple[int, ...] = ()) -> list[int]:
    sql, args = "SELECT id FROM jobs WHERE state = 'pending'", []
    if exclude:
        sql += f" AND id NOT IN ({', '.join('?' for _ in exclude)})"
        args.extend(int(x) for x in exclude)
    return [int(r[0]) for r in con.execute(sql + f" ORDER BY id LIMIT {int(limit)}", args).fetchall()]


def queue_stats(con: duckdb.DuckDBPyConnection, *, top_failures: int = 5) -> dict:
    """Counts by state, by platform and state, and the commonest failure reasons."""
    by_state = {s: 0 for s in JOB_STATES}
    for state, n in con.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall():
        by_state[state] = int(n)
    by_platform = rows_as_dicts(
        con.execute(
            "SELECT coalesce(platform, 'none') AS platform, state, count(*) AS jobs FROM jobs "
            "GROUP BY ALL ORDER BY platform, state"
        )
    )
    failures = rows_as_dicts(
        con.execute(
            "SELECT error_class, error_message, count(*) AS jobs FROM jobs WHERE state = 'failed' "
            "GROUP BY ALL ORDER BY jobs DESC, error_class, error_message LIMIT ?",
            [int(top_failures)],
        )
    )
    tokens = con.execute("SELECT coalesce(sum(ai_tokens), 0) FROM jobs").fetchone()[0]
    sources = con.execute("SELECT text_source, count(*) FROM jobs WHERE text_source IS NOT NULL GROUP BY 1 ORDER BY 1")
    text = {"ai_tokens": int(tokens), "by_source": {str(k): int(n) for k, n in sources.fetchall()}}
    return {"total": sum(by_state.values()), "by_state": by_state, "by_platform": by_platform, "failures": failures,
            "text": text}


def recent_pairs(con: duckdb.DuckDBPyConnection, *, window: int) -> set[tuple[int, int]]:
    """(main, template) media pairs of the last ``window`` jobs, for planning diversity."""
    rows = con.execute(
        """
        WITH recent AS (SELECT id FROM jobs WHERE state <> 'cancelled' ORDER BY id DESC LIMIT ?)
        SELECT m.media_id, t.media_id FROM recent r
        JOIN job_media m ON m.job_id = r.id AND m.role = 'main'
        JOIN job_media t ON t.job_id = r.id AND t.role = 'template'
        """,
        [int(window)],
    ).fetchall()
    return {(int(a), int(b)) for a, b in rows}


def unfinished_batch(con: duckdb.DuckDBPyConnection, *, prefix: str = "nightly-") -> str | None:
    """The batch id of the oldest job of a ``prefix`` batch still pending or rendering."""
    row = con.execute(
        "SELECT batch_id FROM jobs WHERE batch_id LIKE ? AND state IN ('pending', 'rendering') ORDER BY id LIMIT 1",
        [prefix.replace("%", "") + "%"],
    ).fetchone()
    return row[0] if row else None
