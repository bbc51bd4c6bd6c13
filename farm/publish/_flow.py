"""One (job, platform) upload as a flow of steps, from wherever its ledger row stands to published, failed or a wait.

A flow is a generator that yields one step at a time, a plain dict, to an executor (this
process, or an Uploader actor) and gets the step's result back; between steps the driver
writes the uploads ledger, in this order:

1. a row for (job, platform) with a unique marker (state ``assigned``);
2. the remote session handle, before the first byte is sent (``started``);
3. the bytes the platform confirmed after each chunk (``uploading``, ``uploaded``);
4. before a finish call the platform takes once (Facebook): ``finishing``, so it is never sent twice;
5. the remote id and URL (``published``, or ``inbox`` for a TikTok draft), or ``failed``; and
   what the platform still owes about a published video (``pending``: a public id, a copyright verdict).

A driver killed anywhere leaves a row that the next run reconciles with the platform: it
asks what the session holds and resumes there or finishes; a session lost after its last
byte is settled by looking for the marker among the account's uploads (where the platform
can be asked) before anything is sent again. Each step refreshes a refused token once and
goes on; only a refused refresh marks the account for a reconnect.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import catalogs
from farm.errors import (
    AuthError,
    FarmError,
    InputError,
    KeyringError,
    PolicyError,
    QuotaError,
    RetryableError,
    ScopeError,
    SessionLostError,
)
from farm.platforms import AccountInfo, RemoteSession, RemoteState, UploadRequest, backoff_s, platform
from farm.publish._account_tokens import live_tokens, mark_key_problem, mark_missing_scope
from farm.publish._accounts import INTERACTIONS, effective_privacy
from farm.publish._checks import check_upload, video_facts
from farm.publish._steps import StepRunner, error_from_dict
from farm.workspace import Workspace

PROCESSING_WAIT_S = 120.0
"""How long one run polls a video the platform is still processing before leaving it to the next run."""
POLL_S = 3.0  # TikTok allows 30 status fetches a minute per token
FINISH_GRACE = timedelta(hours=1)
"""A finish the platform has not acted on after this long is reported, never re-sent."""

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
        if platform(account["platform"]).tokens is None:
            return None
        with self.ws.catalog.read() as con:
            return catalogs.account_tokens(con, account["id"])[0]

    def fresh_tokens(self, account: dict, *, force: bool = False) -> None:
        """Refresh the account's token where it expires soon (or ``force``: it was just refused)."""
        if platform(account["platform"]).tokens is None:
            return
        live_tokens(self.ws, account, self.runner.client(account["platform"], account["username"]),
                    self.runner.keyring, now=self.now(), force=force)

    def ledger(self, job_id: int, name: str, **sets) -> None:
        with self.ws.catalog.write() as con:
            catalogs.update_upload(con, job_id, name, **sets)

    def log(self, job_id: int, status: str, detail: str, duration_ms: float | None = None) -> None:
        with self.ws.catalog.write() as con:
            catalogs.log_stage(con, job_id, "upload", status=status, detail=detail, duration_ms=duration_ms)


def upload_request(ws: Workspace, job: dict, name: str, account: dict, row: dict) -> UploadRequest:
    """The upload request for a job on a platform: its file, its post text for that platform (an
    outbox takes the job's own platform's), and what the account lets viewers do."""
    posts = job.get("post_metadata") or {}
    outbox = platform(name).outbox
    meta_platform = (job.get("platform") or next(iter(posts), None)) if outbox else name
    meta = posts.get(meta_platform) if meta_platform else None
    output = Path(job["output_path"])
    if meta is None and not outbox:
        from farm.publish._metadata import build_post_metadata

        title = (job["spec"].get("caption") or output.stem)[:90]
        meta = json.loads(build_post_metadata(platform=name, title=title, description="", hashtags=[],
                                              language=ws.settings.ai.language, affiliate_url=None).to_json())
    meta = meta or {"title": output.stem, "description": "", "hashtags": [], "flags": {}}
    return UploadRequest(
        path=output, size_bytes=int(job["output_size_bytes"] or output.stat().st_size),
        title=meta.get("title") or output.stem, description=meta.get("description") or "", marker=row["marker"],
        privacy=row["privacy"] or "public", hashtags=tuple(meta.get("hashtags") or ()),
        flags=dict(meta.get("flags") or {}), page_id=account.get("page_id"),
        interactions={k: bool(account.get(f"allow_{k}")) for k in INTERACTIONS},
        chunk_bytes=ws.settings.publish.chunk_mib * 1024 * 1024,
        metadata={"job_id": job["id"], "platform": meta_platform, "post": meta, "posts": posts})


class UploadFlow:
    """One (job, platform) upload; :meth:`run` is the flow (a generator of steps, returning an :class:`Outcome`)."""

    def __init__(self, ctx: Context, job: dict, name: str, account: dict) -> None:
        self.ctx, self.ws, self.job, self.name, self.account = ctx, ctx.ws, job, name, account
        self.platform = platform(name)
        self.label = f"{name}:{account['username']}"
        with self.ws.catalog.read() as con:
            self.row: dict | None = catalogs.get_upload(con, job["id"], name)
        self.blob: bytes | None = None  # the token's ciphertext, read when first needed and after a refresh
        self.polled_since: float | None = None  # when this run began waiting for the platform to process
        self.t0 = time.monotonic()
        self.session: RemoteSession | None = None
        self.request: UploadRequest | None = None

    # -- the flow ----------------------------------------------------------------------------
    def run(self) -> Flow:
        try:
            self.ctx.fresh_tokens(self.account)
            if self.row is None:
                self._assign()
            self.request = upload_request(self.ws, self.job, self.name, self.account, self.row)
            state = yield from self._begin()
            if isinstance(state, Outcome):
                return state
            return (yield from self._drive(state))
        except SessionLostError as err:
            return (yield from self._lost(err))
        except QuotaError as err:
            return self._quota(err)
        except KeyringError as err:
            return self._unreadable(err)
        except ScopeError as err:
            return self._scope(err)
        except AuthError as err:
            self._give_back()
            return self._done("reconnect", f"{err}; reconnect the account (`farm accounts list` shows it)")
        except (PolicyError, InputError) as err:  # RightsError is an InputError
            return self._done("failed", str(err), ledger_state="failed", error=err)
        except RetryableError as err:
            self._give_back()
            return self._done("retry", f"{err}; tried again next run")

    def _assign(self) -> None:
        """The ledger row: a marker unique per (job, platform), the account, the privacy asked for."""
        marker = f"rf-{self.job['id']}-{self.name[:2]}-{secrets.token_hex(4)}"
        size = int(self.job["output_size_bytes"] or Path(self.job["output_path"]).stat().st_size)
        with self.ws.catalog.write() as con:
            catalogs.insert_upload(con, job_id=self.job["id"], account_id=self.account["id"], platform=self.name,
                                   marker=marker, size_bytes=size,
                                   privacy=effective_privacy(self.account, self.ws.settings))
            self.row = catalogs.get_upload(con, self.job["id"], self.name)

    def _begin(self) -> Generator[Step, dict, RemoteState | Outcome]:
        """Where this run starts: a lost upload looked for, a new session, or the session's state."""
        if self.row["state"] == "lost" and self.platform.finds_lost:
            self._shape()
            found = yield from self._call("find")  # the video may have shown up since the session was lost
            if found:
                state = RemoteState(**found)
                return self._done("published", f"found by its marker {state.remote_url or ''}", state=state,
                                  ledger_state="published")
        if self.row["state"] in ("assigned", "lost"):
            return (yield from self._start())
        self._shape()
        self.session = RemoteSession.from_dict(self.row["remote_session"])
        self.ctx.ledger(self.job["id"], self.name, attempts=(self.row["attempts"] or 0) + 1)
        return (yield from self._query())

    def _shape(self) -> None:
        """A run that does not start anew (``_check`` does that): the video's shape, for its address."""
        facts = video_facts(self.request.path)
        self.request = dataclasses.replace(self.request, duration_s=facts.duration_s, width=facts.width,
                                           height=facts.height)

    def _start(self) -> Generator[Step, dict, RemoteState]:
        """Check the file and the account, count the platform's limited calls, open the session and
        store it before any byte is sent."""
        raw = yield from self._call("account_info")
        info = AccountInfo(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
        self._check(info)
        now = self.ctx.now()
        with self.ws.catalog.write() as con:  # counted before the call: a failed init still counts
            for limit in self.platform.limits:
                if limit.counts == "calls":
                    catalogs.record_call(con, self.name, limit.call, account_id=self.account["id"], at=now)
        self.session = RemoteSession.from_dict((yield from self._call("start")))
        with self.ws.catalog.write() as con:
            catalogs.update_upload(con, self.job["id"], self.name, state="started",
                                   remote_session=self.session.as_dict(), started_at=self.ctx.now(),
                                   attempts=(self.row["attempts"] or 0) + 1)
            if catalogs.get_job(con, self.job["id"])["state"] == "ready":
                catalogs.move(con, self.job["id"], "publishing")
        self.row = {**self.row, "state": "started"}
        return RemoteState("uploading", 0)

    def _check(self, info: AccountInfo) -> None:
        """The platform's limits against the file, and what the account may post: refused before any byte."""
        facts = check_upload(self.request.path, self.name, account=info)
        self.request = dataclasses.replace(
            self.request, duration_s=facts.duration_s, width=facts.width, height=facts.height,
            interactions=self.platform.interactions(self.request.interactions, info))
        self.platform.check_request(self.request, info, label=self.label)

    def _drive(self, state: RemoteState) -> Generator[Step, dict, Outcome]:
        """Steps until the platform has the video published, refused or still processing, retrying
        transient failures within the bound: a chunk the platform takes again as it was is resent,
        anything else is resumed from what the platform says it holds."""
        failures = 0
        while True:
            ended = self._ended(state)
            if ended is not None:
                return ended
            try:
                step = yield from self._step(state)
                if isinstance(step, Outcome):
                    return step
                state, failures = step, 0
            except SessionLostError:
                raise
            except RetryableError as err:
                failures += 1
                if failures > self.ctx.max_retries:
                    return self._done("retry", f"gave up for now after {failures} tries ({err}); resumed next run",
                                      error=err)
                resend = self.platform.resend_chunks and state.status == "uploading"
                self.ctx.log(self.job["id"], "retry", f"{self.label}: {err}; "
                             + ("sending the chunk again" if resend else "asking the platform what it holds"))
                self.ctx.sleep(err.retry_after_s if err.retry_after_s is not None else backoff_s(failures))
                if not resend:
                    state = yield from self._query()

    def _step(self, state: RemoteState) -> Generator[Step, dict, RemoteState | Outcome]:
        if state.status == "uploading":
            return (yield from self._send(state))
        if state.status == "uploaded" and self.platform.finish != "none":
            return (yield from self._finish())
        if state.status in ("uploaded", "processing"):
            self.ctx.ledger(self.job["id"], self.name, state="processing", sent_bytes=self.request.size_bytes)
            polled = yield from self._poll()
            if polled is None:
                return self._done("processing", "the platform is still processing it; checked again next run")
            return polled
        raise RetryableError(f"{self.label}: unexpected upload status {state.status!r}")

    def _send(self, state: RemoteState) -> Generator[Step, dict, RemoteState]:
        """One chunk from where the platform is; the bytes it confirmed go to the ledger."""
        state = RemoteState(**(yield from self._call("send", session=self.session.as_dict(),
                                                     offset=state.received_bytes)))
        size = self.request.size_bytes
        self.ctx.reporter.progress((self.job["id"], self.name), state.received_bytes if state.status == "uploading"
                                   else size)
        ledger = {"published": "uploaded", "inbox": "uploaded"}.get(state.status, state.status)
        self.ctx.ledger(self.job["id"], self.name, sent_bytes=state.received_bytes or size,
                        state=ledger if ledger in catalogs.UPLOAD_STATES else "uploading")
        return state

    def _finish(self) -> Generator[Step, dict, RemoteState | Outcome]:
        """The finish call: made once (``finishing`` is recorded before it) where the platform takes it
        once; after a lost answer only a status query says whether it took, never a second finish."""
        with self.ws.catalog.read() as con:
            asked = catalogs.get_upload(con, self.job["id"], self.name)["finish_requested_at"]
        if asked is not None and self.platform.finish == "once":
            if self.ctx.now() - asked > FINISH_GRACE:
                err = PolicyError(f"{self.label}: {self.platform.label} has not acted on the finish sent "
                                  f"{asked:%Y-%m-%d %H:%M} UTC; it is not sent twice: check the account")
                return self._done("failed", str(err), ledger_state="failed", error=err)
            polled = yield from self._poll()
            return polled if polled is not None else self._done(
                "processing", f"finish sent; {self.platform.label} is still working on it")
        self.ctx.ledger(self.job["id"], self.name, state="finishing", finish_requested_at=self.ctx.now())
        try:
            return RemoteState(**(yield from self._call("finish", session=self.session.as_dict())))
        except FarmError as err:
            if isinstance(err, RetryableError) and err.unanswered:
                return (yield from self._query())  # no answer: never a second finish, ask
            # refused with an answer (a limit, a 5xx, a dead token, a missing permission): it did nothing
            self.ctx.ledger(self.job["id"], self.name, state="uploaded", finish_requested_at=None)
            if not isinstance(err, RetryableError):
                raise
            return self._done("retry", f"the finish was refused ({err}); sent again on the next run", error=err)

    # -- talking to the platform ----------------------------------------------------------------
    def _call(self, kind: str, **kw) -> Generator[Step, dict, object]:
        """One step on the executor. A refused token is refreshed once for this step and the step
        sent again; only a refused refresh marks the account (``refresh_account``)."""
        refreshed = False
        while True:
            if self.blob is None:
                self.blob = self.ctx.token_blob(self.account)
            result = yield {"kind": kind, "platform": self.name, "account": self.account["username"],
                            "token_blob": self.blob, "page_id": self.account.get("page_id"),
                            "request": self.request.as_dict(), **kw}
            if result.get("ok"):
                return result.get("value")
            err = error_from_dict(result)
            if type(err) is AuthError and self.platform.tokens is not None:
                if refreshed:
                    raise RetryableError(f"{err} (refused again right after a refresh; tried again later)")
                refreshed = True
                self.ctx.fresh_tokens(self.account, force=True)  # marks the account and raises when refused
                self.blob = None
                continue
            raise err

    def _query(self) -> Generator[Step, dict, RemoteState]:
        """What the platform holds now, asked with the idempotent query (retried inside the client)."""
        return RemoteState(**(yield from self._call("query", session=self.session.as_dict())))

    def _poll(self) -> Generator[Step, dict, RemoteState | None]:
        """The platform's state after a pause, or None once this run has waited PROCESSING_WAIT_S."""
        if self.polled_since is None:
            self.polled_since = time.monotonic()
        elif time.monotonic() - self.polled_since > PROCESSING_WAIT_S:
            return None
        self.ctx.sleep(POLL_S)
        return (yield from self._query())

    # -- endings -----------------------------------------------------------------------------
    def _ended(self, state: RemoteState) -> Outcome | None:
        """The outcome when ``state`` ends the upload: published, sent to an inbox, or refused."""
        if state.status == "gone":
            raise SessionLostError(f"{self.label}: the upload session expired")
        if state.status == "failed":
            err = PolicyError(f"{self.label}: the platform refused the video: {state.reason}", reason=state.reason)
            return self._done("failed", str(err), state=state, ledger_state="failed", error=err)
        if state.status not in ("published", "inbox"):
            return None
        what = f"sent to the {self.platform.label} inbox: finish the post in the app" if state.status == "inbox" \
            else "published"
        if state.privacy in ("private", "self-only") and self.row.get("privacy") == "public":
            what += f" ({state.privacy}: the platform made it {state.privacy})"
        elif state.privacy in ("private", "self-only"):
            what += f" ({state.privacy})"
        if state.pending:
            what += f"; its {state.pending} is asked for again on later passes"
        return self._done(state.status, what + (f" {state.remote_url}" if state.remote_url else ""), state=state,
                          ledger_state=state.status)

    def _lost(self, err: SessionLostError) -> Generator[Step, dict, Outcome]:
        """The platform forgot the session: asked again later when it may hold the whole video, else
        the row is ``lost`` (marker and account kept) and the video looked for, or started anew next run."""
        with self.ws.catalog.read() as con:
            now_row = catalogs.get_upload(con, self.job["id"], self.name)
        if now_row["finish_requested_at"] is not None or now_row["state"] in ("uploaded", "finishing", "processing"):
            # every byte is in (or the finish went out): starting again could post it twice
            return self._done("retry", f"{err}; the platform may hold the whole video: asked again next run, never "
                                       "uploaded twice", error=err)
        self.ctx.ledger(self.job["id"], self.name, state="lost", remote_session=None, sent_bytes=0,
                        finish_requested_at=None, error_class=type(err).__name__, error_message=str(err)[:2000])
        if self.platform.finds_lost:
            try:
                found = yield from self._call("find")
            except FarmError as find_err:
                if isinstance(find_err, ScopeError):  # finding it reads the account's uploads: a statistics scope
                    mark_missing_scope(self.ws, self.account, find_err.scope, str(find_err))
                return self._done("retry", f"{err}; looking for the video by its marker failed ({find_err}); "
                                           "looked for again next run", error=find_err)
            if found:
                state = RemoteState(**found)
                return self._done("published", f"found by its marker after the session was lost "
                                  f"{state.remote_url or ''}", state=state, ledger_state="published")
        return self._done("retry", f"{err}; the upload starts again on the next run (nothing was published)")

    def _quota(self, err: QuotaError) -> Outcome:
        """A spent quota holds its scope (the project, or this account) for its bucket until the reset."""
        reset = err.reset_at or self.ctx.now() + timedelta(hours=24)
        with self.ws.catalog.write() as con:
            catalogs.add_hold(con, self.name, account_id=None if err.scope == "project" else self.account["id"],
                              until=reset, reason=f"{self.name} quota spent", bucket=err.bucket)
        what = "the job stays ready and waits" if self._give_back() else "the upload waits"
        return self._done("waiting", f"{self.name} quota spent; {what} for the reset at {reset:%Y-%m-%d %H:%M} UTC "
                                     f"({err})")

    def _unreadable(self, err: KeyringError) -> Outcome:
        """The token cannot be decrypted: nothing is sent, the job stays ready, the account is marked."""
        mark_key_problem(self.ws, self.account, f"its token cannot be decrypted with the workspace's keys ({err})")
        self._give_back()
        return self._done("reconnect", f"{err}; the job stays ready until the key comes back or the account is "
                                       "reconnected")

    def _scope(self, err: ScopeError) -> Outcome:
        mark_missing_scope(self.ws, self.account, err.scope, str(err))
        self._give_back()
        return self._done("reconnect", f"{err}; reconnect the account (`farm accounts list` shows it)")

    def _give_back(self) -> bool:
        """Nothing was sent on this row's behalf: drop it, so the job may go elsewhere later. True when dropped."""
        if self.row is None or self.row["state"] != "assigned":
            return False
        with self.ws.catalog.write() as con:
            catalogs.delete_upload(con, self.job["id"], self.name)
        return True

    def _done(self, status: str, message: str, *, state: RemoteState | None = None, ledger_state: str | None = None,
              error: FarmError | None = None) -> Outcome:
        """Record how this run ended (ledger, account, process log) and say it."""
        sets: dict = {"state": ledger_state} if ledger_state else {}
        if state is not None:
            sets.update(remote_id=state.remote_id, remote_url=state.remote_url, pending=state.pending)
            if state.privacy:
                sets["privacy"] = state.privacy
        done = ledger_state in catalogs.UPLOAD_DONE
        if done:
            sets["published_at"] = self.ctx.now()
        if error is not None:
            sets.update(error_class=type(error).__name__, error_message=str(error)[:2000])
        elif done:
            sets.update(error_class=None, error_message=None)
        if sets and self.row is not None:
            self.ctx.ledger(self.job["id"], self.name, **sets)
        if done or ledger_state == "failed":
            with self.ws.catalog.write() as con:
                if done:
                    catalogs.update_account(con, self.account["id"], last_posted_at=self.ctx.now())
                else:
                    catalogs.count_account_error(con, self.account["id"])
        log_status = {"published": "ok", "inbox": "ok", "failed": "failed"}.get(status, "info")
        self.ctx.log(self.job["id"], log_status, f"{self.label}: {status}: {message}", (time.monotonic() - self.t0) * 1000)
        privacy = state.privacy if state is not None and state.privacy else (self.row or {}).get("privacy")
        size = self.request.size_bytes if self.request is not None else int(self.job.get("output_size_bytes") or 0)
        return Outcome(self.job["id"], self.name, self.label, status, message, state.remote_url if state else None,
                       privacy, size)
