"""What every platform client shares: secrets, tokens, the upload request, the remote session and
its state, the client interface, the HTTP client factory and the bounded retry.

The publisher drives an upload as steps, recording each in the uploads ledger before the
next begins, so a crash anywhere is reconciled with the platform instead of re-posted::

    info = client.account_info(token)               # what the account may post (TikTok: creator info)
    session = client.start(token, request)          # remote session, no byte sent: stored first
    state = client.send(token, session, request, offset=state.received_bytes)   # one chunk a call
    state = client.query(token, session, request)   # after any failure: what the platform holds
    state = client.finish(token, session, request)  # Facebook's publish call; others: query/poll
    state = client.find(token, request)             # YouTube: the video by its marker, or None

Connecting an account (``farm accounts connect``) exchanges the authorization code with
``client.exchange_code(code, verifier=..., redirect_uri=...)`` and settles what the account is
with ``client.connect(tokens, page_id=...)`` (Facebook: the Page's own token).

Once published, ``client.video_stats(token, remote_ids, privacy=...)`` reads each video's
counts (:class:`VideoStats`), batched as each platform allows; a video the platform gives no
counts for is ``available=False`` with a ``note`` saying why, never a row of zeros.

Every method maps the platform's answers at this boundary to ``farm.errors``:
``RetryableError`` (dropped connection, stall past the read timeout, 5xx, 429, YouTube
``rateLimitExceeded``), ``SessionLostError`` (the session is gone: 404), ``QuotaError``
with ``reset_at``, ``scope`` and ``bucket`` (YouTube ``quotaExceeded`` for the project,
``uploadLimitExceeded`` for the channel; TikTok ``spam_risk_too_many_posts``),
``AuthError`` (401, expired or revoked token, Facebook error 190), ``ScopeError`` (the
token lacks a scope: YouTube ``insufficientPermissions``, TikTok ``scope_not_authorized``),
``PolicyError`` (anything else the platform refuses, with its reason). Idempotent
calls (queries, status polls, account info, token refresh, statistics) are retried inside the client
by :func:`with_retries`; ``start``, ``send`` and ``finish`` are not: the publisher queries
and resumes instead. No token ever appears in a message or a repr: every text a platform
sends back is passed through :func:`farm.redact.redact` with the secrets of the call.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from farm.errors import InputError, RetryableError, SessionLostError
from farm.records import JsonRecord
from farm.redact import redact

if TYPE_CHECKING:
    import httpx

RemoteStatus = Literal["uploading", "uploaded", "processing", "published", "inbox", "failed", "gone"]
"""``uploading``: bytes still to send; ``uploaded``: every byte received, waiting for finish
(Facebook) or for the platform to take it on; ``processing``: the platform works on it;
``published``: live (or private, when forced); ``inbox``: a TikTok draft waiting in the app;
``failed``: the platform refused it (``reason``); ``gone``: the session expired unused."""

T = TypeVar("T")


class Secret:
    """A token or key whose value shows nowhere: not in repr, str, format or pickle of a log line.

    ``reveal()`` is the only way to the value, called where a request header is built.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wants a str")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        return self._value

    def __setattr__(self, name, value):  # immutable
        raise AttributeError("Secret is immutable")

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):  # crossing to a Ray actor is allowed; the value is still hidden in reprs
        return (Secret, (self._value,))


@dataclass(frozen=True)
class TokenSet:
    """An account's tokens. ``expires_at``/``refresh_expires_at`` are naive UTC (None: unknown)."""

    access_token: Secret
    refresh_token: Secret | None = None
    expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    scope: str | None = None


@dataclass(frozen=True)
class AccountInfo:
    """What an account may post, as the platform says (TikTok's creator info) or fixes (others)."""

    privacy_options: tuple[str, ...]
    max_duration_s: float | None = None
    min_duration_s: float | None = None
    comments_off: bool = False
    duet_off: bool = False
    stitch_off: bool = False
    username: str | None = None


@dataclass(frozen=True)
class UploadRequest:
    """One video to one account: the file, its post text and the platform's own fields.

    ``privacy`` is the farm's word (public | private | self-only | inbox); each client turns it
    into the platform's value (YouTube ``privacyStatus``, TikTok ``privacy_level``, where
    ``inbox`` means the inbox endpoint). ``marker`` is unique per (job, platform) and goes
    into the metadata (YouTube: a tag) so a video can be found again after a lost session.
    """

    path: Path
    size_bytes: int
    title: str
    description: str
    marker: str
    privacy: str = "public"
    hashtags: tuple[str, ...] = ()
    flags: dict[str, bool] = field(default_factory=dict)
    page_id: str | None = None
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    interactions: dict[str, bool] = field(default_factory=dict)
    """What the account lets viewers do (``comments``, ``duet``, ``stitch``: True allowed); a
    platform that has such switches turns each off unless allowed here and by the creator."""
    content_type: str = "video/mp4"
    chunk_bytes: int = 8 * 1024 * 1024
    metadata: dict[str, Any] = field(default_factory=dict)
    """The post metadata as stored on the job (the local outbox writes it beside the video)."""

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["path"] = str(self.path)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> UploadRequest:
        d = dict(d)
        d["path"] = Path(d["path"])
        d["hashtags"] = tuple(d.get("hashtags") or ())
        return cls(**d)


@dataclass(frozen=True)
class RemoteSession:
    """The platform's handle on one upload, stored in the ledger before the first byte.

    ``handle``: YouTube's session URL, TikTok's ``publish_id``, Facebook's ``video_id``, the
    local outbox's temp file. ``upload_url``: where the bytes go when it is not ``handle``.
    ``chunk_bytes``: the chunk size agreed at start (TikTok fixes it at init).
    """

    platform: str
    handle: str
    upload_url: str | None = None
    chunk_bytes: int = 0
    started_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["started_at"] = self.started_at.isoformat() if self.started_at else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RemoteSession:
        d = dict(d)
        if d.get("started_at"):
            d["started_at"] = datetime.fromisoformat(d["started_at"])
        return cls(**d)


@dataclass(frozen=True)
class RemoteState:
    """What the platform holds of one upload after a call."""

    status: RemoteStatus
    received_bytes: int = 0
    remote_id: str | None = None
    remote_url: str | None = None
    reason: str | None = None
    privacy: str | None = None
    """The privacy the platform applied, in the farm's words, where it says (a channel's own
    settings may keep a YouTube upload ``private``; TikTok ``self-only``)."""
    pending: str | None = None
    """What the platform still owes about a published video, asked again on later passes: its
    public id (TikTok, during moderation), a copyright verdict (Facebook). None: settled."""


STATS_PRIVACY: tuple[str, ...] = ("public", "private", "unlisted", "self-only", "inbox")
"""The farm's privacy words that :meth:`PlatformClient.video_stats` takes for a post."""


@dataclass(frozen=True)
class VideoStats(JsonRecord):
    """One published video's counts as the platform gives them.

    ``available`` is False when the platform gives no statistics for the video (a private
    TikTok post, a video deleted since, the local outbox); every count is then None and
    ``note`` says why. A count that is None on an available video is one the platform does not
    give (YouTube has no share count; a hidden like count), not a zero: an engagement rate
    must leave it out and say so. ``note`` also names what is missing, e.g. ``"YouTube gives
    no share count"``.
    """

    remote_id: str
    available: bool
    views: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.remote_id, str) or not self.remote_id:
            raise InputError(f"VideoStats: remote_id must be a non-empty string, not {self.remote_id!r}")
        if not isinstance(self.available, bool):
            raise InputError(f"VideoStats: available must be true or false, not {self.available!r}")
        for name in ("views", "likes", "comments", "shares"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(f"VideoStats {self.remote_id}: {name} must be a count (an int >= 0) or None, "
                                 f"not {value!r}")
            if not self.available:
                raise InputError(f"VideoStats {self.remote_id}: an unavailable video has no {name}")
        if self.note is not None and not isinstance(self.note, str):
            raise InputError(f"VideoStats {self.remote_id}: note must be a string or None, not {self.note!r}")
        if not self.available and not self.note:
            raise InputError(f"VideoStats {self.remote_id}: an unavailable video needs a note saying why")

    @classmethod
    def unavailable(cls, remote_id: str, note: str) -> VideoStats:
        return cls(remote_id, False, note=note)


def parse_count(value: Any) -> int | None:
    """A platform's count as an int: JSON ints, and the decimal strings YouTube sends (its counts
    are unsigned 64-bit, which JSON numbers cannot carry); anything else is None (not given)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def batches(items: list[str], size: int) -> Iterator[list[str]]:
    """``items`` in consecutive lists of at most ``size``."""
    for i in range(0, len(items), size):
        yield items[i:i + size]


def make_http_client(settings, *, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An ``httpx.Client`` whose every request has connect, read, write and pool timeouts, so a
    stalled upload raises (and is resumed) instead of hanging."""
    import httpx  # here, not at import time: it costs a command that never talks to a platform 0.1 s

    io = float(settings.io_timeout_s)
    timeout = httpx.Timeout(connect=float(settings.connect_timeout_s), read=io, write=io, pool=io)
    return httpx.Client(timeout=timeout, transport=transport, follow_redirects=False,
                        headers={"User-Agent": "reel-farm"})


def backoff_s(attempt: int, *, base_s: float = 0.5, cap_s: float = 30.0, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: a uniform wait in [0, min(cap, base * 2**attempt)]."""
    r = (rng or random).random()
    return r * min(cap_s, base_s * (2 ** attempt))


def with_retries(call: Callable[[], T], *, retries: int, sleep: Callable[[float], None] = time.sleep,
                 what: str = "request") -> T:
    """Run ``call``, retrying a :class:`RetryableError` up to ``retries`` times with backoff and
    jitter (or the server's ``Retry-After``); the last error propagates. A
    :class:`SessionLostError` propagates at once: the same call on a gone session fails again."""
    attempt = 0
    while True:
        try:
            return call()
        except SessionLostError:
            # The session is gone: asking again cannot bring it back; the publisher starts anew.
            raise
        except RetryableError as err:
            if attempt >= retries:
                raise
            wait = err.retry_after_s if err.retry_after_s is not None else backoff_s(attempt)
            sleep(min(max(wait, 0.0), 60.0))
            attempt += 1


def transport_error(err: httpx.TransportError, *, what: str) -> RetryableError:
    """A dropped connection, refused connect or timeout as a RetryableError naming the call
    (never the URL: a URL could carry a token)."""
    import httpx

    kind = ("timed out (stalled)" if isinstance(err, httpx.TimeoutException)
            else "connection dropped" if isinstance(err, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError))
            else "cannot connect" if isinstance(err, httpx.ConnectError) else "network error")
    never_sent = isinstance(err, (httpx.ConnectError, httpx.ConnectTimeout))
    return RetryableError(f"{what}: {kind} ({type(err).__name__})", unanswered=not never_sent)


def retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def utc_now() -> datetime:
    """Naive UTC now: the clock of the ledger, ``TokenSet`` and ``QuotaError.reset_at``."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def json_body(response: httpx.Response) -> dict:
    """The answer's JSON object, or ``{}`` when it is not one (an HTML error page from a proxy)."""
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def scrub(text: str, *secrets: object) -> str:
    """``text`` without any secret: the values given (raw, URL-encoded or JSON-escaped) and every
    credential-named parameter (``client_secret=``, ``"refresh_token": ...``); a platform that
    echoes a request in its error message must not put it into ours (:func:`farm.redact.redact`)."""
    return redact(text, *secrets)


FILE_PIECE_BYTES = 1024 * 1024
"""How much of a chunk is read and handed to the socket at a time: a 64 MiB chunk is never held
in memory whole, and ``on_bytes`` hears of progress at this grain."""


def file_body(path: Path, *, offset: int, length: int, size_bytes: int,
              on_bytes: Callable[[int], None] | None = None,
              piece_bytes: int = FILE_PIECE_BYTES) -> Iterator[bytes]:
    """The ``length`` bytes of ``path`` from ``offset``, as an iterator of pieces for an httpx
    body (the caller sets ``Content-Length``), calling ``on_bytes(n)`` as each piece goes out.

    The file is checked now, not when the transport first pulls, so a missing or changed file
    raises :class:`InputError` before any request starts: a session was opened for
    ``size_bytes`` and other bytes would corrupt the upload.
    """
    try:
        actual = path.stat().st_size
    except OSError as err:
        raise InputError(f"{path.name}: cannot read the video to upload ({err.strerror or err})") from None
    if actual != size_bytes:
        raise InputError(f"{path.name}: the video is {actual} bytes, not the {size_bytes} its upload was started with")
    if offset < 0 or length < 0 or offset + length > size_bytes:
        raise InputError(f"{path.name}: bytes {offset}+{length} lie outside the video's {size_bytes}")

    def pieces() -> Iterator[bytes]:
        with open(path, "rb") as f:
            f.seek(offset)
            left = length
            while left > 0:
                piece = f.read(min(piece_bytes, left))
                if not piece:
                    raise InputError(f"{path.name}: the video shrank while it was being uploaded")
                left -= len(piece)
                yield piece
                if on_bytes is not None:
                    on_bytes(len(piece))

    return pieces()
