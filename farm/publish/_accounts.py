"""Publishing accounts: add, list (never a secret), enable/disable, remove, key rotation, token refresh.

Tokens are read from files (plain text, or the JSON an OAuth flow saves), encrypted with the
workspace's keyring and stored as ciphertext only. What each platform allows is said when
an account is listed, before the user finds out from a private post.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import catalogs
from farm.errors import AuthError, InputError
from farm.platforms import Secret, TokenSet
from farm.publish._secrets import Keyring, add_primary_key, keep_primary_only, load_keyring
from farm.workspace import Workspace

REFRESH_MARGIN = timedelta(minutes=10)
"""A token expiring sooner than this is refreshed before an upload starts."""
WARN_EXPIRY = timedelta(days=3)
# Access tokens' lives when the token file does not say: Google's last an hour, TikTok's a day;
# a long-lived Facebook Page token has no expiry.
DEFAULT_LIFETIME = {"youtube": timedelta(hours=1), "tiktok": timedelta(hours=24)}
PRIVACY_BY_PLATFORM = {
    "youtube": ("public", "private"),
    "tiktok": ("public", "private", "self-only", "inbox"),
    "facebook": ("public",),
    "local": ("public", "private", "self-only", "inbox"),
}
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_NAME = re.compile(r"^[\w.@-]{1,64}$")


@dataclass(frozen=True)
class Window:
    """A daily posting window in the publish time zone; ``start > end`` wraps past midnight."""

    start: str
    end: str

    @classmethod
    def parse(cls, text: str) -> Window:
        if not _WINDOW.match(text or ""):
            raise InputError(f"Invalid posting window ({text!r}). Supported: HH:MM-HH:MM, e.g. 08:00-22:30.")
        start, end = text.split("-")
        if start == end:
            raise InputError(f"Invalid posting window ({text!r}): it starts and ends at the same minute.")
        return cls(start, end)

    def contains(self, local: datetime) -> bool:
        hm = local.strftime("%H:%M")
        return self.start <= hm < self.end if self.start < self.end else (hm >= self.start or hm < self.end)

    def next_open(self, local: datetime) -> datetime:
        """The next local time the window opens (``local`` itself when open)."""
        if self.contains(local):
            return local
        h, m = map(int, self.start.split(":"))
        at = local.replace(hour=h, minute=m, second=0, microsecond=0)
        return at if at > local else at + timedelta(days=1)


def read_token_file(path: str | Path, *, what: str = "token") -> TokenSet:
    """Tokens from a file: the bare token, or JSON with ``access_token`` (and ``refresh_token``,
    ``expires_in``/``expires_at``) as OAuth tools save it. The file's text is never echoed."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise InputError(f"{p}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{p}: cannot read the {what} file ({getattr(err, 'strerror', None) or type(err).__name__})") from None
    if not text:
        raise InputError(f"{p}: the {what} file is empty")
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            raise InputError(f"{p}: the {what} file starts like JSON but is not valid JSON") from None
        token = doc.get("access_token") or doc.get("token") or doc.get("refresh_token" if what == "refresh token" else "")
        if not isinstance(token, str) or not token:
            raise InputError(f"{p}: no access_token in the {what} file")
        expires_at = None
        if isinstance(doc.get("expires_at"), str):
            try:
                expires_at = datetime.fromisoformat(doc["expires_at"].replace("Z", "+00:00"))
                if expires_at.tzinfo is not None:
                    expires_at = expires_at.astimezone(timezone.utc).replace(tzinfo=None)
            except ValueError:
                raise InputError(f"{p}: expires_at is not an ISO 8601 time") from None
        elif isinstance(doc.get("expires_in"), (int, float)):
            expires_at = catalogs.utcnow() + timedelta(seconds=float(doc["expires_in"]))
        refresh = doc.get("refresh_token") if what != "refresh token" else None
        refresh_at = None
        if isinstance(doc.get("refresh_expires_in"), (int, float)):
            refresh_at = catalogs.utcnow() + timedelta(seconds=float(doc["refresh_expires_in"]))
        return TokenSet(Secret(token), Secret(refresh) if isinstance(refresh, str) and refresh else None,
                        expires_at, refresh_at)
    if any(c.isspace() for c in text):
        raise InputError(f"{p}: the {what} file holds more than one word; expected the token alone or JSON")
    return TokenSet(Secret(text))


def keyring(ws: Workspace) -> Keyring:
    return load_keyring(ws.state_dir)


def check_privacy(platform: str, privacy: str) -> str:
    allowed = PRIVACY_BY_PLATFORM[platform]
    if privacy not in allowed:
        raise InputError(f"Invalid privacy for a {platform} account ({privacy!r}). Supported: {', '.join(allowed)}.")
    return privacy


def add_account(ws: Workspace, platform: str, *, name: str, token_file: str | Path | None,
                refresh_token_file: str | Path | None = None, page_id: str | None = None, daily_cap: int | None = None,
                min_gap_min: int | None = None, window: str | None = None, privacy: str | None = None) -> dict:
    """Store a new account with its tokens encrypted; returns its public row (``reconnected``: True
    when the account existed: its tokens are replaced, its reconnect mark cleared, and the options
    given change; the rest, its uploads included, stays)."""
    if platform not in catalogs.ACCOUNT_PLATFORMS:
        raise InputError(f"Invalid platform ({platform!r}). Supported: {', '.join(catalogs.ACCOUNT_PLATFORMS)}.")
    if not _NAME.match(name or ""):
        raise InputError(f"Invalid account name ({name!r}). Supported: 1-64 letters, digits, '.', '_', '-', '@'.")
    if privacy is not None:
        check_privacy(platform, privacy)
    if platform == "facebook" and not page_id:
        raise InputError("a facebook account needs --page-id (the Page that publishes the reels)")
    if platform != "facebook" and page_id:
        raise InputError(f"--page-id is for facebook accounts, not {platform}")
    if platform == "facebook" and refresh_token_file:
        raise InputError("facebook Page tokens have no refresh token: store a long-lived Page token with --token-file")
    if daily_cap is not None and daily_cap < 1:
        raise InputError(f"Invalid daily cap ({daily_cap}). Supported: 1 or more.")
    if platform == "facebook" and daily_cap is not None and daily_cap > 30:
        raise InputError(f"Invalid daily cap ({daily_cap}) for facebook: a Page may publish 30 reels through the API in "
                         "24 hours. Supported: 1 to 30.")
    if min_gap_min is not None and min_gap_min < 0:
        raise InputError(f"Invalid minimum gap ({min_gap_min}). Supported: 0 minutes or more.")
    win = Window.parse(window) if window else None
    if token_file is None and platform != "local":
        raise InputError(f"a {platform} account needs --token-file")
    tokens = read_token_file(token_file) if token_file is not None else None
    if refresh_token_file is not None:
        refresh = read_token_file(refresh_token_file, what="refresh token")
        tokens = TokenSet(tokens.access_token, refresh.access_token, tokens.expires_at, tokens.refresh_expires_at)
    row = {"platform": platform, "username": name}
    if page_id is not None:
        row["page_id"] = page_id
    if privacy is not None:
        row["privacy"] = privacy
    if win is not None:
        row.update(window_start=win.start, window_end=win.end)
    if daily_cap is not None:
        row["daily_cap"] = int(daily_cap)
    if min_gap_min is not None:
        row["min_gap_min"] = int(min_gap_min)
    if tokens is not None:
        ring = keyring(ws)
        expires = tokens.expires_at
        if expires is None and platform in DEFAULT_LIFETIME:
            # unknown: assume it was just issued, so a refresh token is used before it can lapse
            expires = catalogs.utcnow() + DEFAULT_LIFETIME[platform]
        row.update(token_blob=ring.encrypt(tokens.access_token), key_id=ring.key_id, token_expires_at=expires,
                   refresh_blob=ring.encrypt(tokens.refresh_token) if tokens.refresh_token else None,
                   refresh_expires_at=tokens.refresh_expires_at)
    with ws.catalog.write() as con:
        existing = [a for a in catalogs.list_accounts(con, platform=platform) if a["username"] == name]
        if existing:
            account_id = existing[0]["id"]
            sets = {k: v for k, v in row.items() if k not in ("platform", "username")}
            catalogs.update_account(con, account_id, needs_reconnect=False, reconnect_reason=None, **sets)
            catalogs.log_stage(con, None, "account", status="info", detail=f"reconnected {platform}:{name} "
                               f"(id {account_id}): new tokens")
            return {**catalogs.find_account(con, account_id), "reconnected": True}
        account_id = catalogs.insert_account(con, row)
        catalogs.log_stage(con, None, "account", status="info", detail=f"added {platform}:{name} (id {account_id})")
        return {**catalogs.find_account(con, account_id), "reconnected": False}


def privacy_notice(account: dict, settings) -> str | None:
    """What the platform will do to this account's posts that the user did not ask for, said now."""
    p, privacy = account["platform"], account.get("privacy") or "public"
    plat = settings.platforms
    if p == "youtube" and not plat.youtube_project_verified:
        return ("posts will be private until Google verifies the API project (YouTube forces uploads from "
                "unverified projects private); then set platforms.youtube_project_verified = true")
    if p == "tiktok" and privacy == "inbox":
        return "posts go to the TikTok inbox as drafts, to finish in the app"
    if p == "tiktok" and not plat.tiktok_app_audited:
        return ("posts will be self-only (private) until TikTok audits the app, and only to private accounts; "
                "use --privacy inbox to send drafts instead")
    if privacy in ("private", "self-only") and p != "local":
        return f"posts are {privacy} (this account's setting)"
    return None


def effective_privacy(account: dict, settings) -> str:
    """The privacy an upload asks for: TikTok apps not yet audited may only post self-only."""
    privacy = account.get("privacy") or "public"
    if account["platform"] == "tiktok" and privacy != "inbox" and not settings.platforms.tiktok_app_audited:
        return "self-only"
    if account["platform"] == "tiktok" and privacy == "private":
        return "self-only"
    return privacy


def account_status(account: dict, now: datetime) -> tuple[str, str | None]:
    """(state, why): ``active``, ``disabled``, ``reconnect`` (its token is dead) or ``expiring``."""
    if account.get("needs_reconnect"):
        return "reconnect", account.get("reconnect_reason") or "the platform refused its token"
    if not account.get("active"):
        return "disabled", None
    exp = account.get("token_expires_at")
    if account["platform"] == "facebook" and exp is not None:
        if exp <= now:
            return "reconnect", "its Page token expired (Page tokens cannot be refreshed)"
        if exp - now <= WARN_EXPIRY:
            return "expiring", f"its Page token expires {exp:%Y-%m-%d %H:%M} UTC; reconnect before then"
    exp_at = account.get("token_expires_at")
    if exp_at is not None and not account.get("has_refresh_token", True) and account["platform"] != "local":
        if exp_at <= now:
            return "reconnect", "its token expired and there is no refresh token"
        if exp_at - now <= WARN_EXPIRY:
            return "expiring", (f"its token expires {exp_at:%Y-%m-%d %H:%M} UTC and there is no refresh token; "
                                "reconnect before then")
    rexp = account.get("refresh_expires_at")
    if rexp is not None:
        if rexp <= now:
            return "reconnect", "its refresh token expired"
        if rexp - now <= WARN_EXPIRY:
            return "expiring", f"its refresh token expires {rexp:%Y-%m-%d %H:%M} UTC; reconnect before then"
    return "active", None


def list_account_rows(ws: Workspace, *, now: datetime | None = None) -> list[dict]:
    """Every account, no secret: its state (active | disabled | reconnect | expiring) and what to know."""
    now = now or catalogs.utcnow()
    with ws.catalog.read() as con:
        rows = catalogs.list_accounts(con)
    out = []
    for r in rows:
        state, why = account_status(r, now)
        notes = [n for n in (why and (f"reconnect: {why}" if state == "reconnect" else why),
                             privacy_notice(r, ws.settings)) if n]
        out.append({
            "id": r["id"], "platform": r["platform"], "name": r["username"], "page_id": r["page_id"],
            "state": state, "privacy": r["privacy"], "effective_privacy": effective_privacy(r, ws.settings),
            "daily_cap": r["daily_cap"], "min_gap_minutes": r["min_gap_min"],
            "window": f"{r['window_start']}-{r['window_end']}" if r["window_start"] else None,
            "token_expires_at": r["token_expires_at"], "last_posted_at": r["last_posted_at"],
            "error_count": r["error_count"], "notes": notes,
        })
    return out


def set_active(ws: Workspace, ref: str, active: bool) -> dict:
    with ws.catalog.write() as con:
        acc = catalogs.find_account(con, ref)
        catalogs.update_account(con, acc["id"], active=active)
        catalogs.log_stage(con, None, "account", status="info",
                           detail=f"{'enabled' if active else 'disabled'} {acc['platform']}:{acc['username']}")
        return catalogs.find_account(con, acc["id"])


def remove_account(ws: Workspace, ref: str) -> dict:
    """Delete an account and its tokens; refused while one of its uploads is under way."""
    with ws.catalog.write() as con:
        acc = catalogs.find_account(con, ref)
        busy = [u for u in catalogs.list_uploads(con, account_id=acc["id"])
                if u["state"] not in (*catalogs.UPLOAD_DONE, "failed", "assigned")]
        if busy:
            raise InputError(f"account {acc['platform']}:{acc['username']}: {len(busy)} upload(s) under way "
                             f"(job {busy[0]['job_id']}); disable it and remove it when they are done")
        catalogs.drop_assigned_uploads(con, account_id=acc["id"])
        catalogs.delete_account(con, acc["id"])
        catalogs.log_stage(con, None, "account", status="info", detail=f"removed {acc['platform']}:{acc['username']}")
        return acc


def rotate_key(ws: Workspace) -> dict:
    """Re-encrypt every token under a new key (key file) or the first of FARM_SECRET_KEYS.

    With the key file: a new key is put in front, every token re-encrypted in one
    transaction, then the old keys are dropped; a crash in between leaves a file that still
    decrypts everything. With the environment: tokens move to the first key listed, and the
    user drops the others from the variable afterwards.
    """
    from farm.locks import WorkspaceLock

    # a publisher decrypting tokens meanwhile would hold keys about to be dropped
    with WorkspaceLock(ws.state_dir / "publish.lock", what="farm publish").acquire(wait_s=ws.settings.queue.lock_wait_s):
        return _rotate_key(ws)


def _rotate_key(ws: Workspace) -> dict:
    ring = keyring(ws)
    from_env = ring.source == "FARM_SECRET_KEYS"
    if not from_env:
        ring = add_primary_key(ws.state_dir, ring)
    count = 0
    with ws.catalog.write() as con:
        for account_id, access, refresh in catalogs.all_token_blobs(con):
            sets = {"key_id": ring.key_id}
            if access is not None:
                sets["token_blob"] = ring.rotate(access, what=f"account {account_id}")
            if refresh is not None:
                sets["refresh_blob"] = ring.rotate(refresh, what=f"account {account_id}")
            catalogs.update_account(con, account_id, **sets)
            count += 1
        catalogs.log_stage(con, None, "account", status="info", detail=f"re-encrypted {count} account(s) under key "
                           f"{ring.key_id}")
    if not from_env:
        ring = keep_primary_only(ws.state_dir, ring)
    return {"accounts": count, "key_id": ring.key_id, "source": ring.source, "old_keys_dropped": not from_env}


# -- tokens at use ---------------------------------------------------------------------
def load_tokens(ws: Workspace, account: dict, ring: Keyring | None = None) -> TokenSet:
    ring = ring or keyring(ws)
    with ws.catalog.read() as con:
        access, refresh = catalogs.account_tokens(con, account["id"])
    what = f"account {account['platform']}:{account['username']}"
    if access is None:
        raise AuthError(f"{what}: no token stored; reconnect it (`farm accounts remove`, then `add`)")
    return TokenSet(ring.decrypt(access, what=what), ring.decrypt(refresh, what=what) if refresh else None,
                    account.get("token_expires_at"), account.get("refresh_expires_at"))


def store_tokens(ws: Workspace, account: dict, tokens: TokenSet, ring: Keyring | None = None) -> None:
    """Replace an account's tokens in one transaction (TikTok's old refresh token is dead once a
    new one is issued: losing the new one would lose the account)."""
    ring = ring or keyring(ws)
    with ws.catalog.write() as con:
        catalogs.update_account(
            con, account["id"], token_blob=ring.encrypt(tokens.access_token), key_id=ring.key_id,
            refresh_blob=ring.encrypt(tokens.refresh_token) if tokens.refresh_token else None,
            token_expires_at=tokens.expires_at, refresh_expires_at=tokens.refresh_expires_at,
            token_refreshed_at=catalogs.utcnow(), needs_reconnect=False, reconnect_reason=None)
        catalogs.log_stage(con, None, "account", status="info",
                           detail=f"refreshed the token of {account['platform']}:{account['username']}")


def mark_reconnect(ws: Workspace, account: dict, why: str) -> None:
    with ws.catalog.write() as con:
        catalogs.update_account(con, account["id"], needs_reconnect=True, reconnect_reason=why[:500])
        catalogs.count_account_error(con, account["id"])
        catalogs.log_stage(con, None, "account", status="failed",
                           detail=f"{account['platform']}:{account['username']} needs a reconnect: {why}")


def needs_refresh(tokens: TokenSet, now: datetime) -> bool:
    return tokens.refresh_token is not None and (tokens.expires_at is None or tokens.expires_at - now <= REFRESH_MARGIN)


def refresh_account(ws: Workspace, account: dict, client, tokens: TokenSet, ring: Keyring | None = None) -> TokenSet:
    """Refresh once through the platform and store the result; a refusal marks the account for a
    reconnect and raises AuthError."""
    what = f"account {account['platform']}:{account['username']}"
    if tokens.refresh_token is None:
        why = ("its Page token was refused; Page tokens cannot be refreshed" if account["platform"] == "facebook"
               else "its token was refused and there is no refresh token")
        mark_reconnect(ws, account, why)
        raise AuthError(f"{what}: {why}; reconnect it")
    from farm.locks import WorkspaceLock

    # One refresh at a time per workspace (publisher, monitor): TikTok's refresh token works once, so a
    # second process refreshing with the same one would be refused and the account lost.
    with WorkspaceLock(ws.state_dir / "tokens.lock", what="token refresh").acquire(wait_s=60.0):
        with ws.catalog.read() as con:
            current = catalogs.find_account(con, account["id"])
        stored = load_tokens(ws, current, ring)
        if stored.access_token != tokens.access_token or stored.refresh_token != tokens.refresh_token:
            return stored  # another process refreshed meanwhile: its tokens are the live ones
        try:
            new = client.refresh(tokens)
        except AuthError as err:
            mark_reconnect(ws, account, f"token refresh refused ({err})")
            raise AuthError(f"{what}: token refresh refused; reconnect it ({err})") from None
        store_tokens(ws, account, new, ring)
    return new
