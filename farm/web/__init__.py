"""`farm serve`: the farm in a browser. A FastAPI app over the same catalog and code paths as the CLI:
a JSON API under /api/v1, pages rendered on the server (Jinja2 + vendored htmx), live updates by
server-sent events, the video by job id with HTTP Range, and a token (hashed in .farm/) off loopback.

Modules: ``_state`` (what every request reads: the workspace, the language, the auth settings),
``_auth`` (token, login cookie, CSRF, login rate limit), ``_app`` (the app factory and error
mapping), ``_api`` (the JSON API), ``_files`` (video and thumbnails by job or media id),
``_pages`` and ``_events`` (the pages and their live updates), ``templates/`` and ``static/``.
FastAPI and uvicorn load only when a server is made.
"""
