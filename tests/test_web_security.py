"""What a browser sends on another site's behalf never reaches a loopback `farm serve`: a DNS-rebinding
host name is refused, and so is a state-changing request whose Origin is another site; programs such as
curl (no Origin) and the farm's own pages (same origin, with their CSRF token) are not affected."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

import catalogs
from farm.web import create_app
from farm.workspace import Workspace, init_workspace

HOST = "127.0.0.1:8765"


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.delenv("FARM_SECRET_KEYS", raising=False)
    w, _ = init_workspace(tmp_path / "ws")
    (w.root / "farm.toml").write_text("[ai]\nenabled = false\n", encoding="utf-8")
    ws = Workspace(w.root)
    with ws.catalog.write() as con:
        for kind in ("source", "template"):
            catalogs.insert_media(con, {"kind": kind, "path": f"/lib/{kind}.mp4", "sha256": kind, "size_bytes": 1,
                                        "duration_s": 4.0, "width": 1080, "height": 1920, "fps": 30.0,
                                        "has_audio": False, "license": "owned"})
    with TestClient(create_app(ws), raise_server_exceptions=False, base_url=f"http://{HOST}") as c:
        yield c


def test_a_rebinding_host_name_is_refused_on_loopback(client):
    assert client.get("/api/v1/jobs").status_code == 200
    for host in ("evil.example", "evil.example:8765", "192.168.1.20:8765"):
        r = client.get("/api/v1/jobs", headers={"Host": host})
        assert r.status_code == 403 and "loopback" in r.json()["error"], (host, r.text)
    assert client.get("/queue", headers={"Host": "evil.example"}).status_code == 403
    assert client.get("/api/v1/jobs", headers={"Host": "localhost:8765"}).status_code == 200


def test_a_post_from_another_site_is_refused_and_curl_is_not(client):
    body = {"kind": "mashup", "main": 1, "template": 2}
    for origin in ("http://evil.example", "null", "http://127.0.0.1:9999"):
        r = client.post("/api/v1/jobs", json=body, headers={"Origin": origin})
        assert r.status_code == 403 and "another site" in r.json()["error"], (origin, r.text)
    r = client.post("/api/v1/jobs", json=body, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    with client.app.state.web.ws.catalog.read() as con:
        assert catalogs.list_jobs(con) == []  # nothing was queued by those
    assert client.post("/api/v1/jobs", json=body).status_code == 201  # a program on this machine (curl)
    r = client.post("/api/v1/jobs", json=body, headers={"Origin": f"http://{HOST}"})
    assert r.status_code == 201  # the farm's own page


def test_an_upload_over_the_import_cap_is_refused_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("FARM_SECRET_KEYS", raising=False)
    w, _ = init_workspace(tmp_path / "ws")
    (w.root / "farm.toml").write_text("[ai]\nenabled = false\n[media]\nmax_download_bytes = 1000\n", encoding="utf-8")
    ws = Workspace(w.root)
    with TestClient(create_app(ws), raise_server_exceptions=False, base_url=f"http://{HOST}") as c:
        for size in (5000, 70_000):  # under and over what the Content-Length check alone would catch
            r = c.post("/api/v1/media", files={"file": ("big.mp4", b"\0" * size, "video/mp4")},
                       data={"kind": "source"})
            assert r.status_code == 400 and r.json()["error"].startswith("upload too large: the cap is 1000 bytes")
        assert c.get("/api/v1/media").json() == []
    uploads = ws.state_dir / "web" / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())  # no partial file left behind


def test_bad_values_are_4xx_never_500_and_start_nothing(client, monkeypatch):
    started = []  # the API's process starter, replaced: nothing is run here
    monkeypatch.setattr("farm.web._api._start", lambda *a, **k: started.append(a) or {"run": "x"})
    cases = [
        ("patch", "/api/v1/media/1", {"json": {"license": "stolen"}}, "Invalid license ('stolen')"),
        ("get", "/api/v1/jobs?offset=99999999999999999999999", {}, "offset"),
        ("get", "/api/v1/media?offset=99999999999999999999999", {}, "offset"),
        ("post", "/api/v1/jobs", {"json": {"kind": "mashup", "main": True, "template": 2}}, "main"),
        ("post", "/api/v1/jobs", {"json": {"kind": "mashup", "main": "1", "template": 2}}, "main"),
        ("post", "/api/v1/publish", {"json": {"dry_run": "zz"}}, "dry_run"),
        ("post", "/api/v1/queue/render", {"json": {"limit": "x"}}, "limit"),
    ]
    for method, path, kw, expect in cases:
        r = getattr(client, method)(path, **kw)
        assert r.status_code == 400 and expect in r.json()["error"] and "\n" not in r.json()["error"], (path, r.text)
    assert started == []  # a bad body starts no long work
    assert client.post("/api/v1/publish").status_code == 202 and len(started) == 1  # no body: fine
    # the Queue page's button posts its form (the CSRF field): not options, so it starts
    assert client.post("/api/v1/queue/render", data={"csrf": "x"}).status_code == 202 and len(started) == 2
