"""What the fake platforms share of OAuth 2.0 sign-in: authorization codes bound to a PKCE challenge and a redirect.

A fake's authorization endpoint checks the request as its platform documents it, then
"signs the user in" at once: it answers ``302`` to the ``redirect_uri`` with ``code`` and
``state`` (or ``error=access_denied`` when the fake was told the user declines). Its token
endpoint redeems a code once, for the same client and ``redirect_uri``, with the verifier
whose challenge the authorization carried (base64url of SHA-256 as RFC 7636 says, or the
lower-case hex TikTok's desktop flow takes).

Knobs on every fake with sign-in (``fake.oauth``):

- ``deny_next``: the next sign-in is declined (``error=access_denied``).
- ``grant``: the scopes the user leaves ticked (None: every scope asked for).
- ``owner``: whose account signs in (a channel, an open_id, a Facebook user).
- ``tamper_state``: the next redirect carries another ``state`` (a forged or stale redirect).
- ``echo_errors``: the token endpoint's error answers echo the request's form, URL-encoded and
  as JSON (a real proxy or server does this; nothing of it may reach a message).
- ``authorized`` / ``redeemed``: counts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

CODE_TTL_S = 600.0
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def challenge_of(verifier: str, encoding: str) -> str:
    """The S256 challenge of ``verifier`` in ``encoding`` (``base64url`` or ``hex``)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    if encoding == "hex":
        return digest.hex()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def loopback_error(redirect_uri: str, *, hosts: tuple[str, ...], path: str | None) -> str | None:
    """What is wrong with a desktop app's loopback redirect (None: it is one the app registered)."""
    try:
        parts = urlsplit(redirect_uri)
        port = parts.port
    except ValueError:
        return f"redirect_uri {redirect_uri!r} is not a URL"
    if parts.scheme != "http" or parts.hostname not in hosts or not port:
        return f"redirect_uri {redirect_uri!r} is not http://{'|'.join(hosts)}:PORT"
    if parts.query or parts.fragment:
        return "redirect_uri may carry no query or fragment"
    if path is not None and parts.path != path:
        return f"redirect_uri's path must be {path!r}, not {parts.path!r}"
    return None


@dataclass
class OAuthState:
    """One fake's sign-in state (see the module docstring for the knobs)."""

    encoding: str = "base64url"
    owner: Any = None
    deny_next: bool = False
    grant: set[str] | None = None
    tamper_state: bool = False
    echo_errors: bool = False
    authorized: int = 0
    redeemed: int = 0
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def sign_in(self, *, client_id: str, redirect_uri: str, state: str, challenge: str | None,
                scopes: list[str], scopes_param: str | None = None, separator: str = " ") -> str:
        """The ``Location`` the authorization endpoint answers (a code, or the user's refusal);
        ``scopes_param``: the redirect also names the scopes granted (TikTok's ``scopes``)."""
        self.authorized += 1
        if self.tamper_state:
            self.tamper_state = False
            state = state[::-1] + "x"
        if self.deny_next:
            self.deny_next = False
            query = {"error": "access_denied", "error_description": "The user denied your request.", "state": state}
            return redirect_uri + "?" + urlencode(query)
        granted = [s for s in scopes if self.grant is None or s in self.grant]
        code = secrets.token_urlsafe(24).replace("-", "/")  # a '/' makes it need URL-encoding, as Google's do
        self.codes[code] = {"client_id": client_id, "redirect_uri": redirect_uri, "challenge": challenge,
                            "scopes": granted, "owner": self.owner, "at": time.monotonic(), "used": False}
        query = {"code": code, "state": state}
        if scopes_param:
            query[scopes_param] = separator.join(granted)
        return redirect_uri + "?" + urlencode(query)

    def redeem(self, *, code: str, client_id: str, redirect_uri: str, verifier: str | None) -> dict[str, Any]:
        """The code's grant, or ``ValueError(reason)`` (``invalid_grant`` in the platforms' words)."""
        grant = self.codes.get(code)
        if grant is None or grant["used"] or time.monotonic() - grant["at"] > CODE_TTL_S:
            raise ValueError("the authorization code is invalid, expired or already used")
        if grant["client_id"] != client_id:
            raise ValueError("the code was issued to another client")
        if grant["redirect_uri"] != redirect_uri:
            raise ValueError("redirect_uri does not match the one of the authorization request")
        if grant["challenge"] is not None:
            if not verifier or not _VERIFIER.match(verifier):
                raise ValueError("code_verifier is missing or malformed")
            if challenge_of(verifier, self.encoding) != grant["challenge"]:
                raise ValueError("code_verifier does not match the code_challenge")
        grant["used"] = True
        self.redeemed += 1
        return grant


def echoed(form: dict[str, str]) -> str:
    """A request's form as a careless server echoes it: URL-encoded, then as JSON."""
    return urlencode(form) + " " + json.dumps(form)
