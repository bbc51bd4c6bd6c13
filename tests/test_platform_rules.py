"""Calls as the platforms document them (December 2026), each against a fake server that is as strict as the real one.

One test (or a few) per rule: YouTube's statistics scope, its per-channel upload limit and
separate quota buckets, a 401 anywhere in an upload, TikTok's chunking and its late post
ids, its interactions and token lifetimes, a lost refresh answer, Facebook's retired
insights metrics and its copyright check, the Shorts link, secrets kept out of every
message, round robin within one pass, TikTok chunks retried in the same pass, and the
keys tokens are stored under.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet

import catalogs
from farm.errors import InputError
from farm.monitor import account_health, collect_stats, monitor_once
from farm.platforms import platform, tiktok_chunks
from farm.publish import add_account, list_account_rows, sweep
from farm.workspace import Workspace
from fake_platforms import FakeFacebook, FakeTikTok, FakeYouTube, tiktok_chunk_error
from publishing import ready_job, token_file, vertical_video, workspace

UPLOAD = "https://www.googleapis.com/auth/youtube.upload"
MB, MIB = 1_000_000, 1024 * 1024


@pytest.fixture
def farm(tmp_path, monkeypatch):
    """A workspace with 1 MiB chunks and a function that points the farm at fake servers."""
    monkeypatch.delenv("FARM_SECRET_KEYS", raising=False)
    root = workspace(tmp_path / "ws").root
    (root / "farm.toml").write_text("[publish]\nchunk_mib = 1\n", encoding="utf-8")

    class Farm:
        def __init__(self) -> None:
            self.tmp = tmp_path

        @property
        def ws(self) -> Workspace:
            return Workspace(root)  # settings read again: the environment may have changed

        def point(self, *fakes, **extra) -> None:
            for fake in fakes:
                for key, value in fake.settings_env().items():
                    monkeypatch.setenv(key, value)
            for key, value in extra.items():
                monkeypatch.setenv(key, value)

        def account(self, name: str, username: str, access: str, refresh: str | None = None, *,
                    expires_in: int | None = None, **kw) -> dict:
            """An account from token files (with ``expires_in``: the JSON an OAuth tool saves)."""
            text = access if expires_in is None else json.dumps({"access_token": access, "expires_in": expires_in})
            files = {"token_file": token_file(tmp_path, f"{username}.a", text)}
            if refresh:
                files["refresh_token_file"] = token_file(tmp_path, f"{username}.r", refresh)
            return add_account(self.ws, name, username=username, min_gap_min=0, daily_cap=kw.pop("daily_cap", 20),
                               **files, **kw)

        def job(self, name: str | None, *, pad: int = 600_000, width: int = 540, height: int = 960, **kw) -> int:
            video = vertical_video(self.ws.out_dir / f"v{len(list(self.ws.out_dir.glob('*.mp4')))}.mp4",
                                   pad_bytes=pad, width=width, height=height)
            return ready_job(self.ws, video, platform=name, **kw)

        def publish(self, **kw):
            return sweep(self.ws, local=True, sleep=lambda s: None, **kw)

        def upload(self, job_id: int, name: str) -> dict:
            with self.ws.catalog.read() as con:
                return catalogs.get_upload(con, job_id, name)

        def row(self, username: str) -> dict:
            return next(r for r in list_account_rows(self.ws) if r["name"] == username)

    return Farm()


# -- 1. YouTube statistics need youtube.readonly ------------------------------------------------
def test_an_upload_only_youtube_token_publishes_and_is_told_to_reconnect_for_statistics(farm):
    with FakeYouTube() as yt:
        farm.point(yt)
        yt.add_token("ya29.up", refresh="1//up", scopes={UPLOAD})
        farm.account("youtube", "kenh", "ya29.up", "1//up")
        first = farm.job("youtube")
        [out] = farm.publish().outcomes
        assert out.status == "published" and len(yt.videos) == 1
        run = collect_stats(farm.ws, now=catalogs.utcnow())
        assert any("reconnect to allow statistics" in p for p in run.problems)
        row = farm.row("kenh")
        assert row["state"] == "connected" and any("statistics" in w and "youtube.readonly" in w
                                                   for w in row["warnings"])
        stats_calls = sum(1 for _, route, _ in yt.requests if route == "stats")
        assert stats_calls == 1
        collect_stats(farm.ws, now=catalogs.utcnow())  # not asked again until the user reconnects
        assert sum(1 for _, route, _ in yt.requests if route == "stats") == stats_calls
        second = farm.job("youtube")
        assert [o.status for o in farm.publish().outcomes] == ["published"]  # it keeps publishing
        assert farm.upload(first, "youtube")["state"] == farm.upload(second, "youtube")["state"] == "published"


def test_a_lost_youtube_session_looked_for_without_the_readonly_scope_marks_statistics(farm):
    with FakeYouTube() as yt:
        farm.point(yt)
        yt.add_token("ya29.up", refresh="1//up", scopes={UPLOAD})
        farm.account("youtube", "kenh", "ya29.up", "1//up")
        farm.job("youtube", pad=100_000)
        yt.fail("chunk", 404)  # the session is gone before the last byte
        [out] = farm.publish().outcomes
        assert out.status == "retry" and "marker" in out.message
        assert farm.row("kenh")["state"] == "connected"
        assert any("statistics" in w for w in farm.row("kenh")["warnings"])


# -- 2. uploadLimitExceeded is per channel; quota buckets apart ---------------------------------
def test_upload_limit_holds_that_channel_for_24_hours_not_the_project(farm):
    with FakeYouTube() as yt:
        farm.point(yt)
        yt.add_token("ya29.a", refresh="1//a", channel="UCa")
        yt.add_token("ya29.b", refresh="1//b", channel="UCb")
        acc_a = farm.account("youtube", "kenh_a", "ya29.a", "1//a")
        farm.account("youtube", "kenh_b", "ya29.b", "1//b")
        jobs = [farm.job("youtube", pad=50_000), farm.job("youtube", pad=50_000)]
        yt.fail("init", "upload_limit")
        outs = {o.account: o for o in farm.publish().outcomes}
        assert outs["youtube:kenh_a"].status == "waiting" and outs["youtube:kenh_b"].status == "published"
        with farm.ws.catalog.read() as con:
            [hold] = catalogs.active_holds(con, catalogs.utcnow())
        assert hold["account_id"] == acc_a["id"] and hold["bucket"] == "upload"
        assert timedelta(hours=23, minutes=59) < hold["until"] - catalogs.utcnow() <= timedelta(hours=24)
        [again] = farm.publish().outcomes  # the job waiting goes to the other channel
        assert again.account == "youtube:kenh_b" and again.status == "published" and again.job_id in jobs
        assert {v["channel"] for v in yt.videos} == {"UCb"}


def test_a_spent_statistics_quota_never_holds_uploads_and_the_reverse(farm):
    with FakeYouTube() as yt:
        farm.point(yt)
        yt.add_token("ya29.a", refresh="1//a")
        farm.account("youtube", "kenh", "ya29.a", "1//a")
        farm.job("youtube", pad=50_000)
        assert [o.status for o in farm.publish().outcomes] == ["published"]
        yt.fail("stats", "quota")
        run = collect_stats(farm.ws, now=catalogs.utcnow())
        assert any("statistics quota spent" in p for p in run.problems)
        with farm.ws.catalog.read() as con:
            assert [(h["bucket"], h["account_id"]) for h in catalogs.active_holds(con, catalogs.utcnow())] == [
                ("read", None)]
        farm.job("youtube", pad=50_000)
        assert [o.status for o in farm.publish().outcomes] == ["published"]  # uploads go on
        yt.fail("init", "quota")
        farm.job("youtube", pad=50_000)
        assert [o.status for o in farm.publish().outcomes] == ["waiting"]
        with farm.ws.catalog.write() as con:  # the statistics quota came back at its reset
            con.execute("DELETE FROM platform_holds WHERE bucket = 'read'")
        calls = sum(1 for _, route, _ in yt.requests if route == "stats")
        run = collect_stats(farm.ws, now=catalogs.utcnow())
        assert not run.problems and sum(1 for _, route, _ in yt.requests if route == "stats") == calls + 1


# -- 3. a 401 anywhere in an upload: refresh once and go on -------------------------------------
def test_a_401_in_the_status_query_refreshes_and_goes_on(farm):
    with FakeYouTube() as yt:
        farm.point(yt)
        yt.add_token("ya29.a", refresh="1//a")
        farm.account("youtube", "kenh", "ya29.a", "1//a", expires_in=3600)
        job = farm.job("youtube", pad=2_500_000)
        yt.fail("chunk", "drop")
        yt.fail("query", 401)  # the token expired during the upload: the query after the drop meets it
        yt.fail("chunk", 401, times=1)
        [out] = farm.publish().outcomes
        assert out.status == "published", out.message
        assert sum(1 for _, route, _ in yt.requests if route == "token") == 2  # once per refused step
        assert farm.row("kenh")["state"] == "connected" and len(yt.videos) == 1 and yt.init_calls == 1
        with farm.ws.catalog.read() as con:
            assert catalogs.get_job(con, job)["state"] == "published"


def test_only_a_refused_refresh_marks_the_account_and_the_upload_resumes_after_a_reconnect(farm):
    with FakeYouTube() as yt:
        farm.point(yt)
        yt.add_token("ya29.a", refresh="1//a")
        farm.account("youtube", "kenh", "ya29.a", "1//a", expires_in=3600)
        job = farm.job("youtube", pad=2_500_000)
        yt.fail("chunk", "drop")
        yt.fail("query", 401)
        yt.fail("token", 400)  # invalid_grant: the refresh token is dead
        [out] = farm.publish().outcomes
        assert out.status == "reconnect"
        assert farm.row("kenh")["state"] == "reconnect"
        up = farm.upload(job, "youtube")
        assert up["state"] in ("started", "uploading") and up["remote_session"]  # the session is kept
        yt.add_token("ya29.b", refresh="1//b")
        farm.account("youtube", "kenh", "ya29.b", "1//b")  # the user reconnects
        [out] = farm.publish().outcomes
        assert out.status == "published" and yt.init_calls == 1 and len(yt.videos) == 1


# -- 4. TikTok's chunks, as the Media Transfer Guide says ---------------------------------------
@pytest.mark.parametrize("size, want", [
    (4 * MB, (4 * MB, 1)),                       # under 5 MB: whole
    (5 * MB, (5 * MB, 1)),
    (5 * MIB, (5 * MIB, 1)),
    (16 * MIB, (16 * MIB, 1)),                   # 8-16 MiB used to declare 8 MiB chunks and send one bigger
    (16 * MIB + 1, (16 * MIB + 1, 1)),
    (64 * MB, (64 * MB, 1)),                     # up to 64 MB: one chunk whose chunk_size is video_size
    (64 * MB + 1, (8 * MIB, (64 * MB + 1) // (8 * MIB))),
    (64 * MIB, (8 * MIB, 8)),
    (200 * MB, (8 * MIB, 200 * MB // (8 * MIB))),
])
def test_tiktok_chunking_at_every_boundary(size, want):
    chunk, count = tiktok_chunks(size, 8 * MIB)
    assert (chunk, count) == want
    assert tiktok_chunk_error(size, chunk, count) is None  # the fake's reading of the guide agrees
    last = size - (count - 1) * chunk
    assert chunk * (count - 1) + last == size and (count == 1 or 5 * MIB <= chunk <= 64 * MB < size)
    assert last <= (64 * MB if count == 1 else 128 * MB)


def test_tiktok_chunks_asked_too_big_or_too_small_are_clamped():
    assert tiktok_chunks(200 * MB, 128 * MIB) == (64 * MB, 3)  # last: 72 MB, under 128 MB
    assert tiktok_chunks(200 * MB, 1) == (5 * MIB, 200 * MB // (5 * MIB))
    for size in (64 * MB + 1, 100 * MB, 300 * MB):
        for ask in (1, 5 * MIB, 8 * MIB, 64 * MIB, 100 * MIB):
            assert tiktok_chunk_error(size, *tiktok_chunks(size, ask)) is None


# -- 5. TikTok's post id may come after PUBLISH_COMPLETE ----------------------------------------
def _tiktok(farm, tt, *, privacy="public", **kw) -> dict:
    farm.point(tt, FARM_TIKTOK_APP_AUDITED="true")
    tt.add_token("act.a", refresh="rft.a")
    return farm.account("tiktok", "shop", "act.a", "rft.a", privacy=privacy, **kw)


def test_a_tiktok_post_id_that_comes_late_is_asked_for_on_later_passes(farm):
    with FakeTikTok() as tt:
        _tiktok(farm, tt)
        tt.id_delay_polls = 1000  # moderation takes hours
        job = farm.job("tiktok")
        [out] = farm.publish().outcomes
        up = farm.upload(job, "tiktok")
        assert out.status == "published" and "public id is asked for again" in out.message
        assert up["state"] == "published" and up["remote_id"] is None and up["pending"] == "public id"
        with farm.ws.catalog.read() as con:
            assert catalogs.get_job(con, job)["state"] == "published"
        run = collect_stats(farm.ws, now=catalogs.utcnow())  # no id yet: asked, no statistics
        [row] = run.rows
        assert row["available"] is False and "no public id yet" in row["note"]
        tt.id_delay_polls = 0  # moderation done
        run = collect_stats(farm.ws, now=catalogs.utcnow())
        up = farm.upload(job, "tiktok")
        assert up["pending"] is None and up["remote_id"] == str(tt.posts[0]["post_id"])
        assert up["remote_url"].endswith(f"/video/{up['remote_id']}")
        [row] = run.rows
        assert row["available"] is True and row["views"] == tt.stats_of(up["remote_id"])["views"]


def test_a_late_tiktok_id_is_also_asked_for_by_the_next_publish_pass(farm):
    with FakeTikTok() as tt:
        _tiktok(farm, tt)
        tt.id_delay_polls = 1000
        job = farm.job("tiktok")
        farm.publish()
        tt.id_delay_polls = 0
        result = farm.publish()
        assert any("public id came" in n for n in result.notices)
        assert farm.upload(job, "tiktok")["remote_id"] is not None


# -- 6. interactions, token lifetimes, a lost refresh answer -----------------------------------
def test_tiktok_interactions_follow_the_creator_and_the_account(farm):
    with FakeTikTok() as tt:
        tt.creator_info["comment_disabled"] = True  # the creator turned comments off
        _tiktok(farm, tt, allow={"comments": True, "duet": True})  # the account allows comments and duets
        farm.job("tiktok")
        [out] = farm.publish().outcomes
        assert out.status == "published", out.message
        info = tt.posts[0]["post_info"]
        assert (info["disable_comment"], info["disable_duet"], info["disable_stitch"]) == (True, False, True)


def test_tiktok_tokens_live_as_long_as_expires_in_says(farm):
    with FakeTikTok() as tt:
        tt.access_ttl_s = 1234
        _tiktok(farm, tt)
        tt.expire("act.a")
        farm.job("tiktok")
        assert [o.status for o in farm.publish().outcomes] == ["published"]
        with farm.ws.catalog.read() as con:
            acc = catalogs.find_account(con, "shop")
        left = (acc["token_expires_at"] - catalogs.utcnow()).total_seconds()
        assert 1200 < left <= 1234


def test_a_lost_refresh_answer_is_tried_once_more_then_reconnect_says_why(farm):
    with FakeTikTok() as tt:
        _tiktok(farm, tt)
        tt.expire("act.a")
        tt.fail("token", "lose")  # TikTok rotated the refresh token, but its answer never arrived
        farm.job("tiktok")
        [out] = farm.publish().outcomes
        assert out.status == "reconnect"
        assert sum(1 for _, route, _ in tt.requests if route == "token") == 2  # once more, then no more
        row = farm.row("shop")
        assert row["state"] == "reconnect" and any("lost" in w for w in row["warnings"])


# -- 7. Facebook insights: one retired metric does not lose the others ----------------------------
def _facebook(farm, fb) -> dict:
    farm.point(fb)
    fb.add_token("EAAB-page")
    return farm.account("facebook", "page", "EAAB-page", page_id="1001")


def test_a_retired_insights_metric_is_reported_once_and_the_others_still_read(farm):
    with FakeFacebook() as fb:
        _facebook(farm, fb)
        reel = fb.add_reel()
        job = farm.job("facebook")
        with farm.ws.catalog.write() as con:  # a published reel of the farm's
            catalogs.insert_upload(con, job_id=job, account_id=1, platform="facebook", marker="m", size_bytes=1,
                                   privacy="public")
            catalogs.update_upload(con, job, "facebook", state="published", remote_id=reel)
        fb.retired = {"post_video_social_actions"}
        run = collect_stats(farm.ws, now=catalogs.utcnow())
        [row] = run.rows
        assert row["available"] is True and row["views"] == fb.stats_of(reel)["views"] and row["likes"] is not None
        assert row["comments"] is None and row["shares"] is None
        said = [p for p in run.problems if "post_video_social_actions" in p and "retired" in p]
        assert len(said) == 1
        before = len(fb.requests)
        run = collect_stats(farm.ws, now=catalogs.utcnow())
        assert not [p for p in run.problems if "retired" in p]
        assert len(fb.requests) - before == 1  # one request for the reel, the retired metric no longer asked


def test_the_graph_api_version_is_v27_and_configurable(farm, monkeypatch):
    from farm.platforms import client_for, make_http_client

    settings = farm.ws.settings.platforms
    assert settings.facebook_graph_version == "v27.0"
    with make_http_client(settings) as http:
        client = client_for("facebook", http, settings)
        assert client.graph == "https://graph.facebook.com/v27.0"
        assert client.upload_base == "https://rupload.facebook.com/video-upload/v27.0"
        assert platform("facebook").authorize_url(settings) == "https://www.facebook.com/v27.0/dialog/oauth"
    monkeypatch.setenv("FARM_FACEBOOK_GRAPH_VERSION", "v26.0")
    settings = farm.ws.settings.platforms
    with make_http_client(settings) as http:
        assert client_for("facebook", http, settings).graph.endswith("/v26.0")


# -- 8. Facebook's copyright check ----------------------------------------------------------------
def test_a_reel_blocked_for_copyright_fails_with_the_match_and_counts_in_health(farm):
    with FakeFacebook() as fb:
        acc = _facebook(farm, fb)
        fb.copyright_block_next = "Bài hát X"
        job = farm.job("facebook", pad=0, width=540, height=960)
        [out] = farm.publish().outcomes
        assert out.status == "failed" and "blocked for copyright: Bài hát X (owner Label Records: BLOCK" in out.message
        assert farm.upload(job, "facebook")["error_class"] == "PolicyError"
        with farm.ws.catalog.read() as con:
            catalogs.create_metric_views(con, farm.ws.metrics_dir)
            health = account_health(con, catalogs.find_account(con, acc["id"]), now=catalogs.utcnow())
        assert health.components["policy_rejections_7d"] == 1 and health.health < 100


def test_a_copyright_verdict_that_comes_after_publishing_is_followed_up(farm):
    with FakeFacebook() as fb:
        _facebook(farm, fb)
        fb.copyright_block_next, fb.copyright_polls = "Bài hát Y", 1000
        job = farm.job("facebook", pad=0)
        [out] = farm.publish().outcomes
        assert out.status == "published" and farm.upload(job, "facebook")["pending"] == "copyright check"
        next(iter(fb._videos.values()))["copyright"]["polls_left"] = 0  # the check completes: a BLOCK
        result = farm.publish()
        assert any("blocked for copyright: Bài hát Y" in n for n in result.notices)
        up = farm.upload(job, "facebook")
        assert up["state"] == "failed" and up["pending"] is None
        with farm.ws.catalog.read() as con:
            assert catalogs.get_job(con, job)["state"] == "failed"


# -- 9. Shorts links only for Shorts ---------------------------------------------------------------
def test_youtube_links_a_short_as_shorts_and_anything_else_as_watch(farm):
    with FakeYouTube() as yt:
        farm.point(yt)
        yt.add_token("ya29.a", refresh="1//a")
        farm.account("youtube", "kenh", "ya29.a", "1//a")
        vertical = farm.job("youtube", pad=0)
        horizontal = farm.job("youtube", pad=0, width=960, height=540)
        outs = {o.job_id: o for o in farm.publish().outcomes}
        assert "/shorts/" in outs[vertical].remote_url and "watch?v=" in outs[horizontal].remote_url
    youtube = platform("youtube")
    assert youtube.video_url("x", width=1080, height=1080, duration_s=180.0).endswith("/shorts/x")
    assert youtube.video_url("x", width=1080, height=1920, duration_s=180.5).endswith("watch?v=x")
    assert youtube.video_url("x").endswith("watch?v=x")  # shape unknown: the link that works for every video


# -- 10. no secret leaves through an error ------------------------------------------------------
class _Hook(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802
        _Hook.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_secrets_echoed_by_a_token_endpoint_reach_no_message_catalog_log_or_webhook(farm):
    refresh = "1//yt-refresh-SECRET-9"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (farm.ws.root / "farm.toml").write_text(
        f'[publish]\nchunk_mib = 1\n[alerts]\nwebhook_url = "http://127.0.0.1:{server.server_address[1]}/h"\n',
        encoding="utf-8")
    try:
        with FakeYouTube() as yt:
            farm.point(yt)
            yt.add_token("ya29.a", refresh=refresh)
            farm.account("youtube", "kenh", "ya29.a", refresh)
            yt.oauth.echo_errors = True
            yt.revoke(refresh)  # the refresh is refused, and the refusal echoes the request
            yt.expire("ya29.a")
            farm.job("youtube", pad=0)
            outcomes = farm.publish().outcomes
            monitor_once(farm.ws, log=lambda line: None)
    finally:
        server.shutdown()
        server.server_close()
    secrets = ["csecret", refresh, quote(refresh, safe=""), json.dumps(refresh)[1:-1], "ya29.a"]
    said = json.dumps([o.as_dict() for o in outcomes]) + json.dumps(list_account_rows(farm.ws), default=str)
    said += b"".join(_Hook.bodies).decode()
    assert _Hook.bodies and "reconnect" in said
    for secret in secrets:
        assert secret not in said, secret
    for path in farm.ws.root.rglob("*"):
        if path.is_file() and not path.name.endswith((".a", ".r")):
            data = path.read_bytes()
            for secret in ("csecret", quote(refresh, safe="")):
                assert secret.encode() not in data, (path, secret)


# -- 11. round robin within one pass ----------------------------------------------------------------
def test_round_robin_within_one_pass_spreads_jobs_evenly(farm):
    for name in ("outbox_a", "outbox_b"):
        add_account(farm.ws, "local", username=name, token_file=None, daily_cap=100, min_gap_min=0)
    for _ in range(10):
        farm.job(None, pad=0)
    counts: dict[str, int] = {}
    for o in farm.publish().outcomes:
        assert o.status == "published"
        counts[o.account] = counts.get(o.account, 0) + 1
    assert sorted(counts.values()) == [5, 5]


@pytest.mark.parametrize("jobs, accounts", [(7, 3), (3, 2), (1, 4)])
def test_round_robin_gives_ceil_or_floor_each(farm, jobs, accounts):
    for i in range(accounts):
        add_account(farm.ws, "local", username=f"o{i}", token_file=None, daily_cap=100, min_gap_min=0)
    for _ in range(jobs):
        farm.job(None, pad=0)
    result = sweep(farm.ws, dry_run=True)
    counts = {}
    for a in result.assignments:
        counts[a["account"]] = counts.get(a["account"], 0) + 1
    assert max(counts.values()) - min(counts.values(), default=0) <= 1 and sum(counts.values()) == jobs
    assert all(-(-jobs // accounts) >= n >= jobs // accounts for n in counts.values())


# -- 12. TikTok chunks retried in the same pass --------------------------------------------------
@pytest.mark.parametrize("fault", [500, 503, "drop", "lose"])
def test_a_failed_tiktok_chunk_is_sent_again_in_the_same_pass(farm, fault):
    with FakeTikTok() as tt:
        _tiktok(farm, tt)
        job = farm.job("tiktok", pad=1_000_000)
        tt.fail("chunk", fault)
        [out] = farm.publish().outcomes
        assert out.status == "published", out.message
        assert tt.init_calls == 1 and tt.posts[0]["sha256"] == hashlib.sha256(
            farm.ws.out_dir.joinpath("v0.mp4").read_bytes()).hexdigest()
        routes = [route for _, route, _ in tt.requests]
        assert routes.count("chunk") == 2 and routes.index("chunk") < routes.index("status")
        with farm.ws.catalog.read() as con:
            assert catalogs.get_job(con, job)["state"] == "published"


def test_a_multi_chunk_tiktok_upload_survives_faults_in_one_pass(farm):
    with FakeTikTok() as tt:
        _tiktok(farm, tt)
        (farm.ws.root / "farm.toml").write_text("[publish]\nchunk_mib = 8\n", encoding="utf-8")
        job = farm.job("tiktok", pad=70 * MB)
        size = farm.ws.out_dir.joinpath("v0.mp4").stat().st_size
        tt.fail("chunk", 500)
        tt.fail("chunk", "lose")
        tt.fail("chunk", "drop")
        [out] = farm.publish().outcomes
        assert out.status == "published", out.message
        post = tt.posts[0]
        assert (post["chunk_size"], post["total_chunk_count"]) == tiktok_chunks(size, 8 * MIB)
        assert post["total_chunk_count"] > 1 and post["sha256"] == hashlib.sha256(
            farm.ws.out_dir.joinpath("v0.mp4").read_bytes()).hexdigest()
        assert farm.upload(job, "tiktok")["state"] == "published"


def test_a_tiktok_chunk_failing_past_the_retries_waits_for_the_next_pass(farm):
    with FakeTikTok() as tt:
        _tiktok(farm, tt)
        job = farm.job("tiktok")
        tt.fail("chunk", 500, times=farm.ws.settings.platforms.max_retries + 1)
        [out] = farm.publish().outcomes
        assert out.status == "retry" and farm.upload(job, "tiktok")["state"] in ("started", "uploading")
        [out] = farm.publish().outcomes
        assert out.status == "published" and tt.init_calls == 1


# -- 13. keys ----------------------------------------------------------------------------------------
def test_a_token_is_never_stored_under_a_key_the_others_do_not_use(farm, monkeypatch):
    with FakeYouTube() as yt:
        farm.point(yt)
        farm.account("youtube", "kenh", "ya29.a", "1//a")
        monkeypatch.setenv("FARM_SECRET_KEYS", Fernet.generate_key().decode())
        with pytest.raises(InputError, match="rotate-key.*FARM_SECRET_KEYS"):
            farm.account("youtube", "kenh2", "ya29.b", "1//b")
        assert [r["name"] for r in list_account_rows(farm.ws)] == ["kenh"]


def test_a_token_the_keys_cannot_read_holds_its_jobs_ready_and_marks_the_account(farm):
    with FakeYouTube() as yt:
        farm.point(yt)
        yt.add_token("ya29.a", refresh="1//a")
        farm.account("youtube", "kenh", "ya29.a", "1//a")
        key_file = farm.ws.state_dir / "secret.key"
        old_key = key_file.read_text()
        key_file.write_text(Fernet.generate_key().decode() + "\n")
        os.chmod(key_file, 0o600)
        job = farm.job("youtube", pad=0)
        [out] = farm.publish().outcomes
        assert out.status == "reconnect" and "cannot be decrypted" in out.message
        with farm.ws.catalog.read() as con:
            assert catalogs.get_job(con, job)["state"] == "ready"
            assert catalogs.get_upload(con, job, "youtube") is None
        row = farm.row("kenh")
        assert row["state"] == "reconnect" and any("cannot be decrypted" in w for w in row["warnings"])
        key_file.write_text(old_key)  # the old key is back
        [out] = farm.publish().outcomes
        assert out.status == "published" and farm.row("kenh")["state"] == "connected"


def test_a_tiktok_upload_whose_last_answer_was_lost_is_not_posted_twice(farm):
    """The last chunk's answer is lost; sent again, the chunk finds no upload task (404): the status, which
    outlives the upload URL, says TikTok has every byte, so the post is followed, never started again."""
    with FakeTikTok() as tt:
        _tiktok(farm, tt)
        job = farm.job("tiktok")
        tt.fail("chunk", "lose")
        [out] = farm.publish().outcomes
        assert out.status == "published", out.message
        assert tt.init_calls == 1 and len(tt.posts) == 1
        assert farm.upload(job, "tiktok")["state"] == "published"


def test_a_facebook_finish_refused_for_the_token_is_sent_again_after_a_reconnect(farm):
    with FakeFacebook() as fb:
        _facebook(farm, fb)
        job = farm.job("facebook", pad=0)
        fb.fail("finish", "auth190")
        [out] = farm.publish().outcomes
        assert out.status == "reconnect"
        up = farm.upload(job, "facebook")
        assert up["state"] == "uploaded" and up["finish_requested_at"] is None  # refused: nothing was finished
        fb.add_token("EAAB-page-2")
        farm.account("facebook", "page", "EAAB-page-2", page_id="1001")
        [out] = farm.publish().outcomes
        assert out.status == "published" and len(fb.reels) == 1
        assert sum(fb.finish_calls.values()) == 2  # the refused one, then the one that took
