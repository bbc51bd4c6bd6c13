"""`farm nightly`'s import path before farm/ became packages: farm.batch and farm.jobs."""

from farm.batch import RunSummary as BatchSummary  # noqa: F401
from farm.batch import run_nightly, unfinished_batch  # noqa: F401
from farm.jobs import enqueue_plans, plan_batch  # noqa: F401
