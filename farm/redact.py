"""Secrets out of text: what a platform or token endpoint echoes never reaches a message, the catalog, a log or a webhook.

Two passes. The values the caller knows (an access token, a refresh token, the client
secret, an authorization code, a PKCE verifier) are replaced wherever they appear: raw,
URL-encoded (``%2F``, ``+``) or JSON-escaped (``\\/``). Then every credential-named
parameter is replaced whatever its value, in the forms a server echoes a request in:
``client_secret=...`` (a form or query), ``"refresh_token": "..."`` (JSON),
``'code': '...'`` (a Python repr) and ``Authorization: Bearer ...`` (a header).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"

SECRET_NAMES: tuple[str, ...] = (
    "access_token", "refresh_token", "id_token", "client_secret", "app_secret", "code", "code_verifier",
    "fb_exchange_token", "input_token", "token", "password", "api_key")
"""Parameter names whose values are credentials, in any of the forms above."""

_NAMES = "|".join(sorted((re.escape(n) for n in SECRET_NAMES), key=len, reverse=True))
# name=value in a form or a query (value up to the next separator); the name must not be the end of
# a longer word ("error_code=" is not "code="), so it follows a start, a separator or a quote.
_FORM = re.compile(rf"(?i)(?<![\w.-])({_NAMES})(=)([^&\s\"',;}})\]]+)")
# "name": "value" (JSON) and 'name': 'value' (a repr), with any spacing.
_QUOTED = re.compile(rf"(?i)([\"'])({_NAMES})\1(\s*[:=]\s*)([\"'])((?:\\.|(?!\4).)*)\4")
_HEADER = re.compile(r"(?i)\b(bearer|oauth|basic)(\s+)([A-Za-z0-9._~+/=|:%-]{8,})")


def _forms(value: str) -> Iterable[str]:
    """The ways ``value`` can appear in an echoed request or answer."""
    yield value
    yield quote(value, safe="")
    yield quote_plus(value, safe="")
    yield quote(value)
    yield json.dumps(value)[1:-1]


def redact(text: str, *secrets: object) -> str:
    """``text`` with every secret replaced by ``***``.

    Args:
        text: a message, an error body, a log line.
        secrets: known secret values (``str``, or objects with ``reveal()``, or None to skip);
            each is replaced in all its encodings. Credential-named parameters are replaced
            whatever their value.

    Example::

        redact("400: client_secret=abc&refresh_token=1%2F%2Fxyz")
        # '400: client_secret=***&refresh_token=***'
    """
    if not isinstance(text, str) or not text:
        return text
    values = []
    for secret in secrets:
        value = secret.reveal() if hasattr(secret, "reveal") else secret
        if isinstance(value, str) and len(value) >= 4:
            values.append(value)
    for value in sorted(values, key=len, reverse=True):
        for form in dict.fromkeys(_forms(value)):
            if form:
                text = text.replace(form, MASK)
    text = _FORM.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _QUOTED.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(1)}{m.group(3)}{m.group(4)}{MASK}{m.group(4)}",
                       text)
    return _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
