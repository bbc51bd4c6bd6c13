"""Scheduled runs (``schedule_runs``): one row per run of a scheduled task, with its outcome.

Timestamps are the catalog's naive UTC. A row is written with outcome ``running`` when a
run starts and finished with its real outcome, so a scheduler that dies mid-run leaves a
row behind that the next one closes as ``killed``.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from catalogs._connect import rows_as_dicts

SCHEDULE_OUTCOMES = ("running", "ok", "failed", "skipped", "killed")
_COLUMNS = "id, task, scheduled_for, started_at, finished_at, outcome, exit_code, detail"


def _check_outcome(outcome: str) -> None:
    if outcome not in SCHEDULE_OUTCOMES:
        raise ValueError(f"Invalid schedule run outcome ({outcome!r}). Supported: {', '.join(SCHEDULE_OUTCOMES)}.")


def insert_schedule_run(
    con: duckdb.DuckDBPyConnection,
    task: str,
    *,
    started_at: datetime,
    scheduled_for: datetime | None = None,
    outcome: str = "running",
    finished_at: datetime | None = None,
    exit_code: int | None = None,
    detail: str | None = None,
) -> int:
    """Record a run (``running`` until :func:`finish_schedule_run`, or a finished one such
    as ``skipped``); returns its id."""
    _check_outcome(outcome)
    row = con.execute(
        "INSERT INTO schedule_runs (task, scheduled_for, started_at, finished_at, outcome, exit_code, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [task, scheduled_for, started_at, finished_at, outcome, exit_code, detail],
    ).fetchone()
    return int(row[0])


def finish_schedule_run(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    *,
    finished_at: datetime,
    outcome: str,
    exit_code: int | None = None,
    detail: str | None = None,
) -> None:
    """Close run ``run_id`` with its outcome (``ok``, ``failed``, ``killed``)."""
    _check_outcome(outcome)
    con.execute(
        "UPDATE schedule_runs SET finished_at = ?, outcome = ?, exit_code = ?, detail = ? WHERE id = ?",
        [finished_at, outcome, exit_code, detail, int(run_id)],
    )


def close_unfinished_schedule_runs(con: duckdb.DuckDBPyConnection, *, finished_at: datetime, detail: str) -> int:
    """Mark every ``running`` row ``killed`` (their scheduler is gone); returns how many."""
    rows = con.execute(
        "UPDATE schedule_runs SET finished_at = ?, outcome = 'killed', detail = ? WHERE outcome = 'running' "
        "RETURNING id",
        [finished_at, detail],
    ).fetchall()
    return len(rows)


def last_schedule_runs(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """Each task's latest run (by the time it was scheduled for, else started at): {task: row}."""
    rows = rows_as_dicts(
        con.execute(
            f"SELECT {_COLUMNS} FROM schedule_runs "
            "QUALIFY row_number() OVER (PARTITION BY task ORDER BY coalesce(scheduled_for, started_at) DESC, "
            "id DESC) = 1"
        )
    )
    return {r["task"]: r for r in rows}


def list_schedule_runs(con: duckdb.DuckDBPyConnection, *, task: str | None = None, limit: int = 50) -> list[dict]:
    """The latest runs, newest first (of one task when ``task`` is given)."""
    where, params = ("WHERE task = ?", [task]) if task is not None else ("", [])
    return rows_as_dicts(
        con.execute(f"SELECT {_COLUMNS} FROM schedule_runs {where} ORDER BY id DESC LIMIT ?", [*params, int(limit)])
    )
