"""`farm serve`'s pages: every page renders from a small catalog, in English and Vietnamese, with user
text escaped, CSRF tokens in forms, the video element, the busy page, /events and the vendored htmx."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

import catalogs
from farm.errors import BusyError
from farm.workspace import Workspace, init_workspace

pytest.importorskip("fastapi")
from starlette.testclient import TestClient  # noqa: E402

EVIL = "<script>alert(1)"  # no slash: it is part of a file name


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.delenv("FARM_SECRET_KEYS", raising=False)
    w, _ = init_workspace(tmp_path / "ws")
    w = Workspace(w.root)
    with w.catalog.write() as con:
        ids = [catalogs.insert_media(con, {"kind": kind, "path": f"/lib/{name}", "sha256": name, "size_bytes": 1,
                                           "duration_s": 4.0, "width": 1080, "height": 1920, "fps": 30.0,
                                           "has_audio": False, "license": "owned", "mood": None})
               for kind, name in (("source", f"{EVIL}.mp4"), ("template", "t.mp4"), ("audio", "a.m4a"))]
        spec = {"mains": ["/lib/x.mp4"], "template": "/lib/t.mp4", "output": "/out/1.mp4"}
        for n in range(3):
            catalogs.insert_job(con, kind="mashup", spec=spec, platform="tiktok", inputs=[(ids[0], "main", 0)],
                                batch_id="nightly-20261207")
        catalogs.move(con, 2, "rendering")
        catalogs.move(con, 2, "failed", sets={"error_class": "InputError", "error_message": "bad clip"})
        catalogs.move(con, 3, "rendering")
        catalogs.move(con, 3, "ready", sets={"output_path": "/out/3.mp4", "frames": 120, "render_fps": 60.0,
                                             "finished_at": catalogs.utcnow(), "publish_after": catalogs.utcnow()
                                             + timedelta(hours=3)})
        catalogs.set_job_text(con, 3, post_metadata={"tiktok": {"title": f"Áo {EVIL}", "description": "Mô tả",
                                                                "link": "https://s.shopee.vn/x", "sub_id": "farmA3tt",
                                                                "link_placement": "bio", "flags": {}}},
                              text_source="template", text_source_reason=None, ai_tokens=0)
        catalogs.insert_account(con, {"platform": "tiktok", "username": "shop_vn", "active": True})
    return w


@pytest.fixture
def client(ws):
    from farm.web import create_app

    with TestClient(create_app(ws, lang="en"), base_url="http://127.0.0.1:8765") as c:
        yield c


@pytest.mark.parametrize("path,needle", [
    ("/", "Tonight&#39;s batch"), ("/queue", "InputError"), ("/jobs/3", "farmA3tt"), ("/library", "t.mp4"),
    ("/products", "No products."), ("/accounts", "shop_vn"), ("/calendar", "#3"), ("/analytics", "Views per day"),
])  # fmt: skip
def test_every_page_renders_with_its_content(client, path, needle):
    r = client.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert needle in r.text
    assert '<nav>' in r.text and "/static/htmx.min.js" in r.text


def test_overview_shows_the_batch_and_subscribes_to_events(client):
    html = client.get("/").text
    assert "nightly-20261207" in html and "1 done" in html and "1 failed" in html and "1 pending" in html
    assert 'hx-ext="sse"' in html and 'sse-connect="/events"' in html and 'sse-swap="live"' in html
    assert 'sse-connect="/events"' in client.get("/queue").text


def test_vietnamese_by_query_and_by_server_language(client, ws):
    assert "Lô đêm nay" in client.get("/?lang=vi").text
    assert "Hàng đợi" in client.get("/queue?lang=vi").text
    from farm.web import create_app

    with TestClient(create_app(ws, lang="vi"), base_url="http://127.0.0.1:8765") as c:
        html = c.get("/accounts").text
    assert "Tài khoản" in html and "đã kết nối" in html
    assert 'lang="vi"' in html


def test_user_text_is_escaped(client):
    for path in ("/library", "/jobs/3"):
        html = client.get(path).text
        assert EVIL not in html
        assert "&lt;script&gt;alert(1)" in html


def test_job_page_plays_the_video_and_carries_csrf_forms(client):
    html = client.get("/jobs/3").text
    assert '<video controls preload="metadata" playsinline src="/api/v1/jobs/3/video">' in html
    assert "Mô tả" in html and "tiktok" in html
    forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", html, re.S)
    assert forms and all('name="csrf" value="' in f for f in forms)
    assert client.get("/jobs/1").text.count("<video") == 0
    assert client.get("/jobs/999").status_code == 404


def test_forms_need_the_csrf_token_and_work_with_it(client, ws):
    html = client.get("/jobs/3").text
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    assert client.post("/jobs/3/cancel", data={"csrf": "wrong"}, follow_redirects=False).status_code == 403
    r = client.post("/jobs/3/cancel", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    r = client.post("/jobs/1/cancel", data={"csrf": token}, headers={"HX-Request": "true"})
    assert r.status_code == 204 and r.headers["HX-Refresh"] == "true"
    r = client.post("/jobs/2/retry", data={"csrf": token})  # its main clip's file is gone: refused, one line
    assert r.status_code == 400 and "Traceback" not in r.text and "job 2" in r.text
    with ws.catalog.read() as con:
        assert [catalogs.get_job(con, i)["state"] for i in (1, 2, 3)] == ["cancelled", "failed", "cancelled"]
    lib = client.get("/library").text
    assert lib.count('name="csrf"') >= 4  # the import form and one per card
    r = client.post("/library/2", data={"csrf": token, "license": "cc0", "mood": "calm"}, headers={"HX-Request": "1"})
    assert r.status_code == 200 and 'id="media-2"' in r.text and "Saved" in r.text
    with ws.catalog.read() as con:
        row = catalogs.get_media(con, 2)
    assert (row["license"], row["mood"]) == ("cc0", "calm")
    acc = client.get("/accounts").text
    assert 'action="/accounts/1/disable"' in acc and 'name="csrf"' in acc
    assert client.post("/accounts/1/disable", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert "disabled" in client.get("/accounts").text


def test_busy_catalog_shows_the_busy_page(client, ws, monkeypatch):
    def held(*a, **k):
        raise BusyError("the catalog is held")

    monkeypatch.setattr(type(ws.catalog), "read", held)
    for path in ("/", "/queue", "/jobs/3", "/library", "/accounts", "/calendar", "/analytics", "/products"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "busy: another farm process holds the workspace" in r.text, path


def test_events_stream_sends_the_live_fragment(client):
    with client.stream("GET", "/events?once=1") as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        body = "".join(r.iter_text())
    assert "event: live" in body and "data: " in body and "nightly-20261207" in body


def test_static_htmx_is_served_and_nothing_else(client):
    r = client.get("/static/htmx.min.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"] and "htmx" in r.text[:2000]
    assert client.get("/static/sse.js").status_code == 200
    assert client.get("/static/farm.css").status_code == 200
    assert "0BSD" in client.get("/static/LICENSES.txt").text
    assert client.get("/static/..%2F_pages.py").status_code == 404
    assert client.get("/static/nope.js").status_code == 404


def test_import_form_refuses_a_file_that_is_not_media_in_one_line(client):
    html = client.get("/library").text
    assert 'enctype="multipart/form-data"' in html
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    r = client.post("/library/import", data={"csrf": token}, files={"file": ("notes.txt", b"hello", "text/plain")})
    assert r.status_code == 400 and "notes.txt" in r.text and "Traceback" not in r.text


def test_pages_need_a_login_where_a_token_is_required(ws):
    from farm.web import create_app

    app = create_app(ws, require_token=True, token_sha256="0" * 64)
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        for path in ("/", "/jobs/3", "/events?once=1"):
            r = c.get(path, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/login", path
