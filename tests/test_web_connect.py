"""`farm serve`: connecting an account through OAuth with the browser coming back to the server (against the
fake authorization servers), and a failed upload tried again."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import catalogs
from farm.workspace import Workspace, init_workspace
from fake_platforms import FakeFacebook, FakeTikTok, FakeYouTube

pytest.importorskip("fastapi")
from starlette.testclient import TestClient  # noqa: E402

from farm.web import create_app  # noqa: E402

BASE = "http://127.0.0.1:8765"


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.delenv("FARM_SECRET_KEYS", raising=False)
    w, _ = init_workspace(tmp_path / "ws")
    return w.root


def _client(root, monkeypatch, fake, **kw) -> TestClient:
    for key, value in fake.settings_env().items():
        monkeypatch.setenv(key, value)
    return TestClient(create_app(Workspace(root), **kw), raise_server_exceptions=False, base_url=BASE,
                      follow_redirects=False)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _sign_in(authorize_url: str) -> str:
    """The platform's sign-in (the fake answers at once): the address it sends the browser back to."""
    answer = httpx.get(authorize_url, follow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def _back(client: TestClient, location: str):
    """The browser arriving back at this server (the path and query of the platform's redirect)."""
    parts = urlsplit(location)
    return client.get(parts.path + "?" + parts.query)


def test_api_connect_sends_the_browser_to_sign_in_and_the_callback_stores_the_account(root, monkeypatch):
    with FakeYouTube() as yt:
        c = _client(root, monkeypatch, yt)
        r = c.post("/api/v1/accounts/connect", json={"platform": "youtube", "name": "kenh_vn", "daily_cap": 3})
        assert r.status_code == 200, r.text
        doc = r.json()
        q = _query(doc["authorize_url"])
        assert doc["authorize_url"].startswith(yt.base_url + yt.AUTH_PATH + "?")
        assert q["redirect_uri"] == doc["redirect_uri"] == BASE + "/oauth/callback"
        assert q["state"] and q["code_challenge"] and q["code_challenge_method"] == "S256"
        assert q["state"] not in str(c.cookies) and "verifier" not in r.text
        location = _sign_in(doc["authorize_url"])
        assert location.startswith(BASE + "/oauth/callback?")
        done = _back(c, location)
        assert done.status_code == 303 and re.fullmatch(r"/accounts\?connected=\d+", done.headers["location"])
        assert yt.oauth.redeemed == 1
        page = c.get(done.headers["location"])
        assert page.status_code == 200 and "youtube:kenh_vn" in page.text
        [acc] = c.get("/api/v1/accounts").json()
        assert acc["name"] == "kenh_vn" and acc["platform"] == "youtube" and acc["state"] == "connected"
        assert acc["daily_cap"] == 3
        listed = c.get("/api/v1/accounts").text
        assert "access-" not in listed and "refresh-" not in listed and "token_blob" not in listed
        again = _back(c, location)  # the same answer twice: its attempt was used once
        assert again.status_code == 400 and "nothing was stored" in again.text
        assert yt.oauth.redeemed == 1


def test_a_wrong_state_or_a_denial_is_a_400_page_and_stores_nothing(root, monkeypatch):
    with FakeYouTube() as yt:
        c = _client(root, monkeypatch, yt)
        url = c.post("/api/v1/accounts/connect", json={"platform": "youtube", "name": "a"}).json()["authorize_url"]
        yt.oauth.tamper_state = True
        r = _back(c, _sign_in(url))
        assert r.status_code == 400 and "state" in r.text and "nothing was stored" in r.text
        assert "Traceback" not in r.text
        url = c.post("/api/v1/accounts/connect", json={"platform": "youtube", "name": "b"}).json()["authorize_url"]
        yt.oauth.deny_next = True
        r = _back(c, _sign_in(url))
        assert r.status_code == 400 and "access_denied" in r.text
        assert c.get("/oauth/callback?code=x&state=nope").status_code == 400
        assert c.get("/api/v1/accounts").json() == [] and yt.oauth.redeemed == 0


def test_connect_bad_input_is_one_line_4xx(root, monkeypatch):
    with FakeYouTube() as yt:
        c = _client(root, monkeypatch, yt)
        r = c.post("/api/v1/accounts/connect", json={"platform": "myspace", "name": "a"})
        assert r.status_code == 400 and "platform" in r.json()["error"]
        assert c.post("/api/v1/accounts/connect", json={"platform": "youtube"}).status_code == 400
        monkeypatch.delenv("FARM_YOUTUBE_CLIENT_ID")
        c = TestClient(create_app(Workspace(root)), raise_server_exceptions=False, base_url=BASE)
        r = c.post("/api/v1/accounts/connect", json={"platform": "youtube", "name": "a"})
        assert r.status_code == 400 and "FARM_YOUTUBE_CLIENT_ID" in r.json()["error"]


def test_tiktok_comes_back_on_its_registered_path(root, monkeypatch):
    with FakeTikTok() as tt:
        c = _client(root, monkeypatch, tt)
        doc = c.post("/api/v1/accounts/connect", json={"platform": "tiktok", "name": "shop_vn"}).json()
        assert doc["redirect_uri"] == BASE + "/callback/" and len(_query(doc["authorize_url"])["code_challenge"]) == 64
        done = _back(c, _sign_in(doc["authorize_url"]))
        assert done.status_code == 303, done.text
        [acc] = c.get("/api/v1/accounts").json()
        assert acc["platform"] == "tiktok" and acc["remote_name"] == "shop_vn"


def test_the_accounts_form_connects_a_facebook_page_by_its_id(root, monkeypatch):
    with FakeFacebook() as fb:
        fb.users["u1"].append(("2002", "Second Shop"))
        c = _client(root, monkeypatch, fb)
        page = c.get("/accounts").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        assert 'action="/accounts/connect"' in page
        assert c.post("/accounts/connect", data={"platform": "facebook", "name": "shop"}).status_code == 403
        r = c.post("/accounts/connect", data={"csrf": csrf, "platform": "facebook", "name": "shop", "page_id": "2002"})
        assert r.status_code == 303 and r.headers["location"].startswith(fb.base_url)
        q = _query(r.headers["location"])
        assert q["redirect_uri"] == "http://localhost:8765/oauth/callback"  # Facebook registers localhost
        location = _sign_in(r.headers["location"])
        done = _back(c, location)
        assert done.status_code == 303, done.text
        [acc] = c.get("/api/v1/accounts").json()
        assert acc["page_id"] == "2002" and acc["remote_name"] == "Second Shop"
        htmx = c.post("/accounts/connect", data={"csrf": csrf, "platform": "facebook", "name": "shop"},
                      headers={"HX-Request": "true"})
        assert htmx.status_code == 204 and htmx.headers["HX-Redirect"].startswith(fb.base_url)


def test_a_server_that_requires_the_token_connects_only_for_its_user(root, monkeypatch):
    import hashlib

    token = "a-test-token-long-enough-0123456789"
    with FakeYouTube() as yt:
        c = _client(root, monkeypatch, yt, require_token=True, token_sha256=hashlib.sha256(token.encode()).hexdigest())
        assert c.post("/api/v1/accounts/connect", json={"platform": "youtube", "name": "a"}).status_code == 401
        r = c.post("/api/v1/accounts/connect", json={"platform": "youtube", "name": "a"},
                   headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        # the callback needs no login: the state it carries is the proof
        assert _back(c, _sign_in(r.json()["authorize_url"])).status_code == 303
        with Workspace(root).catalog.read() as con:
            assert [a["username"] for a in catalogs.list_accounts(con)] == ["a"]


# -- a failed upload tried again ------------------------------------------------------------------------
def _job_with_uploads(root, tmp_path, *, job_state: str, uploads: dict[str, str]) -> int:
    video = tmp_path / "out.mp4"
    video.write_bytes(b"\0" * 64)
    with Workspace(root).catalog.write() as con:
        job = catalogs.insert_job(con, kind="mashup", spec={}, platform="youtube", inputs=[])
        acc = catalogs.insert_account(con, {"platform": "youtube", "username": f"k{job}", "active": True})
        con.execute("UPDATE jobs SET state = ?, output_path = ? WHERE id = ?", [job_state, str(video), job])
        for n, (platform, state) in enumerate(uploads.items()):
            catalogs.insert_upload(con, job_id=job, account_id=acc, platform=platform, marker=f"m{n}", size_bytes=64,
                                   privacy="public")
            catalogs.update_upload(con, job, platform, state=state, error_class="QuotaError" if state == "failed"
                                   else None, error_message="quota spent" if state == "failed" else None)
    return job


def test_retry_a_failed_upload(root, tmp_path, monkeypatch):
    with FakeYouTube() as yt:
        c = _client(root, monkeypatch, yt)
        job = _job_with_uploads(root, tmp_path, job_state="failed", uploads={"youtube": "failed"})
        r = c.post(f"/api/v1/uploads/{job}/youtube/retry")
        assert r.status_code == 200, r.text
        assert r.json() == {"job_id": job, "platform": "youtube", "error_class": "QuotaError",
                            "error_message": "quota spent", "job_state": "ready"}
        with Workspace(root).catalog.read() as con:
            assert catalogs.get_upload(con, job, "youtube") is None
            assert catalogs.get_job(con, job)["state"] == "ready"
            assert job in catalogs.due_job_ids(con, catalogs.utcnow())  # the next publish pass takes it
        assert c.post(f"/api/v1/uploads/{job}/youtube/retry").status_code == 404
        assert c.post("/api/v1/uploads/999/youtube/retry").status_code == 404
        other = _job_with_uploads(root, tmp_path, job_state="published", uploads={"youtube": "published",
                                                                                 "tiktok": "failed"})
        r = c.post(f"/api/v1/uploads/{other}/youtube/retry")
        assert r.status_code == 409 and "published, not failed" in r.json()["error"]
        assert c.post(f"/api/v1/uploads/{other}/tiktok/retry").json()["job_state"] == "publishing"


def test_the_job_page_has_a_retry_button_for_a_failed_upload(root, tmp_path, monkeypatch):
    with FakeYouTube() as yt:
        c = _client(root, monkeypatch, yt)
        job = _job_with_uploads(root, tmp_path, job_state="failed", uploads={"youtube": "failed"})
        page = c.get(f"/jobs/{job}").text
        action = f"/jobs/{job}/uploads/youtube/retry"
        assert f'hx-post="{action}"' in page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        assert c.post(action).status_code == 403
        r = c.post(action, data={"csrf": csrf}, headers={"HX-Request": "true"})
        assert r.status_code == 204 and r.headers["HX-Refresh"] == "true"
        assert action not in c.get(f"/jobs/{job}").text
        again = c.post(action, data={"csrf": csrf})
        assert again.status_code == 400 and "no upload to youtube" in again.text
