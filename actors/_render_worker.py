"""RenderWorker: a long-lived Ray actor that renders job specs with warm codecs and caches."""

from __future__ import annotations

import os
import socket
import time

from farm.jobs import TIMING_STAGES, JobOutcome


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class RenderWorker:
    """Renders one job at a time; decoders' libraries, torch, fonts and caches stay loaded.

    Args:
        threads: codec threads for this worker (its share of the node's cores).
        cache_bytes: bound of the cache of fitted template frames and decoded music.
        backend: "cpu" or "gpu" (a metric tag; a GPU worker's encoder choice is "auto",
            which takes NVENC where the GPU has it).

    The worker never touches the catalog: :meth:`render` returns a
    :class:`farm.jobs.JobOutcome` that the driver records. Example (driver side)::

        Worker = ray.remote(RenderWorker).options(num_cpus=1, max_restarts=-1)
        w = Worker.remote(threads=1)
        outcome = ray.get(w.render.remote(job_id, spec_dict))
    """

    def __init__(self, *, threads: int = 1, cache_bytes: int = 1 << 30, backend: str = "cpu") -> None:
        from farm.render import RenderCache

        self.threads = max(1, int(threads))
        self.backend = backend
        self.cache = RenderCache(max_bytes=cache_bytes)
        self.jobs_done = 0
        self.started = time.time()
        self.node = socket.gethostname()
        self.name = f"{self.node}:{os.getpid()}"
        self._warm()

    def _warm(self) -> None:
        """Pay the one-time costs now, not in the first job: torch, kernels, fonts, encoder probe."""
        import torch

        import kernels  # noqa: F401
        from farm.media import choose_encoder
        from farm.render import text_overlay

        from farm.media import machine_report

        torch.set_num_threads(1)
        text_overlay("warm", max_width_px=200, size_px=24, max_lines=1)
        choose_encoder("auto", preset="veryfast", crf=23)
        # once per worker: what this node offers (CUDA, NVDEC per codec, NVENC, encoders)
        self.devices = machine_report()

    def info(self) -> dict:
        """Who and where this worker is (pid for tests and ``kill``), and its cache."""
        return {"pid": os.getpid(), "node": self.node, "name": self.name, "backend": self.backend,
                "threads": self.threads, "node_cpus": os.cpu_count() or 1, "jobs_done": self.jobs_done, "rss_bytes": _rss_bytes(),
                "cache": self.cache.as_dict(), "uses": self.devices.get("chosen", {})}

    def render(self, job_id: int, spec: dict, threads: int | None = None, kind: str = "mashup") -> JobOutcome:
        """Render one job; a failure is an outcome too (never an exception: one bad job must
        not take the worker down).

        ``threads`` overrides the worker's share for this job (the driver gives the last
        jobs of a batch more, when the other workers have run out of work).
        """
        from farm.render import render_job

        from actors._metrics import worker_metrics

        m = worker_metrics()
        tags = {"node": self.node, "backend": self.backend, "worker": self.name}
        where = {"worker": self.name, "pid": os.getpid()}
        try:
            result = render_job(kind, spec, cache=self.cache, threads=threads or self.threads)
        except Exception as err:
            m["outcome"].inc(1, tags={**tags, "outcome": "failed"})
            return JobOutcome.failure(job_id, err, **where)
        self.jobs_done += 1
        timings = result.timings_s
        m["frames"].inc(result.frames, tags=tags)
        if timings.get("total"):
            m["fps"].set(result.frames / timings["total"], tags=tags)
        for key, stage in (*TIMING_STAGES.items(), ("total", "total")):
            if key in timings:
                m["stage"].observe(float(timings[key]), tags={**tags, "stage": stage})
        m["outcome"].inc(1, tags={**tags, "outcome": "ok"})
        rss = _rss_bytes()
        m["rss"].set(rss, tags=tags)
        return JobOutcome.success(job_id, result, rss_bytes=rss, **where)
