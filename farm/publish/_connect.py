"""`farm accounts connect`: OAuth 2.0 authorization code with PKCE on a loopback redirect, then the tokens stored.

The farm makes a ``state`` and a PKCE verifier, listens on the loopback address (a free
port unless one is given), and sends the user to the platform's authorization page (the
browser, or the address printed alone on one line for a machine without a screen; the
address the browser finally lands on may also be pasted on stdin). The callback's
``state`` must match; its code is exchanged for tokens (never retried: a code works once),
the platform settles what the account is (Facebook: the Page's own long-lived token,
checked), and the tokens are stored encrypted exactly as ``accounts add`` stores them.
A wrong state, a denial, a refused exchange or the timeout stores nothing.

The page the browser lands on says "you can close this tab" and never shows a token.

The flow is two steps anyone can drive: :func:`begin_connect` (the checks, the state and PKCE
pair, the authorization address; the attempt is kept by the caller) and :func:`finish_connect`
(the answer's query checked, the code exchanged, the account stored). The CLI runs them around its
loopback listener; ``farm serve`` runs them around its own ``/oauth/callback``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import queue
import secrets
import socket
import sys
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import catalogs
from farm.errors import FarmError, InputError
from farm.platforms import Connection, Platform, client_for, make_http_client, platform, scope_granted
from farm.publish._account_tokens import keyring
from farm.publish._accounts import account_row, check_key, check_warmup_days, store_account
from farm.workspace import Workspace

DEFAULT_TIMEOUT_S = 300.0


class ConnectError(InputError):
    """Connecting failed (a wrong state, a denial, a refused exchange, the timeout): nothing was stored."""


@dataclass(frozen=True)
class ConnectOptions:
    """What ``farm accounts connect`` was asked: the account's name and options, and how to reach the user."""

    name: str
    page_id: str | None = None
    privacy: str | None = None
    daily_cap: int | None = None
    min_gap_min: int | None = None
    window: str | None = None
    allow: dict[str, bool | None] = field(default_factory=dict)
    warmup_days: int | None = None  # a new account's warm-up (None: none; the CLI gives [planner] warmup_days)
    browser: bool = True
    port: int = 0
    timeout_s: float = DEFAULT_TIMEOUT_S


def pkce_pair(method: str) -> tuple[str, str]:
    """A fresh PKCE ``(verifier, challenge)``: a verifier of 86 unreserved characters (RFC 7636 asks
    43 to 128), and its SHA-256 as base64url without padding (``S256``) or as lower-case hex
    (``S256-hex``, what TikTok's desktop guide shows: "You must use hex encoding of SHA256")."""
    verifier = secrets.token_urlsafe(64)[:86]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    if method == "S256-hex":
        return verifier, digest.hex()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(descriptor: Platform, settings, *, redirect_uri: str, state: str, challenge: str) -> str:
    """The platform's authorization page for this attempt (its client id, scopes, redirect, state and PKCE)."""
    oauth = descriptor.oauth
    client_id = getattr(settings, oauth.client_id, "")
    if not client_id or not getattr(settings, oauth.client_secret, ""):
        raise ConnectError(f"{descriptor.name}: the app is not configured; set FARM_{oauth.client_id.upper()} and "
                           f"FARM_{oauth.client_secret.upper()} (or [platforms] in farm.toml); the README's \"Connect "
                           "your accounts\" says how to make them")
    params = {oauth.client_id_param: client_id, "redirect_uri": redirect_uri, "response_type": "code",
              "scope": oauth.scope_separator.join(oauth.scopes), "state": state, "code_challenge": challenge,
              "code_challenge_method": "S256", **oauth.extra_params}
    base = descriptor.authorize_url(settings)
    return base + ("&" if "?" in base else "?") + urlencode(params, quote_via=quote)


class _Callbacks:
    """The loopback listener: every request on the redirect path that carries a ``code``, an ``error``
    or a ``state`` is one answer, put on a queue; the browser is told it may close the tab."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.answers: queue.Queue[dict[str, str]] = queue.Queue()
        self.path = path
        handler = self._handler()
        try:
            self.servers = [ThreadingHTTPServer(("127.0.0.1", port), handler)]
        except OSError as err:
            raise ConnectError(f"cannot listen on 127.0.0.1:{port} ({err.strerror or err}); choose another --port") from None
        self.port = self.servers[0].server_address[1]
        if host == "localhost":  # a browser may try ::1 first for "localhost"
            try:
                six = type("V6", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
                self.servers.append(six(("::1", self.port), handler))
            except OSError:
                pass
        for server in self.servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        callbacks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server name)
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                if parts.path.rstrip("/") != callbacks.path.rstrip("/") or not ({"code", "error", "state"} & set(query)):
                    self._page(404, "Not the farm's sign-in address.")
                    return
                if "error" in query:
                    self._page(200, f"The platform said: {query.get('error')}. The farm did not connect the account. "
                                    "You can close this tab.")
                else:
                    self._page(200, "Received. You can close this tab; the terminal says whether the account is "
                                    "connected.")
                # after the page is sent: the command may exit as soon as it has the answer
                callbacks.answers.put(query)

            def _page(self, status: int, text: str) -> None:
                body = (f"<!doctype html><meta charset=utf-8><title>reel farm</title>"
                        f"<p style='font:16px sans-serif'>{html.escape(text)}</p>").encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # the query holds the code: never logged
                pass

        return Handler

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def _read_pasted(answers: queue.Queue, stdin) -> None:
    """Lines pasted on stdin: the address the browser ended on (a browser on another machine)."""
    try:
        for line in stdin:
            query = {k: v[0] for k, v in parse_qs(urlsplit(line.strip()).query).items()}
            if {"code", "error"} & set(query):
                answers.put(query)
    except (OSError, ValueError):
        pass


def _wait(answers: queue.Queue, timeout_s: float, name: str) -> dict[str, str]:
    """The first answer's query (the redirect's parameters), or a ConnectError at the timeout."""
    try:
        return answers.get(timeout=timeout_s)
    except queue.Empty:
        raise ConnectError(f"{name}: no answer from the browser within {timeout_s:g} s (--timeout); nothing was "
                           "stored") from None


@dataclass(frozen=True)
class PendingConnect:
    """One sign-in under way, kept by whoever started it (the CLI in memory, the server in memory by
    ``state``): only ``state`` goes to the browser (in the authorization address); the PKCE verifier
    never leaves. ``expires_at``: seconds since the epoch after which the answer is refused."""

    platform: str
    state: str
    verifier: str
    redirect_uri: str
    options: ConnectOptions
    row: dict
    expires_at: float


def begin_connect(ws: Workspace, name: str, options: ConnectOptions, *, redirect_uri: str,
                  expires_in_s: float = 600.0) -> tuple[str, PendingConnect]:
    """The first step of connecting an account of the platform ``name``: everything checked before the
    user signs in for nothing (the options, the key the tokens will be stored under, the app's
    configuration), a fresh ``state`` and PKCE pair.

    Returns:
        The platform's authorization address (send the browser there) and the attempt to keep for
        :func:`finish_connect`.
    """
    descriptor = platform(name)
    if descriptor.oauth is None:
        raise ConnectError(f"{name}: this platform is not connected through a browser; use `farm accounts add {name}`")
    row = account_row(name, username=options.name, page_id=options.page_id, daily_cap=options.daily_cap,
                      min_gap_min=options.min_gap_min, window=options.window, privacy=options.privacy,
                      allow=options.allow, require_page=False)
    check_warmup_days(options.warmup_days)  # before the user signs in for nothing
    row.pop("page_id", None)  # the Page comes from the platform (the one --page-id names, or the only one)
    _check_key_first(ws, name, options.name)
    state = secrets.token_urlsafe(24)
    verifier, challenge = pkce_pair(descriptor.oauth.challenge)
    url = authorization_url(descriptor, ws.settings.platforms, redirect_uri=redirect_uri, state=state,
                            challenge=challenge)
    pending = PendingConnect(platform=name, state=state, verifier=verifier, redirect_uri=redirect_uri,
                             options=options, row=row, expires_at=time.time() + expires_in_s)
    return url, pending


def check_answer(pending: PendingConnect, query: dict[str, str]) -> str:
    """The authorization code of the browser's answer (the redirect's query), or a ConnectError (a wrong
    state, a denial, an expired attempt, no code)."""
    name = pending.platform
    if not secrets.compare_digest(str(query.get("state") or "").encode("utf-8"), pending.state.encode("utf-8")):
        raise ConnectError(f"{name}: the answer's state does not match this attempt (a stale or forged "
                           "redirect); nothing was stored")
    if query.get("error"):
        why = query.get("error_description") or query.get("error_reason") or ""
        raise ConnectError(f"{name}: the platform said {query['error']}" + (f" ({why})" if why else "")
                           + "; nothing was stored")
    if time.time() > pending.expires_at:
        raise ConnectError(f"{name}: the sign-in took too long (start it again); nothing was stored")
    code = query.get("code")
    if not code:
        raise ConnectError(f"{name}: the answer held no authorization code; nothing was stored")
    return code


def finish_connect(ws: Workspace, pending: PendingConnect, query: dict[str, str], *, transport=None) -> dict:
    """The second step: the browser's answer checked (:func:`check_answer`), its code exchanged for
    tokens (never retried), what the account is settled (Facebook: the Page ``page_id`` names, or the
    only one), the scopes checked, and the tokens stored encrypted exactly as ``accounts add`` does.

    Returns:
        The stored account's public row, with ``reconnected``, ``granted`` (the scopes) and ``notes``.
    """
    code = check_answer(pending, query)
    name, options = pending.platform, pending.options
    descriptor = platform(name)
    connection = _exchange(descriptor, ws.settings.platforms, ws, code=code, verifier=pending.verifier,
                           redirect_uri=pending.redirect_uri, page_id=options.page_id, transport=transport)
    granted = (connection.tokens.scope or "").replace(",", " ").split()
    missing = [s for s in descriptor.oauth.required if scope_granted(connection.tokens.scope, s) is False]
    if missing:
        raise ConnectError(f"{name}: the account did not grant {', '.join(missing)}, which publishing needs; run "
                           "connect again and allow it; nothing was stored")
    row = dict(pending.row)
    if connection.page_id:
        row["page_id"] = connection.page_id
    stored = store_account(ws, row, connection.tokens, remote_name=connection.name, warmup_days=options.warmup_days)
    return {**stored, "granted": granted, "notes": list(connection.notes)}


def connect_account(ws: Workspace, name: str, options: ConnectOptions, *, say: Callable[[str], None] = print,
                    tell: Callable[[str], None] | None = None, stdin=None, transport=None) -> dict:
    """Connect (or reconnect) an account of the platform ``name`` in the browser, with a loopback listener
    for the answer: :func:`begin_connect`, the user sent to sign in, then :func:`finish_connect`.

    Args:
        say: where the authorization address goes, alone on its line (stdout).
        tell: where instructions go (stderr).
        stdin: where a pasted redirect address is read from (``--no-browser``).

    Returns:
        The stored account's public row, with ``reconnected``, ``granted`` (the scopes) and ``notes``.

    Raises:
        ConnectError: a wrong state, a denial, a refused exchange or the timeout (exit 2; nothing stored).
    """
    descriptor = platform(name)
    if descriptor.oauth is None:
        raise ConnectError(f"{name}: this platform is not connected through a browser; use `farm accounts add {name}`")
    tell = tell or (lambda text: print(text, file=sys.stderr, flush=True))
    oauth = descriptor.oauth
    callbacks = _Callbacks(oauth.redirect_host, options.port, oauth.redirect_path)
    try:
        redirect_uri = f"http://{oauth.redirect_host}:{callbacks.port}{oauth.redirect_path}"
        url, pending = begin_connect(ws, name, options, redirect_uri=redirect_uri,
                                     expires_in_s=options.timeout_s + 60)
        _send_user(url, options, say=say, tell=tell, callbacks=callbacks, stdin=stdin, label=descriptor.label)
        query = _wait(callbacks.answers, options.timeout_s, name)
    finally:
        callbacks.close()
    return finish_connect(ws, pending, query, transport=transport)


def _check_key_first(ws: Workspace, name: str, username: str) -> None:
    """The key the tokens will be stored under, checked before the user signs in for nothing."""
    ring = keyring(ws, create=True)
    with ws.catalog.read() as con:
        existing = [a["id"] for a in catalogs.list_accounts(con, platform=name) if a["username"] == username]
        check_key(con, ring, except_account=existing[0] if existing else None)


def _send_user(url: str, options: ConnectOptions, *, say, tell, callbacks: _Callbacks, stdin, label: str) -> None:
    """The address on its own stdout line (flushed: another program may be reading it), and the browser."""
    say(url)
    if hasattr(sys.stdout, "flush"):
        sys.stdout.flush()
    if options.browser and webbrowser.open(url):
        tell(f"a browser opened {label}'s sign-in page; waiting for its answer (up to {options.timeout_s:g} s)")
        return
    tell(f"open the address above in a browser and allow the farm; if that browser is on another machine, paste "
         f"here the address it ends on (waiting up to {options.timeout_s:g} s)")
    threading.Thread(target=_read_pasted, args=(callbacks.answers, stdin or sys.stdin), daemon=True).start()


def _exchange(descriptor: Platform, settings, ws: Workspace, *, code: str, verifier: str, redirect_uri: str,
              page_id: str | None, transport) -> Connection:
    """The code for tokens, then what the account is; any refusal is a ConnectError (nothing stored)."""
    with make_http_client(settings, transport=transport) as http:
        client = client_for(descriptor.name, http, settings, root=ws.root, account="")
        try:
            tokens = client.exchange_code(code, verifier=verifier, redirect_uri=redirect_uri)
            return client.connect(tokens, page_id=page_id)
        except ConnectError:
            raise
        except FarmError as err:
            raise ConnectError(f"{descriptor.name}: {err}; nothing was stored") from None
