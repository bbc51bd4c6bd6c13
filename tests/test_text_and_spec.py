"""Captions (Vietnamese included, no missing glyphs), spec validation, encoder selection."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from conftest import BLUE, GREY, flat_clip, read_frames, region_yuv
from farm import render as text
from farm.errors import InputError, UnavailableError
from farm.media import choose_encoder, probe_nvenc
from farm.render import render_mashup
from farm.jobs import MashupSpec, RenderResult

VIETNAMESE = "Giá chỉ 199.000đ – Mua ngay!"


def _glyph(font, ch: str) -> bytes:
    img = Image.new("L", (96, 96), 0)
    ImageDraw.Draw(img).text((10, 10), ch, font=font, fill=255)
    return img.tobytes()


def test_vietnamese_caption_has_every_glyph():
    assert text.missing_glyphs(VIETNAMESE) == []
    font = text.load_font(48)
    tofu = _glyph(font, "\U000e0fff")  # an unassigned code point draws the .notdef box
    for ch in set(VIETNAMESE) - {" "}:
        assert _glyph(font, ch) != tofu, f"{ch!r} would show as a box"
    # decomposed input (base letter + combining marks) is normalised to the same glyphs
    assert text.normalize("chỉ") == text.normalize("chi\u0309")


def test_missing_glyphs_are_reported():
    assert text.missing_glyphs("ok \U0001f600") == ["\U0001f600"]


def test_caption_wraps_within_width_and_has_outline():
    rgba = text.render_text_rgba(VIETNAMESE * 3, max_width_px=500, size_px=48)
    assert rgba.shape[1] <= 500 + 40 and rgba.shape[0] > 100, "wrapped to several lines"
    alpha, luma = rgba[..., 3], rgba[..., :3].mean(axis=-1)
    inked = alpha > 200
    assert (luma[inked] > 200).any() and (luma[inked] < 60).any(), "white fill with a dark outline"


def test_caption_burned_into_main_box(tmp_path):
    main = flat_clip(tmp_path / "m.mp4", BLUE, seconds=0.4)
    tmpl = flat_clip(tmp_path / "t.mp4", GREY, seconds=0.4)
    spec = MashupSpec(mains=(str(main),), template=str(tmpl), output=str(tmp_path / "c.mp4"), fade_s=0,
                      caption=VIETNAMESE, attribution="Source: @creator", encoder="libx264")
    render_mashup(spec)
    f = read_frames(tmp_path / "c.mp4")[5]
    y = f[:1920]
    caption_rows = y[700:1100]
    assert (caption_rows > 200).sum() > 2000, "white caption text in the main box"
    assert (caption_rows < 30).sum() > 1000, "its dark outline"
    # the credit line sits on the bottom edge of every platform's safe area (TikTok's bottom
    # caption band and Reels' start 420-480 px above the bottom): nothing of it below, or
    # under the right-hand buttons
    safe = text.safe_area(None, width=1080, height=1920)
    bottom = safe.y + safe.height
    assert (y[bottom - 80:bottom] > 200).sum() > 200, "credit line above the apps' caption band"
    assert (y[bottom:] > 200).sum() == 0 and (y[:, safe.x + safe.width:] > 200).sum() == 0
    assert abs(region_yuv(f, width=1080, height=1920, x=40, y=40, w=1000, h=400)[0] - BLUE[0]) < 6


def test_spec_json_roundtrip_and_validation():
    spec = MashupSpec(mains=("a.mp4", "b.mp4"), template="t.mp4", output="o.mp4", caption=VIETNAMESE, duration_s=12.5)
    assert MashupSpec.from_json(spec.to_json()) == spec
    assert "a.mp4" not in repr(spec) or len(repr(spec)) < 200
    with pytest.raises(InputError, match=r"Invalid layout \('diagonal'\)\. Supported: vertical, horizontal\."):
        MashupSpec(mains=("a",), template="t", output="o.mp4", layout="diagonal")
    with pytest.raises(InputError, match="Supported: cover, contain, blur"):
        MashupSpec(mains=("a",), template="t", output="o.mp4", fit="stretch")
    with pytest.raises(InputError, match="fade"):
        MashupSpec(mains=("a",), template="t", output="o.mp4", fade_s=-1)
    r = RenderResult(path="o.mp4", size_bytes=1, sha256="0" * 64, frames=3, fps=30, duration_s=0.1, width=2, height=2,
                     encoder="libx264", decoder="pyav-cpu", timings_s={"total": 1.0})
    assert RenderResult.from_json(r.to_json()) == r


def test_encoder_selection_on_this_machine():
    ok, why = probe_nvenc()
    assert isinstance(why, str) and why
    cfg = choose_encoder("auto", preset="veryfast", crf=23)
    assert cfg.name == ("nvenc" if ok else "libx264")
    assert choose_encoder("libx264", preset="fast", crf=20).options == {"preset": "fast", "crf": "20"}
    if not ok:
        with pytest.raises(UnavailableError, match="nvenc"):
            choose_encoder("nvenc", preset="veryfast", crf=23)
    with pytest.raises(InputError, match="Supported: auto, libx264, nvenc"):
        choose_encoder("vaapi", preset="veryfast", crf=23)


@pytest.mark.needs_cuda
def test_nvenc_session_opens_on_a_gpu_with_nvenc():
    ok, why = probe_nvenc()
    assert isinstance(ok, bool) and why
