"""Platform clients against in-process httpx.MockTransport platforms: request shapes, chunking,
resume offsets, error mapping, token refresh, the local outbox, and no token in any error."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import httpx
import pytest

from farm.errors import AuthError, InputError, PolicyError, QuotaError, RetryableError, ScopeError, SessionLostError
from farm.platforms import (
    FacebookClient,
    LocalClient,
    RemoteSession,
    Secret,
    TikTokClient,
    TokenSet,
    UploadRequest,
    YouTubeClient,
    client_for,
    make_http_client,
    platform_names,
    tiktok_chunks,
    youtube_chunk_bytes,
)
from farm.settings import PlatformSettings

TOKEN_VALUE = "tok-SECRET-0123456789"
REFRESH_VALUE = "ref-SECRET-9876543210"
TOKEN = Secret(TOKEN_VALUE)
KIB, MIB = 1024, 1024 * 1024
SESSION_URL = "https://yt.test/upload/videos?uploadType=resumable&upload_id=UPLOAD-ID-1"
SETTINGS = PlatformSettings(
    youtube_api_base="https://yt.test/api", youtube_upload_base="https://yt.test/upload",
    youtube_token_url="https://yt.test/token", youtube_client_id="yt-client", youtube_client_secret="yt-secret",
    tiktok_api_base="https://tt.test", tiktok_client_key="tt-key", tiktok_client_secret="tt-secret",
    facebook_graph_base="https://fb.test/graph", facebook_upload_base="https://fb.test/upload", max_retries=2)


class Wire:
    """A scripted platform: each request gets the next reply (a Response, an exception to raise,
    or a function of the request); every request is kept, its body read."""

    def __init__(self, *replies) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.replies:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        reply = self.replies.pop(0)
        if callable(reply) and not isinstance(reply, httpx.Response):
            reply = reply(request)
        if isinstance(reply, BaseException):
            raise reply
        return reply


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(cls, wire: Wire, settings: PlatformSettings = SETTINGS, sleeps: Sleeps | None = None):
    http = make_http_client(settings, transport=httpx.MockTransport(wire))
    return cls(http, settings, sleep=sleeps if sleeps is not None else Sleeps())


def js(status: int, body: dict, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def video_file(tmp_path: Path, size: int, name: str = "out.mp4") -> Path:
    """A file of ``size`` bytes whose every 4-byte word is its own offset: a slice sent from the
    wrong place cannot compare equal."""
    words = (size + 3) // 4
    data = b"".join(i.to_bytes(4, "big") for i in range(words))[:size]
    path = tmp_path / name
    path.write_bytes(data)
    return path


def request_for(path: Path | None, size: int | None = None, **kw) -> UploadRequest:
    size = size if size is not None else path.stat().st_size  # type: ignore[union-attr]
    fields = {"path": path or Path("/nonexistent/never-read.mp4"), "size_bytes": size, "title": "A title",
              "description": "Caption #one #two", "marker": "rf-7-yo-abcd1234", "hashtags": ("#one", "two")}
    fields.update(kw)
    return UploadRequest(**fields)


def assert_no_token(err: BaseException) -> None:
    for text in (str(err), repr(err), str(getattr(err, "reason", ""))):
        assert TOKEN_VALUE not in text and REFRESH_VALUE not in text, text
        assert "upload_id" not in text, text


# ---------------------------------------------------------------------------------------- YouTube

def yt_error(status: int, reason: str, message: str = "Nope.") -> httpx.Response:
    return js(status, {"error": {"code": status, "message": message,
                                 "errors": [{"reason": reason, "domain": "youtube", "message": message}]}})


def yt_video(privacy: str = "public", video_id: str = "vid123", tags=("rf-7-yo-abcd1234",)) -> dict:
    return {"id": video_id, "snippet": {"title": "A title", "tags": list(tags)},
            "status": {"privacyStatus": privacy, "uploadStatus": "uploaded"}}


def yt_session(size: int) -> RemoteSession:
    return RemoteSession(platform="youtube", handle=SESSION_URL, chunk_bytes=256 * KIB, extra={"privacy": "public"})


@pytest.mark.parametrize(("asked", "expected"), [
    (8 * MIB, 8 * MIB), (8 * MIB + 1000, 8 * MIB), (700 * KIB, 512 * KIB), (100, 256 * KIB), (0, 256 * KIB),
])
def test_youtube_chunk_is_rounded_down_to_256_kib(asked, expected):
    assert youtube_chunk_bytes(asked) == expected


def test_youtube_start_shape_and_no_video_bytes():
    wire = Wire(httpx.Response(200, headers={"Location": SESSION_URL}))
    yt = make(YouTubeClient, wire)
    req = request_for(None, size=5_000_000, privacy="self-only", chunk_bytes=3 * MIB + 5,
                      flags={"containsSyntheticMedia": True, "hasPaidProductPlacement": True,
                             "selfDeclaredMadeForKids": False})
    session = yt.start(TOKEN, req)
    assert session.handle == SESSION_URL and session.chunk_bytes == 3 * MIB
    (r,) = wire.requests
    assert r.method == "POST" and r.url.path == "/upload/videos"
    assert r.url.params["uploadType"] == "resumable"
    assert r.url.params["part"] == "snippet,status,paidProductPlacementDetails"
    assert r.headers["Authorization"] == f"Bearer {TOKEN_VALUE}"
    assert r.headers["X-Upload-Content-Length"] == "5000000"
    assert r.headers["X-Upload-Content-Type"] == "video/mp4"
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert TOKEN_VALUE not in str(r.url)
    body = json.loads(r.content)
    assert body == {
        "snippet": {"title": "A title", "description": "Caption #one #two", "tags": ["rf-7-yo-abcd1234", "one", "two"],
                    "categoryId": "22"},
        "status": {"privacyStatus": "private", "selfDeclaredMadeForKids": False, "containsSyntheticMedia": True},
        "paidProductPlacementDetails": {"hasPaidProductPlacement": True},
    }


def test_youtube_start_without_paid_placement_asks_two_parts():
    wire = Wire(httpx.Response(200, headers={"Location": SESSION_URL}))
    make(YouTubeClient, wire).start(TOKEN, request_for(None, size=10))
    r = wire.requests[0]
    assert r.url.params["part"] == "snippet,status"
    body = json.loads(r.content)
    assert "paidProductPlacementDetails" not in body and body["status"]["privacyStatus"] == "public"


def test_youtube_send_resumes_where_youtube_says(tmp_path):
    """YouTube may hold less than was sent: each next chunk starts where its Range ends."""
    size = 700 * KIB + 123
    path = video_file(tmp_path, size)
    data = path.read_bytes()
    held = bytearray()

    def platform(request: httpx.Request) -> httpx.Response:
        first, rest = request.headers["Content-Range"].removeprefix("bytes ").split("-")
        last, total = (int(x) for x in rest.split("/"))
        assert int(total) == size and int(first) == len(held)
        assert request.content == data[int(first):last + 1]
        assert int(request.headers["Content-Length"]) == last + 1 - int(first)
        # The first time, keep only 100 000 bytes of the 256 KiB sent.
        held.extend(request.content[:100_000] if not held else request.content)
        if len(held) == size:
            return js(201, yt_video(privacy="private"))
        return httpx.Response(308, headers={"Range": f"bytes=0-{len(held) - 1}"})

    wire = Wire(*[platform] * 5)
    yt = make(YouTubeClient, wire)
    # The publisher fills in the shape after its file check: a vertical 4 s video is a Short.
    req = request_for(path, chunk_bytes=256 * KIB, width=540, height=960, duration_s=4.0)
    sent: list[int] = []
    offsets, state = [], None
    offset = 0
    while True:
        offsets.append(offset)
        state = yt.send(TOKEN, yt_session(size), req, offset=offset, on_bytes=sent.append)
        if state.status != "uploading":
            break
        offset = state.received_bytes
    assert offsets == [0, 100_000, 100_000 + 256 * KIB, 100_000 + 512 * KIB]
    assert [r.headers["Content-Range"] for r in wire.requests] == [
        f"bytes 0-{256 * KIB - 1}/{size}", f"bytes 100000-{100_000 + 256 * KIB - 1}/{size}",
        f"bytes {100_000 + 256 * KIB}-{100_000 + 512 * KIB - 1}/{size}", f"bytes {100_000 + 512 * KIB}-{size - 1}/{size}"]
    assert bytes(held) == data
    assert sum(sent) == 256 * KIB * 3 + (size - 100_000 - 512 * KIB)
    # Asked public, kept private (the channel's own settings): the state says what applies.
    assert state.status == "published" and state.privacy == "private"
    assert state.remote_id == "vid123" and state.remote_url == "https://www.youtube.com/shorts/vid123"
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN_VALUE}" for r in wire.requests)


def test_youtube_308_without_range_holds_nothing(tmp_path):
    path = video_file(tmp_path, 300 * KIB)
    wire = Wire(httpx.Response(308))
    state = make(YouTubeClient, wire).send(TOKEN, yt_session(300 * KIB), request_for(path), offset=0)
    assert state.status == "uploading" and state.received_bytes == 0


def test_youtube_query_is_an_empty_put():
    size = 777_777
    wire = Wire(httpx.Response(308, headers={"Range": "bytes=0-524287"}), js(200, yt_video()))
    yt = make(YouTubeClient, wire)
    req = request_for(None, size=size)
    state = yt.query(TOKEN, yt_session(size), req)
    assert state.status == "uploading" and state.received_bytes == 524_288
    r = wire.requests[0]
    assert r.method == "PUT" and str(r.url) == SESSION_URL
    assert r.headers["Content-Range"] == f"bytes */{size}" and r.headers["Content-Length"] == "0" and r.content == b""
    state = yt.finish(TOKEN, yt_session(size), req)
    assert state.status == "published" and state.privacy == "public"
    # The request says nothing of the video's shape: the address that works for every video.
    assert state.remote_url == "https://www.youtube.com/watch?v=vid123"


@pytest.mark.parametrize(("width", "height", "duration_s", "url"), [
    (540, 960, 4.0, "https://www.youtube.com/shorts/vid123"),  # vertical, short
    (720, 720, 180.0, "https://www.youtube.com/shorts/vid123"),  # square, exactly 3 minutes
    (540, 960, 181.0, "https://www.youtube.com/watch?v=vid123"),  # vertical, over 3 minutes
    (1920, 1080, 30.0, "https://www.youtube.com/watch?v=vid123"),  # horizontal
    (540, 960, None, "https://www.youtube.com/watch?v=vid123"),  # duration unknown
])
def test_youtube_url_is_a_short_only_for_a_short(width, height, duration_s, url):
    wire = Wire(js(200, yt_video()))
    req = request_for(None, size=10, width=width, height=height, duration_s=duration_s)
    state = make(YouTubeClient, wire).query(TOKEN, yt_session(10), req)
    assert state.status == "published" and state.remote_url == url


def test_youtube_query_404_is_session_lost_at_once():
    sleeps = Sleeps()
    wire = Wire(js(404, {"error": {"code": 404, "message": "Not Found"}}))
    with pytest.raises(SessionLostError) as info:
        make(YouTubeClient, wire, sleeps=sleeps).query(TOKEN, yt_session(10), request_for(None, size=10))
    assert len(wire.requests) == 1 and sleeps == []
    assert_no_token(info.value)


def test_youtube_query_retries_a_dropped_connection():
    sleeps = Sleeps()
    wire = Wire(httpx.ReadTimeout("stalled"), httpx.RemoteProtocolError("peer closed"), js(200, yt_video()))
    state = make(YouTubeClient, wire, sleeps=sleeps).query(TOKEN, yt_session(10), request_for(None, size=10))
    assert state.status == "published" and len(sleeps) == 2


def test_youtube_send_timeout_is_retryable_and_not_retried(tmp_path):
    path = video_file(tmp_path, 300 * KIB)
    sleeps = Sleeps()
    wire = Wire(httpx.WriteTimeout("stalled"))
    with pytest.raises(RetryableError) as info:
        make(YouTubeClient, wire, sleeps=sleeps).send(TOKEN, yt_session(300 * KIB), request_for(path), offset=0)
    assert type(info.value) is RetryableError and "timed out" in str(info.value) and "youtube" in str(info.value)
    assert len(wire.requests) == 1 and sleeps == []
    assert_no_token(info.value)


def _pacific_midnight_ok(reset_at: datetime) -> None:
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    assert now < reset_at <= now + timedelta(hours=25)
    local = reset_at.replace(tzinfo=timezone.utc).astimezone(ZoneInfo("America/Los_Angeles"))
    assert (local.hour, local.minute, local.second) == (0, 0, 0)


@pytest.mark.parametrize(("reply", "kind"), [
    (yt_error(403, "quotaExceeded", "The request cannot be completed because you have exceeded your quota."), QuotaError),
    (yt_error(400, "uploadLimitExceeded", "The user has exceeded the number of videos they may upload."), QuotaError),
    (yt_error(403, "insufficientPermissions", "Request had insufficient authentication scopes."), ScopeError),
    (yt_error(403, "rateLimitExceeded"), RetryableError),
    (yt_error(403, "userRateLimitExceeded"), RetryableError),
    (js(429, {"error": {"code": 429, "message": "Too many"}}, {"Retry-After": "7"}), RetryableError),
    (js(503, {"error": {"code": 503, "message": "Backend Error", "errors": [{"reason": "backendError"}]}}),
     RetryableError),
    (httpx.Response(502, text="<html>bad gateway</html>"), RetryableError),
    (yt_error(401, "authError", "Invalid Credentials"), AuthError),
    (yt_error(400, "invalidTitle", "The request metadata specifies an invalid video title."), PolicyError),
    (yt_error(403, "forbidden", "Access forbidden."), PolicyError),
])
def test_youtube_error_mapping(reply, kind):
    with pytest.raises(kind) as info:
        make(YouTubeClient, Wire(reply)).start(TOKEN, request_for(None, size=10))
    err = info.value
    assert type(err) is kind and str(err).startswith("youtube start upload: HTTP ")
    assert_no_token(err)
    if kind is QuotaError:
        assert "quota" in str(err).lower() or "exceeded" in str(err)
        assert err.bucket == "upload"  # videos.insert draws on the upload bucket
        if "uploadLimitExceeded" in reply.text:  # this channel's uploads, for 24 hours
            now = datetime.now(timezone.utc).replace(tzinfo=None)
            assert err.scope == "account"
            assert now + timedelta(hours=24) - timedelta(minutes=1) <= err.reset_at <= now + timedelta(hours=24)
        else:  # the project's quota, until midnight Pacific time
            assert err.scope == "project"
            _pacific_midnight_ok(err.reset_at)
    if kind is ScopeError:
        assert err.scope == "https://www.googleapis.com/auth/youtube.upload" and "reconnect" in str(err)
    if kind is PolicyError:
        assert err.reason == reply.json()["error"]["message"]
    if reply.status_code == 429:
        assert err.retry_after_s == 7.0


def test_youtube_quota_on_a_read_holds_the_read_bucket():
    """quotaExceeded on anything but videos.insert spends the project's read quota, not its uploads."""
    quota = yt_error(403, "quotaExceeded", "The request cannot be completed because you have exceeded your quota.")
    with pytest.raises(QuotaError) as info:
        make(YouTubeClient, Wire(quota)).find(TOKEN, request_for(None, size=10))
    assert (info.value.scope, info.value.bucket) == ("project", "read")
    _pacific_midnight_ok(info.value.reset_at)
    scope = yt_error(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
    with pytest.raises(ScopeError) as info:
        make(YouTubeClient, Wire(scope)).find(TOKEN, request_for(None, size=10))
    assert info.value.scope == "https://www.googleapis.com/auth/youtube.readonly"
    assert_no_token(info.value)


def test_youtube_find_by_marker():
    marker = "rf-7-yo-abcd1234"
    wire = Wire(
        js(200, {"items": [{"contentDetails": {"relatedPlaylists": {"uploads": "UU123"}}}]}),
        js(200, {"items": [{"contentDetails": {"videoId": v}} for v in ("a1", "b2", "c3")]}),
        js(200, {"items": [yt_video(video_id="a1", tags=("other",)), yt_video(video_id="b2", tags=("x", marker)),
                           yt_video(video_id="c3", tags=())]}),
    )
    state = make(YouTubeClient, wire).find(TOKEN, request_for(None, size=10, marker=marker))
    assert state is not None and state.status == "published" and state.remote_id == "b2"
    assert state.remote_url == "https://www.youtube.com/watch?v=b2"  # the request holds no shape
    ch, pl, vi = wire.requests
    assert ch.url.path == "/api/channels" and dict(ch.url.params) == {"part": "contentDetails", "mine": "true"}
    assert pl.url.path == "/api/playlistItems" and dict(pl.url.params) == {
        "part": "contentDetails", "playlistId": "UU123", "maxResults": "50"}
    assert vi.url.path == "/api/videos" and dict(vi.url.params) == {"part": "snippet,status", "id": "a1,b2,c3"}
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN_VALUE}" for r in wire.requests)


def test_youtube_find_nothing_is_none():
    wire = Wire(js(200, {"items": [{"contentDetails": {"relatedPlaylists": {"uploads": "UU1"}}}]}),
                js(200, {"items": [{"contentDetails": {"videoId": "a1"}}]}),
                js(200, {"items": [yt_video(video_id="a1", tags=("rf-other",))]}))
    assert make(YouTubeClient, wire).find(TOKEN, request_for(None, size=10)) is None


def test_youtube_refresh_keeps_the_refresh_token():
    wire = Wire(js(200, {"access_token": "new-access", "expires_in": 3599, "scope": "s", "token_type": "Bearer"}))
    tokens = TokenSet(access_token=TOKEN, refresh_token=Secret(REFRESH_VALUE))
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    fresh = make(YouTubeClient, wire).refresh(tokens)
    assert fresh.access_token.reveal() == "new-access" and fresh.refresh_token == tokens.refresh_token
    assert fresh.expires_at.tzinfo is None
    assert before + timedelta(seconds=3598) <= fresh.expires_at <= before + timedelta(seconds=3620)
    (r,) = wire.requests
    assert str(r.url) == "https://yt.test/token" and r.method == "POST"
    assert form(r) == {"grant_type": "refresh_token", "client_id": "yt-client", "client_secret": "yt-secret",
                       "refresh_token": REFRESH_VALUE}
    assert REFRESH_VALUE not in repr(fresh) and "new-access" not in repr(fresh)


def test_youtube_refresh_invalid_grant_says_reconnect():
    wire = Wire(js(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}))
    with pytest.raises(AuthError) as info:
        make(YouTubeClient, wire).refresh(TokenSet(access_token=TOKEN, refresh_token=Secret(REFRESH_VALUE)))
    assert "reconnect" in str(info.value) and "expired or revoked" in str(info.value)
    assert_no_token(info.value)


def test_a_refresh_whose_answer_was_lost_is_tried_once_more_with_the_same_token():
    sleeps = Sleeps()
    wire = Wire(httpx.RemoteProtocolError("peer closed"),
                js(200, {"access_token": "new-access", "expires_in": 3599, "token_type": "Bearer"}))
    tokens = TokenSet(access_token=TOKEN, refresh_token=Secret(REFRESH_VALUE))
    fresh = make(YouTubeClient, wire, sleeps=sleeps).refresh(tokens)
    assert fresh.access_token.reveal() == "new-access" and fresh.refresh_token == tokens.refresh_token
    assert [form(r)["refresh_token"] for r in wire.requests] == [REFRESH_VALUE, REFRESH_VALUE]


def test_invalid_grant_after_a_lost_refresh_answer_says_so():
    """A rotating platform may have spent the refresh token on the answer that was lost."""
    wire = Wire(httpx.ReadTimeout("stalled"),
                js(400, {"error": "invalid_grant", "error_description": "Refresh token is invalid or expired.",
                         "log_id": "L"}))
    with pytest.raises(AuthError) as info:
        make(TikTokClient, wire).refresh(TokenSet(access_token=TOKEN, refresh_token=Secret(REFRESH_VALUE)))
    assert "reconnect" in str(info.value) and "lost" in str(info.value)
    assert [form(r)["refresh_token"] for r in wire.requests] == [REFRESH_VALUE, REFRESH_VALUE]
    assert_no_token(info.value)


def test_a_token_answer_without_a_lifetime_has_no_assumed_expiry():
    wire = Wire(js(200, {"access_token": "new-access", "token_type": "Bearer"}))
    fresh = make(YouTubeClient, wire).refresh(TokenSet(access_token=TOKEN, refresh_token=Secret(REFRESH_VALUE)))
    assert fresh.access_token.reveal() == "new-access" and fresh.expires_at is None


def test_youtube_refresh_without_client_names_the_variable():
    settings = PlatformSettings(youtube_client_id="", youtube_client_secret="x")
    with pytest.raises(AuthError, match="FARM_YOUTUBE_CLIENT_ID"):
        make(YouTubeClient, Wire(), settings).refresh(TokenSet(access_token=TOKEN, refresh_token=Secret(REFRESH_VALUE)))


# ----------------------------------------------------------------------------------------- TikTok

def tt(data: dict | None = None, status: int = 200, code: str = "ok", message: str = "") -> httpx.Response:
    return js(status, {"data": data or {}, "error": {"code": code, "message": message, "log_id": "LOG1"}})


def tt_session(size: int, chunk: int, count: int, privacy: str = "public") -> RemoteSession:
    return RemoteSession(platform="tiktok", handle="v_pub_1", upload_url="https://tt-up.test/upload?sig=abc",
                         chunk_bytes=chunk, extra={"privacy": privacy, "total_chunk_count": count})


# TikTok's Media Transfer Guide: chunks of at least 5 MB and at most 64 MB, the last up to 128 MB; a
# video of at most 64 MB may go whole, a larger one in several chunks; 1 to 1000 chunks. Its MB is read
# both ways: at least 5 MiB, at most 64,000,000 bytes (the last at most 128,000,000).
ONE_CHUNK_MAX, CHUNK_MAX, LAST_CHUNK_MAX = 64_000_000, 64_000_000, 128_000_000


@pytest.mark.parametrize(("size", "asked", "chunk", "count", "last"), [
    (3 * MIB, 8 * MIB, 3 * MIB, 1, 3 * MIB),  # small: whole
    (12 * MIB, 8 * MIB, 12 * MIB, 1, 12 * MIB),  # up to 64,000,000 bytes: one chunk, chunk_size = video_size
    (ONE_CHUNK_MAX, 8 * MIB, ONE_CHUNK_MAX, 1, ONE_CHUNK_MAX),
    (130 * MIB, 8 * MIB, 8 * MIB, 16, 10 * MIB),  # 16 chunks, the last 8 + 2 MiB
    (130 * MIB + 17, 64 * MIB, CHUNK_MAX, 2, 130 * MIB + 17 - CHUNK_MAX),  # 64 MiB is over 64,000,000 bytes
    (100 * MIB, 1 * MIB, 5 * MIB, 20, 5 * MIB),  # clamped up to 5 MiB
    (300 * MIB, 100 * MIB, CHUNK_MAX, 4, 300 * MIB - 3 * CHUNK_MAX),  # clamped down to 64,000,000
    (100 * MIB, 32 * MIB, 32 * MIB, 3, 36 * MIB),
])
def test_tiktok_chunk_plan(size, asked, chunk, count, last):
    assert tiktok_chunks(size, asked) == (chunk, count)
    assert size - (count - 1) * chunk == last


def test_tiktok_chunk_rules_hold_for_many_sizes():
    for size in [1, 5 * MIB - 1, 5 * MIB, ONE_CHUNK_MAX, ONE_CHUNK_MAX + 1, 64 * MIB, 64 * MIB + 1, 100 * MIB,
                 127 * MIB, 129 * MIB, 1000 * MIB, 4000 * MIB]:
        for asked in (1, 5 * MIB, 8 * MIB, 32 * MIB, 63 * MIB, 64 * MIB, 200 * MIB):
            chunk, count = tiktok_chunks(size, asked)
            last = size - (count - 1) * chunk
            assert count == max(1, size // chunk) and 1 <= count <= 1000
            if size <= ONE_CHUNK_MAX:
                assert (chunk, count) == (size, 1), (size, asked)
            else:
                assert 5 * MIB <= chunk <= CHUNK_MAX and chunk <= last <= LAST_CHUNK_MAX, (size, asked)
                assert count >= 2, (size, asked)  # "greater than 64 MB must be uploaded in multiple chunks"


def test_tiktok_start_direct_post_shape_without_a_file():
    wire = Wire(tt({"publish_id": "v_pub_1", "upload_url": "https://tt-up.test/upload?sig=abc"}))
    req = request_for(None, size=130 * MIB, privacy="public", chunk_bytes=8 * MIB,
                      flags={"brand_content_toggle": True, "brand_organic_toggle": False, "is_aigc": True})
    session = make(TikTokClient, wire).start(TOKEN, req)
    assert (session.handle, session.upload_url, session.chunk_bytes) == ("v_pub_1", "https://tt-up.test/upload?sig=abc",
                                                                         8 * MIB)
    (r,) = wire.requests
    assert str(r.url) == "https://tt.test/v2/post/publish/video/init/"
    assert r.headers["Authorization"] == f"Bearer {TOKEN_VALUE}"
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    # No interaction is on unless the account allows it (TikTok's guidelines: none checked by default).
    assert json.loads(r.content) == {
        "post_info": {"title": "Caption #one #two", "privacy_level": "PUBLIC_TO_EVERYONE", "disable_duet": True,
                      "disable_comment": True, "disable_stitch": True, "video_cover_timestamp_ms": 1000,
                      "brand_content_toggle": True, "brand_organic_toggle": False, "is_aigc": True},
        "source_info": {"source": "FILE_UPLOAD", "video_size": 130 * MIB, "chunk_size": 8 * MIB,
                        "total_chunk_count": 16},
    }


@pytest.mark.parametrize(("allowed", "disabled"), [
    ({}, {"disable_comment": True, "disable_duet": True, "disable_stitch": True}),
    ({"comments": True}, {"disable_comment": False, "disable_duet": True, "disable_stitch": True}),
    ({"comments": True, "duet": True, "stitch": True},
     {"disable_comment": False, "disable_duet": False, "disable_stitch": False}),
    ({"comments": False, "duet": True, "stitch": False},
     {"disable_comment": True, "disable_duet": False, "disable_stitch": True}),
])
def test_tiktok_interactions_are_off_unless_allowed(allowed, disabled):
    wire = Wire(tt({"publish_id": "p", "upload_url": "https://tt-up.test/u"}))
    make(TikTokClient, wire).start(TOKEN, request_for(None, size=3 * MIB, interactions=allowed))
    post_info = json.loads(wire.requests[0].content)["post_info"]
    assert {k: post_info[k] for k in disabled} == disabled


@pytest.mark.parametrize("privacy", ["self-only", "private"])
def test_tiktok_private_is_self_only(privacy):
    wire = Wire(tt({"publish_id": "p", "upload_url": "https://tt-up.test/u"}))
    session = make(TikTokClient, wire).start(TOKEN, request_for(None, size=3 * MIB, privacy=privacy))
    body = json.loads(wire.requests[0].content)
    assert body["post_info"]["privacy_level"] == "SELF_ONLY" and session.extra["privacy"] == "self-only"
    assert body["source_info"]["chunk_size"] == 3 * MIB and body["source_info"]["total_chunk_count"] == 1


def test_tiktok_inbox_init_sends_source_info_only():
    wire = Wire(tt({"publish_id": "p", "upload_url": "https://tt-up.test/u"}))
    make(TikTokClient, wire).start(TOKEN, request_for(None, size=12 * MIB, privacy="inbox", chunk_bytes=8 * MIB))
    r = wire.requests[0]
    assert r.url.path == "/v2/post/publish/inbox/video/init/"
    assert json.loads(r.content) == {"source_info": {"source": "FILE_UPLOAD", "video_size": 12 * MIB,
                                                     "chunk_size": 12 * MIB, "total_chunk_count": 1}}


def test_tiktok_send_chunks_in_order(tmp_path):
    size = 11 * MIB + 5
    path = video_file(tmp_path, size)
    data = path.read_bytes()
    # The plan agreed at init lives in the session (a file this small goes whole today; a session
    # started with two chunks, by an earlier version or on a larger file, is sent as agreed).
    chunk, count = 5 * MIB, 2
    wire = Wire(httpx.Response(206), httpx.Response(201))
    client = make(TikTokClient, wire)
    session, req = tt_session(size, chunk, count), request_for(path, chunk_bytes=5 * MIB)
    pieces: list[int] = []
    state = client.send(TOKEN, session, req, offset=0, on_bytes=pieces.append)
    assert state.status == "uploading" and state.received_bytes == 5 * MIB
    state = client.send(TOKEN, session, req, offset=state.received_bytes, on_bytes=pieces.append)
    assert state.status == "processing" and state.received_bytes == size
    first, second = wire.requests
    assert first.method == "PUT" and str(first.url) == "https://tt-up.test/upload?sig=abc"
    assert first.headers["Content-Range"] == f"bytes 0-{5 * MIB - 1}/{size}"
    assert second.headers["Content-Range"] == f"bytes {5 * MIB}-{size - 1}/{size}"
    assert second.headers["Content-Length"] == str(size - 5 * MIB)
    assert first.headers["Content-Type"] == "video/mp4"
    assert first.content == data[:5 * MIB] and second.content == data[5 * MIB:]
    # The pre-signed upload URL gets no token; the file goes in pieces, not one 6 MiB read.
    assert all("Authorization" not in r.headers for r in wire.requests)
    assert sum(pieces) == size and max(pieces) <= 1 * MIB


@pytest.mark.parametrize("status", [403, 404, 410])
def test_tiktok_chunk_on_a_gone_upload_url_is_session_lost(tmp_path, status):
    """403: the upload URL expired (it lives an hour); 404: no such upload task. The status (which outlives
    the URL) is asked first: with bytes still missing, the session is lost."""
    size = 11 * MIB
    path = video_file(tmp_path, size)
    sleeps = Sleeps()
    wire = Wire(tt(None, status=status, code="not_found", message="gone"),
                tt({"status": "PROCESSING_UPLOAD", "uploaded_bytes": 5 * MIB}))
    with pytest.raises(SessionLostError) as info:
        make(TikTokClient, wire, sleeps=sleeps).send(TOKEN, tt_session(size, 5 * MIB, 2), request_for(path), offset=0)
    assert len(wire.requests) == 2 and sleeps == []
    assert "status/fetch" in str(wire.requests[1].url)
    assert_no_token(info.value)


@pytest.mark.parametrize("status", [403, 404])
def test_tiktok_chunk_on_a_gone_url_of_a_complete_upload_follows_the_post(tmp_path, status):
    """The last chunk's answer was lost and the task is done: the resend finds no task, the status says
    TikTok has every byte; the upload goes on (it is never started again, which would post it twice)."""
    size = 11 * MIB
    path = video_file(tmp_path, size)
    wire = Wire(tt(None, status=status, code="not_found", message="gone"),
                tt({"status": "PROCESSING_UPLOAD", "uploaded_bytes": size}))
    state = make(TikTokClient, wire).send(TOKEN, tt_session(size, 5 * MIB, 2), request_for(path), offset=5 * MIB)
    assert state.status == "processing" and state.received_bytes == size


def test_tiktok_chunk_416_asks_where_tiktok_is(tmp_path):
    """416: the Content-Range does not match TikTok's progress; the status says where to resume."""
    size = 11 * MIB
    path = video_file(tmp_path, size)
    wire = Wire(httpx.Response(416), tt({"status": "PROCESSING_UPLOAD", "uploaded_bytes": 5 * MIB}))
    state = make(TikTokClient, wire).send(TOKEN, tt_session(size, 5 * MIB, 2), request_for(path), offset=0)
    assert (state.status, state.received_bytes) == ("uploading", 5 * MIB)
    chunk, status = wire.requests
    assert chunk.method == "PUT" and str(status.url) == "https://tt.test/v2/post/publish/status/fetch/"


def test_tiktok_send_refuses_an_offset_inside_a_chunk(tmp_path):
    size = 11 * MIB
    path = video_file(tmp_path, size)
    with pytest.raises(InputError, match="not the start"):
        make(TikTokClient, Wire()).send(TOKEN, tt_session(size, 5 * MIB, 2), request_for(path), offset=3 * MIB)


@pytest.mark.parametrize(("data", "status", "received", "extra"), [
    ({"status": "PROCESSING_UPLOAD", "uploaded_bytes": 7 * MIB}, "uploading", 5 * MIB, {}),
    ({"status": "PROCESSING_UPLOAD", "uploaded_bytes": 11 * MIB - 1}, "uploading", 5 * MIB, {}),
    ({"status": "PROCESSING_UPLOAD", "uploaded_bytes": 4 * MIB}, "uploading", 0, {}),
    ({"status": "PROCESSING_UPLOAD", "uploaded_bytes": 11 * MIB}, "processing", 11 * MIB, {}),
    ({"status": "PROCESSING_DOWNLOAD"}, "processing", 11 * MIB, {}),
    ({"status": "SEND_TO_USER_INBOX"}, "inbox", 11 * MIB, {}),
    ({"status": "FAILED", "fail_reason": "duration_check_failed"}, "failed", 0, {"reason": "duration_check_failed"}),
    # A public post has its id once moderation is done: published, its public id still owed.
    ({"status": "PUBLISH_COMPLETE"}, "published", 11 * MIB,
     {"remote_id": None, "remote_url": None, "privacy": "public", "pending": "public id"}),
])
def test_tiktok_status_mapping(data, status, received, extra):
    wire = Wire(tt(data))
    state = make(TikTokClient, wire).query(TOKEN, tt_session(11 * MIB, 5 * MIB, 2), request_for(None, size=11 * MIB))
    assert (state.status, state.received_bytes) == (status, received)
    for key, value in extra.items():
        assert getattr(state, key) == value
    (r,) = wire.requests
    assert str(r.url) == "https://tt.test/v2/post/publish/status/fetch/"
    assert json.loads(r.content) == {"publish_id": "v_pub_1"}


def test_tiktok_published_self_only_with_url():
    wire = Wire(tt({"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [7312345]}),
                tt({"creator_username": "shopper", "privacy_level_options": ["SELF_ONLY"]}))
    client = make(TikTokClient, wire)
    state = client.finish(TOKEN, tt_session(10, 10, 1, privacy="self-only"), request_for(None, size=10))
    assert state.status == "published" and state.privacy == "self-only" and state.remote_id == "7312345"
    assert state.remote_url == "https://www.tiktok.com/@shopper/video/7312345" and state.pending is None


def test_tiktok_self_only_post_without_an_id_owes_nothing():
    """TikTok gives a post id only for public posts: a self-only one is settled without it."""
    wire = Wire(tt({"status": "PUBLISH_COMPLETE"}))
    state = make(TikTokClient, wire).query(TOKEN, tt_session(10, 10, 1, privacy="self-only"),
                                           request_for(None, size=10))
    assert (state.status, state.remote_id, state.privacy, state.pending) == ("published", None, "self-only", None)
    assert len(wire.requests) == 1  # no creator info asked: there is no URL to build


def test_tiktok_account_info():
    wire = Wire(tt({"creator_username": "shopper", "creator_nickname": "Shop",
                    "privacy_level_options": ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"],
                    "comment_disabled": True, "duet_disabled": False, "stitch_disabled": True,
                    "max_video_post_duration_sec": 600}))
    info = make(TikTokClient, wire).account_info(TOKEN)
    assert info.privacy_options == ("public", "private", "self-only", "inbox")
    assert (info.max_duration_s, info.comments_off, info.duet_off, info.stitch_off, info.username) == (
        600.0, True, False, True, "shopper")
    r = wire.requests[0]
    assert str(r.url) == "https://tt.test/v2/post/publish/creator_info/query/" and r.content == b""


@pytest.mark.parametrize(("status", "code", "kind"), [
    (401, "access_token_invalid", AuthError),
    (401, "scope_not_authorized", ScopeError),
    (429, "rate_limit_exceeded", RetryableError),
    (403, "spam_risk_too_many_posts", QuotaError),
    (403, "spam_risk_user_banned_from_posting", PolicyError),
    (403, "unaudited_client_can_only_post_to_private_accounts", PolicyError),
    (400, "privacy_level_option_mismatch", PolicyError),
    (400, "invalid_params", PolicyError),
    (500, "internal_error", RetryableError),
    (503, "", RetryableError),
])
def test_tiktok_error_mapping(status, code, kind):
    reply = tt(None, status=status, code=code, message=f"the platform says {code}")
    with pytest.raises(kind) as info:
        make(TikTokClient, Wire(reply)).start(TOKEN, request_for(None, size=3 * MIB))
    err = info.value
    assert type(err) is kind and str(err).startswith("tiktok init upload: HTTP ")
    if code:
        assert code in str(err) and "log_id LOG1" in str(err)
    assert_no_token(err)
    if kind is QuotaError:  # this creator's daily cap (its window undocumented): held for a whole day
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        assert now + timedelta(hours=24) - timedelta(minutes=1) <= err.reset_at <= now + timedelta(hours=24)
        assert (err.scope, err.bucket) == ("account", "upload")
    if kind is ScopeError:
        assert err.scope == "video.publish" and "reconnect" in str(err)
    if kind is PolicyError:
        assert err.reason == f"the platform says {code}"


def test_tiktok_refresh_rotates_the_refresh_token():
    wire = Wire(js(200, {"access_token": "act.new", "expires_in": 86400, "refresh_token": "rft.new",
                         "refresh_expires_in": 31536000, "open_id": "o", "scope": "video.publish",
                         "token_type": "Bearer"}))
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    fresh = make(TikTokClient, wire).refresh(TokenSet(access_token=TOKEN, refresh_token=Secret(REFRESH_VALUE)))
    assert fresh.access_token.reveal() == "act.new" and fresh.refresh_token.reveal() == "rft.new"
    assert before + timedelta(days=1) <= fresh.expires_at <= before + timedelta(days=1, minutes=1)
    assert before + timedelta(days=365) <= fresh.refresh_expires_at <= before + timedelta(days=365, minutes=1)
    (r,) = wire.requests
    assert str(r.url) == "https://tt.test/v2/oauth/token/"
    assert r.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(r) == {"client_key": "tt-key", "client_secret": "tt-secret", "grant_type": "refresh_token",
                       "refresh_token": REFRESH_VALUE}


@pytest.mark.parametrize("status", [200, 400])
def test_tiktok_refresh_invalid_grant_says_reconnect(status):
    wire = Wire(js(status, {"error": "invalid_grant", "error_description": "Refresh token is invalid or expired.",
                            "log_id": "L"}))
    with pytest.raises(AuthError, match="reconnect") as info:
        make(TikTokClient, wire).refresh(TokenSet(access_token=TOKEN, refresh_token=Secret(REFRESH_VALUE)))
    assert_no_token(info.value)


# --------------------------------------------------------------------------------------- Facebook

def fb_error(status: int, code: int, message: str = "Nope", subcode: int | None = None) -> httpx.Response:
    err = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "T"}
    if subcode is not None:
        err["error_subcode"] = subcode
    return js(status, {"error": err})


def fb_session() -> RemoteSession:
    return RemoteSession(platform="facebook", handle="9001", upload_url="https://fb.test/upload/9001",
                         extra={"page_id": "PAGE1"})


def fb_status(uploading="complete", held=0, processing="not_started", publishing="not_started",
              video_status="upload_complete") -> httpx.Response:
    return js(200, {"status": {"video_status": video_status,
                               "uploading_phase": {"status": uploading, "bytes_transferred": held},
                               "processing_phase": {"status": processing},
                               "publishing_phase": {"status": publishing}}, "id": "9001"})


def test_facebook_start_and_send_shapes(tmp_path):
    size = 300 * KIB + 7
    path = video_file(tmp_path, size)
    data = path.read_bytes()
    wire = Wire(js(200, {"video_id": "9001", "upload_url": "https://rupload.facebook.com/video-upload/v24.0/9001"}),
                js(200, {"success": True}))
    fb = make(FacebookClient, wire)
    req = request_for(path, page_id="PAGE1")
    session = fb.start(TOKEN, req)
    assert (session.handle, session.upload_url, session.chunk_bytes) == ("9001", "https://fb.test/upload/9001", size)
    sent: list[int] = []
    state = fb.send(TOKEN, session, req, offset=100_000, on_bytes=sent.append)
    assert state.status == "uploaded" and state.received_bytes == size and sum(sent) == size - 100_000
    start, upload = wire.requests
    assert str(start.url) == "https://fb.test/graph/PAGE1/video_reels" and form(start) == {"upload_phase": "start"}
    assert str(upload.url) == "https://fb.test/upload/9001" and upload.method == "POST"
    assert (upload.headers["offset"], upload.headers["file_size"]) == ("100000", str(size))
    assert upload.headers["Content-Type"] == "application/octet-stream"
    assert upload.content == data[100_000:]
    assert all(r.headers["Authorization"] == f"OAuth {TOKEN_VALUE}" for r in wire.requests)
    assert all(TOKEN_VALUE not in str(r.url) for r in wire.requests)


def test_facebook_start_needs_a_page():
    with pytest.raises(InputError, match="Page"):
        make(FacebookClient, Wire()).start(TOKEN, request_for(None, size=10))


@pytest.mark.parametrize(("reply", "status", "received"), [
    (fb_status(uploading="in_progress", held=4096, video_status="processing"), "uploading", 4096),
    (fb_status(uploading="in_progress", held=10_000), "uploaded", 10_000),
    (fb_status(), "uploaded", 10_000),
    (fb_status(processing="in_progress"), "uploaded", 10_000),  # not finished yet: still waits for finish
    (fb_status(processing="in_progress", publishing="in_progress"), "processing", 10_000),
    (fb_status(processing="complete", publishing="complete", video_status="ready"), "published", 10_000),
    (fb_status(processing="error", video_status="error"), "failed", 0),
    (fb_status(video_status="expired"), "gone", 0),
])
def test_facebook_status_mapping(reply, status, received):
    wire = Wire(reply)
    state = make(FacebookClient, wire).query(TOKEN, fb_session(), request_for(None, size=10_000, page_id="PAGE1"))
    assert (state.status, state.received_bytes) == (status, received)
    if status == "published":
        assert state.remote_url == "https://www.facebook.com/reel/9001" and state.privacy == "public"
    r = wire.requests[0]
    assert r.method == "GET" and r.url.path == "/graph/9001"
    assert r.url.params["fields"] == "status,copyright_check_information"


def copyright_info(*actions: str, status: str = "complete") -> dict:
    return {"status": {"status": status},
            "copyright_matches": [{"content_title": "Song X", "owner_copyright_policy": {
                "name": "Label Y", "actions": [{"action": a, "geos": ["VN", "US"]} for a in actions]}}]}


def test_facebook_copyright_block_fails_the_reel():
    published = fb_status(processing="complete", publishing="complete", video_status="ready").json()
    wire = Wire(js(200, {**published, "copyright_check_information": copyright_info("BLOCK")}))
    state = make(FacebookClient, wire).query(TOKEN, fb_session(), request_for(None, size=10_000, page_id="PAGE1"))
    assert state.status == "failed" and "copyright" in state.reason and "Song X" in state.reason
    assert "Label Y" in state.reason and "BLOCK" in state.reason


def test_facebook_copyright_track_only_or_pending_does_not_fail():
    published = fb_status(processing="complete", publishing="complete", video_status="ready").json()
    wire = Wire(js(200, {**published, "copyright_check_information": copyright_info("TRACK")}),
                js(200, {**published, "copyright_check_information": {"status": {"status": "in_progress"}}}))
    client = make(FacebookClient, wire)
    req = request_for(None, size=10_000, page_id="PAGE1")
    tracked = client.query(TOKEN, fb_session(), req)
    assert tracked.status == "published" and tracked.pending is None
    checking = client.query(TOKEN, fb_session(), req)
    assert checking.status == "published" and checking.pending == "copyright check"


def test_facebook_urls_take_the_graph_version():
    settings = PlatformSettings(facebook_graph_base="https://fb.test/{version}",
                                facebook_upload_base="https://fb.test/video-upload/{version}")
    assert settings.facebook_graph_version == "v27.0"
    wire = Wire(js(200, {"video_id": "9001"}))
    session = make(FacebookClient, wire, settings).start(TOKEN, request_for(None, size=10, page_id="PAGE1"))
    assert str(wire.requests[0].url) == "https://fb.test/v27.0/PAGE1/video_reels"
    assert session.upload_url == "https://fb.test/video-upload/v27.0/9001"


def test_facebook_finish_publishes_once_then_polls():
    wire = Wire(js(200, {"success": True, "post_id": "PAGE1_42"}), fb_status(publishing="complete"))
    state = make(FacebookClient, wire).finish(TOKEN, fb_session(), request_for(None, size=1000, page_id="PAGE1"))
    assert state.status == "published" and state.remote_id == "9001"
    finish, poll = wire.requests
    assert str(finish.url) == "https://fb.test/graph/PAGE1/video_reels"
    assert form(finish) == {"upload_phase": "finish", "video_id": "9001", "video_state": "PUBLISHED",
                            "description": "Caption #one #two"}
    assert poll.method == "GET"


def test_facebook_finish_accepted_is_never_uploaded_again():
    wire = Wire(js(200, {"success": True}), fb_status())
    state = make(FacebookClient, wire).finish(TOKEN, fb_session(), request_for(None, size=1000, page_id="PAGE1"))
    assert state.status == "processing"


@pytest.mark.parametrize("failure", [httpx.RemoteProtocolError("peer closed"), httpx.ReadTimeout("stalled"),
                                     fb_error(500, 2, "Service temporarily unavailable")])
def test_facebook_finish_is_not_retried(failure):
    sleeps = Sleeps()
    wire = Wire(failure, js(200, {"success": True}))
    with pytest.raises(RetryableError) as info:
        make(FacebookClient, wire, sleeps=sleeps).finish(TOKEN, fb_session(),
                                                         request_for(None, size=1000, page_id="PAGE1"))
    assert len(wire.requests) == 1 and sleeps == [] and len(wire.replies) == 1
    assert "facebook finish" in str(info.value)
    assert_no_token(info.value)


@pytest.mark.parametrize(("reply", "kind"), [
    (fb_error(400, 190, "Error validating access token: Session has expired"), AuthError),
    (fb_error(401, 102, "Session key invalid"), AuthError),
    (fb_error(400, 4, "Application request limit reached"), RetryableError),
    (fb_error(400, 17, "User request limit reached"), RetryableError),
    (fb_error(400, 32, "Page request limit reached"), RetryableError),
    (fb_error(400, 613, "Calls to this api have exceeded the rate limit."), RetryableError),
    (js(429, {}), RetryableError),
    (fb_error(500, 1, "An unknown error occurred"), RetryableError),
    (fb_error(500, 2, "Service temporarily unavailable"), RetryableError),
    (httpx.Response(503, text="down"), RetryableError),
    (fb_error(400, 100, "Invalid parameter"), PolicyError),
    (fb_error(403, 200, "Permissions error"), ScopeError),  # the Page token lacks a permission
    (fb_error(400, 10, "Application does not have permission for this action"), ScopeError),
])
def test_facebook_error_mapping(reply, kind):
    with pytest.raises(kind) as info:
        make(FacebookClient, Wire(reply)).start(TOKEN, request_for(None, size=10, page_id="PAGE1"))
    err = info.value
    assert type(err) is kind and str(err).startswith("facebook start upload: HTTP ")
    if kind in (AuthError, ScopeError):
        assert "reconnect" in str(err)
    if kind is ScopeError:
        assert err.scope == "pages_manage_posts"
    if kind is PolicyError:
        assert err.reason == reply.json()["error"]["message"]
    assert_no_token(err)


def test_facebook_unknown_video_on_query_is_session_lost():
    sleeps = Sleeps()
    wire = Wire(fb_error(400, 100, "Unsupported get request. Object with ID '9001' does not exist", subcode=33))
    with pytest.raises(SessionLostError):
        make(FacebookClient, wire, sleeps=sleeps).query(TOKEN, fb_session(), request_for(None, size=10, page_id="P"))
    assert sleeps == []


def test_facebook_refresh_says_reconnect():
    with pytest.raises(AuthError, match="Page tokens cannot be refreshed; reconnect the account"):
        make(FacebookClient, Wire()).refresh(TokenSet(access_token=TOKEN))


def test_facebook_account_info_is_fixed():
    info = make(FacebookClient, Wire()).account_info(TOKEN, page_id="P")
    assert (info.privacy_options, info.min_duration_s, info.max_duration_s) == (("public",), 3, 90)


# ---------------------------------------------------------------------------------- no token shown

def test_no_token_in_any_error_even_when_the_platform_echoes_it(tmp_path):
    """A platform that repeats the token in its message does not get it into ours."""
    echo = f"bad token {TOKEN_VALUE}"  # what a call sent: the access token
    both = f"bad tokens {TOKEN_VALUE} / {REFRESH_VALUE}"  # a refresh sends the refresh token too
    cases = [
        (YouTubeClient, yt_error(400, "invalidValue", echo), "start"),
        (YouTubeClient, yt_error(401, "authError", echo), "start"),
        (TikTokClient, tt(None, 400, "invalid_params", echo), "start"),
        (TikTokClient, tt(None, 401, "access_token_invalid", echo), "start"),
        (FacebookClient, fb_error(400, 190, echo), "start"),
        (FacebookClient, fb_error(400, 100, echo), "start"),
        (YouTubeClient, js(400, {"error": "invalid_grant", "error_description": both}), "refresh"),
        (TikTokClient, js(400, {"error": "invalid_grant", "error_description": both}), "refresh"),
    ]
    tokens = TokenSet(access_token=TOKEN, refresh_token=Secret(REFRESH_VALUE))
    for cls, reply, call in cases:
        client = make(cls, Wire(reply))
        with pytest.raises((AuthError, PolicyError)) as info:
            if call == "start":
                client.start(TOKEN, request_for(None, size=3 * MIB, page_id="P"))
            else:
                client.refresh(tokens)
        assert_no_token(info.value)
    assert TOKEN_VALUE not in repr(tokens) and REFRESH_VALUE not in repr(tokens)
    assert TOKEN_VALUE not in f"{TOKEN} {TOKEN!r} {TOKEN:>10}"


# ------------------------------------------------------------------------------------ local outbox

def local_request(path: Path, **kw) -> UploadRequest:
    return request_for(path, marker="rf-3-lo-00ff00ff", chunk_bytes=100 * KIB,
                       metadata={"job_id": 3, "platform": "tiktok", "post": {"hashtags": ["one"]}}, **kw)


def test_local_outbox_is_atomic_and_resumes(tmp_path):
    size = 250 * KIB + 11
    src = video_file(tmp_path, size)
    outbox = tmp_path / "outbox" / "me"
    req = local_request(src)
    client = LocalClient(outbox=outbox)
    session = client.start(None, req)
    part = outbox / ".rf-3-lo-00ff00ff.mp4.part"
    final, meta = outbox / "rf-3-lo-00ff00ff.mp4", outbox / "rf-3-lo-00ff00ff.json"
    assert Path(session.handle) == part and part.stat().st_size == 0
    state = client.send(None, session, req, offset=0)
    assert (state.status, state.received_bytes) == ("uploading", 100 * KIB)

    # A crash here: a new client (a new process) resumes at the part's size.
    client = LocalClient(outbox=outbox)
    state = client.query(None, RemoteSession.from_dict(session.as_dict()), req)
    assert (state.status, state.received_bytes) == ("uploading", 100 * KIB)
    sent: list[int] = []
    while state.status == "uploading":
        state = client.send(None, session, req, offset=state.received_bytes, on_bytes=sent.append)
    assert (state.status, state.received_bytes) == ("uploaded", size) and sum(sent) == size - 100 * KIB
    assert not final.exists() and not meta.exists()
    assert client.find(None, req) is None

    state = client.finish(None, session, req)
    assert state.status == "published" and state.remote_id == final.name
    assert final.read_bytes() == src.read_bytes() and not part.exists()
    assert json.loads(meta.read_text(encoding="utf-8")) == {
        "job_id": 3, "platform": "tiktok", "post": {"hashtags": ["one"]}, "title": "A title",
        "description": "Caption #one #two", "marker": "rf-3-lo-00ff00ff"}
    assert sorted(os.listdir(outbox)) == [meta.name, final.name]  # no temporary left behind
    assert client.query(None, session, req).status == "published"
    assert client.find(None, req).status == "published"
    assert client.finish(None, session, req).status == "published"  # a second finish changes nothing


def test_local_finish_before_every_byte_publishes_nothing(tmp_path):
    src = video_file(tmp_path, 250 * KIB)
    outbox = tmp_path / "outbox"
    req = local_request(src)
    client = LocalClient(outbox=outbox)
    session = client.start(None, req)
    client.send(None, session, req, offset=0)
    with pytest.raises(RetryableError):
        client.finish(None, session, req)
    assert sorted(os.listdir(outbox)) == [".rf-3-lo-00ff00ff.mp4.part"]


def test_local_part_gone_is_session_lost(tmp_path):
    src = video_file(tmp_path, 10)
    client = LocalClient(outbox=tmp_path / "o")
    req = local_request(src)
    session = client.start(None, req)
    Path(session.handle).unlink()
    with pytest.raises(SessionLostError):
        client.query(None, session, req)


def test_local_refuses_a_marker_that_is_a_path(tmp_path):
    with pytest.raises(InputError, match="marker"):
        LocalClient(outbox=tmp_path).start(None, request_for(video_file(tmp_path, 10), marker="../escape"))


# ------------------------------------------------------------------------------------------ factory

def test_client_for_every_platform(tmp_path):
    http = make_http_client(SETTINGS, transport=httpx.MockTransport(Wire()))
    assert platform_names(outbox=True) == ("tiktok", "youtube", "facebook", "local")
    assert platform_names() == ("tiktok", "youtube", "facebook")
    kinds = {name: type(client_for(name, http, SETTINGS, root=tmp_path, account="me"))
             for name in platform_names(outbox=True)}
    assert kinds == {"youtube": YouTubeClient, "tiktok": TikTokClient, "facebook": FacebookClient,
                     "local": LocalClient}
    # The outbox of an account is the workspace's outbox/<account> folder.
    assert client_for("local", http, SETTINGS, root=tmp_path, account="me").outbox == tmp_path / "outbox" / "me"
    with pytest.raises(InputError, match="Supported: tiktok, youtube, facebook, local"):
        client_for("myspace", http, SETTINGS)
    assert YouTubeClient(http, SETTINGS).account_info(TOKEN).privacy_options == ("public", "private", "unlisted")
