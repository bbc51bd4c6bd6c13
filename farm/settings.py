"""The settings schema: every setting's default and allowed values, in one place.

``farm.toml`` is read and checked against it, the CLI takes its defaults and choices from
it, and render specs validate their fields with it, so an allowed set or a default is
written once.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalogs import LICENSES
from farm.errors import InputError
from kernels import FITS, LAYOUTS

X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo",
)  # fmt: skip
ENCODERS = ("auto", "libx264", "nvenc")
DECODERS = ("auto", "cpu", "gpu")
MOODS = ("upbeat", "calm", "trending", "commercial")


@dataclass(frozen=True)
class Option:
    """One setting: its default, what is allowed, and the line that documents it.

    Numbers are bounded by ``low`` (exclusive when ``low_open``) and ``high``; ``label``
    and ``unit`` are how a render spec's error message names the value.
    """

    key: str
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    low: float | None = None
    low_open: bool = False
    high: float | None = None
    label: str | None = None
    unit: str = ""

    def problem(self, value: Any, *, bounded: bool = True) -> str | None:
        """Why ``value`` is not allowed (None when it is); ``bounded=False`` checks only the
        lower bound (``farm.toml``: a spec checks the rest when a job is made). NaN is
        never a number here."""
        if self.choices is not None:
            return None if value in self.choices else "choice"
        if self.low is not None and not (value > self.low if self.low_open else value >= self.low):
            return "low"
        if bounded and self.high is not None and not value <= self.high:
            return "high"
        return None

    def spec_message(self, value: Any) -> str:
        """The error for a bad value in a render spec (or a CLI option feeding one)."""
        name = self.label or self.key
        if self.choices is not None:
            return f"Invalid {name} ({value!r}). Supported: {', '.join(self.choices)}."
        if isinstance(self.default, int):
            low = self.low + 1 if self.low_open else self.low
            span = f"whole numbers from {low:g} to {self.high:g}"
        else:
            span = f"{self.low:g} to {self.high:g}" + (f" {self.unit}" if self.unit else "")
        return f"Invalid {name} ({value}). Supported: {span}."


SCHEMA: dict[str, tuple[Option, ...]] = {
    "render": (
        Option("layout", "vertical", "vertical | horizontal: where the 2/3 and 1/3 boxes go", choices=LAYOUTS),
        Option("fit", "cover", "cover | contain | blur: how a clip fills its box", choices=FITS),
        Option("fade_s", 0.5, "fade in/out and crossfade length; 0 turns fades off", low=0, high=10, label="fade",
               unit="seconds"),
        Option("max_duration_s", 60.0, "a job's mains are cut to this length", low=0, low_open=True, high=3600),
        Option("music_volume", 0.3, "gain of the music under the main clips' audio", low=0, high=4, label="music volume"),
        Option("fps", 30, "", low=0, low_open=True, high=120),
        Option("preset", "veryfast", "libx264 preset", choices=X264_PRESETS),
        Option("crf", 23, "libx264 quality (lower is better and bigger)", low=0, high=51),
        Option("encoder", "auto", "auto | libx264 | nvenc", choices=ENCODERS),
        Option("decoder", "auto", "auto | cpu | gpu: gpu decodes on NVDEC and composes on CUDA", choices=DECODERS),
    ),
    "queue": (
        Option("max_attempts", 3, "renders of one job before it is marked failed", low=0, low_open=True),
        Option("job_timeout_s", 1800.0, "a render running longer is presumed hung: its worker is restarted", low=0,
               low_open=True),
        Option("lock_wait_s", 10.0, "how long to wait for another farm process holding the catalog", low=0),
    ),
    "media": (
        Option("max_download_bytes", 2 * 1024**3, "cap on one URL download (2 GiB)", low=0, low_open=True),
        Option("download_timeout_s", 30.0, "connect/read timeout of a URL download", low=0, low_open=True),
        Option("default_license", "unknown", "licence of imported media when --license is not given", choices=LICENSES),
    ),
    "nightly": (
        Option("count", 20, "jobs planned per night", low=0),
        Option("pair_window", 200, "no main/template pair repeats within this many recent jobs", low=0, low_open=True),
        Option("mood", "upbeat", "music mood when a job names none"),
    ),
    "ai": (
        Option("enabled", True, "write promo and post text with the AI server (false: the template writer)"),
        Option("model", "gpt-4o-mini", "chat model on the server (OPENAI_BASE_URL, OPENAI_API_KEY from the environment)"),
        Option("timeout_s", 20.0, "one request's time limit", low=0, low_open=True, high=300),
        Option("max_retries", 2, "retries of a request after 429, 5xx or a timeout (with backoff)", low=0, high=10),
        Option("speech_model", "gpt-4o-mini-tts", "the server's text-to-speech model (voice-over)"),
        Option("voice", "alloy", "the text-to-speech voice"),
        Option("language", "vi", "language of mashup posts' titles and descriptions", choices=("vi", "en")),
    ),
    "promo": (
        Option("duration_s", 24.0, "length of a promo", low=20, high=30, label="duration", unit="seconds"),
        Option("voice", False, "speak the script over the music (needs the AI server's speech endpoint)"),
        Option("disclosure_vi", "", "disclosure on posts with an affiliate link, Vietnamese (empty: #quảngcáo)"),
        Option("disclosure_en", "", "disclosure on posts with an affiliate link, English (empty: #ad)"),
    ),
    # Each key is also read from the environment as FARM_<KEY in capitals>, which wins over the file.
    "platforms": (
        Option("youtube_api_base", "https://www.googleapis.com/youtube/v3", "YouTube Data API v3"),
        Option("youtube_upload_base", "https://www.googleapis.com/upload/youtube/v3", "YouTube resumable uploads"),
        Option("youtube_auth_url", "https://accounts.google.com/o/oauth2/v2/auth", "Google's OAuth authorization "
               "endpoint (farm accounts connect)"),
        Option("youtube_token_url", "https://oauth2.googleapis.com/token", "Google's OAuth token endpoint"),
        Option("youtube_client_id", "", "the Google API project's OAuth client id (or FARM_YOUTUBE_CLIENT_ID)"),
        Option("youtube_client_secret", "", "its client secret (or FARM_YOUTUBE_CLIENT_SECRET)"),
        Option("youtube_consent_published", False, "the Google consent screen is published (In production); in "
               "Testing, refresh tokens die after 7 days"),
        Option("youtube_project_verified", False, "no longer used: since 2026-11-02 YouTube does not force uploads "
               "from unverified projects private"),
        Option("youtube_daily_uploads", 100, "videos.insert calls a day for the whole Google project (its quota)",
               low=0),
        Option("tiktok_api_base", "https://open.tiktokapis.com", "TikTok Content Posting API"),
        Option("tiktok_auth_url", "https://www.tiktok.com/v2/auth/authorize/", "TikTok Login Kit's authorization "
               "page (farm accounts connect)"),
        Option("tiktok_client_key", "", "the TikTok app's client key (or FARM_TIKTOK_CLIENT_KEY)"),
        Option("tiktok_client_secret", "", "its client secret (or FARM_TIKTOK_CLIENT_SECRET)"),
        Option("tiktok_app_audited", False, "TikTok has audited the app (else direct posts are self-only)"),
        Option("facebook_graph_version", "v27.0", "the Graph API version ({version} in the Facebook URLs)"),
        Option("facebook_graph_base", "https://graph.facebook.com/{version}", "Facebook Graph API"),
        Option("facebook_upload_base", "https://rupload.facebook.com/video-upload/{version}", "Facebook video uploads"),
        Option("facebook_auth_url", "https://www.facebook.com/{version}/dialog/oauth", "the Facebook Login dialog "
               "(farm accounts connect)"),
        Option("facebook_app_id", "", "the Meta app's id (or FARM_FACEBOOK_APP_ID)"),
        Option("facebook_app_secret", "", "its app secret (or FARM_FACEBOOK_APP_SECRET)"),
        Option("connect_timeout_s", 10.0, "connecting to a platform", low=0, low_open=True),
        Option("io_timeout_s", 60.0, "the longest wait for a platform's next bytes (a stalled upload is dropped "
               "and resumed)", low=0, low_open=True),
        Option("max_retries", 4, "retries of one request after a dropped connection, 429 or 5xx (with backoff)",
               low=0, high=20),
    ),
    "publish": (
        Option("workers", 2, "uploads at once (Ray actors; --local runs one at a time in-process)", low=0,
               low_open=True, high=64),
        Option("timezone", "", "time zone of accounts' posting windows and daily caps (empty: this machine's)"),
        Option("chunk_mib", 8, "upload chunk size for YouTube (rounded to 256 KiB) and TikTok (5-64 MiB)", low=1,
               high=64),
        Option("sweep_interval_s", 300.0, "how often `farm publish` without --once looks for due jobs", low=0,
               low_open=True),
    ),
    # Each key is also read from the environment as FARM_<KEY in capitals>, which wins over the file.
    "affiliate": (
        Option("shopee_app_id", "", "Shopee Affiliate Open API app id (or FARM_SHOPEE_APP_ID)"),
        Option("shopee_secret", "", "its secret (or FARM_SHOPEE_SECRET)"),
        Option("shopee_affiliate_api", "https://open-api.affiliate.shopee.vn/graphql", "Shopee Affiliate Open API "
               "(GraphQL)"),
        Option("accesstrade_key", "", "AccessTrade API access key (or FARM_ACCESSTRADE_KEY)"),
        Option("accesstrade_campaign_id", "", "AccessTrade campaign id for product links (empty: the product's "
               "campaign_id)"),
        Option("accesstrade_api_base", "https://api.accesstrade.vn", "AccessTrade API"),
        Option("sub_id_prefix", "rf", "letters and digits ending in a letter that start every sub-id (two farms on one "
               "affiliate account apart)"),
        Option("timeout_s", 15.0, "one affiliate API request's time limit", low=0, low_open=True, high=300),
        Option("max_retries", 2, "retries of a request after a dropped connection, 429 or 5xx", low=0, high=10),
    ),
    "planner": (
        Option("reward", "views", "what the planner learns from: views 24 h after posting, or validated "
               "commission per post", choices=("views", "commission")),
        Option("decay", 0.97, "weight kept by a day-old piece of evidence (per day)", low=0, low_open=True, high=1),
        Option("explore", 0.1, "share of picks made at random, at least", low=0, high=1),
        Option("min_original_share", 0.7, "per account, the least share of posts that are promos or mashups of "
               "the user's own footage", low=0, high=1),
        Option("warmup_days", 14, "a new account's daily cap grows from 1 to its cap over these days", low=0),
        Option("new_account_days", 7, "an account's first days are not learned from", low=0),
        Option("min_evidence", 5, "posts with views an account needs before the planner stops picking at random",
               low=0),
        Option("jitter_min", 20, "random minutes added to a learned posting hour", low=0, high=59),
    ),
    # cron expressions (minute hour day-of-month month day-of-week), in this machine's time zone
    "schedule": (
        Option("nightly", "0 1 * * *", "the nightly render (farm nightly)"),
        Option("publish", "*/5 * * * *", "the publish sweep (farm publish --once)"),
        Option("monitor", "30 6 * * *", "statistics, account health and alerts (farm monitor --once)"),
        Option("cleanup", "0 4 * * 0", "weekly cleanup of processed source media (farm media cleanup)"),
        Option("cleanup_days", 30.0, "the cleanup deletes processed sources older than this", low=0, low_open=True),
    ),
    "alerts": (
        Option("webhook_url", "", "POST each new alert as JSON here (empty: log and `farm alerts` only)"),
        Option("webhook_timeout_s", 5.0, "one webhook request's time limit", low=0, low_open=True, high=60),
        Option("webhook_retries", 3, "retries of a failed webhook POST, with backoff", low=0, high=10),
        Option("health_threshold", 80, "an account's health under this raises an alert", low=0, high=100),
        Option("failed_batch_percent", 5.0, "a night's batch with more failed jobs than this raises an alert", low=0,
               high=100),
    ),
}
_OPTIONS = {(section, o.key): o for section, opts in SCHEMA.items() for o in opts}


def option(section: str, key: str) -> Option:
    return _OPTIONS[(section, key)]


def render_default(key: str) -> Any:
    """The default of ``[render] key``: what a CLI option or a spec field starts from."""
    return _OPTIONS[("render", key)].default


def check_value(section: str, key: str, value: Any) -> None:
    """Raise :class:`InputError` (a render spec's message) when ``value`` is not allowed."""
    opt = _OPTIONS[(section, key)]
    if opt.problem(value) is not None:
        raise InputError(opt.spec_message(value))


def _d(section: str, key: str) -> Any:
    return _OPTIONS[(section, key)].default


@dataclass(frozen=True)
class RenderSettings:
    layout: str = _d("render", "layout")
    fit: str = _d("render", "fit")
    fade_s: float = _d("render", "fade_s")
    max_duration_s: float = _d("render", "max_duration_s")
    music_volume: float = _d("render", "music_volume")
    fps: int = _d("render", "fps")
    preset: str = _d("render", "preset")
    crf: int = _d("render", "crf")
    encoder: str = _d("render", "encoder")
    decoder: str = _d("render", "decoder")


@dataclass(frozen=True)
class QueueSettings:
    max_attempts: int = _d("queue", "max_attempts")
    lock_wait_s: float = _d("queue", "lock_wait_s")
    job_timeout_s: float = _d("queue", "job_timeout_s")


@dataclass(frozen=True)
class MediaSettings:
    max_download_bytes: int = _d("media", "max_download_bytes")
    download_timeout_s: float = _d("media", "download_timeout_s")
    default_license: str = _d("media", "default_license")


@dataclass(frozen=True)
class NightlySettings:
    count: int = _d("nightly", "count")
    pair_window: int = _d("nightly", "pair_window")
    mood: str = _d("nightly", "mood")


@dataclass(frozen=True)
class AiSettings:
    enabled: bool = _d("ai", "enabled")
    model: str = _d("ai", "model")
    timeout_s: float = _d("ai", "timeout_s")
    max_retries: int = _d("ai", "max_retries")
    speech_model: str = _d("ai", "speech_model")
    voice: str = _d("ai", "voice")
    language: str = _d("ai", "language")


@dataclass(frozen=True)
class PromoSettings:
    duration_s: float = _d("promo", "duration_s")
    voice: bool = _d("promo", "voice")
    disclosure_vi: str = _d("promo", "disclosure_vi")
    disclosure_en: str = _d("promo", "disclosure_en")


class _FromEnvironment:
    """Settings whose every key may come from ``FARM_<KEY>`` in the environment, which wins over the file."""

    def with_environment(self, environ=None):
        """These settings with every ``FARM_<KEY>`` environment variable applied (the environment wins)."""
        env = os.environ if environ is None else environ
        changes = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            raw = env.get("FARM_" + f.name.upper())
            if raw is None or raw == "":
                continue
            want = type(f.default)
            try:
                if want is bool:
                    if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                        raise ValueError(raw)
                    value = raw.lower() in ("1", "true", "yes")
                else:
                    value = want(raw)
            except ValueError:
                raise InputError(f"FARM_{f.name.upper()}: must be {want.__name__}, not {raw!r}") from None
            changes[f.name] = value
        return dataclasses.replace(self, **changes) if changes else self  # type: ignore[type-var]


@dataclass(frozen=True)
class PlatformSettings(_FromEnvironment):
    youtube_api_base: str = _d("platforms", "youtube_api_base")
    youtube_upload_base: str = _d("platforms", "youtube_upload_base")
    youtube_auth_url: str = _d("platforms", "youtube_auth_url")
    youtube_token_url: str = _d("platforms", "youtube_token_url")
    youtube_client_id: str = _d("platforms", "youtube_client_id")
    youtube_client_secret: str = _d("platforms", "youtube_client_secret")
    youtube_consent_published: bool = _d("platforms", "youtube_consent_published")
    youtube_project_verified: bool = _d("platforms", "youtube_project_verified")
    youtube_daily_uploads: int = _d("platforms", "youtube_daily_uploads")
    tiktok_api_base: str = _d("platforms", "tiktok_api_base")
    tiktok_auth_url: str = _d("platforms", "tiktok_auth_url")
    tiktok_client_key: str = _d("platforms", "tiktok_client_key")
    tiktok_client_secret: str = _d("platforms", "tiktok_client_secret")
    tiktok_app_audited: bool = _d("platforms", "tiktok_app_audited")
    facebook_graph_version: str = _d("platforms", "facebook_graph_version")
    facebook_graph_base: str = _d("platforms", "facebook_graph_base")
    facebook_upload_base: str = _d("platforms", "facebook_upload_base")
    facebook_auth_url: str = _d("platforms", "facebook_auth_url")
    facebook_app_id: str = _d("platforms", "facebook_app_id")
    facebook_app_secret: str = _d("platforms", "facebook_app_secret")
    connect_timeout_s: float = _d("platforms", "connect_timeout_s")
    io_timeout_s: float = _d("platforms", "io_timeout_s")
    max_retries: int = _d("platforms", "max_retries")

    def __repr__(self) -> str:  # the client secrets never reach a log
        return "PlatformSettings(...)"


@dataclass(frozen=True)
class PublishSettings:
    workers: int = _d("publish", "workers")
    timezone: str = _d("publish", "timezone")
    chunk_mib: int = _d("publish", "chunk_mib")
    sweep_interval_s: float = _d("publish", "sweep_interval_s")


@dataclass(frozen=True)
class AffiliateSettings(_FromEnvironment):
    shopee_app_id: str = _d("affiliate", "shopee_app_id")
    shopee_secret: str = _d("affiliate", "shopee_secret")
    shopee_affiliate_api: str = _d("affiliate", "shopee_affiliate_api")
    accesstrade_key: str = _d("affiliate", "accesstrade_key")
    accesstrade_campaign_id: str = _d("affiliate", "accesstrade_campaign_id")
    accesstrade_api_base: str = _d("affiliate", "accesstrade_api_base")
    sub_id_prefix: str = _d("affiliate", "sub_id_prefix")
    timeout_s: float = _d("affiliate", "timeout_s")
    max_retries: int = _d("affiliate", "max_retries")

    def __repr__(self) -> str:  # the secrets never reach a log
        return "AffiliateSettings(...)"


@dataclass(frozen=True)
class PlannerSettings:
    reward: str = _d("planner", "reward")
    decay: float = _d("planner", "decay")
    explore: float = _d("planner", "explore")
    min_original_share: float = _d("planner", "min_original_share")
    warmup_days: int = _d("planner", "warmup_days")
    new_account_days: int = _d("planner", "new_account_days")
    min_evidence: int = _d("planner", "min_evidence")
    jitter_min: int = _d("planner", "jitter_min")


@dataclass(frozen=True)
class ScheduleSettings:
    nightly: str = _d("schedule", "nightly")
    publish: str = _d("schedule", "publish")
    monitor: str = _d("schedule", "monitor")
    cleanup: str = _d("schedule", "cleanup")
    cleanup_days: float = _d("schedule", "cleanup_days")

    def check_cron(self, *, source: str | os.PathLike | None = None) -> None:
        """Raise :class:`InputError` naming ``schedule.<key>`` (and ``source``, the farm.toml) for
        the first bad cron expression; farm.cron reads them as the scheduler will."""
        from farm.cron import parse_cron  # APScheduler loads only when a [schedule] is checked

        for f in dataclasses.fields(self):
            if not isinstance(f.default, str):  # every text key of [schedule] is a task's cron expression
                continue
            try:
                parse_cron(getattr(self, f.name), key=f.name)
            except InputError as err:
                raise InputError(f"{source}: {err}" if source else str(err)) from None


@dataclass(frozen=True)
class AlertSettings:
    webhook_url: str = _d("alerts", "webhook_url")
    webhook_timeout_s: float = _d("alerts", "webhook_timeout_s")
    webhook_retries: int = _d("alerts", "webhook_retries")
    health_threshold: int = _d("alerts", "health_threshold")
    failed_batch_percent: float = _d("alerts", "failed_batch_percent")


_SECTIONS = {"render": RenderSettings, "queue": QueueSettings, "media": MediaSettings, "nightly": NightlySettings,
             "ai": AiSettings, "promo": PromoSettings, "platforms": PlatformSettings, "publish": PublishSettings,
             "affiliate": AffiliateSettings, "planner": PlannerSettings, "schedule": ScheduleSettings,
             "alerts": AlertSettings}


@dataclass(frozen=True)
class Settings:
    render: RenderSettings = field(default_factory=RenderSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    nightly: NightlySettings = field(default_factory=NightlySettings)
    ai: AiSettings = field(default_factory=AiSettings)
    promo: PromoSettings = field(default_factory=PromoSettings)
    platforms: PlatformSettings = field(default_factory=PlatformSettings)
    publish: PublishSettings = field(default_factory=PublishSettings)
    affiliate: AffiliateSettings = field(default_factory=AffiliateSettings)
    planner: PlannerSettings = field(default_factory=PlannerSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)

    @classmethod
    def load(cls, path: Path) -> Settings:
        """Read ``farm.toml`` (and ``FARM_<KEY>`` for ``[platforms]``); unknown sections or keys and wrong
        types name the file and key."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise InputError(f"{path}: not valid TOML ({err})") from None
        built = {}
        for name, value in data.items():
            if name not in _SECTIONS:
                raise InputError(f"{path}: unknown section [{name}]. Supported: {', '.join(_SECTIONS)}.")
            if not isinstance(value, dict):
                raise InputError(f"{path}: [{name}] must be a table")
            klass = _SECTIONS[name]
            kwargs = {}
            for key, v in value.items():
                opt = _OPTIONS.get((name, key))
                if opt is None:
                    known = ", ".join(f.name for f in dataclasses.fields(klass))
                    raise InputError(f"{path}: unknown key {name}.{key}. Supported: {known}.")
                want = type(opt.default)
                if want is float and isinstance(v, int) and not isinstance(v, bool):
                    v = float(v)
                if not isinstance(v, want) or isinstance(v, bool) != (want is bool):
                    raise InputError(f"{path}: {name}.{key} must be {want.__name__}, not {v!r}")
                why = opt.problem(v, bounded=False)
                if why == "choice":
                    raise InputError(f"{path}: {name}.{key} = {v!r} is not allowed. Supported: {', '.join(opt.choices)}.")
                if why == "low":
                    raise InputError(f"{path}: {name}.{key} must be {'more than 0' if opt.low_open else '0 or more'}")
                kwargs[key] = v
            built[name] = klass(**kwargs)
        hook = built["alerts"].webhook_url if "alerts" in built else ""
        if hook and not (hook.startswith(("http://", "https://")) and len(hook.split("/", 3)[2]) > 0):
            raise InputError(f"{path}: alerts.webhook_url = {hook!r} is not an http(s) URL")
        if hook:
            import httpx

            try:
                httpx.URL(hook)
            except httpx.InvalidURL as err:
                raise InputError(f"{path}: alerts.webhook_url = {hook!r} is not a usable URL ({err})") from None
        if "schedule" in built:  # cron expressions are checked by the scheduling library, when given
            built["schedule"].check_cron(source=path)
        # the platforms' URLs and app credentials may come from the environment, which wins
        built["platforms"] = built.get("platforms", PlatformSettings()).with_environment()
        built["affiliate"] = built.get("affiliate", AffiliateSettings()).with_environment()
        return cls(**built)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else repr(value)


def config_template() -> str:
    """The commented ``farm.toml`` a new workspace gets: every key at its default."""
    lines = [
        "# reel farm workspace settings. Every key is optional: the values shown are the defaults.",
        "# Uncomment a line to change it. Paths are relative to this file's folder.",
    ]
    for section, opts in SCHEMA.items():
        lines += ["", f"[{section}]"]
        entries = [(f"# {o.key} = " + _toml_value(o.default), o.help) for o in opts]
        width = max(29, *(len(e) + 3 for e, _ in entries))
        lines += [f"{entry:<{width}}# {help_}" if help_ else entry for entry, help_ in entries]
    return "\n".join(lines) + "\n"
