"""`farm serve`: the farm in a browser. A FastAPI app over the same catalog and code paths as the CLI:
a JSON API under /api/v1, pages rendered on the server (Jinja2 + vendored htmx), live updates by
server-sent events, the video by job id with HTTP Range, and a token (hashed in .farm/) off loopback.

Modules: ``_state`` (what every request reads: the workspace, the language, the auth settings),
``_auth`` (token, login cookie, CSRF, login rate limit), ``_app`` (the app factory and error
mapping), ``_api`` (the JSON API), ``_files`` (video and thumbnails by job or media id),
``_pages`` and ``_events`` (the pages and their live updates), ``templates/`` and ``static/``.
FastAPI and uvicorn load only when a server is made.
"""

from farm.web._auth import check_csrf, csrf_token, require_page_auth, setup_token, token_hash_path
from farm.web._state import LANGS, Lang, WebState, web_state


def __getattr__(name: str):
    """``create_app`` loads FastAPI: only when asked for (PEP 562)."""
    if name == "create_app":
        from farm.web._app import create_app

        return create_app
    raise AttributeError(f"module 'farm.web' has no attribute {name!r}")


__all__ = ["LANGS", "Lang", "WebState", "check_csrf", "create_app", "csrf_token", "require_page_auth", "setup_token",
           "token_hash_path", "web_state"]
