"""The uploads ledger after the uploads: a job's state from its uploads, and what platforms still owe about published ones.

A platform may call a video published before it has said everything about it: TikTok gives
a public post's id only once moderation is done (minutes, sometimes hours), Facebook runs
its copyright check after the reel is up. Such an upload is ``published`` with ``pending``
saying what is owed; every publish and monitor pass asks again (:func:`follow_up`) until
the answer comes: the id (statistics start then), or a copyright block (the upload fails
with the match as its reason, and counts against the account's health).
"""

from __future__ import annotations

import os
from datetime import datetime

import catalogs
from farm.errors import FarmError, InputError, PolicyError
from farm.platforms import RemoteSession, RemoteState
from farm.publish._account_tokens import with_token
from farm.publish._flow import upload_request
from farm.workspace import Workspace

IN_FLIGHT = ("started", "uploading", "uploaded", "finishing", "processing", "lost")
"""Ledger states a run resumes (``lost``: the session is gone, nothing published; the marker and account stay)."""


def settle_job(ws: Workspace, job_id: int, targets: list[str]) -> str:
    """The job's state from its uploads: published when every target is done or failed and one is
    done, failed when all failed, publishing while any is under way, else ready."""
    with ws.catalog.write() as con:
        job = catalogs.get_job(con, job_id)
        rows = {u["platform"]: u for u in catalogs.list_uploads(con, job_id=job_id)}
        states = [rows[p]["state"] if p in rows else None for p in targets] or [None]
        done = [s for s in states if s in catalogs.UPLOAD_DONE]
        if any(s in IN_FLIGHT for s in states):
            want = "publishing"
        elif done and all(s in (*catalogs.UPLOAD_DONE, "failed") for s in states):
            want = "published"
        elif all(s == "failed" for s in states):
            want = "failed"
        else:
            want = "publishing" if done else "ready"
        if job["state"] == want:
            return want
        if want == "published" and job["state"] == "ready":
            catalogs.move(con, job_id, "publishing")
        # every post of a published job taken down after publishing (a copyright block): the job failed
        expect = ("published",) if want == "failed" and job["state"] == "published" else None
        sets = {}
        if want == "failed":
            first = next(rows[p] for p in targets if p in rows)
            sets = {"error_class": first["error_class"], "error_message": first["error_message"]}
        elif want == "published":
            sets = {"error_class": None, "error_message": None}
        catalogs.move(con, job_id, want, sets=sets, expect=expect)
        catalogs.log_stage(con, job_id, "publish", status="ok" if want == "published" else "info",
                           detail=f"{want}: " + ", ".join(f"{p} {rows[p]['state'] if p in rows else 'waiting'}"
                                                          for p in targets))
        return want


class UploadNotFailed(InputError):
    """An upload asked to be tried again that has not failed (or whose job cannot take it): 409 in the web API."""


def retry_upload(ws: Workspace, job_id: int, platform: str) -> dict:
    """Forget the job's failed upload to ``platform`` so that the next publish pass tries it again (the
    ledger step `farm queue retry` takes for a retried job's failed uploads), and put the job where a
    publish pass finds it: a failed job whose video is still there back to ready, a published one (its
    other posts done) back to publishing.

    Returns:
        ``{"job_id", "platform", "error_class", "error_message", "job_state"}``: the failure forgotten and
        the job's state now.

    Raises:
        InputError: no such upload. UploadNotFailed: the upload has not failed, or its job cannot publish.
    """
    with ws.catalog.write() as con:
        job = catalogs.get_job(con, job_id)
        upload = catalogs.get_upload(con, job_id, platform) if job is not None else None
        if upload is None:
            raise InputError(f"job {job_id}: no upload to {platform}")
        if upload["state"] != "failed":
            raise UploadNotFailed(f"job {job_id}: its upload to {platform} is {upload['state']}, not failed; only "
                                  "a failed upload is tried again")
        state = job["state"]
        if state == "failed":
            output = job.get("output_path")
            if not output or not os.path.isfile(output):
                raise UploadNotFailed(f"job {job_id}: its video is gone; retry the job (`farm queue retry "
                                      f"{job_id}`) to render it again")
            catalogs.move(con, job_id, "ready", expect=("failed",), sets={"error_class": None, "error_message": None})
            state = "ready"
        elif state == "published":
            catalogs.move(con, job_id, "publishing", expect=("published",))
            state = "publishing"
        elif state not in ("ready", "publishing"):
            raise UploadNotFailed(f"job {job_id} is {state}; its upload to {platform} cannot be tried again")
        catalogs.delete_failed_uploads(con, job_id, platform)
        catalogs.log_stage(con, job_id, "retry", status="info", detail=f"the failed upload to {platform} is tried "
                           "again at the next publish pass")
    return {"job_id": int(job_id), "platform": platform, "error_class": upload.get("error_class"),
            "error_message": upload.get("error_message"), "job_state": state}


def follow_up(ws: Workspace, runner, *, now: datetime, name: str | None = None) -> list[str]:
    """Ask the platforms again about published uploads they still owe something about.

    Args:
        runner: a :class:`farm.publish.StepRunner` (its HTTP client and keyring).
        name: only this platform's uploads.

    Returns:
        A line for the user per upload settled or still unanswered.
    """
    with ws.catalog.read() as con:
        rows = catalogs.pending_uploads(con, platform=name)
        accounts = {a["id"]: a for a in catalogs.list_accounts(con)}
    lines = []
    for row in rows:
        account = accounts.get(row["account_id"])
        if account is None or account.get("needs_reconnect") or account.get("key_problem"):
            continue
        label = f"{row['platform']}:{account['username']}"
        try:
            state = _ask(ws, runner, row, account, now=now)
        except FarmError as err:
            lines.append(f"job {row['job_id']} -> {label}: its {row['pending']} was not asked for ({err})")
            continue
        line = _record(ws, row, state, label=label)
        if line:
            lines.append(line)
    return lines


def _ask(ws: Workspace, runner, row: dict, account: dict, *, now: datetime) -> RemoteState:
    with ws.catalog.read() as con:
        job = catalogs.get_job(con, row["job_id"])
    request = upload_request(ws, job, row["platform"], account, row)
    session = RemoteSession.from_dict(row["remote_session"])
    client = runner.client(row["platform"], account["username"])
    return with_token(ws, account, client, runner.keyring, lambda token: client.query(token, session, request),
                      now=now)


def _record(ws: Workspace, row: dict, state: RemoteState, *, label: str) -> str | None:
    """Write what the platform answered; the line for the user (None: still owed, nothing new)."""
    job_id, name = row["job_id"], row["platform"]
    if state.status == "failed":
        err = PolicyError(f"{label}: the platform refused the video after publishing it: {state.reason}",
                          reason=state.reason)
        with ws.catalog.write() as con:
            catalogs.update_upload(con, job_id, name, state="failed", pending=None, error_class=type(err).__name__,
                                   error_message=str(err)[:2000])
            catalogs.count_account_error(con, row["account_id"])
            catalogs.log_stage(con, job_id, "upload", status="failed", detail=str(err)[:2000])
            targets = [u["platform"] for u in catalogs.list_uploads(con, job_id=job_id)]
        settle_job(ws, job_id, targets)
        return f"job {job_id} -> {label}: failed: {err}"
    unchanged = state.pending == row["pending"] and (state.remote_id or None) == (row["remote_id"] or None)
    if state.status != "published" or unchanged:
        return None
    with ws.catalog.write() as con:
        catalogs.update_upload(con, job_id, name, pending=state.pending, remote_id=state.remote_id or row["remote_id"],
                               remote_url=state.remote_url or row["remote_url"])
        catalogs.log_stage(con, job_id, "upload", status="ok",
                           detail=f"{label}: {row['pending']} settled" + (f": {state.remote_url}" if state.remote_url
                                                                           else ""))
    if state.pending:
        return None
    return f"job {job_id} -> {label}: its {row['pending']} came: {state.remote_url or state.remote_id or 'settled'}"
