"""YouTube Data API v3: resumable uploads of Shorts, found again by their marker tag, and their statistics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from datetime import time as clock
from zoneinfo import ZoneInfo

import httpx

from farm.errors import AuthError, FarmError, InputError, PolicyError, QuotaError, RetryableError, SessionLostError
from farm.platforms._base import (
    AccountInfo,
    PlatformClient,
    RemoteSession,
    RemoteState,
    Secret,
    TokenSet,
    UploadRequest,
    VideoStats,
    batches,
    file_body,
    json_body,
    parse_count,
    retry_after,
    scrub,
    utc_now,
    with_retries,
)

CHUNK_GRAIN_BYTES = 256 * 1024
"""Resumable upload chunks must be multiples of 256 KiB (all but the last)."""

YOUTUBE_STATS_BATCH = 50
"""Video ids per ``videos.list`` request (YouTube's limit for ``id``); each request costs 1 quota
unit whatever the number of ids, so a full batch is the cheapest read."""
YOUTUBE_STATS_QUOTA_UNITS = 1
"""Quota units one statistics request costs (of the project's 10,000 a day by default)."""
NO_SHARES_NOTE = "YouTube gives no share count"

_QUOTA_REASONS = frozenset({"quotaExceeded", "uploadLimitExceeded"})
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# videos resource, status.privacyStatus: the farm's self-only is YouTube's private.
_PRIVACY = {"public": "public", "private": "private", "unlisted": "unlisted", "self-only": "private"}
_PACIFIC = ZoneInfo("America/Los_Angeles")


def youtube_chunk_bytes(requested: int) -> int:
    """``requested`` rounded down to a multiple of 256 KiB, at least 256 KiB."""
    return max(CHUNK_GRAIN_BYTES, (int(requested) // CHUNK_GRAIN_BYTES) * CHUNK_GRAIN_BYTES)


def next_pacific_midnight(now: datetime | None = None) -> datetime:
    """When YouTube's daily quota comes back: the next midnight in America/Los_Angeles, as naive
    UTC. ``now`` is naive UTC (default: now)."""
    now_utc = (now or utc_now()).replace(tzinfo=timezone.utc)
    local = now_utc.astimezone(_PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), clock(0), tzinfo=_PACIFIC)
    return midnight.astimezone(timezone.utc).replace(tzinfo=None)


def _video_url(video_id: str) -> str:
    return f"https://www.youtube.com/shorts/{video_id}"


class YouTubeClient(PlatformClient):
    """A thin client over the YouTube Data API v3 (see ``docs/platforms.md``).

    ``start`` opens a resumable session (its URL is the handle); ``send`` PUTs one chunk and
    reads back what YouTube holds (``308`` + ``Range``), which may be less than was sent;
    ``query`` asks with an empty PUT; ``find`` looks for the marker tag among the channel's 50
    newest uploads, for a session lost after its last byte.
    """

    platform = "youtube"

    # -- account ---------------------------------------------------------------------------

    def account_info(self, token: Secret, *, page_id: str | None = None) -> AccountInfo:
        """Fixed, no call: YouTube has no creator-info endpoint. An unverified project still
        asks for what it wants; YouTube forces private and the published state says so."""
        return AccountInfo(("public", "private", "unlisted"), max_duration_s=None)

    def refresh(self, tokens: TokenSet) -> TokenSet:
        """A new access token from Google's token endpoint; Google keeps the refresh token."""
        cid, secret = self.settings.youtube_client_id, self.settings.youtube_client_secret
        if not cid or not secret:
            missing = " and ".join(name for name, value in (("FARM_YOUTUBE_CLIENT_ID", cid),
                                                            ("FARM_YOUTUBE_CLIENT_SECRET", secret)) if not value)
            raise AuthError(f"youtube token refresh: the app's OAuth client is not configured; set {missing} "
                            "(or [platforms] in farm.toml)")
        if tokens.refresh_token is None or not tokens.refresh_token:
            raise AuthError("youtube token refresh: the account has no refresh token; reconnect the account")
        form = {"grant_type": "refresh_token", "client_id": cid, "client_secret": secret,
                "refresh_token": tokens.refresh_token.reveal()}
        what = "token refresh"

        def call() -> TokenSet:
            resp = self._request("POST", self.settings.youtube_token_url, what=what, data=form,
                                 headers={"Accept": "application/json"})
            body = json_body(resp)
            if resp.status_code != 200 or "error" in body:
                raise self._refresh_error(resp, body, tokens)
            access = body.get("access_token")
            if not isinstance(access, str) or not access:
                raise RetryableError("youtube token refresh: the answer held no access token")
            expires_in = body.get("expires_in")
            expires_at = (utc_now() + timedelta(seconds=float(expires_in))
                          if isinstance(expires_in, (int, float)) else None)
            return TokenSet(access_token=Secret(access), refresh_token=tokens.refresh_token, expires_at=expires_at,
                            refresh_expires_at=tokens.refresh_expires_at, scope=body.get("scope") or tokens.scope)

        return with_retries(call, retries=self.settings.max_retries, sleep=self.sleep, what=f"youtube {what}")

    # -- upload ----------------------------------------------------------------------------

    def start(self, token: Secret, request: UploadRequest) -> RemoteSession:
        """Open a resumable session (metadata only, no byte of video)."""
        privacy = _PRIVACY.get(request.privacy)
        if privacy is None:
            raise InputError(f"youtube: invalid privacy ({request.privacy!r}). Supported: "
                             f"{', '.join(_PRIVACY)}.")
        tags = [request.marker] + [t.lstrip("#") for t in request.hashtags if t.lstrip("#")]
        body: dict = {
            "snippet": {"title": request.title, "description": request.description, "tags": tags,
                        "categoryId": "22"},
            "status": {"privacyStatus": privacy,
                       "selfDeclaredMadeForKids": bool(request.flags.get("selfDeclaredMadeForKids", False)),
                       "containsSyntheticMedia": bool(request.flags.get("containsSyntheticMedia", False))},
        }
        parts = "snippet,status"
        if "hasPaidProductPlacement" in request.flags:
            # Its own part of videos.insert: without it in ``part`` YouTube ignores the field.
            parts += ",paidProductPlacementDetails"
            body["paidProductPlacementDetails"] = {
                "hasPaidProductPlacement": bool(request.flags["hasPaidProductPlacement"])}
        what = "start upload"
        resp = self._request(
            "POST", f"{self.settings.youtube_upload_base}/videos", what=what, token=token,
            params={"uploadType": "resumable", "part": parts}, json=body,
            headers={"X-Upload-Content-Length": str(request.size_bytes),
                     "X-Upload-Content-Type": request.content_type,
                     "Content-Type": "application/json; charset=UTF-8"})
        if not resp.is_success:
            raise self._error(resp, what, token)
        location = resp.headers.get("Location")
        if not location:
            raise RetryableError("youtube start upload: the answer held no session URL (Location)")
        return RemoteSession(platform=self.platform, handle=location, chunk_bytes=youtube_chunk_bytes(request.chunk_bytes),
                             started_at=utc_now(), extra={"privacy": privacy})

    def send(self, token: Secret, session: RemoteSession, request: UploadRequest, *, offset: int,
             on_bytes: Callable[[int], None] | None = None) -> RemoteState:
        """PUT the chunk at ``offset``; the answer says how much YouTube holds (resume there)."""
        size = request.size_bytes
        if offset >= size:
            return self.query(token, session, request)
        chunk = session.chunk_bytes or youtube_chunk_bytes(request.chunk_bytes)
        length = min(chunk, size - offset)
        body = file_body(request.path, offset=offset, length=length, size_bytes=size, on_bytes=on_bytes)
        what = "upload chunk"
        resp = self._request("PUT", session.handle, what=what, token=token, content=body,
                             headers={"Content-Length": str(length),
                                      "Content-Range": f"bytes {offset}-{offset + length - 1}/{size}"})
        return self._session_state(resp, what, token, session, request)

    def query(self, token: Secret, session: RemoteSession, request: UploadRequest) -> RemoteState:
        """An empty PUT: what YouTube holds of the session (``SessionLostError`` when it is gone)."""
        what = "query upload"

        def call() -> RemoteState:
            resp = self._request("PUT", session.handle, what=what, token=token, content=b"",
                                 headers={"Content-Range": f"bytes */{request.size_bytes}"})
            return self._session_state(resp, what, token, session, request)

        return with_retries(call, retries=self.settings.max_retries, sleep=self.sleep, what=f"youtube {what}")

    def finish(self, token: Secret, session: RemoteSession, request: UploadRequest) -> RemoteState:
        """YouTube has no finish call: the last chunk publishes. This is :meth:`query`."""
        return self.query(token, session, request)

    def find(self, token: Secret, request: UploadRequest) -> RemoteState | None:
        """The video whose tags hold ``request.marker`` among the channel's 50 newest uploads."""
        api = self.settings.youtube_api_base
        channels = self._get(token, f"{api}/channels", "find: channel",
                             {"part": "contentDetails", "mine": "true"})
        items = channels.get("items") or []
        try:
            playlist = items[0]["contentDetails"]["relatedPlaylists"]["uploads"]
        except (IndexError, KeyError, TypeError):
            return None
        listing = self._get(token, f"{api}/playlistItems", "find: uploads",
                            {"part": "contentDetails", "playlistId": playlist, "maxResults": "50"})
        ids = [item.get("contentDetails", {}).get("videoId") for item in listing.get("items") or []
               if isinstance(item, dict)]
        ids = [i for i in ids if isinstance(i, str) and i]
        if not ids:
            return None
        videos = self._get(token, f"{api}/videos", "find: videos", {"part": "snippet,status", "id": ",".join(ids)})
        for video in videos.get("items") or []:
            tags = (video.get("snippet") or {}).get("tags") or []
            if request.marker in tags:
                return self._video_state(video, request, asked=_PRIVACY.get(request.privacy))
        return None

    # -- statistics ------------------------------------------------------------------------

    def _video_stats(self, token: Secret, ids: list[str], privacy: dict[str, str]) -> dict[str, VideoStats]:
        """``videos.list?part=statistics`` for up to 50 ids a request (1 quota unit each).

        The owner's token also reads its private and unlisted videos, so privacy changes nothing
        here. An id missing from the answer was deleted, or is private to another channel.
        """
        for remote_id in ids:
            if "," in remote_id:
                raise InputError(f"youtube statistics: invalid video id ({remote_id!r}): ids are comma-separated")
        out: dict[str, VideoStats] = {}
        api = self.settings.youtube_api_base
        for batch in batches(ids, YOUTUBE_STATS_BATCH):
            answer = self._get(token, f"{api}/videos", "statistics", {"part": "statistics", "id": ",".join(batch)})
            for item in answer.get("items") or []:
                if not isinstance(item, dict) or item.get("id") not in batch:
                    continue
                out[item["id"]] = self._stats(item["id"], item.get("statistics"))
        return {i: out.get(i) or VideoStats.unavailable(i, "not found (deleted or private)") for i in ids}

    @staticmethod
    def _stats(video_id: str, statistics: object) -> VideoStats:
        stats = statistics if isinstance(statistics, dict) else {}
        views, likes, comments = (parse_count(stats.get(k)) for k in ("viewCount", "likeCount", "commentCount"))
        notes = [NO_SHARES_NOTE]
        # The owner can hide the like count, and turning comments off drops commentCount: left out, not zero.
        if likes is None:
            notes.append("no like count (hidden by the owner)")
        if comments is None:
            notes.append("no comment count (comments off)")
        if views is None:
            notes.append("no view count")
        return VideoStats(video_id, True, views=views, likes=likes, comments=comments, shares=None,
                          note="; ".join(notes))

    # -- plumbing --------------------------------------------------------------------------


    def _get(self, token: Secret, url: str, what: str, params: dict) -> dict:
        def call() -> dict:
            resp = self._request("GET", url, what=what, token=token, params=params)
            if not resp.is_success:
                raise self._error(resp, what, token)
            return json_body(resp)

        return with_retries(call, retries=self.settings.max_retries, sleep=self.sleep, what=f"youtube {what}")

    def _session_state(self, resp: httpx.Response, what: str, token: Secret, session: RemoteSession,
                       request: UploadRequest) -> RemoteState:
        if resp.status_code == 308:
            # "Range: bytes=0-N": YouTube holds N+1 bytes; no Range: it holds none.
            held = 0
            raw = resp.headers.get("Range", "")
            if raw.startswith("bytes=") and "-" in raw:
                try:
                    held = int(raw.split("-", 1)[1]) + 1
                except ValueError:
                    held = 0
            return RemoteState("uploading", received_bytes=held)
        if resp.status_code in (200, 201):
            return self._video_state(json_body(resp), request, asked=session.extra.get("privacy"))
        if resp.status_code in (404, 410):
            # Google answers 404 for an expired upload session (410 in some of its APIs).
            raise SessionLostError(f"youtube {what}: the upload session is gone (HTTP {resp.status_code}); "
                                   "start a new one")
        raise self._error(resp, what, token)

    def _video_state(self, video: dict, request: UploadRequest, *, asked: str | None) -> RemoteState:
        video_id = video.get("id")
        if not isinstance(video_id, str) or not video_id:
            raise RetryableError("youtube: the upload's answer held no video id")
        status = video.get("status") or {}
        upload = status.get("uploadStatus")
        if upload in ("failed", "rejected", "deleted"):
            reason = status.get("failureReason") or status.get("rejectionReason") or upload
            return RemoteState("failed", received_bytes=request.size_bytes, remote_id=video_id,
                               remote_url=_video_url(video_id), reason=f"youtube: video {upload} ({reason})")
        # An unverified project's uploads come back private whatever was asked: report what applies.
        privacy = status.get("privacyStatus") or asked
        return RemoteState("published", received_bytes=request.size_bytes, remote_id=video_id,
                           remote_url=_video_url(video_id), privacy=privacy)

    def _error(self, resp: httpx.Response, what: str, token: Secret | None) -> FarmError:
        """The error tree's answer to a YouTube error, once for every call (docs/platforms.md)."""
        code = resp.status_code
        err = json_body(resp).get("error")
        message, reason = "", ""
        if isinstance(err, dict):
            message = str(err.get("message") or "")
            reasons = [e.get("reason") for e in err.get("errors") or [] if isinstance(e, dict)]
            reason = next((str(r) for r in reasons if r), "")
        elif isinstance(err, str):
            reason = err
        text = scrub(f"youtube {what}: HTTP {code}" + (f" {reason}" if reason else "")
                     + (f": {message}" if message else ""), token)
        if reason in _QUOTA_REASONS:
            return QuotaError(text, reset_at=next_pacific_midnight())
        if reason in _RATE_REASONS or code == 429 or code >= 500:
            return RetryableError(text, retry_after_s=retry_after(resp))
        if code == 401:
            return AuthError(text + " (refresh the token, or reconnect the account)")
        if 400 <= code < 500:
            return PolicyError(text, reason=scrub(message or reason or f"HTTP {code}", token))
        return RetryableError(text + " (unexpected answer)")

    def _refresh_error(self, resp: httpx.Response, body: dict, tokens: TokenSet) -> FarmError:
        code = resp.status_code
        if code == 429 or code >= 500:
            return RetryableError(f"youtube token refresh: HTTP {code}", retry_after_s=retry_after(resp))
        err = body.get("error")
        if isinstance(err, dict):  # the Google API error shape, seen from some token endpoints
            name, detail = str(err.get("status") or ""), str(err.get("message") or "")
        else:  # OAuth 2.0: {"error": "invalid_grant", "error_description": "..."}
            name, detail = str(err or ""), str(body.get("error_description") or "")
        text = scrub(f"youtube token refresh: HTTP {code} {name}" + (f": {detail}" if detail else ""),
                     tokens.access_token, tokens.refresh_token)
        if name == "invalid_grant":
            return AuthError(text + "; the refresh token is expired or revoked: reconnect the account")
        if name in ("invalid_client", "unauthorized_client"):
            return AuthError(text + "; check FARM_YOUTUBE_CLIENT_ID and FARM_YOUTUBE_CLIENT_SECRET")
        return AuthError(text + "; reconnect the account if this persists")
