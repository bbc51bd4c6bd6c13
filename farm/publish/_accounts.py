"""Publishing accounts: add (or connect), list (never a secret), enable/disable, pause/resume, remove, key rotation.

Tokens come from ``farm accounts connect`` (OAuth in the browser) or from files (plain text,
or the JSON an OAuth tool saves), are checked where the platform says how (a Facebook Page
token with debug_token), encrypted with the workspace's keyring and stored as ciphertext
only. What each platform will do is said when an account is added and listed, before the
user finds out from a private post.

Account safety: a new account warms up (its daily cap grows from 1 to its cap over its warm-up
days, ``effective_daily_cap``), and an account may be paused for some days (``pause_account``):
it resumes by itself when the time has passed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import catalogs
from farm.errors import InputError
from farm.locks import WorkspaceLock
from farm.platforms import (
    INTERACTIONS,
    Platform,
    Secret,
    TokenSet,
    client_for,
    make_http_client,
    platform,
    scope_granted,
)
from farm.publish._account_tokens import keyring
from farm.publish._secrets import Keyring, add_primary_key, keep_primary_only
from farm.workspace import Workspace

WARN_EXPIRY = timedelta(days=3)
MAX_PAUSE_DAYS = 3660  # ten years: longer is a mistake (use `farm accounts disable`)
WINDOW_AUTO = "auto"
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
            raise InputError(f"Invalid posting window ({text!r}). Supported: HH:MM-HH:MM, e.g. 08:00-22:30, or "
                             f"{WINDOW_AUTO}.")
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
        scope = doc.get("scope") if isinstance(doc.get("scope"), str) else None
        return TokenSet(Secret(token), Secret(refresh) if isinstance(refresh, str) and refresh else None,
                        expires_at, refresh_at, scope)
    if any(c.isspace() for c in text):
        raise InputError(f"{p}: the {what} file holds more than one word; expected the token alone or JSON")
    return TokenSet(Secret(text))


def check_privacy(name: str, privacy: str) -> str:
    allowed = platform(name).privacy
    if privacy not in allowed:
        raise InputError(f"Invalid privacy for a {name} account ({privacy!r}). Supported: {', '.join(allowed)}.")
    return privacy


def account_row(name: str, *, username: str, page_id: str | None = None, daily_cap: int | None = None,
                min_gap_min: int | None = None, window: str | None = None, privacy: str | None = None,
                allow: dict[str, bool | None] | None = None, require_page: bool = True) -> dict:
    """The catalog row of an account's options, checked against its platform's descriptor (the
    options not given are left out: a reconnect keeps what the account had). ``require_page``:
    False when the platform names the Page (``connect`` takes the only one)."""
    descriptor = platform(name)
    if not _NAME.match(username or ""):
        raise InputError(f"Invalid account name ({username!r}). Supported: 1-64 letters, digits, '.', '_', '-', '@'.")
    if privacy is not None:
        check_privacy(name, privacy)
    if descriptor.needs_page and not page_id and require_page:
        raise InputError(f"a {name} account needs --page-id (the Page that publishes the reels)")
    if not descriptor.needs_page and page_id:
        raise InputError(f"--page-id is for accounts on a Page, not {name}")
    if daily_cap is not None and daily_cap < 1:
        raise InputError(f"Invalid daily cap ({daily_cap}). Supported: 1 or more.")
    cap_max = descriptor.daily_cap_max()
    if daily_cap is not None and cap_max is not None and daily_cap > cap_max:
        raise InputError(f"Invalid daily cap ({daily_cap}) for {name}: the platform allows {cap_max} posts through "
                         f"the API in 24 hours. Supported: 1 to {cap_max}.")
    if min_gap_min is not None and min_gap_min < 0:
        raise InputError(f"Invalid minimum gap ({min_gap_min}). Supported: 0 minutes or more.")
    row: dict = {"platform": name, "username": username}
    if window == WINDOW_AUTO:  # posts go at the hours the nightly planner sets on each job (publish_after)
        row.update(window_start=None, window_end=None, window_auto=True)
    elif window:
        win = Window.parse(window)
        row.update(window_start=win.start, window_end=win.end, window_auto=False)
    for key, value in (("page_id", page_id), ("privacy", privacy), ("daily_cap", daily_cap),
                       ("min_gap_min", min_gap_min)):
        if value is not None:
            row[key] = value
    for what, value in (allow or {}).items():
        if what not in INTERACTIONS:
            raise InputError(f"Invalid interaction ({what!r}). Supported: {', '.join(INTERACTIONS)}.")
        if value is not None:
            row[f"allow_{what}"] = bool(value)
    return row


def check_key(con, ring: Keyring, *, except_account: int | None = None) -> None:
    """Refuse to store a token under a key other than the one the stored tokens use: the two could
    not both be read later with one key."""
    used = {a["key_id"] for a in catalogs.list_accounts(con)
            if a.get("key_id") and a["id"] != except_account}
    if used and ring.key_id not in used:
        raise InputError(f"the stored tokens are encrypted under key {', '.join(sorted(used))}, but the key in use is "
                         f"{ring.key_id} ({ring.source}); run `farm accounts rotate-key` first (with FARM_SECRET_KEYS: "
                         "the new key first and the old one after it), or set FARM_SECRET_KEYS to the key the tokens "
                         "use")


def check_warmup_days(days: int | None) -> int | None:
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        raise InputError(f"Invalid warm-up days ({days!r}). Supported: 0 or more (0: no warm-up).")
    return days


def store_account(ws: Workspace, row: dict, tokens: TokenSet | None, *, remote_name: str | None = None,
                  warmup_days: int | None = None) -> dict:
    """Insert the account, or reconnect the one of that name: new tokens (encrypted), the options
    given, its marks cleared; the rest, its uploads and its warm-up included, stays. Returns its
    public row with ``reconnected``.

    ``warmup_days``: a new account's warm-up (its daily cap grows from 1 to its cap over these
    days, from now); None or 0: none. A reconnect does not restart it. The local outbox never
    warms up: it is a folder, with no platform account behind it to build a history for.
    """
    row = dict(row)
    check_warmup_days(warmup_days)
    name, username = row["platform"], row["username"]
    ring = keyring(ws, create=True) if tokens is not None else None
    if tokens is not None:
        row.update(token_blob=ring.encrypt(tokens.access_token), key_id=ring.key_id,
                   token_expires_at=tokens.expires_at, refresh_expires_at=tokens.refresh_expires_at,
                   refresh_blob=ring.encrypt(tokens.refresh_token) if tokens.refresh_token else None,
                   scopes=tokens.scope)
    if remote_name:
        row["remote_name"] = remote_name
    with ws.catalog.write() as con:
        existing = [a for a in catalogs.list_accounts(con, platform=name) if a["username"] == username]
        if ring is not None:
            check_key(con, ring, except_account=existing[0]["id"] if existing else None)
        if existing:
            account_id = existing[0]["id"]
            sets = {k: v for k, v in row.items() if k not in ("platform", "username")}
            catalogs.update_account(con, account_id, needs_reconnect=False, reconnect_reason=None, missing_scope=None,
                                    key_problem=None, **sets)
            catalogs.log_stage(con, None, "account", status="info", detail=f"reconnected {name}:{username} "
                               f"(id {account_id}): new tokens")
            return {**catalogs.find_account(con, account_id), "reconnected": True}
        if warmup_days and not platform(name).outbox:
            row.update(warmup_days=warmup_days, warmup_from=catalogs.utcnow())
        account_id = catalogs.insert_account(con, row)
        warm = f", warm-up over {row['warmup_days']} days" if row.get("warmup_days") else ""
        catalogs.log_stage(con, None, "account", status="info", detail=f"added {name}:{username} (id {account_id})"
                           f"{warm}")
        return {**catalogs.find_account(con, account_id), "reconnected": False}


def add_account(ws: Workspace, name: str, *, username: str, token_file: str | Path | None,
                refresh_token_file: str | Path | None = None, page_id: str | None = None, daily_cap: int | None = None,
                min_gap_min: int | None = None, window: str | None = None, privacy: str | None = None,
                allow: dict[str, bool | None] | None = None, warmup_days: int | None = None, transport=None) -> dict:
    """Store an account with tokens read from files (``farm accounts add``); an existing name is
    reconnected. Where the platform checks a stored token (a Facebook Page token: debug_token), it
    is checked first. ``warmup_days``: a new account's warm-up (None: none here; the CLI passes
    ``[planner] warmup_days``). Returns its public row (``reconnected``, ``notes`` from the check)."""
    descriptor = platform(name)
    check_warmup_days(warmup_days)
    row = account_row(name, username=username, page_id=page_id, daily_cap=daily_cap, min_gap_min=min_gap_min,
                      window=window, privacy=privacy, allow=allow)
    if descriptor.tokens is None:
        tokens, notes = None, []
    else:
        tokens, notes = _tokens_from_files(ws, descriptor, token_file, refresh_token_file, page_id, transport)
    return {**store_account(ws, row, tokens, warmup_days=warmup_days), "notes": notes}


def _tokens_from_files(ws: Workspace, descriptor: Platform, token_file, refresh_token_file, page_id,
                       transport) -> tuple[TokenSet, list[str]]:
    name = descriptor.name
    if token_file is None:
        raise InputError(f"a {name} account needs --token-file (or use `farm accounts connect {name}`)")
    if refresh_token_file and not descriptor.tokens.refreshable:
        raise InputError(f"{name} {descriptor.tokens.noun}s have no refresh token: store a long-lived "
                         f"{descriptor.tokens.noun} with --token-file")
    tokens = read_token_file(token_file)
    if refresh_token_file is not None:
        refresh = read_token_file(refresh_token_file, what="refresh token")
        tokens = TokenSet(tokens.access_token, refresh.access_token, tokens.expires_at, tokens.refresh_expires_at,
                          tokens.scope)
    settings = ws.settings.platforms
    with make_http_client(settings, transport=transport) as http:
        client = client_for(name, http, settings, root=ws.root, account="")
        return client.check_token(tokens, page_id=page_id)


def account_notices(account: dict, settings) -> list[str]:
    """What the platform will do to this account's posts that the user did not ask for, said now."""
    return platform(account["platform"]).notices(account.get("privacy") or "public", settings.platforms)


def effective_privacy(account: dict, settings) -> str:
    """The privacy an upload asks for (TikTok apps not yet audited may only post self-only)."""
    return platform(account["platform"]).effective_privacy(account.get("privacy") or "public", settings.platforms)


def account_status(account: dict, now: datetime) -> tuple[str, str | None]:
    """(state, why): ``active``, ``disabled``, ``reconnect`` (its token is dead or unreadable),
    ``paused`` (until ``paused_until``: past that time it is active again by itself) or ``expiring``.
    A dead token goes before a pause (the user must act), a pause before an expiring token."""
    if account.get("key_problem"):
        return "reconnect", account["key_problem"]
    if account.get("needs_reconnect"):
        return "reconnect", account.get("reconnect_reason") or "the platform refused its token"
    if not account.get("active"):
        return "disabled", None
    state, why = token_status(account, now)
    if state != "reconnect" and pause_note(account, now):
        return "paused", pause_note(account, now)
    return state, why


def pause_note(account: dict, now: datetime) -> str | None:
    """"paused until 2026-12-14 09:00 UTC (reason)" while the account is paused, else None."""
    until = account.get("paused_until")
    if until is None or until <= now:
        return None
    reason = account.get("pause_reason")
    return f"paused until {until:%Y-%m-%d %H:%M} UTC" + (f" ({reason})" if reason else "")


def effective_daily_cap(account: dict, now: datetime) -> int:
    """The account's daily cap today, warm-up counted.

    An account with ``warmup_days`` N > 0 (from ``warmup_from``) is on warm-up day d = the whole
    days elapsed since then (0 on its first day); its cap that day grows linearly from 1 to its
    configured cap C: ``min(C, 1 + floor((C - 1) * d / N))``, so day 0 allows 1 post and day N
    (and after) allows C. Without a warm-up (N 0 or None) the cap is C.

    >>> start = datetime(2026, 12, 1)
    >>> acc = {"daily_cap": 15, "warmup_days": 14, "warmup_from": start}
    >>> [effective_daily_cap(acc, start + timedelta(days=d)) for d in (0, 7, 14)]
    [1, 8, 15]
    """
    cap = int(account["daily_cap"])
    day = warmup_day(account, now)
    if day is None:
        return cap
    return max(1, min(cap, 1 + math.floor((cap - 1) * day / int(account["warmup_days"]))))


def warmup_day(account: dict, now: datetime) -> int | None:
    """The account's warm-up day (0 on its first), or None when it has no warm-up or it is over."""
    days, start = account.get("warmup_days") or 0, account.get("warmup_from")
    if days <= 0 or start is None:
        return None
    day = max(0, (now - start).days)
    return day if day < days else None


def token_status(account: dict, now: datetime) -> tuple[str, str | None]:
    """(state, why) of an enabled account's tokens: ``active``, ``expiring`` or ``reconnect``."""
    rules = platform(account["platform"]).tokens
    if rules is None:
        return "active", None
    exp = account.get("token_expires_at")
    if exp is not None and not account.get("has_refresh_token", True):
        if exp <= now:
            return "reconnect", f"its {rules.noun} expired and cannot be refreshed"
        if exp - now <= WARN_EXPIRY:
            return "expiring", (f"its {rules.noun} expires {exp:%Y-%m-%d %H:%M} UTC and cannot be refreshed; "
                                "reconnect before then")
    rexp = account.get("refresh_expires_at")
    if rexp is not None:
        if rexp <= now:
            return "reconnect", "its refresh token expired"
        if rexp - now <= WARN_EXPIRY:
            return "expiring", f"its refresh token expires {rexp:%Y-%m-%d %H:%M} UTC; reconnect before then"
    return "active", None


def scope_warnings(account: dict) -> list[str]:
    """What the account's token may not do: statistics without their scope."""
    oauth = platform(account["platform"]).oauth
    stats_scope = oauth.statistics_scope if oauth else None
    if account.get("missing_scope"):
        return [f"reconnect to allow statistics: the platform says the token lacks {account['missing_scope']}"]
    if stats_scope and scope_granted(account.get("scopes"), stats_scope) is False:
        return [f"reconnect to allow statistics: the token lacks {stats_scope}"]
    return []


def list_account_rows(ws: Workspace, *, now: datetime | None = None) -> list[dict]:
    """Every account, no secret: its state (``connected``, ``paused``, ``reconnect`` or
    ``disabled``), its cap today (``cap_today``, with its ``warmup`` note while it warms up) and the
    warnings the user must read (a dying token, a missing scope, what the platform will do)."""
    now = now or catalogs.utcnow()
    with ws.catalog.read() as con:
        rows = catalogs.list_accounts(con)
    out = []
    for r in rows:
        status, why = account_status(r, now)
        token, why = token_status(r, now) if status == "paused" else (status, why)  # a pause hides no token news
        warnings = [w for w in (why and (f"reconnect: {why}" if token == "reconnect" else why),) if w]
        warnings += scope_warnings(r) + account_notices(r, ws.settings)
        out.append({
            "id": r["id"], "platform": r["platform"], "name": r["username"], "page_id": r["page_id"],
            "state": {"active": "connected", "expiring": "connected"}.get(status, status),
            "token": token, "privacy": r["privacy"], "effective_privacy": effective_privacy(r, ws.settings),
            "remote_name": r.get("remote_name"), "daily_cap": r["daily_cap"],
            "cap_today": effective_daily_cap(r, now), "warmup": warmup_text(r, now),
            "warmup_days": r.get("warmup_days") or 0, "warmup_from": r.get("warmup_from"),
            "min_gap_minutes": r["min_gap_min"], "window": window_text(r),
            "paused_until": r.get("paused_until") if status == "paused" else None,
            "pause_reason": r.get("pause_reason") if status == "paused" else None,
            "allow": {k: bool(r.get(f"allow_{k}")) for k in INTERACTIONS},
            "token_expires_at": r["token_expires_at"], "last_posted_at": r["last_posted_at"],
            "error_count": r["error_count"], "warnings": warnings,
        })
    return out


def window_text(account: dict) -> str | None:
    """``auto`` (hours set by the nightly planner), ``HH:MM-HH:MM``, or None (any time)."""
    if account.get("window_auto"):
        return WINDOW_AUTO
    return f"{account['window_start']}-{account['window_end']}" if account.get("window_start") else None


def warmup_text(account: dict, now: datetime) -> str | None:
    """"warm-up day 3 of 14" (its first day is day 1 here) while the account warms up, else None."""
    day = warmup_day(account, now)
    return None if day is None else f"warm-up day {day + 1} of {account['warmup_days']}"


def pause_account(ws: Workspace, ref: str, *, days: float, reason: str | None = None,
                  now: datetime | None = None) -> dict:
    """Stop publishing to an account for ``days`` (> 0) from ``now``; past that time it posts again
    by itself. A second pause replaces the first. Returns its public row."""
    if isinstance(days, bool) or not isinstance(days, (int, float)) or not 0 < days <= MAX_PAUSE_DAYS:
        raise InputError(f"Invalid pause ({days!r} days). Supported: more than 0, at most {MAX_PAUSE_DAYS} days.")
    until = (now or catalogs.utcnow()) + timedelta(days=days)
    reason = (reason or "").strip() or None
    with ws.catalog.write() as con:
        acc = catalogs.find_account(con, ref)
        catalogs.update_account(con, acc["id"], paused_until=until, pause_reason=reason)
        catalogs.log_stage(con, None, "account", status="info", detail=f"paused {acc['platform']}:{acc['username']} "
                           f"until {until:%Y-%m-%d %H:%M} UTC" + (f" ({reason})" if reason else ""))
        return catalogs.find_account(con, acc["id"])


def resume_account(ws: Workspace, ref: str, *, now: datetime | None = None) -> dict:
    """Lift an account's pause now. Returns its public row, with ``was_paused``."""
    now = now or catalogs.utcnow()
    with ws.catalog.write() as con:
        acc = catalogs.find_account(con, ref)
        was = pause_note(acc, now) is not None
        catalogs.update_account(con, acc["id"], paused_until=None, pause_reason=None)
        if was:
            catalogs.log_stage(con, None, "account", status="info",
                               detail=f"resumed {acc['platform']}:{acc['username']}")
        return {**catalogs.find_account(con, acc["id"]), "was_paused": was}


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
