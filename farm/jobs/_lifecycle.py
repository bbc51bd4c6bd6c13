"""A job's life after planning: claim, record its outcome, recover, retry, cancel.

Whoever drives renders (``farm queue render`` in this process, ``farm nightly`` on Ray)
is the catalog's only writer; every state change here is one transaction, and a result
is recorded only after its output file is complete on disk.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import catalogs
from farm.errors import InputError, RenderError
from farm.jobs._outcome import JobOutcome
from farm.jobs._plan import check_rights
from farm.jobs._spec import TIMING_STAGES
from farm.locks import WorkspaceLock
from farm.workspace import Workspace

# A renderer records results while readers come and go: it waits much longer for the file
# than an interactive command, so a long `farm sql` delays a record instead of failing it.
DRIVER_CATALOG_WAIT_S = 300.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def driver_catalog_wait(ws: Workspace) -> None:
    ws.catalog.wait_s = max(ws.catalog.wait_s, DRIVER_CATALOG_WAIT_S)


def render_lock(ws: Workspace) -> WorkspaceLock:
    """The lock that makes one process at a time the workspace's renderer."""
    return WorkspaceLock(ws.state_dir / "render.lock", what="farm render (queue render or nightly)")


def check_job_inputs(con, job_id: int) -> None:
    """Before a job goes back to pending: its media still exist, unchanged, and may be used.

    Refuses (InputError/RightsError) a job whose input was removed or replaced since it was
    planned, or whose media's licence no longer allows its platform.
    """
    job = catalogs.get_job(con, job_id)
    if job is None:
        raise InputError(f"job {job_id}: no such job")
    spec = job["spec"]
    paths = {"main": list(spec.get("mains") or []), "template": [spec.get("template")], "music": [spec.get("music")],
             "image": list(spec.get("images") or [])}
    for row in catalogs.job_inputs(con, job_id):
        media = catalogs.get_media(con, row["media_id"])
        if media is None:
            raise InputError(f"job {job_id}: its {row['role']} (media {row['media_id']}) was removed from the library")
        want = paths.get(row["role"], [])
        if row["position"] >= len(want) or want[row["position"]] != media["path"]:
            raise InputError(f"job {job_id}: its {row['role']} (media {row['media_id']}) moved since it was planned")
        check_rights([media], job["platform"], message=f"job {job_id}: media {media['id']} has licence unknown "
                     f"and cannot be published on {job['platform']}")


def retry_jobs(ws: Workspace, job_id: int | None = None) -> list[int]:
    """Send ``job_id`` (or every failed job) back to pending with fresh attempts; returns ids."""
    with ws.catalog.write() as con:
        ids = [job_id] if job_id is not None else [r["id"] for r in catalogs.list_jobs(con, state="failed")]
        for jid in ids:
            check_job_inputs(con, jid)  # media removed, replaced or not publishable since
            catalogs.move(con, jid, "pending", expect=("failed", "cancelled"), sets={"attempts": 0})
            catalogs.delete_failed_uploads(con, jid)  # a failed upload may be tried again after the render
            catalogs.log_stage(con, jid, "retry", status="info", detail="sent back to pending by `farm queue retry`")
    return ids


def cancel_job(ws: Workspace, job_id: int) -> str:
    """Cancel a pending, failed or ready job; returns the state it was in."""
    with ws.catalog.write() as con:
        before = catalogs.move(con, job_id, "cancelled")
        catalogs.log_stage(con, job_id, "cancel", status="info", detail=f"cancelled while {before['state']}")
    return before["state"]


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


def record_outcome(ws: Workspace, outcome: JobOutcome) -> tuple[str, JobOutcome]:
    """Record one attempt's outcome; returns the job's new state (ready, pending or failed)
    and the outcome as recorded.

    A result is recorded only if its output is on disk at the size the renderer saw (else
    the attempt is recorded as a retryable RenderError, and that failure is returned). A
    failure goes back to pending while the error is not permanent and attempts remain,
    else to failed. A requeue (the attempt never started) goes back to pending and gives
    its attempt back.
    """
    if outcome.requeue:
        _requeue(ws, outcome)
        return "pending", outcome
    if outcome.ok:
        try:
            _record_success(ws, outcome)
            return "ready", outcome
        except RenderError as err:
            outcome = JobOutcome.failure(outcome.job_id, err, worker=outcome.worker, pid=outcome.pid)
    return _record_failure(ws, outcome), outcome


def _record_success(ws: Workspace, outcome: JobOutcome) -> None:
    res, job_id = outcome.result, outcome.job_id
    assert res is not None
    if not os.path.exists(res.path) or os.path.getsize(res.path) != res.size_bytes:
        raise RenderError(f"job {job_id}: output {res.path} is missing or incomplete; not recorded")
    timings = res.timings_s
    render_fps = res.frames / timings["total"] if timings.get("total") else None
    worker = outcome.worker
    with ws.catalog.write() as con:
        catalogs.move(
            con, job_id, "ready",
            sets={
                "output_path": res.path, "output_sha256": res.sha256, "output_size_bytes": res.size_bytes,
                "frames": res.frames, "render_fps": render_fps, "encoder": res.encoder,
                "finished_at": catalogs.utcnow(), "error_class": None, "error_message": None,
            },
        )
        catalogs.mark_used(con, [r["media_id"] for r in catalogs.job_inputs(con, job_id)])
        rows = [(job_id, stage, "ok", timings[k] * 1000, None) for k, stage in TIMING_STAGES.items() if k in timings]
        rows.append((job_id, "render", "ok", timings.get("total", 0) * 1000,
                     f"{res.frames} frames, {res.decoder} -> {res.encoder}" + (f", {render_fps:.1f} fps" if render_fps else "")
                     + (f", on {worker}" if worker else "") + "".join(f"; {n}" for n in res.notes)))
        catalogs.log_stages(con, rows)
    try:  # history is best effort: the job is recorded whatever happens here
        catalogs.append_metrics(
            ws.metrics_dir, "render_metrics",
            [{"job_id": job_id, "at": catalogs.utcnow(), "worker": worker, "encoder": res.encoder,
              "frames": res.frames, "duration_s": res.duration_s, "render_fps": render_fps,
              "total_s": timings.get("total")}],
        )
    except OSError as err:
        print(f"farm: warning: {ws.metrics_dir}: render metrics not written ({err.strerror or err})", file=sys.stderr)


def _record_failure(ws: Workspace, outcome: JobOutcome) -> str:
    job_id = outcome.job_id
    if outcome.lost:
        remove_partial(ws, job_id)
    with ws.catalog.write() as con:
        row = catalogs.get_job(con, job_id)
        retry = not outcome.permanent and row["attempts"] < ws.settings.queue.max_attempts
        to = "pending" if retry else "failed"
        catalogs.move(
            con, job_id, to, expect=("rendering",),
            sets={"error_class": outcome.error_class, "error_message": (outcome.message or "")[:2000],
                  "finished_at": catalogs.utcnow()},
        )
        catalogs.log_stage(con, job_id, "render", status="retry" if retry else "failed",
                           detail=f"{outcome.error_class}: {outcome.message}" + (f" (on {outcome.worker})" if outcome.worker else ""))
    return to


def _requeue(ws: Workspace, outcome: JobOutcome) -> None:
    with ws.catalog.write() as con:
        row = catalogs.get_job(con, outcome.job_id)
        catalogs.move(con, outcome.job_id, "pending", expect=("rendering",), sets={"attempts": max(0, row["attempts"] - 1)})
        catalogs.log_stage(con, outcome.job_id, "render", status="info", detail=f"requeued: {outcome.message}")


def release(ws: Workspace, job_ids: list[int], *, why: str) -> None:
    """Send jobs this driver holds in ``rendering`` back to pending (it is stopping)."""
    for job_id in job_ids:
        try:
            with ws.catalog.write() as con:
                catalogs.move(con, job_id, "pending", expect=("rendering",))
                catalogs.log_stage(con, job_id, "render", status="retry", detail=why)
        except Exception:  # best effort: the next renderer's recover() does the same
            pass


def remove_partial(ws: Workspace, job_id: int) -> None:
    """A killed worker leaves its temp file behind; nothing was ever under the final name."""
    with ws.catalog.read() as con:
        job = catalogs.get_job(con, job_id)
    if job is None:
        return
    out = Path(job["spec"]["output"])
    for tmp in out.parent.glob(f".{out.name}.*.part"):
        tmp.unlink(missing_ok=True)
