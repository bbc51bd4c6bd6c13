"""TikTok: the descriptor (Login Kit for desktop, limits), and the Content Posting API client: direct posts
and inbox drafts uploaded in chunks; the Display API's video query for their statistics."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

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

MIB = 1024 * 1024
CHUNK_MIN_BYTES = 5 * MIB
CHUNK_MAX_BYTES = 64_000_000
SINGLE_CHUNK_MAX_BYTES = 64_000_000
LAST_CHUNK_MAX_BYTES = 128_000_000
MAX_CHUNKS = 1000
"""TikTok's Media Transfer Guide: "Each chunk must be at least 5 MB but no greater than 64 MB, except for
the final chunk, which can be greater than chunk_size (up to 128 MB)"; "Videos with a total size less than
5 MB must be uploaded as a whole"; "greater than 64 MB must be uploaded in multiple chunks"; 1 to 1000
chunks. The guide never says whether an MB is 10^6 or 2^20 bytes, so the farm keeps to the reading that
satisfies both: at least 5 MiB, at most 64,000,000 bytes (the last at most 128,000,000)."""

# The farm's privacy words as post_info.privacy_level; "inbox" is the inbox endpoint instead.
_PRIVACY_LEVEL = {"public": "PUBLIC_TO_EVERYONE", "private": "SELF_ONLY", "self-only": "SELF_ONLY"}
_BRAND_FLAGS = ("brand_content_toggle", "brand_organic_toggle", "is_aigc")
_AUTH_CODES = frozenset({"access_token_invalid"})
_SCOPE_CODES = frozenset({"scope_not_authorized", "scope_permission_missed"})
_SCOPE_OF = {"creator": "video.publish", "init": "video.publish", "inbox": "video.upload", "video": "video.list",
             "status": "video.publish"}
"""The scope each call needs, by the first word of its name (TikTok's error does not say which)."""
# spam_risk_too_many_posts is the documented daily cap. Two more caps that lift with time, from
# TikTok's error list: too many drafts waiting in the inbox, and the app's daily user cap.
_QUOTA_CODES = frozenset({"spam_risk_too_many_posts", "spam_risk_too_many_pending_share", "reached_active_user_cap"})


TIKTOK_STATS_BATCH = 20
"""Video ids per ``/v2/video/query/`` request (TikTok's limit)."""
STATS_FIELDS = ("id", "view_count", "like_count", "comment_count", "share_count")
"""The Video Object fields asked of ``/v2/video/query/`` (scope ``video.list``)."""
_STATS_COUNTS = {"views": "view_count", "likes": "like_count", "comments": "comment_count", "shares": "share_count"}


def tiktok_chunks(size_bytes: int, chunk_bytes: int) -> tuple[int, int]:
    """``(chunk_size, total_chunk_count)`` for a file of ``size_bytes`` asked in ``chunk_bytes``.

    A file of at most 64,000,000 bytes goes as one chunk whose ``chunk_size`` is the file's size.
    A larger one goes in equal chunks of ``chunk_bytes`` clamped to 5 MiB..64,000,000 bytes,
    ``total_chunk_count = size // chunk_size``, the last chunk taking the remainder (under twice
    the chunk, so at most 128,000,000 bytes), and never more than 1000 chunks.
    """
    size = int(size_bytes)
    if size <= 0:
        raise InputError(f"tiktok: cannot upload an empty video ({size} bytes)")
    if size <= SINGLE_CHUNK_MAX_BYTES:
        return size, 1
    # at least two chunks (a file this big must be split), each at least 5 MiB, at most 1000 of them
    chunk = min(max(int(chunk_bytes), CHUNK_MIN_BYTES, -(-size // MAX_CHUNKS)), CHUNK_MAX_BYTES, size // 2)
    count = size // chunk
    if count > MAX_CHUNKS or size - (count - 1) * chunk > LAST_CHUNK_MAX_BYTES:
        raise InputError(f"tiktok: a video of {size} bytes does not fit TikTok's 1000 chunks of at most "
                         f"{CHUNK_MAX_BYTES} bytes")
    return chunk, count


def chunk_span(size_bytes: int, chunk_size: int, count: int, index: int) -> tuple[int, int]:
    """``(first byte, end)`` of chunk ``index`` (end exclusive); the last runs to the file's end."""
    first = index * chunk_size
    end = size_bytes if index == count - 1 else first + chunk_size
    return first, end


POST_CAP_HOLD = timedelta(hours=24)
"""How long an account waits after ``spam_risk_too_many_posts`` (TikTok's daily cap, its window not
documented): a whole day, so the next try is past it."""


class TikTokClient(PlatformClient):
    """A thin client over TikTok's Content Posting API (see ``docs/platforms.md``).

    The chunk size is fixed at ``start`` (TikTok's init takes it), so ``send`` works out the
    chunk index from the offset and ``query`` rounds TikTok's ``uploaded_bytes`` down to a chunk
    boundary: a chunk is resent whole or not at all. The upload URL is pre-signed, so the token
    is sent only to the API, never to the upload host.
    """

    platform = "tiktok"

    # -- account ---------------------------------------------------------------------------

    def account_info(self, token: Secret, *, page_id: str | None = None) -> AccountInfo:
        """The creator info TikTok asks apps to show before posting: privacy levels the account
        allows (in the farm's words; inbox drafts are always possible), the longest video and
        the interactions the creator turned off."""
        data = self._api(token, "/v2/post/publish/creator_info/query/", None, what="creator info", retry=True)
        levels = data.get("privacy_level_options") or []
        options: list[str] = []
        if "PUBLIC_TO_EVERYONE" in levels:
            options.append("public")
        if "SELF_ONLY" in levels:
            options += ["private", "self-only"]
        options.append("inbox")
        max_s = data.get("max_video_post_duration_sec")
        return AccountInfo(tuple(options), max_duration_s=float(max_s) if isinstance(max_s, (int, float)) else None,
                           comments_off=bool(data.get("comment_disabled")), duet_off=bool(data.get("duet_disabled")),
                           stitch_off=bool(data.get("stitch_disabled")), username=data.get("creator_username"))

    def token_url(self) -> str:
        return f"{self.settings.tiktok_api_base}/v2/oauth/token/"

    def whoami(self, token: Secret) -> str | None:
        """The creator's handle (creator info, scope video.publish), asked once."""
        resp = self._request("POST", f"{self.settings.tiktok_api_base}/v2/post/publish/creator_info/query/",
                             what="creator info", token=token, content=b"", timeout=WHOAMI_TIMEOUT_S,
                             headers={"Content-Type": "application/json; charset=UTF-8"})
        data = json_body(resp).get("data")
        name = data.get("creator_username") if resp.is_success and isinstance(data, dict) else None
        return str(name) if name else None

    # -- upload ----------------------------------------------------------------------------

    def start(self, token: Secret, request: UploadRequest) -> RemoteSession:
        """Init a direct post (or an inbox draft for privacy ``inbox``); no byte of video."""
        chunk, count = tiktok_chunks(request.size_bytes, request.chunk_bytes)
        source = {"source": "FILE_UPLOAD", "video_size": request.size_bytes, "chunk_size": chunk,
                  "total_chunk_count": count}
        if request.privacy == "inbox":
            path, body, privacy = "/v2/post/publish/inbox/video/init/", {"source_info": source}, "inbox"
        else:
            level = _PRIVACY_LEVEL.get(request.privacy)
            if level is None:
                raise InputError(f"tiktok: invalid privacy ({request.privacy!r}). Supported: "
                                 f"{', '.join([*_PRIVACY_LEVEL, 'inbox'])}.")
            allowed = request.interactions
            post_info = {
                # TikTok's "title" is the whole caption (2200 UTF-16 units); the farm's caption fits.
                "title": request.description,
                "privacy_level": level,
                # Off unless the account allows it and the creator has not turned it off (creator info):
                # TikTok's guidelines have no interaction checked by default.
                "disable_duet": not allowed.get("duet", False),
                "disable_comment": not allowed.get("comments", False),
                "disable_stitch": not allowed.get("stitch", False),
                "video_cover_timestamp_ms": 1000,
            }
            for flag in _BRAND_FLAGS:
                post_info[flag] = bool(request.flags.get(flag, False))
            path, body = "/v2/post/publish/video/init/", {"post_info": post_info, "source_info": source}
            privacy = "self-only" if level == "SELF_ONLY" else "public"
        data = self._api(token, path, body, what="inbox init" if privacy == "inbox" else "init upload", retry=False)
        publish_id, upload_url = data.get("publish_id"), data.get("upload_url")
        if not publish_id or not upload_url:
            raise RetryableError("tiktok init upload: the answer held no publish_id or upload_url")
        return RemoteSession(platform=self.platform, handle=str(publish_id), upload_url=str(upload_url),
                             chunk_bytes=chunk, started_at=utc_now(),
                             extra={"privacy": privacy, "total_chunk_count": count})

    def send(self, token: Secret, session: RemoteSession, request: UploadRequest, *, offset: int,
             on_bytes: Callable[[int], None] | None = None) -> RemoteState:
        """PUT the chunk that starts at ``offset`` (a chunk boundary); ``206``: TikTok took it and
        waits for more, ``201``: every chunk is in and TikTok processes the video."""
        size = request.size_bytes
        if offset >= size:
            return self.query(token, session, request)
        chunk, count = self._plan(session, request)
        index = offset // chunk
        if offset < 0 or offset % chunk or index >= count:
            raise InputError(f"tiktok upload chunk: offset {offset} is not the start of one of the "
                             f"{count} chunks of {chunk} bytes")
        first, end = chunk_span(size, chunk, count, index)
        body = file_body(request.path, offset=first, length=end - first, size_bytes=size, on_bytes=on_bytes)
        what = f"upload chunk {index + 1}/{count}"
        resp = self._request("PUT", session.upload_url or "", what=what, content=body,
                             headers={"Content-Type": request.content_type, "Content-Length": str(end - first),
                                      "Content-Range": f"bytes {first}-{end - 1}/{size}"})
        if resp.status_code == 201 or (resp.is_success and end == size):
            return RemoteState("processing", received_bytes=size)
        if resp.is_success:
            return RemoteState("uploading", received_bytes=end)
        if resp.status_code in (403, 404, 410):
            # Media Transfer Guide: 403 "The upload_url has expired" (it lives an hour), 404 "cannot find a
            # valid upload task". The post may hold every byte already (the answer to its last chunk was
            # lost): its status outlives the URL, so it is asked before the upload is called lost.
            state = self.query(token, session, request)
            if state.status != "uploading":
                return state
            raise SessionLostError(f"tiktok {what}: the upload URL is gone (HTTP {resp.status_code}) with "
                                   f"{state.received_bytes} of {size} bytes in; start a new upload")
        if resp.status_code == 416:
            # "Content-Range does not reflect the actual upload progress": resume where TikTok says it is.
            return self.query(token, session, request)
        raise self._error(resp, what, token)

    def query(self, token: Secret, session: RemoteSession, request: UploadRequest) -> RemoteState:
        """The post's status, in the farm's words (see the module's mapping)."""
        data = self._api(token, "/v2/post/publish/status/fetch/", {"publish_id": session.handle},
                         what="status fetch", retry=True)
        status = data.get("status")
        size = request.size_bytes
        if status == "PROCESSING_UPLOAD":
            uploaded = data.get("uploaded_bytes")
            uploaded = int(uploaded) if isinstance(uploaded, (int, float)) else 0
            if uploaded >= size:
                return RemoteState("processing", received_bytes=size)
            chunk, count = self._plan(session, request)
            # Round down to a chunk start: a chunk half-received is sent again whole.
            return RemoteState("uploading", received_bytes=min(uploaded // chunk, count - 1) * chunk)
        if status == "PROCESSING_DOWNLOAD":
            return RemoteState("processing", received_bytes=size)
        if status == "SEND_TO_USER_INBOX":
            return RemoteState("inbox", received_bytes=size, privacy="inbox")
        if status == "PUBLISH_COMPLETE":
            ids = data.get("publicaly_available_post_id") or []  # sic: TikTok's spelling
            post_id = str(ids[0]) if isinstance(ids, list) and ids else None
            url = None
            if post_id:
                user = session.extra.get("username") or self._username(token)
                url = f"https://www.tiktok.com/@{user}/video/{post_id}" if user else None
            privacy = session.extra.get("privacy")
            # "post_id is returned only if the post is published for public viewership and has been approved
            # by the TikTok moderation process" (which may take hours): a public post without it is asked
            # about again on later passes; a self-only one never gets one.
            pending = "public id" if post_id is None and privacy == "public" else None
            return RemoteState("published", received_bytes=size, remote_id=post_id, remote_url=url,
                               privacy=privacy if privacy in ("public", "self-only") else None, pending=pending)
        if status == "FAILED":
            return RemoteState("failed", reason=str(data.get("fail_reason") or "failed"))
        raise RetryableError(f"tiktok status fetch: unknown status {status!r}")

    def finish(self, token: Secret, session: RemoteSession, request: UploadRequest) -> RemoteState:
        """TikTok has no finish call: the last chunk hands the video over. A status poll."""
        return self.query(token, session, request)

    # -- statistics ------------------------------------------------------------------------

    def _video_stats(self, token: Secret, ids: list[str], privacy: dict[str, str]) -> dict[str, VideoStats]:
        """``POST /v2/video/query/`` for up to 20 public posts a request.

        TikTok answers for the account's public posts only: a post that is not public (private,
        self-only, an inbox draft) is answered unavailable without a request, and an id TikTok
        leaves out of its answer was deleted or made private since.
        """
        out: dict[str, VideoStats] = {}
        public = []
        for remote_id in ids:
            if privacy[remote_id] == "public":
                public.append(remote_id)
            else:
                out[remote_id] = VideoStats.unavailable(remote_id,
                                                        f"{privacy[remote_id]} post: TikTok gives no statistics")
        for batch in batches(public, TIKTOK_STATS_BATCH):
            data = self._api(token, "/v2/video/query/", {"filters": {"video_ids": batch}}, what="video query",
                             retry=True, params={"fields": ",".join(STATS_FIELDS)})
            for video in data.get("videos") or []:
                video_id = str(video.get("id")) if isinstance(video, dict) else None
                if video_id not in batch:
                    continue
                counts = {name: parse_count(video.get(field)) for name, field in _STATS_COUNTS.items()}
                missing = [name for name, value in counts.items() if value is None]
                out[video_id] = VideoStats(video_id, True, **counts,
                                           note=f"TikTok gave no {', '.join(missing)}" if missing else None)
        return {i: out.get(i) or VideoStats.unavailable(i, "not found (deleted, or no longer public)") for i in ids}

    # -- plumbing --------------------------------------------------------------------------

    def _plan(self, session: RemoteSession, request: UploadRequest) -> tuple[int, int]:
        chunk = session.chunk_bytes or tiktok_chunks(request.size_bytes, request.chunk_bytes)[0]
        count = session.extra.get("total_chunk_count") or max(1, request.size_bytes // chunk)
        return int(chunk), int(count)

    def _username(self, token: Secret) -> str | None:
        """The creator's handle for the post URL. Any failure leaves the URL out: the post is
        published whatever this lookup says."""
        try:
            return self.account_info(token).username
        except FarmError:
            return None


    def _api(self, token: Secret, path: str, body: dict | None, *, what: str, retry: bool,
             params: dict[str, str] | None = None) -> dict:
        """POST a JSON body (``None``: an empty one) to the API; ``data`` of a good answer."""
        content = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")

        def call() -> dict:
            resp = self._request("POST", f"{self.settings.tiktok_api_base}{path}", what=what, token=token,
                                 content=content, params=params,
                                 headers={"Content-Type": "application/json; charset=UTF-8"})
            answer = json_body(resp)
            code = (answer.get("error") or {}).get("code") if isinstance(answer.get("error"), dict) else None
            if not resp.is_success or (code not in (None, "", "ok")):
                raise self._error(resp, what, token, answer)
            data = answer.get("data")
            return data if isinstance(data, dict) else {}

        if not retry:
            return call()
        return with_retries(call, retries=self.settings.max_retries, sleep=self.sleep, what=f"tiktok {what}")

    def _error(self, resp: httpx.Response, what: str, token: Secret | None, answer: dict | None = None) -> FarmError:
        """The error tree's answer to a TikTok error, once for every call (docs/platforms.md)."""
        status = resp.status_code
        err = (answer if answer is not None else json_body(resp)).get("error")
        err = err if isinstance(err, dict) else {}
        code, message, log_id = str(err.get("code") or ""), str(err.get("message") or ""), err.get("log_id")
        text = scrub(f"tiktok {what}: HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
                     + (f" (log_id {log_id})" if log_id else ""), token)
        if code in _SCOPE_CODES:
            scope = _SCOPE_OF.get(what.split(" ")[0], None)
            return ScopeError(f"{text} (the token lacks {scope or 'a scope this call needs'}; reconnect the account "
                              "to grant it)", scope=scope)
        if status == 401 or code in _AUTH_CODES:
            return AuthError(text + " (refresh the token, or reconnect the account)")
        if code == "rate_limit_exceeded" or status == 429:
            return RetryableError(text, retry_after_s=retry_after(resp))
        if code in _QUOTA_CODES:
            # reached_active_user_cap: the unaudited app's users a day (the whole app); the others: this creator.
            scope = "project" if code == "reached_active_user_cap" else "account"
            return QuotaError(text, reset_at=utc_now() + POST_CAP_HOLD, scope=scope, bucket="upload")
        if status >= 500 or code == "internal_error":
            return RetryableError(text, retry_after_s=retry_after(resp))
        return PolicyError(text, reason=scrub(message or code or f"HTTP {status}", token))


class TikTokPlatform(Platform):
    """TikTok direct posts and inbox drafts through the Content Posting API (docs/platforms.md)."""

    name = "tiktok"
    label = "TikTok"
    client_class = TikTokClient
    privacy = ("public", "private", "self-only", "inbox")
    # Media Transfer Guide, "Video restrictions": MP4, WebM, MOV; H.264, H.265, VP8, VP9; 23 to 60 FPS; 360 to
    # 4096 pixels each way; at most 4 GB; at most 10 minutes through the API (the creator's
    # max_video_post_duration_sec replaces it). No documented minimum: 3 s is what publishing services built
    # on this API document (Ayrshare, Late).
    spec = PlatformSpec(
        name="TikTok",
        containers=frozenset({"mp4", "webm", "mov"}),
        video_codecs=frozenset({"h264", "hevc", "vp8", "vp9"}),
        min_duration_s=3.0, max_duration_s=600.0, max_size_bytes=4 * 1000 ** 3,
        min_fps=23.0, max_fps=60.0, min_width_px=360, min_height_px=360, max_width_px=4096, max_height_px=4096,
    )
    # Direct Post: post_info.title is the caption, at most 2200 UTF-16 runes; no title of its own (the
    # title we keep uses the photo-post title cap, 90); captions have no clickable links.
    text = TextRules(title={"utf16_units": 90}, description={"utf16_units": 2200}, hashtags_max=10,
                     shows_title=False, link="bio", style="short")
    safe_area = (60, 150, 150, 420)
    oauth = OAuth(authorize_url="tiktok_auth_url", client_id="tiktok_client_key", client_secret="tiktok_client_secret",
                  scopes=("user.info.basic", "video.publish", "video.upload", "video.list"), scope_separator=",",
                  client_id_param="client_key", challenge="S256-hex", redirect_path="/callback/",
                  statistics_scope="video.list", required=("video.publish",))
    tokens = TokenRules(refreshable=True, rotates=True)
    limits = (Limit(counts="calls", call="init", per="account", most=6, window=timedelta(minutes=1),
                    text="TikTok's limit of {most} upload inits a minute for this token"),)
    late_ids = True
    resend_chunks = True
    account_info_source = "creator info"
    stats = Statistics(batch=TIKTOK_STATS_BATCH, fields=STATS_FIELDS)

    def effective_privacy(self, privacy: str, settings) -> str:
        """Unaudited apps may only post self-only; TikTok's private is self-only."""
        if privacy == "inbox":
            return privacy
        if privacy == "private" or not getattr(settings, "tiktok_app_audited", False):
            return "self-only"
        return privacy

    def notices(self, privacy: str, settings) -> list[str]:
        if privacy == "inbox":
            return ["posts go to the TikTok inbox as drafts, to finish in the app"]
        if not getattr(settings, "tiktok_app_audited", False):
            return ["posts will be self-only (private) until TikTok audits the app, and only to private accounts; "
                    "use --privacy inbox to send drafts instead"]
        return super().notices(privacy, settings)

    def upload_flags(self, *, affiliate: bool, synthetic_media: bool) -> dict[str, bool]:
        # Content Posting API post_info: brand_content_toggle = a paid partnership promoting a third party (an
        # affiliate link is one); brand_organic_toggle = the creator's own business; is_aigc = the AI label.
        return {"brand_content_toggle": affiliate, "brand_organic_toggle": False, "is_aigc": synthetic_media}

    def check_request(self, request: UploadRequest, info: AccountInfo, *, label: str) -> None:
        """The privacy the creator offers, and branded content never self-only ("Branded content
        visibility cannot be set to private", TikTok's content sharing guidelines)."""
        if request.privacy == "inbox":
            return
        want = "self-only" if request.privacy in ("private", "self-only") else "public"
        if info.privacy_options and want not in info.privacy_options:
            raise PolicyError(f"{label}: the account does not offer {want} posts "
                              f"(it offers {', '.join(info.privacy_options)})")
        if want == "self-only" and request.flags.get("brand_content_toggle"):
            raise PolicyError(f"{label}: TikTok refuses branded content (an affiliate link) in self-only posts, and the "
                              "app may only post self-only until TikTok audits it; use --privacy inbox for this "
                              "account, or publish it after the audit")

    def interactions(self, allowed: dict[str, bool], info: AccountInfo) -> dict[str, bool]:
        """What viewers may do: what the account allows and the creator has not turned off."""
        off = {"comments": info.comments_off, "duet": info.duet_off, "stitch": info.stitch_off}
        return {k: bool(allowed.get(k)) and not off[k] for k in off}


TIKTOK = TikTokPlatform()
