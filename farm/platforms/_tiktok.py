"""TikTok Content Posting API: direct posts and inbox drafts uploaded in fixed chunks; the Display
API's video query for their statistics."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

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

MIB = 1024 * 1024
CHUNK_MIN_BYTES = 5 * MIB
CHUNK_MAX_BYTES = 64 * MIB
"""TikTok's media transfer rules: chunks of 5 to 64 MiB, the last taking the remainder (up to
128 MiB); a file under 5 MiB goes whole; a file over 64 MiB in several chunks."""

# The farm's privacy words as post_info.privacy_level; "inbox" is the inbox endpoint instead.
_PRIVACY_LEVEL = {"public": "PUBLIC_TO_EVERYONE", "private": "SELF_ONLY", "self-only": "SELF_ONLY"}
_BRAND_FLAGS = ("brand_content_toggle", "brand_organic_toggle", "is_aigc")
_AUTH_CODES = frozenset({"access_token_invalid", "scope_not_authorized", "scope_permission_missed"})
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

    Under 5 MiB: one chunk of the whole file. Otherwise ``chunk_bytes`` clamped into 5..64 MiB
    (and to the file), ``total_chunk_count = size // chunk_size``, the last chunk taking the
    remainder, which stays under twice the chunk (so under 128 MiB). A file over 64 MiB gets
    at least two chunks, as TikTok requires.
    """
    size = int(size_bytes)
    if size <= 0:
        raise InputError(f"tiktok: cannot upload an empty video ({size} bytes)")
    if size < CHUNK_MIN_BYTES:
        return size, 1
    chunk = min(max(int(chunk_bytes), CHUNK_MIN_BYTES), CHUNK_MAX_BYTES, size)
    if size > CHUNK_MAX_BYTES:
        chunk = min(chunk, size // 2)
    return chunk, size // chunk


def chunk_span(size_bytes: int, chunk_size: int, count: int, index: int) -> tuple[int, int]:
    """``(first byte, end)`` of chunk ``index`` (end exclusive); the last runs to the file's end."""
    first = index * chunk_size
    end = size_bytes if index == count - 1 else first + chunk_size
    return first, end


def next_utc_midnight(now: datetime | None = None) -> datetime:
    """When TikTok's daily post cap lifts, as we assume it: the next midnight UTC (naive)."""
    now = now or utc_now()
    return datetime(now.year, now.month, now.day) + timedelta(days=1)


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

    def refresh(self, tokens: TokenSet) -> TokenSet:
        """New tokens; TikTok rotates the refresh token, so the result's must replace the old."""
        key, secret = self.settings.tiktok_client_key, self.settings.tiktok_client_secret
        if not key or not secret:
            missing = " and ".join(name for name, value in (("FARM_TIKTOK_CLIENT_KEY", key),
                                                            ("FARM_TIKTOK_CLIENT_SECRET", secret)) if not value)
            raise AuthError(f"tiktok token refresh: the app is not configured; set {missing} "
                            "(or [platforms] in farm.toml)")
        if tokens.refresh_token is None or not tokens.refresh_token:
            raise AuthError("tiktok token refresh: the account has no refresh token; reconnect the account")
        form = {"client_key": key, "client_secret": secret, "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token.reveal()}
        what = "token refresh"

        def call() -> TokenSet:
            resp = self._request("POST", f"{self.settings.tiktok_api_base}/v2/oauth/token/", what=what, data=form)
            body = json_body(resp)
            # TikTok's OAuth endpoint may answer 200 with {"error": "invalid_grant", ...}.
            if not resp.is_success or (body.get("error") and not body.get("access_token")):
                raise self._refresh_error(resp, body, tokens)
            access = body.get("access_token")
            if not isinstance(access, str) or not access:
                raise RetryableError("tiktok token refresh: the answer held no access token")
            now = utc_now()
            new_refresh = body.get("refresh_token")
            expires_in, refresh_in = body.get("expires_in"), body.get("refresh_expires_in")
            return TokenSet(
                access_token=Secret(access),
                refresh_token=Secret(new_refresh) if isinstance(new_refresh, str) and new_refresh else tokens.refresh_token,
                expires_at=now + timedelta(seconds=float(expires_in)) if isinstance(expires_in, (int, float)) else None,
                refresh_expires_at=(now + timedelta(seconds=float(refresh_in)) if isinstance(refresh_in, (int, float))
                                    else tokens.refresh_expires_at),
                scope=body.get("scope") or tokens.scope)

        return with_retries(call, retries=self.settings.max_retries, sleep=self.sleep, what=f"tiktok {what}")

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
            post_info = {
                # TikTok's "title" is the whole caption (2200 UTF-16 units); the farm's caption fits.
                "title": request.description,
                "privacy_level": level,
                "disable_duet": False,
                "disable_comment": False,
                "disable_stitch": False,
                "video_cover_timestamp_ms": 1000,
            }
            for flag in _BRAND_FLAGS:
                post_info[flag] = bool(request.flags.get(flag, False))
            path, body = "/v2/post/publish/video/init/", {"post_info": post_info, "source_info": source}
            privacy = "self-only" if level == "SELF_ONLY" else "public"
        data = self._api(token, path, body, what="init upload", retry=False)
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
        if resp.status_code in (404, 410):
            # The upload URL lives an hour; past that the session must be started anew.
            raise SessionLostError(f"tiktok {what}: the upload URL is gone (HTTP {resp.status_code}); "
                                   "start a new upload")
        if resp.status_code == 416:
            # TikTok disagrees on where we are: the publisher queries and resumes there.
            raise RetryableError(f"tiktok {what}: range not accepted (HTTP 416)")
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
            return RemoteState("published", received_bytes=size, remote_id=post_id, remote_url=url,
                               privacy=privacy if privacy in ("public", "self-only") else None)
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
        if status == 401 or code in _AUTH_CODES:
            return AuthError(text + " (refresh the token, or reconnect the account)")
        if code == "rate_limit_exceeded" or status == 429:
            return RetryableError(text, retry_after_s=retry_after(resp))
        if code in _QUOTA_CODES:
            return QuotaError(text, reset_at=next_utc_midnight())
        if status >= 500 or code == "internal_error":
            return RetryableError(text, retry_after_s=retry_after(resp))
        return PolicyError(text, reason=scrub(message or code or f"HTTP {status}", token))

    def _refresh_error(self, resp: httpx.Response, body: dict, tokens: TokenSet) -> FarmError:
        status = resp.status_code
        if status == 429 or status >= 500:
            return RetryableError(f"tiktok token refresh: HTTP {status}", retry_after_s=retry_after(resp))
        err = body.get("error")
        if isinstance(err, dict):
            name, detail = str(err.get("code") or ""), str(err.get("message") or "")
        else:
            name, detail = str(err or ""), str(body.get("error_description") or "")
        text = scrub(f"tiktok token refresh: HTTP {status} {name}" + (f": {detail}" if detail else ""),
                     tokens.access_token, tokens.refresh_token)
        if name == "invalid_grant":
            return AuthError(text + "; the refresh token is expired or revoked: reconnect the account")
        if name in ("invalid_client", "unauthorized_client"):
            return AuthError(text + "; check FARM_TIKTOK_CLIENT_KEY and FARM_TIKTOK_CLIENT_SECRET")
        return AuthError(text + "; reconnect the account if this persists")
