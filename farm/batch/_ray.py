"""`farm nightly`: plan a batch of mashups from the library, then render every pending job on Ray.

The driver (this process) is the catalog's only writer: the dispatcher claims a job, the
Ray executor hands its spec to a long-lived RenderWorker actor, and the JobOutcome the
worker returns is recorded. A worker that dies costs one attempt (the job goes back to
pending and another worker takes it); a job with bad input fails once and the batch goes
on; a driver that dies is replaced by the next `farm nightly`, which recovers its
in-flight jobs and finishes the unfinished batch instead of planning a new one.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from typing import Any

import catalogs
from farm.batch._dispatch import Dispatcher, EventFn, RunSummary
from farm.cluster import check_reachable, start_ray
from farm.errors import FarmError, InputError
from farm.jobs import JobOutcome, driver_catalog_wait, enqueue_plans, plan_batch, plan_promos, recover, render_lock
from farm.workspace import Workspace

GPU_WORKERS_PER_GPU = 4
WORKER_QUEUE_DEPTH = 2
WORKER_START_TIMEOUT_S = 600.0
WORKER_INFO_TIMEOUT_S = 120.0


def unfinished_batch(ws: Workspace) -> str | None:
    with ws.catalog.read() as con:
        return catalogs.unfinished_batch(con, prefix="nightly-")


@functools.lru_cache(maxsize=1)
def _driver_metrics() -> dict:
    from ray.util.metrics import Gauge

    return {
        "jobs": Gauge("farm_jobs", description="Jobs of the running batch by state", tag_keys=("state",)),
        "queue": Gauge("farm_queue_depth", description="Jobs waiting to render (pending)", tag_keys=()),
        "throughput": Gauge("farm_batch_fps", description="Frames per second of the whole batch so far", tag_keys=()),
    }


def _lost_worker_errors() -> tuple[type[BaseException], ...]:
    import ray.exceptions as rex

    names = ("RayActorError", "ActorDiedError", "ActorUnavailableError", "WorkerCrashedError", "NodeDiedError",
             "OutOfMemoryError", "ObjectLostError")
    return tuple(getattr(rex, n) for n in names if hasattr(rex, n))


class RayExecutor:
    """RenderWorker actors on a Ray cluster, ``WORKER_QUEUE_DEPTH`` jobs each.

    ``worker_class`` is the actor class (``actors.RenderWorker``, or a stand-in with its
    ``info()`` and ``render()``): farm.batch does not import actors, the caller hands it over.

    ``create`` makes one actor per CPU slot (four per GPU with ``num_gpus=0.25``);
    ``wait_ready`` waits for them to warm up and drops those that cannot be placed or fail
    to start. A worker
    that dies restarts itself (``max_restarts=-1``): the job it was rendering comes back as
    lost (an attempt spent), the one queued behind it as never started (no attempt spent).
    """

    depth = WORKER_QUEUE_DEPTH

    def __init__(self, *, worker_class: type, resources: dict, local: bool, workers: int | None, cache_bytes: int,
                 threads: int | None = None) -> None:
        self._worker_class = worker_class
        self._resources = resources
        self._local = local
        self._wanted = workers
        self._cache_bytes = cache_bytes
        self._threads = threads
        self.pool: list = []
        self._warm: list = []
        self.infos: list[dict] = []
        self.notes: list[str] = []
        self._generation: list[int] = []
        self._handles: dict[Any, tuple[int, int, int]] = {}  # ref -> (job id, worker, generation)
        self._lost = _lost_worker_errors()

    @property
    def workers(self) -> int:
        return len(self.pool)

    def create(self) -> None:
        """Create the actors (they start warming up: torch, kernels, fonts, the encoder probe)."""
        import ray

        cpus = int(self._resources.get("CPU", 1))
        gpus = int(self._resources.get("GPU", 0))
        remote = ray.remote(self._worker_class)
        made = []
        n_gpu = gpus * GPU_WORKERS_PER_GPU
        n_cpu = self._wanted if self._wanted is not None else max(0 if n_gpu else 1, cpus - 2 * n_gpu)
        if self._wanted is not None and n_gpu:
            n_gpu, n_cpu = min(n_gpu, self._wanted), max(0, self._wanted - n_gpu)
        share = max(1, cpus // max(1, n_cpu)) if not n_gpu else 1
        threads = self._threads or share
        for _ in range(n_gpu):
            made.append(remote.options(num_cpus=1, num_gpus=1 / GPU_WORKERS_PER_GPU, max_restarts=-1, max_task_retries=0)
                        .remote(threads=1, cache_bytes=self._cache_bytes, backend="gpu"))
        # On a local Ray, more workers than cores share them (fractional CPUs) instead of
        # waiting forever for slots; on a cluster, unplaceable workers ask the autoscaler for nodes.
        slot = min(float(share), cpus / n_cpu) if self._local and n_cpu > cpus else float(share)
        for _ in range(n_cpu):
            made.append(remote.options(num_cpus=slot, max_restarts=-1, max_task_retries=0)
                        .remote(threads=threads, cache_bytes=self._cache_bytes, backend="cpu"))
        if not made:
            raise InputError("--workers must be at least 1")
        self.pool = made
        self._warm = [w.info.remote() for w in made]

    def wait_ready(self) -> list[dict]:
        """Wait for the actors to warm up; drop those that cannot be placed or fail to
        start; returns the others' ``info()``."""
        import ray

        made, warm = self.pool, self._warm
        ready, _ = ray.wait(warm, num_returns=len(warm), timeout=WORKER_START_TIMEOUT_S)
        if not ready:
            raise FarmError(f"no render worker started within {WORKER_START_TIMEOUT_S:.0f} s "
                            f"(cluster resources: {self._resources})")
        keep = [k for k, ref in enumerate(warm) if ref in ready]
        for k, w in enumerate(made):
            if k not in keep:  # never placed: give its slot back
                ray.kill(w)
        alive, infos = [], []
        for k in keep:  # a worker whose warm-up failed is dropped; the others go on
            try:
                infos.append(ray.get(warm[k]))
                alive.append(made[k])
            except Exception as err:
                self.notes.append(f"a render worker failed to start: {type(err).__name__}: {str(err)[:200]}")
                ray.kill(made[k])
        if not alive:
            raise FarmError(f"no render worker started: {self.notes[-1]}")
        self.pool, self.infos = alive, infos
        self._generation = [0] * len(alive)
        return infos

    def label(self, worker: int) -> str:
        return f"ray-worker-{worker}@{self.infos[worker]['node']}"

    def pid(self, worker: int) -> int | None:
        return self.infos[worker]["pid"]

    def submit(self, worker: int, job: dict, *, last: bool) -> Any:
        info = self.infos[worker]
        # the batch's last job: the other workers are about to run dry, so let it use more
        # of its node's cores than a worker's share
        threads = min(4, info.get("node_cpus", 1)) if last and info["threads"] < info.get("node_cpus", 1) else None
        ref = self.pool[worker].render.remote(job["id"], job["spec"], threads, kind=job.get("kind") or "mashup")
        self._handles[ref] = (job["id"], worker, self._generation[worker])
        return ref

    def wait(self, handles: list, timeout_s: float) -> list[tuple[Any, JobOutcome]]:
        import ray

        done, _ = ray.wait(handles, num_returns=1, timeout=timeout_s)
        return [(ref, self._outcome(ref)) for ref in done]

    def _outcome(self, ref) -> JobOutcome:
        import ray

        job_id, w, gen = self._handles.pop(ref)
        label = self.label(w)
        try:
            outcome = ray.get(ref)
            # the process log names the slot and the process: "ray-worker-0@node pid 123"
            return dataclasses.replace(outcome, worker=f"{label} pid {outcome.pid}" if outcome.ok else label)
        except self._lost as err:
            if gen < self._generation[w]:  # it waited behind the job the worker died under
                return JobOutcome.never_started(
                    job_id, f"it waited behind a job on {label} when that worker was lost", worker=label)
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            msg = f"worker {label} (PID {self.infos[w]['pid']}) was lost: {type(err).__name__}: {first[:300]}"
            self._generation[w] += 1
            self._await_restart(w)
            return JobOutcome.worker_lost(job_id, msg, worker=label)
        except Exception as err:  # the call itself failed (not the render): worth another attempt
            return JobOutcome.failure(job_id, err, worker=label)

    def _await_restart(self, w: int) -> None:
        """Wait for a lost worker's actor to come back (max_restarts=-1) and learn its new PID. While it
        restarts, a call fails at once with ActorUnavailableError: asked again until it answers (or the
        deadline), so no job is sent to it before then (that job would be charged a lost attempt)."""
        import ray

        deadline = time.monotonic() + WORKER_INFO_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                self.infos[w] = ray.get(self.pool[w].info.remote(), timeout=max(0.1, deadline - time.monotonic()))
                return
            except self._lost as err:
                if type(err).__name__ != "ActorUnavailableError":
                    return
                time.sleep(0.2)
            except Exception:
                return

    def kill(self, worker: int) -> None:
        import ray

        ray.kill(self.pool[worker], no_restart=False)

    def observe(self, counts: dict[str, int], fps: float) -> None:
        m = _driver_metrics()
        m["queue"].set(counts["pending"])
        for state, value in counts.items():
            m["jobs"].set(value, tags={"state": state})
        m["throughput"].set(fps)

    def final_infos(self) -> list[dict]:
        """Each worker's ``info()`` after the batch (its cache, jobs done, memory)."""
        import ray

        out = []
        for w, old in zip(self.pool, self.infos):
            try:
                out.append(ray.get(w.info.remote(), timeout=30))
            except Exception:  # a worker lost at the very end: report what we knew
                out.append({**old, "lost": True})
        return out

    def shutdown(self) -> None:
        import ray

        for w in self.pool:
            try:
                ray.kill(w)
            except Exception:
                pass


def run_nightly(
    ws: Workspace,
    *,
    worker_class: type,
    count: int | None = None,
    platforms: list[str] | None = None,
    mood: str | None = None,
    caption: str | None = None,
    seed: int | None = None,
    promos: int = 0,
    address: str | None = None,
    workers: int | None = None,
    cache_bytes: int = 1 << 30,
    threads: int | None = None,
    on_event: EventFn | None = None,
) -> RunSummary:
    """Plan ``count`` jobs (or resume an unfinished batch), then render all pending jobs on Ray,
    on actors of ``worker_class`` (``actors.RenderWorker``; farm.batch does not import actors).

    ``on_event(name, data)`` sees "planned", "ray", "workers", "submit", "done", "failed",
    "retry", "lost" and "timeout" events (the CLI draws its progress bar from them).
    """
    import ray

    t0 = time.perf_counter()
    emit = on_event or (lambda name, data: None)
    summary = RunSummary(command="nightly")
    seed = 0 if seed is None else seed
    count = ws.settings.nightly.count if count is None else count
    check_reachable(address)  # before planning anything
    driver_catalog_wait(ws)
    lock = render_lock(ws).acquire()
    started_ray = False
    executor: RayExecutor | None = None
    mark = [time.perf_counter()]

    def phase(name: str) -> None:
        now = time.perf_counter()
        summary.phases_s[name] = summary.phases_s.get(name, 0.0) + now - mark[0]
        mark[0] = now

    try:
        summary.recovered = recover(ws)
        resume = unfinished_batch(ws)
        phase("recover")
        if resume:
            summary.batch_id, summary.resumed = resume, True
            summary.notes.append(f"resuming unfinished batch {resume}; no new jobs planned")
        else:
            summary.batch_id = f"nightly-{catalogs.utcnow():%Y%m%d-%H%M%S}"
            plans: list[dict] = []
            if count or not promos:
                with ws.catalog.read() as con:
                    plans, notes = plan_batch(ws, con, count=count, platforms=platforms, mood=mood, seed=seed)
                summary.notes += notes
            summary.planned = len(enqueue_plans(ws, plans, batch_id=summary.batch_id, caption=caption, seed=seed))
            if promos:
                from farm.jobs import plan_promo_accounts  # the learner loads only when promos are planned

                made, notes = plan_promos(ws, count=promos, platforms=platforms, seed=seed, batch_id=summary.batch_id)
                summary.planned += len(made)
                summary.notes += notes + plan_promo_accounts(ws, made, seed=seed, platforms=platforms)
        with ws.catalog.read() as con:
            pending = catalogs.queue_stats(con)["by_state"]["pending"]
        phase("plan")
        emit("planned", {"batch_id": summary.batch_id, "planned": summary.planned, "pending": pending,
                         "resumed": summary.resumed, "notes": summary.notes})
        if pending == 0:
            summary.wall_s = time.perf_counter() - t0
            return summary

        started_ray, summary.ray = start_ray(address)
        emit("ray", summary.ray)
        executor = RayExecutor(worker_class=worker_class, resources=summary.ray["resources"], workers=workers,
                               cache_bytes=cache_bytes, threads=threads,
                               local=started_ray and not (address or os.environ.get("RAY_ADDRESS")))
        executor.create()
        phase("ray_start")
        infos = executor.wait_ready()
        summary.notes += executor.notes
        phase("worker_warmup")
        emit("workers", {"workers": infos})
        tr = time.perf_counter()
        Dispatcher(ws, executor, summary=summary, emit=emit).run()
        summary.render_wall_s = time.perf_counter() - tr
        phase("render")
        summary.workers = executor.final_infos()
        phase("collect")
    finally:
        if executor is not None:
            executor.shutdown()
        if started_ray:
            ray.shutdown()
        lock.release()
        phase("shutdown")
    summary.wall_s = time.perf_counter() - t0
    return summary
