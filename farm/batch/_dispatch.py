"""One dispatcher over pluggable executors: who renders what, and every outcome recorded once.

The dispatcher claims pending jobs, hands each to a worker slot of its executor, waits
for outcomes, and records every one through ``farm.jobs.record_outcome``. Executors only
run jobs: :class:`~farm.batch.LocalExecutor` in this process (``farm queue render``),
:class:`~farm.batch.RayExecutor` on long-lived Ray actors (``farm nightly``). Like Ray's
``ActorPool``, the state of which job is where lives here and nowhere else.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import catalogs
from farm.jobs import JobOutcome, claim, record_outcome, release
from farm.workspace import Workspace

EventFn = Callable[[str, dict], None]


class Executor(Protocol):
    """Where jobs run: ``workers`` workers, each taking up to ``depth`` jobs at a time (the
    second waits behind the first, so a worker never idles while the driver records)."""

    workers: int
    depth: int

    def label(self, worker: int) -> str:
        """How the process log and the events name ``worker``."""

    def pid(self, worker: int) -> int | None: ...

    def submit(self, worker: int, job: dict, *, last: bool) -> Any:
        """Start ``job`` (a catalog row) on ``worker``; returns a handle. ``last``: the batch
        has nothing else left, so this job may use more of its node than its share."""

    def wait(self, handles: list, timeout_s: float) -> list[tuple[Any, JobOutcome]]:
        """Outcomes of the handles that finished (at least one unless ``timeout_s`` ran out)."""

    def kill(self, worker: int) -> None:
        """Stop a hung render: the worker restarts and its jobs come back as lost."""

    def observe(self, counts: dict[str, int], fps: float) -> None:
        """The batch's progress, for the executor's metrics (jobs by state, frames/s)."""


class Failure(NamedTuple):
    """A job that failed or went back to pending: ``(id, error)``."""

    id: int
    error: str


@dataclass
class RunSummary:
    """What a run of the dispatcher did; ``as_dict`` is the command's ``--json`` document
    (``farm nightly``'s, or ``farm queue render``'s when ``command`` is "queue")."""

    command: str = "nightly"
    batch_id: str | None = None
    resumed: bool = False
    planned: int = 0
    notes: list[str] = field(default_factory=list)
    recovered: dict = field(default_factory=dict)
    rendered: list[int] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    retried: list[Failure] = field(default_factory=list)
    # the class of each failure a worker reported (nightly's --json names it)
    error_classes: dict[int, str] = field(default_factory=dict)
    frames: int = 0
    video_s: float = 0.0
    wall_s: float = 0.0
    render_wall_s: float = 0.0
    workers: list[dict] = field(default_factory=list)
    ray: dict = field(default_factory=dict)
    phases_s: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        if self.command == "queue":
            return {
                "rendered": self.rendered, "failed": [{"id": f.id, "error": f.error} for f in self.failed],
                "retried": [f.id for f in self.retried], "recovered": self.recovered, "frames": self.frames,
                "wall_s": round(self.wall_s, 3),
            }
        hours = self.render_wall_s / 3600

        def entry(f: Failure) -> dict:
            cls = self.error_classes.get(f.id)
            return {"id": f.id, **({"error_class": cls} if cls else {}), "error": f.error}

        return {
            "batch_id": self.batch_id, "resumed": self.resumed, "planned": self.planned, "notes": self.notes,
            "recovered": self.recovered, "rendered": self.rendered, "failed": [entry(f) for f in self.failed],
            "retried": [entry(f) for f in self.retried], "frames": self.frames, "video_s": round(self.video_s, 2),
            "wall_s": round(self.wall_s, 2), "render_wall_s": round(self.render_wall_s, 2),
            "videos_per_hour": round(len(self.rendered) / hours, 1) if hours > 0 else 0.0,
            "fps": round(self.frames / self.render_wall_s, 2) if self.render_wall_s > 0 else 0.0,
            "workers": self.workers, "ray": self.ray, "phases_s": {k: round(v, 3) for k, v in self.phases_s.items()},
        }


class Dispatcher:
    """Feeds an executor's workers from the queue until no job is pending or in flight.

    Args:
        ws: the workspace whose queue is rendered (this process is its only writer).
        executor: where jobs run.
        summary: filled in as outcomes arrive.
        emit: ``emit(name, data)`` for "submit", "done", "failed", "retry", "lost" and
            "timeout" events (progress bars, tests).
        limit: stop claiming after this many jobs.
        job_timeout_s: a job with no outcome this long after it could start is presumed
            hung: its worker is killed (it restarts) and the job counts a lost attempt.

    Example::

        summary = RunSummary(command="queue")
        Dispatcher(ws, LocalExecutor(), summary=summary).run()
    """

    def __init__(
        self,
        ws: Workspace,
        executor: Executor,
        *,
        summary: RunSummary,
        emit: EventFn | None = None,
        limit: int | None = None,
        job_timeout_s: float | None = None,
    ) -> None:
        self.ws = ws
        self.ex = executor
        self.summary = summary
        self.emit = emit or (lambda name, data: None)
        self.limit = limit
        self.job_timeout_s = job_timeout_s or ws.settings.queue.job_timeout_s
        self.busy = [0] * executor.workers
        self.inflight: dict[Any, tuple[dict, int]] = {}
        self.deadlines: dict[Any, float] = {}
        self.tallies: Counter[str] = Counter()
        self.claimed = 0

    def _pending(self) -> int:
        with self.ws.catalog.read() as con:
            return catalogs.queue_stats(con)["by_state"]["pending"]

    def _fill(self, pending: int) -> int:
        """Claim jobs for free slots; free workers first, and a second job queues behind a
        busy worker only while enough is left that no worker would idle at the end."""
        ex = self.ex
        while self.limit is None or self.claimed < self.limit:
            free = sorted((w for w in range(ex.workers) if self.busy[w] < ex.depth), key=lambda w: self.busy[w])
            if not free or not (self.busy[free[0]] == 0 or pending > ex.workers):
                break
            w = free[0]
            job = claim(self.ws, worker=ex.label(w))
            if job is None:
                return 0
            self.claimed += 1
            self.busy[w] += 1
            pending -= 1
            handle = ex.submit(w, job, last=pending <= 0 and self.busy[w] == 1)
            self.inflight[handle] = (job, w)
            # queued behind another job: its clock starts when that one's would end
            self.deadlines[handle] = time.monotonic() + self.busy[w] * self.job_timeout_s
            self.emit("submit", {"job_id": job["id"], "worker": ex.label(w), "worker_index": w,
                                 "pid": ex.pid(w), "attempt": job["attempts"], "job": job})
        return pending

    def run(self) -> RunSummary:
        t0 = time.perf_counter()
        pending = self._pending()
        try:
            while True:
                self._fill(pending)
                pending = self._pending()
                elapsed = time.perf_counter() - t0
                self.ex.observe({"pending": pending, "rendering": len(self.inflight), "ready": self.tallies["ready"],
                                 "failed": self.tallies["failed"]}, self.summary.frames / elapsed if elapsed > 0 else 0.0)
                if not self.inflight:
                    break
                soonest = min(self.deadlines.values(), default=time.monotonic() + 5.0)
                finished = self.ex.wait(list(self.inflight), min(5.0, max(0.05, soonest - time.monotonic())))
                self._kill_hung({h for h, _ in finished})
                for handle, outcome in finished:
                    self._settle(handle, outcome)
        except BaseException:
            # interrupted: what is in flight goes back to pending now (the next start would too)
            release(self.ws, [job["id"] for job, _ in self.inflight.values()], why="driver interrupted")
            raise
        return self.summary

    def _kill_hung(self, finished: set) -> None:
        now = time.monotonic()
        for handle, (job, w) in list(self.inflight.items()):
            if handle not in finished and self.deadlines.get(handle, now + 1) < now:
                self.emit("timeout", {"job_id": job["id"], "worker": self.ex.label(w)})
                self.ex.kill(w)
                # everything on that worker comes back lost now: no second kill for it
                for other, (_, ow) in self.inflight.items():
                    if ow == w:
                        self.deadlines.pop(other, None)

    def _settle(self, handle: Any, outcome: JobOutcome) -> None:
        job, w = self.inflight.pop(handle)
        self.deadlines.pop(handle, None)
        self.busy[w] -= 1
        label = self.ex.label(w)
        to, recorded = record_outcome(self.ws, outcome)
        s = self.summary
        if recorded.requeue:
            return
        if to == "ready":
            res = recorded.result
            s.rendered.append(job["id"])
            s.frames += res.frames
            s.video_s += res.duration_s
            self.tallies["ready"] += 1
            self.emit("done", {"job_id": job["id"], "worker": label, "frames": res.frames,
                               "render_fps": round(res.render_fps, 2), "rss_bytes": recorded.rss_bytes,
                               "total_frames": s.frames, "result": res.summary()})
            return
        entry = Failure(job["id"], recorded.message or "")
        # the worker's own error keeps its class; a lost worker, or a result whose file was
        # not there, is said in the message
        if not recorded.lost and not outcome.ok:
            s.error_classes[job["id"]] = recorded.error_class
        (s.failed if to == "failed" else s.retried).append(entry)
        self.tallies["failed" if to == "failed" else "retried"] += 1
        if recorded.lost:
            self.emit("lost", {"job_id": job["id"], "worker": label, "state": to, "error": entry.error})
        else:
            self.emit("failed" if to == "failed" else "retry", {"job_id": job["id"], "error": entry.error, "state": to})
