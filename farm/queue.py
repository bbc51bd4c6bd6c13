"""The job queue's logic: enqueue mashups from library media, claim, render, record results.

The driver (this process, or the Ray driver of ``farm nightly``) is the only writer of the
catalog; every state change is one transaction, and a result is recorded only after its
output file is complete on disk.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import catalogs
from farm.errors import BusyError, FarmError, InputError, RenderError, RightsError
from farm.locks import WorkspaceLock
from farm.spec import MashupSpec, RenderResult
from farm.workspace import Workspace

# RenderResult.timings_s keys -> process-log stages
STAGES = {"probe": "probe", "wait_decode": "decode", "compose": "compose", "encode": "encode", "audio": "audio", "finish": "mux"}


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# A renderer records results while readers come and go: it waits much longer for the file
# than an interactive command, so a long `farm sql` delays a record instead of failing it.
DRIVER_CATALOG_WAIT_S = 300.0


def driver_catalog_wait(ws: Workspace) -> None:
    ws.catalog.wait_s = max(ws.catalog.wait_s, DRIVER_CATALOG_WAIT_S)


def render_lock(ws: Workspace) -> WorkspaceLock:
    """The lock that makes one process at a time the workspace's renderer."""
    return WorkspaceLock(ws.state_dir / "render.lock", what="farm render (queue render or nightly)")


def _credits(rows: list[dict]) -> str | None:
    parts: list[str] = []
    for r in rows:
        text = r.get("attribution")
        if not text and r.get("license") == "cc-by":
            text = f"{r.get('creator') or 'unknown creator'} (CC BY)"
        if text and text not in parts:
            parts.append(text)
    return ("Credits: " + " · ".join(parts)) if parts else None


def _need(con, media_id: int, kinds: tuple[str, ...], role: str) -> dict:
    row = catalogs.get_media(con, media_id)
    if row is None:
        raise InputError(f"media {media_id}: no such media (given as {role})")
    if row["kind"] not in kinds:
        raise InputError(f"media {media_id}: is {row['kind']}, cannot be the {role} (needs {' or '.join(kinds)})")
    return row


def build_mashup(
    ws: Workspace,
    con,
    *,
    mains: list[int],
    template: int | None = None,
    music: int | None = None,
    mood: str | None = None,
    platform: str | None = None,
    caption: str | None = None,
    seed: int = 0,
    batch_id: str | None = None,
) -> int:
    """Insert one pending mashup job inside the caller's transaction; returns its id.

    A template or a music track not named is picked (least used first, reproducible by
    ``seed``). A job for a platform is meant for publishing: media whose licence is
    ``unknown`` are refused with :class:`RightsError`.
    """
    if not mains:
        raise InputError("a mashup needs at least one --main")
    if platform is not None and platform not in catalogs.PLATFORMS:
        raise InputError(f"Invalid platform ({platform!r}). Supported: {', '.join(catalogs.PLATFORMS)}.")
    publishing = platform is not None
    main_rows = [_need(con, m, ("source", "template"), "main") for m in mains]
    if template is None:
        picked = catalogs.pick_media(con, kind="template", platform=platform, for_publishing=publishing, seed=seed)
        if not picked:
            raise InputError("no template in the library fits this job (import one with --kind template)")
        template_row = picked[0]
    else:
        template_row = _need(con, template, ("template",), "template")
    music_row = None
    if music is not None:
        music_row = _need(con, music, ("audio",), "music")
    elif mood is not None:
        picked = catalogs.pick_media(con, kind="audio", platform=platform, mood=mood, for_publishing=publishing, seed=seed)
        if not picked:
            raise InputError(f"no music with mood {mood!r} in the library" + (" whose licence allows publishing" if publishing else ""))
        music_row = picked[0]
    used = [*main_rows, template_row] + ([music_row] if music_row else [])
    if publishing:
        unknown = [r for r in used if r["license"] == "unknown"]
        if unknown:
            raise RightsError(
                f"media {', '.join(str(r['id']) for r in unknown)}: licence unknown, cannot be published on {platform} "
                "(set it with `farm media update ID --license ...`, or render without --platform)"
            )
    job_id = catalogs.next_job_id(con)
    r = ws.settings.render
    total_s = sum(float(m["duration_s"] or 0) for m in main_rows)
    spec = MashupSpec(
        mains=tuple(m["path"] for m in main_rows),
        template=template_row["path"],
        output=str(ws.out_dir / f"job-{job_id:06d}.mp4"),
        layout=r.layout,
        fit=r.fit,
        duration_s=r.max_duration_s if total_s > r.max_duration_s else None,
        fade_s=r.fade_s,
        music=music_row["path"] if music_row else None,
        music_volume=r.music_volume,
        caption=caption,
        attribution=_credits(used),
        fps=r.fps,
        preset=r.preset,
        crf=r.crf,
        encoder=r.encoder,
    )
    inputs = [(m["id"], "main", i) for i, m in enumerate(main_rows)] + [(template_row["id"], "template", 0)]
    if music_row:
        inputs.append((music_row["id"], "music", 0))
    catalogs.insert_job(
        con, kind="mashup", spec=json.loads(spec.to_json()), platform=platform, inputs=inputs, job_id=job_id, batch_id=batch_id
    )
    catalogs.log_stage(con, job_id, "plan", detail=f"mains {[m['id'] for m in main_rows]} template {template_row['id']}"
                       + (f" music {music_row['id']}" if music_row else ""))
    return job_id


def check_job_inputs(con, job_id: int) -> None:
    """Before a job goes back to pending: its media still exist, unchanged, and may be used.

    Refuses (InputError/RightsError) a job whose input was removed or replaced since it was
    planned, or whose media's licence no longer allows its platform.
    """
    job = catalogs.get_job(con, job_id)
    if job is None:
        raise InputError(f"job {job_id}: no such job")
    spec = job["spec"]
    paths = {"main": list(spec.get("mains") or []), "template": [spec.get("template")], "music": [spec.get("music")]}
    for row in catalogs.job_inputs(con, job_id):
        media = catalogs.get_media(con, row["media_id"])
        if media is None:
            raise InputError(f"job {job_id}: its {row['role']} (media {row['media_id']}) was removed from the library")
        want = paths.get(row["role"], [])
        if row["position"] >= len(want) or want[row["position"]] != media["path"]:
            raise InputError(f"job {job_id}: its {row['role']} (media {row['media_id']}) moved since it was planned")
        if job["platform"] and media["license"] == "unknown":
            raise RightsError(
                f"job {job_id}: media {media['id']} has licence unknown and cannot be published on {job['platform']}"
            )


def enqueue_mashup(ws: Workspace, **kwargs) -> dict:
    """Add one mashup job (see :func:`build_mashup`); returns the new job's row."""
    with ws.catalog.write() as con:
        job_id = build_mashup(ws, con, **kwargs)
        return catalogs.get_job(con, job_id)


def recover(ws: Workspace) -> dict:
    """Undo what a dead renderer left: call with the render lock held.

    Jobs stuck in ``rendering`` go back to pending; ``ready`` jobs whose output is missing
    or not the recorded size go back to pending; temp files in ``out/`` are deleted.
    """
    out = {"rendering": 0, "missing_output": 0, "temp_files": 0}
    with ws.catalog.write() as con:
        for row in catalogs.list_jobs(con, state="rendering"):
            catalogs.move(con, row["id"], "pending", expect=("rendering",))
            catalogs.log_stage(con, row["id"], "recover", status="retry", detail=f"was rendering on {row['worker']} (process gone)")
            out["rendering"] += 1
        for row in catalogs.list_jobs(con, state="ready"):
            p = row["output_path"]
            if not p or not os.path.exists(p) or os.path.getsize(p) != (row["output_size_bytes"] or -1):
                catalogs.move(con, row["id"], "pending", expect=("ready",), sets={"output_path": None, "output_sha256": None})
                catalogs.log_stage(con, row["id"], "recover", status="retry", detail=f"output missing or incomplete: {p}")
                out["missing_output"] += 1
    if ws.out_dir.exists():
        for tmp in ws.out_dir.glob(".*.part"):
            tmp.unlink(missing_ok=True)
            out["temp_files"] += 1
    return out


def claim(ws: Workspace, job_id: int | None = None, *, worker: str, exclude: tuple[int, ...] = ()) -> dict | None:
    """Move the next pending job (or ``job_id``) to rendering; returns its row, or None."""
    with ws.catalog.write() as con:
        if job_id is None:
            ids = catalogs.next_pending(con, exclude=exclude)
            if not ids:
                return None
            job_id = ids[0]
        row = catalogs.get_job(con, job_id)
        catalogs.move(
            con, job_id, "rendering",
            sets={"attempts": row["attempts"] + 1, "started_at": catalogs.utcnow(), "finished_at": None, "worker": worker},
        )
        catalogs.log_stage(con, job_id, "claim", detail=f"attempt {row['attempts'] + 1} on {worker}")
        row["attempts"] += 1
        row["state"] = "rendering"
        return row


def record_success(ws: Workspace, job_id: int, result: RenderResult | dict, *, worker: str | None = None) -> None:
    """Record a finished render: only if its output is on disk at the size the renderer saw."""
    res = result if isinstance(result, dict) else result.summary()
    path = res["path"]
    if not os.path.exists(path) or os.path.getsize(path) != res["size_bytes"]:
        raise RenderError(f"job {job_id}: output {path} is missing or incomplete; not recorded")
    timings = res.get("timings_s") or {}
    render_fps = res["frames"] / timings["total"] if timings.get("total") else None
    with ws.catalog.write() as con:
        catalogs.move(
            con, job_id, "ready",
            sets={
                "output_path": path, "output_sha256": res["sha256"], "output_size_bytes": res["size_bytes"],
                "frames": res["frames"], "render_fps": render_fps, "encoder": res["encoder"],
                "finished_at": catalogs.utcnow(), "error_class": None, "error_message": None,
            },
        )
        media = [r["media_id"] for r in catalogs.job_inputs(con, job_id)]
        catalogs.mark_used(con, media)
        rows = [(job_id, stage, "ok", timings[k] * 1000, None) for k, stage in STAGES.items() if k in timings]
        rows.append((job_id, "render", "ok", timings.get("total", 0) * 1000,
                     f"{res['frames']} frames, {res['encoder']}" + (f", {render_fps:.1f} fps" if render_fps else "")
                     + (f", on {worker}" if worker else "")))
        catalogs.log_stages(con, rows)
    try:  # history is best effort: the job is recorded whatever happens here
        catalogs.append_metrics(
            ws.metrics_dir, "render_metrics",
            [{"job_id": job_id, "at": catalogs.utcnow(), "worker": worker, "encoder": res["encoder"],
              "frames": res["frames"], "duration_s": res["duration_s"], "render_fps": render_fps,
              "total_s": timings.get("total")}],
        )
    except OSError as err:
        print(f"farm: warning: {ws.metrics_dir}: render metrics not written ({err.strerror or err})", file=sys.stderr)


def is_permanent(error_class: str) -> bool:
    """Bad input, rights and quota problems are not worth retrying."""
    return error_class in ("InputError", "RightsError", "IllegalTransition", "QuotaError")


def record_failure(ws: Workspace, job_id: int, *, error_class: str, message: str, permanent: bool, worker: str | None = None) -> str:
    """Record a failed attempt: back to pending if retryable and attempts remain, else failed."""
    with ws.catalog.write() as con:
        row = catalogs.get_job(con, job_id)
        retry = not permanent and row["attempts"] < ws.settings.queue.max_attempts
        to = "pending" if retry else "failed"
        catalogs.move(
            con, job_id, to, expect=("rendering",),
            sets={"error_class": error_class, "error_message": message[:2000], "finished_at": catalogs.utcnow()},
        )
        catalogs.log_stage(con, job_id, "render", status="retry" if retry else "failed",
                           detail=f"{error_class}: {message}" + (f" (on {worker})" if worker else ""))
    return to


@dataclass
class QueueRunSummary:
    rendered: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    recovered: dict = field(default_factory=dict)
    frames: int = 0
    wall_s: float = 0.0

    def as_dict(self) -> dict:
        return {
            "rendered": self.rendered, "failed": [{"id": i, "error": e} for i, e in self.failed],
            "retried": self.retried, "recovered": self.recovered, "frames": self.frames, "wall_s": round(self.wall_s, 3),
        }


RenderFn = Callable[..., RenderResult]


def render_queue(
    ws: Workspace,
    *,
    limit: int | None = None,
    on_job: Callable[[str, dict, dict | None], None] | None = None,
    progress=None,
    render: RenderFn | None = None,
) -> QueueRunSummary:
    """Render pending jobs in this process, one after another, recording every outcome.

    ``on_job(event, job, info)`` is called with "start", "done" or "failed".
    """
    from farm.pipeline import render_mashup

    render = render or render_mashup
    summary = QueueRunSummary()
    t0 = time.perf_counter()
    me = worker_name()
    driver_catalog_wait(ws)
    with render_lock(ws):
        summary.recovered = recover(ws)
        done = 0
        while limit is None or done < limit:
            job = claim(ws, worker=me)
            if job is None:
                break
            if on_job:
                on_job("start", job, None)
            try:
                spec = MashupSpec.from_json(json.dumps(job["spec"]))
                result = render(spec, progress=progress)
                record_success(ws, job["id"], result, worker=me)
            except BusyError:
                raise  # the catalog, not the render: the job stays rendering and is recovered next start
            except FarmError as err:
                cls = type(err).__name__
                to = record_failure(ws, job["id"], error_class=cls, message=str(err), permanent=is_permanent(cls), worker=me)
                (summary.retried.append(job["id"]) if to == "pending" else summary.failed.append((job["id"], str(err))))
                if on_job:
                    on_job("failed", job, {"error": str(err), "state": to})
            except Exception as err:  # a bug in a render must not stop the batch
                msg = f"{type(err).__name__}: {err}"
                to = record_failure(ws, job["id"], error_class="InternalError", message=msg, permanent=False, worker=me)
                (summary.retried.append(job["id"]) if to == "pending" else summary.failed.append((job["id"], msg)))
                if on_job:
                    on_job("failed", job, {"error": msg, "state": to})
            else:
                summary.rendered.append(job["id"])
                summary.frames += result.frames
                if on_job:
                    on_job("done", job, result.summary())
            done += 1
    summary.wall_s = time.perf_counter() - t0
    return summary
