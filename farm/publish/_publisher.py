"""`farm publish`: due ready jobs to accounts, uploaded exactly once per (job, platform), recorded by the driver.

Each upload is a flow (a generator) that yields one step at a time, a plain dict, to an
executor: :class:`LocalUploads` runs it in this process, :class:`RayUploads` on a pool of
Uploader actors. Between steps the driver writes the uploads ledger, in this order:

1. a row for (job, platform) with a unique marker (state ``assigned``);
2. the remote session handle, before the first byte is sent (``started``);
3. the bytes the platform confirmed after each chunk (``uploading``, ``uploaded``);
4. Facebook: ``finishing`` before its finish call, so the call is never made twice;
5. the remote id and URL (``published``, or ``inbox`` for a TikTok draft), or ``failed``.

A driver killed anywhere leaves a row that the next run reconciles with the platform: it
asks what the session holds (YouTube's empty PUT, TikTok's status, Facebook's status) and
resumes there or finishes; a YouTube session lost after its last byte is settled by looking
for the marker among the channel's uploads before anything is sent again.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import signal
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import catalogs
from farm.errors import (
    AuthError,
    FarmError,
    InputError,
    PolicyError,
    QuotaError,
    RetryableError,
    RightsError,
    SessionLostError,
)
from farm.platforms import AccountInfo, RemoteSession, RemoteState, UploadRequest, backoff_s
from farm.publish._accounts import (
    effective_privacy,
    load_tokens,
    needs_refresh,
    privacy_notice,
    refresh_account,
)
from farm.publish._assign import PACIFIC, Planner, job_targets, next_midnight_utc
from farm.publish._steps import StepRunner, error_from_dict
from farm.workspace import Workspace

IN_FLIGHT = ("started", "uploading", "uploaded", "finishing", "processing", "lost")
"""Ledger states a run resumes (``lost``: the session is gone, nothing published; the marker and account stay)."""
PROCESSING_WAIT_S = 120.0
"""How long one run polls a video the platform is still processing before leaving it to the next run."""
POLL_S = 3.0  # TikTok allows 30 status fetches a minute per token
FINISH_GRACE = timedelta(hours=1)
"""A Facebook finish the platform has not acted on after this long is reported, never re-sent."""

Step = dict
Flow = Generator[Step, dict, "Outcome"]


@dataclass
class Outcome:
    """How one (job, platform) upload ended in this run."""

    job_id: int
    platform: str
    account: str
    status: str  # published | inbox | failed | waiting | retry | processing | reconnect
    message: str = ""
    remote_url: str | None = None
    privacy: str | None = None
    size_bytes: int = 0

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class Sweep:
    """What one pass did: outcomes, the assignment reasons (dry run), jobs refused, notices."""

    outcomes: list[Outcome] = field(default_factory=list)
    assignments: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"outcomes": [o.as_dict() for o in self.outcomes], "assignments": self.assignments,
                "refused": self.refused, "notices": self.notices,
                "counts": {s: sum(1 for o in self.outcomes if o.status == s)
                           for s in sorted({o.status for o in self.outcomes})}}


class Reporter:
    """Where a sweep tells the user what happens (the CLI plugs its progress bar in)."""

    def progress(self, key: tuple[int, str], sent_bytes: int) -> None:
        """Upload ``key`` (job, platform) now has ``sent_bytes`` confirmed by its platform."""

    def total(self, n: int, *, uploads: int = 0) -> None:
        """The bytes (and the number of uploads) this sweep has to send."""

    def finished(self, outcome: Outcome) -> None:
        """One upload ended (published, failed, waiting ...)."""

    def note(self, text: str) -> None:
        """A line for the user."""


# -- the driver's side of one upload ----------------------------------------------------------
class Context:
    """What flows share in one sweep: the workspace, the clock, the driver's own step runner
    (token refreshes happen here, in the single writer), and the reporter."""

    def __init__(self, ws: Workspace, *, now: Callable[[], datetime], sleep: Callable[[float], None],
                 reporter: Reporter, runner: StepRunner) -> None:
        self.ws = ws
        self.now = now
        self.sleep = sleep
        self.reporter = reporter
        self.runner = runner
        self.max_retries = ws.settings.platforms.max_retries

    def token_blob(self, account: dict) -> bytes | None:
        if account["platform"] == "local":
            return None
        with self.ws.catalog.read() as con:
            return catalogs.account_tokens(con, account["id"])[0]

    def fresh_tokens(self, account: dict, *, force: bool = False) -> None:
        """Refresh the account's token where it expires soon (or ``force``: it was just refused)."""
        if account["platform"] == "local":
            return
        tokens = load_tokens(self.ws, account, self.runner.keyring)
        if force or needs_refresh(tokens, self.now()):
            refresh_account(self.ws, account, self.runner.client(account["platform"], account["username"]), tokens,
                            self.runner.keyring)

    def ledger(self, job_id: int, platform: str, **sets) -> None:
        with self.ws.catalog.write() as con:
            catalogs.update_upload(con, job_id, platform, **sets)

    def log(self, job_id: int, status: str, detail: str, duration_ms: float | None = None) -> None:
        with self.ws.catalog.write() as con:
            catalogs.log_stage(con, job_id, "upload", status=status, detail=detail, duration_ms=duration_ms)


def _request(ws: Workspace, job: dict, platform: str, account: dict, marker: str, privacy: str) -> UploadRequest:
    """The upload request for a job on a platform: its file and its post text for that platform."""
    posts = job.get("post_metadata") or {}
    meta_platform = platform if platform != "local" else (job.get("platform") or next(iter(posts), None))
    meta = posts.get(meta_platform) if meta_platform else None
    if meta is None and platform != "local":
        from farm.publish._metadata import build_post_metadata

        title = (job["spec"].get("caption") or Path(job["output_path"]).stem)[:90]
        meta = json.loads(build_post_metadata(platform=platform, title=title, description="", hashtags=[],
                                              language=ws.settings.ai.language, affiliate_url=None).to_json())
    meta = meta or {"title": Path(job["output_path"]).stem, "description": "", "hashtags": [], "flags": {}}
    return UploadRequest(
        path=Path(job["output_path"]), size_bytes=int(job["output_size_bytes"] or Path(job["output_path"]).stat().st_size),
        title=meta.get("title") or Path(job["output_path"]).stem, description=meta.get("description") or "",
        marker=marker, privacy=privacy, hashtags=tuple(meta.get("hashtags") or ()), flags=dict(meta.get("flags") or {}),
        page_id=account.get("page_id"), chunk_bytes=ws.settings.publish.chunk_mib * 1024 * 1024,
        metadata={"job_id": job["id"], "platform": meta_platform, "post": meta, "posts": posts})


def upload_flow(ctx: Context, job: dict, platform: str, account: dict) -> Flow:
    """One (job, platform) upload from wherever its ledger row stands to published, failed or a wait."""
    ws = ctx.ws
    label = f"{platform}:{account['username']}"
    with ws.catalog.read() as con:
        row = catalogs.get_upload(con, job["id"], platform)
    refreshed = False
    polled_since: float | None = None  # when this run began waiting for the platform to process
    blob: bytes | None = None  # the token's ciphertext, read when first needed and after a refresh

    def call(kind: str, **kw) -> Generator[Step, dict, object]:
        nonlocal refreshed, blob
        while True:
            if blob is None:
                blob = ctx.token_blob(account)
            step = {"kind": kind, "platform": platform, "account": account["username"], "token_blob": blob,
                    "page_id": account.get("page_id"), "request": request.as_dict(), **kw}
            result = yield step
            if result.get("ok"):
                return result.get("value")
            err = error_from_dict(result)
            if isinstance(err, AuthError) and not refreshed and platform != "local":
                refreshed = True
                ctx.fresh_tokens(account, force=True)  # marks the account and raises when it cannot
                blob = None
                continue
            raise err

    def poll() -> Generator[Step, dict, RemoteState | None]:
        """The platform's state after a pause, or None once this run has waited PROCESSING_WAIT_S."""
        nonlocal polled_since
        if polled_since is None:
            polled_since = time.monotonic()
        elif time.monotonic() - polled_since > PROCESSING_WAIT_S:
            return None
        ctx.sleep(POLL_S)
        return (yield from _query(call, session))

    if row is None:
        marker = f"rf-{job['id']}-{platform[:2]}-{secrets.token_hex(4)}"
        privacy = effective_privacy(account, ws.settings)
        size = int(job["output_size_bytes"] or Path(job["output_path"]).stat().st_size)
        with ws.catalog.write() as con:
            catalogs.insert_upload(con, job_id=job["id"], account_id=account["id"], platform=platform, marker=marker,
                                   size_bytes=size, privacy=privacy)
            row = catalogs.get_upload(con, job["id"], platform)
    request = _request(ws, job, platform, account, row["marker"], row["privacy"] or "public")
    t0 = time.monotonic()

    def done(status: str, message: str, *, state: RemoteState | None = None, ledger_state: str | None = None,
             error: FarmError | None = None) -> Outcome:
        sets: dict = {}
        if ledger_state:
            sets["state"] = ledger_state
        if state is not None:
            sets.update(remote_id=state.remote_id, remote_url=state.remote_url)
            if state.privacy:
                sets["privacy"] = state.privacy
        if ledger_state in catalogs.UPLOAD_DONE:
            sets["published_at"] = ctx.now()
        if error is not None:
            sets.update(error_class=type(error).__name__, error_message=str(error)[:2000])
        elif ledger_state in catalogs.UPLOAD_DONE:
            sets.update(error_class=None, error_message=None)
        if sets:
            ctx.ledger(job["id"], platform, **sets)
        if ledger_state in catalogs.UPLOAD_DONE:
            with ws.catalog.write() as con:
                catalogs.update_account(con, account["id"], last_posted_at=ctx.now())
        if ledger_state == "failed":
            with ws.catalog.write() as con:
                catalogs.count_account_error(con, account["id"])
        log_status = {"published": "ok", "inbox": "ok", "failed": "failed"}.get(status, "info")
        ctx.log(job["id"], log_status, f"{label}: {status}: {message}", (time.monotonic() - t0) * 1000)
        privacy = state.privacy if state is not None and state.privacy else row.get("privacy")
        return Outcome(job["id"], platform, label, status, message, state.remote_url if state else None, privacy,
                       request.size_bytes)

    def give_back() -> None:
        """Nothing was sent on this row's behalf: drop it, so the job may go elsewhere later."""
        with ws.catalog.write() as con:
            catalogs.delete_upload(con, job["id"], platform)

    try:
        ctx.fresh_tokens(account)
        session: RemoteSession | None = None
        state: RemoteState
        if row["state"] == "lost" and platform == "youtube":
            found = yield from call("find")  # the video may have shown up since the session was lost
            if found:
                state = RemoteState(**found)
                return done("published", f"found by its marker {state.remote_url or ''}", state=state,
                            ledger_state="published")
        if row["state"] in ("assigned", "lost"):
            info = yield from call("account_info")
            info = AccountInfo(**{k: tuple(v) if isinstance(v, list) else v for k, v in info.items()})
            _check_before_upload(request, platform, info, account, job)
            with ws.catalog.write() as con:  # counted before the call: a failed init still counts
                if platform in ("youtube", "tiktok"):
                    catalogs.record_call(con, platform, "insert" if platform == "youtube" else "init",
                                         account_id=account["id"], at=ctx.now())
            raw = yield from call("start")
            session = RemoteSession.from_dict(raw)
            with ws.catalog.write() as con:
                catalogs.update_upload(con, job["id"], platform, state="started", remote_session=session.as_dict(),
                                       started_at=ctx.now(), attempts=(row["attempts"] or 0) + 1)
                if catalogs.get_job(con, job["id"])["state"] == "ready":
                    catalogs.move(con, job["id"], "publishing")
            row = {**row, "state": "started"}
            state = RemoteState("uploading", 0)
        else:
            session = RemoteSession.from_dict(row["remote_session"])
            ctx.ledger(job["id"], platform, attempts=(row["attempts"] or 0) + 1)
            state = yield from _query(call, session)
        failures = 0
        while True:
            if state.status == "gone":
                raise SessionLostError(f"{label}: the upload session expired")
            if state.status in ("published", "inbox"):
                what = "sent to the TikTok inbox: finish the post in the app" if state.status == "inbox" else "published"
                if state.privacy in ("private", "self-only") and row.get("privacy") == "public":
                    what += f" ({state.privacy}: the platform made it {state.privacy})"
                elif state.privacy in ("private", "self-only"):
                    what += f" ({state.privacy})"
                return done(state.status, what + (f" {state.remote_url}" if state.remote_url else ""), state=state,
                            ledger_state=state.status)
            if state.status == "failed":
                err = PolicyError(f"{label}: the platform refused the video: {state.reason}", reason=state.reason)
                return done("failed", str(err), state=state, ledger_state="failed", error=err)
            try:
                if state.status == "uploading":
                    state = yield from call("send", session=session.as_dict(), offset=state.received_bytes)
                    state = RemoteState(**state)
                    ctx.reporter.progress((job["id"], platform), state.received_bytes if state.status == "uploading"
                                          else request.size_bytes)
                    ledger = {"published": "uploaded", "inbox": "uploaded"}.get(state.status, state.status)
                    ctx.ledger(job["id"], platform, sent_bytes=state.received_bytes or request.size_bytes,
                               state=ledger if ledger in catalogs.UPLOAD_STATES else "uploading")
                    failures = 0
                elif state.status == "uploaded" and platform in ("facebook", "local"):
                    with ws.catalog.read() as con:
                        asked = catalogs.get_upload(con, job["id"], platform)["finish_requested_at"]
                    if asked is None or platform == "local":
                        ctx.ledger(job["id"], platform, state="finishing", finish_requested_at=ctx.now())
                        try:
                            state = RemoteState(**(yield from call("finish", session=session.as_dict())))
                        except RetryableError as err:
                            if not err.unanswered:  # refused with an answer (a limit, a 5xx): it did nothing
                                ctx.ledger(job["id"], platform, state="uploaded", finish_requested_at=None)
                                return done("retry", f"the finish was refused ({err}); sent again on the next run",
                                            error=err)
                            state = yield from _query(call, session)  # no answer: never a second finish, ask
                    else:
                        if ctx.now() - asked > FINISH_GRACE:
                            err = PolicyError(f"{label}: Facebook has not acted on the finish sent "
                                              f"{asked:%Y-%m-%d %H:%M} UTC; it is not sent twice: check the Page")
                            return done("failed", str(err), ledger_state="failed", error=err)
                        state = yield from poll()
                        if state is None:
                            return done("processing", "finish sent; Facebook is still working on it")
                elif state.status in ("uploaded", "processing"):
                    ctx.ledger(job["id"], platform, state="processing", sent_bytes=request.size_bytes)
                    state = yield from poll()
                    if state is None:
                        return done("processing", "the platform is still processing it; checked again next run")
                else:
                    raise RetryableError(f"{label}: unexpected upload status {state.status!r}")
            except SessionLostError:
                raise
            except RetryableError as err:
                failures += 1
                if failures > ctx.max_retries:
                    return done("retry", f"gave up for now after {failures} tries ({err}); resumed next run",
                                error=err)
                ctx.log(job["id"], "retry", f"{label}: {err}; asking the platform what it holds")
                ctx.sleep(err.retry_after_s if err.retry_after_s is not None else backoff_s(failures))
                state = yield from _query(call, session)
    except SessionLostError as err:
        with ws.catalog.read() as con:
            now_row = catalogs.get_upload(con, job["id"], platform)
        if now_row["finish_requested_at"] is not None or now_row["state"] in ("uploaded", "finishing", "processing"):
            # every byte is in (or the finish went out): starting again could post it twice
            return done("retry", f"{err}; the platform may hold the whole video: asked again next run, never "
                                 "uploaded twice", error=err)
        ctx.ledger(job["id"], platform, state="lost", remote_session=None, sent_bytes=0, finish_requested_at=None,
                   error_class=type(err).__name__, error_message=str(err)[:2000])
        if platform == "youtube":
            try:
                found = yield from call("find")
            except FarmError as find_err:
                return done("retry", f"{err}; looking for the video by its marker failed ({find_err}); "
                                     "looked for again next run", error=find_err)
            if found:
                state = RemoteState(**found)
                return done("published", f"found by its marker after the session was lost {state.remote_url or ''}",
                            state=state, ledger_state="published")
        # Nothing was published under this session: the next run looks again (YouTube) and starts a new
        # session with the same marker and account.
        return done("retry", f"{err}; the upload starts again on the next run (nothing was published)")
    except QuotaError as err:
        reset = err.reset_at or next_midnight_utc(ctx.now(), PACIFIC)
        with ws.catalog.write() as con:
            scope = None if platform == "youtube" else account["id"]
            catalogs.add_hold(con, platform, account_id=scope, until=reset, reason=f"{platform} quota spent")
        if row["state"] == "assigned":
            give_back()
            what = "the job stays ready and waits"
        else:
            what = "the upload waits"
        return done("waiting", f"{platform} quota spent; {what} for the reset at {reset:%Y-%m-%d %H:%M} UTC ({err})",
                    error=None)
    except AuthError as err:
        if row["state"] == "assigned":
            give_back()
        return done("reconnect", f"{err}; reconnect the account (`farm accounts list` shows it)")
    except (PolicyError, RightsError) as err:
        return done("failed", str(err), ledger_state="failed", error=err)
    except InputError as err:
        return done("failed", str(err), ledger_state="failed", error=err)
    except RetryableError as err:
        if row["state"] == "assigned":
            give_back()
        return done("retry", f"{err}; tried again next run")


def _query(call, session: RemoteSession) -> Generator[Step, dict, RemoteState]:
    """What the platform holds now, asked with the idempotent query (retried inside the client)."""
    value = yield from call("query", session=session.as_dict())
    return RemoteState(**value)


def _check_before_upload(request: UploadRequest, platform: str, info: AccountInfo, account: dict, job: dict) -> None:
    """The platform's limits against the file, and what the account may post: refused before any byte."""
    from farm.publish._checks import check_upload

    facts = check_upload(request.path, platform, account=info)
    object.__setattr__(request, "duration_s", facts.duration_s)
    if platform == "tiktok" and request.privacy != "inbox":
        want = "self-only" if request.privacy in ("private", "self-only") else "public"
        if info.privacy_options and want not in info.privacy_options:
            raise PolicyError(f"tiktok:{account['username']}: the account does not offer {want} posts "
                              f"(it offers {', '.join(info.privacy_options)})")
        if want == "self-only" and request.flags.get("brand_content_toggle"):
            raise PolicyError(f"job {job['id']}: TikTok refuses branded content (an affiliate link) in self-only "
                              "posts, and the app may only post self-only until TikTok audits it; use --privacy "
                              "inbox for this account, or publish it after the audit")


# -- executors: where steps run ---------------------------------------------------------------
class LocalUploads:
    """Runs every flow's steps in this process, one upload at a time (``farm publish --local``)."""

    def __init__(self, runner: StepRunner) -> None:
        self.runner = runner

    def drive(self, flows: list[tuple[Flow, Callable[[Outcome], None]]], reporter: Reporter) -> None:
        for flow, on_done in flows:
            try:
                step = next(flow)
                while True:
                    step = flow.send(self.runner.run(step))
            except StopIteration as stop:
                on_done(stop.value)


class RayUploads:
    """Runs steps on a pool of lightweight Uploader actors; the driver keeps every flow and the ledger."""

    def __init__(self, root: Path, *, workers: int, address: str | None = None) -> None:
        import ray

        from actors import Uploader
        from farm.batch import start_ray

        self.started_here, self.cluster = start_ray(address)
        actor = ray.remote(Uploader).options(num_cpus=0.25, max_restarts=1, max_task_retries=0)
        self.actors = [actor.remote(str(root)) for _ in range(max(1, workers))]

    def drive(self, flows: list[tuple[Flow, Callable[[Outcome], None]]], reporter: Reporter) -> None:
        import ray

        waiting = list(flows)
        running: dict = {}  # object ref -> (flow, on_done, actor)
        free = list(self.actors)

        def advance(flow, on_done, actor, result) -> None:
            try:
                step = next(flow) if result is None else flow.send(result)
            except StopIteration as stop:
                free.append(actor)
                on_done(stop.value)
                return
            running[actor.run.remote(step)] = (flow, on_done, actor)

        while waiting or running:
            while waiting and free:
                flow, on_done = waiting.pop(0)
                advance(flow, on_done, free.pop(0), None)
            if not running:
                continue
            ready, _ = ray.wait(list(running), num_returns=1)
            ref = ready[0]
            flow, on_done, actor = running.pop(ref)
            try:
                result = ray.get(ref)
            except Exception as err:  # the actor died: the step is treated as a dropped connection
                result = {"ok": False, "error_class": "RetryableError",
                          "message": f"uploader lost ({type(err).__name__})"}
            advance(flow, on_done, actor, result)

    def close(self) -> None:
        import ray

        for a in self.actors:
            ray.kill(a)
        if self.started_here:
            ray.shutdown()


# -- one sweep ---------------------------------------------------------------------------------
def _due_jobs(con, now: datetime) -> list[dict]:
    return [catalogs.get_job(con, job_id) for job_id in catalogs.due_job_ids(con, now)]


def _refuse_unknown_rights(con, job: dict) -> str | None:
    """The message refusing a job built from media whose licence is unknown (None: all known)."""
    unknown = []
    for inp in catalogs.job_inputs(con, job["id"]):
        media = catalogs.get_media(con, inp["media_id"])
        if media is not None and media["license"] == "unknown":
            unknown.append(f"media {media['id']} ({Path(media['path']).name})")
    if not unknown:
        return None
    return (f"job {job['id']}: refused for publishing: {', '.join(unknown)} has licence unknown; set the licence "
            "with `farm media update ID --license ...` and `farm queue retry`, or leave it unpublished")


def _settle_job(ws: Workspace, job_id: int, targets: list[str]) -> str:
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
        sets = {}
        if want == "failed":
            first = next(rows[p] for p in targets if p in rows)
            sets = {"error_class": first["error_class"], "error_message": first["error_message"]}
        elif want == "published":
            sets = {"error_class": None, "error_message": None}
        catalogs.move(con, job_id, want, sets=sets)
        catalogs.log_stage(con, job_id, "publish", status="ok" if want == "published" else "info",
                           detail=f"{want}: " + ", ".join(f"{p} {rows[p]['state'] if p in rows else 'waiting'}"
                                                          for p in targets))
        return want


def sweep(ws: Workspace, *, platform: str | None = None, dry_run: bool = False, local: bool = True,
          reporter: Reporter | None = None, now: Callable[[], datetime] = catalogs.utcnow,
          sleep: Callable[[float], None] = time.sleep, address: str | None = None, transport=None) -> Sweep:
    """One publishing pass: resume what is under way, assign due jobs, upload, record.

    Args:
        platform: only this platform's uploads.
        dry_run: say which account would take which job and why, change nothing.
        local: run uploads in this process (else on Ray actors).
        now, sleep, transport: the clock, the waits and the HTTP transport (tests).
    """
    reporter = reporter or Reporter()
    result = Sweep()
    at = now()
    if not dry_run:
        with ws.catalog.write() as con:
            # a crash between "row written" and "session stored" left a row with nothing remote behind it
            catalogs.drop_assigned_uploads(con)
    work: list[tuple[dict, str, dict]] = []
    targets_of: dict[int, list[str]] = {}
    with ws.catalog.read() as con:
        jobs = _due_jobs(con, at)
        resume = [u for u in catalogs.list_uploads(con, states=IN_FLIGHT)
                  if platform is None or u["platform"] == platform]
        planner = Planner(con, ws.settings, now=at)
        active = planner.active_platforms()
        busy = {(u["job_id"], u["platform"]) for u in resume}
        for u in resume:
            acc = catalogs.find_account(con, u["account_id"])
            if acc.get("needs_reconnect"):  # its token is dead: the upload waits for the user
                result.assignments.append({"job_id": u["job_id"], "platform": u["platform"], "account": None,
                                           "wait": f"{u['platform']}:{acc['username']} needs reconnect (an upload "
                                                   "is under way on it)", "reasons": []})
                continue
            work.append((catalogs.get_job(con, u["job_id"]), u["platform"], acc))
        seen_notice: set[int] = set()
        for job in jobs:
            rows = {u["platform"]: u for u in catalogs.list_uploads(con, job_id=job["id"])
                    if u["state"] != "assigned" or dry_run}
            targets = list(dict.fromkeys([*job_targets(job, active, planner.account_platforms()), *rows]))
            targets_of[job["id"]] = targets
            why = _refuse_unknown_rights(con, job)
            if why is not None:
                if not any(u["state"] in IN_FLIGHT for u in rows.values()):
                    result.refused.append({"job_id": job["id"], "message": why})
                continue
            for plat in targets:
                if (platform is not None and plat != platform) or plat in rows or (job["id"], plat) in busy:
                    continue
                target = planner.choose(job["id"], plat)
                result.assignments.append({
                    "job_id": job["id"], "platform": plat,
                    "account": f"{plat}:{target.account['username']}" if target.account else None,
                    "wait": target.wait, "reasons": target.reasons})
                if target.account is None:
                    continue
                acc = target.account
                if acc["id"] not in seen_notice:
                    seen_notice.add(acc["id"])
                    notice = privacy_notice(acc, ws.settings)
                    if notice:
                        result.notices.append(f"{plat}:{acc['username']}: {notice}")
                work.append((job, plat, acc))
    if dry_run:
        return result
    for r in result.refused:
        with ws.catalog.write() as con:
            state = catalogs.get_job(con, r["job_id"])["state"]
            catalogs.move(con, r["job_id"], "failed", expect=(state,) if state in ("ready", "publishing") else None,
                          sets={"error_class": "RightsError", "error_message": r["message"]})
            catalogs.log_stage(con, r["job_id"], "publish", status="failed", detail=r["message"])
        reporter.note(f"refused: {r['message']}")
    for a in result.assignments:
        if a["account"] is None and a["wait"]:
            reporter.note(f"job {a['job_id']} -> {a['platform']}: waiting: {a['wait']}")
    # a job whose uploads all ended (a run killed before it recorded the job's state): settle it now
    in_work = {job["id"] for job, _, _ in work}
    for job in jobs:
        if job["state"] == "publishing" and job["id"] not in in_work:
            _settle_job(ws, job["id"], targets_of[job["id"]])
    if not work:
        return result
    for job, plat, _ in work:
        targets = targets_of.setdefault(job["id"], job_targets(job, active, planner.account_platforms()))
        if plat not in targets:
            targets.append(plat)
    runner = StepRunner(ws.root, transport=transport, sleep=sleep)
    ctx = Context(ws, now=now, sleep=sleep, reporter=reporter, runner=runner)
    reporter.total(sum(int(job["output_size_bytes"] or 0) for job, _, _ in work), uploads=len(work))
    executor = LocalUploads(runner) if local else RayUploads(ws.root, workers=ws.settings.publish.workers,
                                                               address=address)

    def finished(outcome: Outcome) -> None:
        result.outcomes.append(outcome)
        reporter.finished(outcome)
        reporter.note(f"job {outcome.job_id} -> {outcome.account}: {outcome.status}: {outcome.message}")
        _settle_job(ws, outcome.job_id, targets_of[outcome.job_id])

    try:
        executor.drive([(upload_flow(ctx, job, plat, acc), finished) for job, plat, acc in work], reporter)
    finally:
        if isinstance(executor, RayUploads):
            executor.close()
        runner.close()
    return result


class StopFlag:
    """Set by SIGTERM or SIGINT: the publisher finishes the pass in hand and stops."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.event.set())
