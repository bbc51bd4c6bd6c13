"""Accounts: tokens encrypted at rest and never shown, key rotation, reconnect state, what each platform allows."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet

import catalogs
from conftest import run_farm
from farm.errors import AuthError, InputError, KeyringError
from farm.publish import (
    Window,
    add_account,
    key_file,
    list_account_rows,
    load_keyring,
    load_tokens,
    mark_reconnect,
    read_token_file,
    remove_account,
    rotate_key,
    set_active,
)
from fake_platforms import FakeFacebook
from publishing import add_facebook, pointed_at, token_file, workspace

ACCESS = "ya29.A0-access-SECRET-7f3c9e"
REFRESH = "1//0g-refresh-SECRET-41ab"


def _files_containing(root, needle: bytes) -> list[str]:
    hits = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            p = os.path.join(dirpath, name)
            try:
                with open(p, "rb") as fh:
                    if needle in fh.read():
                        hits.append(p)
            except OSError:
                pass
    return hits


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.delenv("FARM_SECRET_KEYS", raising=False)
    return workspace(tmp_path / "ws")


def test_init_makes_a_private_key_file(tmp_path, monkeypatch):
    monkeypatch.delenv("FARM_SECRET_KEYS", raising=False)
    proc = run_farm("init", str(tmp_path / "cli"))
    assert proc.returncode == 0, proc.stderr
    path = key_file(tmp_path / "cli" / ".farm")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keyring(path.parent).size == 1


def test_the_key_file_is_made_when_the_first_token_is_stored(ws, tmp_path):
    """A workspace made by the library has no key yet; storing the first token makes it (0600)."""
    path = key_file(ws.state_dir)
    assert not path.exists()
    add_account(ws, "local", username="by_hand", token_file=None)  # the outbox takes no token: no key
    assert not path.exists()
    acc = add_account(ws, "tiktok", username="tt", token_file=token_file(tmp_path, "t", ACCESS))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and load_keyring(ws.state_dir).size == 1
    key = path.read_text()
    add_account(ws, "youtube", username="yt", token_file=token_file(tmp_path, "y", ACCESS))
    assert path.read_text() == key  # the same key for every token
    assert load_tokens(ws, acc).access_token.reveal() == ACCESS


def test_tokens_are_encrypted_and_never_shown(ws, tmp_path):
    tok = token_file(tmp_path, "yt.json", json.dumps({"access_token": ACCESS, "refresh_token": REFRESH,
                                                      "expires_in": 3599}))
    acc = add_account(ws, "youtube", username="shop_vn", token_file=tok, daily_cap=5, window="08:00-22:00")
    assert acc["username"] == "shop_vn" and "token_blob" not in acc
    tok.unlink()
    # nowhere in the workspace (the DuckDB file, its WAL, logs, settings) is the token's plaintext
    for secret in (ACCESS, REFRESH):
        assert _files_containing(ws.root, secret.encode()) == []
    rows = list_account_rows(ws)
    dumped = json.dumps(rows, default=str) + repr(rows)
    assert ACCESS not in dumped and REFRESH not in dumped
    tokens = load_tokens(ws, acc)
    assert tokens.access_token.reveal() == ACCESS and tokens.refresh_token.reveal() == REFRESH
    assert ACCESS not in repr(tokens) and ACCESS not in f"{tokens.access_token}" and ACCESS not in str(tokens)
    # the CLI's list, in both forms
    for args in (("accounts", "list"), ("accounts", "list", "--json")):
        proc = run_farm("--workspace", str(ws.root), *args)
        assert proc.returncode == 0, proc.stderr
        assert ACCESS not in proc.stdout + proc.stderr and "shop_vn" in proc.stdout


def test_a_wrong_key_is_a_clear_error(ws, tmp_path, monkeypatch):
    acc = add_account(ws, "tiktok", username="tt", token_file=token_file(tmp_path, "t", ACCESS))
    monkeypatch.setenv("FARM_SECRET_KEYS", Fernet.generate_key().decode())
    with pytest.raises(KeyringError, match="cannot be decrypted") as info:  # an AuthError: nothing is sent
        load_tokens(ws, acc)
    assert ACCESS not in str(info.value) and "reconnect" in str(info.value)


def test_keys_from_the_environment(ws, tmp_path, monkeypatch):
    k1, k2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("FARM_SECRET_KEYS", k1)
    acc = add_account(ws, "tiktok", username="tt", token_file=token_file(tmp_path, "t", ACCESS))
    monkeypatch.setenv("FARM_SECRET_KEYS", f"{k2},{k1}")  # a new key in front; the old one still decrypts
    assert load_tokens(ws, acc).access_token.reveal() == ACCESS
    out = rotate_key(ws)
    assert out["accounts"] == 1 and not out["old_keys_dropped"]
    monkeypatch.setenv("FARM_SECRET_KEYS", k2)  # the old key gone: still readable
    assert load_tokens(ws, acc).access_token.reveal() == ACCESS


def test_rotate_key_re_encrypts_under_a_new_key_file(ws, tmp_path):
    acc = add_account(ws, "youtube", username="yt", token_file=token_file(tmp_path, "a", ACCESS),
                      refresh_token_file=token_file(tmp_path, "r", REFRESH))
    before_key = key_file(ws.state_dir).read_text()
    with ws.catalog.read() as con:
        before = catalogs.account_tokens(con, acc["id"])
    proc = run_farm("--workspace", str(ws.root), "accounts", "rotate-key", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["accounts"] == 1
    after_key = key_file(ws.state_dir).read_text()
    assert after_key != before_key and len(after_key.split()) == 1  # old key dropped
    assert stat.S_IMODE(key_file(ws.state_dir).stat().st_mode) == 0o600
    with ws.catalog.read() as con:
        after = catalogs.account_tokens(con, acc["id"])
    assert after[0] != before[0] and after[1] != before[1]
    tokens = load_tokens(ws, acc)
    assert tokens.access_token.reveal() == ACCESS and tokens.refresh_token.reveal() == REFRESH
    with pytest.raises(Exception):  # the old key cannot read the new ciphertext
        Fernet(before_key.strip().encode()).decrypt(after[0])


def test_a_readable_key_file_is_refused(ws, tmp_path):
    add_account(ws, "tiktok", username="tt", token_file=token_file(tmp_path, "t", ACCESS))  # makes the key file
    os.chmod(key_file(ws.state_dir), 0o644)
    with pytest.raises(InputError, match="chmod 600"):
        load_keyring(ws.state_dir)


def test_add_checks_its_options(ws, tmp_path):
    tok = token_file(tmp_path, "t", ACCESS)
    with pytest.raises(InputError, match="--page-id"):
        add_account(ws, "facebook", username="page", token_file=tok)
    with pytest.raises(InputError, match="Supported: public"):
        add_account(ws, "facebook", username="page", token_file=tok, page_id="1", privacy="self-only")
    with pytest.raises(InputError, match="HH:MM-HH:MM"):
        add_account(ws, "tiktok", username="t", token_file=tok, window="8-22")
    with pytest.raises(InputError, match="1 to 30"):
        add_account(ws, "facebook", username="page", token_file=tok, page_id="1", daily_cap=40)
    with pytest.raises(InputError, match="needs --token-file"):
        add_account(ws, "youtube", username="y", token_file=None)
    with pytest.raises(InputError, match="no such token file"):
        add_account(ws, "youtube", username="y", token_file=tmp_path / "missing")
    first = add_account(ws, "tiktok", username="t", token_file=tok, daily_cap=7)
    mark_reconnect(ws, first, "refused")
    again = add_account(ws, "tiktok", username="t", token_file=token_file(tmp_path, "t2", "new-token-value"))
    assert again["reconnected"] and again["id"] == first["id"] and again["daily_cap"] == 7
    assert not again["needs_reconnect"] and load_tokens(ws, again).access_token.reveal() == "new-token-value"
    proc = run_farm("--workspace", str(ws.root), "accounts", "add", "tiktok", "--name", "x", "--token-file",
                    str(tmp_path / "nope"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "nope" in proc.stderr


def test_a_facebook_page_token_without_publishing_permissions_or_dead_is_not_stored(ws, tmp_path):
    """debug_token decides before anything is stored (test_connect covers user, short-lived and other
    Pages' tokens): a token without the publishing permissions and one Facebook does not know are refused."""
    with FakeFacebook() as fb:
        fb.add_token("EAAB-noperm-SECRET-3", "1001", scopes=("pages_show_list", "read_insights"))
        there = pointed_at(ws, fb)

        def add(value: str) -> dict:
            return add_account(there, "facebook", username="page", page_id="1001",
                               token_file=token_file(tmp_path, "fb", value))

        with pytest.raises(InputError, match="lacks pages_manage_posts, pages_read_engagement"):
            add("EAAB-noperm-SECRET-3")
        with pytest.raises(AuthError, match="not valid") as dead:
            add("EAAB-unknown-SECRET-5")
        assert "SECRET" not in str(dead.value)
        assert [route for _, route, _ in fb.requests] == ["debug", "debug"]
    assert list_account_rows(ws) == []  # nothing refused was stored
    assert not key_file(ws.state_dir).exists()  # not even a key for it


def test_token_file_forms(tmp_path):
    assert read_token_file(token_file(tmp_path, "a", ACCESS)).access_token.reveal() == ACCESS
    doc = read_token_file(token_file(tmp_path, "b", json.dumps(
        {"access_token": ACCESS, "refresh_token": REFRESH, "expires_at": "2030-01-01T00:00:00Z"})))
    assert doc.refresh_token.reveal() == REFRESH and doc.expires_at.year == 2030 and doc.expires_at.tzinfo is None
    with pytest.raises(InputError, match="more than one word"):
        read_token_file(token_file(tmp_path, "c", "two words"))
    with pytest.raises(InputError) as info:
        read_token_file(token_file(tmp_path, "d", '{"access_token": '))
    assert "access_token" not in str(info.value) or "JSON" in str(info.value)


def test_list_says_what_the_platforms_will_do_and_who_needs_a_reconnect(ws, tmp_path):
    tok = token_file(tmp_path, "t", ACCESS)
    add_account(ws, "youtube", username="yt", token_file=tok)
    add_account(ws, "tiktok", username="tt", token_file=tok)
    add_account(ws, "tiktok", username="drafts", token_file=tok, privacy="inbox")
    fb = add_facebook(ws, tmp_path, username="page", page_id="1001")
    mark_reconnect(ws, fb, "Facebook error 190: the Page token was revoked")
    rows = {r["name"]: r for r in list_account_rows(ws)}
    assert {r["state"] for r in rows.values()} <= {"connected", "reconnect", "disabled"}
    # a consent screen left in Testing kills Google refresh tokens after 7 days: said for every YouTube account
    consent = " ".join(rows["yt"]["warnings"])
    assert "Testing" in consent and "7 days" in consent and "youtube_consent_published" in consent
    assert "private until" not in consent  # Google no longer forces unverified projects' uploads private
    assert rows["yt"]["state"] == "connected" and rows["yt"]["token"] == "active"
    assert "self-only" in " ".join(rows["tt"]["warnings"]) and rows["tt"]["effective_privacy"] == "self-only"
    assert "inbox" in " ".join(rows["drafts"]["warnings"])
    assert rows["page"]["state"] == "reconnect" and rows["page"]["token"] == "reconnect"
    assert "reconnect" in " ".join(rows["page"]["warnings"]) and "190" in " ".join(rows["page"]["warnings"])
    proc = run_farm("--workspace", str(ws.root), "accounts", "list")
    assert proc.returncode == 0, proc.stderr
    # a table, then every warning whole on a line of its own, named by its account
    lines = proc.stdout.splitlines()
    for name, row in rows.items():
        for warning in row["warnings"]:
            assert f"{row['platform']}:{name}: {warning}" in lines
    assert "reconnect" in proc.stdout and "Testing" in proc.stdout and "self-only" in proc.stdout
    # a Page token about to expire is said before it dies: still connected, its token expiring
    with ws.catalog.write() as con:
        catalogs.update_account(con, fb["id"], needs_reconnect=False,
                                token_expires_at=catalogs.utcnow() + timedelta(days=2))
    page = next(r for r in list_account_rows(ws) if r["name"] == "page")
    assert page["state"] == "connected" and page["token"] == "expiring"
    assert "reconnect" in " ".join(page["warnings"])


def test_a_published_consent_screen_drops_the_testing_warning(ws, tmp_path):
    add_account(ws, "youtube", username="yt", token_file=token_file(tmp_path, "t", ACCESS))
    assert any("Testing" in w for w in list_account_rows(ws)[0]["warnings"])
    (ws.root / "farm.toml").write_text("[platforms]\nyoutube_consent_published = true\n", encoding="utf-8")
    from farm.workspace import Workspace

    assert not any("Testing" in w for w in list_account_rows(Workspace(ws.root))[0]["warnings"])


def test_disable_enable_remove(ws, tmp_path):
    tok = token_file(tmp_path, "t", ACCESS)
    add_account(ws, "tiktok", username="tt", token_file=tok)
    add_account(ws, "youtube", username="tt", token_file=tok)
    with pytest.raises(InputError, match="several accounts"):
        set_active(ws, "tt", False)
    assert not set_active(ws, "tiktok:tt", False)["active"]
    assert {(r["platform"], r["state"]) for r in list_account_rows(ws)} == {("tiktok", "disabled"),
                                                                           ("youtube", "connected")}
    assert set_active(ws, "tiktok:tt", True)["active"]
    remove_account(ws, "youtube:tt")
    assert [r["platform"] for r in list_account_rows(ws)] == ["tiktok"]
    proc = run_farm("--workspace", str(ws.root), "accounts", "disable", "nobody")
    assert proc.returncode == 2 and "no such account" in proc.stderr


def test_window_wraps_past_midnight():
    from datetime import datetime

    w = Window.parse("22:00-02:00")
    assert w.contains(datetime(2026, 1, 1, 23, 30)) and w.contains(datetime(2026, 1, 1, 1, 59))
    assert not w.contains(datetime(2026, 1, 1, 2, 0)) and not w.contains(datetime(2026, 1, 1, 12, 0))
    assert w.next_open(datetime(2026, 1, 1, 12, 0)) == datetime(2026, 1, 1, 22, 0)


def test_an_expired_token_without_refresh_token_needs_a_reconnect(ws, tmp_path):
    tok = token_file(tmp_path, "t", json.dumps({"access_token": ACCESS, "expires_at": "2020-01-01T00:00:00Z"}))
    add_account(ws, "youtube", username="old", token_file=tok)
    [row] = list_account_rows(ws)
    assert row["state"] == "reconnect" and "expired" in " ".join(row["warnings"])
