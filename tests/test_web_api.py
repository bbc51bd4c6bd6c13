"""`farm serve`'s JSON API through Starlette's TestClient: every endpoint, auth, CSRF, Range, paging, bad input."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import flat_clip
from starlette.testclient import TestClient

import catalogs
from farm.cli import main
from farm.web import create_app, setup_token
from farm.workspace import Workspace, init_workspace

TOKEN = "a-test-token-long-enough-0123456789"


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.delenv("FARM_SECRET_KEYS", raising=False)
    w, _ = init_workspace(tmp_path / "ws")
    (w.root / "farm.toml").write_text("[ai]\nenabled = false\n", encoding="utf-8")
    return Workspace(w.root)


def _media(con, kind: str, name: str, *, licence: str = "owned", mood: str | None = None) -> int:
    return catalogs.insert_media(con, {"kind": kind, "path": f"/lib/{name}", "sha256": name, "size_bytes": 1,
                                       "duration_s": 4.0, "width": 1080, "height": 1920, "fps": 30.0,
                                       "has_audio": kind == "audio", "license": licence, "mood": mood})


@pytest.fixture
def filled(ws, tmp_path):
    """Three jobs (one ready, with a real 2 s video) and a small library."""
    video = flat_clip(tmp_path / "out.mp4", (200, 40, 40), seconds=2.0, width=160, height=90)
    with ws.catalog.write() as con:
        ids = {n: _media(con, k, n, mood=m) for n, k, m in
               (("s0.mp4", "source", None), ("t0.mp4", "template", None), ("up.m4a", "audio", "upbeat"))}
        jobs = [catalogs.insert_job(con, kind="mashup", spec={}, platform=p,
                                    inputs=[(ids["s0.mp4"], "main", 0)]) for p in ("tiktok", "youtube", "tiktok")]
        con.execute("UPDATE jobs SET state = 'ready', output_path = ?, output_sha256 = 'abc' WHERE id = ?",
                    [str(video), jobs[0]])
    return {"media": ids, "jobs": jobs, "video": video}


def _client(ws, **kw) -> TestClient:
    return TestClient(create_app(ws, **kw), raise_server_exceptions=False, base_url="http://127.0.0.1:8765")


def _cli_json(capsys, ws, *argv) -> object:
    capsys.readouterr()
    assert main(["--workspace", str(ws.root), *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_jobs_list_and_show_are_the_cli_documents(ws, filled, capsys):
    c = _client(ws)
    assert c.get("/api/v1/jobs").json() == _cli_json(capsys, ws, "queue", "list", "--json")
    r = c.get("/api/v1/jobs", params={"state": "pending"})
    cli = _cli_json(capsys, ws, "queue", "list", "--state", "pending", "--json")
    assert r.json() == cli and list(r.json()[0]) == list(cli[0]) and len(cli) == 2
    shown = c.get(f"/api/v1/jobs/{filled['jobs'][0]}").json()
    assert shown == _cli_json(capsys, ws, "queue", "show", str(filled["jobs"][0]), "--json")
    assert {"sub_id", "sub_ids", "inputs", "post_metadata", "log"} <= set(shown)
    assert c.get(f"/api/v1/jobs/{filled['jobs'][0]}/log").status_code == 200
    with ws.catalog.write() as con:  # the process log comes with the job, as it does in queue show --json
        catalogs.log_stage(con, filled["jobs"][0], "plan", detail="planned by the test")
    shown = c.get(f"/api/v1/jobs/{filled['jobs'][0]}").json()
    assert shown == _cli_json(capsys, ws, "queue", "show", str(filled["jobs"][0]), "--json")
    assert [(e["stage"], e["detail"]) for e in shown["log"]] == [("plan", "planned by the test")]
    # filters and paging
    assert [j["id"] for j in c.get("/api/v1/jobs", params={"platform": "tiktok"}).json()] == filled["jobs"][::2]
    assert [j["id"] for j in c.get("/api/v1/jobs", params={"limit": 1, "offset": 1}).json()] == [filled["jobs"][1]]
    assert c.get("/api/v1/jobs", params={"kind": "promo"}).json() == []


def test_bad_input_is_one_line_4xx(ws, filled):
    c = _client(ws)
    for r in (c.get("/api/v1/jobs", params={"state": "bogus"}), c.get("/api/v1/jobs", params={"limit": 0}),
              c.get("/api/v1/jobs/notanumber"), c.post("/api/v1/jobs", json={"kind": "rocket"}),
              c.post("/api/v1/jobs", json={"kind": "mashup"}), c.patch("/api/v1/media/1", json={"colour": "red"})):
        assert 400 <= r.status_code < 500, r.text
        body = r.json()
        assert list(body) == ["error"] and "\n" not in body["error"] and "Traceback" not in body["error"]
    missing = c.get("/api/v1/jobs/999")
    assert missing.status_code == 404 and missing.json() == {"error": "job 999: no such job"}
    assert "Supported:" in c.get("/api/v1/jobs", params={"state": "bogus"}).json()["error"]


def test_unexpected_error_is_500_without_traceback(ws, monkeypatch):
    import farm.publish

    monkeypatch.setattr(farm.publish, "list_account_rows", lambda ws: 1 / 0)
    r = _client(ws).get("/api/v1/accounts")
    assert r.status_code == 500 and r.json() == {"error": "internal error: ZeroDivisionError"}


def test_busy_workspace_is_503(ws, monkeypatch):
    from farm.errors import BusyError

    monkeypatch.setattr(catalogs, "list_jobs", lambda *a, **k: (_ for _ in ()).throw(BusyError("held")))
    r = _client(ws).get("/api/v1/jobs")
    assert r.status_code == 503 and r.json() == {"error": "busy: another farm process holds the workspace"}
    assert r.headers["Retry-After"] == "5"


def test_video_range_and_download(ws, filled):
    c = _client(ws)
    url = f"/api/v1/jobs/{filled['jobs'][0]}/video"
    size = filled["video"].stat().st_size
    whole = c.get(url)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    assert whole.content == filled["video"].read_bytes()
    part = c.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole.content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{size}"
    assert c.get(url, headers={"Range": "bytes=-5"}).content == whole.content[-5:]
    assert c.get(url, headers={"Range": f"bytes={size - 3}-"}).content == whole.content[-3:]
    assert c.get(url, headers={"Range": f"bytes={size + 10}-{size + 20}"}).status_code == 416
    assert "attachment" in c.get(url, params={"download": 1}).headers["content-disposition"]
    assert c.get(f"/api/v1/jobs/{filled['jobs'][1]}/video").status_code == 404  # no output yet
    assert c.get("/api/v1/jobs/999/video").status_code == 404
    thumb = c.get(f"/api/v1/jobs/{filled['jobs'][0]}/thumbnail")
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    assert len(list((ws.state_dir / "thumbs").glob("*.jpg"))) == 1
    assert c.get(f"/api/v1/media/{filled['media']['s0.mp4']}/thumbnail").status_code == 404  # file gone


def test_queue_a_mashup_retry_and_cancel(ws, filled, tmp_path, capsys):
    c = _client(ws)
    m = filled["media"]
    r = c.post("/api/v1/jobs", json={"kind": "mashup", "main": m["s0.mp4"], "template": m["t0.mp4"],
                                     "platform": "tiktok"})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["state"] == "pending" and job["platform"] == "tiktok"
    assert job == _cli_json(capsys, ws, "queue", "show", str(job["id"]), "--json")
    assert c.post(f"/api/v1/jobs/{job['id']}/cancel").json() == {"id": job["id"], "state": "cancelled",
                                                                 "was": "pending"}
    assert c.post(f"/api/v1/jobs/{job['id']}/retry").json() == {"retried": [job["id"]]}
    bad = c.post("/api/v1/jobs", json={"kind": "promo", "product": 999})
    assert 400 <= bad.status_code < 500 and "999" in bad.json()["error"]


def test_media_products_accounts_alerts_metrics_revenue_schedule(ws, filled, tmp_path, capsys):
    c = _client(ws)
    assert c.get("/api/v1/media").json() == _cli_json(capsys, ws, "media", "list", "--json")
    assert [r["kind"] for r in c.get("/api/v1/media", params={"kind": "audio"}).json()] == ["audio"]
    assert len(c.get("/api/v1/media", params={"limit": 2, "offset": 1}).json()) == 2
    assert c.get("/api/v1/media", params={"license": "cc0"}).json() == []
    mid = filled["media"]["up.m4a"]
    r = c.patch(f"/api/v1/media/{mid}", json={"license": "cc0", "mood": "calm"})
    assert r.status_code == 200 and (r.json()["license"], r.json()["mood"]) == ("cc0", "calm")
    assert c.patch("/api/v1/media/999", json={"license": "cc0"}).status_code == 404
    # an upload, and a non-video refused in one line
    clip = flat_clip(tmp_path / "up.mp4", (10, 200, 10), seconds=1.0, width=160, height=90)
    r = c.post("/api/v1/media", files={"file": ("../../evil name.mp4", clip.read_bytes(), "video/mp4")},
               data={"kind": "source", "license": "owned"})
    assert r.status_code == 201 and len(r.json()["added"]) == 1, r.text
    placed = Path(r.json()["added"][0]["path"])  # moved into the library, as `farm media import` places it
    assert placed.is_file() and ws.contains(placed) and ".farm" not in placed.parts
    r = c.post("/api/v1/media", files={"file": ("x.mp4", b"not a video", "video/mp4")})
    assert r.status_code == 400 and "\n" not in r.json()["error"]
    assert c.post("/api/v1/media", json={"url": "/etc/passwd"}).status_code == 400
    assert not list((ws.state_dir / "web" / "uploads").iterdir())
    # products: a file whose image is a local path is refused (paths from requests never reach the disk)
    bad = json.dumps({"name": "Mug", "price": 10, "currency": "VND", "images": ["/etc/hostname"]})
    r = c.post("/api/v1/products", files={"file": ("p.json", bad.encode(), "application/json")})
    assert r.status_code == 400 and "URL" in r.json()["error"]
    assert c.get("/api/v1/products").json() == _cli_json(capsys, ws, "products", "list", "--json") == []
    assert c.get("/api/v1/products/5").status_code == 404
    assert c.get("/api/v1/accounts").json() == _cli_json(capsys, ws, "accounts", "list", "--json")
    assert c.post("/api/v1/accounts/7/disable").status_code in (400, 404)
    assert c.get("/api/v1/alerts").json() == []
    assert c.get("/api/v1/metrics").json()["queue"]["total"] == 3
    assert c.get("/api/v1/revenue", params={"by": "video", "days": 7}).json() == \
        _cli_json(capsys, ws, "revenue", "--by", "video", "--days", "7", "--json")
    assert c.get("/api/v1/revenue", params={"days": -1}).status_code == 400
    assert {t["task"] for t in c.get("/api/v1/schedule").json()} >= {"nightly"}


def test_nightly_and_publish_run_as_their_own_process(ws, filled, monkeypatch):
    import subprocess as sp

    started = []

    class FakeProc:
        def __init__(self, argv, **kw):
            started.append(argv)
            kw["stdout"].write(b'{"done": 0}')

        def poll(self):
            return 0

    monkeypatch.setattr(sp, "Popen", FakeProc)
    c = _client(ws)
    r = c.post("/api/v1/nightly", json={"count": 2})
    assert r.status_code == 202 and r.json()["run_id"]
    assert started[0][:3] == [sys.executable, "-m", "farm"] and started[0][-2:] == ["--count", "2"]
    doc = c.get("/api/v1/nightly").json()
    assert doc["run_id"] == r.json()["run_id"] and doc["result"] == {"done": 0} and doc["queue"]["total"] == 3
    assert c.post("/api/v1/publish").status_code == 202 and "publish" in started[1]
    assert c.post("/api/v1/nightly", json={"count": 0}).status_code == 400


def test_health_and_docs(ws):
    c = _client(ws)
    assert c.get("/healthz").json() == {"ok": True, "schema": catalogs.SCHEMA_VERSION}
    assert c.get("/docs").status_code == 200
    assert "/api/v1/jobs" in c.get("/openapi.json").json()["paths"]


def test_token_required_bearer_login_cookie_csrf_and_rate_limit(ws, filled):
    digest, _ = setup_token(ws, token_file=_token_file(ws))
    assert (ws.state_dir / "web-token.sha256").stat().st_mode & 0o777 == 0o600
    c = _client(ws, require_token=True, token_sha256=digest)
    r = c.get("/api/v1/jobs")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer" and list(r.json()) == ["error"]
    assert c.get("/api/v1/jobs", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/api/v1/jobs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    # Bearer needs no CSRF token
    job = filled["jobs"][1]
    assert c.post(f"/api/v1/jobs/{job}/cancel", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert c.post("/login", data={"token": "wrong"}, follow_redirects=False).status_code == 401
    r = c.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and TOKEN not in cookie
    assert c.get("/api/v1/jobs").status_code == 200  # the cookie now
    assert c.post(f"/api/v1/jobs/{filled['jobs'][2]}/cancel").status_code == 403  # no CSRF token
    from farm.web import csrf_token

    class Req:  # what csrf_token reads: the app's state and the cookie
        app = c.app
        cookies = dict(c.cookies)

    r = c.post(f"/api/v1/jobs/{filled['jobs'][2]}/cancel", headers={"X-CSRF-Token": csrf_token(Req())})
    assert r.status_code == 200
    for _ in range(3):
        c.post("/login", data={"token": "wrong"})
    r = c.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_no_token_needed_on_loopback(ws, filled):
    assert _client(ws).get("/api/v1/jobs").status_code == 200


def _token_file(ws) -> Path:
    path = ws.root / "token.txt"
    path.write_text(TOKEN + "\n", encoding="utf-8")
    return path


def test_first_start_makes_a_token_once(ws):
    digest, token = setup_token(ws)
    assert token and len(token) >= 32
    assert (ws.state_dir / "web-token.sha256").read_text().strip() == digest
    assert setup_token(ws) == (digest, None)  # shown once


def test_farm_serve_prints_its_url_and_answers(ws, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "farm", "--workspace", str(ws.root), "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line == f"serving on http://127.0.0.1:{port}/", proc.stderr.read() if not line else line
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    assert json.loads(r.read())["ok"] is True
                break
            except ConnectionError:
                continue
        capsys.readouterr()
        assert main(["--workspace", str(ws.root), "serve", "--port", str(port)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "in use" in err
    finally:
        proc.terminate()
        proc.wait(timeout=10)
