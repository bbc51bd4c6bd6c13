"""Post metadata: every platform's limits hold for long and adversarial text, the link and disclosure survive."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from farm.errors import InputError
from farm.publish import PostMetadata, build_post_metadata, normalize_hashtags, truncate_text

# The platforms' limits, written out here rather than imported, so a wrong constant cannot pass its own test.
YT_TITLE_CHARS, YT_DESC_BYTES, YT_DESC_CHARS, YT_TAGS = 100, 5000, 5000, 15
TT_CAPTION_UTF16 = 2200
FB_DESC_CHARS = 2200
TAG_CAPS = {"youtube": 15, "tiktok": 10, "facebook": 10}

VI_NFC = "Giá chỉ hôm nay Ưu đãi Tiếng Việt Nguyễn thị Hướng dẫn sử dụng Đặt hàng ngay quảng cáo rẻ đẹp"
VI_NFD = unicodedata.normalize("NFD", VI_NFC)
EMOJI = ["😀", "👨\u200d👩\u200d👧\u200d👦", "🇻🇳", "👍🏽", "❤️", "🏳️\u200d🌈", "🔥"]
PIECES = [*VI_NFD.split(), *VI_NFC.split(), *EMOJI, "<b>", ">>", "<script>", "a<b>c", "#sale", "#Giảm_giá",
          "\u0301", "e\u0301\u0302\u0323", "x" * 60, "漢字テキスト", "\n", "\n\n\n", "  ", "\t", "!!!", "—", "…"]
MARK_LIKE = {"\u200d", "\ufe0f"}


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _random_text(rng: random.Random, n_chars: int) -> str:
    return " ".join(rng.choices(PIECES, k=max(1, n_chars // 5)))  # pieces average about 5 characters


def _random_url(rng: random.Random) -> str | None:
    kind = rng.random()
    if kind < 0.25:
        return None
    length = rng.choice([10, 80, 400, 1200])
    path = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-_%") for _ in range(length))
    return f"https://s.shopee.vn/{path}?aff=1&sub=x"


def _is_extend(ch: str) -> bool:
    cp = ord(ch)
    return (unicodedata.category(ch).startswith("M") or ch in MARK_LIKE or 0xFE00 <= cp <= 0xFE0F
            or 0x1F3FB <= cp <= 0x1F3FF)


def _check_no_broken_graphemes(text: str) -> None:
    assert unicodedata.normalize("NFC", text) == text
    for piece in re.split(r"[\n…]", text):
        if piece:
            assert not _is_extend(piece[0]), f"cut piece starts with a mark: {piece[:10]!r}"
    for m in re.finditer("…", text):
        if m.start():
            assert text[m.start() - 1] not in ("\u200d",), "cut right after a zero-width joiner"


def _hashtag_ok(tag: str) -> bool:
    return (tag.startswith("#") and len(tag) >= 2 and not _is_extend(tag[1])
            and all(c == "_" or unicodedata.category(c)[0] in "LNM" for c in tag[1:]))


def _check_limits(meta: PostMetadata) -> None:
    title, desc = meta.title, meta.description
    if meta.platform == "youtube":
        assert len(title) <= YT_TITLE_CHARS
        assert len(desc.encode("utf-8")) <= YT_DESC_BYTES
        assert len(desc) <= YT_DESC_CHARS
        assert "<" not in title + desc and ">" not in title + desc
        assert len(re.findall(r"#\w", title + " " + desc)) <= YT_TAGS
    elif meta.platform == "tiktok":
        assert _utf16(desc) <= TT_CAPTION_UTF16
        assert _utf16(title) <= 90
    else:
        assert len(desc) <= FB_DESC_CHARS
        assert len(title) <= 100
    assert len(meta.hashtags) <= TAG_CAPS[meta.platform]
    assert all(_hashtag_ok(t) for t in meta.hashtags), meta.hashtags
    assert len({t.casefold() for t in meta.hashtags}) == len(meta.hashtags)
    assert all(" " not in t for t in meta.hashtags)
    for text in (title, desc, *meta.hashtags):
        _check_no_broken_graphemes(text)


def test_limits_link_and_disclosure_hold_for_adversarial_inputs():
    rng = random.Random(20261101)
    cut_seen = {"youtube": 0, "tiktok": 0, "facebook": 0}
    for case in range(300):
        language = rng.choice(["vi", "en"])
        url = _random_url(rng)
        title = rng.choice(VI_NFD.split()) + " " + _random_text(rng, rng.choice([5, 60, 150, 400]))
        description = _random_text(rng, rng.choice([0, 50, 800, 2500, 10_000]))
        tags = [_random_text(rng, rng.choice([1, 8, 40, 120])) for _ in range(rng.choice([0, 3, 20, 300]))]
        disclosure = rng.choice([None, None, "Affiliate link: I earn a commission #ad", "Tiếp thị liên kết"])
        for platform in ("youtube", "tiktok", "facebook"):
            meta = build_post_metadata(platform=platform, title=title, description=description, hashtags=tags,
                                       language=language, affiliate_url=url, disclosure_text=disclosure,
                                       synthetic_voice=bool(case % 2), text_source="ai",
                                       text_source_reason=None if case % 3 else "cached")
            _check_limits(meta)
            cut_seen[platform] += meta.description.count("…") > VI_NFC.count("…")
            first_line = meta.description.split("\n", 1)[0]
            if url is not None:
                expected_disclosure = disclosure or ("#ad" if language == "en" else "#quảngcáo · Tiếp thị liên kết")
                assert meta.disclosure == unicodedata.normalize("NFC", expected_disclosure)
                assert first_line == meta.disclosure
                assert meta.link == url
                if platform == "tiktok":
                    assert url not in meta.description
                    assert meta.link_placement == "bio"
                    assert ("🔗 Link in bio" if language == "en" else "🔗 Link ở bio") in meta.description
                else:
                    assert url in meta.description
                    assert meta.link_placement == "description"
            else:
                assert meta.link is None and meta.link_placement == "none"
            assert PostMetadata.from_json(meta.to_json()) == meta
    assert all(n > 20 for n in cut_seen.values()), cut_seen  # the long cases really were cut


def test_youtube_puts_disclosure_first_and_link_after_the_first_line():
    meta = build_post_metadata(platform="youtube", title="Áo thun cotton", language="vi",
                               description="Mát, bền, thấm hút tốt.\nGiặt máy thoải mái.",
                               hashtags=["áo thun"], affiliate_url="https://s.shopee.vn/abc")
    lines = meta.description.split("\n")
    assert lines[0] == "#quảngcáo · Tiếp thị liên kết"
    assert lines[1] == "Mát, bền, thấm hút tốt."
    assert lines[2].endswith("https://s.shopee.vn/abc") and lines[2].startswith("🔗")
    assert lines[3] == "Giặt máy thoải mái."
    assert lines[-1] == "#áothun"
    assert meta.title == "Áo thun cotton"
    assert meta.flags == {"containsSyntheticMedia": False, "hasPaidProductPlacement": True,
                          "selfDeclaredMadeForKids": False}


def test_tiktok_caption_says_link_in_bio_and_starts_with_the_title():
    meta = build_post_metadata(platform="tiktok", title="Cute mug", description="Holds 350 ml.", hashtags=["mug"],
                               language="en", affiliate_url="https://amzn.to/xyz", ai_generated_visuals=True)
    assert meta.description.split("\n") == ["#ad", "Cute mug", "🔗 Link in bio", "Holds 350 ml.", "", "#mug"]
    assert meta.link == "https://amzn.to/xyz" and "amzn.to" not in meta.description
    assert meta.flags == {"brand_content_toggle": True, "brand_organic_toggle": False, "is_aigc": True}


def test_tiktok_removes_the_url_if_the_text_repeats_it():
    url = "https://s.shopee.vn/abc"
    meta = build_post_metadata(platform="tiktok", title="Nồi chiên", description=f"Mua tại {url} nhé",
                               hashtags=[], language="vi", affiliate_url=url)
    assert url not in meta.description and "🔗 Link ở bio" in meta.description


def test_no_affiliate_link_means_no_disclosure_and_no_paid_flags():
    for platform in ("youtube", "tiktok", "facebook"):
        meta = build_post_metadata(platform=platform, title="Mèo con", description="Dễ thương quá", hashtags=["mèo"],
                                   language="vi", affiliate_url=None)
        assert meta.disclosure is None and meta.link is None and meta.link_placement == "none"
        assert "#quảngcáo" not in meta.description
        assert not any(meta.flags.values())
    fb = build_post_metadata(platform="facebook", title="x", description="y", hashtags=[], language="en",
                             affiliate_url="https://a.co/b")
    assert fb.flags == {"branded_content": True}


def test_youtube_strips_angle_brackets():
    meta = build_post_metadata(platform="youtube", title="<b>Sale</b> >>> now", description="a < b > c <script>",
                               hashtags=["<tag>"], language="en", affiliate_url=None)
    assert meta.title == "bSale/b now"
    assert "<" not in meta.description and ">" not in meta.description
    assert meta.hashtags == ("#tag",)


def test_youtube_description_limit_is_in_utf8_bytes_and_cut_at_a_word():
    words = VI_NFC.split()
    text = " ".join(words[i % len(words)] for i in range(1500))  # ~ 7,000 characters, ~ 9,000 bytes
    meta = build_post_metadata(platform="youtube", title="t", description=text, hashtags=["a", "b"],
                               language="vi", affiliate_url="https://s.shopee.vn/x")
    assert len(meta.description.encode("utf-8")) <= 5000
    assert len(meta.description.encode("utf-8")) > 4800  # not needlessly short
    assert meta.description.endswith("#a #b")  # the text is cut before any hashtag goes
    cut = meta.description.split("\n")[1]
    assert cut.endswith("…")
    kept = cut[:-1]
    assert text.startswith(kept) and text[len(kept)] == " "  # at a word boundary


def test_tiktok_caption_counts_utf16_units():
    meta = build_post_metadata(platform="tiktok", title="Emoji", description="😀 " * 1500, hashtags=[],
                               language="en", affiliate_url=None)
    assert _utf16(meta.description) <= 2200
    assert len(meta.description) < 1500  # code points: the emoji count twice, as TikTok counts them


def test_hashtags_are_normalised_and_deduplicated():
    tags = ["#Áo Thun!", "áo thun", "ÁO THUN", "a b_c", "", "###", unicodedata.normalize("NFD", "Việt"), "🔥"]
    assert normalize_hashtags(tags) == ("#ÁoThun", "#ab_c", "#Việt")


def test_youtube_keeps_at_most_15_hashtags_counting_the_disclosure_and_the_text():
    meta = build_post_metadata(platform="youtube", title="Deal #hot", description="Great #value #price",
                               hashtags=[f"tag{i}" for i in range(300)], language="vi",
                               affiliate_url="https://s.shopee.vn/x")
    tokens = re.findall(r"#\w+", meta.title + "\n" + meta.description)
    assert len(tokens) == 15
    assert meta.title == "Deal #hot"
    assert re.findall(r"#\w+", meta.description)[0] == "#quảngcáo"  # among the 3 shown above the title
    assert len(meta.hashtags) == 11
    text_tags = build_post_metadata(platform="youtube", title="x", description=" ".join(f"#t{i}" for i in range(40)),
                                    hashtags=["more"], language="en", affiliate_url=None)
    assert len(re.findall(r"#\w+", text_tags.description)) == 15 and text_tags.hashtags == ()


def test_hashtags_go_from_the_end_only_when_cutting_the_text_cannot_make_room():
    url = "https://s.shopee.vn/" + "a" * 1980  # 2,000 characters: the link line takes most of Facebook's 2,200
    meta = build_post_metadata(platform="facebook", title="Title here", description="Some words " * 50,
                               hashtags=[f"{'x' * 45}{i}" for i in range(10)], language="en", affiliate_url=url)
    assert len(meta.description) <= 2200
    lines = meta.description.split("\n")
    assert lines[0] == "#ad" and lines[2] == f"🔗 Shop here: {url}"
    assert lines[1] == "Title here" and len(lines[3]) < 60 and lines[3].endswith("…")  # room a dropped tag left
    assert 0 < len(meta.hashtags) < 10 and meta.description.endswith(meta.hashtags[-1])
    assert meta.hashtags == tuple(f"#{'x' * 45}{i}" for i in range(len(meta.hashtags)))  # dropped from the end
    without_text = meta.description.replace(lines[1] + "\n", "")
    assert len(without_text) + len(f" #{'x' * 45}9") > 2200  # one more tag would not fit even without text


def test_a_link_that_cannot_fit_is_an_input_error():
    url = "https://shop.vn/" + "ệ" * 1900  # fine for Facebook's characters, too many UTF-8 bytes for YouTube
    build_post_metadata(platform="facebook", title="t", description="d", hashtags=[], language="vi",
                        affiliate_url=url)
    with pytest.raises(InputError, match="youtube.*5000 utf8_bytes"):
        build_post_metadata(platform="youtube", title="t", description="d", hashtags=[], language="vi",
                            affiliate_url=url)


@pytest.mark.parametrize("kwargs, words", [
    ({"platform": "instagram"}, ["'instagram'", "tiktok, youtube, facebook"]),
    ({"language": "fr"}, ["'fr'", "vi, en"]),
    ({"text_source": "human"}, ["'human'", "ai, fallback"]),
    ({"affiliate_url": "ftp://x.y/z"}, ["ftp://x.y/z", "http:// or https://"]),
    ({"affiliate_url": "https://a.b/c d"}, ["https://a.b/c d", "no spaces"]),
    ({"title": "<<>>"}, ["title is empty"]),
    ({"hashtags": "#one"}, ["not one string"]),
])
def test_bad_values_are_named_with_the_allowed_set(kwargs, words):
    args = dict(platform="youtube", title="t", description="d", hashtags=[], language="vi", affiliate_url=None)
    args.update(kwargs)
    with pytest.raises(InputError) as err:
        build_post_metadata(**args)
    for word in words:
        assert word in str(err.value)


def test_from_json_rejects_what_breaks_a_limit_or_an_unknown_field():
    good = build_post_metadata(platform="youtube", title="t", description="d", hashtags=["x"], language="en",
                               affiliate_url=None)
    data = dict(good.__dict__)
    with pytest.raises(InputError, match="title too long"):
        PostMetadata.from_dict({**data, "title": "x" * 101})
    with pytest.raises(InputError, match="unknown fields"):
        PostMetadata.from_dict({**data, "extra": 1})
    with pytest.raises(InputError, match="Invalid hashtag"):
        PostMetadata.from_dict({**data, "hashtags": ["#a b"]})
    with pytest.raises(InputError, match="captions have no clickable links"):
        PostMetadata.from_dict({**data, "platform": "tiktok", "link": "https://a.b", "description": "https://a.b",
                                "link_placement": "description"})


def test_truncate_text_never_splits_a_grapheme():
    nfd = unicodedata.normalize("NFD", "Ưu đãi hôm nay ") * 3 + "q\u0303\u0323" * 5 + "".join(EMOJI) * 3
    nfc = unicodedata.normalize("NFC", nfd)
    for budget in range(1, len(nfc) + 2):
        for unit in ("max_chars", "max_utf8_bytes", "max_utf16_units"):
            out = truncate_text(nfd, **{unit: budget})
            size = {"max_chars": len(out), "max_utf8_bytes": len(out.encode()), "max_utf16_units": _utf16(out)}[unit]
            assert size <= budget
            _check_no_broken_graphemes(out)
            kept = out.removesuffix("…")
            assert nfc.startswith(kept)
            if out != nfc and len(kept) < len(nfc):
                assert not _is_extend(nfc[len(kept)]), (budget, unit, out)
                assert nfc[len(kept) - 1:len(kept)] != "\u200d"
