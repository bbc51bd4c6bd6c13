"""The job queue's import path before farm/ became packages: farm.jobs and farm.batch.

Kept for scripts written against the first layout; new code imports farm.jobs and farm.batch.
"""

from __future__ import annotations

from farm.batch import RunSummary as QueueRunSummary  # noqa: F401
from farm.batch import render_queue  # noqa: F401
from farm.jobs import (  # noqa: F401
    JobOutcome,
    RenderResult,
    build_mashup,
    check_job_inputs,
    claim,
    driver_catalog_wait,
    enqueue_mashup,
    record_outcome,
    recover,
    render_lock,
    worker_name,
)
from farm.jobs import TIMING_STAGES as STAGES  # noqa: F401


def is_permanent(error_class: str) -> bool:
    """Whether a job failed with the error class of that name is not worth retrying."""
    import catalogs
    from farm import errors

    cls = getattr(errors, error_class, None) or getattr(catalogs, error_class, None)
    return bool(getattr(cls, "permanent", False))


def record_success(ws, job_id: int, result, *, worker: str | None = None) -> None:
    res = result if isinstance(result, RenderResult) else RenderResult.from_dict(
        {k: v for k, v in result.items() if k != "render_fps"})
    state, recorded = record_outcome(ws, JobOutcome.success(job_id, res, worker=worker))
    if state != "ready":
        from farm.errors import RenderError

        raise RenderError(recorded.message or f"job {job_id}: not recorded")


def record_failure(ws, job_id: int, *, error_class: str, message: str, permanent: bool, worker: str | None = None) -> str:
    outcome = JobOutcome(job_id, False, error_class=error_class, message=message, permanent=permanent, worker=worker,
                         lost=error_class == "WorkerLost")
    return record_outcome(ws, outcome)[0]
