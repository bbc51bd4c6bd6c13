"""Text overlays: captions and credit lines drawn with a bundled font, converted once to YUVA."""

from __future__ import annotations

import functools
import sys
import unicodedata
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from kernels import LayoutGeometry, YuvaOverlay, rgba_to_yuva420


@functools.lru_cache(maxsize=1)
def font_path() -> Path:
    """Noto Sans, shipped by the ``fontpkg-noto-sans`` wheel: Latin (Vietnamese included),
    Greek and Cyrillic, so captions never depend on the fonts a machine happens to have."""
    import fontpkg_noto_sans

    files = sorted(p for p in (fontpkg_noto_sans.ROOT / "files").glob("NotoSans*.ttf") if "Italic" not in p.name)
    if not files:
        raise RuntimeError("fontpkg-noto-sans is installed without its font file")
    return files[0]


@functools.lru_cache(maxsize=32)
def load_font(size_px: int, weight: int = 700) -> ImageFont.FreeTypeFont:
    font = ImageFont.truetype(str(font_path()), size_px)
    try:
        axes = font.get_variation_axes()
        values = []
        for axis in axes:
            name = axis.get("name", b"")
            name = name.decode() if isinstance(name, bytes) else str(name)
            if name.lower().startswith("weight"):
                values.append(weight)
            else:
                values.append(axis.get("default", 100))
        font.set_variation_by_axes(values)
    except (OSError, AttributeError):
        pass  # not a variable font, or FreeType without variations: regular weight
    return font


@functools.lru_cache(maxsize=1)
def covered_codepoints() -> frozenset[int]:
    """Code points the caption font has glyphs for."""
    from fontTools.ttLib import TTFont

    with TTFont(str(font_path()), lazy=True) as tt:
        return frozenset(tt.getBestCmap())


def missing_glyphs(text: str) -> list[str]:
    """Characters of ``text`` the font cannot draw (they would show as boxes)."""
    cmap = covered_codepoints()
    seen = []
    for ch in normalize(text):
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf"):
            continue
        if ord(ch) not in cmap and ch not in seen:
            seen.append(ch)
    return seen


def normalize(text: str) -> str:
    """NFC: Vietnamese typed as base letter + combining marks becomes precomposed letters,
    which the font draws as designed glyphs instead of stacked marks."""
    return unicodedata.normalize("NFC", text)


def wrap(text: str, font: ImageFont.FreeTypeFont, *, max_width_px: int) -> list[str]:
    """Greedy word wrap to ``max_width_px``; words longer than a line are split."""
    lines: list[str] = []
    for paragraph in normalize(text).splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if font.getlength(candidate) <= max_width_px:
                line = candidate
                continue
            if line:
                lines.append(line)
            while font.getlength(word) > max_width_px and len(word) > 1:
                cut = len(word)
                while cut > 1 and font.getlength(word[:cut]) > max_width_px:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def render_text_rgba(
    text: str,
    *,
    max_width_px: int,
    size_px: int,
    max_lines: int = 6,
    fill: tuple[int, int, int, int] = (255, 255, 255, 255),
    align: str = "center",
) -> np.ndarray:
    """Draw ``text`` wrapped to ``max_width_px`` with a dark outline and soft shadow.

    Returns (H, W, 4) uint8 straight-alpha RGBA, H and W even, cropped to the ink.
    The font shrinks until the text fits in ``max_lines`` lines.
    """
    size = size_px
    while True:
        font = load_font(size)
        lines = wrap(text, font, max_width_px=max_width_px)
        if len(lines) <= max_lines or size <= 12:
            break
        size = int(size * 0.85)
    lines = lines[:max_lines]
    stroke = max(2, size // 14)
    shadow = max(2, size // 16)
    ascent, descent = font.getmetrics()
    line_h = int((ascent + descent) * 1.12)
    pad = stroke + shadow * 3
    width = max_width_px + 2 * pad
    height = line_h * max(1, len(lines)) + 2 * pad
    text_layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    shadow_layer = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(text_layer)
    sdraw = ImageDraw.Draw(shadow_layer)
    for i, line in enumerate(lines):
        lw = font.getlength(line)
        x = pad + (max_width_px - lw) / 2 if align == "center" else pad
        y = pad + i * line_h
        sdraw.text((x + shadow, y + shadow), line, font=font, fill=160, stroke_width=stroke, stroke_fill=160)
        draw.text((x, y), line, font=font, fill=fill, stroke_width=stroke, stroke_fill=(0, 0, 0, 255))
    shadow_layer = shadow_layer.filter(ImageFilter.GaussianBlur(shadow))
    out = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    out.putalpha(shadow_layer)
    out.alpha_composite(text_layer)
    arr = np.asarray(out)
    ys, xs = np.nonzero(arr[..., 3])
    if len(ys) == 0:
        return np.zeros((2, 2, 4), np.uint8)
    y0, y1 = ys.min() & ~1, (ys.max() + 2) & ~1
    x0, x1 = xs.min() & ~1, (xs.max() + 2) & ~1
    return np.ascontiguousarray(arr[y0:y1, x0:x1])


def text_overlay(text: str, *, max_width_px: int, size_px: int, **kwargs) -> YuvaOverlay:
    """``render_text_rgba`` converted once to a YUVA overlay for the kernels."""
    missing = missing_glyphs(text)
    if missing:
        print(
            f"warning: the caption font has no glyph for {''.join(missing)!r}; those characters will not show",
            file=sys.stderr,
        )
    rgba = render_text_rgba(text, max_width_px=max_width_px, size_px=size_px, **kwargs)
    return rgba_to_yuva420(torch.from_numpy(rgba))


def mashup_overlays(
    geo: LayoutGeometry, *, caption: str | None, attribution: str | None
) -> list[tuple[YuvaOverlay, int, int]]:
    """The caption (lower third of the main box) and the credit line (bottom edge), each
    converted once, with where it goes: (overlay, x, y), x and y even."""
    out = []
    if caption:
        box = geo.main
        max_w = int(box.width * 0.84)
        size = max(24, int(min(box.width, box.height) * 0.062))
        ov = text_overlay(caption, max_width_px=max_w, size_px=size, max_lines=5)
        x = box.x + (box.width - ov.width) // 2
        # lower third of the main box, clear of the bottom edge
        y = box.y + int(box.height * 0.80) - ov.height
        y = max(box.y + int(box.height * 0.06), y)
        out.append((ov, x & ~1, y & ~1))
    if attribution:
        size = max(16, int(geo.height * 0.016))
        max_w = int(geo.width * 0.9)
        ov = text_overlay(attribution, max_width_px=max_w, size_px=size, max_lines=1)
        x = (geo.width - ov.width) // 2
        y = geo.height - ov.height - int(geo.height * 0.012)
        out.append((ov, x & ~1, y & ~1))
    return out
