"""The fake platform servers themselves, driven with plain httpx: they must speak docs/platforms.md."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time

import httpx
import pytest

from tests.fake_platforms import MIB, FakeFacebook, FakeTikTok, FakeYouTube, tiktok_chunk_error

KIB = 1024
CHUNK = 256 * KIB


def data_of(n: int, seed: int = 0) -> bytes:
    """n pseudo-random bytes (1 MiB windows of one random block, each shifted: cheap even for 64 MiB)."""
    block = random.Random(seed).randbytes(min(n, MIB) + 251)
    out = bytearray()
    k = 0
    while len(out) < n:
        out += block[k % 251:k % 251 + MIB]
        k += 1
    return bytes(out[:n])


@pytest.fixture
def client():
    with httpx.Client(timeout=5.0, verify=False) as c:
        yield c


def in_thread(fn):
    """Run fn in a thread; returns (thread, box) where box holds its result or exception."""
    box: dict = {}

    def run():
        try:
            box["result"] = fn()
        except Exception as e:  # noqa: BLE001 - handed to the test
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


# --------------------------------------------------------------------------------------------- YouTube


@pytest.fixture
def yt():
    with FakeYouTube(stall_s=1.0) as server:
        server.add_token("access-1", refresh="refresh-1")
        yield server
        assert server.errors == []  # no bug in the fake itself


def yt_start(client, yt, size, *, token="access-1", tags=("farm-m1", "tee"), privacy="public", part="snippet,status"):
    return client.post(yt.base_url + "/upload/youtube/v3/videos",
                       params={"uploadType": "resumable", "part": part},
                       headers={"Authorization": f"Bearer {token}", "X-Upload-Content-Length": str(size),
                                "X-Upload-Content-Type": "video/mp4"},
                       json={"snippet": {"title": "Cotton tee", "description": "Cool all day", "tags": list(tags),
                                         "categoryId": "22"},
                             "status": {"privacyStatus": privacy, "selfDeclaredMadeForKids": False,
                                        "containsSyntheticMedia": True}})


def yt_put(client, url, data, start, size, **kw):
    return client.put(url, content=data, headers={"Content-Range": f"bytes {start}-{start + len(data) - 1}/{size}"},
                      **kw)


def yt_query(client, url, size):
    return client.put(url, content=b"", headers={"Content-Range": f"bytes */{size}"})


def yt_session(client, yt, size, **kw) -> str:
    r = yt_start(client, yt, size, **kw)
    assert r.status_code == 200, r.text
    return r.headers["Location"]


def test_youtube_settings_env(yt):
    env = yt.settings_env()
    assert env == {"FARM_YOUTUBE_API_BASE": yt.base_url + "/youtube/v3",
                   "FARM_YOUTUBE_UPLOAD_BASE": yt.base_url + "/upload/youtube/v3",
                   "FARM_YOUTUBE_TOKEN_URL": yt.base_url + "/token",
                   "FARM_YOUTUBE_AUTH_URL": yt.base_url + "/o/oauth2/v2/auth",
                   "FARM_YOUTUBE_CLIENT_ID": "cid", "FARM_YOUTUBE_CLIENT_SECRET": "csecret"}
    assert yt.base_url.startswith("http://127.0.0.1:")


def test_youtube_upload_in_chunks(yt, client):
    size = 2 * CHUNK + 1000
    video = data_of(size)
    url = yt_session(client, yt, size)
    assert yt.init_calls == 1 and url.startswith(yt.base_url + "/upload/youtube/v3/videos?")
    r = yt_put(client, url, video[:CHUNK], 0, size)
    assert r.status_code == 308 and r.headers["Range"] == f"bytes=0-{CHUNK - 1}"
    r = yt_put(client, url, video[CHUNK:], CHUNK, size)
    assert r.status_code == 201
    body = r.json()
    assert body["id"].startswith("yt") and len(body["id"]) == 11
    assert body["status"] == {**body["status"], "privacyStatus": "public", "uploadStatus": "uploaded"}
    assert body["snippet"]["tags"] == ["farm-m1", "tee"]
    [v] = yt.videos
    assert v["id"] == body["id"] and v["title"] == "Cotton tee" and v["description"] == "Cool all day"
    assert v["tags"] == ["farm-m1", "tee"] and v["privacyStatus"] == "public" and v["channel"] == "UC1"
    assert v["size"] == size and v["sha256"] == hashlib.sha256(video).hexdigest()
    r = yt_query(client, url, size)  # the finished session answers the video
    assert r.status_code == 200 and r.json()["id"] == v["id"]
    assert [(m, route) for m, route, _ in yt.requests] == [("POST", "init"), ("PUT", "chunk"), ("PUT", "chunk"),
                                                            ("PUT", "query")]
    assert all("authorization" not in h for _, _, h in yt.requests)
    assert yt.requests[0][2]["x-upload-content-length"] == str(size)
    assert yt.requests[1][2]["content-range"] == f"bytes 0-{CHUNK - 1}/{size}"


def test_youtube_force_private(yt, client):
    yt.force_private = True
    url = yt_session(client, yt, 100)
    r = yt_put(client, url, data_of(100), 0, 100)
    assert r.status_code == 201 and r.json()["status"]["privacyStatus"] == "private"
    assert yt.videos[0]["privacyStatus"] == "private"


def test_youtube_query_ranges(yt, client):
    size = 3 * CHUNK
    url = yt_session(client, yt, size)
    r = yt_query(client, url, size)
    assert r.status_code == 308 and "Range" not in r.headers
    yt_put(client, url, data_of(CHUNK), 0, size)
    r = yt_query(client, url, size)
    assert r.status_code == 308 and r.headers["Range"] == f"bytes=0-{CHUNK - 1}"
    assert yt.sessions[url.rsplit("=", 1)[1]] == {"size": size, "received": CHUNK, "lost": False, "video_id": None}


def test_youtube_rejects_bad_chunks(yt, client):
    size = 3 * CHUNK
    url = yt_session(client, yt, size)
    r = yt_put(client, url, data_of(CHUNK), CHUNK, size)  # not at the held offset
    assert r.status_code == 400 and r.json()["error"]["errors"][0]["reason"] == "badRequest"
    assert yt_put(client, url, data_of(1000), 0, size).status_code == 400  # not a multiple of 256 KiB
    assert yt_put(client, url, data_of(CHUNK), 0, size + 1).status_code == 400  # wrong total
    assert yt_query(client, url, size).status_code == 308 and yt.sessions[url.rsplit("=", 1)[1]]["received"] == 0
    r = yt_start(client, yt, 100, part="snippet")
    assert r.status_code == 400


def test_youtube_auth_and_refresh(yt, client):
    assert yt_start(client, yt, 100, token="nope").status_code == 401
    r = client.post(yt.base_url + "/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status")
    assert r.status_code == 401 and r.json()["error"]["code"] == 401
    yt.expire("access-1")
    r = yt_start(client, yt, 100)
    assert r.status_code == 401 and r.json()["error"]["errors"][0]["reason"] == "authError"
    token_url = yt.settings_env()["FARM_YOUTUBE_TOKEN_URL"]
    form = {"grant_type": "refresh_token", "client_id": "cid", "client_secret": "csecret", "refresh_token": "refresh-1"}
    r = client.post(token_url, data=form)
    assert r.status_code == 200
    tok = r.json()
    assert tok["expires_in"] == 3599 and tok["token_type"] == "Bearer" and tok["access_token"].startswith("access-")
    assert tok["access_token"] != "access-1"
    assert yt_start(client, yt, 100, token=tok["access_token"]).status_code == 200
    r = client.post(token_url, data={**form, "client_secret": "wrong"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = client.post(token_url, data={**form, "refresh_token": "unknown"})
    assert r.status_code == 400 and r.json() == {**r.json(), "error": "invalid_grant"}
    r = client.get(yt.base_url + "/youtube/v3/channels", params={"part": "contentDetails", "mine": "true",
                                                                 "access_token": tok["access_token"]})
    assert r.status_code == 400  # tokens never in a URL


def test_youtube_partial_keeps_half_rounded_to_256k(yt, client):
    size = 4 * CHUNK
    url = yt_session(client, yt, size)
    yt.fail("chunk", "partial")
    r = yt_put(client, url, data_of(3 * CHUNK), 0, size)
    assert r.status_code == 308 and r.headers["Range"] == f"bytes=0-{CHUNK - 1}"
    video = data_of(size, seed=1)
    yt_put(client, url, video[CHUNK:2 * CHUNK], CHUNK, size)
    r = yt_put(client, url, video[2 * CHUNK:], 2 * CHUNK, size)
    assert r.status_code == 201 and yt.videos[0]["size"] == size


def test_youtube_drop_keeps_nothing_of_the_chunk(yt, client):
    size = 4 * CHUNK
    url = yt_session(client, yt, size)
    yt.fail("chunk", "drop")
    with pytest.raises(httpx.TransportError):
        yt_put(client, url, data_of(2 * CHUNK), 0, size)
    r = yt_query(client, url, size)
    assert r.status_code == 308 and "Range" not in r.headers


def test_youtube_stall_hits_the_read_timeout(yt, client):
    yt.stall_s = 1.0
    url = yt_session(client, yt, 100)
    yt.fail("query", "stall")
    t0 = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        client.put(url, content=b"", headers={"Content-Range": "bytes */100"}, timeout=0.2)
    assert time.monotonic() - t0 < 0.9
    assert yt_query(client, url, 100).status_code == 308  # one request only


def test_youtube_status_faults(yt, client):
    yt.fail("init", 503)
    yt.fail("init", 429)
    yt.fail("init", "quota")
    yt.fail("init", "rate")
    r = yt_start(client, yt, 100)
    assert r.status_code == 503 and r.json()["error"]["code"] == 503
    r = yt_start(client, yt, 100)
    assert r.status_code == 429 and r.headers["Retry-After"] == "0"
    r = yt_start(client, yt, 100)
    assert r.status_code == 403 and r.json()["error"]["errors"][0]["reason"] == "quotaExceeded"
    r = yt_start(client, yt, 100)
    assert r.status_code == 403 and r.json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"
    assert yt_start(client, yt, 100).status_code == 200
    assert yt.init_calls == 5


def test_youtube_404_is_a_lost_session(yt, client):
    url = yt_session(client, yt, 2 * CHUNK)
    yt.fail("chunk", 404)
    assert yt_put(client, url, data_of(CHUNK), 0, 2 * CHUNK).status_code == 404
    assert yt_query(client, url, 2 * CHUNK).status_code == 404


def test_youtube_lose_after_last_byte_then_find_by_marker(yt, client):
    old = yt_session(client, yt, 100, tags=("farm-older",))
    yt_put(client, old, data_of(100), 0, 100)
    size = CHUNK + 10
    url = yt_session(client, yt, size, tags=("farm-m42", "tee"))
    yt_put(client, url, data_of(CHUNK), 0, size)
    yt.fail("chunk", "lose")
    with pytest.raises(httpx.TransportError):
        yt_put(client, url, data_of(10), CHUNK, size)
    assert len(yt.videos) == 2  # the video exists, the client never heard
    assert yt_query(client, url, size).status_code == 404

    api, auth = yt.base_url + "/youtube/v3", {"Authorization": "Bearer access-1"}
    r = client.get(api + "/channels", params={"part": "contentDetails", "mine": "true"}, headers=auth)
    playlist = r.json()["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"]
    assert playlist == "UU1"
    r = client.get(api + "/playlistItems", params={"part": "contentDetails", "playlistId": playlist,
                                                   "maxResults": 50}, headers=auth)
    ids = [i["contentDetails"]["videoId"] for i in r.json()["items"]]
    assert ids == [yt.videos[1]["id"], yt.videos[0]["id"]]  # newest first
    r = client.get(api + "/videos", params={"part": "snippet,status", "id": ",".join(ids)}, headers=auth)
    found = [v["id"] for v in r.json()["items"] if "farm-m42" in v["snippet"]["tags"]]
    assert found == [yt.videos[1]["id"]]
    r = client.get(api + "/playlistItems", params={"part": "contentDetails", "playlistId": playlist,
                                                   "maxResults": 1}, headers=auth)
    assert len(r.json()["items"]) == 1 and r.json()["nextPageToken"]
    r = client.get(api + "/playlistItems", params={"playlistId": "UUnone"}, headers=auth)
    assert r.status_code == 404


def test_youtube_lose_on_query(yt, client):
    url = yt_session(client, yt, 2 * CHUNK)
    yt_put(client, url, data_of(CHUNK), 0, 2 * CHUNK)
    yt.fail("query", "lose")
    with pytest.raises(httpx.TransportError):
        yt_query(client, url, 2 * CHUNK)
    assert yt_query(client, url, 2 * CHUNK).status_code == 404
    assert yt.sessions[url.rsplit("=", 1)[1]]["lost"] is True


def test_youtube_session_url_takes_no_token_but_refuses_a_bad_one(yt, client):
    url = yt_session(client, yt, 100)
    assert client.put(url, content=b"", headers={"Content-Range": "bytes */100",
                                                 "Authorization": "Bearer stale"}).status_code == 401
    assert client.put(url, content=data_of(100), headers={"Content-Range": "bytes 0-99/100",
                                                          "Authorization": "Bearer access-1"}).status_code == 201


def test_youtube_hold_then_release(yt, client):
    size = 4 * CHUNK
    url = yt_session(client, yt, size)
    yt_put(client, url, data_of(CHUNK), 0, size)
    yt.hold_at(2 * CHUNK)
    t, box = in_thread(lambda: yt_put(client, url, data_of(2 * CHUNK), CHUNK, size))
    assert yt.holding.wait(2)
    time.sleep(0.05)
    assert t.is_alive()  # blocked, no answer
    yt.release()
    t.join(2)
    assert isinstance(box.get("error"), httpx.TransportError)
    with httpx.Client(timeout=5) as c2:
        r = yt_query(c2, url, size)
    assert r.status_code == 308 and r.headers["Range"] == f"bytes=0-{CHUNK - 1}"  # nothing of the held chunk


def test_close_with_a_held_connection_is_quick(client):
    yt = FakeYouTube().start()
    yt.add_token("access-1")
    url = yt_session(client, yt, 2 * CHUNK)
    yt.hold_at(100)
    t, box = in_thread(lambda: yt_put(client, url, data_of(CHUNK), 0, 2 * CHUNK))
    assert yt.holding.wait(2)
    t0 = time.monotonic()
    yt.close()
    t.join(2)
    assert time.monotonic() - t0 < 1.5 and isinstance(box.get("error"), httpx.TransportError)


@pytest.mark.parametrize("cls, route, fault", [
    (FakeYouTube, "token", "partial"), (FakeYouTube, "init", "partial"), (FakeYouTube, "nope", 500),
    (FakeYouTube, "chunk", 418), (FakeYouTube, "chunk", True), (FakeYouTube, "query", "quota"),
    (FakeTikTok, "init", "partial"), (FakeTikTok, "chunk", "unaudited"), (FakeTikTok, "status", "lose"),
    (FakeFacebook, "start", "quota"), (FakeFacebook, "status", "unaudited"), (FakeFacebook, "start", "auth191"),
])
def test_fail_rejects_nonsense(cls, route, fault):
    with pytest.raises(ValueError):
        cls().fail(route, fault)


def test_fail_times_counts_requests(yt, client):
    yt.fail("init", 500, times=2)
    assert [yt_start(client, yt, 10).status_code for _ in range(3)] == [500, 500, 200]
    with pytest.raises(ValueError):
        yt.fail("init", 500, times=0)


# --------------------------------------------------------------------------------------------- TikTok


@pytest.fixture
def tt():
    with FakeTikTok(stall_s=1.0) as server:
        server.add_token("access-1", refresh="refresh-1")
        yield server
        assert server.errors == []  # no bug in the fake itself


def tt_call(client, tt, path, body=None, token="access-1"):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=UTF-8"}
    return client.post(tt.base_url + path, content=json.dumps(body).encode() if body is not None else b"",
                       headers=headers)


def tt_init(client, tt, size, chunk=None, count=None, *, privacy="PUBLIC_TO_EVERYONE", title="Cotton tee #tee",
            token="access-1", **post):
    chunk = size if chunk is None else chunk
    count = max(1, size // chunk) if count is None else count
    return tt_call(client, tt, "/v2/post/publish/video/init/", {
        "post_info": {"title": title, "privacy_level": privacy, "disable_duet": False, "disable_comment": False,
                      "disable_stitch": False, "video_cover_timestamp_ms": 1000, "brand_content_toggle": False,
                      "brand_organic_toggle": True, "is_aigc": True, **post},
        "source_info": {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": chunk,
                        "total_chunk_count": count}}, token=token)


def tt_put(client, url, data, start, size, **kw):
    return client.put(url, content=data, headers={"Content-Type": "video/mp4",
                                                  "Content-Range": f"bytes {start}-{start + len(data) - 1}/{size}"},
                      **kw)


def tt_status(client, tt, publish_id, token="access-1"):
    return tt_call(client, tt, "/v2/post/publish/status/fetch/", {"publish_id": publish_id}, token=token)


def test_tiktok_settings_and_creator_info(tt, client):
    assert tt.settings_env() == {"FARM_TIKTOK_API_BASE": tt.base_url, "FARM_TIKTOK_CLIENT_KEY": "ckey",
                                 "FARM_TIKTOK_CLIENT_SECRET": "csecret",
                                 "FARM_TIKTOK_AUTH_URL": tt.base_url + "/v2/auth/authorize/"}
    r = tt_call(client, tt, "/v2/post/publish/creator_info/query/")
    body = r.json()
    assert r.status_code == 200 and body["error"]["code"] == "ok"
    assert body["data"]["creator_username"] == "shop_vn" and body["data"]["max_video_post_duration_sec"] == 600
    assert body["data"]["privacy_level_options"] == ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
    r = tt_call(client, tt, "/v2/post/publish/creator_info/query/", token="nope")
    assert r.status_code == 401 and r.json()["error"]["code"] == "access_token_invalid"


# The Media Transfer Guide's MB read both ways: chunks of at least 5 MiB and at most 64,000,000 bytes, one
# chunk for a video of at most 64,000,000 bytes, several for a larger one, the last at most 128,000,000.
@pytest.mark.parametrize("size, chunk, count, ok", [
    (1000, 1000, 1, True), (1000, 500, 2, False), (5 * MIB - 1, 5 * MIB - 1, 1, True),
    (11 * MIB, 5 * MIB, 2, True), (11 * MIB, 5 * MIB, 3, False), (11 * MIB, 4 * MIB, 2, False),
    (10 * MIB, 10 * MIB, 1, True), (64_000_000, 64_000_000, 1, True), (64_000_001, 64_000_001, 1, False),
    (65 * MIB, 65 * MIB, 1, False), (130 * MIB, 64 * MIB, 3, False),
    (130 * MIB, 64 * MIB, 2, False),  # 64 MiB is over 64,000,000 bytes
    (130 * MIB, 64_000_000, 2, True),
    (127 * MIB, 64 * MIB, 1, False),  # over 64 MB: never one chunk
    (127 * MIB, 5 * MIB, 25, True), (300 * MIB, 64_000_000, 4, True),
    (129_000_000, 64_000_000, 2, True), (1001 * 5 * MIB, 5 * MIB, 1001, False),  # at most 1000 chunks
])
def test_tiktok_chunk_rules(size, chunk, count, ok):
    assert (tiktok_chunk_error(size, chunk, count) is None) is ok


def test_tiktok_upload_and_publish(tt, client):
    size, chunk = 11 * MIB, 5 * MIB
    video = data_of(size)
    r = tt_init(client, tt, size, chunk, 2)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    pid, url = data["publish_id"], data["upload_url"]
    assert url == f"{tt.base_url}/upload/{pid}" and tt.init_calls == 1
    assert tt_status(client, tt, pid).json()["data"] == {"status": "PROCESSING_UPLOAD", "uploaded_bytes": 0}
    assert tt_put(client, url, video[:chunk], 0, size).status_code == 206
    assert tt_status(client, tt, pid).json()["data"]["uploaded_bytes"] == chunk
    assert tt_put(client, url, video[chunk:], chunk, size).status_code == 201
    assert tt_status(client, tt, pid).json()["data"]["status"] == "PROCESSING_UPLOAD"
    done = tt_status(client, tt, pid).json()["data"]
    assert done["status"] == "PUBLISH_COMPLETE" and isinstance(done["publicaly_available_post_id"][0], int)
    [post] = tt.posts
    assert post["publish_id"] == pid and post["sha256"] == hashlib.sha256(video).hexdigest()
    assert post["title"] == "Cotton tee #tee" and post["privacy_level"] == "PUBLIC_TO_EVERYONE"
    assert post["status"] == "PUBLISH_COMPLETE" and post["is_aigc"] is True and post["brand_content_toggle"] is False
    assert post["size"] == size and post["inbox"] is False


def test_tiktok_chunks_in_order_and_drop(tt, client):
    size, chunk = 15 * MIB, 5 * MIB
    url = tt_init(client, tt, size, chunk, 3).json()["data"]["upload_url"]
    r = tt_put(client, url, data_of(chunk), chunk, size)  # out of order: 416, and what TikTok holds (nothing)
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{size}"
    assert tt_put(client, url, data_of(MIB), 0, size).status_code == 400  # not the whole chunk
    tt.fail("chunk", "drop")
    with pytest.raises(httpx.TransportError):
        tt_put(client, url, data_of(chunk), 0, size)
    assert tt.posts[0]["uploaded_bytes"] == 0
    assert tt_put(client, url, data_of(chunk), 0, size).status_code == 206
    r = tt_put(client, url, data_of(chunk), 0, size)  # the same chunk again (its answer was lost): kept once
    assert r.status_code == 206 and r.headers["Content-Range"] == f"bytes 0-{chunk - 1}/{size}"
    assert tt.posts[0]["uploaded_bytes"] == chunk
    r = tt_put(client, url, data_of(chunk), 2 * chunk, size)  # a chunk skipped: 416 with TikTok's progress
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes 0-{chunk - 1}/{size}"
    assert tt.posts[0]["uploaded_bytes"] == chunk


def test_tiktok_lose_after_the_last_chunk(tt, client):
    tt.processing_polls = 0
    data = tt_init(client, tt, 100).json()["data"]
    tt.fail("chunk", "lose")
    with pytest.raises(httpx.TransportError):
        tt_put(client, data["upload_url"], data_of(100), 0, 100)
    assert tt_status(client, tt, data["publish_id"]).json()["data"]["status"] == "PUBLISH_COMPLETE"
    # the task is done: a resend finds none (404), and nothing is posted twice
    assert tt_put(client, data["upload_url"], data_of(100), 0, 100).status_code == 404
    assert len(tt.posts) == 1
    assert [r for _, r, _ in tt.requests] == ["init", "chunk", "status", "chunk"]
    assert all("authorization" not in h for _, _, h in tt.requests)


def test_tiktok_inbox_and_failed_publish(tt, client):
    r = tt_call(client, tt, "/v2/post/publish/inbox/video/init/", {
        "source_info": {"source": "FILE_UPLOAD", "video_size": 100, "chunk_size": 100, "total_chunk_count": 1}})
    pid, url = r.json()["data"]["publish_id"], r.json()["data"]["upload_url"]
    tt.processing_polls = 0
    assert tt_put(client, url, data_of(100), 0, 100).status_code == 201
    assert tt_status(client, tt, pid).json()["data"]["status"] == "SEND_TO_USER_INBOX"
    tt.fail_next_publish = "frame_rate_check_failed"
    second = tt_init(client, tt, 100).json()["data"]
    tt_put(client, second["upload_url"], data_of(100), 0, 100)
    data = tt_status(client, tt, second["publish_id"]).json()["data"]
    assert data["status"] == "FAILED" and data["fail_reason"] == "frame_rate_check_failed"
    assert [p["status"] for p in tt.posts] == ["SEND_TO_USER_INBOX", "FAILED"] and tt.fail_next_publish is None


def test_tiktok_init_validation(tt, client):
    r = tt_init(client, tt, 100, title="x" * 2201)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_params"
    r = tt_init(client, tt, 100, privacy="FOLLOWER_OF_CREATOR")
    assert r.status_code == 400 and r.json()["error"]["code"] == "privacy_level_option_mismatch"
    r = tt_init(client, tt, 6 * MIB, 6 * MIB, 2)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_params"
    tt.audited = False
    r = tt_init(client, tt, 100)
    assert r.status_code == 403 and r.json()["error"]["code"] == "unaudited_client_can_only_post_to_private_accounts"
    assert tt_init(client, tt, 100, privacy="SELF_ONLY").status_code == 200


def test_tiktok_refresh_rotates_both_tokens(tt, client):
    url = tt.base_url + "/v2/oauth/token/"
    form = {"client_key": "ckey", "client_secret": "csecret", "grant_type": "refresh_token",
            "refresh_token": "refresh-1"}
    r = client.post(url, data=form)
    tok = r.json()
    assert r.status_code == 200 and tok["refresh_token"] != "refresh-1" and tok["open_id"] == "open-1"
    assert {"access_token", "expires_in", "refresh_expires_in", "scope", "token_type"} <= set(tok)
    r = client.post(url, data=form)  # the old refresh token is spent
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant" and r.json()["error_description"]
    assert client.post(url, data={**form, "refresh_token": tok["refresh_token"]}).status_code == 200
    assert client.post(url, data={**form, "client_key": "x"}).status_code == 401
    assert tt_init(client, tt, 100, token=tok["access_token"]).status_code == 200


def test_tiktok_six_inits_a_minute(tt, client):
    codes = [tt_init(client, tt, 100).status_code for _ in range(7)]
    assert codes == [200] * 6 + [429]
    tt.add_token("access-2", open_id="open-2")
    assert tt_init(client, tt, 100, token="access-2").status_code == 200
    assert tt.init_calls == 8


def test_tiktok_faults(tt, client):
    tt.fail("init", "quota")
    tt.fail("init", "rate")
    tt.fail("init", "unaudited")
    tt.fail("status", 500)
    r = tt_init(client, tt, 100)
    assert r.status_code == 403 and r.json()["error"]["code"] == "spam_risk_too_many_posts"
    r = tt_init(client, tt, 100)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"
    assert r.headers["Retry-After"] == "0"
    r = tt_init(client, tt, 100)
    assert r.status_code == 403 and r.json()["error"]["code"] == "unaudited_client_can_only_post_to_private_accounts"
    pid = tt_init(client, tt, 100).json()["data"]["publish_id"]
    assert tt_status(client, tt, pid).status_code == 500
    assert tt_status(client, tt, pid).status_code == 200
    assert len(tt.posts) == 1


# --------------------------------------------------------------------------------------------- Facebook


@pytest.fixture
def fb():
    with FakeFacebook(stall_s=1.0) as server:
        server.add_token("page-tok", page_id="1001")
        yield server
        assert server.errors == []  # no bug in the fake itself


AUTH = {"Authorization": "OAuth page-tok"}
GRAPH = "/v27.0"  # the Graph API version the fake speaks (settings_env names it)


def fb_start(client, fb, page="1001", headers=AUTH):
    return client.post(f"{fb.base_url}{GRAPH}/{page}/video_reels", data={"upload_phase": "start"}, headers=headers)


def fb_upload(client, url, data, offset, size, headers=AUTH):
    return client.post(url, content=data, headers={**headers, "offset": str(offset), "file_size": str(size),
                                                   "Content-Type": "application/octet-stream"})


def fb_status(client, fb, vid, headers=AUTH):
    return client.get(f"{fb.base_url}{GRAPH}/{vid}", params={"fields": "status"}, headers=headers)


def fb_finish(client, fb, vid, page="1001", description="Cool tee #tee"):
    return client.post(f"{fb.base_url}{GRAPH}/{page}/video_reels", headers=AUTH, data={
        "upload_phase": "finish", "video_id": vid, "video_state": "PUBLISHED", "description": description})


def fb_reel(client, fb, size=1000):
    r = fb_start(client, fb)
    vid, url = r.json()["video_id"], r.json()["upload_url"]
    assert fb_upload(client, url, data_of(size), 0, size).json() == {"success": True}
    return vid, url


def test_facebook_reel_happy_path(fb, client):
    assert fb.settings_env() == {"FARM_FACEBOOK_GRAPH_BASE": fb.base_url + "/{version}",
                                 "FARM_FACEBOOK_UPLOAD_BASE": fb.base_url + "/video-upload/{version}",
                                 "FARM_FACEBOOK_AUTH_URL": fb.base_url + "/{version}/dialog/oauth",
                                 "FARM_FACEBOOK_GRAPH_VERSION": "v27.0",
                                 "FARM_FACEBOOK_APP_ID": "fbapp", "FARM_FACEBOOK_APP_SECRET": "fbsecret"}
    r = fb_start(client, fb)
    vid, url = r.json()["video_id"], r.json()["upload_url"]
    assert vid.isdigit() and url == f"{fb.base_url}/video-upload/v27.0/{vid}"
    st = fb_status(client, fb, vid).json()["status"]
    assert st["uploading_phase"] == {"status": "not_started", "bytes_transferred": 0}
    video = data_of(5000)
    assert fb_upload(client, url, video, 0, 5000).json() == {"success": True}
    st = fb_status(client, fb, vid, headers={"Authorization": "Bearer page-tok"}).json()["status"]
    assert st["uploading_phase"] == {"status": "complete", "bytes_transferred": 5000}
    assert st["publishing_phase"]["status"] == "not_started"
    r = fb_finish(client, fb, vid)
    assert r.status_code == 200 and r.json()["success"] is True
    st = fb_status(client, fb, vid).json()["status"]
    assert st["publishing_phase"]["status"] == "complete" and st["video_status"] == "ready"
    assert fb.reels == [{"video_id": vid, "page_id": "1001", "description": "Cool tee #tee", "size": 5000,
                         "sha256": hashlib.sha256(video).hexdigest(), "published": True,
                         "video_state": "PUBLISHED", "status": "complete"}]
    assert fb.finish_calls == {vid: 1}
    assert all("authorization" not in h for _, _, h in fb.requests)
    assert [route for _, route, _ in fb.requests] == ["start", "status", "upload", "status", "finish", "status"]


def test_facebook_auth(fb, client):
    r = fb_start(client, fb, headers={"Authorization": "OAuth nope"})
    assert r.status_code == 400 and r.json()["error"]["code"] == 190
    assert r.json()["error"]["type"] == "OAuthException"
    assert fb_start(client, fb, page="2002").json()["error"]["code"] == 200  # another Page's token
    fb.expire("page-tok")
    r = fb_start(client, fb)
    assert r.json()["error"]["code"] == 190 and r.json()["error"]["error_subcode"] == 463
    r = client.post(f"{fb.base_url}{GRAPH}/1001/video_reels", data={"upload_phase": "start", "access_token": "x"})
    assert r.status_code == 400


def test_facebook_offset_resume(fb, client):
    size = 4 * MIB
    video = data_of(size)
    r = fb_start(client, fb)
    vid, url = r.json()["video_id"], r.json()["upload_url"]
    fb.fail("upload", "drop")
    with pytest.raises(httpx.TransportError):
        fb_upload(client, url, video, 0, size)
    assert fb_status(client, fb, vid).json()["status"]["uploading_phase"]["bytes_transferred"] == 0
    fb.keep_on_drop = True
    fb.fail("upload", "drop")
    with pytest.raises(httpx.TransportError):
        fb_upload(client, url, video, 0, size)
    held = fb_status(client, fb, vid).json()["status"]["uploading_phase"]["bytes_transferred"]
    assert held == size // 2
    r = fb_upload(client, url, video[10:], 10, size)
    assert r.status_code == 400 and "offset" in r.json()["error"]["message"]
    assert fb_upload(client, url, video[held:], held, size).json() == {"success": True}
    fb_finish(client, fb, vid)
    assert fb.reels[0]["sha256"] == hashlib.sha256(video).hexdigest()


def test_facebook_finish_once_and_only_when_uploaded(fb, client):
    r = fb_start(client, fb)
    vid, url = r.json()["video_id"], r.json()["upload_url"]
    fb_upload(client, url, data_of(500), 0, 1000)
    r = fb_finish(client, fb, vid)
    assert r.status_code == 400 and fb.reels == []
    fb_upload(client, url, data_of(500), 500, 1000)
    assert fb_finish(client, fb, vid).status_code == 200
    r = fb_finish(client, fb, vid)
    assert r.status_code == 400 and "error" in r.json()
    assert fb.finish_calls == {vid: 3} and len(fb.reels) == 1


def test_facebook_publish_polls_and_failure(fb, client):
    fb.publish_polls = 2
    vid, _ = fb_reel(client, fb)
    fb_finish(client, fb, vid)
    assert fb.reels[0]["published"] is False
    phases = [fb_status(client, fb, vid).json()["status"]["publishing_phase"]["status"] for _ in range(4)]
    assert phases == ["in_progress", "in_progress", "complete", "complete"] and fb.reels[0]["published"] is True
    fb.publish_polls = 0
    fb.fail_next_publish = "video too long"
    vid2, _ = fb_reel(client, fb)
    fb_finish(client, fb, vid2)
    st = fb_status(client, fb, vid2).json()["status"]
    assert st["video_status"] == "error" and st["publishing_phase"]["status"] == "error"
    assert fb.reels[1]["published"] is False


def test_facebook_faults(fb, client):
    fb.fail("start", "auth190")
    fb.fail("start", "rate")
    fb.fail("start", 500)
    fb.fail("start", 429)
    assert fb_start(client, fb).json()["error"]["code"] == 190
    r = fb_start(client, fb)
    assert r.status_code == 400 and r.json()["error"]["code"] == 4
    r = fb_start(client, fb)
    assert r.status_code == 500 and r.json()["error"]["code"] == 1
    r = fb_start(client, fb)
    assert r.status_code == 429 and r.headers["Retry-After"] == "0"
    vid, _ = fb_reel(client, fb)
    fb.fail("finish", "lose")
    with pytest.raises(httpx.TransportError):
        fb_finish(client, fb, vid)
    assert fb_status(client, fb, vid).json()["status"]["publishing_phase"]["status"] == "complete"
    assert fb.finish_calls == {vid: 1}


def test_facebook_thirty_reels_a_day(fb, client):
    for _ in range(30):
        vid, _ = fb_reel(client, fb, size=10)
        assert fb_finish(client, fb, vid).status_code == 200
    vid, _ = fb_reel(client, fb, size=10)
    r = fb_finish(client, fb, vid)
    assert r.status_code == 400 and r.json()["error"]["code"] == 4 and len(fb.reels) == 30


def test_facebook_large_body_and_hold(fb, client):
    size = 64 * MIB
    video = data_of(size)
    r = fb_start(client, fb)
    vid, url = r.json()["video_id"], r.json()["upload_url"]
    fb.keep_on_drop = True
    fb.hold_at(3 * MIB)
    t, box = in_thread(lambda: fb_upload(client, url, video, 0, size))
    assert fb.holding.wait(2)
    fb.release()
    t.join(3)
    assert isinstance(box.get("error"), httpx.TransportError)
    held = fb_status(client, fb, vid).json()["status"]["uploading_phase"]["bytes_transferred"]
    assert held == 3 * MIB
    assert fb_upload(client, url, video[held:], held, size).json() == {"success": True}
    fb_finish(client, fb, vid)
    assert fb.reels[0]["sha256"] == hashlib.sha256(video).hexdigest()
