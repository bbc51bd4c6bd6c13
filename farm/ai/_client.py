"""The AI writer: asks an OpenAI-compatible server for promo and post text (and voice-over speech), with a
cache, bounded retries, a circuit breaker, and the template writer whenever the server cannot help.

Nothing here raises because the server failed: every failure becomes a fallback (text from
:func:`fallback_promo_text` / :func:`fallback_video_text`, speech as ``wav=None``) whose ``reason`` says
why. Bad input (a product without a name, an unknown platform) still raises
:class:`~farm.errors.InputError`, before any request.

Retries and the time bound
    A request that gets HTTP 408, 429 or 5xx, times out, or cannot connect is retried up to
    ``settings.max_retries`` times; other answers (400, 401, 403, 404, …) are not. Before retry ``n``
    (0-based) the writer sleeps ``min(8, 0.5 * 2**n)`` seconds times a jitter in [0.5, 1), or the
    server's ``Retry-After`` / ``retry-after-ms`` when it sends one, capped at 8 s. One call therefore
    takes at most ``timeout_s * (max_retries + 1) + 8 * max_retries`` seconds (the defaults, 20 s and
    2 retries: 76 s). The per-request limit is httpx's: it bounds connecting and each wait for bytes, so
    a server that trickles an answer byte by byte can stretch one request; the writer then stops
    retrying once the next attempt would end past the bound (see :attr:`AiWriter.call_bound_s`).

Circuit breaker
    After 3 calls in a row that failed on the wire (a status error or a timeout, retries spent), the
    writer does not ask that endpoint (chat, speech: each has its own breaker) for 300 s: every call
    falls back at once, saying so. After the pause one call is let through; a failure pauses again,
    a success closes the breaker. An answer that arrives but is unusable (not JSON, breaks the
    schema) shows the server is alive and does not count.

Cache
    Keyed by sha256 over (kind, model, the full messages and the schema) — for speech (model, voice,
    text, language, format). Only a valid answer is stored; a cached one is re-checked when read and
    used with no request (``cached=True``, the tokens it cost when it was asked).
"""

from __future__ import annotations

import email.utils
import hashlib
import io
import json
import logging
import math
import os
import random
import threading
import time
import wave
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence

import openai

import catalogs
from farm.ai._fallback import (
    CREDIT_PREFIX,
    DEFAULT_MOOD,
    PromoText,
    VideoText,
    fallback_promo_text,
    fallback_video_text,
)
from farm.ai._schemas import (
    PROMO_SCHEMA_NAME,
    VIDEO_SCHEMA_NAME,
    AnswerError,
    PromoAnswer,
    VideoAnswer,
    parse_promo_answer,
    parse_video_answer,
    promo_schema,
    video_schema,
)
from farm.errors import InputError
from farm.platforms import platform, platform_names
from farm.publish import (
    LANGUAGES,
    TEXT_SOURCES,
    check_choice,
    clean_text,
    fit_text,
    normalize_hashtags,
    text_rules,
)
from farm.settings import AiSettings
from farm.text import format_price

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
BREAKER_FAILURES = 3
BREAKER_OPEN_S = 300.0
RETRY_STATUSES = (408, 429)  # and every 5xx
SPEECH_MAX_CHARS = 4096  # the speech endpoint's input limit

OFF_REASON = "AI text is off in farm.toml"
NO_KEY_REASON = "no OPENAI_API_KEY"


class AnswerCache(Protocol):
    """Where answers are kept: ``get`` returns a dict with ``answer`` (bytes), ``prompt_tokens`` and
    ``completion_tokens`` (as :func:`catalogs.ai_cache_get` does), or None."""

    def get(self, key: str) -> dict | None: ...

    def put(self, key: str, *, kind: str, model: str, answer: bytes, prompt_tokens: int = 0,
            completion_tokens: int = 0) -> None: ...


class MemoryAnswerCache:
    """An in-process :class:`AnswerCache`, for tests and one-off renders."""

    def __init__(self) -> None:
        self._rows: dict[str, dict] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: str) -> dict | None:
        with self._lock:
            row = self._rows.get(key)
            return dict(row) if row is not None else None

    def put(self, key: str, *, kind: str, model: str, answer: bytes, prompt_tokens: int = 0,
            completion_tokens: int = 0) -> None:
        with self._lock:  # like the catalog: a second store of the same question keeps the first
            self._rows.setdefault(key, {"request_sha256": key, "kind": kind, "model": model, "answer": bytes(answer),
                                        "prompt_tokens": int(prompt_tokens),
                                        "completion_tokens": int(completion_tokens)})


class CatalogAnswerCache:
    """An :class:`AnswerCache` in the workspace catalog's ``ai_cache`` table (answers as UTF-8 JSON bytes,
    speech as WAV bytes). Each get/put opens its own short connection: do not call the writer while
    holding ``ws.catalog.write()``. Catalog errors (:class:`~farm.errors.BusyError`) propagate."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws

    def __repr__(self) -> str:
        return f"CatalogAnswerCache({self._ws!r})"

    def get(self, key: str) -> dict | None:
        with self._ws.catalog.read() as con:
            return catalogs.ai_cache_get(con, key)

    def put(self, key: str, *, kind: str, model: str, answer: bytes, prompt_tokens: int = 0,
            completion_tokens: int = 0) -> None:
        with self._ws.catalog.write() as con:
            catalogs.ai_cache_put(con, request_sha256=key, kind=kind, model=model, answer=bytes(answer),
                                  prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


@dataclass(frozen=True)
class TextResult:
    """Words for a promo or a post and how they were got: ``source`` 'ai' or 'fallback' (then ``reason``
    says why), the tokens the answer cost, whether it came from the cache, and how many HTTP requests
    this call made."""

    text: PromoText | VideoText
    source: str
    reason: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    requests: int = 0

    def __post_init__(self) -> None:
        check_choice("text source", self.source, TEXT_SOURCES)
        if self.text.source != self.source:
            raise InputError(f"TextResult: source {self.source!r} but the text's is {self.text.source!r}")
        for name in ("prompt_tokens", "completion_tokens", "requests"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(f"TextResult: {name} must be a whole number, 0 or more, not {value!r}")

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class SpeechResult:
    """Voice-over audio: ``wav`` (a WAV file's bytes) or None with the ``reason``."""

    wav: bytes | None
    reason: str | None
    cached: bool = False
    requests: int = 0

    def __repr__(self) -> str:
        size = f"{len(self.wav)} bytes" if self.wav is not None else "None"
        return f"SpeechResult(wav={size}, reason={self.reason!r}, cached={self.cached}, requests={self.requests})"


@dataclass(frozen=True)
class _Outcome:
    answer: Any
    reason: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    requests: int = 0


@dataclass
class _Breaker:
    failures: int = 0
    open_until: float = -math.inf
    last_reason: str = ""


def request_key(kind: str, model: str, request: Mapping[str, Any]) -> str:
    """The cache key: sha256 over the kind, the model and the whole request (messages, schema, …)."""
    blob = json.dumps({"kind": kind, "model": model, "request": request}, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _retry_after_s(headers: Any) -> float | None:
    """Seconds the server asks us to wait (``retry-after-ms``, ``Retry-After`` in seconds or as a date)."""
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
    except (AttributeError, ValueError):
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = body["error"].get("message")
    return f" ({str(message)[:120]})" if message else ""


def _wav_problem(data: bytes) -> str | None:
    if not data[:4] == b"RIFF" or data[8:12] != b"WAVE":
        return f"speech answer is not WAV audio ({len(data)} bytes starting {data[:12]!r})"
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            if w.getnchannels() < 1 or w.getframerate() <= 0:
                return "speech answer is a WAV file without audio"
    except (wave.Error, EOFError) as exc:
        return f"speech answer is not a readable WAV file ({exc})"
    return None


# ---- prompts -------------------------------------------------------------------------------------------

_SYSTEM = {
    "vi": ("Bạn viết nội dung cho video quảng cáo ngắn dạng dọc (TikTok, YouTube Shorts, Facebook Reels) của người "
           "bán hàng tiếp thị liên kết. Viết bằng tiếng Việt có dấu đầy đủ, tự nhiên, ngắn gọn, thân thiện. Chỉ dùng "
           "thông tin được cho, không bịa công dụng hay khuyến mãi. Trả lời đúng theo JSON schema."),
    "en": ("You write the words for short vertical promo videos (TikTok, YouTube Shorts, Facebook Reels) for "
           "affiliate sellers. Write in natural, short, friendly English. Use only the facts given; never invent "
           "benefits or discounts. Answer exactly in the JSON schema."),
}

_PROMO_TASK = {
    "vi": """Sản phẩm: {name}
Giá: {price} (ghi giá đúng y như vậy, không đổi cách viết, không làm tròn, không đổi đơn vị)
Điểm nổi bật:
{points}
Lời kêu gọi gợi ý: {cta}
Nền tảng: {platforms}
Tâm trạng nhạc nền (chọn một): {moods}

Hãy viết:
- hook: câu mở đầu gây chú ý, tối đa 90 ký tự;
- selling_lines: 2 đến 5 câu bán hàng, mỗi câu tối đa 90 ký tự;
- call_to_action: lời kêu gọi, tối đa 40 ký tự;
- captions: 3 đến 8 dòng chữ hiện trên video, mỗi dòng tối đa 60 ký tự;
- hashtags: 3 đến 10 hashtag, mỗi hashtag viết liền (chữ, số hoặc _), giữ dấu tiếng Việt;
- posts: mỗi nền tảng ở trên đúng một mục gồm platform, title và description; {limits};
- mood: một trong các tâm trạng đã liệt kê.
Không dùng dấu < hoặc >, không thêm đường link.""",
    "en": """Product: {name}
Price: {price} (write the price exactly as given: same format, no rounding, no other currency)
Selling points:
{points}
Suggested call to action: {cta}
Platforms: {platforms}
Background music mood (pick one): {moods}

Write:
- hook: an attention-grabbing first line, at most 90 characters;
- selling_lines: 2 to 5 selling lines, each at most 90 characters;
- call_to_action: at most 40 characters;
- captions: 3 to 8 on-screen captions, each at most 60 characters;
- hashtags: 3 to 10 hashtags, each one word (letters, digits or _);
- posts: exactly one entry per platform above with platform, title and description; {limits};
- mood: one of the moods listed.
Do not use < or >, do not add links.""",
}

_VIDEO_TASK = {
    "vi": """Video ghép ngắn dạng dọc, chủ đề: {hint}
Nền tảng: {platforms}
Hãy viết một tiêu đề (tối đa 90 ký tự), một mô tả (tối đa 2000 ký tự) và 3 đến 10 hashtag viết liền, giữ dấu \
tiếng Việt. Không ghi nguồn hay tên tác giả (hệ thống tự thêm), không dùng dấu < hoặc >, không thêm đường link.""",
    "en": """A short vertical mashup video about: {hint}
Platforms: {platforms}
Write one title (at most 90 characters), one description (at most 2000 characters) and 3 to 10 one-word \
hashtags. Do not credit the source or its creator (we add that), do not use < or >, do not add links.""",
}
_NO_CTA = {"vi": "(tự chọn)", "en": "(your choice)"}
_NO_POINTS = {"vi": "- (không có, chỉ dựa vào tên sản phẩm)", "en": "- (none: go by the product's name)"}
_SPEECH_INSTRUCTIONS = {"vi": "Đọc bằng tiếng Việt, giọng tự nhiên, vui tươi, rõ ràng.",
                        "en": "Read in English with a natural, upbeat, clear voice."}


@dataclass(frozen=True)
class _Product:
    name: str
    price: float
    currency: str
    price_text: str
    selling_points: tuple[str, ...]
    call_to_action: str | None
    language: str
    platforms: tuple[str, ...]
    mood: str | None


_PRODUCT_KEYS = ("name", "price", "currency", "selling_points", "call_to_action", "language", "platforms", "mood")


def _product(product: Mapping[str, Any]) -> _Product:
    if not isinstance(product, Mapping):
        raise InputError(f"product must be a mapping with keys {', '.join(_PRODUCT_KEYS)}, not {product!r:.80}")
    for key in ("name", "price", "currency", "language", "platforms"):
        if key not in product:
            raise InputError(f"product has no {key!r}. Supported keys: {', '.join(_PRODUCT_KEYS)}.")
    name = clean_text(product["name"], single_line=True) if isinstance(product["name"], str) else ""
    if not name:
        raise InputError(f"Invalid product name ({product['name']!r}). Supported: non-empty text.")
    language = check_choice("language", product["language"], LANGUAGES)
    platforms = product["platforms"]
    if isinstance(platforms, str) or not isinstance(platforms, (list, tuple)) or not platforms:
        raise InputError(f"Invalid platforms ({platforms!r}). Supported: a list of {', '.join(platform_names())}.")
    for p in platforms:
        check_choice("platform", p, platform_names())
    points = product.get("selling_points") or ()
    if isinstance(points, str) or not isinstance(points, (list, tuple)) or not all(isinstance(p, str) for p in points):
        raise InputError(f"selling points must be a list of texts, not {points!r:.80}")
    cta = product.get("call_to_action")
    if cta is not None and not isinstance(cta, str):
        raise InputError(f"Invalid call to action ({cta!r}). Supported: text or null.")
    mood = product.get("mood")
    if mood is not None and not isinstance(mood, str):
        raise InputError(f"Invalid mood ({mood!r}). Supported: a mood name or null.")
    price_text = format_price(product["price"], product["currency"])  # raises InputError on a bad price
    return _Product(name=name, price=product["price"], currency=product["currency"], price_text=price_text,
                    selling_points=tuple(points), call_to_action=cta or None, language=language,
                    platforms=tuple(dict.fromkeys(platforms)), mood=mood or None)


def _post_text(name: str, text: str, *, title: bool) -> str:
    """The text cleaned as the platform takes it; a title cut to its limits."""
    if title:
        return fit_text(name, text, field="title")
    return clean_text(text, strip_angle_brackets=not text_rules(name).angle_brackets)


_LIMITS_LINE = {"vi": "{label}: tiêu đề tối đa {title} ký tự, mô tả tối đa {description} ký tự",
                "en": "{label}: title at most {title} characters, description at most {description} characters"}


def _limits_line(platforms: Sequence[str], language: str) -> str:
    """Each platform's title and description limits, in characters (the tightest unit's count), for the prompt."""
    return "; ".join(_LIMITS_LINE[language].format(label=platform(p).label, title=min(text_rules(p).title.values()),
                                                   description=min(text_rules(p).description.values()))
                     for p in platforms)


def _promo_text(answer: PromoAnswer, *, language: str) -> PromoText:
    try:
        return PromoText(
            hook=clean_text(answer.hook, single_line=True),
            selling_lines=tuple(clean_text(s, single_line=True) for s in answer.selling_lines),
            call_to_action=clean_text(answer.call_to_action, single_line=True),
            captions=tuple(clean_text(c, single_line=True) for c in answer.captions),
            hashtags=normalize_hashtags(answer.hashtags),
            titles={p.platform: _post_text(p.platform, p.title, title=True) for p in answer.posts},
            descriptions={p.platform: _post_text(p.platform, p.description, title=False) for p in answer.posts},
            mood=answer.mood, language=language, source="ai", reason=None)  # type: ignore[arg-type]
    except InputError as exc:
        raise AnswerError(f"AI answer is unusable ({exc})") from None


def _video_text(answer: VideoAnswer, *, language: str, platforms: Sequence[str], creator: str | None) -> VideoText:
    handle = clean_text(creator, single_line=True).lstrip("@").strip() if isinstance(creator, str) else ""
    credit = f"{CREDIT_PREFIX}{handle}" if handle else None
    descriptions = {}
    for p in platforms:
        body = _post_text(p, answer.description, title=False)
        if credit and credit not in body:
            body = f"{body}\n{credit}"
        descriptions[p] = fit_text(p, body, field="description")
    try:
        return VideoText(titles={p: _post_text(p, answer.title, title=True) for p in platforms},
                         descriptions=descriptions, hashtags=normalize_hashtags(answer.hashtags), credit_line=credit,
                         language=language, source="ai", reason=None)  # type: ignore[arg-type]
    except InputError as exc:
        raise AnswerError(f"AI answer is unusable ({exc})") from None


# ---- the writer ----------------------------------------------------------------------------------------


class AiWriter:
    """Promo text, mashup post text and voice-over speech from an OpenAI-compatible server, falling back
    to the template writer (see the module docstring for retries, the time bound, the circuit breaker
    and the cache).

    Args:
        settings: the ``[ai]`` section of ``farm.toml``.
        cache: where answers are kept (:class:`CatalogAnswerCache` for a workspace); None: no cache.
        api_key: default ``OPENAI_API_KEY`` from the environment; none (or empty) means every call falls back.
        base_url: default ``OPENAI_BASE_URL`` from the environment, else OpenAI's.
        sleep: how to wait between retries (tests pass one that records the delays).
        clock: a monotonic clock in seconds (the circuit breaker's pause and the call bound).

    Example::

        writer = AiWriter(settings=ws.settings.ai, cache=CatalogAnswerCache(ws))
        result = writer.promo_text(product={"name": "Áo thun cotton", "price": 129000, "currency": "VND",
                                            "selling_points": ["Mát"], "call_to_action": None,
                                            "language": "vi", "platforms": ["tiktok"], "mood": None},
                                   moods=["upbeat", "calm"])
        result.source, result.text.hook
    """

    def __init__(self, *, settings: AiSettings, cache: AnswerCache | None = None, api_key: str | None = None,
                 base_url: str | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.cache = cache
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self._base_url = base_url if base_url is not None else (os.environ.get("OPENAI_BASE_URL") or None)
        self._sleep = sleep
        self._clock = clock
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._breakers = {"chat": _Breaker(), "speech": _Breaker()}
        self._client: openai.OpenAI | None = None
        if self._api_key and settings.enabled:
            # max_retries=0: retries are ours (backoff, Retry-After cap, the call bound, the breaker).
            self._client = openai.OpenAI(api_key=self._api_key, base_url=self._base_url,
                                         timeout=float(settings.timeout_s), max_retries=0)

    def __repr__(self) -> str:
        return (f"AiWriter(model={self.settings.model!r}, base_url={self._base_url!r}, "
                f"enabled={self._client is not None}, cache={type(self.cache).__name__ if self.cache else None})")

    @property
    def call_bound_s(self) -> float:
        """The longest one call may take: ``timeout_s * (max_retries + 1) + 8 s * max_retries``."""
        retries = int(self.settings.max_retries)
        return float(self.settings.timeout_s) * (retries + 1) + BACKOFF_CAP_S * retries

    def _off_reason(self) -> str | None:
        if not self.settings.enabled:
            return OFF_REASON
        if not self._api_key:
            return NO_KEY_REASON
        return None

    # ---- public calls -----------------------------------------------------------------------------------

    def promo_text(self, *, product: Mapping[str, Any], moods: Sequence[str]) -> TextResult:
        """A product promo's script, captions, hashtags and per-platform post text, with a mood from
        ``moods`` (the product's own ``mood`` when the library has it).

        Args:
            product: ``name``, ``price``, ``currency``, ``language`` ('vi' | 'en'), ``platforms``, and
                optionally ``selling_points``, ``call_to_action``, ``mood``.
            moods: the music library's moods.

        Returns:
            A :class:`TextResult`; ``source`` 'fallback' with the ``reason`` when the server did not help.

        Raises:
            InputError: a product without a name, a bad price, currency, language or platform.
        """
        p = _product(product)
        if isinstance(moods, str) or not isinstance(moods, (list, tuple)) or not all(isinstance(m, str) for m in moods):
            raise InputError(f"moods must be a list of mood names, not {moods!r:.80}")

        def fallback(reason: str, outcome: _Outcome | None = None) -> TextResult:
            text = fallback_promo_text(name=p.name, price=p.price, currency=p.currency,
                                       selling_points=p.selling_points, call_to_action=p.call_to_action,
                                       language=p.language, platforms=p.platforms, moods=tuple(moods),  # type: ignore[arg-type]
                                       preferred_mood=p.mood, reason=reason)
            return self._fallback_result(text, reason, outcome)

        off = self._off_reason()
        if off:
            return fallback(off)
        # The seller's own mood wins when the library has it; no moods at all: the default one.
        ask_moods = [p.mood] if p.mood in moods else list(dict.fromkeys(moods)) or [DEFAULT_MOOD]
        lang = p.language
        points = "\n".join(f"- {clean_text(s, single_line=True)}" for s in p.selling_points if s.strip())
        task = _PROMO_TASK[lang].format(
            name=p.name, price=p.price_text, points=points or _NO_POINTS[lang],
            cta=clean_text(p.call_to_action, single_line=True) if p.call_to_action else _NO_CTA[lang],
            platforms=", ".join(p.platforms), moods=", ".join(ask_moods), limits=_limits_line(p.platforms, lang))
        messages = [{"role": "system", "content": _SYSTEM[lang]}, {"role": "user", "content": task}]
        schema = promo_schema(platforms=p.platforms, moods=ask_moods)
        outcome = self._chat("promo", messages, PROMO_SCHEMA_NAME, schema,
                             lambda content: parse_promo_answer(content, platforms=p.platforms, moods=ask_moods),
                             lambda answer: _promo_text(answer, language=lang))
        if outcome.answer is None:
            return fallback(outcome.reason or "AI answer missing", outcome)
        return self._ai_result(outcome.answer, outcome)

    def video_text(self, *, title_hint: str, creator: str | None, language: str,
                   platforms: Sequence[str]) -> TextResult:
        """A mashup post's title, description (ending with the credit line when ``creator`` is known)
        and hashtags, the same title and description for every platform.

        Raises:
            InputError: an unknown language or platform.
        """
        check_choice("language", language, LANGUAGES)
        if isinstance(platforms, str) or not isinstance(platforms, (list, tuple)) or not platforms:
            raise InputError(f"Invalid platforms ({platforms!r}). Supported: a list of {', '.join(platform_names())}.")
        for name in platforms:
            check_choice("platform", name, platform_names())
        targets = tuple(dict.fromkeys(platforms))

        def fallback(reason: str, outcome: _Outcome | None = None) -> TextResult:
            text = fallback_video_text(title_hint=title_hint, creator=creator, language=language,  # type: ignore[arg-type]
                                       platforms=targets, reason=reason)
            return self._fallback_result(text, reason, outcome)

        off = self._off_reason()
        if off:
            return fallback(off)
        hint = clean_text(title_hint, single_line=True) if isinstance(title_hint, str) else ""
        if not hint:
            return fallback("no title hint to write about")
        task = _VIDEO_TASK[language].format(hint=hint, platforms=", ".join(targets))
        messages = [{"role": "system", "content": _SYSTEM[language]}, {"role": "user", "content": task}]
        outcome = self._chat("video", messages, VIDEO_SCHEMA_NAME, video_schema(), parse_video_answer,
                             lambda answer: _video_text(answer, language=language, platforms=targets, creator=creator))
        if outcome.answer is None:
            return fallback(outcome.reason or "AI answer missing", outcome)
        return self._ai_result(outcome.answer, outcome)

    def speech(self, text: str, *, language: str) -> SpeechResult:
        """``text`` spoken (a WAV file's bytes, model ``settings.speech_model``, voice ``settings.voice``),
        cached like text answers. Never raises: any failure gives ``wav=None`` and the reason."""
        try:
            return self._speech(text, language=language)
        except Exception as exc:  # noqa: BLE001 - a voice-over is optional: the promo renders without one
            log.warning("speech failed: %r", exc)
            return SpeechResult(wav=None, reason=f"speech failed ({type(exc).__name__}: {exc})"[:300], cached=False)

    # ---- internals --------------------------------------------------------------------------------------

    def _speech(self, text: str, *, language: str) -> SpeechResult:
        if language not in LANGUAGES:
            return SpeechResult(wav=None, reason=f"Invalid language ({language!r}). Supported: {', '.join(LANGUAGES)}.")
        off = self._off_reason()
        if off:
            return SpeechResult(wav=None, reason=off)
        said = clean_text(text) if isinstance(text, str) else ""
        if not said:
            return SpeechResult(wav=None, reason="nothing to say (empty text)")
        if len(said) > SPEECH_MAX_CHARS:
            return SpeechResult(wav=None, reason=f"text too long to speak ({len(said)} characters, limit "
                                                 f"{SPEECH_MAX_CHARS})")
        model, voice = self.settings.speech_model, self.settings.voice
        request: dict[str, Any] = {"model": model, "voice": voice, "input": said, "response_format": "wav"}
        if not model.startswith("tts-1"):  # the older tts-1 models take no instructions
            request["instructions"] = _SPEECH_INSTRUCTIONS[language]
        key = request_key("speech", model, {**request, "language": language})
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None and _wav_problem(hit["answer"]) is None:
                return SpeechResult(wav=hit["answer"], reason=None, cached=True)
        skip = self._breaker_reason("speech")
        if skip:
            return SpeechResult(wav=None, reason=skip)
        assert self._client is not None
        client = self._client
        response, requests, reason = self._send("speech", lambda: client.audio.speech.create(**request))
        if response is None:
            return SpeechResult(wav=None, reason=reason, requests=requests)
        data = response.content
        problem = _wav_problem(data)
        if problem:
            return SpeechResult(wav=None, reason=problem, requests=requests)
        if self.cache is not None:
            self.cache.put(key, kind="speech", model=model, answer=data)
        return SpeechResult(wav=data, reason=None, cached=False, requests=requests)

    def _chat(self, kind: str, messages: list[dict], schema_name: str, schema: dict,
              parse: Callable[[str | None], Any], build: Callable[[Any], Any]) -> _Outcome:
        """Ask (or find in the cache) and check the answer; ``parse`` gives the pydantic answer, ``build``
        the text from it (both raise :class:`AnswerError`); the outcome's ``answer`` is the text."""
        model = self.settings.model
        response_format = {"type": "json_schema",
                           "json_schema": {"name": schema_name, "schema": schema, "strict": True}}
        key = request_key(kind, model, {"messages": messages, "response_format": response_format})
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                try:
                    answer = build(parse(hit["answer"].decode("utf-8")))
                except (AnswerError, UnicodeDecodeError) as exc:  # stored under older rules: ask again
                    log.info("cached %s answer no longer valid: %s", kind, exc)
                else:
                    return _Outcome(answer, None, int(hit.get("prompt_tokens") or 0),
                                    int(hit.get("completion_tokens") or 0), cached=True, requests=0)
        skip = self._breaker_reason("chat")
        if skip:
            return _Outcome(None, skip)
        assert self._client is not None
        client = self._client
        response, requests, reason = self._send("chat", lambda: client.chat.completions.create(
            model=model, messages=messages, response_format=response_format))  # type: ignore[arg-type]
        if response is None:
            return _Outcome(None, reason, requests=requests)
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        try:
            parsed = parse(self._content(response))
            answer = build(parsed)
        except AnswerError as exc:
            log.warning("unusable %s answer: %s", kind, exc.reason)
            return _Outcome(None, exc.reason, prompt_tokens, completion_tokens, requests=requests)
        if self.cache is not None:
            stored = json.dumps(parsed.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
            self.cache.put(key, kind=kind, model=model, answer=stored.encode("utf-8"), prompt_tokens=prompt_tokens,
                           completion_tokens=completion_tokens)
        return _Outcome(answer, None, prompt_tokens, completion_tokens, requests=requests)

    @staticmethod
    def _content(response: Any) -> str | None:
        choices = getattr(response, "choices", None) or []
        if not choices:
            raise AnswerError("AI answer has no choices")
        choice = choices[0]
        refusal = getattr(choice.message, "refusal", None)
        if refusal:
            raise AnswerError(f"AI refused to answer ({str(refusal)[:120]})")
        if choice.finish_reason == "length":
            raise AnswerError("AI answer was cut off at the token limit (finish_reason length)")
        return choice.message.content

    def _send(self, endpoint: str, request: Callable[[], Any]) -> tuple[Any, int, str]:
        """Make ``request`` with retries; returns (response or None, requests made, failure reason)."""
        retries = int(self.settings.max_retries)
        start = self._clock()
        requests = 0
        while True:
            requests += 1
            wait_s: float | None = None
            try:
                response = request()
            except openai.APIStatusError as exc:
                status = exc.status_code
                retryable = status in RETRY_STATUSES or status >= 500
                wait_s = _retry_after_s(exc.response.headers)
                reason = f"AI server answered HTTP {status}{_error_detail(exc)}"
            except openai.APITimeoutError:
                retryable = True
                reason = f"AI server did not answer within {self.settings.timeout_s:g} s"
            except openai.APIConnectionError as exc:
                retryable = True
                reason = f"AI server unreachable ({exc.__cause__ or exc})"[:200]
            else:
                self._note_success(endpoint)
                return response, requests, ""
            if not retryable or requests > retries:
                break
            delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (requests - 1)) * (0.5 + self._rng.random() / 2) \
                if wait_s is None else min(BACKOFF_CAP_S, wait_s)
            if self._clock() - start + delay + float(self.settings.timeout_s) > self.call_bound_s:
                reason += f"; no time left for another try (bound {self.call_bound_s:g} s)"
                break
            log.info("%s request failed (%s); retry %d in %.2f s", endpoint, reason, requests, delay)
            self._sleep(delay)
        reason = f"{reason} ({requests} request{'s' if requests > 1 else ''})"
        self._note_failure(endpoint, reason)
        log.warning("%s: %s", endpoint, reason)
        return None, requests, reason

    def _breaker_reason(self, endpoint: str) -> str | None:
        with self._lock:
            b = self._breakers[endpoint]
            left = b.open_until - self._clock()
            if left <= 0:
                return None
            return (f"AI server not asked: {b.failures} calls in a row failed (last: {b.last_reason}); "
                    f"asking again in {math.ceil(left)} s")

    def _note_failure(self, endpoint: str, reason: str) -> None:
        with self._lock:
            b = self._breakers[endpoint]
            b.failures += 1
            b.last_reason = reason
            if b.failures >= BREAKER_FAILURES:
                b.open_until = self._clock() + BREAKER_OPEN_S

    def _note_success(self, endpoint: str) -> None:
        with self._lock:
            self._breakers[endpoint] = _Breaker()

    @staticmethod
    def _ai_result(text: PromoText | VideoText, outcome: _Outcome) -> TextResult:
        return TextResult(text=text, source="ai", reason=None, prompt_tokens=outcome.prompt_tokens,
                          completion_tokens=outcome.completion_tokens, cached=outcome.cached,
                          requests=outcome.requests)

    @staticmethod
    def _fallback_result(text: PromoText | VideoText, reason: str, outcome: _Outcome | None) -> TextResult:
        o = outcome or _Outcome(None, reason)
        return TextResult(text=text, source="fallback", reason=reason, prompt_tokens=o.prompt_tokens,
                          completion_tokens=o.completion_tokens, cached=False, requests=o.requests)
