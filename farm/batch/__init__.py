"""Batches: one dispatcher over executors (in-process for `queue render`, Ray for `nightly`)."""

from farm.batch._dispatch import Dispatcher, EventFn, Executor, Failure, RunSummary
from farm.batch._local import LocalExecutor, render_queue
from farm.batch._ray import RayExecutor, run_nightly, unfinished_batch

__all__ = [
    "Dispatcher", "EventFn", "Executor", "Failure", "RunSummary",
    "LocalExecutor", "render_queue",
    "RayExecutor", "run_nightly", "unfinished_batch",
]
