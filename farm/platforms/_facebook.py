"""Facebook: the descriptor (Facebook Login, Page tokens, limits), and the Graph API client for Reels on a Page:
start a session, upload the file in one request, publish once, read the status and its copyright check; read
each reel's insights, one retired metric never costing the others."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from farm.errors import AuthError, FarmError, InputError, PolicyError, RetryableError, ScopeError, SessionLostError
from farm.platforms._base import (
    AccountInfo,
    RemoteSession,
    RemoteState,
    Secret,
    UploadRequest,
    VideoStats,
    file_body,
    json_body,
    parse_count,
    retry_after,
    scrub,
    utc_now,
    with_retries,
)
from farm.platforms._client import PlatformClient
from farm.platforms._descriptor import Limit, OAuth, Platform, PlatformSpec, Statistics, TextRules, TokenRules
from farm.platforms._facebook_login import FacebookLogin

if TYPE_CHECKING:
    import httpx

# Graph API error codes: 4 app / 17 user / 32 Page / 613 call-rate limits, 80000-80014 the
# business-use-case rate limits (all lift with time); 1 unknown and 2 service errors (transient).
_RETRY_CODES = frozenset({1, 2, 4, 17, 32, 613}) | frozenset(range(80000, 80015))
_RECONNECT = "Page tokens cannot be refreshed; reconnect the account"

REELS_METRICS = ("blue_reels_play_count", "post_video_likes_by_reaction_type", "post_video_social_actions")
"""The ``video_insights`` Reels metrics read (all ``lifetime``): plays (sessions of 1 ms or more,
replays excluded), reactions by type (summed: reactions count as likes), and comments and
shares (``post_video_social_actions``, a breakdown by action). See docs/platforms.md."""
_RETIRED_METRIC = "valid insights metric"
"""Error 100's words for a metric Meta retired ("(#100) The value must be a valid insights metric"):
one such metric fails the whole request, so the metrics are then asked one by one."""


def _reel_url(video_id: str) -> str:
    return f"https://www.facebook.com/reel/{video_id}"


class FacebookClient(FacebookLogin, PlatformClient):
    """A thin client over the Graph API's Reels publishing (see ``docs/platforms.md``).

    ``send`` uploads from the offset to the end in one request; ``finish`` is the one call that
    publishes and is made exactly once per invocation, never retried here: after a dropped
    connection only a status query can tell whether it took, and the publisher asks it.
    """

    platform = "facebook"
    auth_scheme = "OAuth"

    def account_info(self, token: Secret, *, page_id: str | None = None) -> AccountInfo:
        """Fixed, no call: Page reels are public and 3 to 90 seconds long."""
        return AccountInfo(("public",), min_duration_s=3, max_duration_s=90)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._retired: dict[str, str] = {}

    def newly_retired(self) -> dict[str, str]:
        return dict(self._retired)

    # -- upload ----------------------------------------------------------------------------

    def start(self, token: Secret, request: UploadRequest) -> RemoteSession:
        """Open an upload session on the Page (no byte of video)."""
        page = self._page(request)
        what = "start upload"
        resp = self._request("POST", f"{self.graph}/{page}/video_reels", what=what, token=token,
                             data={"upload_phase": "start"})
        body = json_body(resp)
        if not resp.is_success or "error" in body:
            raise self._error(resp, what, token, body)
        video_id = body.get("video_id")
        if not video_id:
            raise RetryableError("facebook start upload: the answer held no video_id")
        video_id = str(video_id)
        # The bytes go to {upload_base}/{video_id} (docs/platforms.md), which is what Facebook's own
        # upload_url says; built from settings so a test server receives them too.
        return RemoteSession(platform=self.platform, handle=video_id,
                             upload_url=f"{self.upload_base}/{video_id}",
                             chunk_bytes=request.size_bytes, started_at=utc_now(), extra={"page_id": page})

    def send(self, token: Secret, session: RemoteSession, request: UploadRequest, *, offset: int,
             on_bytes: Callable[[int], None] | None = None) -> RemoteState:
        """Upload the bytes from ``offset`` to the end in one request."""
        size = request.size_bytes
        if offset >= size:
            return self.query(token, session, request)
        length = size - offset
        body = file_body(request.path, offset=offset, length=length, size_bytes=size, on_bytes=on_bytes)
        what = "upload"
        url = session.upload_url or f"{self.upload_base}/{session.handle}"
        resp = self._request("POST", url, what=what, token=token, content=body,
                             headers={"offset": str(offset), "file_size": str(size),
                                      "Content-Type": "application/octet-stream", "Content-Length": str(length)})
        answer = json_body(resp)
        if resp.is_success and answer.get("success") is True:
            return RemoteState("uploaded", received_bytes=size)
        debug = answer.get("debug_info")
        if isinstance(debug, dict) and "error" not in answer:
            # The upload host's own error shape: it says whether trying again can help.
            text = scrub(f"facebook {what}: HTTP {resp.status_code} {debug.get('type') or ''}: "
                         f"{debug.get('message') or ''}".rstrip(": "), token)
            if debug.get("retriable") or resp.status_code >= 500:
                raise RetryableError(text, retry_after_s=retry_after(resp))
            raise PolicyError(text, reason=scrub(str(debug.get("message") or text), token))
        if resp.is_success and "error" not in answer:
            raise RetryableError(f"facebook {what}: HTTP {resp.status_code} without success; query the upload")
        raise self._error(resp, what, token, answer, session_call=True)

    def query(self, token: Secret, session: RemoteSession, request: UploadRequest) -> RemoteState:
        """The reel's status phases, in the farm's words.

        ``uploaded`` (every byte in, waiting for finish) lasts as long as the publishing phase
        has not started, whatever processing does: saying ``processing`` there would leave a
        reel that was never finished unpublished for good.
        """
        what = "status"

        def call() -> dict:
            resp = self._request("GET", f"{self.graph}/{session.handle}", what=what,
                                 token=token, params={"fields": "status,copyright_check_information"})
            body = json_body(resp)
            if not resp.is_success or "error" in body:
                raise self._error(resp, what, token, body, session_call=True)
            return body

        body = with_retries(call, retries=self.settings.max_retries, sleep=self.sleep, what=f"facebook {what}")
        state = self._state(body.get("status") or {}, session, request)
        return _with_copyright(state, body)

    def finish(self, token: Secret, session: RemoteSession, request: UploadRequest) -> RemoteState:
        """Publish the reel: one call, never retried here (see the class docstring), then the
        status. A reel whose finish was accepted is never reported ``uploaded`` again."""
        page = session.extra.get("page_id") or self._page(request)
        what = "finish (publish)"
        resp = self._request("POST", f"{self.graph}/{page}/video_reels", what=what, token=token,
                             data={"upload_phase": "finish", "video_id": session.handle, "video_state": "PUBLISHED",
                                   "description": request.description})
        body = json_body(resp)
        if not resp.is_success or "error" in body:
            raise self._error(resp, what, token, body)
        if body.get("success") is not True:
            raise RetryableError("facebook finish (publish): not accepted (success is not true); query the reel")
        processing = RemoteState("processing", received_bytes=request.size_bytes, remote_id=session.handle,
                                 remote_url=_reel_url(session.handle), privacy="public")
        try:
            state = self.query(token, session, request)
        except RetryableError:
            return processing  # the publish was accepted; the next poll says more
        return processing if state.status in ("uploading", "uploaded") else state

    # -- statistics ------------------------------------------------------------------------

    def _video_stats(self, token: Secret, ids: list[str], privacy: dict[str, str]) -> dict[str, VideoStats]:
        """``GET /{video_id}/video_insights`` with the Reels metrics, one request per reel (the
        Graph API has no batch read of insights); Page reels are public, so privacy changes nothing."""
        return {video_id: self._reel_stats(token, video_id) for video_id in ids}

    def _insights(self, token: Secret, video_id: str, metrics: list[str]) -> dict | None:
        """The insights answer for ``metrics``; None when the reel is gone. A metric Meta retired
        fails the whole request (error 100): then each is asked alone, the retired ones are kept
        in ``newly_retired()`` and never asked again by this client, and the rest are answered."""
        what = "video insights"

        def call(names: list[str]) -> dict | None:
            resp = self._request("GET", f"{self.graph}/{video_id}/video_insights", what=what, token=token,
                                 params={"metric": ",".join(names), "period": "lifetime"})
            body = json_body(resp)
            if resp.is_success and "error" not in body:
                return body
            err = body.get("error") if isinstance(body.get("error"), dict) else {}
            if resp.status_code == 404 or (err.get("code") == 100 and err.get("error_subcode") == 33):
                return None  # "Object with ID ... does not exist": deleted since it was posted
            if err.get("code") == 100 and _RETIRED_METRIC in str(err.get("message") or ""):
                raise _MetricRefused(scrub(str(err.get("message")), token))
            raise self._error(resp, what, token, body)

        def retried(names: list[str]) -> dict | None:
            return with_retries(lambda: call(names), retries=self.settings.max_retries, sleep=self.sleep,
                                what=f"facebook {what}")

        try:
            return retried(metrics)
        except _MetricRefused:
            pass
        merged: dict = {"data": []}
        for name in metrics:
            try:
                body = retried([name])
            except _MetricRefused as refused:
                self._retired[name] = str(refused)
                continue
            if body is None:
                return None
            merged["data"] += [row for row in body.get("data") or [] if isinstance(row, dict)]
        return merged

    def _reel_stats(self, token: Secret, video_id: str) -> VideoStats:
        if not video_id.isdigit():
            raise InputError(f"facebook statistics: invalid video id ({video_id!r}): Graph ids are digits")
        wanted = [m for m in REELS_METRICS if m not in self.retired_metrics and m not in self._retired]
        body = self._insights(token, video_id, wanted) if wanted else {"data": []}
        if body is None:
            return VideoStats.unavailable(video_id, "not found (deleted)")
        metrics: dict[str, object] = {}
        for row in body.get("data") or []:
            if not isinstance(row, dict) or row.get("name") not in REELS_METRICS:
                continue
            values = row.get("values")
            if isinstance(values, list) and values and isinstance(values[0], dict) and "value" in values[0]:
                metrics[row["name"]] = values[0]["value"]  # lifetime: one value
        if not metrics:
            # Insights come some time after publishing, and never for a video that is not a reel.
            return VideoStats.unavailable(video_id, "no insights yet (Facebook returned none)")
        social = metrics.get("post_video_social_actions")
        counts = {"views": parse_count(metrics.get("blue_reels_play_count")),
                  "likes": _total(metrics.get("post_video_likes_by_reaction_type")),
                  "comments": _bucket(social, "comment"), "shares": _bucket(social, "share")}
        missing = [name for name, value in counts.items() if value is None]
        return VideoStats(video_id, True, **counts, note=f"Facebook gave no {', '.join(missing)}" if missing else None)

    # -- plumbing --------------------------------------------------------------------------

    def _state(self, status: dict, session: RemoteSession, request: UploadRequest) -> RemoteState:
        size = request.size_bytes
        phases = {name: (status.get(name) or {}) for name in ("uploading_phase", "processing_phase", "publishing_phase")}
        for name, phase in phases.items():
            if phase.get("status") == "error":
                errors = phase.get("errors") or []
                detail = next((e.get("message") for e in errors if isinstance(e, dict) and e.get("message")), None)
                return RemoteState("failed", reason=f"facebook {name.replace('_', ' ')}: {detail or 'error'}")
        video_status = status.get("video_status")
        if video_status == "error":
            return RemoteState("failed", reason="facebook: video_status error")
        if video_status == "expired":
            return RemoteState("gone", reason="facebook: the upload session expired")
        publishing = phases["publishing_phase"].get("status")
        if publishing == "complete":
            return RemoteState("published", received_bytes=size, remote_id=session.handle,
                               remote_url=_reel_url(session.handle), privacy="public")
        uploading = phases["uploading_phase"]
        if uploading.get("status") != "complete":
            held = uploading.get("bytes_transferred", uploading.get("bytes_transfered"))  # the guide spells it so
            held = int(held) if isinstance(held, (int, float)) else 0
            return RemoteState("uploaded" if held >= size else "uploading", received_bytes=min(held, size))
        if publishing in (None, "", "not_started"):
            return RemoteState("uploaded", received_bytes=size)
        return RemoteState("processing", received_bytes=size, remote_id=session.handle,
                           remote_url=_reel_url(session.handle), privacy="public")

    @staticmethod
    def _page(request: UploadRequest) -> str:
        if not request.page_id:
            raise InputError("facebook: the account has no Page id (reels are published on a Page)")
        return str(request.page_id)


    def _error(self, resp: httpx.Response, what: str, token: Secret | None, body: dict | None = None, *,
               session_call: bool = False, secrets: tuple = ()) -> FarmError:
        """The error tree's answer to a Graph API error, once for every call (docs/platforms.md); its
        text is scrubbed of ``token`` and of ``secrets`` (what else the call carried)."""
        status = resp.status_code
        err = (body if body is not None else json_body(resp)).get("error")
        err = err if isinstance(err, dict) else {}
        code, subcode = err.get("code"), err.get("error_subcode")
        message = str(err.get("message") or "")
        text = scrub(f"facebook {what}: HTTP {status}" + (f" (#{code}" + (f"/{subcode}" if subcode else "") + ")"
                                                        if code is not None else "")
                     + (f" {message}" if message else ""), token, *secrets)
        if code == 190 or status == 401:
            return AuthError(f"{text}; {_RECONNECT}")
        if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
            scope = "read_insights" if "insights" in what else "pages_manage_posts"
            return ScopeError(f"{text} (the Page token lacks {scope}, or the user lost the task on the Page; "
                              "reconnect the account to grant it)", scope=scope)
        if code in _RETRY_CODES or status == 429 or status >= 500:
            return RetryableError(text, retry_after_s=retry_after(resp))
        if session_call and (status == 404 or (code == 100 and subcode == 33)):
            # "Object with ID ... does not exist": the upload session is gone.
            return SessionLostError(text + "; start a new upload")
        if 400 <= status < 500 or err:
            return PolicyError(text, reason=scrub(message or f"HTTP {status}", token, *secrets))
        return RetryableError(text + " (unexpected answer)")


def _total(value: object) -> int | None:
    """A count, or the sum of a breakdown's counts (reactions by type: every reaction is a like here)."""
    if isinstance(value, dict):
        parts = [parse_count(v) for v in value.values()]
        return sum(p for p in parts if p is not None)
    return parse_count(value)


def _bucket(breakdown: object, action: str) -> int | None:
    """One action's count in a breakdown such as ``{"COMMENT": 5, "SHARE": 2}`` (keys in any case).
    The Graph API leaves empty buckets out, so a breakdown without the action means none of it;
    no breakdown at all means the count was not given."""
    if not isinstance(breakdown, dict):
        return None
    return sum(parse_count(v) or 0 for k, v in breakdown.items() if str(k).lower() == action)


class _MetricRefused(FarmError):
    """Error 100 "The value must be a valid insights metric": a metric Meta retired."""


def copyright_block(info: object) -> str | None:
    """Why a reel is blocked for copyright, from ``copyright_check_information``, or None.

    The check runs after upload (minutes, sometimes hours). A match whose owner's policy says
    ``BLOCK`` blocks the reel (where it applies); a ``TRACK``-only match does not.
    """
    if not isinstance(info, dict):
        return None
    blocked = []
    for match in info.get("copyright_matches") or []:
        if not isinstance(match, dict):
            continue
        policy = match.get("owner_copyright_policy") or {}
        actions = [a for a in policy.get("actions") or [] if isinstance(a, dict) and a.get("action") == "BLOCK"]
        if actions:
            where = sorted({str(g) for a in actions for g in a.get("geos") or a.get("territories") or []})
            title = match.get("content_title") or "a copyrighted work"
            blocked.append(f"{title} (owner {policy.get('name') or 'unknown'}: BLOCK"
                           + (f" in {', '.join(where[:6])}" if where else "") + ")")
    return "; ".join(blocked) or None


def _with_copyright(state: RemoteState, body: dict) -> RemoteState:
    """``state`` with the copyright check read in: a blocked reel is failed with the match as the
    reason; a published reel whose check is still running is published, its verdict pending."""
    info = body.get("copyright_check_information")
    if not isinstance(info, dict):  # the field as Meta's SDK reads it inside status
        status = body.get("status") if isinstance(body.get("status"), dict) else {}
        info = {"status": status.get("copyright_check_status")} if status.get("copyright_check_status") else None
    block = copyright_block(info)
    if block:
        return RemoteState("failed", received_bytes=state.received_bytes, remote_id=state.remote_id,
                           remote_url=state.remote_url, reason=f"facebook: blocked for copyright: {block}")
    check = ((info or {}).get("status") or {}) if isinstance(info, dict) else {}
    if state.status == "published" and check.get("status") not in (None, "complete", "completed", "error"):
        return dataclasses.replace(state, pending="copyright check")
    return state


class FacebookPlatform(Platform):
    """Facebook Reels on a Page through the Graph API (docs/platforms.md)."""

    name = "facebook"
    label = "Facebook"
    client_class = FacebookClient
    privacy = ("public",)
    needs_page = True
    # Reels Publishing API, video specifications: .mp4 (its QuickTime sibling .mov read alike); 9x16; 540x960
    # at least; 24 to 60 fps; 3 to 90 seconds; H.264, H.265 (VP9, AV1 also); audio AAC-LC. No file size named.
    spec = PlatformSpec(
        name="Facebook",
        containers=frozenset({"mp4", "mov"}), video_codecs=frozenset({"h264", "hevc", "vp9", "av1"}),
        audio_codecs=frozenset({"aac"}), min_duration_s=3.0, max_duration_s=90.0, min_fps=24.0, max_fps=60.0,
        min_width_px=540, min_height_px=960, aspect="9:16",
    )
    # Our own caps: video_reels' description documents no length; Reels show no title (ours is for records).
    text = TextRules(title={"chars": 100}, description={"chars": 2200}, hashtags_max=10, shows_title=False)
    safe_area = (60, 250, 130, 480)
    oauth = OAuth(authorize_url="facebook_auth_url", client_id="facebook_app_id", client_secret="facebook_app_secret",
                  scopes=("pages_show_list", "pages_read_engagement", "pages_manage_posts", "read_insights",
                          "business_management"),
                  scope_separator=",", redirect_host="localhost", statistics_scope="read_insights",
                  required=("pages_manage_posts", "pages_read_engagement"))
    tokens = TokenRules(refreshable=False, noun="Page token")
    # Reels Publishing API: "limited to 30 API-published posts within a 24-hour moving period" per Page.
    limits = (Limit(counts="posts", per="account", most=30, window=timedelta(hours=24),
                    text="Facebook's limit of {most} API reels per Page in 24 hours"),)
    finish = "once"
    stats = Statistics(fields=REELS_METRICS)

    def authorize_url(self, settings) -> str:
        return super().authorize_url(settings).replace("{version}", settings.facebook_graph_version)

    def upload_flags(self, *, affiliate: bool, synthetic_media: bool) -> dict[str, bool]:
        # Our own flag: video_reels has no branded-content switch; Meta's branded content tool tags a
        # sponsor's Page (sponsor_id), which the uploader can add when the user names one.
        return {"branded_content": affiliate}

    def video_url(self, remote_id: str, **_) -> str:
        return _reel_url(remote_id)


FACEBOOK = FacebookPlatform()
