"""`farm accounts connect`: OAuth with PKCE on a loopback redirect, against fake authorization servers on loopback.

The fakes check the authorization request as each platform documents it (Google: an S256
base64url challenge; TikTok: the hex challenge and the ``/callback/`` path; Facebook: the
dialog, then the long-lived token and the Page's token) and redeem a code once, for the
same redirect and verifier. A "browser" here is an HTTP client that follows the redirects.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import catalogs
from farm.errors import InputError
from farm.publish import ConnectError, ConnectOptions, connect_account, list_account_rows, load_tokens, pkce_pair
from farm.workspace import Workspace
from fake_oauth import challenge_of
from fake_platforms import FakeFacebook, FakeTikTok, FakeYouTube
from publishing import token_file, workspace


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.delenv("FARM_SECRET_KEYS", raising=False)
    return workspace(tmp_path / "ws")


def _env(monkeypatch, fake) -> dict[str, str]:
    env = fake.settings_env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


class Browser:
    """Opens the authorization address and follows its redirects, as a browser would; ``answer`` is
    the page the loopback listener showed."""

    def __init__(self, *, follow: bool = True) -> None:
        self.follow = follow
        self.url: str | None = None
        self.answer: httpx.Response | None = None
        self.thread: threading.Thread | None = None

    def __call__(self, url: str) -> None:
        self.url = url
        self.thread = threading.Thread(target=self._open, daemon=True)
        self.thread.start()

    def _open(self) -> None:
        try:
            self.answer = httpx.get(self.url, follow_redirects=self.follow, timeout=10)
        except httpx.HTTPError:
            self.answer = None


def _connect(ws: Workspace, name: str, *, browser: Browser | None = None, **options):
    browser = browser or Browser()
    opts = ConnectOptions(name=options.pop("username", "acct"), browser=False,
                          timeout_s=options.pop("timeout_s", 10.0), **options)
    result = connect_account(Workspace(ws.root), name, opts, say=browser, tell=lambda text: None, stdin=io.StringIO(""))
    if browser.thread is not None:
        browser.thread.join(5)
    return result, browser


# -- PKCE --------------------------------------------------------------------------------------
def test_pkce_pairs_follow_rfc7636_and_tiktoks_hex():
    verifier, challenge = pkce_pair("S256")
    assert 43 <= len(verifier) <= 128 and set(verifier) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                              "0123456789-._~")
    # RFC 7636 appendix B: the challenge is BASE64URL(SHA256(ASCII(verifier))) without padding
    assert challenge == challenge_of(verifier, "base64url") and len(challenge) == 43 and "=" not in challenge
    rfc_verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert challenge_of(rfc_verifier, "base64url") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    verifier, challenge = pkce_pair("S256-hex")
    assert len(challenge) == 64 and challenge == challenge.lower() and challenge == challenge_of(verifier, "hex")
    assert pkce_pair("S256") != pkce_pair("S256")  # a new verifier every time


# -- YouTube -----------------------------------------------------------------------------------
def test_youtube_connect_stores_encrypted_tokens_and_says_what_the_account_can_do(ws, monkeypatch):
    with FakeYouTube() as yt:
        _env(monkeypatch, yt)
        acc, browser = _connect(ws, "youtube", username="kenh_vn")
        q = {k: v[0] for k, v in parse_qs(urlsplit(browser.url).query).items()}
        assert browser.url.startswith(yt.base_url + "/o/oauth2/v2/auth?")
        assert q["access_type"] == "offline" and q["prompt"] == "consent" and q["code_challenge_method"] == "S256"
        assert set(q["scope"].split()) == {"https://www.googleapis.com/auth/youtube.upload",
                                           "https://www.googleapis.com/auth/youtube.readonly"}
        redirect = urlsplit(q["redirect_uri"])
        assert redirect.hostname == "127.0.0.1" and redirect.port
        assert browser.answer.status_code == 200 and "close this tab" in browser.answer.text
        assert "access-" not in browser.answer.text and "refresh-" not in browser.answer.text
        assert acc["reconnected"] is False and yt.oauth.redeemed == 1
        row = next(r for r in list_account_rows(ws) if r["name"] == "kenh_vn")
        assert row["state"] == "connected" and row["remote_name"] == "Kênh UC1"
        assert any("7 days" in w for w in row["warnings"])
        tokens = load_tokens(ws, catalogs_account(ws, "kenh_vn"))
        assert tokens.access_token.reveal().startswith("access-") and tokens.refresh_token.reveal().startswith("refresh-")
        assert tokens.expires_at is not None  # from expires_in, never assumed
        for path in ws.root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert tokens.access_token.reveal().encode() not in data
                assert tokens.refresh_token.reveal().encode() not in data


def catalogs_account(ws: Workspace, name: str) -> dict:
    with ws.catalog.read() as con:
        return catalogs.find_account(con, name)


def test_youtube_connect_again_reconnects_the_same_account(ws, monkeypatch):
    with FakeYouTube() as yt:
        _env(monkeypatch, yt)
        first, _ = _connect(ws, "youtube", username="kenh_vn", daily_cap=2)
        with ws.catalog.write() as con:
            catalogs.update_account(con, first["id"], needs_reconnect=True, reconnect_reason="token refused")
        again, _ = _connect(ws, "youtube", username="kenh_vn")
        assert again["reconnected"] is True and again["id"] == first["id"] and again["daily_cap"] == 2
        row = next(r for r in list_account_rows(ws) if r["name"] == "kenh_vn")
        assert row["state"] == "connected"


def test_youtube_without_the_readonly_scope_connects_and_says_statistics_need_a_reconnect(ws, monkeypatch):
    with FakeYouTube() as yt:
        _env(monkeypatch, yt)
        yt.oauth.grant = {"https://www.googleapis.com/auth/youtube.upload"}
        acc, _ = _connect(ws, "youtube", username="kenh_vn")
        assert acc["granted"] == ["https://www.googleapis.com/auth/youtube.upload"]
        row = next(r for r in list_account_rows(ws) if r["name"] == "kenh_vn")
        assert row["state"] == "connected"
        assert any("statistics" in w and "youtube.readonly" in w for w in row["warnings"])


def test_a_denial_a_wrong_state_and_a_refused_exchange_store_nothing(ws, monkeypatch):
    with FakeYouTube() as yt:
        _env(monkeypatch, yt)
        yt.oauth.deny_next = True
        with pytest.raises(ConnectError, match="access_denied"):
            _connect(ws, "youtube", username="a")
        yt.oauth.tamper_state = True
        with pytest.raises(ConnectError, match="state does not match"):
            _connect(ws, "youtube", username="b")
        monkeypatch.setenv("FARM_YOUTUBE_CLIENT_SECRET", "not-the-secret")
        with pytest.raises(ConnectError, match="invalid_client"):
            _connect(ws, "youtube", username="c")
        assert list_account_rows(ws) == []


def test_no_answer_within_the_timeout_stores_nothing(ws, monkeypatch):
    with FakeYouTube() as yt:
        _env(monkeypatch, yt)
        with pytest.raises(ConnectError, match="no answer from the browser within 0.5 s"):
            connect_account(Workspace(ws.root), "youtube", ConnectOptions(name="kenh", browser=False, timeout_s=0.5),
                            say=lambda url: None, tell=lambda t: None, stdin=io.StringIO(""))
        assert list_account_rows(ws) == []


def test_a_pasted_redirect_address_completes_the_sign_in(ws, monkeypatch):
    """A browser on another machine: its final address (the loopback one, unreachable there) is pasted."""
    with FakeYouTube() as yt:
        _env(monkeypatch, yt)
        reader, writer = os.pipe()

        def say(url: str) -> None:
            answer = httpx.get(url, follow_redirects=False, timeout=10)  # the sign-in, without the last hop
            assert answer.status_code == 302
            os.write(writer, b"some noise\n" + answer.headers["Location"].encode() + b"\n")

        stdin = os.fdopen(reader, "r")
        try:
            acc = connect_account(Workspace(ws.root), "youtube", ConnectOptions(name="kenh", browser=False,
                                                                                timeout_s=10),
                                  say=say, tell=lambda t: None, stdin=stdin)
        finally:
            os.close(writer)
        assert acc["username"] == "kenh" and yt.oauth.redeemed == 1


def test_connect_without_the_app_configured_says_what_to_set(ws, monkeypatch):
    monkeypatch.delenv("FARM_YOUTUBE_CLIENT_ID", raising=False)
    monkeypatch.delenv("FARM_YOUTUBE_CLIENT_SECRET", raising=False)
    with pytest.raises(InputError, match="FARM_YOUTUBE_CLIENT_ID and FARM_YOUTUBE_CLIENT_SECRET"):
        _connect(ws, "youtube", username="kenh")


# -- TikTok ------------------------------------------------------------------------------------
def test_tiktok_connect_uses_the_desktop_flow_hex_challenge_and_callback_path(ws, monkeypatch):
    with FakeTikTok() as tt:
        _env(monkeypatch, tt)
        acc, browser = _connect(ws, "tiktok", username="shop_vn", allow={"comments": True})
        q = {k: v[0] for k, v in parse_qs(urlsplit(browser.url).query).items()}
        assert browser.url.startswith(tt.base_url + "/v2/auth/authorize/?")
        assert q["client_key"] == "ckey" and q["scope"] == "user.info.basic,video.publish,video.upload,video.list"
        assert len(q["code_challenge"]) == 64 and q["code_challenge_method"] == "S256"
        redirect = urlsplit(q["redirect_uri"])
        assert redirect.hostname == "127.0.0.1" and redirect.port and redirect.path == "/callback/"
        assert acc["remote_name"] == "shop_vn" and acc["allow_comments"] is True and acc["allow_duet"] is False
        tokens = load_tokens(ws, catalogs_account(ws, "shop_vn"))
        # TikTok's own lifetimes (expires_in 7200 here), never an assumed one
        assert 7100 < (tokens.expires_at - catalogs.utcnow()).total_seconds() <= 7200
        assert tokens.refresh_expires_at is not None


def test_tiktok_without_video_publish_is_refused(ws, monkeypatch):
    with FakeTikTok() as tt:
        _env(monkeypatch, tt)
        tt.oauth.grant = {"user.info.basic", "video.list"}
        with pytest.raises(ConnectError, match="video.publish"):
            _connect(ws, "tiktok", username="shop_vn")
        assert list_account_rows(ws) == []


# -- Facebook ----------------------------------------------------------------------------------
def test_facebook_connect_stores_the_pages_long_lived_token(ws, monkeypatch):
    with FakeFacebook() as fb:
        _env(monkeypatch, fb)
        acc, browser = _connect(ws, "facebook", username="shop_page")
        q = {k: v[0] for k, v in parse_qs(urlsplit(browser.url).query).items()}
        assert browser.url.startswith(fb.base_url + "/v27.0/dialog/oauth?")
        assert {"pages_show_list", "pages_read_engagement", "pages_manage_posts", "read_insights"} <= set(
            q["scope"].split(","))
        assert urlsplit(q["redirect_uri"]).hostname == "localhost"
        assert acc["page_id"] == "1001" and acc["remote_name"] == "Shop VN" and acc["token_expires_at"] is None
        token = load_tokens(ws, catalogs_account(ws, "shop_page")).access_token.reveal()
        assert fb._access[token]["type"] == "PAGE" and fb._access[token]["expires_at"] == 0
        routes = [route for _, route, _ in fb.requests]
        assert routes.count("oauth") == 2 and "accounts" in routes and "debug" in routes


def test_facebook_several_pages_need_page_id(ws, monkeypatch):
    with FakeFacebook() as fb:
        _env(monkeypatch, fb)
        fb.users["u1"].append(("2002", "Second Shop"))
        with pytest.raises(ConnectError, match=r"several Pages; name one with --page-id: 1001 \(Shop VN\), 2002"):
            _connect(ws, "facebook", username="shop_page")
        assert list_account_rows(ws) == []
        acc, _ = _connect(ws, "facebook", username="shop_page", page_id="2002")
        assert acc["page_id"] == "2002"


def test_facebook_add_checks_the_page_token_with_debug_token(ws, monkeypatch, tmp_path):
    from farm.publish import add_account

    with FakeFacebook() as fb:
        _env(monkeypatch, fb)
        ws = Workspace(ws.root)  # settings read with the fake's environment
        fb.add_user_token("EAAB-user-short")
        with pytest.raises(InputError, match="USER token, not a Page token"):
            add_account(ws, "facebook", username="p", page_id="1001",
                        token_file=token_file(tmp_path, "u", "EAAB-user-short"))
        soon = int(__import__("time").time()) + 3600
        fb.add_token("EAAB-page-short", expires_at=soon)
        with pytest.raises(InputError, match="short-lived Page token.*long-lived"):
            add_account(ws, "facebook", username="p", page_id="1001",
                        token_file=token_file(tmp_path, "s", "EAAB-page-short"))
        fb.add_token("EAAB-page-other", page_id="3003")
        with pytest.raises(InputError, match="belongs to Page 3003, not to Page 1001"):
            add_account(ws, "facebook", username="p", page_id="1001",
                        token_file=token_file(tmp_path, "o", "EAAB-page-other"))
        fb.add_token("EAAB-page-noinsights", scopes={"pages_show_list", "pages_read_engagement", "pages_manage_posts"})
        acc = add_account(ws, "facebook", username="p", page_id="1001",
                          token_file=token_file(tmp_path, "n", "EAAB-page-noinsights"))
        assert any("read_insights" in n for n in acc["notes"])
        row = next(r for r in list_account_rows(ws) if r["name"] == "p")
        assert any("statistics" in w for w in row["warnings"])


# -- the CLI contract --------------------------------------------------------------------------
def _cli_connect(ws: Workspace, env: dict[str, str], *args: str, open_url: bool = True):
    """``farm accounts connect ... --no-browser`` in a subprocess: the first stdout line is the address;
    a browser opens it; returns (exit code, the address, stdout, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "farm", "--workspace", str(ws.root), "accounts", "connect", *args,
                             "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, env={**os.environ, **env})
    url = proc.stdout.readline().strip()
    if open_url and url.startswith("http"):
        httpx.get(url, follow_redirects=True, timeout=10)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, url, out, err


def test_cli_connect_prints_the_address_alone_and_exits_0_once_stored(ws):
    with FakeYouTube() as yt:
        env = yt.settings_env()
        rc, url, out, err = _cli_connect(ws, env, "youtube", "--name", "kenh_vn", "--timeout", "30")
        assert rc == 0, err
        redirect = urlsplit(parse_qs(urlsplit(url).query)["redirect_uri"][0])
        assert url.startswith("http") and redirect.hostname == "127.0.0.1" and redirect.port
        assert "connected youtube:kenh_vn" in out and "7 days" in out
        listed = subprocess.run([sys.executable, "-m", "farm", "--workspace", str(ws.root), "accounts", "list",
                                 "--json"], capture_output=True, text=True, env={**os.environ, **env}, timeout=60)
        [row] = json.loads(listed.stdout)
        assert row["name"] == "kenh_vn" and row["platform"] == "youtube" and row["state"] == "connected"
        assert isinstance(row["warnings"], list) and any("7 days" in w for w in row["warnings"])


def test_cli_connect_exits_2_on_denial_and_on_timeout(ws):
    with FakeTikTok() as tt:
        env = tt.settings_env()
        tt.oauth.deny_next = True
        rc, url, out, err = _cli_connect(ws, env, "tiktok", "--name", "shop", "--timeout", "30")
        errors = [line for line in err.splitlines() if line.startswith("farm: error:")]
        assert rc == 2 and len(errors) == 1 and "access_denied" in errors[0] and "Traceback" not in err
        rc, url, out, err = _cli_connect(ws, env, "tiktok", "--name", "shop", "--timeout", "0.5", open_url=False)
        assert rc == 2 and "no answer" in err
        assert json.loads(subprocess.run([sys.executable, "-m", "farm", "--workspace", str(ws.root), "accounts",
                                          "list", "--json"], capture_output=True, text=True, timeout=60).stdout) == []


def test_cli_connect_facebook_with_page_id(ws):
    with FakeFacebook() as fb:
        fb.users["u1"].append(("2002", "Second Shop"))
        rc, url, out, err = _cli_connect(ws, fb.settings_env(), "facebook", "--name", "shop", "--page-id", "2002",
                                         "--timeout", "30")
        assert rc == 0, err
        assert "connected facebook:shop (Second Shop)" in out


def test_a_key_the_stored_tokens_do_not_use_is_refused_before_the_sign_in(ws, monkeypatch, tmp_path):
    from cryptography.fernet import Fernet

    from farm.publish import add_account

    with FakeYouTube() as yt:
        _env(monkeypatch, yt)
        add_account(Workspace(ws.root), "youtube", username="first", token_file=token_file(tmp_path, "a", "ya29.x"))
        monkeypatch.setenv("FARM_SECRET_KEYS", Fernet.generate_key().decode())
        with pytest.raises(InputError, match="rotate-key"):
            _connect(ws, "youtube", username="second")
        assert yt.oauth.authorized == 0 and yt.oauth.redeemed == 0  # the user was not sent to sign in


def test_short_scope_names_in_a_token_answer_count_as_granted():
    from farm.platforms import scope_granted

    assert scope_granted("youtube.upload youtube.readonly", "https://www.googleapis.com/auth/youtube.upload")
    assert scope_granted("https://www.googleapis.com/auth/youtube.upload", "youtube.readonly") is False
    assert scope_granted("user.info.basic,video.publish", "video.publish")
    assert scope_granted(None, "video.list") is None and scope_granted("", "video.list") is None


def test_a_debug_token_error_echoing_the_token_and_the_app_secret_leaks_neither(ws, monkeypatch, tmp_path):
    from farm.publish import add_account

    with FakeFacebook() as fb:
        _env(monkeypatch, fb)
        fb.oauth.echo_errors = True
        with pytest.raises(Exception) as info:
            add_account(Workspace(ws.root), "facebook", username="p", page_id="1001",
                        token_file=token_file(tmp_path, "t", "EAAB-page-TOKEN-SECRET-XYZ"))
        said = str(info.value)
        assert "Malformed access token" in said
        for secret in ("EAAB-page-TOKEN-SECRET-XYZ", fb.APP_SECRET):
            assert secret not in said
