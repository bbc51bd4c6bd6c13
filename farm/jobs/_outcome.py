"""What one attempt at a job came to: the typed record that crosses the Ray boundary."""

from __future__ import annotations

from dataclasses import dataclass

from farm.errors import is_permanent
from farm.jobs._spec import RenderResult


@dataclass(frozen=True)
class JobOutcome:
    """The end of one attempt at ``job_id``: a result, a failure, or a requeue.

    ``ok`` with ``result`` is a finished render. A failure carries the error's class name,
    its message and ``permanent`` (from the error class's flag: retrying will not help);
    ``lost`` says the worker died under the job (its partial output is swept). ``requeue``
    marks an attempt that never started (it waited behind a job on a worker that was
    lost): the job goes back to pending without costing an attempt. ``worker`` says where
    it ran; ``pid`` and ``rss_bytes`` are the worker process's.
    """

    job_id: int
    ok: bool
    result: RenderResult | None = None
    error_class: str | None = None
    message: str | None = None
    permanent: bool = False
    lost: bool = False
    requeue: bool = False
    worker: str | None = None
    pid: int | None = None
    rss_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.ok and self.result is None:
            raise ValueError("a successful outcome needs its result")
        if not self.ok and not self.error_class:
            raise ValueError("a failed outcome needs its error class")

    @classmethod
    def success(cls, job_id: int, result: RenderResult, **where) -> JobOutcome:
        return cls(job_id, True, result=result, **where)

    @classmethod
    def failure(cls, job_id: int, err: BaseException, **where) -> JobOutcome:
        """The outcome of an attempt that raised ``err``; a non-farm exception (a bug) is an
        ``InternalError`` worth another attempt."""
        from farm.errors import FarmError

        if isinstance(err, FarmError):
            return cls(job_id, False, error_class=type(err).__name__, message=str(err), permanent=is_permanent(err), **where)
        return cls(job_id, False, error_class="InternalError", message=f"{type(err).__name__}: {err}", **where)

    @classmethod
    def worker_lost(cls, job_id: int, message: str, **where) -> JobOutcome:
        """The worker died under the job (killed, crashed, out of memory, its node gone)."""
        return cls(job_id, False, error_class="WorkerLost", message=message, lost=True, **where)

    @classmethod
    def never_started(cls, job_id: int, message: str, **where) -> JobOutcome:
        return cls(job_id, False, error_class="WorkerLost", message=message, lost=True, requeue=True, **where)

    def __repr__(self) -> str:
        what = f"ok {self.result.frames} frames" if self.ok and self.result else f"{self.error_class}"
        return f"JobOutcome(job {self.job_id}, {what}{', requeue' if self.requeue else ''})"
