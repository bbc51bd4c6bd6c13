"""Post metadata per platform: title, caption, hashtags, link, disclosure and flags, always within limits."""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence
from urllib.parse import urlsplit

from farm.errors import InputError
from farm.platforms import TextRules, platform, platform_names
from farm.records import JsonRecord

Platform = str
"""A registered platform's name (``farm.platforms.platform_names()``); its descriptor's ``text`` holds the limits."""
Language = Literal["vi", "en"]
TextSource = Literal["ai", "fallback"]
LinkPlacement = Literal["description", "bio", "none"]
TextUnit = Literal["chars", "utf8_bytes", "utf16_units"]

LANGUAGES: tuple[str, ...] = ("vi", "en")
TEXT_SOURCES: tuple[str, ...] = ("ai", "fallback")
LINK_PLACEMENTS: tuple[str, ...] = ("description", "bio", "none")

# Our own cap on one hashtag (no platform documents one): longer ones are unreadable run-on words.
HASHTAG_MAX_CHARS = 50
# Our own caps on what we never cut, so the link and the disclosure always fit in every platform's text.
AFFILIATE_URL_MAX_CHARS = 2000
DISCLOSURE_MAX_CHARS = 200
DISCLOSURE_MAX_HASHTAGS = 3

ELLIPSIS = "…"

_DEFAULT_DISCLOSURE = {"en": "#ad", "vi": "#quảngcáo · Tiếp thị liên kết"}
_LINK_LABEL = {"en": "🔗 Shop here: {url}", "vi": "🔗 Mua tại đây: {url}"}
# TikTok captions have no clickable links: the link goes in the profile's bio and the caption says so.
_LINK_IN_BIO = {"en": "🔗 Link in bio", "vi": "🔗 Link ở bio"}

# A hashtag as the platforms parse it: '#' after a non-word character, then word characters.
_INLINE_HASHTAG = re.compile(r"(?<![\w/&#])#(?=\w)(\w+)")
# A sub-id as every network takes it (Shopee refuses '_', '-', '.' and accents): farm.revenue makes them.
SUB_ID_MAX_CHARS = 20
_SUB_ID = re.compile(rf"^[A-Za-z0-9]{{1,{SUB_ID_MAX_CHARS}}}$")
_ZWJ = "\u200d"
_GRAPHEME_MAX = 16  # code points; real ones (a letter with its marks, a ZWJ family emoji) are shorter


def check_choice(what: str, value: Any, allowed: Sequence[str]) -> str:
    """``value`` if it is one of ``allowed``, else an InputError naming both."""
    if not isinstance(value, str) or value not in allowed:
        raise InputError(f"Invalid {what} ({value!r}). Supported: {', '.join(allowed)}.")
    return value


def text_rules(name: str) -> TextRules:
    """The post text rules of the platform ``name`` (one posts are written for, not the outbox)."""
    rules = platform(check_choice("platform", name, platform_names())).text
    assert rules is not None  # registered platforms that are not the outbox have text rules
    return rules


def text_size(text: str, unit: TextUnit) -> int:
    """The length of ``text`` in code points, UTF-8 bytes or UTF-16 code units."""
    if unit == "chars":
        return len(text)
    if unit == "utf8_bytes":
        return len(text.encode("utf-8"))
    if unit == "utf16_units":
        return len(text.encode("utf-16-le")) // 2
    raise InputError(f"Invalid text unit ({unit!r}). Supported: chars, utf8_bytes, utf16_units.")


_SIZES = {"chars": len, "utf8_bytes": lambda g: len(g.encode("utf-8")),
          "utf16_units": lambda g: len(g.encode("utf-16-le")) // 2}


def _fits(text: str, limits: Mapping[str, int]) -> bool:
    return all(text_size(text, unit) <= limit for unit, limit in limits.items())  # type: ignore[arg-type]


def _ranges(cps: Sequence[int]) -> str:
    out, i = [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        out.append(re.escape(chr(cps[i])) + ("-" + re.escape(chr(cps[j])) if j > i else ""))
        i = j + 1
    return "".join(out)


@functools.cache
def _patterns() -> dict[str, re.Pattern[str]]:
    """Regular expressions over Unicode's marks, built once (planes 0, 1 and 14 hold all of them)."""
    marks = [cp for cp in (*range(0x20000), *range(0xE0000, 0xE0200))
             if unicodedata.category(chr(cp)) in ("Mn", "Me", "Mc")]
    # re tests a class of BMP characters with a bitmap but scans a class of astral ones range by range,
    # so astral characters (rare) are tested only after a cheap check that they are astral.
    bmp = _ranges([cp for cp in marks if cp < 0x10000]) + "\uFE00-\uFE0F"
    astral = _ranges([cp for cp in marks if cp >= 0x10000]) + "\U000E0100-\U000E01EF"
    # Marks, variation selectors, emoji skin tones and tag characters belong to the character before them.
    astral_extend = astral + "\U0001F3FB-\U0001F3FF\U000E0020-\U000E007F"
    mark = f"(?:[{bmp}]|(?=[\U00010000-\U0010FFFF])[{astral}])"
    extend = f"(?:[{bmp}]|(?=[\U00010000-\U0010FFFF])[{astral_extend}])"
    return {
        # A close subset of UAX #29 extended grapheme clusters: CR LF, a flag's pair of regional
        # indicators, or any character with what extends it and what a zero-width joiner joins to it;
        # nothing joins a line break.
        "grapheme": re.compile(f"\r\n|[\r\n]|[\U0001F1E6-\U0001F1FF]{{2}}{extend}*"
                               f"|.(?:{extend}|\u200d[^\r\n]?)*", re.S),
        "orphan": re.compile(f"(?<!\\S)(?:{mark}|\u200d)+"),
        "long": re.compile(f"(?:[{bmp}\u200d]|(?=[\U00010000-\U0010FFFF])[{astral_extend}])"
                           f"{{{_GRAPHEME_MAX - 1}}}"),
        "extend": re.compile(extend),
    }


def _is_extend(ch: str) -> bool:
    return bool(_patterns()["extend"].fullmatch(ch)) or ch == _ZWJ


def graphemes(text: str) -> list[str]:
    """Split ``text`` into user-perceived characters (a close subset of UAX #29 extended graphemes):
    a letter with its combining marks, an emoji with its modifiers and ZWJ partners, a flag's pair."""
    return _patterns()["grapheme"].findall(text)


_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(text: str, *, single_line: bool = False, strip_angle_brackets: bool = False) -> str:
    """NFC text without control characters, lone surrogates, or combining marks left with no base letter."""
    if not isinstance(text, str):
        raise InputError(f"expected text, got {type(text).__name__} ({text!r})")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = unicodedata.normalize("NFC", _CONTROL.sub("", text))
    if strip_angle_brackets:
        text = text.replace("<", "").replace(">", "")
    # A mark with no letter before it (at the start, after a space or a line break) would join whatever
    # we put in front of it: such marks and joiners are dropped.
    text = _patterns()["orphan"].sub("", text)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    if single_line:
        text = " ".join(line for line in lines if line)
    else:
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n ")
    if _patterns()["long"].search(text):  # "Zalgo" runs of marks: keep a few
        text = "".join(g if len(g) <= _GRAPHEME_MAX
                       else g[0] + "".join(c for c in g[1:] if c != _ZWJ and _is_extend(c))[:8]
                       for g in graphemes(text))
    return unicodedata.normalize("NFC", text).strip("\n ")


def _cut(text: str, room: Mapping[str, int]) -> str:
    """The longest start of ``text`` (whole graphemes, at a word boundary where that keeps most of it)
    plus '…' that fits ``room``; '' when not even that fits."""
    if _fits(text, room):
        return text
    left = {unit: limit - text_size(ELLIPSIS, unit) for unit, limit in room.items()}  # type: ignore[arg-type]
    if min(left.values(), default=0) <= 0:
        return ""
    # Every code point takes at least one unit, so what fits lies within the first min(left) of them; a
    # greedy left-to-right split of a prefix differs from the whole text's only in its last piece.
    bound = min(left.values())
    gs = graphemes(text[: bound + 1])
    if len(text) > bound + 1:
        gs.pop()
    count = min(len(gs), bound)
    for unit, most in left.items():
        sizes = list(itertools.accumulate(map(_SIZES[unit], gs[:count])))
        count = min(count, bisect.bisect_right(sizes, most))
    taken = gs[:count]
    after = len("".join(taken))
    ends_a_word = text[after:after + 1].isspace()
    spaces = [i for i, g in enumerate(taken) if g.isspace()]
    if not ends_a_word and spaces and spaces[-1] >= len(taken) * 0.6:  # a word boundary keeping most of it
        taken = taken[: spaces[-1]]
    piece = "".join(taken).rstrip(" \n,;:-–—·|/")
    return piece + ELLIPSIS if piece else ""


def truncate_text(text: str, *, max_chars: int | None = None, max_utf8_bytes: int | None = None,
                  max_utf16_units: int | None = None) -> str:
    """``text`` NFC-normalised and, if longer than any given limit, cut at a word boundary (never inside a
    grapheme) with '…' added so that the result, '…' included, fits every limit."""
    room = {unit: limit for unit, limit in (("chars", max_chars), ("utf8_bytes", max_utf8_bytes),
                                            ("utf16_units", max_utf16_units)) if limit is not None}
    for unit, limit in room.items():
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise InputError(f"Invalid {unit} limit ({limit!r}). Supported: a whole number, 0 or more.")
    return _cut(unicodedata.normalize("NFC", text), room)


def normalize_hashtag(tag: str) -> str | None:
    """``tag`` as '#' + letters, digits and underscores (NFC, spaces and punctuation dropped), at most
    HASHTAG_MAX_CHARS long; None when nothing usable is left."""
    if not isinstance(tag, str):
        raise InputError(f"a hashtag must be text, not {type(tag).__name__} ({tag!r})")
    tag = unicodedata.normalize("NFC", tag)
    kept = []
    for g in graphemes(tag):
        base = g[0]
        if base == "_" or unicodedata.category(base)[0] in "LN":
            kept.append("".join(c for c in g if c == "_" or unicodedata.category(c)[0] in "LNM"))
    if not kept:
        return None
    body = unicodedata.normalize("NFC", "".join(kept[: HASHTAG_MAX_CHARS - 1]))
    while len(body) > HASHTAG_MAX_CHARS - 1:  # a long cluster of marks: drop whole graphemes
        body = "".join(graphemes(body)[:-1])
    return "#" + body if body else None


def normalize_hashtags(tags: Sequence[str], *, max_count: int | None = None,
                       exclude: Sequence[str] = ()) -> tuple[str, ...]:
    """Normalised hashtags, deduplicated case-insensitively (first spelling wins), without those in
    ``exclude``, at most ``max_count`` of them."""
    if isinstance(tags, str):
        raise InputError(f"hashtags must be a list of tags, not one string ({tags!r})")
    seen = {_fold(t) for t in exclude}
    out: list[str] = []
    for raw in tags:
        tag = normalize_hashtag(raw)
        if tag is None or _fold(tag) in seen:
            continue
        if max_count is not None and len(out) >= max_count:
            break
        seen.add(_fold(tag))
        out.append(tag)
    return tuple(out)


def _fold(tag: str) -> str:
    return unicodedata.normalize("NFC", tag.lstrip("#").casefold())


def _limit_inline_hashtags(text: str, allowed: int) -> tuple[str, int, list[str]]:
    """Keep the first ``allowed`` hashtags in ``text`` and turn later ones into plain words (YouTube
    ignores every hashtag of a video that has too many); returns the text, how many remain, and them."""
    kept: list[str] = []

    def one(m: re.Match[str]) -> str:
        if len(kept) < allowed:
            kept.append(m.group(0))
            return m.group(0)
        return m.group(1)

    return _INLINE_HASHTAG.sub(one, text), len(kept), kept


def check_affiliate_url(url: str) -> str:
    """An http(s) URL with a host, without spaces, quotes or angle brackets, at most AFFILIATE_URL_MAX_CHARS."""
    if not isinstance(url, str) or not url.strip():
        raise InputError(f"Invalid affiliate URL ({url!r}). Supported: an http:// or https:// address.")
    url = unicodedata.normalize("NFC", url.strip())
    bad = [c for c in url if c.isspace() or c in '<>"' or unicodedata.category(c) in ("Cc", "Cs")]
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if bad or parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InputError(f"Invalid affiliate URL ({url[:200]!r}). Supported: an http:// or https:// address "
                         "with a host and no spaces, quotes or angle brackets.")
    if len(url) > AFFILIATE_URL_MAX_CHARS:
        raise InputError(f"Affiliate URL too long ({len(url)} characters). Supported: at most "
                         f"{AFFILIATE_URL_MAX_CHARS}; use the shop's short link.")
    return url


@dataclass(frozen=True)
class PostMetadata(JsonRecord):
    """What one platform's upload sends as text, ready as is: ``description`` is the whole caption
    (disclosure first, then the text, the link or the "link in bio" line, the hashtags at the end) and
    ``hashtags`` lists the tags appended to it. ``flags`` are the platform's own upload fields."""

    platform: Platform
    title: str
    description: str
    hashtags: tuple[str, ...] = ()
    link: str | None = None
    link_placement: LinkPlacement = "none"
    disclosure: str | None = None
    flags: dict[str, bool] = field(default_factory=dict)
    language: Language = "vi"
    text_source: TextSource = "fallback"
    text_source_reason: str | None = None
    sub_id: str | None = None  # the post's own id that ``link`` carries (revenue is traced by it); None: untracked

    def __post_init__(self) -> None:
        rules = text_rules(self.platform)
        check_choice("link placement", self.link_placement, LINK_PLACEMENTS)
        check_choice("language", self.language, LANGUAGES)
        check_choice("text source", self.text_source, TEXT_SOURCES)
        if isinstance(self.hashtags, (list, str)):
            object.__setattr__(self, "hashtags", tuple([self.hashtags] if isinstance(self.hashtags, str)
                                                       else self.hashtags))
        if not isinstance(self.flags, Mapping) or not all(isinstance(k, str) and isinstance(v, bool)
                                                          for k, v in self.flags.items()):
            raise InputError(f"{self.platform}: flags must map names to true/false, not {self.flags!r}")
        object.__setattr__(self, "flags", dict(self.flags))
        self._check_text(rules)
        self._check_hashtags(rules)
        self._check_link(rules)
        for name in ("disclosure", "text_source_reason"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InputError(f"{self.platform}: {name} must be text or null, not {value!r}")

    def _check_text(self, rules: TextRules) -> None:
        for name in ("title", "description"):
            value = getattr(self, name)
            if not isinstance(value, str) or unicodedata.normalize("NFC", value) != value:
                raise InputError(f"{self.platform}: {name} must be NFC-normalised text, not {value!r:.80}")
            if not rules.angle_brackets and ("<" in value or ">" in value):
                raise InputError(f"{self.platform}: the {name} may not contain '<' or '>' ({value!r:.80})")
            for unit, limit in getattr(rules, name).items():
                size = text_size(value, unit)  # type: ignore[arg-type]
                if size > limit:
                    raise InputError(f"{self.platform}: {name} too long ({size} {unit}). Supported: at most {limit}.")
        if not self.title:
            raise InputError(f"{self.platform}: the title is empty")

    def _check_hashtags(self, rules: TextRules) -> None:
        for tag in self.hashtags:
            if not isinstance(tag, str) or len(tag) < 2 or tag[0] != "#" or normalize_hashtag(tag) != tag:
                raise InputError(f"Invalid hashtag ({tag!r}). Supported: '#' then letters, digits or '_', "
                                 f"NFC, at most {HASHTAG_MAX_CHARS} characters.")
        if len(self.hashtags) > rules.hashtags_max:
            raise InputError(f"{self.platform}: too many hashtags ({len(self.hashtags)}). Supported: at most "
                             f"{rules.hashtags_max}.")
        if rules.hashtags_in_text_count:
            inline = len(_INLINE_HASHTAG.findall(self.title)) + len(_INLINE_HASHTAG.findall(self.description))
            if inline > rules.hashtags_max:
                raise InputError(f"{self.platform}: {inline} hashtags in the title and description; the platform "
                                 f"ignores all of them above {rules.hashtags_max}.")

    def _check_link(self, rules: TextRules) -> None:
        if self.link_placement == "none":
            if self.link is not None:
                raise InputError(f"{self.platform}: a link ({self.link!r:.80}) needs a placement: description or bio")
        else:
            if not isinstance(self.link, str) or not self.link:
                raise InputError(f"{self.platform}: link placement {self.link_placement!r} but no link")
            in_text = self.link in self.description
            if in_text != (self.link_placement == "description"):
                raise InputError(f"{self.platform}: link placement is {self.link_placement!r} but the link is "
                                 f"{'' if in_text else 'not '}in the description")
        if rules.link == "bio" and self.link_placement == "description":
            raise InputError(f"{self.platform}: captions have no clickable links. Supported link placements: bio, none.")
        if self.disclosure is not None and self.disclosure not in self.description:
            raise InputError(f"{self.platform}: the disclosure ({self.disclosure!r}) is missing from the description")
        if self.sub_id is not None:
            if self.link is None:
                raise InputError(f"{self.platform}: a sub-id ({self.sub_id!r}) without a link to carry it")
            if not isinstance(self.sub_id, str) or not _SUB_ID.match(self.sub_id):
                raise InputError(f"{self.platform}: Invalid sub-id ({self.sub_id!r}). Supported: 1 to "
                                 f"{SUB_ID_MAX_CHARS} ASCII letters and digits.")

    def __repr__(self) -> str:
        return (f"PostMetadata({self.platform}, {self.language}, title={self.title[:40]!r}, "
                f"description={len(self.description)} chars, {len(self.hashtags)} hashtags, "
                f"link={self.link_placement}, source={self.text_source})")


def platform_flags(name: Platform, *, affiliate: bool, synthetic_media: bool) -> dict[str, bool]:
    """The platform's own disclosure fields for an upload, named as its API names them (its descriptor's)."""
    text_rules(name)
    return platform(name).upload_flags(affiliate=affiliate, synthetic_media=synthetic_media)


def _compose(head: str, first: str, link_line: str, rest: str, tags: Sequence[str]) -> str:
    text = "\n".join(part for part in (head, first, link_line, rest) if part)
    if tags:
        text = text + ("\n\n" if text else "") + " ".join(tags)
    return text


def _room_after(text: str, limits: Mapping[str, int], reserve: str = "\n") -> dict[str, int]:
    return {unit: limit - text_size(text, unit) - text_size(reserve, unit)  # type: ignore[arg-type]
            for unit, limit in limits.items()}


def _fit_description(name: str, head: str, first: str, link_line: str, rest: str,
                     tags: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The caption within the platform's limits: the text is cut first (the rest, then its first line),
    hashtags are dropped from the end only once no text is left; head and link line are never cut."""
    limits = text_rules(name).description
    for n in range(len(tags), -1, -1):
        kept = tags[:n]
        if not _fits(_compose(head, "", link_line, "", kept), limits):
            continue
        with_first = _compose(head, first, link_line, "", kept)
        if _fits(with_first, limits):
            rest_cut = _cut(rest, _room_after(with_first, limits))
            return _compose(head, first, link_line, rest_cut, kept), kept
        first_cut = _cut(first, _room_after(_compose(head, "", link_line, "", kept), limits))
        return _compose(head, first_cut, link_line, "", kept), kept
    units = ", ".join(f"{limit} {unit}" for unit, limit in limits.items())
    raise InputError(f"{name}: the disclosure and the link line alone exceed the description limit "
                     f"({units}); use a shorter affiliate URL or disclosure text")


def build_post_metadata(
    *,
    platform: Platform,
    title: str,
    description: str,
    hashtags: Sequence[str],
    language: Language,
    affiliate_url: str | None,
    disclosure_text: str | None = None,
    synthetic_voice: bool = False,
    ai_generated_visuals: bool = False,
    text_source: TextSource = "fallback",
    text_source_reason: str | None = None,
    sub_id: str | None = None,
) -> PostMetadata:
    """Build one platform's post text from a title, a description and hashtags.

    The affiliate link goes where the platform makes it useful: YouTube and Facebook put it in the
    description after its first line; TikTok captions have no clickable links, so the caption says
    "link in bio" and ``link`` keeps the URL for the user's profile. Any affiliate link brings a
    disclosure (``disclosure_text``, else ``#ad`` or ``#quảngcáo · Tiếp thị liên kết``) as the first line.
    TikTok and Facebook show no title, so their caption starts with the title line. ``sub_id``: the
    post's own id that ``affiliate_url`` carries (made by ``farm.revenue``), recorded with the post.

    Everything ends up within the platform's limits: the description's text is cut first (at a word
    boundary, with '…'), then hashtags from the end; the title is cut with '…'. The link, the disclosure
    and the "link in bio" line are never cut. All text is NFC-normalised and never cut inside a grapheme.

    Raises:
        InputError: an unknown platform, language or text source, a malformed URL, an empty title, or a
            link and disclosure that cannot fit the platform's limit even alone.

    Example::

        meta = build_post_metadata(platform="youtube", title="Áo thun cotton", description="Mát, bền.",
                                   hashtags=["áo thun"], language="vi", affiliate_url="https://s.shopee.vn/x")
        meta.description.splitlines()[0]  # '#quảngcáo · Tiếp thị liên kết'
    """
    rules = text_rules(platform)
    check_choice("language", language, LANGUAGES)
    check_choice("text source", text_source, TEXT_SOURCES)
    for name, value in (("synthetic_voice", synthetic_voice), ("ai_generated_visuals", ai_generated_visuals)):
        if not isinstance(value, bool):
            raise InputError(f"Invalid {name} ({value!r}). Supported: true, false.")
    if text_source_reason is not None and not isinstance(text_source_reason, str):
        raise InputError(f"Invalid text source reason ({text_source_reason!r}). Supported: text or null.")
    strip = not rules.angle_brackets
    url = None if affiliate_url is None else check_affiliate_url(affiliate_url)
    disclosure = _disclosure(disclosure_text, url, language, strip_angle_brackets=strip)
    clean_title = clean_text(title, single_line=True, strip_angle_brackets=strip)
    if not clean_title:
        raise InputError(f"{platform}: the title is empty ({title!r:.80})")
    body = clean_text(description, strip_angle_brackets=strip)
    if url is not None:  # we place the link ourselves, once
        body = clean_text(body.replace(url, ""))
    if not rules.shows_title and not body.casefold().startswith(clean_title.removesuffix(ELLIPSIS).casefold()):
        body = clean_title + ("\n" + body if body else "")
    clean_title, body, tags = _place_hashtags(rules, clean_title, body, hashtags, disclosure, url)
    first, _, rest = body.partition("\n")
    if url is None:
        link_line, placement = "", "none"
    elif rules.link == "bio":  # captions without clickable links: the URL goes in the profile's bio
        link_line, placement = _LINK_IN_BIO[language], "bio"
    else:
        link_line, placement = _LINK_LABEL[language].format(url=url), "description"
    text, tags = _fit_description(platform, disclosure or "", first, link_line, rest.strip("\n"), tags)
    return PostMetadata(
        platform=platform, title=_cut(clean_title, rules.title), description=text, hashtags=tags, link=url,
        link_placement=placement, disclosure=disclosure,
        flags=platform_flags(platform, affiliate=url is not None, synthetic_media=synthetic_voice or ai_generated_visuals),
        language=language, text_source=text_source, text_source_reason=text_source_reason,
        sub_id=sub_id)


def _disclosure(disclosure_text: str | None, url: str | None, language: str, *,
                strip_angle_brackets: bool) -> str | None:
    """The disclosure line: the text given (checked), else the language's default when there is a link."""
    if disclosure_text is None:
        return _DEFAULT_DISCLOSURE[language] if url is not None else None
    disclosure = clean_text(disclosure_text, single_line=True, strip_angle_brackets=strip_angle_brackets)
    if not disclosure:
        raise InputError(f"Invalid disclosure text ({disclosure_text!r}). Supported: non-empty text.")
    if len(disclosure) > DISCLOSURE_MAX_CHARS:
        raise InputError(f"Disclosure text too long ({len(disclosure)} characters). Supported: at most "
                         f"{DISCLOSURE_MAX_CHARS}.")
    if len(_INLINE_HASHTAG.findall(disclosure)) > DISCLOSURE_MAX_HASHTAGS:
        raise InputError(f"Disclosure text has too many hashtags ({disclosure!r}). Supported: at most "
                         f"{DISCLOSURE_MAX_HASHTAGS}.")
    return disclosure


def _place_hashtags(rules: TextRules, title: str, body: str, hashtags: Sequence[str], disclosure: str | None,
                    url: str | None) -> tuple[str, str, tuple[str, ...]]:
    """(title, body, the hashtag list) within the platform's hashtag cap, counted across the disclosure,
    the title (where the platform counts it), the link (where it is in the text), the body and the list,
    in that order: later hashtags become plain words, the list is cut last."""
    cap = rules.hashtags_max
    inline: list[str] = _INLINE_HASHTAG.findall(disclosure or "")
    used = len(inline)
    if rules.hashtags_in_text_count:
        title, n, found = _limit_inline_hashtags(title, max(cap - used, 0))
        used += n
        inline += found
    if url is not None and rules.link == "description":  # a URL fragment can read as a hashtag too
        found = _INLINE_HASHTAG.findall(url)
        used += len(found)
        inline += found
    body, n, found = _limit_inline_hashtags(body, max(cap - used, 0))
    used += n
    inline += found
    return title, body, normalize_hashtags(hashtags, max_count=max(cap - used, 0), exclude=inline)


def fit_text(name: Platform, text: str, *, field: Literal["title", "description"]) -> str:
    """``text`` cleaned as the platform takes it (a title on one line) and cut, with '…', to fit the
    platform's limits for ``field``."""
    rules = text_rules(name)
    clean = clean_text(text, single_line=field == "title", strip_angle_brackets=not rules.angle_brackets)
    return _cut(clean, getattr(rules, field))


def limits_for(name: Platform) -> dict[str, Any]:
    """The limits we hold the platform's text to: {'title': {unit: max}, 'description': {...}, 'hashtags': n}."""
    rules = text_rules(name)
    return {"title": dict(rules.title), "description": dict(rules.description), "hashtags": rules.hashtags_max}
