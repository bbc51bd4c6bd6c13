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
from farm.errors import InputError
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
from publishing import token_file, workspace

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


def test_init_makes_a_private_key_file(ws):
    path = key_file(ws.state_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keyring(ws.state_dir).size == 1


def test_tokens_are_encrypted_and_never_shown(ws, tmp_path):
    tok = token_file(tmp_path, "yt.json", json.dumps({"access_token": ACCESS, "refresh_token": REFRESH,
                                                      "expires_in": 3599}))
    acc = add_account(ws, "youtube", name="shop_vn", token_file=tok, daily_cap=5, window="08:00-22:00")
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
    acc = add_account(ws, "tiktok", name="tt", token_file=token_file(tmp_path, "t", ACCESS))
    monkeypatch.setenv("FARM_SECRET_KEYS", Fernet.generate_key().decode())
    with pytest.raises(InputError, match="cannot be decrypted") as info:
        load_tokens(ws, acc)
    assert ACCESS not in str(info.value)


def test_keys_from_the_environment(ws, tmp_path, monkeypatch):
    k1, k2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("FARM_SECRET_KEYS", k1)
    acc = add_account(ws, "tiktok", name="tt", token_file=token_file(tmp_path, "t", ACCESS))
    monkeypatch.setenv("FARM_SECRET_KEYS", f"{k2},{k1}")  # a new key in front; the old one still decrypts
    assert load_tokens(ws, acc).access_token.reveal() == ACCESS
    out = rotate_key(ws)
    assert out["accounts"] == 1 and not out["old_keys_dropped"]
    monkeypatch.setenv("FARM_SECRET_KEYS", k2)  # the old key gone: still readable
    assert load_tokens(ws, acc).access_token.reveal() == ACCESS


def test_rotate_key_re_encrypts_under_a_new_key_file(ws, tmp_path):
    acc = add_account(ws, "youtube", name="yt", token_file=token_file(tmp_path, "a", ACCESS),
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


def test_a_readable_key_file_is_refused(ws):
    os.chmod(key_file(ws.state_dir), 0o644)
    with pytest.raises(InputError, match="chmod 600"):
        load_keyring(ws.state_dir)


def test_add_checks_its_options(ws, tmp_path):
    tok = token_file(tmp_path, "t", ACCESS)
    with pytest.raises(InputError, match="--page-id"):
        add_account(ws, "facebook", name="page", token_file=tok)
    with pytest.raises(InputError, match="Supported: public"):
        add_account(ws, "facebook", name="page", token_file=tok, page_id="1", privacy="self-only")
    with pytest.raises(InputError, match="HH:MM-HH:MM"):
        add_account(ws, "tiktok", name="t", token_file=tok, window="8-22")
    with pytest.raises(InputError, match="1 to 30"):
        add_account(ws, "facebook", name="page", token_file=tok, page_id="1", daily_cap=40)
    with pytest.raises(InputError, match="needs --token-file"):
        add_account(ws, "youtube", name="y", token_file=None)
    with pytest.raises(InputError, match="no such token file"):
        add_account(ws, "youtube", name="y", token_file=tmp_path / "missing")
    first = add_account(ws, "tiktok", name="t", token_file=tok, daily_cap=7)
    mark_reconnect(ws, first, "refused")
    again = add_account(ws, "tiktok", name="t", token_file=token_file(tmp_path, "t2", "new-token-value"))
    assert again["reconnected"] and again["id"] == first["id"] and again["daily_cap"] == 7
    assert not again["needs_reconnect"] and load_tokens(ws, again).access_token.reveal() == "new-token-value"
    proc = run_farm("--workspace", str(ws.root), "accounts", "add", "tiktok", "--name", "x", "--token-file",
                    str(tmp_path / "nope"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "nope" in proc.stderr


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
    add_account(ws, "youtube", name="yt", token_file=tok)
    add_account(ws, "tiktok", name="tt", token_file=tok)
    add_account(ws, "tiktok", name="drafts", token_file=tok, privacy="inbox")
    fb = add_account(ws, "facebook", name="page", token_file=tok, page_id="1001")
    mark_reconnect(ws, fb, "Facebook error 190: the Page token was revoked")
    rows = {r["name"]: r for r in list_account_rows(ws)}
    assert "private" in " ".join(rows["yt"]["notes"])
    assert "self-only" in " ".join(rows["tt"]["notes"]) and rows["tt"]["effective_privacy"] == "self-only"
    assert "inbox" in " ".join(rows["drafts"]["notes"])
    assert rows["page"]["state"] == "reconnect" and "reconnect" in " ".join(rows["page"]["notes"])
    proc = run_farm("--workspace", str(ws.root), "accounts", "list")
    assert "reconnect" in proc.stdout and "private until" in proc.stdout and "self-only" in proc.stdout
    # a Page token about to expire is said before it dies
    with ws.catalog.write() as con:
        catalogs.update_account(con, fb["id"], needs_reconnect=False,
                                token_expires_at=catalogs.utcnow() + timedelta(days=2))
    page = next(r for r in list_account_rows(ws) if r["name"] == "page")
    assert page["state"] == "expiring" and "reconnect" in " ".join(page["notes"])


def test_disable_enable_remove(ws, tmp_path):
    tok = token_file(tmp_path, "t", ACCESS)
    add_account(ws, "tiktok", name="tt", token_file=tok)
    add_account(ws, "youtube", name="tt", token_file=tok)
    with pytest.raises(InputError, match="several accounts"):
        set_active(ws, "tt", False)
    assert not set_active(ws, "tiktok:tt", False)["active"]
    assert list_account_rows(ws)[0]["state"] in ("disabled", "active")
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
    add_account(ws, "youtube", name="old", token_file=tok)
    [row] = list_account_rows(ws)
    assert row["state"] == "reconnect" and "expired" in " ".join(row["notes"])
