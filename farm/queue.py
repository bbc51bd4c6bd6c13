"""The job queue's import path before farm/ became packages: farm.jobs and farm.batch."""

from farm.batch import render_queue  # noqa: F401
from farm.jobs import build_mashup, check_job_inputs, claim, enqueue_mashup, recover, render_lock, worker_name  # noqa: F401
