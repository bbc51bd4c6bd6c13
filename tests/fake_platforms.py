"""Fake YouTube, TikTok and Facebook servers on loopback: real HTTP, the wire protocol of ``docs/platforms.md``.

Each fake is a ``ThreadingHTTPServer`` on 127.0.0.1 (port chosen by the OS) in a daemon thread, with
the platform's state behind one lock. Usage::

    with FakeYouTube() as yt:
        yt.add_token("access-1", refresh="refresh-1")
        env = yt.settings_env()           # FARM_* variables that point the farm at this server
        ...                               # run the publisher with env
        yt.videos                         # what got published
        yt.requests                       # [(method, route, headers without Authorization), ...]

Shared by the three (``fake`` is any of them):

- ``fake.base_url`` ``"http://127.0.0.1:PORT"``; ``fake.settings_env()`` the ``FARM_*`` variables;
  ``fake.close()`` (or leaving the ``with``) shuts it down, held and stalled connections included.
- ``fake.add_token(access, refresh=None, ...)`` a valid token (unknown ones are refused);
  ``fake.expire(access)`` that access token is now refused as expired; ``fake.revoke(token)`` an access or
  refresh token is forgotten. Tokens are read from the ``Authorization`` header only; a known token or an
  ``access_token`` parameter in a URL is answered 400.
- ``fake.fail(route, fault, times=1)`` the next ``times`` requests of ``route`` get ``fault``:
  an HTTP status (400, 401, 403, 404, 429 with ``Retry-After: 0``, 500, 502, 503) with the platform's JSON
  error body; ``"drop"`` (an upload route reads about half of the body, others all of it, then the socket
  is closed without an answer; nothing of the request is kept); ``"stall"`` (the body is read, then no answer
  for ``fake.stall_s`` seconds, default 5.0, then the socket is closed); and per platform ``"partial"``,
  ``"lose"``, ``"quota"``, ``"rate"``, ``"auth190"``, ``"unaudited"`` (below). A fault that makes no sense for
  the route raises ``ValueError``.
- ``fake.hold_at(bytes_total)`` once an upload holds this many bytes (what the session held before the
  request plus what has been read of it), the server stops reading and blocks; ``fake.holding`` (an Event)
  is set; ``fake.release()`` unblocks it and the connection is closed without an answer (like ``"drop"``).
- ``fake.requests`` ``[(method, route, headers)]`` (lower-case header names; no Authorization, Host,
  Connection, Accept, Accept-Encoding, User-Agent); ``fake.paths`` the raw request paths with their query;
  ``fake.errors`` tracebacks of bugs in the fake itself (answered 500).
- Statistics (route ``stats`` on each): a video the fake holds has counts derived from its id
  (:func:`default_stats`: the same id, the same counts); ``fake.set_stats(remote_id, views=..., likes=...,
  comments=..., shares=...)`` replaces the counts named (``None``: the platform gives none, so the answer
  leaves it out); ``fake.stats_of(remote_id)`` the counts answered. ``add_video``/``add_post``/``add_reel``
  (below) make a published video without an upload, for tests that need many.

``FakeYouTube`` (routes ``init``, ``chunk``, ``query``, ``token``, ``channels``, ``playlistItems``, ``videos``,
``stats``):
``add_token(access, refresh=None, channel="UC1")`` (uploads playlist ``"UU" + channel[2:]``);
``force_private``; ``init_calls``; ``videos`` (dicts ``id, title, description, tags, privacyStatus, size,
sha256, channel, metadata``); ``sessions`` (a snapshot: upload_id -> ``size, received, lost, video_id``).
Faults: ``"partial"`` (chunk: keep the first half rounded down to 256 KiB, answer 308), ``"lose"`` (chunk,
query: processed normally, then the session is forgotten and the socket closed without an answer), 404 on
chunk or query also forgets the session, ``"quota"``/``"rate"`` (403 ``quotaExceeded``/``rateLimitExceeded``).
Chunks must start at the bytes held and be multiples of 256 KiB but the last (else 400); the last byte
creates the video (201 with the resource). A query answers 308 (``Range`` when bytes are held), 200 with
the video, or 404 when the session is gone. Session URLs take no token; one that is sent must be valid.
The token endpoint checks ``cid``/``csecret`` and answers a new ``access-N`` (``expires_in`` 3599); the
refresh token stays valid. ``add_video(channel="UC1", privacy="public", title=...)`` -> its id. ``stats`` is
``GET /youtube/v3/videos`` whose ``part`` names ``statistics`` (1 to 50 ``id``s, else 400): ``items`` for the
videos it holds that the token may see (another channel's private video is left out, like an unknown id),
each ``{"id", "statistics": {"viewCount", "likeCount", "favoriteCount", "commentCount"}}`` as strings, a count
set to None left out, and no share count (YouTube has none); faults ``"quota"``/``"rate"`` as above.

``FakeTikTok`` (routes ``creator_info``, ``init``, ``inbox_init``, ``chunk``, ``status``, ``token``, ``stats``):
``add_token(access, refresh=None, open_id="open-1")``; ``creator_info`` (the dict answered);
``audited`` (default True); ``processing_polls`` (default 1); ``fail_next_publish`` (a fail_reason);
``inits_per_minute`` (6), ``status_per_minute`` (30), ``upload_url_ttl_s`` (3600); ``init_calls``;
``posts`` (dicts ``publish_id, title, privacy_level, inbox, size, chunk_size, total_chunk_count, sha256,
status, fail_reason, post_id, uploaded_bytes, post_info`` and the post_info flags ``disable_duet,
disable_comment, disable_stitch, video_cover_timestamp_ms, brand_content_toggle, brand_organic_toggle,
is_aigc``). Faults: ``"quota"`` (403 ``spam_risk_too_many_posts``), ``"rate"`` (429
``rate_limit_exceeded``), ``"unaudited"`` (init), ``"lose"`` (chunk: kept, no answer).
Init checks the chunk rules (:func:`tiktok_chunk_error`), title <= 2200, privacy_level among the creator's
options, then ``audited`` (400 ``invalid_params``, 400 ``privacy_level_option_mismatch``, 403
``unaudited_client_can_only_post_to_private_accounts``); the upload URL is ``base_url/upload/PUBLISH_ID``.
Chunks go in order, each exactly its range (``Content-Type`` video/mp4): 206, then 201 when all are in
(a chunk sent after that: 404, no valid upload task). Status: ``PROCESSING_UPLOAD`` with ``uploaded_bytes`` until complete, then
``processing_polls`` more, then ``PUBLISH_COMPLETE`` (``publicaly_available_post_id: [n]``),
``SEND_TO_USER_INBOX`` or ``FAILED``. The token endpoint (``ckey``/``csecret``) rotates both tokens.
``add_post(privacy_level="PUBLIC_TO_EVERYONE", open_id="open-1", title=...)`` -> its post id (a string).
``stats`` is ``POST /v2/video/query/?fields=...`` (Video Object fields, else 400) with JSON
``{"filters": {"video_ids": [...]}}`` (1 to 20 strings, else 400 ``invalid_params``), ``stats_per_minute``
(600) per token: ``data.videos`` holds the token's published ``PUBLIC_TO_EVERYONE`` posts among the ids, with
the fields asked (a count set to None left out); any other id (a ``SELF_ONLY`` post, another creator's, an
unknown one) is absent. Fault ``"rate"``.

``FakeFacebook`` (routes ``start``, ``upload``, ``status``, ``finish``, ``stats``):
``add_token(page_token, page_id="1001")``; ``keep_on_drop`` (a dropped or held upload keeps what was
read); ``publish_polls`` (default 0); ``fail_next_publish`` (an error message for the next finish);
``reels_per_day`` (30 finishes a Page in 24 h, then 400 code 4); ``finish_calls`` (video_id -> calls
that arrived, refused ones included); ``reels`` (dicts ``video_id, page_id, description, size, sha256,
published, video_state, status``). Faults: ``"rate"`` (400 code 4), ``"auth190"`` (400 code 190
OAuthException), ``"lose"`` (upload, finish: processed, no answer). The upload host takes
``Authorization: OAuth T`` only; the graph host also ``Bearer T``. An upload's ``offset`` must equal the
bytes held (else 400 code 100); finish needs every byte (else 400 code 6000) and works once (else 400);
status shows ``publishing_phase`` ``not_started`` before finish, ``in_progress`` for ``publish_polls``
polls after it, then ``complete`` (or ``error`` with ``fail_next_publish``).
``add_reel(page_id="1001", description=...)`` -> its video id. ``stats`` is
``GET /v24.0/{video_id}/video_insights?metric=a,b&period=lifetime`` (metrics of :data:`REELS_METRICS`, all
of them when none is named; another name or period is 400 code 100): an unknown video is 400 code 100
subcode 33, another Page's token 400 code 200, a reel not published ``{"data": []}``; else ``data`` rows
``{"name", "period": "lifetime", "values": [{"value"}], "title", "description", "id"}``:
``blue_reels_play_count`` the views, ``post_video_likes_by_reaction_type`` the likes split into
``REACTION_LIKE``/``REACTION_LOVE``, ``post_video_social_actions`` ``{"COMMENT", "SHARE"}`` (empty buckets
left out, as Graph does; a metric whose counts are None is left out). Faults ``"rate"``, ``"auth190"``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import socket
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from fake_oauth import OAuthState, echoed, loopback_error

KIB = 1024
MIB = 1024 * KIB
STATUS_FAULTS = frozenset({400, 401, 403, 404, 429, 500, 502, 503})
COMMON_FAULTS = frozenset({"drop", "stall"})
_UNLOGGED_HEADERS = frozenset({"authorization", "host", "connection", "accept", "accept-encoding", "user-agent"})
STAT_NAMES = ("views", "likes", "comments", "shares")
_KEEP: Any = object()  # set_stats: a count not named keeps its value


def default_stats(remote_id: str) -> dict[str, int]:
    """The counts a fake answers for a video it holds when ``set_stats`` said nothing: derived
    from the id alone (the same id gives the same counts in every run), likes 3-9 % of views,
    comments and shares 0.1-0.5 %."""
    h = int.from_bytes(hashlib.sha256(f"stats:{remote_id}".encode()).digest()[:8], "big")
    views = 500 + h % 50_000
    return {"views": views, "likes": views * (3 + h % 7) // 100, "comments": views * (1 + (h >> 8) % 5) // 1000,
            "shares": views * (1 + (h >> 16) % 5) // 1000}


# --------------------------------------------------------------------------------------------- plumbing


@dataclass
class Reply:
    """An answer: ``body`` a dict or list (sent as JSON), bytes (as is) or None (empty)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class Answer(Exception):
    """Raised inside a handler to answer at once (an error)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class _Disconnected(Exception):
    """The client went away before sending the whole body."""


@dataclass
class _Req:
    method: str
    raw_path: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    route: str | None
    params: dict[str, str]
    length: int
    body: bytes | bytearray = b""
    form: dict[str, str] = field(default_factory=dict)
    fault: Any = None


def _first_values(qs: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(qs, keep_blank_values=True).items()}


def _int(value: Any) -> int | None:
    """An int from a JSON value (not a bool) or a header string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d+", value.strip()):
        return int(value)
    return None


class _FakeServer:
    """The server plumbing: threads, the lock, tokens, faults, hold/release, the request log."""

    ROUTES: ClassVar[dict[str, frozenset[str]]] = {}  # route -> the named faults it takes besides drop/stall
    UPLOAD_ROUTES: ClassVar[frozenset[str]] = frozenset()  # routes whose body is read with drop/hold semantics
    AUTH_SCHEMES: ClassVar[tuple[str, ...]] = ("bearer",)
    SCOPES: ClassVar[tuple[str, ...]] = ()  # what a token added without scopes= may do
    URL_CREDENTIAL_ROUTES: ClassVar[frozenset[str]] = frozenset()  # routes documented with credentials in the query

    def __init__(self, *, stall_s: float = 5.0) -> None:
        self.stall_s = stall_s
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.paths: list[str] = []
        self.errors: list[str] = []
        self.holding = threading.Event()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._released = threading.Event()
        self._hold_total: int | None = None
        self._faults: dict[str, deque] = {}
        self._access: dict[str, dict[str, Any]] = {}  # access token -> {"owner", "expired", "scopes"}
        self._refresh: dict[str, dict[str, Any]] = {}  # refresh token -> {"owner", "scopes"}
        self._seen_tokens: set[str] = set()
        self._conns: set[socket.socket] = set()
        self._counter = 0
        self._stats: dict[str, dict[str, int | None]] = {}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._address: tuple[str, int] | None = None

    # ----------------------------------------------------------------------------- public API

    @property
    def base_url(self) -> str:
        assert self._address is not None, "server not started"
        return f"http://{self._address[0]}:{self._address[1]}"

    def settings_env(self) -> dict[str, str]:
        raise NotImplementedError

    def expire(self, access: str) -> None:
        """That access token is now refused as expired (a refresh still works)."""
        with self._lock:
            self._access[access]["expired"] = True

    def revoke(self, token: str) -> None:
        """Forget an access or refresh token."""
        with self._lock:
            self._access.pop(token, None)
            self._refresh.pop(token, None)

    def fail(self, route: str, fault: int | str, times: int = 1) -> None:
        """The next ``times`` requests of ``route`` get ``fault`` (see the module docstring)."""
        if route not in self.ROUTES:
            raise ValueError(f"{type(self).__name__} has no route {route!r} (routes: {', '.join(self.ROUTES)})")
        if isinstance(fault, bool) or not (
                (isinstance(fault, int) and fault in STATUS_FAULTS)
                or (isinstance(fault, str) and fault in COMMON_FAULTS | self.ROUTES[route])):
            named = sorted(COMMON_FAULTS | self.ROUTES[route])
            raise ValueError(f"fault {fault!r} does not apply to {type(self).__name__} route {route!r} "
                             f"(statuses {sorted(STATUS_FAULTS)} or {named})")
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be a positive int, not {times!r}")
        with self._lock:
            self._faults.setdefault(route, deque()).extend([fault] * times)

    def set_stats(self, remote_id: str, *, views: Any = _KEEP, likes: Any = _KEEP, comments: Any = _KEEP,
                  shares: Any = _KEEP) -> None:
        """The counts the ``stats`` route answers for ``remote_id`` from now on: a count named
        replaces the default (:func:`default_stats`), ``None`` means the platform gives none."""
        given = {"views": views, "likes": likes, "comments": comments, "shares": shares}
        for name, value in given.items():
            if value is not _KEEP and value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                                             or value < 0):
                raise ValueError(f"{name} must be an int >= 0 or None, not {value!r}")
        with self._lock:
            kept = self._stats.setdefault(str(remote_id), {})
            kept.update({name: value for name, value in given.items() if value is not _KEEP})

    def stats_of(self, remote_id: str) -> dict[str, int | None]:
        """The counts the ``stats`` route answers for ``remote_id`` (if the fake holds it)."""
        with self._lock:
            return {**default_stats(str(remote_id)), **self._stats.get(str(remote_id), {})}

    def hold_at(self, bytes_total: int) -> None:
        """Block the upload that reaches ``bytes_total`` bytes until :meth:`release` (once)."""
        with self._lock:
            self._hold_total = bytes_total
            self.holding.clear()
            self._released.clear()

    def release(self) -> None:
        """Unblock a held upload: its connection is closed without an answer."""
        self._released.set()

    def start(self) -> _FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else headers and body as two writes cost a delayed ACK each
            wbufsize = -1  # and one buffered write per answer

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def setup(self) -> None:
                super().setup()
                with fake._lock:
                    fake._conns.add(self.connection)

            def finish(self) -> None:
                with fake._lock:
                    fake._conns.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def do_GET(self) -> None:
                fake._serve(self)

            do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False  # held or kept-alive connections must not block close()

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._address = self._httpd.server_address[:2]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name=f"{type(self).__name__}-server")
        self._thread.start()
        return self

    def close(self) -> None:
        if self._httpd is None:
            return
        httpd, self._httpd = self._httpd, None
        self._stop.set()  # wakes stalled handlers
        self._released.set()  # and held ones
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # kept-alive connections: their handler threads see EOF and end
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        assert self._thread is not None
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------- platform hooks

    def _route(self, method: str, path: str, query: dict[str, str],
               headers: dict[str, str]) -> tuple[str | None, dict[str, str]]:
        raise NotImplementedError

    def _refine(self, req: _Req) -> None:
        """A chance to pick the route from a (non-upload) body, read by then."""

    def _arrived(self, req: _Req) -> None:
        """Count a request of a known route as it arrives (under the lock, before any fault)."""

    def _upload_offset(self, req: _Req) -> int:
        """The bytes the upload of this request holds already (for hold_at)."""
        return 0

    def _dropped(self, req: _Req, data: bytes | bytearray) -> None:
        """An upload request read only in part (drop, hold): by default nothing is kept."""

    def _lost(self, req: _Req) -> None:
        """After a request processed under the ``lose`` fault (its answer is not sent)."""

    def _fault_answer(self, req: _Req, fault: int | str) -> Reply:
        raise NotImplementedError

    def _auth_error(self, req: _Req, why: str) -> Reply:
        """``why``: missing, invalid, expired."""
        raise NotImplementedError

    def _bad_request(self, req: _Req, message: str) -> Reply:
        raise NotImplementedError

    # ------------------------------------------------------------------- helpers for platforms

    def _add_token(self, access: str, refresh: str | None, owner: Any, scopes=None, **extra: Any) -> None:
        granted = frozenset(self.SCOPES if scopes is None else scopes)
        with self._lock:
            self._access[access] = {"owner": owner, "expired": False, "scopes": granted, **extra}
            self._seen_tokens.add(access)
            if refresh is not None:
                self._refresh[refresh] = {"owner": owner, "scopes": granted}
                self._seen_tokens.add(refresh)

    def _issue(self, owner: Any, scopes, *, refresh: bool = True, **extra: Any) -> tuple[str, str | None]:
        """New access (and refresh) tokens for ``owner`` with ``scopes``."""
        access = self._new_token("access")
        new_refresh = self._new_token("refresh") if refresh else None
        self._add_token(access, new_refresh, owner, scopes, **extra)
        return access, new_refresh

    def _granted(self, req: _Req, schemes: tuple[str, ...] | None = None) -> frozenset[str]:
        """The scopes of the request's token (its owner is checked first)."""
        self._owner(req, schemes)
        return self._access[self._token(req, schemes)]["scopes"]

    def _need(self, req: _Req, *any_of: str) -> Any:
        """The token's owner, when the token bears one of ``any_of``; else the platform's scope error."""
        owner = self._owner(req)
        if not self._access[self._token(req)]["scopes"] & set(any_of):
            raise Answer(self._scope_error(req, any_of))
        return owner

    def _scope_error(self, req: _Req, needed: tuple[str, ...]) -> Reply:
        raise NotImplementedError

    def _new_token(self, prefix: str) -> str:
        n = 1
        while f"{prefix}-{n}" in self._seen_tokens:
            n += 1
        self._seen_tokens.add(f"{prefix}-{n}")
        return f"{prefix}-{n}"

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def _token(self, req: _Req, schemes: tuple[str, ...] | None = None) -> str | None:
        scheme, _, value = req.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() in (schemes or self.AUTH_SCHEMES) and value.strip():
            return value.strip()
        return None

    def _owner(self, req: _Req, schemes: tuple[str, ...] | None = None) -> Any:
        """The token's owner, or an Answer with the platform's auth error."""
        token = self._token(req, schemes)
        if token is None:
            raise Answer(self._auth_error(req, "missing"))
        rec = self._access.get(token)
        if rec is None:
            raise Answer(self._auth_error(req, "invalid"))
        if rec["expired"]:
            raise Answer(self._auth_error(req, "expired"))
        return rec["owner"]

    def _check_token_if_sent(self, req: _Req) -> None:
        """For session URLs (the URL is the credential): no token is fine, a bad one is not."""
        if req.headers.get("authorization"):
            self._owner(req)

    def _json_body(self, req: _Req) -> dict:
        ctype = req.headers.get("content-type", "")
        if not ctype.lower().startswith("application/json"):
            raise Answer(self._bad_request(req, f"Content-Type must be application/json, not {ctype!r}"))
        try:
            body = json.loads(req.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise Answer(self._bad_request(req, "the body is not JSON")) from None
        if not isinstance(body, dict):
            raise Answer(self._bad_request(req, "the body is not a JSON object"))
        return body

    def _form_body(self, req: _Req) -> dict[str, str]:
        ctype = req.headers.get("content-type", "")
        if not ctype.lower().startswith("application/x-www-form-urlencoded"):
            raise Answer(self._bad_request(req, f"Content-Type must be a form, not {ctype!r}"))
        return _first_values(req.body.decode("utf-8", "replace"))

    # ------------------------------------------------------------------- serving

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        try:
            self._serve_one(h)
        except (_Disconnected, OSError):  # the client went away, or close() shut the socket
            h.close_connection = True
        except Exception as e:  # noqa: BLE001 - a bug in the fake: recorded and answered 500
            with self._lock:
                self.errors.append(traceback.format_exc())
            h.close_connection = True
            try:
                self._send(h, Reply(500, {"fake_bug": repr(e)}))
            except OSError:
                pass

    def _serve_one(self, h: BaseHTTPRequestHandler) -> None:
        url = urlsplit(h.path)
        headers = {k.lower(): v for k, v in h.headers.items()}
        if "chunked" in headers.get("transfer-encoding", "").lower():
            h.close_connection = True
            return self._send(h, Reply(411, {"fake": "send a Content-Length, not a chunked body"}))
        length = _int(headers.get("content-length", "0"))
        if length is None:
            h.close_connection = True
            return self._send(h, Reply(400, {"fake": "bad Content-Length"}))
        query = _first_values(url.query)
        route, params = self._route(h.command, url.path, query, headers)
        upload = route in self.UPLOAD_ROUTES
        req = _Req(h.command, h.path, url.path, query, headers, route, params, length)
        if not upload:
            req.body = self._read(h, length)
            if route is not None:
                self._refine(req)
        logged = {k: v for k, v in headers.items() if k not in _UNLOGGED_HEADERS}
        with self._lock:
            self.requests.append((h.command, req.route or "unknown", logged))
            self.paths.append(h.path)
            fault = None
            if req.route in self.ROUTES:
                queue = self._faults.get(req.route)
                fault = queue.popleft() if queue else None
                self._arrived(req)
        req.fault = fault
        if not self._take_body(h, req, upload) or fault in ("drop", "stall"):
            h.close_connection = True  # closed without an answer
            return
        with self._lock:
            try:
                if req.route is None:
                    raise Answer(self._fault_answer(req, 404))
                if fault is not None and fault not in ("partial", "lose"):
                    reply = self._fault_answer(req, fault)
                    if reply.status == 429:
                        reply.headers.setdefault("Retry-After", "0")
                else:
                    self._check_url(req)
                    reply = getattr(self, "_on_" + req.route)(req)
            except Answer as a:
                reply = a.reply
            if fault == "lose":
                self._lost(req)
        if fault == "lose":
            h.close_connection = True
            return
        self._send(h, reply)

    def _take_body(self, h: BaseHTTPRequestHandler, req: _Req, upload: bool) -> bool:
        """Read an upload's body (a non-upload's is read already) and play drop, hold and stall.

        False: the request ends without an answer (dropped or held)."""
        if upload and req.fault == "drop":
            data = self._read(h, req.length // 2, exact=False)
            with self._lock:
                self._dropped(req, data)
            return False
        if upload and req.fault in (None, "partial", "lose"):
            with self._lock:
                already = self._upload_offset(req)
            req.body, held = self._read_upload(h, req.length, already)
            if held:
                with self._lock:
                    self._dropped(req, req.body)
                return False
        elif upload:
            req.body = self._read(h, req.length)
        if req.fault == "stall":
            self._stop.wait(self.stall_s)
        return True

    def _check_url(self, req: _Req) -> None:
        if req.route in self.URL_CREDENTIAL_ROUTES:
            return
        pieces = {*req.path.split("/"), *req.query.values()}
        if "access_token" in req.query or pieces & self._seen_tokens:
            raise Answer(self._bad_request(req, "a token in the URL: tokens go in the Authorization header"))

    @staticmethod
    def _read(h: BaseHTTPRequestHandler, n: int, *, exact: bool = True) -> bytearray:
        buf = bytearray(n)
        view, got = memoryview(buf), 0
        while got < n:
            k = h.rfile.readinto(view[got:min(n, got + MIB)])
            if not k:
                if exact:
                    raise _Disconnected
                break
            got += k
        view.release()
        del buf[got:]
        return buf

    def _read_upload(self, h: BaseHTTPRequestHandler, length: int, already: int) -> tuple[bytearray, bool]:
        """Read the body, stopping and blocking where hold_at says. Returns (bytes read, held)."""
        buf = bytearray(length)  # one buffer, filled in place: 64 MiB bodies stay cheap
        view, got = memoryview(buf), 0
        try:
            while True:
                with self._lock:
                    hold = self._hold_total
                    reached = hold is not None and already + got >= hold
                    if reached:
                        self._hold_total = None
                        self.holding.set()
                if reached:
                    self._released.wait()
                    break
                if got >= length:
                    break
                want = min(MIB, length - got)
                if hold is not None:
                    want = min(want, hold - already - got)
                k = h.rfile.readinto(view[got:got + want])
                if not k:
                    raise _Disconnected
                got += k
        finally:
            view.release()
        del buf[got:]
        return buf, reached

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.body is None:
            data, ctype = b"", None
        elif isinstance(reply.body, bytes):
            data, ctype = reply.body, "application/octet-stream"
        else:
            data, ctype = json.dumps(reply.body, ensure_ascii=False).encode("utf-8"), "application/json; charset=UTF-8"
        try:
            h.send_response(reply.status)
            if ctype:
                h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data)))
            for k, v in reply.headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True


# --------------------------------------------------------------------------------------------- YouTube

YT_CHUNK = 256 * KIB
_YT_REASONS = {400: "badRequest", 401: "authError", 403: "forbidden", 404: "notFound", 429: "rateLimitExceeded",
               500: "backendError", 502: "backendError", 503: "backendError"}
_YT_MESSAGES = {400: "Bad Request", 401: "Request had invalid authentication credentials.", 403: "Forbidden",
                404: "Not Found", 429: "Too many requests.", 500: "Backend Error", 502: "Bad Gateway",
                503: "Service unavailable. Please retry."}


YT_UPLOAD = "https://www.googleapis.com/auth/youtube.upload"
YT_READONLY = "https://www.googleapis.com/auth/youtube.readonly"
YT_MANAGE = ("https://www.googleapis.com/auth/youtube", "https://www.googleapis.com/auth/youtube.force-ssl")
_B64URL_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")


class FakeYouTube(_FakeServer):
    """YouTube Data API v3: resumable uploads, find by marker, Google's OAuth (authorization and token endpoints)."""

    ROUTES: ClassVar[dict[str, frozenset[str]]] = {
        "authorize": frozenset(),
        "init": frozenset({"quota", "rate", "upload_limit"}),
        "chunk": frozenset({"partial", "lose", "rate"}),
        "query": frozenset({"lose"}),
        "token": frozenset({"lose"}),
        "channels": frozenset({"quota", "rate"}),
        "playlistItems": frozenset({"quota", "rate"}),
        "videos": frozenset({"quota", "rate"}),
        "stats": frozenset({"quota", "rate"}),
    }
    UPLOAD_ROUTES = frozenset({"chunk"})
    CLIENT_ID = "cid"
    CLIENT_SECRET = "csecret"
    UPLOAD_PATH = "/upload/youtube/v3/videos"
    API_PREFIX = "/youtube/v3/"
    AUTH_PATH = "/o/oauth2/v2/auth"
    SCOPES = (YT_UPLOAD, YT_READONLY)

    def __init__(self, *, stall_s: float = 5.0) -> None:
        super().__init__(stall_s=stall_s)
        self.force_private = False
        self.testing = False  # a consent screen in Testing: refresh tokens live 7 days (refresh_token_expires_in)
        self.oauth = OAuthState(encoding="base64url", owner="UC1")
        self.init_calls = 0
        self.videos: list[dict[str, Any]] = []
        self._sessions: dict[str, dict[str, Any]] = {}

    def settings_env(self) -> dict[str, str]:
        return {"FARM_YOUTUBE_API_BASE": self.base_url + "/youtube/v3",
                "FARM_YOUTUBE_UPLOAD_BASE": self.base_url + "/upload/youtube/v3",
                "FARM_YOUTUBE_TOKEN_URL": self.base_url + "/token",
                "FARM_YOUTUBE_AUTH_URL": self.base_url + self.AUTH_PATH,
                "FARM_YOUTUBE_CLIENT_ID": self.CLIENT_ID, "FARM_YOUTUBE_CLIENT_SECRET": self.CLIENT_SECRET}

    def add_token(self, access: str, refresh: str | None = None, *, channel: str = "UC1", scopes=None) -> None:
        """A valid token of ``channel``; ``scopes`` (default: youtube.upload and youtube.readonly)."""
        self._add_token(access, refresh, channel, scopes)

    @staticmethod
    def uploads_playlist(channel: str) -> str:
        return "UU" + channel.removeprefix("UC")

    @property
    def sessions(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {sid: {"size": s["size"], "received": len(s["data"]), "lost": s["lost"],
                          "video_id": s["video"]["id"] if s["video"] else None} for sid, s in self._sessions.items()}

    # ---------------------------------------------------------------- routing and hooks

    def _route(self, method, path, query, headers):
        if path == self.UPLOAD_PATH and method == "POST":
            return "init", {}
        if path == self.UPLOAD_PATH and method == "PUT" and "upload_id" in query:
            kind = "query" if headers.get("content-range", "").strip().startswith("bytes */") else "chunk"
            return kind, {"upload_id": query["upload_id"]}
        if path == "/token" and method == "POST":
            return "token", {}
        if path == self.AUTH_PATH and method == "GET":
            return "authorize", {}
        if method == "GET" and path.startswith(self.API_PREFIX):
            name = path[len(self.API_PREFIX):]
            if name == "videos" and "statistics" in query.get("part", "").split(","):
                return "stats", {}
            if name in ("channels", "playlistItems", "videos"):
                return name, {}
        return None, {}

    def _arrived(self, req):
        if req.route == "init":
            self.init_calls += 1

    def _upload_offset(self, req):
        s = self._sessions.get(req.params.get("upload_id", ""))
        return len(s["data"]) if s else 0

    def _lost(self, req):
        s = self._sessions.get(req.params.get("upload_id", ""))
        if s is not None:
            s["lost"] = True

    def _err(self, status: int, reason: str, message: str, *, domain: str = "global") -> Reply:
        headers = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'} \
            if status == 401 else {}
        return Reply(status, {"error": {"code": status, "message": message,
                                        "errors": [{"message": message, "domain": domain, "reason": reason}]}},
                     headers)

    def _bad_request(self, req, message):
        return self._err(400, "badRequest", message)

    def _scope_error(self, req, needed):
        # A token without the method's scope: 403 insufficientPermissions, with the google.rpc ErrorInfo
        # (ACCESS_TOKEN_SCOPE_INSUFFICIENT) and the WWW-Authenticate header Google's servers send.
        message = "Request had insufficient authentication scopes."
        return Reply(403, {"error": {"code": 403, "message": message,
                                     "errors": [{"message": "Insufficient Permission", "domain": "global",
                                                 "reason": "insufficientPermissions"}],
                                     "status": "PERMISSION_DENIED",
                                     "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                                  "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                                                  "domain": "googleapis.com",
                                                  "metadata": {"service": "youtube.googleapis.com"}}]}},
                     {"WWW-Authenticate": f'Bearer realm="https://accounts.google.com/", error="insufficient_scope", '
                                         f'scope="{" ".join(needed)}"'})

    def _auth_error(self, req, why):
        return self._err(401, "authError", {"missing": "Login Required.", "invalid": "Invalid Credentials",
                                            "expired": "Request had invalid authentication credentials: "
                                                       "the access token expired."}[why])

    def _fault_answer(self, req, fault):
        if req.route == "token":
            error = {400: "invalid_grant", 401: "invalid_client"}.get(fault, "internal_failure")
            return Reply(fault, {"error": error, "error_description": f"fake fault {fault}"})
        if fault == "quota":
            return self._err(403, "quotaExceeded", "The request cannot be completed because you have exceeded "
                                                   "your quota.", domain="youtube.quota")
        if fault == "upload_limit":
            return self._err(400, "uploadLimitExceeded", "The user has exceeded the number of videos they may "
                                                         "upload.", domain="youtube.video")
        if fault == "rate":
            return self._err(403, "rateLimitExceeded", "The request cannot be completed because you have "
                                                       "exceeded the rate limit.", domain="usageLimits")
        if fault == 404 and req.route in ("chunk", "query"):
            self._lost(req)
        return self._err(fault, _YT_REASONS[fault], _YT_MESSAGES[fault])

    # ---------------------------------------------------------------- routes

    def _on_init(self, req: _Req) -> Reply:
        channel = self._need(req, YT_UPLOAD, *YT_MANAGE)
        if req.query.get("uploadType") != "resumable":
            raise Answer(self._bad_request(req, "uploadType must be resumable"))
        parts = set(req.query.get("part", "").split(","))
        if not {"snippet", "status"} <= parts:
            raise Answer(self._err(400, "invalidPart", "part must include snippet and status"))
        size = _int(req.headers.get("x-upload-content-length"))
        if not size:
            raise Answer(self._bad_request(req, "X-Upload-Content-Length must be the video's size in bytes"))
        if not req.headers.get("x-upload-content-type", "").startswith("video/"):
            raise Answer(self._bad_request(req, "X-Upload-Content-Type must be a video type"))
        meta = self._json_body(req)
        if set(meta) - parts:
            raise Answer(self._err(400, "unexpectedPart", f"{sorted(set(meta) - parts)} not in part"))
        snippet, status = meta.get("snippet"), meta.get("status")
        if not isinstance(snippet, dict) or not isinstance(status, dict):
            raise Answer(self._bad_request(req, "snippet and status are required"))
        title, description = snippet.get("title"), snippet.get("description", "")
        tags = snippet.get("tags", [])
        if not isinstance(title, str) or not title.strip() or len(title) > 100 or any(c in title for c in "<>"):
            raise Answer(self._err(400, "invalidTitle", "The request metadata specifies an invalid video title."))
        if not isinstance(description, str) or len(description.encode()) > 5000 or any(c in description for c in "<>"):
            raise Answer(self._err(400, "invalidDescription", "The request metadata specifies an invalid "
                                                              "video description."))
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags) or sum(map(len, tags)) > 500:
            raise Answer(self._err(400, "invalidTags", "The request metadata specifies invalid video keywords."))
        privacy = status.get("privacyStatus", "public")
        if privacy not in ("public", "private", "unlisted"):
            raise Answer(self._err(400, "invalidPrivacyStatus", f"privacyStatus {privacy!r}"))
        sid = f"up{self._next()}"
        self._sessions[sid] = {"channel": channel, "size": size, "meta": meta, "data": bytearray(),
                               "video": None, "lost": False}
        location = f"{self.base_url}{self.UPLOAD_PATH}?uploadType=resumable&upload_id={sid}"
        return Reply(200, None, {"Location": location, "X-GUploader-UploadID": sid})

    def _session(self, req: _Req) -> dict[str, Any]:
        s = self._sessions.get(req.params["upload_id"])
        if s is None or s["lost"]:
            raise Answer(self._err(404, "notFound", "The upload session does not exist or has expired."))
        self._check_token_if_sent(req)
        return s

    @staticmethod
    def _308(s: dict[str, Any]) -> Reply:
        held = len(s["data"])
        return Reply(308, None, {"Range": f"bytes=0-{held - 1}"} if held else {})

    def _on_chunk(self, req: _Req) -> Reply:
        s = self._session(req)
        if s["video"] is not None:
            return Reply(200, self._resource(s["video"]))
        m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", req.headers.get("content-range", "").strip())
        if not m:
            raise Answer(self._bad_request(req, "Content-Range must be bytes A-B/SIZE"))
        a, b, total = map(int, m.groups())
        held = len(s["data"])
        if total != s["size"]:
            raise Answer(self._bad_request(req, f"Content-Range size {total} is not the session's {s['size']}"))
        if b < a or b >= total or b - a + 1 != len(req.body):
            raise Answer(self._bad_request(req, f"Content-Range {a}-{b} does not match the {len(req.body)} bytes sent"))
        if a != held:
            raise Answer(self._bad_request(req, f"the chunk starts at {a}, the session holds {held} bytes"))
        if b + 1 != total and len(req.body) % YT_CHUNK:
            raise Answer(self._bad_request(req, "a chunk other than the last must be a multiple of 256 KiB"))
        keep = req.body
        if req.fault == "partial":
            keep = req.body[:len(req.body) // 2 // YT_CHUNK * YT_CHUNK]
        s["data"] += keep
        if len(s["data"]) == s["size"]:
            s["video"] = self._create_video(s)
            return Reply(201, self._resource(s["video"]))
        return self._308(s)

    def _on_query(self, req: _Req) -> Reply:
        s = self._session(req)
        m = re.fullmatch(r"bytes \*/(\d+)", req.headers.get("content-range", "").strip())
        if not m or int(m.group(1)) != s["size"]:
            raise Answer(self._bad_request(req, f"a query's Content-Range is bytes */{s['size']}"))
        if s["video"] is not None:
            return Reply(200, self._resource(s["video"]))
        return self._308(s)

    def _create_video(self, s: dict[str, Any]) -> dict[str, Any]:
        n = len(self.videos) + 1
        vid = "yt" + base64.urlsafe_b64encode(hashlib.sha256(f"video-{n}".encode()).digest()).decode()[:9]
        snippet, status = s["meta"]["snippet"], s["meta"]["status"]
        video = {"id": vid, "title": snippet["title"], "description": snippet.get("description", ""),
                 "tags": list(snippet.get("tags", [])),
                 "privacyStatus": "private" if self.force_private else status.get("privacyStatus", "public"),
                 "size": s["size"], "sha256": hashlib.sha256(s["data"]).hexdigest(), "channel": s["channel"],
                 "metadata": s["meta"], "publishedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.videos.append(video)
        return video

    @staticmethod
    def _resource(v: dict[str, Any]) -> dict[str, Any]:
        status = v["metadata"].get("status", {})
        return {"kind": "youtube#video", "etag": hashlib.sha256(v["id"].encode()).hexdigest()[:32], "id": v["id"],
                "snippet": {"publishedAt": v["publishedAt"], "channelId": v["channel"], "title": v["title"],
                            "description": v["description"], "tags": v["tags"],
                            "categoryId": v["metadata"]["snippet"].get("categoryId", "22")},
                "status": {"uploadStatus": "uploaded", "privacyStatus": v["privacyStatus"], "license": "youtube",
                           "embeddable": True, "publicStatsViewable": True,
                           "selfDeclaredMadeForKids": bool(status.get("selfDeclaredMadeForKids", False)),
                           "containsSyntheticMedia": bool(status.get("containsSyntheticMedia", False))}}

    def _on_channels(self, req: _Req) -> Reply:
        channel = self._need(req, YT_READONLY, *YT_MANAGE)
        if req.query.get("mine") != "true":
            raise Answer(self._bad_request(req, "the fake answers mine=true only"))
        return Reply(200, {"kind": "youtube#channelListResponse", "pageInfo": {"totalResults": 1, "resultsPerPage": 5},
                           "items": [{"kind": "youtube#channel", "id": channel,
                                      "snippet": {"title": f"Kênh {channel}"}, "contentDetails": {
                               "relatedPlaylists": {"likes": "", "uploads": self.uploads_playlist(channel)}}}]})

    def _on_playlistItems(self, req: _Req) -> Reply:  # the route's name
        self._need(req, YT_READONLY, *YT_MANAGE)
        playlist = req.query.get("playlistId", "")
        channels = {r["owner"] for r in self._access.values()} | {v["channel"] for v in self.videos}
        channel = next((c for c in channels if self.uploads_playlist(c) == playlist), None)
        if channel is None:
            raise Answer(self._err(404, "playlistNotFound", f"playlist {playlist!r} not found",
                                   domain="youtube.playlistItem"))
        per_page = _int(req.query.get("maxResults", "5"))
        if per_page is None or per_page > 50:
            raise Answer(self._err(400, "invalidParameter", "maxResults must be 0-50"))
        token = req.query.get("pageToken", "p0")
        start = _int(token[1:]) if token.startswith("p") else None
        if start is None:
            raise Answer(self._err(400, "invalidPageToken", f"pageToken {token!r}"))
        mine = [v for v in reversed(self.videos) if v["channel"] == channel]  # newest first
        page = mine[start:start + per_page]
        body: dict[str, Any] = {"kind": "youtube#playlistItemListResponse",
                                "pageInfo": {"totalResults": len(mine), "resultsPerPage": per_page},
                                "items": [{"kind": "youtube#playlistItem", "id": "PI" + v["id"],
                                           "contentDetails": {"videoId": v["id"],
                                                              "videoPublishedAt": v["publishedAt"]}} for v in page]}
        if start + per_page < len(mine):
            body["nextPageToken"] = f"p{start + per_page}"
        return Reply(200, body)

    def add_video(self, *, channel: str = "UC1", privacy: str = "public", title: str = "Seeded video") -> str:
        """A published video on ``channel`` without an upload (for statistics tests); its id."""
        if privacy not in ("public", "private", "unlisted"):
            raise ValueError(f"privacy {privacy!r}: public, private or unlisted")
        meta = {"snippet": {"title": title, "description": "", "tags": [], "categoryId": "22"},
                "status": {"privacyStatus": privacy}}
        with self._lock:
            video = self._create_video({"meta": meta, "size": 0, "data": b"", "channel": channel})
            video["privacyStatus"] = privacy
            return video["id"]

    def _on_stats(self, req: _Req) -> Reply:
        channel = self._need(req, YT_READONLY, *YT_MANAGE)  # videos.list does not take youtube.upload
        parts = req.query.get("part", "").split(",")
        if set(parts) - {"id", "snippet", "status", "statistics"}:
            raise Answer(self._err(400, "invalidPart", f"the fake answers id, snippet, status, statistics, "
                                                       f"not {req.query.get('part')!r}"))
        ids = [i for i in req.query.get("id", "").split(",") if i]
        if not ids:
            raise Answer(self._err(400, "missingRequiredParameter", "No filter selected. Expected one of: id"))
        if len(ids) > 50:
            raise Answer(self._err(400, "invalidParameter", "at most 50 ids"))
        by_id = {v["id"]: v for v in self.videos}
        items = []
        for i in ids:
            v = by_id.get(i)
            # Another channel's private video is not there for this token: left out, like a deleted one.
            if v is None or (v["privacyStatus"] == "private" and v["channel"] != channel):
                continue
            resource = self._resource(v)
            item = {"kind": resource["kind"], "etag": resource["etag"], "id": v["id"]}
            item.update({part: resource[part] for part in ("snippet", "status") if part in parts})
            counts = self.stats_of(v["id"])
            statistics = {"viewCount": counts["views"], "likeCount": counts["likes"], "favoriteCount": 0,
                          "commentCount": counts["comments"]}  # YouTube has no share count
            item["statistics"] = {k: str(n) for k, n in statistics.items() if n is not None}  # strings, as YouTube's
            items.append(item)
        return Reply(200, {"kind": "youtube#videoListResponse",
                           "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)}, "items": items})

    def _on_videos(self, req: _Req) -> Reply:
        self._need(req, YT_READONLY, *YT_MANAGE)
        ids = [i for i in req.query.get("id", "").split(",") if i]
        if len(ids) > 50:
            raise Answer(self._err(400, "invalidParameter", "at most 50 ids"))
        by_id = {v["id"]: v for v in self.videos}
        items = [self._resource(by_id[i]) for i in ids if i in by_id]
        return Reply(200, {"kind": "youtube#videoListResponse",
                           "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)}, "items": items})

    def _on_authorize(self, req: _Req) -> Reply:
        """Google's authorization endpoint for an installed app: a loopback redirect, response_type=code,
        known scopes, an S256 challenge (base64url, 43 characters); then the user signs in at once."""
        q = req.query
        if q.get("client_id") != self.CLIENT_ID:
            return Reply(401, {"error": "invalid_client", "error_description": "The OAuth client was not found."})
        problem = loopback_error(q.get("redirect_uri", ""), hosts=("127.0.0.1", "[::1]", "::1", "localhost"), path=None)
        scopes = q.get("scope", "").split()
        if problem is None and q.get("response_type") != "code":
            problem = "response_type must be code"
        if problem is None and (not scopes or set(scopes) - {*self.SCOPES, *YT_MANAGE}):
            problem = f"invalid scope {q.get('scope')!r}"
        if problem is None and (q.get("code_challenge_method") != "S256"
                                or not _B64URL_CHALLENGE.match(q.get("code_challenge", ""))):
            problem = "code_challenge must be the base64url SHA-256 of the verifier, code_challenge_method S256"
        if problem:  # Google shows an error page ("Error 400: invalid_request") and does not redirect
            return Reply(400, {"error": "invalid_request", "error_description": problem})
        location = self.oauth.sign_in(client_id=q["client_id"], redirect_uri=q["redirect_uri"], state=q.get("state", ""),
                                      challenge=q["code_challenge"], scopes=scopes)
        return Reply(302, None, {"Location": location})

    def _token_error(self, status: int, error: str, description: str, form: dict[str, str]) -> Reply:
        if self.oauth.echo_errors:
            description += " (request: " + echoed(form) + ")"
        return Reply(status, {"error": error, "error_description": description})

    def _on_token(self, req: _Req) -> Reply:
        try:
            form = self._form_body(req)
        except Answer:
            return Reply(400, {"error": "invalid_request", "error_description": "a form body is required"})
        grant = form.get("grant_type")
        if grant not in ("refresh_token", "authorization_code"):
            return self._token_error(400, "unsupported_grant_type", "Invalid grant_type", form)
        if form.get("client_id") != self.CLIENT_ID:
            return self._token_error(401, "invalid_client", "The OAuth client was not found.", form)
        if not form.get("client_secret"):  # a Desktop client's exchange without it is refused, PKCE or not
            return self._token_error(400, "invalid_request", "client_secret is missing.", form)
        if form["client_secret"] != self.CLIENT_SECRET:
            return self._token_error(401, "invalid_client", "Unauthorized", form)
        if grant == "authorization_code":
            try:
                got = self.oauth.redeem(code=form.get("code", ""), client_id=form["client_id"],
                                        redirect_uri=form.get("redirect_uri", ""), verifier=form.get("code_verifier"))
            except ValueError as err:
                return self._token_error(400, "invalid_grant", str(err), form)
            access, refresh = self._issue(got["owner"], got["scopes"])
            return Reply(200, self._token_body(access, got["scopes"], refresh=refresh))
        held = self._refresh.get(form.get("refresh_token", ""))
        if held is None:
            return self._token_error(400, "invalid_grant", "Token has been expired or revoked.", form)
        access, _ = self._issue(held["owner"], held["scopes"], refresh=False)
        return Reply(200, self._token_body(access, held["scopes"]))

    def _token_body(self, access: str, scopes, *, refresh: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"access_token": access, "expires_in": 3599, "token_type": "Bearer",
                                "scope": " ".join(sorted(scopes))}
        if refresh is not None:
            body["refresh_token"] = refresh
            if self.testing:
                body["refresh_token_expires_in"] = 604799
        return body


# --------------------------------------------------------------------------------------------- TikTok

_TT_CODES = {400: "invalid_params", 401: "access_token_invalid", 403: "scope_not_authorized", 404: "not_found",
             429: "rate_limit_exceeded", 500: "internal_error", 502: "internal_error", 503: "internal_error"}
_TT_FLAGS = ("disable_duet", "disable_comment", "disable_stitch", "video_cover_timestamp_ms",
             "brand_content_toggle", "brand_organic_toggle", "is_aigc")
_TT_VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm")


TT_SCOPES = ("user.info.basic", "video.publish", "video.upload", "video.list")
_HEX_CHALLENGE = re.compile(r"^[0-9a-f]{64}$")


def tiktok_chunk_error(video_size: Any, chunk_size: Any, total_chunk_count: Any) -> str | None:
    """What is wrong with a TikTok FILE_UPLOAD source_info's chunking, or None.

    The Media Transfer Guide: chunks "at least 5 MB but no greater than 64 MB, except for the final chunk
    ... (up to 128 MB)"; a video "less than 5 MB must be uploaded as a whole"; one "greater than 64 MB must be
    uploaded in multiple chunks"; total_chunk_count = video_size // chunk_size; 1 to 1000 chunks. The guide
    does not say whether MB means 10^6 or 2^20 bytes, so the fake refuses what either reading refuses: a
    chunk under 5 MiB or over 64,000,000 bytes, a single chunk over 64,000,000, a last one over 128,000,000.
    """
    size, chunk, count = _int(video_size), _int(chunk_size), _int(total_chunk_count)
    if not size or not chunk or not count:
        return "video_size, chunk_size and total_chunk_count must be positive integers"
    if count == 1:
        if chunk != size:
            return "one chunk: chunk_size must equal video_size"
        if size > 64_000_000:
            return "a video over 64 MB must be uploaded in multiple chunks"
        return None
    if size < 5 * MIB:
        return "a video under 5 MB goes in one chunk: chunk_size = video_size, total_chunk_count = 1"
    if not 5 * MIB <= chunk <= 64_000_000:
        return "The chunk size is invalid"
    if count != size // chunk:
        return f"total_chunk_count must be video_size // chunk_size = {size // chunk}"
    if count > 1000:
        return "at most 1000 chunks"
    if size - (count - 1) * chunk > 128_000_000:
        return "the last chunk may not exceed 128 MB"
    return None


class FakeTikTok(_FakeServer):
    """TikTok Content Posting API: creator info, direct and inbox FILE_UPLOAD posts, status, token refresh."""

    ROUTES: ClassVar[dict[str, frozenset[str]]] = {
        "authorize": frozenset(),
        "creator_info": frozenset({"rate"}),
        "init": frozenset({"quota", "rate", "unaudited"}),
        "inbox_init": frozenset({"quota", "rate"}),
        "chunk": frozenset({"lose"}),
        "status": frozenset({"rate"}),
        "token": frozenset({"lose"}),
        "stats": frozenset({"rate"}),
    }
    SCOPES = TT_SCOPES
    AUTH_PATH = "/v2/auth/authorize/"
    UPLOAD_ROUTES = frozenset({"chunk"})
    CLIENT_KEY = "ckey"
    CLIENT_SECRET = "csecret"
    _PATHS: ClassVar[dict[str, str]] = {"/v2/post/publish/creator_info/query/": "creator_info", "/v2/post/publish/video/init/": "init",
              "/v2/post/publish/inbox/video/init/": "inbox_init", "/v2/post/publish/status/fetch/": "status",
              "/v2/oauth/token/": "token", "/v2/video/query/": "stats"}
    VIDEO_FIELDS = frozenset({"id", "create_time", "cover_image_url", "share_url", "video_description", "duration",
                              "height", "width", "title", "embed_html", "embed_link", "like_count", "comment_count",
                              "share_count", "view_count"})

    def __init__(self, *, stall_s: float = 5.0) -> None:
        super().__init__(stall_s=stall_s)
        self.creator_info: dict[str, Any] = {
            "creator_avatar_url": "https://p16.tiktokcdn.com/fake.jpeg", "creator_username": "shop_vn",
            "creator_nickname": "Shop VN",
            "privacy_level_options": ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"],
            "comment_disabled": False, "duet_disabled": False, "stitch_disabled": False,
            "max_video_post_duration_sec": 600}
        self.audited = True
        self.oauth = OAuthState(encoding="hex", owner="open-1")
        self.access_ttl_s = 7200  # "Access token | 2 hours" (token management, 2026-11-05)
        self.id_delay_polls = 0  # status polls after PUBLISH_COMPLETE without publicaly_available_post_id
        self.processing_polls = 1
        self.fail_next_publish: str | None = None
        self.inits_per_minute = 6
        self.status_per_minute = 30
        self.stats_per_minute = 600
        self._post_owner: dict[str, str] = {}  # post_id -> open_id, for published posts
        self.upload_url_ttl_s = 3600.0
        self.init_calls = 0
        self.posts: list[dict[str, Any]] = []
        self._uploads: dict[str, dict[str, Any]] = {}
        self._calls: dict[tuple[str, str], deque] = {}

    def settings_env(self) -> dict[str, str]:
        return {"FARM_TIKTOK_API_BASE": self.base_url, "FARM_TIKTOK_CLIENT_KEY": self.CLIENT_KEY,
                "FARM_TIKTOK_CLIENT_SECRET": self.CLIENT_SECRET, "FARM_TIKTOK_AUTH_URL": self.base_url + self.AUTH_PATH}

    def add_token(self, access: str, refresh: str | None = None, *, open_id: str = "open-1", scopes=None) -> None:
        """A valid token of ``open_id``; ``scopes`` (default: the four the farm asks for)."""
        self._add_token(access, refresh, open_id, scopes)

    # ---------------------------------------------------------------- routing and hooks

    def _route(self, method, path, query, headers):
        if method == "POST" and path in self._PATHS:
            return self._PATHS[path], {}
        if method == "GET" and path == self.AUTH_PATH:
            return "authorize", {}
        if method == "PUT" and path.startswith("/upload/"):
            return "chunk", {"publish_id": path[len("/upload/"):]}
        return None, {}

    def _arrived(self, req):
        if req.route in ("init", "inbox_init"):
            self.init_calls += 1

    def _upload_offset(self, req):
        up = self._uploads.get(req.params.get("publish_id", ""))
        return len(up["data"]) if up else 0

    def _log_id(self) -> str:
        return f"20261101000000FAKE{self._next():08d}"

    def _ok(self, data: dict[str, Any]) -> Reply:
        return Reply(200, {"data": data, "error": {"code": "ok", "message": "", "log_id": self._log_id()}})

    def _err(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
        return Reply(status, {"data": {}, "error": {"code": code, "message": message, "log_id": self._log_id()}},
                     headers or {})

    def _bad_request(self, req, message):
        return self._err(400, "invalid_params", message)

    def _scope_error(self, req, needed):
        return self._err(401, "scope_not_authorized", "The user did not authorize the scope required for completing "
                                                      f"this request ({' or '.join(needed)}).")

    def _auth_error(self, req, why):
        return self._err(401, "access_token_invalid", {
            "missing": "The access token is missing.", "invalid": "The access token is invalid or not found.",
            "expired": "The access token has expired."}[why])

    def _fault_answer(self, req, fault):
        if req.route == "token":
            error = {400: "invalid_grant", 401: "invalid_client"}.get(fault, "server_error")
            return Reply(fault, {"error": error, "error_description": f"fake fault {fault}", "log_id": self._log_id()})
        if fault == "quota":
            return self._err(403, "spam_risk_too_many_posts", "The user has posted too many videos today.")
        if fault == "rate":
            return self._err(429, "rate_limit_exceeded", "API rate limit exceeded.")
        if fault == "unaudited":
            return self._err(403, "unaudited_client_can_only_post_to_private_accounts",
                             "Unaudited clients can only post to private accounts.")
        return self._err(fault, _TT_CODES[fault], f"fake fault {fault}")

    def _limit(self, kind: str, token: str, per_minute: int | None) -> None:
        if per_minute is None:
            return
        now = time.monotonic()
        times = self._calls.setdefault((kind, token), deque())
        while times and now - times[0] >= 60:
            times.popleft()
        if len(times) >= per_minute:
            wait = max(1, math.ceil(60 - (now - times[0])))
            raise Answer(self._err(429, "rate_limit_exceeded", f"at most {per_minute} {kind} calls a minute",
                                   {"Retry-After": str(wait)}))
        times.append(now)

    # ---------------------------------------------------------------- routes

    def _on_creator_info(self, req: _Req) -> Reply:
        self._need(req, "video.publish")
        return self._ok(json.loads(json.dumps(self.creator_info)))

    def _on_init(self, req: _Req) -> Reply:
        return self._init(req, inbox=False)

    def _on_inbox_init(self, req: _Req) -> Reply:
        return self._init(req, inbox=True)

    def _init(self, req: _Req, *, inbox: bool) -> Reply:
        open_id = self._need(req, "video.upload" if inbox else "video.publish")
        self._limit("init", self._token(req) or "", self.inits_per_minute)
        body = self._json_body(req)
        src = body.get("source_info")
        if not isinstance(src, dict) or src.get("source") != "FILE_UPLOAD":
            raise Answer(self._bad_request(req, "source_info.source must be FILE_UPLOAD"))
        problem = tiktok_chunk_error(src.get("video_size"), src.get("chunk_size"), src.get("total_chunk_count"))
        if problem:
            raise Answer(self._bad_request(req, problem))
        if inbox:
            if set(body) != {"source_info"}:
                raise Answer(self._bad_request(req, "an inbox init takes source_info only"))
            info: dict[str, Any] = {}
            title, privacy = None, None
        else:
            info = body.get("post_info")
            if not isinstance(info, dict):
                raise Answer(self._bad_request(req, "post_info is required"))
            title, privacy = info.get("title", ""), info.get("privacy_level")
            if not isinstance(title, str) or len(title) > 2200:
                raise Answer(self._bad_request(req, "title must be a string of at most 2200 characters"))
            if privacy not in self.creator_info.get("privacy_level_options", []):
                raise Answer(self._err(400, "privacy_level_option_mismatch",
                                       f"privacy_level {privacy!r} is not among the creator's options"))
            if not self.audited and privacy != "SELF_ONLY":
                raise Answer(self._err(403, "unaudited_client_can_only_post_to_private_accounts",
                                       "Unaudited clients can only post to private accounts."))
            self._check_post_info(req, info, privacy)
        publish_id = f"v_pub_file~v2-1.{7300000000000000000 + len(self.posts) + 1}"
        post = {"publish_id": publish_id, "title": title, "privacy_level": privacy, "inbox": inbox,
                "size": src["video_size"], "chunk_size": src["chunk_size"],
                "total_chunk_count": src["total_chunk_count"], "sha256": None, "status": "PROCESSING_UPLOAD",
                "fail_reason": None, "post_id": None, "uploaded_bytes": 0, "post_info": info,
                **{k: info.get(k) for k in _TT_FLAGS}}
        self.posts.append(post)
        self._uploads[publish_id] = {"post": post, "open_id": open_id, "data": bytearray(),
                                     "created": time.monotonic(), "polls": 0, "id_polls": 0, "fail": None,
                                     "complete": False}
        return self._ok({"publish_id": publish_id, "upload_url": f"{self.base_url}/upload/{publish_id}"})

    def _check_post_info(self, req: _Req, info: dict[str, Any], privacy: str) -> None:
        """What the content sharing guidelines ask: brand_content_toggle given (the reference marks it
        required), never branded content self-only ("Branded content visibility cannot be set to
        private"), and no interaction the creator turned off (creator info) switched on."""
        if not isinstance(info.get("brand_content_toggle"), bool):
            raise Answer(self._bad_request(req, "post_info.brand_content_toggle is required"))
        if info["brand_content_toggle"] and privacy == "SELF_ONLY":
            raise Answer(self._bad_request(req, "Branded content visibility cannot be set to private."))
        for flag, off in (("disable_comment", "comment_disabled"), ("disable_duet", "duet_disabled"),
                          ("disable_stitch", "stitch_disabled")):
            if self.creator_info.get(off) and info.get(flag) is False:
                raise Answer(self._bad_request(req, f"{flag} must be true: the creator turned it off ({off})"))

    def _on_chunk(self, req: _Req) -> Reply:
        up = self._uploads.get(req.params["publish_id"])
        if up is None:
            raise Answer(self._err(404, "not_found", "no such upload URL"))
        if time.monotonic() - up["created"] > self.upload_url_ttl_s:
            raise Answer(self._err(403, "upload_url_expired", "The upload_url has expired."))
        self._check_token_if_sent(req)
        post = up["post"]
        if up["complete"]:  # the upload task is done: its URL finds none (the stricter of what TikTok may answer)
            raise Answer(self._err(404, "not_found", "TikTok cannot find a valid upload task"))
        ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in _TT_VIDEO_TYPES:
            raise Answer(self._bad_request(req, f"Content-Type must be one of {', '.join(_TT_VIDEO_TYPES)}"))
        m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", req.headers.get("content-range", "").strip())
        if not m:
            raise Answer(self._bad_request(req, "Content-Range must be bytes A-B/SIZE"))
        a, b, total = map(int, m.groups())
        size, chunk, count = post["size"], post["chunk_size"], post["total_chunk_count"]
        held = len(up["data"])
        if total != size:
            raise Answer(self._bad_request(req, f"Content-Range size {total} is not video_size {size}"))
        if a < held and b == held - 1 and bytes(up["data"][a:]) == bytes(req.body):
            return Reply(206, None, {"Content-Range": f"bytes 0-{held - 1}/{size}"})  # a chunk sent again: kept once
        if a != held:
            return Reply(416, None, {"Content-Range": f"bytes 0-{held - 1}/{size}" if held else f"bytes */{size}"})
        index = a // chunk
        end = size - 1 if index == count - 1 else a + chunk - 1
        if a % chunk or index >= count or b != end or len(req.body) != b - a + 1:
            raise Answer(self._bad_request(req, f"chunk {index} must be bytes {a}-{end}/{size} with that many bytes"))
        up["data"] += req.body
        post["uploaded_bytes"] = len(up["data"])
        if len(up["data"]) < size:
            return Reply(206)
        up["complete"] = True
        post["sha256"] = hashlib.sha256(up["data"]).hexdigest()
        up["fail"], self.fail_next_publish = self.fail_next_publish, None
        return Reply(201)

    def _on_status(self, req: _Req) -> Reply:
        open_id = self._need(req, "video.upload", "video.publish")
        self._limit("status", self._token(req) or "", self.status_per_minute)
        body = self._json_body(req)
        up = self._uploads.get(body.get("publish_id") or "")
        if up is None or up["open_id"] != open_id:
            raise Answer(self._err(400, "invalid_publish_id", f"publish_id {body.get('publish_id')!r} not found"))
        post = up["post"]
        if not up["complete"]:
            return self._ok({"status": "PROCESSING_UPLOAD", "uploaded_bytes": len(up["data"])})
        if post["status"] == "PROCESSING_UPLOAD":
            if up["polls"] < self.processing_polls:
                up["polls"] += 1
                return self._ok({"status": "PROCESSING_UPLOAD", "uploaded_bytes": post["size"]})
            if up["fail"]:
                post["status"], post["fail_reason"] = "FAILED", up["fail"]
            elif post["inbox"]:
                post["status"] = "SEND_TO_USER_INBOX"
            else:
                post["status"] = "PUBLISH_COMPLETE"
                post["post_id"] = 7400000000000000000 + self.posts.index(post) + 1
                self._post_owner[str(post["post_id"])] = open_id
        data: dict[str, Any] = {"status": post["status"], "uploaded_bytes": post["size"]}
        if post["status"] == "FAILED":
            data["fail_reason"] = post["fail_reason"]
        if post["status"] == "PUBLISH_COMPLETE":
            # "post_id is returned only if the post is published for public viewership and has been approved by
            # the TikTok moderation process": never for a private post, and not until moderation is done.
            if up["id_polls"] < self.id_delay_polls:
                up["id_polls"] += 1
            public = post["privacy_level"] == "PUBLIC_TO_EVERYONE"
            moderated = up["id_polls"] >= self.id_delay_polls
            data["publicaly_available_post_id"] = [post["post_id"]] if public and moderated else []
        return self._ok(data)

    def add_post(self, *, privacy_level: str = "PUBLIC_TO_EVERYONE", open_id: str = "open-1",
                 title: str = "Seeded post") -> str:
        """A published post of ``open_id`` without an upload (for statistics tests); its post id."""
        if privacy_level not in ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"):
            raise ValueError(f"privacy_level {privacy_level!r}")
        with self._lock:
            post_id = 7400000000000000000 + len(self.posts) + 1
            self.posts.append({"publish_id": f"v_pub_file~v2-1.seeded{post_id}", "title": title,
                               "privacy_level": privacy_level, "inbox": False, "size": 0, "chunk_size": 0,
                               "total_chunk_count": 0, "sha256": None, "status": "PUBLISH_COMPLETE",
                               "fail_reason": None, "post_id": post_id, "uploaded_bytes": 0, "post_info": {},
                               **{k: None for k in _TT_FLAGS}})
            self._post_owner[str(post_id)] = open_id
            return str(post_id)

    def _on_stats(self, req: _Req) -> Reply:
        open_id = self._need(req, "video.list")
        self._limit("video query", self._token(req) or "", self.stats_per_minute)
        fields = [f for f in req.query.get("fields", "").split(",") if f]
        if not fields or set(fields) - self.VIDEO_FIELDS:
            raise Answer(self._bad_request(req, f"fields must be Video Object fields, not {req.query.get('fields')!r}"))
        filters = self._json_body(req).get("filters")
        ids = filters.get("video_ids") if isinstance(filters, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
            raise Answer(self._bad_request(req, "filters.video_ids must be a list of video id strings"))
        if len(ids) > 20:
            raise Answer(self._bad_request(req, "at most 20 video_ids"))
        by_id = {str(p["post_id"]): p for p in self.posts if p["post_id"] is not None}
        videos = []
        for i in ids:
            post = by_id.get(i)
            # video.list reads the creator's public videos only: a SELF_ONLY post is left out.
            if (post is None or post["status"] != "PUBLISH_COMPLETE" or post["privacy_level"] != "PUBLIC_TO_EVERYONE"
                    or self._post_owner.get(i) != open_id):
                continue
            counts = self.stats_of(i)
            known = {"id": i, "title": post["title"] or "", "video_description": post["title"] or "",
                     "create_time": 1793491200, "share_url": f"https://www.tiktok.com/@shop_vn/video/{i}",
                     "view_count": counts["views"], "like_count": counts["likes"],
                     "comment_count": counts["comments"], "share_count": counts["shares"]}
            videos.append({f: known[f] for f in fields if known.get(f) is not None})
        return self._ok({"videos": videos, "cursor": 0, "has_more": False})

    def _on_authorize(self, req: _Req) -> Reply:
        """Login Kit for desktop: client_key, a loopback redirect with a port and the registered path
        ``/callback/`` (``http://127.0.0.1:*/callback/``), comma-separated scopes, and PKCE with the hex
        SHA-256 challenge the desktop guide shows (a base64url one is refused)."""
        q = req.query
        if q.get("client_key") != self.CLIENT_KEY:
            return Reply(400, {"error": "invalid_client", "error_description": "client_key"})
        problem = loopback_error(q.get("redirect_uri", ""), hosts=("127.0.0.1", "localhost"), path="/callback/")
        scopes = [x for x in q.get("scope", "").split(",") if x]
        if problem is None and q.get("response_type") != "code":
            problem = "response_type"
        if problem is None and (not scopes or set(scopes) - set(self.SCOPES)):
            problem = "scope"
        if problem is None and (q.get("code_challenge_method") != "S256"
                                or not _HEX_CHALLENGE.match(q.get("code_challenge", ""))):
            problem = "code_challenge"
        if problem:  # TikTok's page: "We couldn't log in with TikTok ... correct the following: <param>"
            return Reply(400, {"error": "invalid_request", "error_description": problem})
        location = self.oauth.sign_in(client_id=q["client_key"], redirect_uri=q["redirect_uri"],
                                      state=q.get("state", ""), challenge=q["code_challenge"], scopes=scopes,
                                      scopes_param="scopes", separator=",")
        return Reply(302, None, {"Location": location})

    def _token_error(self, error: str, description: str, form: dict[str, str], log_id: str,
                     status: int = 400) -> Reply:
        if self.oauth.echo_errors:
            description += " (request: " + echoed(form) + ")"
        return Reply(status, {"error": error, "error_description": description, "log_id": log_id})

    def _on_token(self, req: _Req) -> Reply:
        log_id = self._log_id()
        try:
            form = self._form_body(req)
        except Answer:
            return Reply(400, {"error": "invalid_request", "error_description": "a form body is required",
                               "log_id": log_id})
        if form.get("client_key") != self.CLIENT_KEY or form.get("client_secret") != self.CLIENT_SECRET:
            return self._token_error("invalid_client", "Client key or secret is incorrect.", form, log_id, 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            try:
                got = self.oauth.redeem(code=form.get("code", ""), client_id=form["client_key"],
                                        redirect_uri=form.get("redirect_uri", ""), verifier=form.get("code_verifier"))
            except ValueError as err:
                return self._token_error("invalid_grant", str(err), form, log_id)
            owner, scopes = got["owner"], got["scopes"]
        elif grant == "refresh_token":
            held = self._refresh.pop(form.get("refresh_token", ""), None)  # rotates: the old one is spent
            if held is None:
                return self._token_error("invalid_grant", "Refresh token is invalid or expired.", form, log_id)
            owner, scopes = held["owner"], held["scopes"]
        else:
            return self._token_error("unsupported_grant_type", "grant_type", form, log_id)
        access, refresh = self._issue(owner, scopes)
        return Reply(200, {"access_token": access, "expires_in": self.access_ttl_s, "refresh_token": refresh,
                           "refresh_expires_in": 15552000, "open_id": owner, "token_type": "Bearer",
                           "scope": ",".join(sorted(scopes))})


# --------------------------------------------------------------------------------------------- Facebook

_FB_ERRORS = {400: (100, "GraphMethodException", "(#100) Invalid parameter"),
              401: (190, "OAuthException", "Error validating access token"),
              403: (200, "OAuthException", "(#200) Permissions error"),
              404: (100, "GraphMethodException", "Unsupported request. The object does not exist"),
              429: (613, "OAuthException", "(#613) Calls to this api have exceeded the rate limit."),
              500: (1, "OAuthException", "An unknown error has occurred."),
              502: (2, "OAuthException", "Service temporarily unavailable"),
              503: (2, "OAuthException", "Service temporarily unavailable")}


REELS_METRICS = {
    "blue_reels_play_count": "Plays (1 ms or more, replays excluded)",
    "fb_reels_total_plays": "Plays, replays included",
    "fb_reels_replay_count": "Replays",
    "post_impressions_unique": "Reach",
    "post_video_avg_time_watched": "Average watch time (ms)",
    "post_video_view_time": "Watch time (ms)",
    "post_video_likes_by_reaction_type": "Reactions by type",
    "post_video_social_actions": "Comments and shares",
}
"""The Reels metrics of ``/{video_id}/video_insights`` the fake answers, with their titles."""


FB_SCOPES = ("pages_show_list", "pages_read_engagement", "pages_manage_posts", "read_insights", "business_management")


class FakeFacebook(_FakeServer):
    """Facebook Reels on a Page: start, one-request upload with offset resume, status with the copyright check,
    finish; Facebook Login (the dialog, the code exchange, long-lived tokens, the user's Pages, debug_token)."""

    ROUTES: ClassVar[dict[str, frozenset[str]]] = {
        "dialog": frozenset(),
        "oauth": frozenset(),
        "accounts": frozenset({"rate"}),
        "debug": frozenset({"rate"}),
        "start": frozenset({"rate", "auth190"}),
        "upload": frozenset({"rate", "auth190", "lose"}),
        "status": frozenset({"rate", "auth190"}),
        "finish": frozenset({"rate", "auth190", "lose"}),
        "stats": frozenset({"rate", "auth190"}),
    }
    UPLOAD_ROUTES = frozenset({"upload"})
    AUTH_SCHEMES = ("oauth", "bearer")
    VERSION = "v27.0"
    GRAPH = f"/{VERSION}"
    UPLOAD = f"/video-upload/{VERSION}"
    SCOPES = FB_SCOPES
    URL_CREDENTIAL_ROUTES = frozenset({"oauth", "debug"})  # documented with the secret, code and token in the query
    APP_ID = "fbapp"
    APP_SECRET = "fbsecret"

    def __init__(self, *, stall_s: float = 5.0) -> None:
        super().__init__(stall_s=stall_s)
        self.oauth = OAuthState(encoding="base64url", owner="u1")
        self.users: dict[str, list[tuple[str, str]]] = {"u1": [("1001", "Shop VN")]}  # user -> [(page id, name)]
        self.retired: set[str] = set()  # insights metrics Meta retired: naming one fails the whole request
        self.copyright_polls = 0  # status reads while the copyright check is in progress
        self.copyright_block_next: str | None = None  # a content title: the next reel matches it, owner BLOCKs
        self.keep_on_drop = False
        self.publish_polls = 0
        self.fail_next_publish: str | None = None
        self.reels_per_day = 30
        self.finish_calls: dict[str, int] = {}
        self.reels: list[dict[str, Any]] = []
        self._videos: dict[str, dict[str, Any]] = {}
        self._finished_at: dict[str, list[float]] = {}

    def settings_env(self) -> dict[str, str]:
        return {"FARM_FACEBOOK_GRAPH_BASE": self.base_url + "/{version}",
                "FARM_FACEBOOK_UPLOAD_BASE": self.base_url + "/video-upload/{version}",
                "FARM_FACEBOOK_AUTH_URL": self.base_url + "/{version}/dialog/oauth",
                "FARM_FACEBOOK_GRAPH_VERSION": self.VERSION,
                "FARM_FACEBOOK_APP_ID": self.APP_ID, "FARM_FACEBOOK_APP_SECRET": self.APP_SECRET}

    def add_token(self, page_token: str, page_id: str = "1001", *, scopes=None, expires_at: int = 0,
                  user: str = "u1") -> None:
        """A Page token of ``page_id`` (long-lived: ``expires_at`` 0, never), with ``scopes`` (default all)."""
        self._add_token(page_token, None, str(page_id), scopes, type="PAGE", expires_at=expires_at, user=user)

    def add_user_token(self, token: str, user: str = "u1", *, long_lived: bool = False, scopes=None) -> None:
        """A user token (short-lived unless ``long_lived``)."""
        expires = int(time.time()) + (5183944 if long_lived else 5183)
        self._add_token(token, None, user, scopes, type="USER", expires_at=expires, user=user)

    # ---------------------------------------------------------------- routing and hooks

    def _route(self, method, path, query, headers):
        named = {f"{self.GRAPH}/dialog/oauth": "dialog", f"{self.GRAPH}/oauth/access_token": "oauth",
                 f"{self.GRAPH}/me/accounts": "accounts", f"{self.GRAPH}/debug_token": "debug"}
        if method == "GET" and path in named:
            return named[path], {}
        if method == "POST" and (m := re.fullmatch(re.escape(self.UPLOAD) + r"/(\d+)", path)):
            return "upload", {"video_id": m.group(1)}
        if method == "POST" and (m := re.fullmatch(re.escape(self.GRAPH) + r"/(\w+)/video_reels", path)):
            return "video_reels", {"page_id": m.group(1)}
        if method == "GET" and (m := re.fullmatch(re.escape(self.GRAPH) + r"/(\d+)/video_insights", path)):
            return "stats", {"video_id": m.group(1)}
        if method == "GET" and (m := re.fullmatch(re.escape(self.GRAPH) + r"/(\d+)", path)):
            return "status", {"video_id": m.group(1)}
        return None, {}

    def _refine(self, req):
        if req.route == "video_reels" and req.headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"):
            req.form = _first_values(req.body.decode("utf-8", "replace"))
            req.route = {"start": "start", "finish": "finish"}.get(req.form.get("upload_phase", ""), req.route)

    def _arrived(self, req):
        if req.route == "finish":
            vid = req.form.get("video_id", "")
            self.finish_calls[vid] = self.finish_calls.get(vid, 0) + 1

    def _upload_offset(self, req):
        v = self._videos.get(req.params.get("video_id", ""))
        return len(v["data"]) if v else 0

    def _dropped(self, req, data):
        v = self._videos.get(req.params.get("video_id", ""))
        size = _int(req.headers.get("file_size"))
        if not self.keep_on_drop or v is None or v["finished"] or not size or v["size"] not in (None, size):
            return
        try:
            self._owner(req, ("oauth",))
        except Answer:
            return
        if _int(req.headers.get("offset")) == len(v["data"]):
            v["size"] = size
            v["data"] += data[:v["size"] - len(v["data"])]

    def _err(self, status: int, code: int, message: str, *, kind: str = "OAuthException",
             subcode: int | None = None) -> Reply:
        error: dict[str, Any] = {"message": message, "type": kind, "code": code,
                                 "fbtrace_id": f"AfakeTrace{self._next():06d}"}
        if subcode is not None:
            error["error_subcode"] = subcode
        if code in (1, 2):
            error["is_transient"] = True
        return Reply(status, {"error": error})

    def _bad_request(self, req, message):
        return self._err(400, 100, f"(#100) {message}", kind="GraphMethodException")

    def _scope_error(self, req, needed):
        return self._err(403, 200, f"(#200) {' or '.join(needed)} permission missing")

    def _auth_error(self, req, why):
        if why == "missing":
            return self._err(400, 104, "An access token is required to request this resource.")
        if why == "expired":
            return self._err(400, 190, "Error validating access token: Session has expired.", subcode=463)
        return self._err(400, 190, "Invalid OAuth access token - Cannot parse access token")

    def _fault_answer(self, req, fault):
        if fault == "auth190":
            return self._err(400, 190, "Error validating access token: The session has been invalidated.",
                             subcode=460)
        if fault == "rate":
            return self._err(400, 4, "(#4) Application request limit reached")
        code, kind, message = _FB_ERRORS[fault]
        return self._err(fault, code, message, kind=kind, subcode=33 if fault == 404 else None)

    # ---------------------------------------------------------------- routes

    def _page(self, req: _Req, page_id: str, schemes: tuple[str, ...] | None = None, *, need: str | None = None) -> str:
        page = self._owner(req, schemes)
        record = self._access[self._token(req, schemes)]
        if record.get("type") != "PAGE":
            raise Answer(self._err(400, 200, "(#200) A Page access token is required to request this resource."))
        if need is not None and need not in record["scopes"]:
            raise Answer(self._scope_error(req, (need,)))
        if page != page_id:
            raise Answer(self._err(400, 200, "(#200) The token's Page is not this Page"))
        if "access_token" in req.form:
            raise Answer(self._bad_request(req, "a token in the body: tokens go in the Authorization header"))
        return page

    def _video(self, req: _Req, video_id: str) -> dict[str, Any]:
        v = self._videos.get(video_id)
        if v is None:
            raise Answer(self._err(400, 100, f"Unsupported request. Object with ID '{video_id}' does not exist",
                                   kind="GraphMethodException", subcode=33))
        return v

    # ---------------------------------------------------------------- Facebook Login

    def _on_dialog(self, req: _Req) -> Reply:
        """The Login dialog: the app's id, a redirect the app allows (``http://localhost:PORT/`` is allowed
        in development mode without registering it), response_type=code, known permissions; then the
        user signs in at once (a refusal: ``error=access_denied&error_reason=user_denied``)."""
        q = req.query
        if q.get("client_id") != self.APP_ID:
            return self._err(400, 101, "Error validating application. Invalid application ID.")
        problem = loopback_error(q.get("redirect_uri", ""), hosts=("localhost",), path=None)
        scopes = [x for x in q.get("scope", "").split(",") if x]
        if problem is None and q.get("response_type", "code") != "code":
            problem = "response_type"
        if problem is None and set(scopes) - set(self.SCOPES):
            problem = f"Invalid Scopes: {', '.join(sorted(set(scopes) - set(self.SCOPES)))}"
        if problem:
            return self._err(400, 191, f"Can't load URL: {problem}")
        challenge = q.get("code_challenge") if q.get("code_challenge_method") == "S256" else None
        location = self.oauth.sign_in(client_id=self.APP_ID, redirect_uri=q["redirect_uri"], state=q.get("state", ""),
                                      challenge=challenge, scopes=scopes)
        if "error=access_denied" in location:
            location += "&error_reason=user_denied"
        return Reply(302, None, {"Location": location})

    def _on_oauth(self, req: _Req) -> Reply:
        """``GET /oauth/access_token``: a Login code for a short-lived user token, or
        ``grant_type=fb_exchange_token`` for a long-lived one (the app's secret in both)."""
        q = req.query
        if q.get("client_id") != self.APP_ID or q.get("client_secret") != self.APP_SECRET:
            return self._oauth_error("Error validating client secret.", q, code=1)
        if q.get("grant_type") == "fb_exchange_token":
            held = self._access.get(q.get("fb_exchange_token", ""))
            if held is None or held.get("type") != "USER" or held["expired"]:
                return self._oauth_error("Error validating access token: The session is invalid.", q, code=190)
            token, _ = self._issue(held["owner"], held["scopes"], refresh=False, type="USER",
                                   expires_at=int(time.time()) + 5183944, user=held["owner"], long_lived=True)
            return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": 5183944})
        try:
            got = self.oauth.redeem(code=q.get("code", ""), client_id=q["client_id"],
                                    redirect_uri=q.get("redirect_uri", ""), verifier=q.get("code_verifier"))
        except ValueError as err:
            return self._oauth_error(f"Error validating verification code. ({err})", q, code=100)
        token, _ = self._issue(got["owner"], got["scopes"], refresh=False, type="USER",
                               expires_at=int(time.time()) + 5183, user=got["owner"], long_lived=False)
        return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": 5183})

    def _oauth_error(self, message: str, query: dict[str, str], *, code: int) -> Reply:
        if self.oauth.echo_errors:
            message += " (request: " + echoed(query) + ")"
        return self._err(400, code, message)

    def _on_accounts(self, req: _Req) -> Reply:
        """``GET /me/accounts``: the user's Pages with a Page token each (one that never expires when the
        user token is long-lived; an hour's otherwise)."""
        user = self._owner(req)
        record = self._access[self._token(req)]
        if record.get("type") != "USER":
            raise Answer(self._err(400, 100, "(#100) Tried accessing nonexisting field (accounts) on node type (Page)"))
        if "pages_show_list" not in record["scopes"]:
            raise Answer(self._scope_error(req, ("pages_show_list",)))
        data = []
        for page_id, name in self.users.get(user, []):
            token, _ = self._issue(page_id, record["scopes"], refresh=False, type="PAGE", user=user,
                                   expires_at=0 if record.get("long_lived") else int(time.time()) + 3600)
            data.append({"id": page_id, "name": name, "access_token": token, "category": "Shopping & retail",
                         "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"]})
        return Reply(200, {"data": data, "paging": {"cursors": {"before": "b", "after": "a"}}})

    def _on_debug(self, req: _Req) -> Reply:
        """``GET /debug_token?input_token=``, asked with the app's token (``APP_ID|APP_SECRET``) or the
        token itself."""
        asker = self._token(req) or ""
        wanted = req.query.get("input_token", "")
        if asker not in (f"{self.APP_ID}|{self.APP_SECRET}", wanted):
            raise Answer(self._auth_error(req, "invalid"))
        record = self._access.get(wanted)
        if record is None and self.oauth.echo_errors:  # a careless answer repeating what it was asked with
            raise Answer(self._err(400, 190, f"Malformed access token {wanted} (asked with {asker})"))
        if record is None or record["expired"]:
            return Reply(200, {"data": {"is_valid": False, "error": {
                "code": 190, "message": "The access token could not be decrypted" if record is None
                else "Error validating access token: Session has expired."}}})
        data = {"app_id": self.APP_ID, "type": record.get("type", "PAGE"), "application": "reel farm test",
                "data_access_expires_at": int(time.time()) + 7776000, "expires_at": record.get("expires_at", 0),
                "is_valid": True, "issued_at": int(time.time()) - 60, "scopes": sorted(record["scopes"]),
                "user_id": record.get("user", "u1")}
        if record.get("type", "PAGE") == "PAGE":
            data["profile_id"] = record["owner"]
        return Reply(200, {"data": data})

    def _on_video_reels(self, req: _Req) -> Reply:
        return self._bad_request(req, "upload_phase (a form field) must be start or finish")

    def _on_start(self, req: _Req) -> Reply:
        page = self._page(req, req.params["page_id"], need="pages_manage_posts")
        vid = str(880000000000000 + self._next())
        self._videos[vid] = {"video_id": vid, "page_id": page, "size": None, "data": bytearray(), "finished": False,
                             "polls_left": 0, "fail": None, "outcome": None, "publish_time": None, "reel": None,
                             "copyright": {"polls_left": self.copyright_polls, "block": self.copyright_block_next}}
        self.copyright_block_next = None
        return Reply(200, {"video_id": vid, "upload_url": f"{self.base_url}{self.UPLOAD}/{vid}"})

    def _on_upload(self, req: _Req) -> Reply:
        v = self._video(req, req.params["video_id"])
        self._page(req, v["page_id"], ("oauth",))
        if v["finished"]:
            raise Answer(self._bad_request(req, "the video is already finished"))
        offset, size = _int(req.headers.get("offset")), _int(req.headers.get("file_size"))
        if offset is None or not size:
            raise Answer(self._bad_request(req, "the offset and file_size headers are required"))
        if v["size"] is None:
            v["size"] = size
        if size != v["size"]:
            raise Answer(self._bad_request(req, f"file_size {size} differs from the first upload's {v['size']}"))
        held = len(v["data"])
        if offset != held:
            raise Answer(self._err(400, 100, f"(#100) offset {offset} does not match the {held} bytes transferred",
                                   kind="GraphMethodException", subcode=1363037))
        if offset + len(req.body) > size:
            raise Answer(self._bad_request(req, f"{offset} + {len(req.body)} bytes exceed file_size {size}"))
        v["data"] += req.body
        return Reply(200, {"success": True})

    def _on_status(self, req: _Req) -> Reply:
        v = self._video(req, req.params["video_id"])
        self._page(req, v["page_id"])
        fields = req.query.get("fields", "").split(",")
        unknown = set(fields) - {"status", "copyright_check_information", "id", ""}
        if unknown:
            raise Answer(self._bad_request(req, f"Tried accessing nonexisting field ({sorted(unknown)[0]})"))
        body: dict[str, Any] = {"id": v["video_id"]}
        if "status" in fields:
            if v["finished"] and v["outcome"] is None:
                if v["polls_left"] > 0:  # publish_polls answers "in_progress", then the outcome
                    v["polls_left"] -= 1
                else:
                    self._conclude(v)
            body["status"] = self._status(v)
        if "copyright_check_information" in fields:
            body["copyright_check_information"] = self._copyright(v)
        return Reply(200, body)

    def _copyright(self, v: dict[str, Any]) -> dict[str, Any]:
        """The Reels guide's copyright_check_information: in progress for ``copyright_polls`` reads, then
        complete, with a match whose owner's policy BLOCKs when ``copyright_block_next`` named one."""
        c = v.get("copyright") or {"polls_left": 0, "block": None}
        if c["polls_left"] > 0:
            c["polls_left"] -= 1
            return {"status": {"status": "in_progress"}}
        if not c["block"]:
            return {"status": {"status": "complete", "matches_found": False}}
        return {"status": {"status": "complete", "matches_found": True},
                "copyright_matches": [{"content_title": c["block"], "matched_segments": [
                    {"start_time_in_seconds": 0, "duration_in_seconds": 3, "segment_type": "AUDIO"}],
                    "owner_copyright_policy": {"name": "Label Records", "actions": [
                        {"action": "BLOCK", "territories": "", "geos": ["VN", "US"]}]}}]}

    def _on_finish(self, req: _Req) -> Reply:
        page = self._page(req, req.params["page_id"])
        v = self._video(req, req.form.get("video_id", ""))
        if v["page_id"] != page:
            raise Answer(self._err(400, 200, "(#200) The video belongs to another Page"))
        if v["finished"]:
            raise Answer(self._bad_request(req, "finish was already called for this video"))
        if v["size"] is None or len(v["data"]) < v["size"]:
            raise Answer(self._err(400, 6000, "There was a problem uploading your video file: the upload is "
                                              "not complete."))
        state = req.form.get("video_state", "")
        if state not in ("PUBLISHED", "DRAFT", "SCHEDULED"):
            raise Answer(self._bad_request(req, "video_state must be PUBLISHED, DRAFT or SCHEDULED"))
        now = time.time()
        recent = [t for t in self._finished_at.get(page, []) if now - t < 86400]
        if len(recent) >= self.reels_per_day:
            raise Answer(self._err(400, 4, "(#4) Application request limit reached"))
        self._finished_at[page] = [*recent, now]
        v["finished"], v["polls_left"] = True, self.publish_polls
        v["fail"], self.fail_next_publish = self.fail_next_publish, None
        v["reel"] = {"video_id": v["video_id"], "page_id": page, "description": req.form.get("description", ""),
                     "size": v["size"], "sha256": hashlib.sha256(v["data"]).hexdigest(), "published": False,
                     "video_state": state, "status": "in_progress"}
        self.reels.append(v["reel"])
        if v["polls_left"] == 0:
            self._conclude(v)
        return Reply(200, {"success": True, "post_id": f"{page}_{v['video_id']}"})

    def add_reel(self, *, page_id: str = "1001", description: str = "Seeded reel") -> str:
        """A published reel on ``page_id`` without an upload (for statistics tests); its video id."""
        with self._lock:
            vid = str(880000000000000 + self._next())
            reel = {"video_id": vid, "page_id": str(page_id), "description": description, "size": 0,
                    "sha256": hashlib.sha256(b"").hexdigest(), "published": True, "video_state": "PUBLISHED",
                    "status": "complete"}
            self._videos[vid] = {"video_id": vid, "page_id": str(page_id), "size": 0, "data": bytearray(),
                                 "finished": True, "polls_left": 0, "fail": None, "outcome": "complete",
                                 "publish_time": int(time.time()), "reel": reel}
            self.reels.append(reel)
            return vid

    def _on_stats(self, req: _Req) -> Reply:
        v = self._video(req, req.params["video_id"])
        self._page(req, v["page_id"], need="read_insights")
        asked = [m for m in req.query.get("metric", "").split(",") if m] or [
            m for m in REELS_METRICS if m not in self.retired]
        unknown = [m for m in asked if m not in REELS_METRICS or m in self.retired]
        if unknown:  # one retired or unknown metric fails the whole request (Graph error 100)
            raise Answer(self._err(400, 100, "(#100) The value must be a valid insights metric"))
        if req.query.get("period", "lifetime") != "lifetime":
            raise Answer(self._bad_request(req, "Reels metrics have the lifetime period only"))
        if not (v["reel"] and v["reel"]["published"]):
            return Reply(200, {"data": []})  # no insights for a reel that is not out
        values = self._insights(v["video_id"])
        rows = [{"name": m, "period": "lifetime", "values": [{"value": values[m]}], "title": REELS_METRICS[m],
                 "description": f"Lifetime: {REELS_METRICS[m]}", "id": f"{v['video_id']}/video_insights/{m}/lifetime"}
                for m in asked if values.get(m) is not None]
        return Reply(200, {"data": rows})

    def _insights(self, vid: str) -> dict[str, Any]:
        """Every Reels metric's lifetime value from the reel's counts (None: left out of the answer).
        Breakdowns leave empty buckets out, as the Graph API does."""
        c = self.stats_of(vid)
        views, likes, comments, shares = (c[n] for n in STAT_NAMES)
        replays = (views or 0) // 5
        avg_ms = 4000 + int(hashlib.sha256(vid.encode()).hexdigest()[:4], 16) % 3000
        reactions = None if likes is None else {k: n for k, n in (("REACTION_LIKE", likes - likes // 4),
                                                                   ("REACTION_LOVE", likes // 4)) if n}
        social = None if comments is None and shares is None else {
            k: n for k, n in (("COMMENT", comments), ("SHARE", shares)) if n}
        return {"blue_reels_play_count": views, "fb_reels_total_plays": None if views is None else views + replays,
                "fb_reels_replay_count": None if views is None else replays,
                "post_impressions_unique": None if views is None else views * 3 // 2,
                "post_video_avg_time_watched": avg_ms,
                "post_video_view_time": None if views is None else (views + replays) * avg_ms,
                "post_video_likes_by_reaction_type": reactions, "post_video_social_actions": social}

    def _conclude(self, v: dict[str, Any]) -> None:
        v["outcome"] = "error" if v["fail"] else "complete"
        v["publish_time"] = int(time.time())
        v["reel"]["status"] = v["outcome"]
        v["reel"]["published"] = v["outcome"] == "complete" and v["reel"]["video_state"] == "PUBLISHED"

    @staticmethod
    def _status(v: dict[str, Any]) -> dict[str, Any]:
        held, size = len(v["data"]), v["size"]
        complete = size is not None and held == size
        uploading = {"status": "complete" if complete else ("in_progress" if held else "not_started"),
                     "bytes_transferred": held}
        processing = {"status": "complete" if complete else "not_started"}
        if not v["finished"]:
            publishing: dict[str, Any] = {"status": "not_started"}
            video_status = "upload_complete" if complete else "uploading"
        elif v["outcome"] is None:
            publishing = {"status": "in_progress", "publish_status": "draft"}
            video_status = "processing"
        elif v["outcome"] == "error":
            publishing = {"status": "error", "errors": [{"code": 1363040, "message": v["fail"]}]}
            video_status = "error"
        else:
            published = v["reel"]["video_state"] == "PUBLISHED"
            publishing = {"status": "complete", "publish_status": "published" if published else "draft",
                          "publish_time": v["publish_time"]}
            video_status = "ready"
        return {"video_status": video_status, "uploading_phase": uploading, "processing_phase": processing,
                "publishing_phase": publishing}
