"""The deterministic template writer used when no AI server answers: promo and mashup post text, vi and en."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

from farm.errors import InputError
from farm.records import JsonRecord
from farm.text import format_price
from farm.platforms import platform_names
from farm.publish import (
    LANGUAGES,
    TEXT_SOURCES,
    check_choice,
    clean_text,
    fit_text,
    normalize_hashtags,
    text_rules,
    truncate_text,
)

Language = Literal["vi", "en"]
TextSource = Literal["ai", "fallback"]

DEFAULT_MOOD = "upbeat"
MAX_SELLING_LINES = 5
SELLING_LINE_MAX_CHARS = 120
NAME_MAX_CHARS = 80  # in titles and hooks; the full name stays in the description

_HOOKS = {
    "vi": ("🔥 {name} đang được săn lùng!", "Bạn đã thử {name} chưa? 😍", "Đừng bỏ lỡ {name} nhé!",
           "✨ Món hời hôm nay: {name}"),
    "en": ("🔥 {name} is selling fast!", "Have you tried {name} yet? 😍", "Don't miss out on {name}!",
           "✨ Today's find: {name}"),
}
_PRICE = {"vi": ("Giá chỉ {price}",), "en": ("Only {price}", "Just {price}")}
_OFFER = {"vi": "Ưu đãi hôm nay", "en": "Today's deal"}
_CTA = {"vi": ("Mua ngay", "Đặt hàng ngay", "Mua ngay kẻo lỡ"),
        "en": ("Shop now", "Order yours today", "Grab yours now")}
_GENERIC_TAGS = {"vi": ("#muasắm", "#ưuđãi"), "en": ("#shopping", "#deals")}
_BULLET = "✅"

_VIDEO_TITLES = {"vi": ("{hint} 😍", "Xem ngay: {hint}", "{hint} 🔥"),
                 "en": ("{hint} 😍", "Watch: {hint}", "{hint} 🔥")}
_VIDEO_DEFAULT_HINT = {"vi": "Video hay mỗi ngày", "en": "Today's pick"}
_VIDEO_FOLLOW = {"vi": "Theo dõi để xem thêm video hay mỗi ngày!", "en": "Follow for more every day!"}
_VIDEO_TAGS = {"vi": ("#giảitrí", "#xuhướng"), "en": ("#entertainment", "#trending")}
CREDIT_PREFIX = "Nguồn/Credit: @"

# Keywords (vi and en, casefolded) that suggest a mood; a library mood not listed matches its own name only.
_MOOD_KEYWORDS: dict[str, tuple[str, ...]] = {
    "calm": ("spa", "ngủ", "giấc ngủ", "thư giãn", "trà", "nến", "tinh dầu", "yoga", "sleep", "relax", "tea",
             "candle", "aroma", "skincare", "dưỡng da", "mặt nạ"),
    "upbeat": ("thể thao", "gym", "chạy bộ", "tập", "đồ chơi", "trẻ em", "du lịch", "sport", "fitness", "running",
               "toy", "kids", "travel", "party", "vui"),
    "trending": ("thời trang", "áo", "quần", "váy", "giày", "túi", "son", "trend", "hot", "fashion", "dress",
                 "shoes", "sneaker", "bag", "lipstick", "viral"),
    "commercial": ("điện thoại", "tai nghe", "sạc", "nồi", "bếp", "máy", "gia dụng", "công nghệ", "phone",
                   "headphone", "earbuds", "charger", "kitchen", "appliance", "gadget", "laptop"),
}


def _stable_index(key: str, salt: str, n: int) -> int:
    """A template index from the product's name: the same name always gets the same wording."""
    digest = hashlib.sha256(f"{salt}\x00{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n


def _tuple_of_text(owner: str, name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{owner}: {name} must be a list of texts, not {value!r:.80}")
    return tuple(value)


def _per_platform(owner: str, name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise InputError(f"{owner}: {name} must map platforms to texts, not {value!r:.80}")
    for key in value:
        check_choice(f"{name} platform", key, platform_names())
    return dict(value)


@dataclass(frozen=True)
class PromoText(JsonRecord):
    """A product promo's words: on-screen lines (``hook``, ``selling_lines``, ``call_to_action``, all in
    ``captions`` in showing order), post text per platform (``titles``, ``descriptions``), ``hashtags``,
    the music ``mood``, and where the words came from (``source``, with the ``reason`` for a fallback)."""

    hook: str
    selling_lines: tuple[str, ...]
    call_to_action: str
    captions: tuple[str, ...]
    hashtags: tuple[str, ...]
    titles: dict[str, str]
    descriptions: dict[str, str]
    mood: str
    language: Language
    source: TextSource
    reason: str | None = None

    def __post_init__(self) -> None:
        check_choice("language", self.language, LANGUAGES)
        check_choice("text source", self.source, TEXT_SOURCES)
        for name in ("selling_lines", "captions", "hashtags"):
            object.__setattr__(self, name, _tuple_of_text("PromoText", name, getattr(self, name)))
        for name in ("titles", "descriptions"):
            object.__setattr__(self, name, _per_platform("PromoText", name, getattr(self, name)))
        for name in ("hook", "call_to_action", "mood"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise InputError(f"PromoText: {name} must be non-empty text, not {getattr(self, name)!r}")
        if self.reason is not None and not isinstance(self.reason, str):
            raise InputError(f"PromoText: reason must be text or null, not {self.reason!r}")

    def __repr__(self) -> str:
        return (f"PromoText({self.language}, {self.source}, hook={self.hook[:40]!r}, "
                f"{len(self.selling_lines)} lines, platforms={sorted(self.titles)}, mood={self.mood})")


@dataclass(frozen=True)
class VideoText(JsonRecord):
    """A mashup post's words: ``titles`` and ``descriptions`` per platform (the description carries the
    ``credit_line`` when the source has a creator), ``hashtags``, and where the words came from."""

    titles: dict[str, str]
    descriptions: dict[str, str]
    hashtags: tuple[str, ...]
    credit_line: str | None
    language: Language
    source: TextSource
    reason: str | None = None

    def __post_init__(self) -> None:
        check_choice("language", self.language, LANGUAGES)
        check_choice("text source", self.source, TEXT_SOURCES)
        object.__setattr__(self, "hashtags", _tuple_of_text("VideoText", "hashtags", self.hashtags))
        for name in ("titles", "descriptions"):
            object.__setattr__(self, name, _per_platform("VideoText", name, getattr(self, name)))
        for name in ("credit_line", "reason"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise InputError(f"VideoText: {name} must be text or null, not {getattr(self, name)!r}")

    def __repr__(self) -> str:
        return (f"VideoText({self.language}, {self.source}, platforms={sorted(self.titles)}, "
                f"credit={self.credit_line!r})")


def _platforms(platforms: Sequence[str]) -> tuple[str, ...]:
    if isinstance(platforms, str) or not isinstance(platforms, (list, tuple)):
        raise InputError(f"platforms must be a list, not {platforms!r}. Supported: {', '.join(platform_names())}.")
    for p in platforms:
        check_choice("platform", p, platform_names())
    if not platforms:
        raise InputError(f"Invalid platforms (none). Supported: {', '.join(platform_names())}.")
    return tuple(dict.fromkeys(platforms))


def _title(name: str, text: str) -> str:
    return fit_text(name, text, field="title")


def _camel_tag(text: str) -> str:
    """'áo thun cotton' -> '#ÁoThunCotton' (readable without spaces; the letters' diacritics kept)."""
    words = re.findall(r"\w+", text)
    return "#" + "".join(w[:1].upper() + w[1:] for w in words)


def _selling_lines(points: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    seen: set[str] = set()
    for raw in points:
        line = clean_text(raw, single_line=True).lstrip("-•*·+✅✔️ ").strip()
        line = truncate_text(line[:1].upper() + line[1:], max_chars=SELLING_LINE_MAX_CHARS)
        if line and line.casefold() not in seen:
            seen.add(line.casefold())
            out.append(line)
    return tuple(out[:MAX_SELLING_LINES])


def pick_mood(*, text: str, moods: Sequence[str], preferred_mood: str | None) -> str:
    """``preferred_mood`` if the library has it; else the library mood whose keywords the product text
    matches most (ties: the library's order); else one picked by a stable hash of the text, or 'upbeat'
    when the library has no moods at all."""
    if isinstance(moods, str) or not isinstance(moods, (list, tuple)) or not all(isinstance(m, str) for m in moods):
        raise InputError(f"moods must be a list of mood names, not {moods!r}")
    if not moods:
        return DEFAULT_MOOD
    if preferred_mood is not None and preferred_mood in moods:
        return preferred_mood
    folded = unicodedata.normalize("NFC", text).casefold()
    best, best_hits = None, 0
    for mood in moods:
        words = (mood.casefold(), *_MOOD_KEYWORDS.get(mood.casefold(), ()))
        hits = sum(1 for w in words if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", folded))
        if hits > best_hits:
            best, best_hits = mood, hits
    if best is not None:
        return best
    return sorted(moods)[_stable_index(folded, "mood", len(moods))]


def fallback_promo_text(
    *,
    name: str,
    price: float,
    currency: str,
    selling_points: Sequence[str],
    call_to_action: str | None,
    language: Language,
    platforms: Sequence[str],
    moods: Sequence[str],
    preferred_mood: str | None,
    reason: str,
) -> PromoText:
    """Promo text from templates, for when no AI server answers: the same product always gets the same
    words (templates are chosen by a stable hash of its name, never at random).

    Raises:
        InputError: an empty name, a bad price or currency, an unknown language or platform.

    Example::

        t = fallback_promo_text(name="Áo thun cotton", price=129000, currency="VND", selling_points=["Mát"],
                                call_to_action=None, language="vi", platforms=["tiktok"], moods=["upbeat"],
                                preferred_mood=None, reason="AI server unreachable")
        t.captions[-2]  # 'Giá chỉ 129.000₫'
    """
    check_choice("language", language, LANGUAGES)
    targets = _platforms(platforms)
    full_name = clean_text(name, single_line=True) if isinstance(name, str) else ""
    if not full_name:
        raise InputError(f"Invalid product name ({name!r}). Supported: non-empty text.")
    if isinstance(selling_points, str) or not isinstance(selling_points, (list, tuple)):
        raise InputError(f"selling points must be a list of texts, not {selling_points!r:.80}")
    if not isinstance(reason, str) or not reason.strip():
        raise InputError(f"Invalid fallback reason ({reason!r}). Supported: non-empty text saying why.")
    if preferred_mood is not None and not isinstance(preferred_mood, str):
        raise InputError(f"Invalid preferred mood ({preferred_mood!r}). Supported: a mood name or null.")
    price_text = format_price(price, currency)
    short_name = truncate_text(full_name, max_chars=NAME_MAX_CHARS)
    key = full_name.casefold()

    lines = _selling_lines(selling_points)
    hook = _HOOKS[language][_stable_index(key, "hook", len(_HOOKS[language]))].format(name=short_name)
    price_line = _PRICE[language][_stable_index(key, "price", len(_PRICE[language]))].format(price=price_text)
    cta = clean_text(call_to_action, single_line=True) if isinstance(call_to_action, str) else ""
    if not cta:
        cta = _CTA[language][_stable_index(key, "cta", len(_CTA[language]))]
    captions = (hook, *lines[:3], price_line, cta)

    name_tag = _camel_tag(short_name)
    point_tags = [_camel_tag(p) for p in lines if len(p.split()) <= 3 and len(p) <= 25][:2]
    hashtags = normalize_hashtags([name_tag, *point_tags, *_GENERIC_TAGS[language]])

    offer = f"💰 {price_line} – {_OFFER[language]}!"
    bullets = [f"{_BULLET} {line}" for line in lines]
    titles: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    for name in targets:
        style = text_rules(name).style
        if style == "titled":  # a title of its own: the product and its price
            titles[name] = _title(name, f"{short_name} – {price_line}")
            descriptions[name] = "\n".join([hook, *bullets, offer, f"👉 {cta}"])
        elif style == "short":  # the hook is the caption's first line; keep captions short
            titles[name] = _title(name, hook)
            parts = (hook, " • ".join(lines[:3]), offer, f"👉 {cta}")
            descriptions[name] = "\n".join(part for part in parts if part)
        else:
            titles[name] = _title(name, hook)
            descriptions[name] = "\n".join([hook, *bullets, offer, f"👉 {cta}"])
    mood = pick_mood(text=" ".join([full_name, *lines]), moods=moods, preferred_mood=preferred_mood)
    return PromoText(hook=hook, selling_lines=lines, call_to_action=cta, captions=captions, hashtags=hashtags,
                     titles=titles, descriptions=descriptions, mood=mood, language=language, source="fallback",
                     reason=reason.strip())


def fallback_video_text(
    *,
    title_hint: str,
    creator: str | None,
    language: Language,
    platforms: Sequence[str],
    reason: str | None = None,
) -> VideoText:
    """A mashup post's title, description (with the credit line ``Nguồn/Credit: @creator``) and hashtags,
    from templates chosen by a stable hash of ``title_hint``.

    Raises:
        InputError: an unknown language or platform.
    """
    check_choice("language", language, LANGUAGES)
    targets = _platforms(platforms)
    hint = clean_text(title_hint, single_line=True) if isinstance(title_hint, str) else ""
    hint = truncate_text(hint or _VIDEO_DEFAULT_HINT[language], max_chars=NAME_MAX_CHARS)
    handle = clean_text(creator, single_line=True).lstrip("@").strip() if isinstance(creator, str) else ""
    credit = f"{CREDIT_PREFIX}{handle}" if handle else None
    templates = _VIDEO_TITLES[language]
    title = templates[_stable_index(hint.casefold(), "video-title", len(templates))].format(hint=hint)
    description = "\n".join(part for part in (hint, credit, _VIDEO_FOLLOW[language]) if part)
    tags = [_camel_tag(hint)] if len(hint.split()) <= 4 else []
    hashtags = normalize_hashtags([*tags, *_VIDEO_TAGS[language]])
    return VideoText(titles={p: _title(p, title) for p in targets}, descriptions=dict.fromkeys(targets, description),
                     hashtags=hashtags, credit_line=credit, language=language, source="fallback", reason=reason)
