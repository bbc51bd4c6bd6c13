"""The in-process executor: `farm queue render` renders pending jobs here, one after another."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from farm.batch._dispatch import Dispatcher, RunSummary
from farm.jobs import JobOutcome, RenderResult, driver_catalog_wait, recover, render_lock, worker_name
from farm.workspace import Workspace

RenderFn = Callable[..., RenderResult]


class LocalExecutor:
    """One worker, this process: ``wait`` renders the submitted job and returns its outcome.

    ``render(kind, spec, progress=...)`` defaults to :func:`farm.render.render_job`;
    ``progress(done, total)`` sees the frames of the job being rendered.
    """

    workers = 1
    depth = 1

    def __init__(self, *, render: RenderFn | None = None, progress=None) -> None:
        if render is None:
            from farm.render import render_job

            render = render_job
        self._render = render
        self._progress = progress
        self._queued: dict[int, dict] = {}
        self._name = worker_name()

    def label(self, worker: int) -> str:
        return self._name

    def pid(self, worker: int) -> int | None:
        return None

    def submit(self, worker: int, job: dict, *, last: bool) -> Any:
        self._queued[job["id"]] = job
        return job["id"]

    def wait(self, handles: list, timeout_s: float) -> list[tuple[Any, JobOutcome]]:
        handle = handles[0]
        job = self._queued.pop(handle)
        try:
            result = self._render(job.get("kind") or "mashup", job["spec"], progress=self._progress)
        except Exception as err:  # a bad job (or a bug in one) must not stop the run
            return [(handle, JobOutcome.failure(job["id"], err, worker=self._name))]
        return [(handle, JobOutcome.success(job["id"], result, worker=self._name))]

    def kill(self, worker: int) -> None:  # a render here cannot be cut off; nothing to do
        pass

    def observe(self, counts: dict[str, int], fps: float) -> None:
        pass


def render_queue(
    ws: Workspace,
    *,
    limit: int | None = None,
    on_job: Callable[[str, dict, dict | None], None] | None = None,
    progress=None,
    render: RenderFn | None = None,
) -> RunSummary:
    """Render pending jobs in this process, one after another, recording every outcome.

    ``on_job(event, job, info)`` is called with "start", "done" (``info``: the result's
    summary) or "failed" (``info``: its error and the job's new state).
    """
    summary = RunSummary(command="queue")
    t0 = time.perf_counter()
    jobs: dict[int, dict] = {}

    def emit(name: str, data: dict) -> None:
        if on_job is None:
            return
        if name == "submit":
            jobs[data["job_id"]] = data["job"]
            on_job("start", data["job"], None)
        elif name == "done":
            on_job("done", jobs.pop(data["job_id"]), data["result"])
        elif name in ("failed", "retry", "lost"):
            on_job("failed", jobs.pop(data["job_id"]), {"error": data["error"], "state": data["state"]})

    driver_catalog_wait(ws)
    with render_lock(ws):
        summary.recovered = recover(ws)
        Dispatcher(ws, LocalExecutor(render=render, progress=progress), summary=summary, emit=emit, limit=limit).run()
    summary.wall_s = time.perf_counter() - t0
    return summary

