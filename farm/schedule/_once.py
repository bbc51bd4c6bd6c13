"""One scheduled task run now, as cron and systemd start it: recorded in the catalog, never two at once."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import datetime, timezone

import catalogs
from farm.cron import latest_fire_time
from farm.errors import BusyError, InputError
from farm.locks import WorkspaceLock
from farm.schedule._tasks import TASK_NAMES, scheduled_tasks
from farm.workspace import Workspace


def task_lock(ws: Workspace, name: str) -> WorkspaceLock:
    """Held while task ``name`` runs from cron or systemd, so a slow run is never joined by the next."""
    return WorkspaceLock(ws.state_dir / f"task-{name}.lock", what=f"scheduled {name} run")


def run_task_once(ws: Workspace, name: str, *, now=catalogs.utcnow, echo=sys.stderr) -> int:
    """Run task ``name`` now and record it in ``schedule_runs`` (ok | failed | skipped | killed, the exit
    code, the last stderr line). A run of the same task still going: this one is recorded ``skipped``
    and returns 0. Returns the task's exit code (SIGTERM ends the task and records ``killed``)."""
    tasks = {t.name: t for t in scheduled_tasks(ws)}
    if name not in tasks:
        raise InputError(f"Invalid task ({name!r}). Supported: {', '.join(TASK_NAMES)}.")
    task = tasks[name]
    started = now()
    fire = latest_fire_time(task.cron_expr.trigger(timezone=None), after=datetime(1970, 1, 1, tzinfo=timezone.utc),
                            until=datetime.now().astimezone())
    scheduled_for = fire.astimezone(timezone.utc).replace(tzinfo=None) if fire else started
    lock = task_lock(ws, name)
    try:
        lock.acquire(wait_s=0)
    except BusyError:
        with ws.catalog.write() as con:
            catalogs.insert_schedule_run(con, name, scheduled_for=scheduled_for, started_at=started,
                                         outcome="skipped", finished_at=started,
                                         detail="the previous run was still running")
        print(f"farm: {name}: skipped, the previous run is still running", file=echo)
        return 0
    try:
        with ws.catalog.write() as con:
            run_id = catalogs.insert_schedule_run(con, name, scheduled_for=scheduled_for, started_at=started)
        proc = subprocess.Popen(list(task.argv), stderr=subprocess.PIPE, text=True, errors="replace")
        stopped = {"by": None}

        def stop(signum, _frame) -> None:
            stopped["by"] = signum
            proc.terminate()

        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        last = ""
        try:
            for line in proc.stderr:  # passed on (cron's log) and the last one kept for the catalog
                echo.write(line)
                if line.strip():
                    last = line.strip()
            rc = proc.wait()
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
        outcome = "killed" if stopped["by"] else "ok" if rc == 0 else "failed"
        with ws.catalog.write() as con:
            catalogs.finish_schedule_run(con, run_id, finished_at=now(), outcome=outcome, exit_code=rc,
                                         detail=last[:500] or None)
        return rc
    finally:
        lock.release()
