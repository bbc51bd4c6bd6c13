"""An account's tokens at use: decrypted when needed, refreshed before they lapse, and the marks an account gets.

Marks an account can carry, each said in ``farm accounts list``:

- ``needs_reconnect`` (with ``reconnect_reason``): the platform refused its token and a refresh
  was refused too, or the token lacks a scope publishing needs. Nothing is sent until the user
  reconnects (``farm accounts connect``, or ``add`` again).
- ``missing_scope``: the token lacks the scope statistics need (YouTube's youtube.readonly):
  the account keeps publishing, and is told to reconnect to allow statistics.
- ``key_problem``: its token cannot be decrypted with the workspace's keys (the key was
  replaced): its jobs stay ready; the mark goes when the key comes back (checked each pass).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import catalogs
from farm.errors import AuthError, InputError, KeyringError
from farm.locks import WorkspaceLock
from farm.platforms import Secret, TokenSet, platform
from farm.publish._secrets import Keyring, ensure_key_file, load_keyring
from farm.workspace import Workspace

REFRESH_MARGIN = timedelta(minutes=10)
"""A token expiring sooner than this is refreshed before an upload starts."""


def keyring(ws: Workspace, *, create: bool = False) -> Keyring:
    """The workspace's keys; ``create``: make the key file first when there is none (storing a token)."""
    if create:
        ensure_key_file(ws.state_dir)
    return load_keyring(ws.state_dir)


def _who(account: dict) -> str:
    return f"{account['platform']}:{account['username']}"


def _label(account: dict) -> str:
    return f"account {_who(account)}"


def decrypt(ring: Keyring, blob: bytes, *, account: dict) -> Secret:
    """The token in ``blob``, or a :class:`KeyringError` saying how to get it back."""
    try:
        return ring.decrypt(blob, what=_label(account))
    except InputError as err:
        raise KeyringError(str(err)) from None


def load_tokens(ws: Workspace, account: dict, ring: Keyring | None = None) -> TokenSet:
    """The account's tokens, decrypted (``KeyringError`` when the keys cannot read them)."""
    ring = ring or keyring(ws)
    with ws.catalog.read() as con:
        access, refresh = catalogs.account_tokens(con, account["id"])
    if access is None:
        raise AuthError(f"{_label(account)}: no token stored; reconnect it (`farm accounts connect`)")
    return TokenSet(decrypt(ring, access, account=account), decrypt(ring, refresh, account=account) if refresh else None,
                    account.get("token_expires_at"), account.get("refresh_expires_at"), account.get("scopes"))


def store_tokens(ws: Workspace, account: dict, tokens: TokenSet, ring: Keyring | None = None) -> None:
    """Replace an account's tokens in one transaction (a rotating platform's old refresh token is dead
    once a new one is issued: losing the new one would lose the account)."""
    ring = ring or keyring(ws)
    with ws.catalog.write() as con:
        catalogs.update_account(
            con, account["id"], token_blob=ring.encrypt(tokens.access_token), key_id=ring.key_id,
            refresh_blob=ring.encrypt(tokens.refresh_token) if tokens.refresh_token else None,
            token_expires_at=tokens.expires_at, refresh_expires_at=tokens.refresh_expires_at,
            scopes=tokens.scope or account.get("scopes"), token_refreshed_at=catalogs.utcnow(),
            needs_reconnect=False, reconnect_reason=None)
        catalogs.log_stage(con, None, "account", status="info", detail=f"refreshed the token of {_who(account)}")


def mark_reconnect(ws: Workspace, account: dict, why: str) -> None:
    with ws.catalog.write() as con:
        catalogs.update_account(con, account["id"], needs_reconnect=True, reconnect_reason=why[:500])
        catalogs.count_account_error(con, account["id"])
        catalogs.log_stage(con, None, "account", status="failed", detail=f"{_who(account)} needs a reconnect: {why}")


def mark_missing_scope(ws: Workspace, account: dict, scope: str | None, why: str) -> None:
    """The platform said the token lacks ``scope``: statistics wait for a reconnect (a scope that
    publishing needs marks the account for a reconnect instead)."""
    descriptor = platform(account["platform"])
    stats_scope = descriptor.oauth.statistics_scope if descriptor.oauth else None
    if scope is not None and stats_scope is not None and scope != stats_scope:
        mark_reconnect(ws, account, f"its token lacks {scope}, which publishing needs ({why})")
        return
    with ws.catalog.write() as con:
        catalogs.update_account(con, account["id"], missing_scope=scope or stats_scope or "a statistics scope")
        catalogs.log_stage(con, None, "account", status="info",
                           detail=f"{_who(account)}: statistics need a reconnect: {why}"[:2000])


def mark_key_problem(ws: Workspace, account: dict, why: str) -> None:
    with ws.catalog.write() as con:
        catalogs.update_account(con, account["id"], key_problem=why[:500])
        catalogs.log_stage(con, None, "account", status="failed", detail=f"{_who(account)}: {why}"[:2000])


def clear_key_problems(ws: Workspace, ring: Keyring) -> None:
    """Drop the key mark of every account whose token the keys read again (the old key came back)."""
    with ws.catalog.read() as con:
        marked = [a for a in catalogs.list_accounts(con) if a.get("key_problem")]
    for account in marked:
        try:
            load_tokens(ws, account, ring)
        except (KeyringError, AuthError):
            continue
        with ws.catalog.write() as con:
            catalogs.update_account(con, account["id"], key_problem=None)
            catalogs.log_stage(con, None, "account", status="info",
                               detail=f"{_who(account)}: its token is readable again")


def needs_refresh(tokens: TokenSet, now: datetime) -> bool:
    """Refresh before use: the token expires within the margin, or its expiry is unknown."""
    return tokens.refresh_token is not None and (tokens.expires_at is None or tokens.expires_at - now <= REFRESH_MARGIN)


def refresh_account(ws: Workspace, account: dict, client, tokens: TokenSet, ring: Keyring | None = None) -> TokenSet:
    """Refresh once through the platform and store the result; a refusal marks the account for a
    reconnect and raises AuthError."""
    descriptor = platform(account["platform"])
    if tokens.refresh_token is None:
        noun = descriptor.tokens.noun if descriptor.tokens else "token"
        why = (f"its {noun} was refused; {noun}s cannot be refreshed" if descriptor.tokens and
               not descriptor.tokens.refreshable else f"its {noun} was refused and there is no refresh token")
        mark_reconnect(ws, account, why)
        raise AuthError(f"{_label(account)}: {why}; reconnect it")
    # One refresh at a time per workspace (publisher, monitor): a rotating refresh token works once, so a
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
            raise AuthError(f"{_label(account)}: token refresh refused; reconnect it ({err})") from None
        store_tokens(ws, account, new, ring)
    return new


def live_tokens(ws: Workspace, account: dict, client, ring: Keyring, *, now: datetime,
                force: bool = False) -> TokenSet:
    """The account's tokens, refreshed first when they lapse soon (or ``force``: just refused)."""
    tokens = load_tokens(ws, account, ring)
    if force or needs_refresh(tokens, now):
        tokens = refresh_account(ws, account, client, tokens, ring)
    return tokens


def with_token(ws: Workspace, account: dict, client, ring: Keyring, call, *, now: datetime):
    """``call(access_token)`` with the account's live token: refreshed first when it lapses soon, and
    once more when the platform refuses it (a refused refresh marks the account and raises)."""
    tokens = live_tokens(ws, account, client, ring, now=now)
    try:
        return call(tokens.access_token)
    except KeyringError:
        raise
    except AuthError:
        tokens = refresh_account(ws, account, client, tokens, ring)
        return call(tokens.access_token)
