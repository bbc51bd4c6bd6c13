"""What every request of the web app reads: the workspace, the page language and the auth settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from farm.workspace import Workspace

Lang = Literal["vi", "en"]
LANGS: tuple[str, ...] = ("vi", "en")


@dataclass
class WebState:
    """Held in ``app.state.web``.

    ``require_token``: requests must carry the token (``Authorization: Bearer`` for the API, the
    login cookie for pages); true off loopback. ``token_sha256``: the token's hash as stored in
    ``.farm/`` (the token itself is never kept). ``extra``: room for the parts' own state (the
    login rate limiter, the CSRF secret, the thumbnail cache lock).
    """

    ws: Workspace
    lang: Lang = "en"
    require_token: bool = False
    token_sha256: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def web_state(request) -> WebState:
    """The app's :class:`WebState` from a Starlette/FastAPI request."""
    return request.app.state.web
