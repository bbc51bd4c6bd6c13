"""Account health over a simulated month, alerts raised once and cleared, the webhook retried, statistics fetched."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import catalogs
from farm.monitor import account_health, conditions, deliver_webhooks, engagement_rate, sync_alerts
from farm.publish import add_account
from publishing import add_facebook, token_file, workspace

NOW = datetime(2026, 11, 27, 6, 30)


def _upload(con, job_id, account, platform, *, day, state="published", error_class=None, privacy="public"):
    at = NOW - timedelta(days=day)
    catalogs.insert_upload(con, job_id=job_id, account_id=account["id"], platform=platform, marker=f"m{job_id}",
                           size_bytes=1, privacy="public")
    catalogs.update_upload(con, job_id, platform, state=state, started_at=at, published_at=at if state == "published"
                           else None, remote_id=f"v{job_id}", privacy=privacy, error_class=error_class)
    con.execute("UPDATE uploads SET updated_at = ? WHERE job_id = ? AND platform = ?", [at, job_id, platform])


@pytest.fixture
def month(tmp_path, monkeypatch):
    """Three accounts and a month of posts, failures and statistics snapshots."""
    monkeypatch.delenv("FARM_SECRET_KEYS", raising=False)
    ws = workspace(tmp_path / "ws")
    tok = token_file(tmp_path, "t", "tok")
    ref = token_file(tmp_path, "r", "ref")  # refreshable: their tokens are not about to die
    yt = add_account(ws, "youtube", username="kenh_vn", token_file=tok, refresh_token_file=ref, daily_cap=2)
    tt = add_account(ws, "tiktok", username="shop_vn", token_file=tok, refresh_token_file=ref, daily_cap=5)
    fb = add_facebook(ws, tmp_path, username="trang", page_id="1", daily_cap=3)  # a long-lived Page token
    job = iter(range(1, 10000))
    snapshots = []
    with ws.catalog.write() as con:
        catalogs.update_account(con, fb["id"], token_expires_at=NOW + timedelta(days=2))  # a Page token dying soon
        for day in range(30, 0, -1):
            # YouTube: 2 posts a day (its cap) every day; engagement 5% until the last 3 days, then 2%
            for k in range(2):
                j = next(job)
                _upload(con, j, yt, "youtube", day=day, privacy="private" if day <= 2 and k == 0 else "public")
                rate = 0.02 if day <= 3 else 0.05
                snapshots.append((NOW - timedelta(days=day) + timedelta(hours=12), {
                    "upload": f"{j}:youtube", "job_id": j, "platform": "youtube", "account_id": yt["id"],
                    "remote_id": f"v{j}", "available": True, "views": 1000, "likes": int(rate * 1000) - 5,
                    "comments": 5, "shares": None, "shares_missing": True,
                    "engagement_rate": engagement_rate(1000, int(rate * 1000) - 5, 5, None), "note": None}))
            # TikTok: one post a day, steady 10% engagement
            j = next(job)
            _upload(con, j, tt, "tiktok", day=day)
            snapshots.append((NOW - timedelta(days=day) + timedelta(hours=12), {
                "upload": f"{j}:tiktok", "job_id": j, "platform": "tiktok", "account_id": tt["id"],
                "remote_id": f"v{j}", "available": True, "views": 500, "likes": 40, "comments": 5, "shares": 5,
                "shares_missing": False, "engagement_rate": 0.1, "note": None}))
        # TikTok, the last week: 3 policy rejections and 1 upload lost to the network
        for day, cls in ((1, "PolicyError"), (2, "PolicyError"), (4, "PolicyError"), (5, "RetryableError")):
            _upload(con, next(job), tt, "tiktok", day=day, state="failed", error_class=cls)
        # older failures do not count
        _upload(con, next(job), tt, "tiktok", day=12, state="failed", error_class="PolicyError")
    for at, row in snapshots:
        catalogs.append_metrics(ws.metrics_dir, "metrics", [{**row, "at": at}], at=at)
    return ws, {"yt": yt, "tt": tt, "fb": fb}


def _health(ws, acc):
    with ws.catalog.read() as con:
        catalogs.create_metric_views(con, ws.metrics_dir)
        return account_health(con, catalogs.find_account(con, acc["id"]), now=NOW)


def test_health_formula_over_a_simulated_month(month):
    ws, acc = month
    # YouTube: at its cap every day of the week (-10); 2 posts forced private (-10); engagement: recent
    # median 2% against a 14-day median of 5% -> -20 x (1 - 0.02/0.05) = -12
    yt = _health(ws, acc["yt"])
    assert yt.components["cap_points"] == 10 and yt.components["private_points"] == 10
    assert yt.components["engagement_points"] == pytest.approx(12.0, abs=0.01)
    assert yt.health == pytest.approx(100 - 10 - 10 - 12, abs=0.01)
    # TikTok: 3 rejections (-30, the cap), 1 failure (-10); steady engagement; 1 post a day of 5
    tt = _health(ws, acc["tt"])
    assert (tt.components["policy_rejections_7d"], tt.components["upload_failures_7d"]) == (3, 1)
    assert tt.health == pytest.approx(60.0)
    # Facebook: nothing posted, its Page token expires in 2 days (-15)
    fb = _health(ws, acc["fb"])
    assert fb.components["token_state"] == "expiring" and fb.health == pytest.approx(85.0)


def test_alerts_are_raised_once_and_cleared(month, tmp_path):
    ws, acc = month
    health = {a["id"]: _health(ws, a) for a in acc.values()}
    with ws.catalog.read() as con:
        found = conditions(ws, con, now=NOW, health=health)
    keys = {c.key for c in found}
    assert f"health:{acc['yt']['id']}" in keys and f"health:{acc['tt']['id']}" in keys  # 68 and 60 < 80
    assert f"health:{acc['fb']['id']}" not in keys                                     # 85
    assert f"token:{acc['fb']['id']}:expiring" in keys and f"rejections:{acc['tt']['id']}" in keys
    lines = []
    first = sync_alerts(ws, found, now=NOW, log=lines.append)
    assert len(first["raised"]) == len(found) and len(lines) == len(found)
    again = sync_alerts(ws, found, now=NOW, log=lines.append)
    assert again["raised"] == [] and again["cleared"] == []  # still open: not raised twice
    later = sync_alerts(ws, [c for c in found if c.kind != "token"], now=NOW + timedelta(hours=1))
    assert [a["key"] for a in later["cleared"]] == [f"token:{acc['fb']['id']}:expiring"]
    from conftest import run_farm

    proc = run_farm("--workspace", str(ws.root), "alerts", "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and len(doc) == len(found) - 1
    assert any("refused by the platform" in a["message"] for a in doc)


def test_a_failed_nightly_batch_and_a_spent_quota_raise_alerts(tmp_path):
    ws = workspace(tmp_path / "ws")
    with ws.catalog.write() as con:
        for i in range(20):
            job_id = catalogs.insert_job(con, kind="mashup", spec={}, platform=None, inputs=[],
                                         batch_id="nightly-20261127-0100")
            con.execute("UPDATE jobs SET state = ?, created_at = ? WHERE id = ?",
                        ["failed" if i < 2 else "ready", NOW - timedelta(hours=5), job_id])
        catalogs.add_hold(con, "youtube", until=NOW + timedelta(hours=3), reason="youtube quota spent")
    with ws.catalog.read() as con:
        found = {c.kind: c for c in conditions(ws, con, now=NOW, health={})}
    assert "2 of 20 jobs failed" in found["batch"].message  # 10% > 5%
    assert "quota" in found["quota"].message


class _Hook(BaseHTTPRequestHandler):
    answers: list[int] = []
    bodies: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        code = self.answers.pop(0) if self.answers else 200
        if code == 200:
            self.bodies.append(json.loads(body))
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # a client that hung up is not the test's business
        pass


@pytest.fixture
def hook():
    server = _QuietServer(("127.0.0.1", 0), _Hook)
    _Hook.answers, _Hook.bodies = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def _with_webhook(ws, url, retries=3):
    (ws.root / "farm.toml").write_text(f'[alerts]\nwebhook_url = "{url}"\nwebhook_retries = {retries}\n'
                                       'webhook_timeout_s = 2.0\n', encoding="utf-8")
    from farm.workspace import Workspace

    return Workspace(ws.root)


def test_the_webhook_is_retried_until_it_accepts(month, hook):
    ws, acc = month
    server, url = hook
    ws = _with_webhook(ws, url)
    _Hook.answers = [500, 503]  # fails twice, then accepts
    health = {a["id"]: _health(ws, a) for a in acc.values()}
    with ws.catalog.read() as con:
        found = conditions(ws, con, now=NOW, health=health)
    sync_alerts(ws, found[:1], now=NOW)
    out = deliver_webhooks(ws, sleep=lambda s: None)
    assert out == {"sent": 1, "pending": 0}
    [body] = _Hook.bodies
    assert body["message"] == found[0].message and body["severity"] == found[0].severity
    with ws.catalog.read() as con:
        [alert] = catalogs.open_alerts(con)
    assert alert["webhook_state"] == "sent" and alert["webhook_attempts"] == 3


def test_a_dead_webhook_never_blocks_and_is_tried_again(month, tmp_path):
    ws, acc = month
    ws = _with_webhook(ws, "http://127.0.0.1:9/nobody-listens", retries=1)
    health = {a["id"]: _health(ws, a) for a in acc.values()}
    with ws.catalog.read() as con:
        found = conditions(ws, con, now=NOW, health=health)
    sync_alerts(ws, found[:2], now=NOW)
    out = deliver_webhooks(ws, sleep=lambda s: None)
    assert out == {"sent": 0, "pending": 2}
    with ws.catalog.read() as con:
        assert {a["webhook_state"] for a in catalogs.open_alerts(con)} == {"pending"}


def test_engagement_uses_only_the_counts_given():
    assert engagement_rate(1000, 40, 5, 5) == pytest.approx(0.05)
    assert engagement_rate(1000, 40, 10, None) == pytest.approx(0.05)  # no shares: not counted as zero shares
    assert engagement_rate(0, 1, 1, 1) is None and engagement_rate(None, 1, 1, 1) is None


def test_monitor_fetches_statistics_through_the_platforms(tmp_path, monkeypatch):
    """Publish to fake YouTube and TikTok servers, then `farm monitor --once`: YouTube's counts without
    shares (said so), TikTok's self-only post shown as having no statistics, not as zero."""
    from conftest import run_farm
    from fake_platforms import FakeTikTok, FakeYouTube
    from farm.publish import sweep
    from publishing import ready_job, vertical_video

    monkeypatch.delenv("FARM_SECRET_KEYS", raising=False)
    ws = workspace(tmp_path / "ws")
    with FakeYouTube() as yt, FakeTikTok() as ft:
        yt.add_token("yt-tok", refresh="yt-ref")
        ft.add_token("tt-tok", refresh="tt-ref")
        ft.audited = False  # the TikTok post is self-only
        env = {**yt.settings_env(), **ft.settings_env()}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        add_account(ws, "youtube", username="kenh", token_file=token_file(tmp_path, "y", "yt-tok"),
                    refresh_token_file=token_file(tmp_path, "yr", "yt-ref"), min_gap_min=0)
        add_account(ws, "tiktok", username="shop", token_file=token_file(tmp_path, "t", "tt-tok"),
                    refresh_token_file=token_file(tmp_path, "tr", "tt-ref"), min_gap_min=0)
        ready_job(ws, vertical_video(ws.out_dir / "a.mp4"), platform="youtube")
        ready_job(ws, vertical_video(ws.out_dir / "b.mp4"), platform="tiktok")
        assert sorted(o.status for o in sweep(ws, local=True, sleep=lambda s: None).outcomes) == ["published"] * 2
        video_id = yt.videos[0]["id"]
        yt.set_stats(video_id, views=2000, likes=90, comments=10)
        proc = run_farm("--workspace", str(ws.root), "monitor", "--once", "--json", env=env)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["statistics"]["videos"] == 2 and doc["statistics"]["with_statistics"] == 1
        assert {h["account"] for h in doc["health"]} == {"youtube:kenh", "tiktok:shop"}
        q = run_farm("--workspace", str(ws.root), "sql", "--json",
                     "SELECT platform, available, views, likes, comments, shares, engagement_rate, note FROM metrics "
                     "ORDER BY platform")
        rows = {r["platform"]: r for r in json.loads(q.stdout)}
        assert rows["youtube"]["views"] == 2000 and rows["youtube"]["shares"] is None
        assert rows["youtube"]["engagement_rate"] == pytest.approx(0.05) and "share" in rows["youtube"]["note"]
        assert rows["tiktok"]["available"] is False and rows["tiktok"]["views"] is None
        assert "self-only" in rows["tiktok"]["note"]
        assert "yt-tok" not in proc.stdout + proc.stderr


def test_a_token_that_dies_raises_a_new_alert(month):
    ws, acc = month
    with ws.catalog.read() as con:
        first = conditions(ws, con, now=NOW, health={})
    sync_alerts(ws, first, now=NOW)
    with ws.catalog.write() as con:  # two days later the Page token is dead
        catalogs.update_account(con, acc["fb"]["id"], token_expires_at=NOW - timedelta(hours=1))
    with ws.catalog.read() as con:
        later = conditions(ws, con, now=NOW, health={})
    out = sync_alerts(ws, later, now=NOW + timedelta(days=2))
    assert [(a["key"], a["severity"]) for a in out["raised"]] == [(f"token:{acc['fb']['id']}:reconnect", "critical")]
    assert [a["key"] for a in out["cleared"]] == [f"token:{acc['fb']['id']}:expiring"]


def test_a_webhook_that_never_finishes_answering_is_given_up_on_time(month):
    import socket
    import time as _time

    ws, acc = month
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)  # accepts connections, never answers: a receiver stuck mid-reply
    try:
        ws = _with_webhook(ws, f"http://127.0.0.1:{listener.getsockname()[1]}/hook", retries=1)
        (ws.root / "farm.toml").write_text(
            (ws.root / "farm.toml").read_text().replace("webhook_timeout_s = 2.0", "webhook_timeout_s = 0.5"))
        from farm.workspace import Workspace

        ws = Workspace(ws.root)
        with ws.catalog.read() as con:
            found = conditions(ws, con, now=NOW, health={})
        sync_alerts(ws, found[:1], now=NOW)
        t0 = _time.monotonic()
        assert deliver_webhooks(ws, sleep=lambda s: None) == {"sent": 0, "pending": 1}
        assert _time.monotonic() - t0 < 5
    finally:
        listener.close()


def test_a_refresh_another_process_made_is_used_not_repeated(month, tmp_path):
    from farm.platforms import Secret, TokenSet
    from farm.publish import load_tokens, refresh_account, store_tokens

    ws, acc = month
    with ws.catalog.read() as con:
        tt = catalogs.find_account(con, acc["tt"]["id"])
    before = load_tokens(ws, tt)
    store_tokens(ws, tt, TokenSet(Secret("access-2"), Secret("refresh-2")))  # the other process's refresh

    class Client:
        calls = 0

        def refresh(self, tokens):
            Client.calls += 1
            raise AssertionError("a refresh token TikTok has already spent")

    got = refresh_account(ws, tt, Client(), before)
    assert Client.calls == 0 and got.refresh_token.reveal() == "refresh-2"


def test_posts_asked_to_be_self_only_are_not_forced_private(month):
    ws, acc = month
    with ws.catalog.write() as con:
        catalogs.insert_upload(con, job_id=9000, account_id=acc["tt"]["id"], platform="tiktok", marker="x",
                               size_bytes=1, privacy="self-only")  # an unaudited app asks for self-only
        catalogs.update_upload(con, 9000, "tiktok", state="published", privacy="self-only", published_at=NOW,
                               started_at=NOW)
    assert _health(ws, acc["tt"]).components["forced_private_7d"] == 0


def test_metric_files_from_before_the_new_columns_do_not_stop_the_monitor(tmp_path, monkeypatch):
    from farm.monitor import monitor_once

    monkeypatch.delenv("FARM_SECRET_KEYS", raising=False)
    ws = workspace(tmp_path / "ws")
    add_account(ws, "youtube", username="yt", token_file=token_file(tmp_path, "t", "tok"))
    catalogs.append_metrics(ws.metrics_dir, "metrics", [{"upload": "1:youtube", "at": NOW, "views": 5, "likes": 1,
                                                         "comments": 0, "shares": None, "engagement_rate": 0.2}])
    doc = monitor_once(ws, now=lambda: NOW, log=lambda line: None)
    assert [h["account"] for h in doc["health"]] == ["youtube:yt"]
