"""`farm nightly`: plan a batch of mashups from the library, then render every pending job on Ray.

The driver (this process) is the catalog's only writer: it claims a job, hands its spec
to a long-lived RenderWorker actor, and records the result record the worker returns.
A worker that dies costs one attempt (the job goes back to pending and another worker
takes it); a job with bad input fails once and the batch goes on; a driver that dies is
replaced by the next `farm nightly`, which recovers its in-flight jobs and finishes the
unfinished batch instead of planning a new one.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import catalogs
from farm.errors import BusyError, FarmError, InputError
from farm.queue import (
    build_mashup,
    claim,
    driver_catalog_wait,
    is_permanent,
    record_failure,
    record_success,
    recover,
    render_lock,
)
from farm.workspace import Workspace

EventFn = Callable[[str, dict], None]
GPU_WORKERS_PER_GPU = 4
WORKER_QUEUE_DEPTH = 2
WORKER_START_TIMEOUT_S = 600.0


# -- planning -------------------------------------------------------------------------
def plan_batch(
    ws: Workspace,
    con,
    *,
    count: int,
    platforms: list[str] | None = None,
    mood: str | None = None,
    seed: int = 0,
    window: int | None = None,
) -> tuple[list[dict], list[str]]:
    """Choose ``count`` (main, template, music, platform) combinations; returns (plans, notes).

    Least used (then least recently used) media first, counting this batch's own picks;
    no main/template pair that appeared in the last ``window`` jobs or earlier in this
    batch; music of ``mood``; only media whose licence allows publishing. The same seed
    over the same catalog gives the same plan.
    """
    if count < 0:
        raise InputError(f"--count must be 0 or more, not {count}")
    for p in platforms or []:
        if p not in catalogs.PLATFORMS:
            raise InputError(f"Invalid platform ({p!r}). Supported: {', '.join(catalogs.PLATFORMS)}.")
    window = ws.settings.nightly.pair_window if window is None else window
    mood = mood or ws.settings.nightly.mood
    pub = catalogs.PUBLISHABLE_LICENSES
    marks = ", ".join("?" for _ in pub)

    def load(kind: str) -> list[dict]:
        return catalogs.rows_as_dicts(con.execute(
            f"SELECT id, path, mood, platform, usage_count, last_used_at, duration_s FROM media "
            f"WHERE kind = ? AND license IN ({marks})", [kind, *pub]))

    sources, templates, music = load("source"), load("template"), load("audio")
    if not sources:
        raise InputError("no source clips whose licence allows publishing (import with --kind source --license ...)")
    if not templates:
        raise InputError("no templates whose licence allows publishing (import with --kind template --license ...)")
    recent = catalogs.recent_pairs(con, window=window)
    used: Counter[int] = Counter()
    notes: list[str] = []
    oldest = datetime.min

    def ranked(rows: list[dict], platform: str | None) -> list[dict]:
        fits = [r for r in rows if platform is None or r["platform"] in (None, platform)]
        return sorted(fits, key=lambda r: (r["usage_count"] + used[r["id"]], r["last_used_at"] or oldest,
                                           hash((seed, r["id"])), r["id"]))

    plans: list[dict] = []
    mood_missing_noted = False
    for i in range(count):
        platform = platforms[i % len(platforms)] if platforms else None
        choice = None
        tpls = ranked(templates, platform)
        for main in ranked(sources, platform):
            for tpl in tpls:
                if (main["id"], tpl["id"]) not in recent:
                    choice = (main, tpl)
                    break
            if choice:
                break
        if choice is None:
            notes.append(f"planned {len(plans)} of {count} jobs: every main/template pair was used within the "
                         f"last {window} jobs (import more media or lower nightly.pair_window)")
            break
        main, tpl = choice
        tracks = ranked([m for m in music if m["mood"] == mood], platform)
        if not tracks and music:
            if not mood_missing_noted:
                notes.append(f"no publishable music with mood {mood!r}; using other moods")
                mood_missing_noted = True
            tracks = ranked(music, platform)
        track = tracks[0] if tracks else None
        plans.append({
            "platform": platform, "main": main["id"], "main_path": main["path"], "template": tpl["id"],
            "template_path": tpl["path"], "music": track["id"] if track else None,
            "music_path": track["path"] if track else None, "mood": track["mood"] if track else None,
        })
        for r in (main, tpl, track):
            if r is not None:
                used[r["id"]] += 1
        recent.add((main["id"], tpl["id"]))
    if not music:
        notes.append("no publishable music in the library: videos carry only their clips' sound")
    return plans, notes


def enqueue_plans(ws: Workspace, plans: list[dict], *, batch_id: str, caption: str | None = None, seed: int = 0) -> list[int]:
    """Write the planned jobs in one transaction; returns their ids."""
    with ws.catalog.write() as con:
        return [
            build_mashup(ws, con, mains=[p["main"]], template=p["template"], music=p["music"], platform=p["platform"],
                         caption=caption, seed=seed, batch_id=batch_id)
            for p in plans
        ]


# -- rendering on Ray -----------------------------------------------------------------
@dataclass
class BatchSummary:
    batch_id: str | None = None
    resumed: bool = False
    planned: int = 0
    notes: list[str] = field(default_factory=list)
    recovered: dict = field(default_factory=dict)
    rendered: list[int] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    retried: list[dict] = field(default_factory=list)
    frames: int = 0
    video_s: float = 0.0
    wall_s: float = 0.0
    render_wall_s: float = 0.0
    workers: list[dict] = field(default_factory=list)
    ray: dict = field(default_factory=dict)
    phases_s: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        hours = self.render_wall_s / 3600
        return {
            "batch_id": self.batch_id, "resumed": self.resumed, "planned": self.planned, "notes": self.notes,
            "recovered": self.recovered, "rendered": self.rendered, "failed": self.failed, "retried": self.retried,
            "frames": self.frames, "video_s": round(self.video_s, 2), "wall_s": round(self.wall_s, 2),
            "render_wall_s": round(self.render_wall_s, 2),
            "videos_per_hour": round(len(self.rendered) / hours, 1) if hours > 0 else 0.0,
            "fps": round(self.frames / self.render_wall_s, 2) if self.render_wall_s > 0 else 0.0,
            "workers": self.workers, "ray": self.ray, "phases_s": {k: round(v, 3) for k, v in self.phases_s.items()},
        }


def _start_ray(address: str | None) -> tuple[bool, dict]:
    """Join ``address`` (or $RAY_ADDRESS), or start a local Ray; returns (started_here, info)."""
    import ray

    if ray.is_initialized():
        ctx = None
        started = False
    else:
        kwargs: dict = {"log_to_driver": False, "configure_logging": False}
        address = address or os.environ.get("RAY_ADDRESS") or None
        if address:
            kwargs["address"] = address
        else:
            kwargs.update(num_cpus=os.cpu_count() or 1, include_dashboard=True, dashboard_host="127.0.0.1")
        try:
            ctx = ray.init(**kwargs)
        except ConnectionError as err:
            raise FarmError(f"Ray cluster at {address}: cannot connect ({err})") from None
        started = True
    info = {"address": ray.get_runtime_context().gcs_address, "resources": ray.cluster_resources()}
    url = getattr(ctx, "dashboard_url", None) if ctx is not None else None
    if url:
        info["dashboard_url"] = url if url.startswith("http") else f"http://{url}"
    return started, info


def _check_reachable(address: str, *, timeout_s: float = 5.0) -> None:
    """Fail fast on a cluster address nobody answers (ray.init would retry for minutes)."""
    import socket

    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
            return
    except ValueError:
        raise InputError(f"--address {address}: expected HOST:PORT, 'auto' or ray://HOST:PORT") from None
    except OSError as err:
        raise FarmError(f"Ray cluster at {address}: cannot connect ({err.strerror or err})") from None


def _make_workers(
    *, workers: int | None, resources: dict, cache_bytes: int, local: bool, threads: int | None = None
) -> list:
    import ray

    from actors import RenderWorker

    cpus = int(resources.get("CPU", 1))
    gpus = int(resources.get("GPU", 0))
    remote = ray.remote(RenderWorker)
    made = []
    n_gpu = gpus * GPU_WORKERS_PER_GPU
    n_cpu = workers if workers is not None else max(0 if n_gpu else 1, cpus - 2 * n_gpu)
    if workers is not None and n_gpu:
        n_gpu, n_cpu = min(n_gpu, workers), max(0, workers - n_gpu)
    share = max(1, cpus // max(1, n_cpu)) if not n_gpu else 1
    threads = threads or share
    for _ in range(n_gpu):
        made.append(remote.options(num_cpus=1, num_gpus=1 / GPU_WORKERS_PER_GPU, max_restarts=-1, max_task_retries=0)
                    .remote(threads=1, cache_bytes=cache_bytes, backend="gpu"))
    # On a local Ray, more workers than cores share them (fractional CPUs) instead of
    # waiting forever for slots; on a cluster, unplaceable workers ask the autoscaler for nodes.
    slot = min(float(share), cpus / n_cpu) if local and n_cpu > cpus else float(share)
    for _ in range(n_cpu):
        made.append(remote.options(num_cpus=slot, max_restarts=-1, max_task_retries=0)
                    .remote(threads=threads, cache_bytes=cache_bytes, backend="cpu"))
    if not made:
        raise InputError("--workers must be at least 1")
    return made


def _lost_worker_errors() -> tuple[type[BaseException], ...]:
    import ray.exceptions as rex

    names = ("RayActorError", "ActorDiedError", "ActorUnavailableError", "WorkerCrashedError", "NodeDiedError",
             "OutOfMemoryError", "ObjectLostError")
    return tuple(getattr(rex, n) for n in names if hasattr(rex, n))


def unfinished_batch(ws: Workspace) -> str | None:
    with ws.catalog.read() as con:
        row = con.execute(
            "SELECT batch_id FROM jobs WHERE batch_id LIKE 'nightly-%' AND state IN ('pending', 'rendering') "
            "ORDER BY id LIMIT 1"
        ).fetchone()
    return row[0] if row else None


def run_nightly(
    ws: Workspace,
    *,
    count: int | None = None,
    platforms: list[str] | None = None,
    mood: str | None = None,
    caption: str | None = None,
    seed: int | None = None,
    address: str | None = None,
    workers: int | None = None,
    cache_bytes: int = 1 << 30,
    threads: int | None = None,
    on_event: EventFn | None = None,
) -> BatchSummary:
    """Plan ``count`` jobs (or resume an unfinished batch), then render all pending jobs on Ray.

    ``on_event(name, data)`` sees "planned", "ray", "workers", "submit", "done", "failed",
    "retry" and "lost" events (the CLI draws its progress bar from them).
    """
    import ray

    t0 = time.perf_counter()
    emit = on_event or (lambda name, data: None)
    summary = BatchSummary()
    seed = 0 if seed is None else seed
    count = ws.settings.nightly.count if count is None else count
    target = address or os.environ.get("RAY_ADDRESS") or None
    if target and target not in ("auto", "local") and not target.startswith("ray://"):
        _check_reachable(target)  # before planning anything
    driver_catalog_wait(ws)
    lock = render_lock(ws).acquire()
    started_ray = False
    pool: list = []
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
            with ws.catalog.read() as con:
                plans, notes = plan_batch(ws, con, count=count, platforms=platforms, mood=mood, seed=seed)
            summary.notes += notes
            ids = enqueue_plans(ws, plans, batch_id=summary.batch_id, caption=caption, seed=seed)
            summary.planned = len(ids)
        with ws.catalog.read() as con:
            pending = catalogs.queue_stats(con)["by_state"]["pending"]
        phase("plan")
        emit("planned", {"batch_id": summary.batch_id, "planned": summary.planned, "pending": pending,
                         "resumed": summary.resumed, "notes": summary.notes})
        if pending == 0:
            summary.wall_s = time.perf_counter() - t0
            return summary

        started_ray, summary.ray = _start_ray(address)
        emit("ray", summary.ray)
        local = started_ray and not (address or os.environ.get("RAY_ADDRESS"))
        pool = _make_workers(workers=workers, resources=summary.ray["resources"], cache_bytes=cache_bytes,
                             local=local, threads=threads)
        warm = [w.info.remote() for w in pool]
        phase("ray_start")
        ready, _ = ray.wait(warm, num_returns=len(warm), timeout=WORKER_START_TIMEOUT_S)
        if not ready:
            raise FarmError(f"no render worker started within {WORKER_START_TIMEOUT_S:.0f} s "
                            f"(cluster resources: {summary.ray['resources']})")
        keep = [k for k, ref in enumerate(warm) if ref in ready]
        for k, w in enumerate(pool):
            if k not in keep:  # never placed: give its slot back
                ray.kill(w)
        infos, alive = [], []
        for k in keep:  # a worker whose warm-up failed is dropped; the others go on
            try:
                infos.append(ray.get(warm[k]))
                alive.append(pool[k])
            except Exception as err:
                summary.notes.append(f"a render worker failed to start: {type(err).__name__}: {str(err)[:200]}")
                ray.kill(pool[k])
        if not alive:
            raise FarmError(f"no render worker started: {summary.notes[-1]}")
        pool = alive
        phase("worker_warmup")
        emit("workers", {"workers": infos})
        tr = time.perf_counter()
        _drive(ws, pool, infos, summary, emit)
        summary.render_wall_s = time.perf_counter() - tr
        phase("render")
        summary.workers = []
        for w, old in zip(pool, infos):
            try:
                summary.workers.append(ray.get(w.info.remote(), timeout=30))
            except Exception:  # a worker lost at the very end: report what we knew
                summary.workers.append({**old, "lost": True})
        phase("collect")
    finally:
        for w in pool:
            try:
                ray.kill(w)
            except Exception:
                pass
        if started_ray:
            ray.shutdown()
        lock.release()
        phase("shutdown")
    summary.wall_s = time.perf_counter() - t0
    return summary


def _drive(ws: Workspace, pool: list, infos: list[dict], summary: BatchSummary, emit: EventFn) -> None:
    import ray

    from actors._metrics import driver_metrics

    lost_errors = _lost_worker_errors()
    metrics = driver_metrics()
    labels = [f"ray-worker-{i}@{info['node']}" for i, info in enumerate(infos)]
    # Each worker gets a second job queued behind the one it renders, so it never waits for
    # the driver's bookkeeping (recording one result, claiming the next job).
    idle = [i for _ in range(WORKER_QUEUE_DEPTH) for i in range(len(pool))]
    inflight: dict = {}
    # bumped when a worker is lost: jobs queued behind the lost one never started
    generation = [0] * len(pool)
    tallies: Counter[str] = Counter()
    t0 = time.perf_counter()

    def publish_metrics(pending_left: int) -> None:
        metrics["queue"].set(pending_left)
        for state in ("pending", "rendering", "ready", "failed"):
            value = pending_left if state == "pending" else len(inflight) if state == "rendering" else tallies[state]
            metrics["jobs"].set(value, tags={"state": state})
        elapsed = time.perf_counter() - t0
        if elapsed > 0:
            metrics["throughput"].set(summary.frames / elapsed)

    def pending_count() -> int:
        with ws.catalog.read() as con:
            return catalogs.queue_stats(con)["by_state"]["pending"]

    busy = [0] * len(pool)
    deadlines: dict = {}
    pending_left = pending_count()
    try:
        while True:
            # free workers first; a second job queues behind a busy one only while there is
            # enough left that no worker would sit idle at the end of the batch
            idle.sort(key=lambda w: busy[w])
            while idle and (busy[idle[0]] == 0 or pending_left > len(pool)):
                job = claim(ws, worker=labels[idle[0]])
                if job is None:
                    pending_left = 0
                    break
                i = idle.pop(0)
                busy[i] += 1
                pending_left -= 1
                # the batch's last job: the other workers are about to run dry, so let it
                # use more of its node's cores than a worker's share
                tail = pending_left <= 0 and busy[i] == 1 and infos[i]["threads"] < infos[i].get("node_cpus", 1)
                threads = min(4, infos[i].get("node_cpus", 1)) if tail else None
                ref = pool[i].render.remote(job["id"], job["spec"], threads)
                inflight[ref] = (job, i, generation[i])
                # queued behind another job: its clock starts when that one's would end
                deadlines[ref] = time.monotonic() + busy[i] * ws.settings.queue.job_timeout_s
                emit("submit", {"job_id": job["id"], "worker": labels[i], "worker_index": i,
                                "pid": infos[i]["pid"], "attempt": job["attempts"]})
            pending_left = pending_count()
            publish_metrics(pending_left)
            if not inflight:
                break
            soonest = min(deadlines.values(), default=time.monotonic() + 5.0)
            wait_s = min(5.0, max(0.05, soonest - time.monotonic()))
            done, _ = ray.wait(list(inflight), num_returns=1, timeout=wait_s)
            now = time.monotonic()
            for ref, (job, i, gen) in list(inflight.items()):
                if ref not in done and deadlines.get(ref, now + 1) < now and gen == generation[i]:
                    # a hung render: kill the worker (it restarts); the job counts as a lost attempt
                    emit("timeout", {"job_id": job["id"], "worker": labels[i]})
                    ray.kill(pool[i], no_restart=False)
                    deadlines.pop(ref, None)
            for ref in done:
                deadlines.pop(ref, None)
                job, i, gen = inflight.pop(ref)
                idle.append(i)
                busy[i] -= 1
                if gen < generation[i] and _requeue_unstarted(ws, ref, job, labels[i], lost_errors):
                    continue
                if _settle(ws, ref, job, labels[i], summary, tallies, emit, lost_errors, infos, i, pool) == "lost":
                    generation[i] += 1
    except BaseException:
        # interrupted: what is in flight goes back to pending now (the next start would do it too)
        for job, *_ in inflight.values():
            try:
                with ws.catalog.write() as con:
                    catalogs.move(con, job["id"], "pending", expect=("rendering",))
                    catalogs.log_stage(con, job["id"], "render", status="retry", detail="driver interrupted")
            except Exception:
                pass
        raise


def _settle(ws, ref, job, label, summary, tallies, emit, lost_errors, infos, i, pool) -> str:
    import ray

    job_id = job["id"]
    try:
        rec = ray.get(ref)
    except lost_errors as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        msg = f"worker {label} (PID {infos[i]['pid']}) was lost: {type(err).__name__}: {first[:300]}"
        _remove_partial(ws, job)
        to = record_failure(ws, job_id, error_class="WorkerLost", message=msg, permanent=False, worker=label)
        (summary.retried if to == "pending" else summary.failed).append({"id": job_id, "error": msg})
        tallies["failed" if to == "failed" else "retried"] += 1
        emit("lost", {"job_id": job_id, "worker": label, "state": to, "error": msg})
        try:  # the actor restarts itself (max_restarts=-1); learn its new PID
            infos[i] = ray.get(pool[i].info.remote(), timeout=120)
        except Exception:
            pass
        return "lost"
    if rec["ok"]:
        try:
            record_success(ws, job_id, rec["result"], worker=f"{label} pid {rec['pid']}")
        except BusyError:
            raise
        except FarmError as err:
            to = record_failure(ws, job_id, error_class=type(err).__name__, message=str(err), permanent=False, worker=label)
            (summary.retried if to == "pending" else summary.failed).append({"id": job_id, "error": str(err)})
            emit("failed" if to == "failed" else "retry", {"job_id": job_id, "error": str(err), "state": to})
            return "failed"
        res = rec["result"]
        summary.rendered.append(job_id)
        summary.frames += res["frames"]
        summary.video_s += res["duration_s"]
        tallies["ready"] += 1
        emit("done", {"job_id": job_id, "worker": label, "frames": res["frames"], "render_fps": res["render_fps"],
                      "rss_bytes": rec.get("rss_bytes"), "total_frames": summary.frames})
        return "done"
    permanent = is_permanent(rec["error_class"])
    to = record_failure(ws, job_id, error_class=rec["error_class"], message=rec["message"], permanent=permanent, worker=label)
    entry = {"id": job_id, "error_class": rec["error_class"], "error": rec["message"]}
    if to == "failed":
        summary.failed.append(entry)
        tallies["failed"] += 1
    else:
        summary.retried.append(entry)
    emit("failed" if to == "failed" else "retry", {"job_id": job_id, "error": rec["message"], "state": to})


def _requeue_unstarted(ws: Workspace, ref, job: dict, label: str, lost_errors) -> bool:
    """A job queued behind a lost one: back to pending without costing it an attempt.

    Returns False when the job did not fail with its worker (then it is settled as usual).
    """
    import ray

    try:
        ray.get(ref)
        return False
    except lost_errors:
        pass
    except Exception:
        return False
    with ws.catalog.write() as con:
        row = catalogs.get_job(con, job["id"])
        catalogs.move(con, job["id"], "pending", expect=("rendering",), sets={"attempts": max(0, row["attempts"] - 1)})
        catalogs.log_stage(con, job["id"], "render", status="info",
                           detail=f"requeued: it waited behind a job on {label} when that worker was lost")
    return True


def _remove_partial(ws: Workspace, job: dict) -> None:
    """A killed worker leaves its temp file behind; nothing was ever under the final name."""
    out = Path(job["spec"]["output"])
    for tmp in out.parent.glob(f".{out.name}.*.part"):
        tmp.unlink(missing_ok=True)
