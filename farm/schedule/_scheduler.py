"""``farm scheduler``: every task on its cron schedule in one long-lived process, each run a subprocess.

Fire times come from APScheduler triggers; the loop around them is ours so that the clock,
the sleep and the processes can be injected and a test can run two simulated days in
milliseconds. The rules:

* a task never runs twice at once: a fire time that finds the task still running is
  recorded as ``skipped``;
* fire times that passed while no scheduler ran (or while the machine slept) are caught up
  by one run, recorded with ``scheduled_for`` = the latest of them; the reference is the
  task's last row in ``schedule_runs``, and a task with no row yet starts fresh;
* :meth:`Scheduler.stop` (SIGTERM, SIGINT) starts no new run, waits ``grace_s`` for the
  running ones, then terminates them (``killed``) and returns 0; a second stop skips the wait.
"""

from __future__ import annotations

import collections
import fcntl
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from catalogs import (
    close_unfinished_schedule_runs,
    finish_schedule_run,
    insert_schedule_run,
    last_schedule_runs,
)
from farm.cron import latest_fire_time, next_fire_time
from farm.errors import FarmError
from farm.schedule._install import task_log
from farm.schedule._tasks import ScheduledTask

if TYPE_CHECKING:
    from catalogs import Catalog
    from farm.workspace import Workspace

_DETAIL_MAX_CHARS = 500


class Process(Protocol):
    """A started run, as the scheduler sees it (a :class:`subprocess.Popen` wrapper, or a fake)."""

    def poll(self) -> int | None:
        """The exit code once the run has ended, else None (never blocks)."""

    def terminate(self) -> None: ...

    def kill(self) -> None: ...

    def stderr_tail(self) -> str | None:
        """The last non-empty line the run wrote on stderr, if any."""


Launcher = Callable[[ScheduledTask], Process]


class _Child:
    """A task's subprocess in its own process group (so stopping it stops what it started)."""

    def __init__(self, task: ScheduledTask, *, log_dir: Path) -> None:
        log_dir.mkdir(exist_ok=True)  # not its parents: a workspace that is gone is not made again
        out_path = log_dir / task_log(Path("."), task.name).name  # the log a crontab line appends to
        self._err_path = out_path.with_suffix(".err")
        self._out = open(out_path, "ab")
        self._err = open(self._err_path, "wb")
        try:
            self._popen = subprocess.Popen(list(task.argv), stdin=subprocess.DEVNULL, stdout=self._out,
                                           stderr=self._err, start_new_session=True)
        except BaseException:
            self._close()
            raise

    def _close(self) -> None:
        self._out.close()
        self._err.close()

    def poll(self) -> int | None:
        rc = self._popen.poll()
        if rc is not None and not self._out.closed:
            self._close()
        return rc

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self._popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def stderr_tail(self) -> str | None:
        try:
            with open(self._err_path, "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - 8192))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return None
        lines = [ln.strip() for ln in text.replace("\r", "\n").splitlines() if ln.strip()]
        return lines[-1] if lines else None


class SubprocessLauncher:
    """Starts a task's command; its stdout is appended to ``<.farm>/schedule-<task>.log`` and
    its stderr kept in ``schedule-<task>.err`` (the last run's)."""

    def __init__(self, *, log_dir: Path) -> None:
        self.log_dir = Path(log_dir)

    def __call__(self, task: ScheduledTask) -> Process:
        return _Child(task, log_dir=self.log_dir)


@dataclass(frozen=True)
class RunRecord:
    """One run as recorded in ``schedule_runs`` (times aware, in the scheduler's time zone)."""

    task: str
    outcome: str
    scheduled_for: datetime | None
    started_at: datetime
    finished_at: datetime | None = None
    exit_code: int | None = None
    detail: str | None = None
    caught_up: bool = False
    run_id: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        """The run as one line for a log."""
        head = f"{self.started_at:%Y-%m-%d %H:%M:%S} {self.task} {self.outcome}"
        facts = []
        if self.exit_code is not None:
            facts.append(f"exit {self.exit_code}")
        if self.finished_at is not None and self.outcome != "skipped":
            facts.append(f"{(self.finished_at - self.started_at).total_seconds():.1f} s")
        if self.scheduled_for is not None:
            facts.append(f"scheduled {self.scheduled_for:%Y-%m-%d %H:%M}" + (", caught up" if self.caught_up else ""))
        return head + (f" ({'; '.join(facts)})" if facts else "") + (f": {self.detail}" if self.detail else "")


@dataclass
class _Running:
    task: ScheduledTask
    process: Process
    scheduled_for: datetime
    started_at: datetime
    caught_up: bool
    run_id: int | None


class _Waker:
    """A sleep that :meth:`wake` cuts short, safe to call from a signal handler (a self-pipe:
    an ``Event.set`` there can deadlock on the lock the interrupted ``wait`` holds)."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        for fd in (self._r, self._w):
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)

    def wait(self, seconds: float) -> None:
        ready, _, _ = select.select([self._r], [], [], max(0.0, seconds))
        if ready:
            try:
                while os.read(self._r, 512):
                    pass
            except BlockingIOError:
                pass

    def wake(self) -> None:
        if self._w < 0:  # closed: its number may belong to another file by now
            return
        try:
            os.write(self._w, b"x")
        except OSError:  # full (a wake is pending anyway) or closed
            pass

    def close(self) -> None:
        fds, (self._r, self._w) = (self._r, self._w), (-1, -1)
        for fd in fds:
            if fd >= 0:
                os.close(fd)

    def __del__(self) -> None:
        self.close()


def _to_catalog(t: datetime | None) -> datetime | None:
    return None if t is None else t.astimezone(timezone.utc).replace(tzinfo=None)


class Scheduler:
    """Runs ``tasks`` on their cron schedules; one dispatcher, one record-outcome path.

    Args:
        tasks: the tasks (see :func:`farm.schedule.scheduled_tasks`).
        launcher: starts a task's run and returns its :class:`Process`.
        catalog: where runs are recorded (``schedule_runs``) and the last runs are read for
            the catch-up; None keeps them in :attr:`records` only.
        now: the clock, returning aware datetimes (default: the wall clock in ``timezone``).
        sleep: ``sleep(seconds)``; the default returns early when :meth:`stop` is called.
        timezone: the time zone of the cron expressions (default: this machine's).
        grace_s: how long a stop waits for running tasks before terminating them.
        kill_after_s: how long a terminated task gets before SIGKILL.
        poll_s: how often running tasks are looked at.
        on_run: called with each finished (or skipped) :class:`RunRecord`.
        on_note: called with a line of news that is not a run (start, catalog trouble).

    Example::

        sched = Scheduler(scheduled_tasks(ws), launcher=SubprocessLauncher(log_dir=ws.state_dir),
                          catalog=ws.catalog)
        signal.signal(signal.SIGTERM, lambda *_: sched.stop())
        sched.run()   # returns 0 after a stop
    """

    def __init__(
        self,
        tasks: Sequence[ScheduledTask],
        *,
        launcher: Launcher,
        catalog: Catalog | None = None,
        now: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
        timezone: tzinfo | None = None,
        grace_s: float = 20.0,
        kill_after_s: float = 5.0,
        poll_s: float = 1.0,
        max_sleep_s: float = 60.0,
        on_run: Callable[[RunRecord], None] | None = None,
        on_note: Callable[[str], None] | None = None,
    ) -> None:
        names = [t.name for t in tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"tasks named twice: {names}")
        if timezone is None:
            from tzlocal import get_localzone

            timezone = get_localzone()
        self.tasks = tuple(tasks)
        self.timezone = timezone
        self.launcher = launcher
        self.catalog = catalog
        self._waker = _Waker()
        self._now = now or (lambda: datetime.now(self.timezone))
        self._sleep = sleep or self._waker.wait
        self.grace_s, self.kill_after_s = float(grace_s), float(kill_after_s)
        self.poll_s, self.max_sleep_s = float(poll_s), float(max_sleep_s)
        self._on_run = on_run or (lambda record: None)
        self._on_note = on_note or (lambda text: None)
        self._triggers = {t.name: t.cron_expr.trigger(timezone=timezone) for t in self.tasks}
        self._next: dict[str, datetime | None] = {}
        self._catch_up: set[str] = set()
        self._running: dict[str, _Running] = {}
        self._stopping = False
        self._hurry = False
        self.records: collections.deque[RunRecord] = collections.deque(maxlen=10_000)

    # -- control ---------------------------------------------------------------------------
    def stop(self) -> None:
        """Start no new run and shut down (safe in a signal handler); a second call stops
        the running tasks without waiting ``grace_s``."""
        if self._stopping:
            self._hurry = True
        self._stopping = True
        self._waker.wake()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def next_fire_times(self) -> dict[str, datetime | None]:
        """When each task is due next (after :meth:`start`)."""
        return dict(self._next)

    def running(self) -> tuple[str, ...]:
        return tuple(self._running)

    def run(self) -> int:
        """Start, run until :meth:`stop`, shut down; returns the exit code (0)."""
        try:
            self.start()
            while not self._stopping:
                self.tick()
                if self._stopping:
                    break
                self._sleep(self._sleep_seconds(self._now()))
            self.shutdown()
            return 0
        finally:
            self._waker.close()

    # -- the loop --------------------------------------------------------------------------
    def start(self) -> None:
        """Read each task's last run and set its next fire time (a past one: a catch-up)."""
        now = self._now()
        last: dict[str, dict] = {}
        if self.catalog is not None:
            closed = self._record(lambda con: close_unfinished_schedule_runs(
                con, finished_at=_to_catalog(now), detail="the scheduler stopped before this run finished"))
            if closed:
                self._on_note(f"marked {closed} run(s) left unfinished by an earlier scheduler as killed")
            last = self._record(last_schedule_runs) or {}
        for task in self.tasks:
            trigger = self._triggers[task.name]
            row = last.get(task.name)
            ref = (row.get("scheduled_for") or row.get("started_at")) if row else None
            if ref is None:
                self._next[task.name] = trigger.get_next_fire_time(None, now)
                continue
            ref = ref.replace(tzinfo=timezone.utc).astimezone(self.timezone)
            due = next_fire_time(trigger, after=ref)
            self._next[task.name] = due
            if due is not None and due <= now:
                self._catch_up.add(task.name)
        shown = ", ".join(f"{n} {t:%Y-%m-%d %H:%M}" + (" (missed: now)" if n in self._catch_up else "")
                          for n, t in self._next.items() if t is not None)
        self._on_note(f"scheduler: {len(self.tasks)} task(s), time zone {self.timezone}; next: {shown}")

    def tick(self) -> None:
        """Reap finished runs, then start (or skip) every task that is due."""
        now = self._now()
        self._reap(now)
        for task in self.tasks:
            due = self._next.get(task.name)
            if self._stopping or due is None or due > now:
                continue
            trigger = self._triggers[task.name]
            fire = latest_fire_time(trigger, after=due - timedelta(microseconds=1), until=now) or due
            self._next[task.name] = next_fire_time(trigger, after=now)
            caught_up = task.name in self._catch_up
            self._catch_up.discard(task.name)
            if task.name in self._running:
                self._skip(task, fire, now)
            else:
                self._launch(task, fire, now, caught_up=caught_up)

    def shutdown(self) -> None:
        """Wait up to ``grace_s`` for the running tasks, then terminate (and kill) the rest."""
        self._stopping = True
        deadline = self._now() + timedelta(seconds=self.grace_s)
        if self._running:
            self._on_note(f"scheduler: stopping; waiting up to {self.grace_s:g} s for {', '.join(self._running)}")
        while self._running and not self._hurry:
            now = self._now()
            self._reap(now)
            if not self._running or now >= deadline:
                break
            self._sleep(min(self.poll_s, (deadline - now).total_seconds()))
        if not self._running:
            return
        for run in self._running.values():
            run.process.terminate()
        deadline = self._now() + timedelta(seconds=self.kill_after_s)
        killed = False
        while self._running:
            now = self._now()
            self._reap(now, stopped=True)
            if not self._running:
                break
            if now >= deadline:
                if killed:  # SIGKILL did not end it either: record it and give up waiting
                    for name in list(self._running):
                        self._finish(self._running.pop(name), now, "killed", None, stopped=True)
                    break
                for run in self._running.values():
                    run.process.kill()
                killed = True
                deadline = now + timedelta(seconds=self.kill_after_s)
            self._sleep(min(self.poll_s, max(0.0, (deadline - now).total_seconds())))

    # -- one record-outcome path -------------------------------------------------------------
    def _record(self, fn):
        if self.catalog is None:
            return None
        try:
            with self.catalog.write() as con:
                return fn(con)
        except FarmError as err:  # a busy or broken catalog must not stop the schedule
            self._on_note(f"scheduler: could not record in the catalog: {err}")
            return None

    def _launch(self, task: ScheduledTask, fire: datetime, now: datetime, *, caught_up: bool) -> None:
        run_id = self._record(lambda con: insert_schedule_run(
            con, task.name, scheduled_for=_to_catalog(fire), started_at=_to_catalog(now)))
        try:
            process = self.launcher(task)
        except OSError as err:
            run = _Running(task, None, fire, now, caught_up, run_id)  # type: ignore[arg-type]
            self._finish(run, now, "failed", None, detail=f"could not start {task.argv[0]}: {err}")
            return
        self._running[task.name] = _Running(task, process, fire, now, caught_up, run_id)

    def _reap(self, now: datetime, *, stopped: bool = False) -> None:
        for name in list(self._running):
            run = self._running[name]
            rc = run.process.poll()
            if rc is None:
                continue
            del self._running[name]
            outcome = "killed" if stopped else "ok" if rc == 0 else "failed"
            self._finish(run, now, outcome, rc, stopped=stopped)

    def _finish(self, run: _Running, now: datetime, outcome: str, rc: int | None, *, detail: str | None = None,
                stopped: bool = False) -> None:
        if detail is None and run.process is not None:
            detail = run.process.stderr_tail()
        if stopped:
            detail = "stopped when the scheduler shut down" + (f"; last stderr: {detail}" if detail else "")
        if detail and len(detail) > _DETAIL_MAX_CHARS:
            detail = detail[: _DETAIL_MAX_CHARS - 3] + "..."
        record = RunRecord(run.task.name, outcome, run.scheduled_for, run.started_at, now, rc, detail,
                           run.caught_up, run.run_id)
        if run.run_id is not None:
            self._record(lambda con: finish_schedule_run(con, run.run_id, finished_at=_to_catalog(now),
                                                         outcome=outcome, exit_code=rc, detail=detail))
        self._emit(record)

    def _skip(self, task: ScheduledTask, fire: datetime, now: datetime) -> None:
        busy = self._running[task.name]
        detail = f"the run started {busy.started_at:%Y-%m-%d %H:%M:%S} was still running"
        run_id = self._record(lambda con: insert_schedule_run(
            con, task.name, scheduled_for=_to_catalog(fire), started_at=_to_catalog(now), outcome="skipped",
            finished_at=_to_catalog(now), detail=detail))
        self._emit(RunRecord(task.name, "skipped", fire, now, now, None, detail, False, run_id))

    def _emit(self, record: RunRecord) -> None:
        self.records.append(record)
        self._on_run(record)

    def _sleep_seconds(self, now: datetime) -> float:
        seconds = self.max_sleep_s  # wake now and then: a wall clock that jumps (suspend, NTP) is noticed
        upcoming = [t for t in self._next.values() if t is not None]
        if upcoming:
            seconds = min(seconds, (min(upcoming) - now).total_seconds())
        if self._running:
            seconds = min(seconds, self.poll_s)
        return max(seconds, 0.01)


def run_scheduler(
    ws: Workspace,
    *,
    grace_s: float = 20.0,
    on_run: Callable[[RunRecord], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    install_signals: bool = True,
) -> int:
    """``farm scheduler``: hold ``.farm/scheduler.lock``, run the workspace's tasks until
    SIGTERM or SIGINT, return 0. A second scheduler on the workspace gets :class:`BusyError`."""
    from farm.locks import WorkspaceLock
    from farm.schedule._tasks import scheduled_tasks

    tasks = scheduled_tasks(ws)
    note = on_note or (lambda text: print(text, file=sys.stderr, flush=True))
    with WorkspaceLock(ws.state_dir / "scheduler.lock", what="farm scheduler").acquire(wait_s=0):
        sched = Scheduler(tasks, launcher=SubprocessLauncher(log_dir=ws.state_dir), catalog=ws.catalog,
                          grace_s=grace_s, on_run=on_run, on_note=note)
        previous = {}
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, lambda *_: sched.stop())
        try:
            return sched.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
