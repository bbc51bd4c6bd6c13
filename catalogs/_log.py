"""The process log: one row per stage of a job (plan, probe, decode, compose, encode, mux, ...)."""

from __future__ import annotations

import duckdb

from catalogs._connect import rows_as_dicts, utcnow

STATUSES = ("ok", "failed", "retry", "info")


def log_stage(
    con: duckdb.DuckDBPyConnection,
    job_id: int | None,
    stage: str,
    *,
    status: str = "ok",
    duration_ms: float | None = None,
    detail: str | None = None,
    at=None,
) -> None:
    con.execute(
        'INSERT INTO process_log (job_id, stage, status, duration_ms, detail, "at") VALUES (?, ?, ?, ?, ?, ?)',
        [job_id, stage, status, None if duration_ms is None else round(float(duration_ms), 3), detail, at or utcnow()],
    )


def log_stages(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """Insert many ``(job_id, stage, status, duration_ms, detail)`` rows at once."""
    now = utcnow()
    con.executemany(
        'INSERT INTO process_log (job_id, stage, status, duration_ms, detail, "at") VALUES (?, ?, ?, ?, ?, ?)',
        [(j, s, st, None if d is None else round(float(d), 3), det, now) for j, s, st, d, det in rows],
    )


def job_log(con: duckdb.DuckDBPyConnection, job_id: int) -> list[dict]:
    return rows_as_dicts(
        con.execute(
            'SELECT id, job_id, stage, status, duration_ms, detail, "at" FROM process_log WHERE job_id = ? ORDER BY id',
            [int(job_id)],
        )
    )


def stage_seconds(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Seconds per stage, summed over every job's successful log rows."""
    rows = con.execute(
        "SELECT stage, sum(duration_ms) FROM process_log WHERE status = 'ok' AND duration_ms IS NOT NULL "
        "GROUP BY stage ORDER BY stage"
    ).fetchall()
    return {stage: ms / 1000 for stage, ms in rows}
