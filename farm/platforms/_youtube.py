"""YouTube: the descriptor (Google OAuth, limits, quotas), and the Data API v3 client: resumable uploads of
Shorts, found again by their marker tag, and their statistics (see docs/platforms.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from datetime import time as clock
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from farm.errors import (
    AuthError,
    FarmError,
    InputError,
    PolicyError,
    QuotaError,
    RetryableError,
    ScopeError,
    SessionLostError,
)
from farm.platforms._base import (
    AccountInfo,
    RemoteSession,
    RemoteState,
    Secret,
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
from farm.platforms._client import PlatformClient
from farm.platforms._descriptor import Limit, OAuth, Platform, PlatformSpec, Statistics, TextRules, TokenRules
from farm.platforms._tokens import WHOAMI_TIMEOUT_S

if TYPE_CHECKING:
    import httpx

CHUNK_GRAIN_BYTES = 256 * 1024
"""Resumable upload chunks must be multiples of 256 KiB (all but the last)."""

YOUTUBE_STATS_BATCH = 50
"""Video ids per ``videos.list`` request (YouTube's limit for ``id``); each request costs 1 quota
unit whatever the number of ids, so a full batch is the cheapest read."""
YOUTUBE_STATS_QUOTA_UNITS = 1
"""Quota units one statistics request costs (of the project's 10,000 a day by default)."""
NO_SHARES_NOTE = "YouTube gives no share count"

UPLOAD_SCOPE = "https://www.googleapis.com/auth/youtube.upload"
READONLY_SCOPE = "https://www.googleapis.com/auth/youtube.readonly"
"""``videos.insert`` takes youtube.upload; ``videos.list``, ``channels.list`` and ``playlistItems.list``
(statistics, and finding a lost upload) take youtube.readonly, not youtube.upload."""
_SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})
UPLOAD_LIMIT_HOLD = timedelta(hours=24)
"""``uploadLimitExceeded``: the channel uploaded as many videos as YouTube allows it in 24 hours."""
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
        """Fixed, no call: YouTube has no creator-info endpoint. A channel's own settings may still
        keep an upload private; the published state says what applied."""
        return AccountInfo(("public", "private", "unlisted"), max_duration_s=None)

    def token_url(self) -> str:
        return self.settings.youtube_token_url

    def whoami(self, token: Secret) -> str | None:
        """The channel's title (``channels.list``, which needs youtube.readonly)."""
        resp = self._request("GET", f"{self.settings.youtube_api_base}/channels", what="channel", token=token,
                             params={"part": "snippet", "mine": "true"}, timeout=WHOAMI_TIMEOUT_S)
        if not resp.is_success:
            raise self._error(resp, "channel", token)
        answer = json_body(resp)
        items = answer.get("items") or []
        title = ((items[0] if items and isinstance(items[0], dict) else {}).get("snippet") or {}).get("title")
        return str(title) if title else None

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
            raise self._error(resp, what, token, bucket="upload")
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
        raise self._error(resp, what, token, bucket="upload")

    def _video_state(self, video: dict, request: UploadRequest, *, asked: str | None) -> RemoteState:
        video_id = video.get("id")
        if not isinstance(video_id, str) or not video_id:
            raise RetryableError("youtube: the upload's answer held no video id")
        url = YOUTUBE.video_url(video_id, width=request.width, height=request.height, duration_s=request.duration_s)
        status = video.get("status") or {}
        upload = status.get("uploadStatus")
        if upload in ("failed", "rejected", "deleted"):
            reason = status.get("failureReason") or status.get("rejectionReason") or upload
            return RemoteState("failed", received_bytes=request.size_bytes, remote_id=video_id,
                               remote_url=url, reason=f"youtube: video {upload} ({reason})")
        # A channel's own settings may keep an upload private whatever was asked: report what applies.
        privacy = status.get("privacyStatus") or asked
        return RemoteState("published", received_bytes=request.size_bytes, remote_id=video_id,
                           remote_url=url, privacy=privacy)

    def _error(self, resp: httpx.Response, what: str, token: Secret | None, *, bucket: str = "read") -> FarmError:
        """The error tree's answer to a YouTube error, once for every call (docs/platforms.md).

        ``bucket``: the quota the call draws on: ``upload`` (``videos.insert`` and its chunks, a
        bucket of its own since June 2026) or ``read`` (every other call, the project's 10,000 units).
        """
        code = resp.status_code
        err = json_body(resp).get("error")
        message, reasons = "", []
        if isinstance(err, dict):
            message = str(err.get("message") or "")
            reasons = [str(e.get("reason")) for e in err.get("errors") or [] if isinstance(e, dict) and e.get("reason")]
            reasons += [str(d.get("reason")) for d in err.get("details") or [] if isinstance(d, dict) and d.get("reason")]
        elif isinstance(err, str):
            reasons = [err]
        reason = reasons[0] if reasons else ""
        text = scrub(f"youtube {what}: HTTP {code}" + (f" {reason}" if reason else "")
                     + (f": {message}" if message else ""), token)
        if "uploadLimitExceeded" in reasons:
            return QuotaError(text + " (this channel's uploads for 24 hours)", reset_at=utc_now() + UPLOAD_LIMIT_HOLD,
                              scope="account", bucket="upload")
        if "quotaExceeded" in reasons or "dailyLimitExceeded" in reasons:
            return QuotaError(text, reset_at=next_pacific_midnight(), scope="project", bucket=bucket)
        if _SCOPE_REASONS.intersection(reasons) or "insufficient_scope" in resp.headers.get("WWW-Authenticate", ""):
            scope = UPLOAD_SCOPE if bucket == "upload" else READONLY_SCOPE
            return ScopeError(f"{text} (the token lacks {scope.rsplit('/', 1)[-1]}; reconnect the account to grant it)",
                              scope=scope)
        if _RATE_REASONS.intersection(reasons) or code == 429 or code >= 500:
            return RetryableError(text, retry_after_s=retry_after(resp))
        if code == 401:
            return AuthError(text + " (refresh the token, or reconnect the account)")
        if 400 <= code < 500:
            return PolicyError(text, reason=scrub(message or reason or f"HTTP {code}", token))
        return RetryableError(text + " (unexpected answer)")


class YouTubePlatform(Platform):
    """YouTube Shorts through the Data API v3 (facts and their sources: docs/platforms.md)."""

    name = "youtube"
    label = "YouTube"
    client_class = YouTubeClient
    privacy = ("public", "private", "unlisted")
    # Help: "Upload YouTube Shorts" (square or vertical, up to 3 minutes, since 2024-10-15); "Upload videos
    # longer than 15 minutes": 256 GB or 12 hours; "Supported YouTube file formats"; codecs YouTube serves.
    spec = PlatformSpec(
        name="YouTube",
        containers=frozenset({"mp4", "mov", "webm", "avi", "asf", "mpeg", "flv", "3gp"}),
        video_codecs=frozenset({"h264", "hevc", "vp8", "vp9", "av1"}),
        max_duration_s=12 * 3600.0,
        max_size_bytes=256 * 1000 ** 3,
        short_form_max_duration_s=180.0,
    )
    # videos resource: snippet.title at most 100 characters, snippet.description 5000 bytes, neither with
    # '<' or '>'; Help, hashtag policies: more than 15 hashtags and YouTube ignores them all.
    text = TextRules(title={"chars": 100, "utf16_units": 100}, description={"utf8_bytes": 5000, "chars": 5000},
                     hashtags_max=15, angle_brackets=False, hashtags_in_text_count=True, style="titled")
    safe_area = (60, 180, 160, 400)
    oauth = OAuth(authorize_url="youtube_auth_url", client_id="youtube_client_id",
                  client_secret="youtube_client_secret", scopes=(UPLOAD_SCOPE, READONLY_SCOPE),
                  extra_params={"access_type": "offline", "prompt": "consent"}, statistics_scope=READONLY_SCOPE,
                  required=(UPLOAD_SCOPE,))
    tokens = TokenRules(refreshable=True)
    # determine_quota_cost: videos.insert has its own bucket, 100 calls a day per project, reset at midnight PT.
    limits = (Limit(counts="calls", call="insert", per="project", most="youtube_daily_uploads",
                    day_zone="America/Los_Angeles",
                    text="YouTube project quota spent ({most} uploads today, shared by every channel of the "
                         "project; resets {reset})"),)
    finds_lost = True
    stats = Statistics(batch=YOUTUBE_STATS_BATCH, call="list", fields=("viewCount", "likeCount", "commentCount"))

    def notices(self, privacy: str, settings) -> list[str]:
        out = super().notices(privacy, settings)
        if not getattr(settings, "youtube_consent_published", False):
            out.append("a Google consent screen left in \"Testing\" makes refresh tokens die after 7 days: publish "
                       "the app (Google Auth Platform > Audience), then set platforms.youtube_consent_published = true")
        return out

    def upload_flags(self, *, affiliate: bool, synthetic_media: bool) -> dict[str, bool]:
        # videos resource: status.containsSyntheticMedia, status.selfDeclaredMadeForKids and
        # paidProductPlacementDetails.hasPaidProductPlacement (its own part in videos.insert).
        return {"containsSyntheticMedia": synthetic_media, "hasPaidProductPlacement": affiliate,
                "selfDeclaredMadeForKids": False}

    def video_url(self, remote_id: str, *, width: int | None = None, height: int | None = None,
                  duration_s: float | None = None) -> str:
        """``/shorts/ID`` for a square or vertical video up to 3 minutes (a Short); ``watch?v=ID`` for
        any other, or when the shape is not known (it works for every video)."""
        short = (width is not None and height is not None and height >= width and duration_s is not None
                 and round(duration_s, 3) <= self.spec.short_form_max_duration_s)
        return (f"https://www.youtube.com/shorts/{remote_id}" if short
                else f"https://www.youtube.com/watch?v={remote_id}")


YOUTUBE = YouTubePlatform()
