"""What a platform is, to the rest of the farm: one descriptor per platform, read everywhere instead of its name.

A descriptor holds, for one platform, every rule the farm follows there: how an account is
connected (OAuth endpoints, scopes, the PKCE encoding), how its tokens live and refresh,
how post text is limited and counted, where the affiliate link goes and which disclosure
flags an upload carries, which privacy levels an account may ask for, the file check
(duration, aspect, size, codecs), the safe area of its app, its caps and quotas with their
scope and reset, whether an upload ends with a finish call, and how statistics are read.

Code outside ``farm/platforms/`` asks the descriptor (``platform.text.hashtags_max``,
``platform.limits``, ``platform.finish``) and never compares a platform's name. A new
platform is one module: a descriptor and its client, registered with
:func:`farm.platforms.register`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from farm.errors import InputError

if TYPE_CHECKING:
    from farm.platforms._base import AccountInfo, PlatformClient, UploadRequest

TextUnit = Literal["chars", "utf8_bytes", "utf16_units"]
AspectRule = Literal["any", "9:16"]
ASPECT_RULES: tuple[str, ...] = ("any", "9:16")
PRIVACY_WORDS: tuple[str, ...] = ("public", "private", "unlisted", "self-only", "inbox")
"""The farm's privacy words; each platform allows some (``Platform.privacy``) and maps them to its own."""
INTERACTIONS: tuple[str, ...] = ("comments", "duet", "stitch")
"""What an account may let viewers do, where the platform has the switch (``--allow-comments`` ...)."""


@dataclass(frozen=True)
class PlatformSpec:
    """One platform's published limits for a video file. ``None`` anywhere means "no limit";
    the duration bounds are the defaults an account's own (``AccountInfo``) replace."""

    name: str
    containers: frozenset[str] | None = None
    video_codecs: frozenset[str] | None = None
    audio_codecs: frozenset[str] | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    max_size_bytes: int | None = None
    min_fps: float | None = None
    max_fps: float | None = None
    min_width_px: int | None = None
    min_height_px: int | None = None
    max_width_px: int | None = None
    max_height_px: int | None = None
    aspect: AspectRule = "any"
    aspect_tolerance: float = 0.01
    """Relative tolerance on ``aspect`` (1 %: 1080x1918 is still 9:16)."""
    short_form_max_duration_s: float | None = None
    """The longest square or vertical video still posted as short-form (YouTube Shorts: a note, not a refusal)."""

    def __post_init__(self) -> None:
        if self.aspect not in ASPECT_RULES:
            raise InputError(f"Invalid aspect rule ({self.aspect!r}). Supported: {', '.join(ASPECT_RULES)}.")


@dataclass(frozen=True)
class TextRules:
    """How a platform limits and counts post text.

    ``title`` and ``description`` map a unit (chars, utf8_bytes, utf16_units) to its maximum:
    text must fit every unit given. ``shows_title``: False where the app shows no title, so the
    caption starts with the title line. ``link``: where a clickable link can go (``bio``: the
    caption says "link in bio" and the URL is kept for the profile). ``hashtags_in_text_count``:
    the platform ignores every hashtag once the title and description together hold more than
    ``hashtags_max`` (YouTube), so hashtags written in the text count too. ``style``: how the
    template writer shapes the post (``titled``: a product title and a long description;
    ``short``: a hook and a short caption; ``long``: a hook and the whole list).
    """

    title: Mapping[str, int]
    description: Mapping[str, int]
    hashtags_max: int
    angle_brackets: bool = True
    shows_title: bool = True
    link: Literal["description", "bio"] = "description"
    hashtags_in_text_count: bool = False
    style: Literal["titled", "short", "long"] = "long"

    def __post_init__(self) -> None:
        for name in ("title", "description"):
            limits = getattr(self, name)
            bad = [u for u in limits if u not in ("chars", "utf8_bytes", "utf16_units")]
            if bad or not limits:
                raise InputError(f"TextRules.{name}: units must be chars, utf8_bytes or utf16_units, not {bad}")
            object.__setattr__(self, name, dict(limits))


@dataclass(frozen=True)
class OAuth:
    """How an account is connected: OAuth 2.0 authorization code with PKCE on a loopback redirect.

    ``authorize_url`` and ``client_id``/``client_secret`` name settings (``PlatformSettings``
    attributes), so each is configurable. ``challenge``: ``S256`` is RFC 7636's base64url of
    the SHA-256; ``S256-hex`` the lower-case hex of it, as TikTok's desktop guide shows.
    ``redirect_path``: the path of the loopback redirect (TikTok's desktop apps register
    ``/callback/``); ``redirect_host``: its host (the listener is on 127.0.0.1, and on ::1 too
    for ``localhost``). ``statistics_scope``: the scope reading statistics needs (an account
    without it publishes, and is told to reconnect for statistics).
    """

    authorize_url: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    scope_separator: str = " "
    client_id_param: str = "client_id"
    challenge: Literal["S256", "S256-hex"] = "S256"
    extra_params: Mapping[str, str] = field(default_factory=dict)
    redirect_path: str = "/"
    redirect_host: str = "127.0.0.1"
    statistics_scope: str | None = None
    required: tuple[str, ...] = ()
    """The scopes publishing needs: a connection granted without one of them is refused."""


def scope_granted(granted: str | None, scope: str) -> bool | None:
    """Whether ``scope`` is among ``granted`` (a token answer's space- or comma-separated scopes,
    compared by their last path segment: ``youtube.upload`` matches Google's full URL); None when
    the grant is not known."""
    names = (granted or "").replace(",", " ").split()
    if not names:
        return None
    return scope.rsplit("/", 1)[-1] in {n.rsplit("/", 1)[-1] for n in names}


@dataclass(frozen=True)
class TokenRules:
    """How an account's tokens live. ``refreshable``: the platform issues refresh tokens
    (Facebook Page tokens have none: they are long-lived and the user reconnects).
    ``rotates``: each refresh issues a new refresh token and spends the old (TikTok).
    ``noun``: what the user calls the token in messages."""

    refreshable: bool = True
    rotates: bool = False
    noun: str = "token"


@dataclass(frozen=True)
class Limit:
    """A cap the platform sets on publishing, checked before an account is chosen.

    ``counts``: ``calls`` counts API calls the publisher records as ``call`` before each upload
    starts (YouTube's ``videos.insert``, TikTok's init); ``posts`` counts the account's uploads.
    ``per``: ``project`` (every account on the app's project shares it) or ``account`` (a
    channel, a token, a Page). The window is a moving ``window`` or, with ``day_zone``, the
    calendar day in that time zone. ``most`` is a number or the name of a
    ``PlatformSettings`` attribute. ``text``: why an account cannot post, with ``{most}`` and
    ``{reset}`` filled in.
    """

    counts: Literal["calls", "posts"]
    per: Literal["project", "account"]
    most: int | str
    text: str
    call: str | None = None
    window: timedelta | None = None
    day_zone: str | None = None

    def __post_init__(self) -> None:
        if (self.window is None) == (self.day_zone is None):
            raise InputError("Limit: give a moving window or a day zone, one of the two")
        if self.counts == "calls" and not self.call:
            raise InputError("Limit: counting calls needs the call's name")

    def maximum(self, settings) -> int:
        return int(getattr(settings, self.most) if isinstance(self.most, str) else self.most)


@dataclass(frozen=True)
class Statistics:
    """How statistics are read: ids per request, the API call recorded per request (a quota
    cost; None: not recorded), the platform's fields (or metrics) asked for, and whether the
    platform gives any at all."""

    batch: int = 1
    call: str | None = None
    fields: tuple[str, ...] = ()
    available: bool = True


class Platform:
    """One platform's descriptor. Subclass it per platform and set the class attributes; the
    methods have the common behaviour and are overridden where a platform differs.

    Attributes:
        name: the farm's name for it (``youtube``), as stored in the catalog.
        label: what the user reads (``YouTube``).
        client_class: its :class:`~farm.platforms.PlatformClient`.
        outbox: True for a platform that stands in for the others (the local outbox: people who
            post by hand); it has no post text of its own and no token.
        privacy: the farm's privacy words an account may ask for, the first the default.
        needs_page: an account publishes on a Page it names (``--page-id``).
        spec: the file check. ``text``: the post text rules. ``safe_area``: pixels from each edge
            (left, top, right, bottom) of a 1080x1920 canvas that the app draws over.
        oauth: how an account is connected (None: it is not).
        tokens: how its tokens live (None: the platform takes no token, like the outbox).
        limits: its caps and quotas.
        finish: ``none`` (the last byte publishes), ``once`` (a finish call that is never sent
            twice: Facebook), ``repeatable`` (a finish call that may be sent again: the outbox).
        finds_lost: a lost upload can be looked for by its marker (YouTube's uploads list).
        late_ids: the platform may report a post published before its public id exists (TikTok,
            during moderation): later publish and monitor passes ask again.
        resend_chunks: a chunk whose answer was an error or lost is sent again as it was (the same
            ``Content-Range`` is safe: TikTok); otherwise the platform is asked what it holds.
        account_info_source: what the account's own limits are called in messages.
        stats: how statistics are read.
    """

    name: str = ""
    label: str = ""
    client_class: type[PlatformClient] | None = None
    outbox: bool = False
    privacy: tuple[str, ...] = ("public",)
    needs_page: bool = False
    spec: PlatformSpec = PlatformSpec(name="")
    text: TextRules | None = None
    safe_area: tuple[int, int, int, int] = (0, 0, 0, 0)
    oauth: OAuth | None = None
    tokens: TokenRules | None = TokenRules()
    limits: tuple[Limit, ...] = ()
    finish: Literal["none", "once", "repeatable"] = "none"
    finds_lost: bool = False
    late_ids: bool = False
    resend_chunks: bool = False
    account_info_source: str = "account info"
    stats: Statistics = Statistics()

    def __repr__(self) -> str:
        return f"Platform({self.name})"

    def authorize_url(self, settings) -> str:
        """The authorization endpoint (from settings, so a test points it at a fake)."""
        return str(getattr(settings, self.oauth.authorize_url))

    def client(self, http, settings, *, root, account: str, sleep) -> PlatformClient:
        """Its client over ``http`` for the account named ``account`` of the workspace at ``root``."""
        return self.client_class(http, settings, sleep=sleep)

    # -- accounts -------------------------------------------------------------------------
    def effective_privacy(self, privacy: str, settings) -> str:
        """The privacy an upload asks for when the account asks for ``privacy``."""
        return privacy

    def notices(self, privacy: str, settings) -> list[str]:
        """What the platform will do to an account's posts that the user did not ask for, said
        before the first post (``settings``: ``PlatformSettings``)."""
        if privacy in ("private", "self-only"):
            return [f"posts are {privacy} (this account's setting)"]
        return []

    def daily_cap_max(self) -> int | None:
        """The most posts a day an account may be set to: what its per-account posts limits allow in 24 hours."""
        day = timedelta(hours=24)
        caps = [lim.most if lim.window is None or lim.window >= day else lim.most * (day // lim.window)
                for lim in self.limits if lim.counts == "posts" and lim.per == "account" and isinstance(lim.most, int)]
        return min(caps) if caps else None

    # -- posts ----------------------------------------------------------------------------
    def upload_flags(self, *, affiliate: bool, synthetic_media: bool) -> dict[str, bool]:
        """The platform's own disclosure fields for an upload, named as its API names them."""
        return {}

    def interactions(self, allowed: dict[str, bool], info: AccountInfo) -> dict[str, bool]:
        """What viewers may do with a post: what the account allows, less what the creator turned off."""
        return dict(allowed)

    def check_request(self, request: UploadRequest, info: AccountInfo, *, label: str) -> None:
        """Refuse, with :class:`~farm.errors.PolicyError`, an upload the account cannot make
        (checked after the file check, before any byte)."""

    def video_url(self, remote_id: str, *, width: int | None = None, height: int | None = None,
                  duration_s: float | None = None) -> str | None:
        """The public address of a published video (None: not known from the id alone)."""
        return None

    def describe(self) -> dict[str, Any]:
        """The descriptor as plain data (for ``farm accounts`` and the docs)."""
        return {"name": self.name, "label": self.label, "privacy": list(self.privacy), "needs_page": self.needs_page,
                "finish": self.finish, "outbox": self.outbox,
                "scopes": list(self.oauth.scopes) if self.oauth else [], "statistics": list(self.stats.fields),
                "limits": [lim.text for lim in self.limits]}
