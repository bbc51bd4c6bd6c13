"""The fallback writer: local price formats, deterministic natural text in vi and en, moods, hashtags."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import unicodedata

import pytest

from farm.ai import PromoText, VideoText, fallback_promo_text, fallback_video_text, format_price, pick_mood
from farm.errors import InputError
from farm.publish import build_post_metadata

LIBRARY_MOODS = ["upbeat", "calm", "trending", "commercial"]
ALL = ["tiktok", "youtube", "facebook"]


def _promo(**over):
    args = dict(name="Áo thun cotton nam", price=129000, currency="VND",
                selling_points=["vải cotton 100% mát", "- thấm hút mồ hôi", "Form rộng"], call_to_action=None,
                language="vi", platforms=ALL, moods=LIBRARY_MOODS, preferred_mood=None, reason="AI server unreachable")
    args.update(over)
    return fallback_promo_text(**args)


@pytest.mark.parametrize("price, currency, expected", [
    (1290000, "VND", "1.290.000₫"),
    (1290000.4, "vnd", "1.290.000₫"),
    (1234.5, "VND", "1.235₫"),  # half up, no decimals
    (0, "VND", "0₫"),
    (19.99, "USD", "$19.99"),
    (19.995, "USD", "$20.00"),
    (1234567.891, "USD", "$1,234,567.89"),
    (19.99, "EUR", "19,99 €"),
    (1234.5, "EUR", "1.234,50 €"),
    (590, "THB", "฿590"),
    (590.5, "THB", "฿590.50"),
    (150000, "IDR", "Rp 150.000"),
    (1290, "PHP", "₱1,290.00"),
    (59.9, "MYR", "RM 59.90"),
    (1234.5, "XYZ", "1,234.50 XYZ"),
])
def test_format_price_the_local_way(price, currency, expected):
    assert format_price(price, currency) == expected


@pytest.mark.parametrize("price, currency, words", [
    (-1, "VND", ["-1", "0 or more"]),
    (float("nan"), "USD", ["nan", "finite"]),
    (True, "USD", ["True", "number"]),
    (10, "VNDX", ["'VNDX'", "ISO 4217", "VND"]),
    (10, "", ["''", "ISO 4217"]),
])
def test_format_price_rejects_bad_values_naming_them(price, currency, words):
    with pytest.raises(InputError) as err:
        format_price(price, currency)
    for word in words:
        assert word in str(err.value)


def test_vietnamese_text_is_natural_with_correct_diacritics():
    text = _promo(name=unicodedata.normalize("NFD", "Áo thun cotton nam"))  # NFD in, NFC out
    every = [text.hook, *text.selling_lines, text.call_to_action, *text.captions, *text.hashtags,
             *text.titles.values(), *text.descriptions.values()]
    assert all(unicodedata.normalize("NFC", s) == s for s in every)
    assert "Giá chỉ 129.000₫" in text.captions
    assert text.call_to_action in ("Mua ngay", "Đặt hàng ngay", "Mua ngay kẻo lỡ")
    for platform in ALL:
        assert "Ưu đãi hôm nay" in text.descriptions[platform]
        assert "Áo thun cotton nam" in text.descriptions[platform]
    assert text.selling_lines == ("Vải cotton 100% mát", "Thấm hút mồ hôi", "Form rộng")
    assert text.titles["youtube"] == "Áo thun cotton nam – Giá chỉ 129.000₫"
    assert text.hashtags[0] == "#ÁoThunCottonNam" and "#muasắm" in text.hashtags
    assert text.source == "fallback" and text.reason == "AI server unreachable"
    # The diacritics really are there, as precomposed letters, written here by code point.
    assert "\u01afu \u0111\u00e3i h\u00f4m nay" in text.descriptions["youtube"]  # Ưu đãi hôm nay
    assert "Gi\u00e1 ch\u1ec9" in text.captions[-2]  # Giá chỉ


def test_english_text_and_the_given_call_to_action():
    text = _promo(name="Ceramic mug", price=12.5, currency="USD", selling_points=["holds 350 ml", "dishwasher safe"],
                  call_to_action="Get yours today", language="en")
    assert text.call_to_action == "Get yours today" and text.captions[-1] == "Get yours today"
    assert text.captions[-2] in ("Only $12.50", "Just $12.50")
    assert "Today's deal" in text.descriptions["facebook"]
    assert "#shopping" in text.hashtags and "#CeramicMug" in text.hashtags


def test_same_inputs_give_the_same_text_in_any_process():
    code = ("from farm.ai import fallback_promo_text as f; print(f(name='Nồi chiên không dầu', price=990000, "
            "currency='VND', selling_points=['Dung tích 5L'], call_to_action=None, language='vi', "
            "platforms=['tiktok','youtube'], moods=['upbeat','calm'], preferred_mood=None, reason='r').to_json())")
    outs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                check=True).stdout)
    here = fallback_promo_text(name="Nồi chiên không dầu", price=990000, currency="VND",
                               selling_points=["Dung tích 5L"], call_to_action=None, language="vi",
                               platforms=["tiktok", "youtube"], moods=["upbeat", "calm"], preferred_mood=None,
                               reason="r").to_json()
    assert outs == {here + "\n"}


def test_templates_vary_with_the_product_name():
    hooks = {_promo(name=f"Sản phẩm số {i}").hook.replace(f"Sản phẩm số {i}", "{name}") for i in range(30)}
    assert len(hooks) >= 3


def test_mood_preferred_then_keywords_then_a_stable_pick():
    assert _promo(preferred_mood="calm").mood == "calm"
    assert _promo(preferred_mood="sad").mood == "trending"  # not in the library: "áo" suggests trending
    assert _promo(name="Gối ngủ thư giãn", selling_points=[]).mood == "calm"
    assert _promo(name="Tai nghe bluetooth", selling_points=["Sạc nhanh"]).mood == "commercial"
    picks = {pick_mood(text="Zxqv 123", moods=["a", "b", "c"], preferred_mood=None) for _ in range(5)}
    assert len(picks) == 1 and picks <= {"a", "b", "c"}
    assert pick_mood(text="anything", moods=[], preferred_mood="calm") == "upbeat"
    assert pick_mood(text="gym bag", moods=["calm", "upbeat"], preferred_mood=None) == "upbeat"


def test_hashtags_have_no_spaces_and_no_duplicates():
    text = _promo(name="Form rộng", selling_points=["form rộng", "FORM RỘNG", "Giao   nhanh"])
    assert len({t.casefold() for t in text.hashtags}) == len(text.hashtags)
    assert all(" " not in t and t.startswith("#") for t in text.hashtags)
    assert text.selling_lines == ("Form rộng", "Giao nhanh")


def test_promo_and_video_text_round_trip_through_json():
    text = _promo()
    assert PromoText.from_json(text.to_json()) == text
    assert json.loads(text.to_json())["titles"]["tiktok"] == text.titles["tiktok"]
    video = fallback_video_text(title_hint="Mèo con nhảy múa", creator="@meo_vui", language="vi", platforms=ALL)
    assert VideoText.from_json(video.to_json()) == video
    with pytest.raises(InputError, match="unknown fields"):
        PromoText.from_dict({**json.loads(text.to_json()), "extra": 1})


def test_video_text_credits_the_creator():
    video = fallback_video_text(title_hint="Mèo con nhảy múa", creator="@meo_vui", language="vi",
                                platforms=["tiktok", "youtube"])
    assert video.credit_line == "Nguồn/Credit: @meo_vui"
    assert all("Nguồn/Credit: @meo_vui" in d for d in video.descriptions.values())
    assert set(video.titles) == {"tiktok", "youtube"} and "Mèo con nhảy múa" in video.titles["youtube"]
    assert "#giảitrí" in video.hashtags
    none = fallback_video_text(title_hint="", creator=None, language="en", platforms=["facebook"])
    assert none.credit_line is None and "Credit" not in none.descriptions["facebook"]
    assert none.titles["facebook"]


@pytest.mark.parametrize("over, words", [
    ({"language": "fr"}, ["'fr'", "vi, en"]),
    ({"platforms": ["instagram"]}, ["'instagram'", "tiktok, youtube, facebook"]),
    ({"platforms": []}, ["none", "tiktok, youtube, facebook"]),
    ({"name": "  "}, ["product name", "non-empty"]),
    ({"currency": "dong"}, ["'dong'", "ISO 4217"]),
])
def test_bad_inputs_name_the_value_and_the_allowed_set(over, words):
    with pytest.raises(InputError) as err:
        _promo(**over)
    for word in words:
        assert word in str(err.value)


def test_fallback_text_feeds_post_metadata_for_every_platform():
    rng = random.Random(7)
    letters = "aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạếềểễệốồổỗộớờởỡợứừửữự "
    for _ in range(40):
        name = "".join(rng.choice(letters) for _ in range(rng.choice([3, 30, 300]))).strip() or "x"
        points = ["".join(rng.choice(letters) for _ in range(rng.choice([5, 200]))) for _ in range(rng.choice([0, 8]))]
        language = rng.choice(["vi", "en"])
        text = _promo(name=unicodedata.normalize("NFD", name), selling_points=points, language=language,
                      price=rng.random() * 10_000_000, currency=rng.choice(["VND", "USD", "THB"]))
        assert len(text.titles["youtube"]) <= 100
        for platform in ALL:
            meta = build_post_metadata(platform=platform, title=text.titles[platform],
                                       description=text.descriptions[platform], hashtags=text.hashtags,
                                       language=language, affiliate_url="https://s.shopee.vn/abc",
                                       text_source="fallback", text_source_reason=text.reason)
            if platform != "youtube":  # the title is the caption's first line, and not twice
                assert meta.description.count(text.hook.removesuffix("…")[:20]) == 1
            assert unicodedata.normalize("NFC", meta.description) == meta.description
