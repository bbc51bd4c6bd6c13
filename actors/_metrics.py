"""The render workers' custom Ray metrics (``ray.util.metrics``), tagged by node and backend.

Ray exports them with its own (prefixed ``ray_``) through each node's metrics agent, so
the dashboard's Metrics view and any Prometheus scraping the cluster can chart them.
"""

from __future__ import annotations

import functools

STAGE_BOUNDARIES_S = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80, 160]


@functools.lru_cache(maxsize=1)
def worker_metrics() -> dict:
    from ray.util.metrics import Counter, Gauge, Histogram

    tags = ("node", "backend", "worker")
    return {
        "frames": Counter("farm_frames_rendered", description="Video frames rendered", tag_keys=tags),
        "fps": Gauge("farm_worker_fps", description="Frames per second of the worker's last job", tag_keys=tags),
        "stage": Histogram(
            "farm_job_stage_seconds", description="Duration of a job's render stages (probe, decode, compose, encode, mux, total)",
            boundaries=STAGE_BOUNDARIES_S, tag_keys=(*tags, "stage"),
        ),
        "outcome": Counter("farm_worker_jobs", description="Jobs finished by a worker, by outcome", tag_keys=(*tags, "outcome")),
        "rss": Gauge("farm_worker_rss_bytes", description="Resident memory of the render worker", tag_keys=tags),
    }
