"""The web app's security: the token (hashed in .farm/), the login cookie, CSRF tokens, the login rate limit."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

from farm.errors import AuthError, InputError
from farm.web._state import WebState, web_state

TOKEN_FILE = "web-token.sha256"
COOKIE = "farm_session"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_ATTEMPTS_PER_MIN = 5
SESSION_TTL_S = 7 * 24 * 3600
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class NotAuthenticated(AuthError):
    """A request without the token (or the login cookie) where one is required: 401."""


class CsrfError(AuthError):
    """A state-changing request from a cookie session without its CSRF token: 403."""


class RateLimited(AuthError):
    """Too many login attempts from one address: 429 with ``retry_after_s``."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class CrossSiteError(AuthError):
    """A request from another site's page, or to a loopback server under another host name: 403."""


class LoginRequired(Exception):
    """A page asked for without a session where one is required: the app redirects to /login."""


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def token_hash_path(ws) -> Path:
    return ws.state_dir / TOKEN_FILE


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    os.chmod(path, 0o600)


def setup_token(ws, *, token_file: str | os.PathLike | None = None) -> tuple[str, str | None]:
    """The token's sha256 for a server that requires one, and the token itself when it was just made.

    With ``token_file`` the token is read from that file (its hash stored); else the stored hash is
    used, and on the first start a new token is made (``secrets.token_urlsafe(32)``), its hash
    stored (mode 0600) and the token returned once for the caller to show.
    """
    path = token_hash_path(ws)
    if token_file is not None:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise InputError(f"{token_file}: cannot read the token file ({err.strerror or err})") from None
        if len(token) < 16:
            raise InputError(f"{token_file}: the token must be at least 16 characters")
        digest = sha256_hex(token)
        _write_private(path, digest)
        return digest, None
    if path.is_file():
        digest = path.read_text(encoding="utf-8").strip()
        if len(digest) == 64:
            return digest, None
    token = secrets.token_urlsafe(32)
    digest = sha256_hex(token)
    _write_private(path, digest)
    return digest, token


def _secret(state: WebState) -> bytes:
    """The per-server secret that signs sessions and CSRF tokens (new at each start)."""
    return state.extra.setdefault("auth_secret", secrets.token_bytes(32))


def _sign(state: WebState, text: str) -> str:
    return hmac.new(_secret(state), text.encode("utf-8"), hashlib.sha256).hexdigest()


def token_ok(state: WebState, token: str | None) -> bool:
    if not token or not state.token_sha256:
        return False
    return hmac.compare_digest(sha256_hex(token), state.token_sha256)


def make_session(state: WebState) -> str:
    """A signed session value: ``<random id>.<expiry>.<hmac>`` (never the token)."""
    body = f"{secrets.token_urlsafe(18)}.{int(time.time()) + SESSION_TTL_S}"
    return f"{body}.{_sign(state, 'session:' + body)}"


def session_of(request) -> str | None:
    """The request's valid session value, or None."""
    value = request.cookies.get(COOKIE)
    if not value or value.count(".") != 2:
        return None
    body, _, mac = value.rpartition(".")
    state = web_state(request)
    if not hmac.compare_digest(mac, _sign(state, "session:" + body)):
        return None
    try:
        expires = int(body.rsplit(".", 1)[1])
    except ValueError:
        return None
    return value if expires > time.time() else None


def bearer_of(request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _anon_id(request) -> str:
    """Without a session (no token required, no login), CSRF tokens are tied to a per-browser cookie-less
    value: the server secret alone, so a form made by the server carries one an outside page cannot make."""
    return "anonymous"


def csrf_token(request) -> str:
    """The CSRF token for the request's session: put it in forms (field ``csrf``) and in ``hx-headers``
    (``X-CSRF-Token``)."""
    state = web_state(request)
    return _sign(state, "csrf:" + (session_of(request) or _anon_id(request)))


def check_csrf(request, value: str | None) -> None:
    """Raises :class:`CsrfError` unless ``value`` is the request session's CSRF token."""
    if not value or not hmac.compare_digest(value, csrf_token(request)):
        raise CsrfError("missing or wrong CSRF token (send the form's csrf field or the X-CSRF-Token header)")


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def check_origin(request) -> None:
    """Refuse what a browser sends on another site's behalf: without a token requirement (a loopback
    server) the Host must be a loopback name (a DNS-rebinding page names its own host), and a
    state-changing request whose Origin (or Sec-Fetch-Site) says another site is refused; programs
    such as curl send neither header and are not affected."""
    state = web_state(request)
    host = (request.headers.get("host") or "").lower()
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    if not state.require_token and name not in LOOPBACK_NAMES:
        raise CrossSiteError(f"this server answers only on loopback names, not {name!r}")
    if request.method not in _UNSAFE:
        return
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        if urlsplit(origin).netloc.lower() != host:
            raise CrossSiteError("a request from another site's page was refused")
    elif origin == "null" or request.headers.get("sec-fetch-site") == "cross-site":
        raise CrossSiteError("a request from another site's page was refused")


def require_page_auth(request) -> None:
    """For page routes: raises :class:`LoginRequired` (the app redirects to /login) when a token is
    required and the request has no valid session; :class:`CrossSiteError` as :func:`check_origin` says."""
    check_origin(request)
    state = web_state(request)
    if state.require_token and session_of(request) is None and not token_ok(state, bearer_of(request)):
        raise LoginRequired()


async def require_api_auth(request) -> None:
    """Dependency of every /api route: Bearer token or login cookie when required; CSRF for a
    state-changing request authenticated by the cookie."""
    state = web_state(request)
    if token_ok(state, bearer_of(request)):
        return
    check_origin(request)
    session = session_of(request)
    if state.require_token and session is None:
        raise NotAuthenticated("authentication required: send Authorization: Bearer TOKEN or log in")
    if session is not None and request.method in _UNSAFE:
        check_csrf(request, request.headers.get(CSRF_HEADER))


def check_login_rate(request) -> None:
    """At most :data:`LOGIN_ATTEMPTS_PER_MIN` login attempts a minute from one client address."""
    state = web_state(request)
    lock = state.extra.setdefault("login_lock", threading.Lock())
    attempts: dict[str, deque] = state.extra.setdefault("login_attempts", {})
    addr = request.client.host if request.client else "?"
    now = time.monotonic()
    with lock:
        recent = attempts.setdefault(addr, deque())
        while recent and now - recent[0] >= 60:
            recent.popleft()
        if len(recent) >= LOGIN_ATTEMPTS_PER_MIN:
            wait = int(60 - (now - recent[0])) + 1
            raise RateLimited(f"too many login attempts: try again in {wait} s", retry_after_s=wait)
        recent.append(now)
