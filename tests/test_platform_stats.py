"""Statistics of published videos: the real clients against the fake servers over loopback HTTP."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from farm.errors import AuthError, InputError, PolicyError, QuotaError, RetryableError, ScopeError
from farm.platforms import (
    REELS_METRICS,
    TIKTOK_STATS_BATCH,
    YOUTUBE_STATS_BATCH,
    FacebookClient,
    LocalClient,
    Secret,
    TikTokClient,
    UploadRequest,
    VideoStats,
    YouTubeClient,
    client_for,
    make_http_client,
)
from farm.settings import PlatformSettings
from tests.fake_platforms import FakeFacebook, FakeTikTok, FakeYouTube

TOKEN_VALUE = "tok-SECRET-0123456789"
TOKEN = Secret(TOKEN_VALUE)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def connect(cls, fake, sleeps: Sleeps | None = None):
    """The platform's real client over real HTTP, pointed at ``fake`` by its FARM_* variables."""
    settings = dataclasses.replace(PlatformSettings().with_environment(fake.settings_env()), max_retries=2,
                                   io_timeout_s=5.0, connect_timeout_s=5.0)
    return cls(make_http_client(settings), settings, sleep=sleeps if sleeps is not None else Sleeps())


def stats_calls(fake) -> list[str]:
    """The raw paths (with their query) of the fake's statistics requests."""
    routes = [route for _, route, _ in fake.requests]
    assert len(routes) == len(fake.paths)
    return [path for path, route in zip(fake.paths, routes) if route == "stats"]


def query_of(path: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}


def assert_token_kept_out(fake, *errors: BaseException) -> None:
    for path in fake.paths:
        assert TOKEN_VALUE not in path, path
    for err in errors:
        for text in (str(err), repr(err), str(getattr(err, "reason", ""))):
            assert TOKEN_VALUE not in text, text


def upload_request(tmp_path: Path, size: int, **kw) -> UploadRequest:
    path = tmp_path / "reel.mp4"
    path.write_bytes(bytes(range(256)) * (size // 256) + bytes(size % 256))
    return UploadRequest(path=path, size_bytes=size, title="Cotton tee", description="Cool all day #tee",
                         marker="rf-1-yo-stats", hashtags=("#tee",), **kw)


@pytest.fixture
def yt():
    with FakeYouTube(stall_s=1.0) as server:
        server.add_token(TOKEN_VALUE, channel="UC1")
        yield server
        assert server.errors == []


@pytest.fixture
def tt():
    with FakeTikTok(stall_s=1.0) as server:
        server.add_token(TOKEN_VALUE, open_id="open-1")
        yield server
        assert server.errors == []


@pytest.fixture
def fb():
    with FakeFacebook(stall_s=1.0) as server:
        server.add_token(TOKEN_VALUE, page_id="1001")
        yield server
        assert server.errors == []


# --------------------------------------------------------------------------------------------- the record


def test_video_stats_record_checks_and_round_trips():
    s = VideoStats("v1", True, views=10, likes=2, comments=1, shares=None, note="YouTube gives no share count")
    assert VideoStats.from_json(s.to_json()) == s
    assert VideoStats.unavailable("v2", "private post").views is None
    for bad in ({"remote_id": "", "available": True}, {"remote_id": "v", "available": True, "views": -1},
                {"remote_id": "v", "available": True, "likes": True},
                {"remote_id": "v", "available": True, "views": "7"},
                {"remote_id": "v", "available": False, "views": 3, "note": "gone"},
                {"remote_id": "v", "available": False}):
        with pytest.raises(InputError):
            VideoStats(**bad)


# --------------------------------------------------------------------------------------------- YouTube


def test_youtube_120_ids_take_3_requests_of_at_most_50(yt):
    ids = [yt.add_video() for _ in range(120)]
    stats = connect(YouTubeClient, yt).video_stats(TOKEN, ids)
    calls = stats_calls(yt)
    assert YOUTUBE_STATS_BATCH == 50 and len(calls) == 3
    asked = [query_of(c)["id"].split(",") for c in calls]
    assert [len(a) for a in asked] == [50, 50, 20] and [i for a in asked for i in a] == ids
    assert all(query_of(c)["part"] == "statistics" for c in calls)
    assert list(stats) == ids
    for i in ids:
        want = yt.stats_of(i)
        assert stats[i] == VideoStats(i, True, views=want["views"], likes=want["likes"], comments=want["comments"],
                                      shares=None, note="YouTube gives no share count")
    assert_token_kept_out(yt)


def test_youtube_counts_hidden_likes_and_missing_videos(yt):
    mine, hidden, off = yt.add_video(), yt.add_video(privacy="unlisted"), yt.add_video(privacy="private")
    theirs = yt.add_video(channel="UC2", privacy="private")
    yt.set_stats(mine, views=12_345, likes=678, comments=9, shares=40)  # YouTube has no shares to give
    yt.set_stats(hidden, views=500, likes=None)
    yt.set_stats(off, views=70, likes=3, comments=None)
    stats = connect(YouTubeClient, yt).video_stats(TOKEN, [mine, hidden, off, theirs, "ytDeleted01", mine])
    assert list(stats) == [mine, hidden, off, theirs, "ytDeleted01"]  # duplicates asked once
    assert stats[mine] == VideoStats(mine, True, 12_345, 678, 9, None, "YouTube gives no share count")
    assert stats[hidden].available and stats[hidden].views == 500 and stats[hidden].likes is None
    assert "YouTube gives no share count" in stats[hidden].note and "like count" in stats[hidden].note
    assert stats[off].comments is None and stats[off].likes == 3 and "comment count" in stats[off].note
    for gone in (theirs, "ytDeleted01"):  # another channel's private video reads as deleted
        assert stats[gone] == VideoStats(gone, False, note="not found (deleted or private)")
    assert len(stats_calls(yt)) == 1


def test_youtube_stats_of_a_video_uploaded_by_the_client(yt, tmp_path):
    client = connect(YouTubeClient, yt)
    request = upload_request(tmp_path, 300 * 1024)
    session = client.start(TOKEN, request)
    state = client.send(TOKEN, session, request, offset=0)
    while state.status == "uploading":
        state = client.send(TOKEN, session, request, offset=state.received_bytes)
    assert state.status == "published" and state.remote_id == yt.videos[0]["id"]
    yt.set_stats(state.remote_id, views=4321, likes=210, comments=12)
    got = client.video_stats(TOKEN, [state.remote_id])[state.remote_id]
    assert (got.views, got.likes, got.comments, got.shares) == (4321, 210, 12, None)


def test_youtube_retries_503_and_maps_auth_and_quota(yt):
    vid = yt.add_video()
    sleeps = Sleeps()
    yt.fail("stats", 503)
    stats = connect(YouTubeClient, yt, sleeps).video_stats(TOKEN, [vid])
    assert stats[vid].available and len(stats_calls(yt)) == 2 and len(sleeps) == 1

    yt.fail("stats", "quota")
    with pytest.raises(QuotaError) as quota:
        connect(YouTubeClient, yt).video_stats(TOKEN, [vid])
    assert quota.value.reset_at is not None

    yt.fail("stats", 503, times=3)
    with pytest.raises(RetryableError) as down:
        connect(YouTubeClient, yt).video_stats(TOKEN, [vid])

    yt.expire(TOKEN_VALUE)
    with pytest.raises(AuthError) as auth:
        connect(YouTubeClient, yt).video_stats(TOKEN, [vid])
    assert_token_kept_out(yt, quota.value, down.value, auth.value)


def test_youtube_refuses_an_id_with_a_comma_without_asking(yt):
    with pytest.raises(InputError):
        connect(YouTubeClient, yt).video_stats(TOKEN, ["a,b"])
    assert stats_calls(yt) == []


# --------------------------------------------------------------------------------------------- TikTok


def test_tiktok_45_public_ids_take_3_requests(tt):
    ids = [tt.add_post() for _ in range(45)]
    stats = connect(TikTokClient, tt).video_stats(TOKEN, ids)
    calls = stats_calls(tt)
    assert TIKTOK_STATS_BATCH == 20 and len(calls) == 3  # 20 + 20 + 5; the fake refuses more than 20
    fields = query_of(calls[0])["fields"].split(",")
    assert set(fields) == {"id", "view_count", "like_count", "comment_count", "share_count"}
    assert list(stats) == ids
    for i in ids:
        want = tt.stats_of(i)
        assert stats[i] == VideoStats(i, True, want["views"], want["likes"], want["comments"], want["shares"])
    assert_token_kept_out(tt)


def test_tiktok_private_posts_are_unavailable_without_a_request(tt):
    private, draft = tt.add_post(privacy_level="SELF_ONLY"), "v_inbox_1"
    stats = connect(TikTokClient, tt).video_stats(TOKEN, [private, draft],
                                                  privacy={private: "self-only", draft: "inbox"})
    assert stats[private] == VideoStats(private, False, note="self-only post: TikTok gives no statistics")
    assert stats[draft] == VideoStats(draft, False, note="inbox post: TikTok gives no statistics")
    assert stats_calls(tt) == []


def test_tiktok_counts_and_posts_it_leaves_out(tt):
    public, made_private = tt.add_post(), tt.add_post(privacy_level="SELF_ONLY")
    theirs, private = tt.add_post(open_id="open-2"), tt.add_post(privacy_level="SELF_ONLY")
    tt.set_stats(public, views=9000, likes=800, comments=70, shares=6)
    stats = connect(TikTokClient, tt).video_stats(TOKEN, [public, made_private, theirs, private],
                                                  privacy={private: "private"})
    assert stats[public] == VideoStats(public, True, 9000, 800, 70, 6)
    for gone in (made_private, theirs):  # asked, and TikTok's answer leaves them out
        assert stats[gone] == VideoStats(gone, False, note="not found (deleted, or no longer public)")
    assert stats[private].note == "private post: TikTok gives no statistics"
    assert len(stats_calls(tt)) == 1


def test_tiktok_stats_of_a_post_uploaded_by_the_client(tt, tmp_path):
    client = connect(TikTokClient, tt)
    request = upload_request(tmp_path, 40_000)
    session = client.start(TOKEN, request)
    assert client.send(TOKEN, session, request, offset=0).status == "processing"
    state = client.query(TOKEN, session, request)
    while state.status == "processing":
        state = client.query(TOKEN, session, request)
    assert state.status == "published" and state.remote_id
    tt.set_stats(state.remote_id, views=321, likes=None)
    got = client.video_stats(TOKEN, [state.remote_id])[state.remote_id]
    assert got.available and (got.views, got.likes) == (321, None) and got.note == "TikTok gave no likes"


def test_tiktok_retries_rate_limit_and_503_then_maps_auth(tt):
    post = tt.add_post()
    sleeps = Sleeps()
    tt.fail("stats", "rate")
    tt.fail("stats", 503)
    assert connect(TikTokClient, tt, sleeps).video_stats(TOKEN, [post])[post].available
    assert len(stats_calls(tt)) == 3 and len(sleeps) == 2

    tt.expire(TOKEN_VALUE)
    with pytest.raises(AuthError) as auth:
        connect(TikTokClient, tt).video_stats(TOKEN, [post])
    assert_token_kept_out(tt, auth.value)


def test_tiktok_sends_the_documented_body(tt):
    post = tt.add_post()
    seen = []
    client = connect(TikTokClient, tt)
    client.http.event_hooks["request"].append(lambda r: seen.append((r.url.path, json.loads(r.content))))
    client.video_stats(TOKEN, [post])
    assert seen == [("/v2/video/query/", {"filters": {"video_ids": [post]}})]


# --------------------------------------------------------------------------------------------- Facebook


def test_facebook_insights_one_request_per_reel(fb):
    reels = [fb.add_reel() for _ in range(3)]
    fb.set_stats(reels[0], views=1500, likes=40, comments=7, shares=0)
    stats = connect(FacebookClient, fb).video_stats(TOKEN, reels)
    calls = stats_calls(fb)
    assert len(calls) == 3
    # The Graph API version comes from settings ({version} in the base URL).
    assert [urlsplit(c).path for c in calls] == [f"/v27.0/{r}/video_insights" for r in reels]
    assert all(query_of(c) == {"metric": ",".join(REELS_METRICS), "period": "lifetime"} for c in calls)
    assert REELS_METRICS == ("blue_reels_play_count", "post_video_likes_by_reaction_type", "post_video_social_actions")
    # 40 reactions (30 like + 10 love) are the likes; no SHARE bucket in the answer means none.
    assert stats[reels[0]] == VideoStats(reels[0], True, views=1500, likes=40, comments=7, shares=0)
    for r in reels[1:]:
        want = fb.stats_of(r)
        assert stats[r] == VideoStats(r, True, want["views"], want["likes"], want["comments"], want["shares"])
    assert_token_kept_out(fb)


def test_facebook_deleted_unpublished_and_partial_reels(fb, tmp_path):
    reel, quiet = fb.add_reel(), fb.add_reel()
    fb.set_stats(quiet, likes=None)
    client = connect(FacebookClient, fb)
    request = upload_request(tmp_path, 5000, page_id="1001")
    session = client.start(TOKEN, request)
    client.send(TOKEN, session, request, offset=0)  # uploaded, never finished: no insights
    stats = client.video_stats(TOKEN, [reel, "999", session.handle, quiet])
    assert stats[reel].available
    assert stats["999"] == VideoStats("999", False, note="not found (deleted)")
    assert stats[session.handle] == VideoStats(session.handle, False, note="no insights yet (Facebook returned none)")
    assert stats[quiet].likes is None and stats[quiet].views == fb.stats_of(quiet)["views"]
    assert stats[quiet].note == "Facebook gave no likes"


def test_facebook_stats_of_a_reel_published_by_the_client(fb, tmp_path):
    client = connect(FacebookClient, fb)
    request = upload_request(tmp_path, 5000, page_id="1001")
    session = client.start(TOKEN, request)
    client.send(TOKEN, session, request, offset=0)
    state = client.finish(TOKEN, session, request)
    assert state.status == "published"
    fb.set_stats(state.remote_id, views=77, likes=5, comments=0, shares=2)
    assert client.video_stats(TOKEN, [state.remote_id])[state.remote_id] == VideoStats(state.remote_id, True, 77, 5, 0, 2)


def test_facebook_retries_then_maps_errors(fb):
    reel = fb.add_reel()
    sleeps = Sleeps()
    fb.fail("stats", 503)
    fb.fail("stats", "rate")
    assert connect(FacebookClient, fb, sleeps).video_stats(TOKEN, [reel])[reel].available
    assert len(stats_calls(fb)) == 3 and len(sleeps) == 2

    fb.fail("stats", "auth190")
    with pytest.raises(AuthError) as auth190:
        connect(FacebookClient, fb).video_stats(TOKEN, [reel])
    other = fb.add_reel(page_id="2002")  # another Page's reel: the token may not read it (#200)
    with pytest.raises(ScopeError) as scope:
        connect(FacebookClient, fb).video_stats(TOKEN, [other])
    assert scope.value.scope == "read_insights"
    fb.fail("stats", 400)  # (#100) Invalid parameter: refused, not retried
    with pytest.raises(PolicyError) as policy:
        connect(FacebookClient, fb).video_stats(TOKEN, [reel])
    fb.revoke(TOKEN_VALUE)
    with pytest.raises(AuthError) as auth:
        connect(FacebookClient, fb).video_stats(TOKEN, [reel])
    assert_token_kept_out(fb, auth190.value, scope.value, policy.value, auth.value)


def test_facebook_a_retired_metric_costs_only_itself(fb):
    """Meta retires an insights metric: the request naming it fails whole (#100), so the metrics are
    asked one by one; the others still count, and the retired one is reported and not asked again."""
    reels = [fb.add_reel(), fb.add_reel()]
    fb.set_stats(reels[0], views=1500, likes=40, comments=7, shares=3)
    fb.retired = {"post_video_likes_by_reaction_type"}
    client = connect(FacebookClient, fb)
    stats = client.video_stats(TOKEN, reels)
    assert stats[reels[0]] == VideoStats(reels[0], True, views=1500, likes=None, comments=7, shares=3,
                                         note="Facebook gave no likes")
    retired = client.newly_retired()
    assert list(retired) == ["post_video_likes_by_reaction_type"] and "valid insights metric" in retired[
        "post_video_likes_by_reaction_type"]
    calls = [query_of(c)["metric"] for c in stats_calls(fb)]
    # first reel: all three (refused), then one by one; second reel: the two left, in one request
    assert calls == [",".join(REELS_METRICS), *REELS_METRICS,
                     "blue_reels_play_count,post_video_social_actions"]
    assert_token_kept_out(fb)


def test_facebook_refuses_an_id_that_is_not_a_graph_id(fb):
    with pytest.raises(InputError):
        connect(FacebookClient, fb).video_stats(TOKEN, ["../1001/feed"])
    assert stats_calls(fb) == []


# --------------------------------------------------------------------------------------------- all


def test_local_outbox_has_no_statistics(tmp_path):
    client = client_for("local", None, None, root=tmp_path, account="me")  # type: ignore[arg-type]
    assert isinstance(client, LocalClient) and client.outbox == tmp_path / "outbox" / "me"
    assert client.video_stats(TOKEN, ["rf-1.mp4"]) == {
        "rf-1.mp4": VideoStats("rf-1.mp4", False, note="posted by hand: no statistics")}


@pytest.mark.parametrize("cls, fake_cls", [(YouTubeClient, FakeYouTube), (TikTokClient, FakeTikTok),
                                           (FacebookClient, FakeFacebook)])
def test_nothing_asked_nothing_sent_and_bad_input_named(cls, fake_cls):
    with fake_cls() as fake:
        fake.add_token(TOKEN_VALUE)
        client = connect(cls, fake)
        assert client.video_stats(TOKEN, []) == {}
        with pytest.raises(InputError, match=r"invalid privacy \('friends'\).*Supported: public, private"):
            client.video_stats(TOKEN, ["1"], privacy={"1": "friends"})
        with pytest.raises(InputError, match="invalid video id"):
            client.video_stats(TOKEN, [""])
        assert fake.requests == []
