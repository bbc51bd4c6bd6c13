"""`farm publish` against fake YouTube, TikTok and Facebook servers on loopback, with injected faults.

Every test checks the outcome on the platform's side (exactly one video, its bytes' sha256, the
finish called once), in the uploads ledger and in the job's state, not only what the farm says.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys

import pytest

import catalogs
from farm.publish import list_account_rows, load_tokens, sweep
from fake_platforms import FakeFacebook, FakeTikTok, FakeYouTube
from publishing import ready_job, token_file, vertical_video, workspace

YT_ACCESS, YT_REFRESH = "ya29.yt-access-SECRET-1", "1//yt-refresh-SECRET-1"
TT_ACCESS, TT_REFRESH = "act.tt-access-SECRET-1", "rft.tt-refresh-SECRET-1"
FB_TOKEN = "EAAB-fb-page-SECRET-1"


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files_containing(root, needle: bytes) -> list[str]:
    hits = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            p = os.path.join(dirpath, name)
            with open(p, "rb") as fh:
                if needle in fh.read():
                    hits.append(p)
    return hits


@pytest.fixture
def farm_env(tmp_path, monkeypatch):
    """A workspace with 1 MiB upload chunks; returns (ws, apply_env) where apply_env(server) points the farm at it."""
    monkeypatch.delenv("FARM_SECRET_KEYS", raising=False)
    ws = workspace(tmp_path / "ws")
    (ws.root / "farm.toml").write_text("[publish]\nchunk_mib = 1\n", encoding="utf-8")
    from farm.workspace import Workspace

    ws = Workspace(ws.root)

    def apply_env(server, **extra):
        env = {**server.settings_env(), **extra}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        return env

    return ws, apply_env


def _add(ws, tmp_path, *args: str) -> None:
    from conftest import run_farm

    proc = run_farm("--workspace", str(ws.root), "accounts", "add", *args)
    assert proc.returncode == 0, proc.stderr


def _publish(ws, **kw):
    return sweep(ws, local=True, sleep=lambda s: None, **kw)


def _job_state(ws, job_id):
    with ws.catalog.read() as con:
        return catalogs.get_job(con, job_id)["state"], catalogs.get_upload(con, job_id, catalogs.get_job(
            con, job_id)["platform"] or "local")


# -- YouTube --------------------------------------------------------------------------------------
def _youtube(ws, tmp_path, yt, apply_env, *, pad=3_000_000, **env):
    yt.add_token(YT_ACCESS, refresh=YT_REFRESH)
    apply_env(yt, **env)
    _add(ws, tmp_path, "youtube", "--name", "kenh_vn", "--token-file", str(token_file(tmp_path, "a", YT_ACCESS)),
         "--refresh-token-file", str(token_file(tmp_path, "r", YT_REFRESH)), "--min-gap-minutes", "0")
    video = vertical_video(ws.out_dir / "yt.mp4", pad_bytes=pad)
    return video, ready_job(ws, video, platform="youtube")


def test_youtube_resumable_upload_through_faults(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeYouTube() as yt:
        yt.force_private = True
        video, job = _youtube(ws, tmp_path, yt, apply_env)
        yt.fail("chunk", "drop")        # a connection dropped mid-chunk
        yt.fail("chunk", 503)
        yt.fail("chunk", "partial")     # a 308 that kept only part of the chunk
        yt.fail("chunk", 429)
        yt.fail("chunk", "rate")        # 403 rateLimitExceeded
        yt.fail("query", 500)           # the query after a failure fails too: retried
        result = _publish(ws)
        [outcome] = result.outcomes
        assert outcome.status == "published", outcome
        assert "private" in outcome.message  # the channel's settings made it private: said, not hidden
        # said before the first post: a consent screen in Testing makes Google's refresh tokens die in 7 days
        assert any("Testing" in n and "7 days" in n for n in result.notices)
        assert not any("private until" in n for n in result.notices)  # Google lifted that rule on 2026-11-02
        assert len(yt.videos) == 1 and yt.init_calls == 1
        v = yt.videos[0]
        assert v["sha256"] == _sha(video) and v["size"] == video.stat().st_size
        state, upload = _job_state(ws, job)
        assert state == "published" and upload["state"] == "published" and upload["remote_id"] == v["id"]
        assert upload["marker"] in v["tags"] and upload["privacy"] == "private"
        assert yt.errors == []
        chunks = sum(1 for _, route, _ in yt.requests if route == "chunk")
        assert chunks >= -(-video.stat().st_size // (1 << 20)) + 4  # every fault met a chunk (a partial one counts)
        # nothing left to do: a second run sends nothing
        again = _publish(ws)
        assert again.outcomes == [] and yt.init_calls == 1


def test_youtube_stalled_upload_is_noticed_and_resumed(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeYouTube() as yt:
        yt.stall_s = 3.0
        video, job = _youtube(ws, tmp_path, yt, apply_env, FARM_IO_TIMEOUT_S="0.5")
        yt.fail("chunk", "stall")
        [outcome] = _publish(ws).outcomes
        assert outcome.status == "published", outcome
        assert len(yt.videos) == 1 and yt.videos[0]["sha256"] == _sha(video)


def test_youtube_refreshes_an_expired_token_once(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeYouTube() as yt:
        video, job = _youtube(ws, tmp_path, yt, apply_env)
        yt.expire(YT_ACCESS)  # refused with 401: the farm refreshes once and goes on
        [outcome] = _publish(ws).outcomes
        assert outcome.status == "published", outcome
        with ws.catalog.read() as con:
            acc = catalogs.find_account(con, "kenh_vn")
        tokens = load_tokens(ws, acc)
        assert tokens.access_token.reveal() != YT_ACCESS and tokens.refresh_token.reveal() == YT_REFRESH
        assert sum(1 for m, route, _ in yt.requests if route == "token") == 1
        for secret in (YT_ACCESS, YT_REFRESH, tokens.access_token.reveal()):
            assert _files_containing(ws.root, secret.encode()) == [], secret


def test_youtube_dead_refresh_token_marks_the_account(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeYouTube() as yt:
        video, job = _youtube(ws, tmp_path, yt, apply_env)
        yt.expire(YT_ACCESS)
        yt.revoke(YT_REFRESH)
        [outcome] = _publish(ws).outcomes
        assert outcome.status == "reconnect" and "reconnect" in outcome.message
        assert yt.videos == [] and not yt.sessions  # the refused init made no session
        [row] = list_account_rows(ws)
        assert row["state"] == "reconnect" and any("reconnect" in n for n in row["warnings"])
        state, upload = _job_state(ws, job)
        assert state == "ready" and upload is None  # nothing started: the job may go to another account


def test_youtube_quota_waits_for_the_reset(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeYouTube() as yt:
        video, job = _youtube(ws, tmp_path, yt, apply_env)
        yt.fail("init", "quota")
        [outcome] = _publish(ws).outcomes
        assert outcome.status == "waiting" and "quota" in outcome.message
        state, upload = _job_state(ws, job)
        assert state == "ready" and upload is None
        again = _publish(ws)  # the hold keeps the next run from spending another call
        assert again.outcomes == [] and yt.init_calls == 1
        assert "quota" in again.assignments[0]["wait"]


def test_youtube_session_lost_after_the_last_byte_is_found_by_its_marker(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeYouTube() as yt:
        video, job = _youtube(ws, tmp_path, yt, apply_env, pad=200_000)  # one chunk: it is the last
        yt.fail("chunk", "lose")  # the video is made, the answer never arrives, the session is forgotten
        [outcome] = _publish(ws).outcomes
        assert outcome.status == "published" and "marker" in outcome.message
        assert len(yt.videos) == 1 and yt.init_calls == 1
        state, upload = _job_state(ws, job)
        assert state == "published" and upload["remote_id"] == yt.videos[0]["id"]


def test_a_killed_publisher_resumes_the_session(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeYouTube() as yt:
        video, job = _youtube(ws, tmp_path, yt, apply_env)
        env = {**os.environ}
        yt.hold_at(1_700_000)  # the server blocks in the middle of the second chunk
        proc = subprocess.Popen([sys.executable, "-m", "farm", "--workspace", str(ws.root), "publish", "--once",
                                 "--local"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert yt.holding.wait(60), proc.stderr.read() if proc.poll() is not None else "no hold"
            with open(f"/proc/{proc.pid}/cmdline", "rb") as fh:  # the process list shows no token
                assert YT_ACCESS.encode() not in fh.read()
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
        finally:
            yt.release()
            if proc.poll() is None:
                proc.kill()
        with ws.catalog.read() as con:
            upload = catalogs.get_upload(con, job, "youtube")
        assert upload["state"] in ("started", "uploading") and upload["remote_session"]
        assert yt.init_calls == 1 and yt.videos == []
        from conftest import run_farm

        done = run_farm("--workspace", str(ws.root), "publish", "--once", "--local")
        assert done.returncode == 0, done.stderr
        assert "published" in done.stdout
        assert yt.init_calls == 1 and len(yt.videos) == 1  # the same session, resumed: one video
        assert yt.videos[0]["sha256"] == _sha(video)
        assert _job_state(ws, job)[0] == "published"


# -- TikTok ---------------------------------------------------------------------------------------
def _tiktok(ws, tmp_path, ft, apply_env, *, pad=12_000_000, privacy="public", affiliate=False, seconds=4.0):
    ft.add_token(TT_ACCESS, refresh=TT_REFRESH)
    apply_env(ft)
    _add(ws, tmp_path, "tiktok", "--name", "shop_vn", "--token-file", str(token_file(tmp_path, "a", TT_ACCESS)),
         "--refresh-token-file", str(token_file(tmp_path, "r", TT_REFRESH)), "--privacy", privacy)
    video = vertical_video(ws.out_dir / "tt.mp4", pad_bytes=pad, seconds=seconds)
    return video, ready_job(ws, video, platform="tiktok", affiliate=affiliate)


def test_tiktok_unaudited_app_posts_self_only_in_chunks(farm_env, tmp_path):
    ws, apply_env = farm_env
    (ws.root / "farm.toml").write_text("[publish]\nchunk_mib = 5\n", encoding="utf-8")
    from farm.workspace import Workspace

    ws = Workspace(ws.root)
    with FakeTikTok() as ft:
        ft.audited = False
        # over 64,000,000 bytes: TikTok takes it in several chunks only (a smaller one goes whole)
        video, job = _tiktok(ws, tmp_path, ft, apply_env, pad=64_500_000)
        ft.fail("chunk", "drop")
        ft.fail("status", 503)
        result = _publish(ws)
        [outcome] = result.outcomes
        assert outcome.status == "published" and "self-only" in outcome.message, outcome
        assert any("self-only" in n for n in result.notices)
        [post] = ft.posts
        assert post["privacy_level"] == "SELF_ONLY" and post["sha256"] == _sha(video)
        size = video.stat().st_size
        assert post["chunk_size"] == 5 * 1024 * 1024 and post["total_chunk_count"] == size // (5 * 1024 * 1024) >= 2
        # a new account allows no interaction: each is switched off
        assert (post["disable_comment"], post["disable_duet"], post["disable_stitch"]) == (True, True, True)
        state, upload = _job_state(ws, job)
        assert state == "published"
        # TikTok gives no post id for a self-only post: published, nothing owed, nothing asked again
        assert upload["privacy"] == "self-only" and upload["remote_id"] is None and upload["pending"] is None
        assert ft.errors == []


def test_tiktok_refresh_rotates_and_stores_the_new_refresh_token(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeTikTok() as ft:
        video, job = _tiktok(ws, tmp_path, ft, apply_env, pad=0)
        ft.expire(TT_ACCESS)
        [outcome] = _publish(ws).outcomes
        assert outcome.status == "published", outcome
        with ws.catalog.read() as con:
            acc = catalogs.find_account(con, "shop_vn")
        tokens = load_tokens(ws, acc)
        assert tokens.refresh_token.reveal() != TT_REFRESH  # rotated, and the new one kept
        assert tokens.access_token.reveal() != TT_ACCESS
        assert len(ft.posts) == 1
        assert _files_containing(ws.root, tokens.refresh_token.reveal().encode()) == []


def test_tiktok_too_long_for_the_account_fails_before_any_upload(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeTikTok() as ft:
        ft.creator_info = {**ft.creator_info, "max_video_post_duration_sec": 3}
        video, job = _tiktok(ws, tmp_path, ft, apply_env, pad=0)
        [outcome] = _publish(ws).outcomes
        assert outcome.status == "failed" and "3 s" in outcome.message
        assert ft.init_calls == 0 and ft.posts == []
        state, upload = _job_state(ws, job)
        assert state == "failed" and upload["state"] == "failed"


def test_tiktok_branded_content_is_not_posted_self_only(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeTikTok() as ft:
        video, job = _tiktok(ws, tmp_path, ft, apply_env, pad=0, affiliate=True)
        [outcome] = _publish(ws).outcomes
        assert outcome.status == "failed" and "self-only" in outcome.message and ft.init_calls == 0


def test_tiktok_inbox_sends_a_draft(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeTikTok() as ft:
        video, job = _tiktok(ws, tmp_path, ft, apply_env, pad=0, privacy="inbox", affiliate=True)
        [outcome] = _publish(ws).outcomes
        assert outcome.status == "inbox" and "inbox" in outcome.message
        assert ft.posts[0]["inbox"] and _job_state(ws, job)[0] == "published"


# -- Facebook -------------------------------------------------------------------------------------
def _facebook(ws, tmp_path, fb, apply_env, *, seconds=4.0, pad=2_000_000):
    fb.add_token(FB_TOKEN, page_id="1001")
    apply_env(fb)
    _add(ws, tmp_path, "facebook", "--name", "shop_page", "--page-id", "1001", "--token-file",
         str(token_file(tmp_path, "a", FB_TOKEN)))
    video = vertical_video(ws.out_dir / "fb.mp4", pad_bytes=pad, seconds=seconds)
    return video, ready_job(ws, video, platform="facebook")


def test_facebook_resumes_from_the_bytes_received_and_finishes_once(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeFacebook() as fb:
        fb.keep_on_drop = True
        fb.publish_polls = 1
        video, job = _facebook(ws, tmp_path, fb, apply_env)
        fb.fail("upload", "drop")  # half the file arrives; the rest is sent from bytes_transferred
        fb.fail("finish", "lose")  # the finish is done, its answer lost: asked, never sent again
        [outcome] = _publish(ws).outcomes
        assert outcome.status == "published", outcome
        [reel] = fb.reels
        assert reel["sha256"] == _sha(video) and reel["published"]
        assert fb.finish_calls == {reel["video_id"]: 1}
        assert _job_state(ws, job)[0] == "published"
        uploads = [p for p in fb.paths if "/video-upload/" in p]
        assert len(uploads) == 2


def test_facebook_refuses_a_too_short_reel_before_upload(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeFacebook() as fb:
        video, job = _facebook(ws, tmp_path, fb, apply_env, seconds=2.0)
        [outcome] = _publish(ws).outcomes
        assert outcome.status == "failed" and "Facebook" in outcome.message
        assert fb.reels == [] and not any(r == "start" for _, r, _ in fb.requests)
        assert _job_state(ws, job)[0] == "failed"


def test_facebook_error_190_asks_for_a_reconnect(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeFacebook() as fb:
        video, job = _facebook(ws, tmp_path, fb, apply_env)
        fb.fail("start", "auth190")
        [outcome] = _publish(ws).outcomes
        assert outcome.status == "reconnect"
        [row] = list_account_rows(ws)
        assert row["state"] == "reconnect"
        assert _job_state(ws, job)[0] == "ready" and fb.reels == []
        from conftest import run_farm

        listing = run_farm("--workspace", str(ws.root), "accounts", "list")
        assert "reconnect" in listing.stdout and FB_TOKEN not in listing.stdout


# -- rights and dry run ---------------------------------------------------------------------------
def test_unknown_licence_is_refused_naming_the_media(farm_env, tmp_path):
    ws, apply_env = farm_env
    _add(ws, tmp_path, "local", "--name", "hand")
    video = vertical_video(ws.out_dir / "x.mp4")
    job = ready_job(ws, video, platform=None, licence="unknown")
    from conftest import run_farm

    dry = run_farm("--workspace", str(ws.root), "publish", "--dry-run")
    assert "licence" in dry.stdout and "x.mp4" in dry.stdout
    proc = run_farm("--workspace", str(ws.root), "publish", "--once", "--local")
    assert proc.returncode == 1 and "licence" in proc.stdout
    with ws.catalog.read() as con:
        row = catalogs.get_job(con, job)
    assert row["state"] == "failed" and row["error_class"] == "RightsError" and "media" in row["error_message"]
    assert not list((ws.root / "outbox").rglob("*.mp4"))


def test_dry_run_says_who_takes_what_and_why(farm_env, tmp_path):
    ws, apply_env = farm_env
    tok = str(token_file(tmp_path, "t", "tok-x"))
    _add(ws, tmp_path, "tiktok", "--name", "a1", "--token-file", tok)
    _add(ws, tmp_path, "tiktok", "--name", "a2", "--token-file", tok, "--window", "00:00-00:01")
    jobs = [ready_job(ws, vertical_video(ws.out_dir / f"d{i}.mp4"), platform="tiktok") for i in range(2)]
    from conftest import run_farm

    proc = run_farm("--workspace", str(ws.root), "publish", "--dry-run")
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert f"job {jobs[0]} -> tiktok:a1" in out and "chosen" in out
    assert "outside its posting window" in out and "minimum gap" in out
    assert f"job {jobs[1]} -> tiktok: waiting" in out
    with ws.catalog.read() as con:  # nothing changed
        assert catalogs.list_uploads(con) == [] and catalogs.get_job(con, jobs[0])["state"] == "ready"


# -- the CLI: Ray uploaders, the long-running publisher ------------------------------------------
def test_publish_on_ray_uploaders(farm_env, tmp_path):
    """Without --local the steps run in Uploader actors on a local Ray; the driver records."""
    ws, apply_env = farm_env
    with FakeTikTok() as ft:
        ft.audited = True
        video, job = _tiktok(ws, tmp_path, ft, apply_env, pad=0)
        from conftest import run_farm

        proc = run_farm("--workspace", str(ws.root), "publish", "--once", "--json", env=ft.settings_env()
                        | {"FARM_TIKTOK_APP_AUDITED": "true"}, timeout=240)
        assert proc.returncode == 0, proc.stderr
        import json

        doc = json.loads(proc.stdout)
        assert [o["status"] for o in doc["outcomes"]] == ["published"]
        [post] = ft.posts
        assert post["privacy_level"] == "PUBLIC_TO_EVERYONE" and post["sha256"] == _sha(video)
        assert TT_ACCESS not in proc.stdout + proc.stderr
        assert _job_state(ws, job)[0] == "published"


def test_the_long_running_publisher_stops_cleanly_on_sigterm(farm_env, tmp_path):
    ws, apply_env = farm_env
    _add(ws, tmp_path, "local", "--name", "hand", "--min-gap-minutes", "0")
    job = ready_job(ws, vertical_video(ws.out_dir / "s.mp4"), platform="tiktok")
    proc = subprocess.Popen([sys.executable, "-m", "farm", "--workspace", str(ws.root), "publish", "--local"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # the first pass's outcome, then it waits for the next pass
        assert "published" in line, line + proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _job_state(ws, job)[0] == "published"
    assert len(list((ws.root / "outbox" / "hand").glob("*.mp4"))) == 1
    assert len(list((ws.root / "outbox" / "hand").glob("*.json"))) == 1


# -- what a review found: each of these once published twice, stuck or crashed ----------------------
def test_facebook_reel_lost_from_view_after_its_finish_is_not_uploaded_again(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeFacebook() as fb:
        video, job = _facebook(ws, tmp_path, fb, apply_env)
        fb.fail("finish", "lose")
        fb.fail("status", 404)
        first = _publish(ws).outcomes
        assert [o.status for o in first] == ["retry"]
        [outcome] = _publish(ws).outcomes
        assert outcome.status == "published", outcome
        assert len(fb.reels) == 1 and list(fb.finish_calls.values()) == [1]


def test_facebook_finish_refused_with_an_answer_is_sent_again_later(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeFacebook() as fb:
        video, job = _facebook(ws, tmp_path, fb, apply_env)
        fb.fail("finish", "rate")  # an answer: "limit reached", nothing done
        assert [o.status for o in _publish(ws).outcomes] == ["retry"]
        [outcome] = _publish(ws).outcomes
        assert outcome.status == "published" and len(fb.reels) == 1
        assert list(fb.finish_calls.values()) == [2]  # the refused one, then the one that published


def test_a_job_left_publishing_by_a_crash_is_settled(farm_env, tmp_path):
    ws, apply_env = farm_env
    _add(ws, tmp_path, "local", "--name", "hand")
    job = ready_job(ws, vertical_video(ws.out_dir / "c.mp4"), platform=None)
    assert [o.status for o in _publish(ws).outcomes] == ["published"]
    with ws.catalog.write() as con:  # as if killed after the ledger's last write, before the job's
        con.execute("UPDATE jobs SET state = 'publishing' WHERE id = ?", [job])
    assert _publish(ws).outcomes == []
    assert _job_state(ws, job)[0] == "published"


def test_a_failing_search_for_a_lost_video_does_not_stop_the_sweep(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeYouTube() as yt:
        video, job = _youtube(ws, tmp_path, yt, apply_env, pad=200_000)
        _add(ws, tmp_path, "local", "--name", "hand")
        other = ready_job(ws, vertical_video(ws.out_dir / "o.mp4"), platform="tiktok")  # goes to the outbox
        yt.fail("chunk", "lose")
        yt.fail("channels", 503, times=5)  # every try of the first search (4 retries)
        outcomes = {o.job_id: o.status for o in _publish(ws).outcomes}
        assert outcomes == {job: "retry", other: "published"}
        with ws.catalog.read() as con:
            assert catalogs.get_upload(con, job, "youtube")["state"] == "lost"
        [outcome] = _publish(ws).outcomes  # the marker is looked for again before anything is sent
        assert outcome.status == "published" and len(yt.videos) == 1 and yt.init_calls == 1


def test_a_retried_job_may_be_published_again_after_a_refusal(farm_env, tmp_path):
    ws, apply_env = farm_env
    with FakeFacebook() as fb:
        video, job = _facebook(ws, tmp_path, fb, apply_env, seconds=2.0)
        assert [o.status for o in _publish(ws).outcomes] == ["failed"]
        vertical_video(video, seconds=4.0)  # fixed, as a re-render would
        from farm.jobs import retry_jobs

        retry_jobs(ws, job)
        with ws.catalog.write() as con:
            catalogs.move(con, job, "rendering")
            catalogs.move(con, job, "ready", sets={"output_size_bytes": video.stat().st_size})
        [outcome] = _publish(ws).outcomes
        assert outcome.status == "published" and len(fb.reels) == 1


def test_a_disabled_platform_account_keeps_its_jobs_waiting(farm_env, tmp_path):
    ws, apply_env = farm_env
    _add(ws, tmp_path, "local", "--name", "hand")
    _add(ws, tmp_path, "tiktok", "--name", "tt", "--token-file", str(token_file(tmp_path, "t", "tok")))
    from farm.publish import set_active

    set_active(ws, "tiktok:tt", False)
    job = ready_job(ws, vertical_video(ws.out_dir / "w.mp4"), platform="tiktok")
    result = _publish(ws)
    assert result.outcomes == [] and "disabled" in " ".join(result.assignments[0]["reasons"])
    assert _job_state(ws, job)[0] == "ready"
