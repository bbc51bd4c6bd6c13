"""Text on video for mashups and promos: a font chain from pip-installed fonts, shaping with libraqm,
wrapping and shrinking to a box, outline or plate, safe areas; rasterised and converted to YUVA once."""

from __future__ import annotations

import functools
import importlib
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from farm.platforms import platform, platforms
from kernels import Box, LayoutGeometry, YuvaOverlay, rgba_to_yuva420


TITLE_FONT = "Be Vietnam Pro"
BODY_FONT = "Noto Sans"
_EMOJI_FONT_GLOBS = ("NotoEmoji*.ttf", "Noto Emoji*.ttf", "Symbola*.ttf", "OpenMoji*.ttf", "Twemoji*.ttf")
_EMOJI_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")


def safe_area(name: str | None, *, width: int, height: int) -> Box:
    """The part of a ``width`` x ``height`` vertical canvas no app draws over, for the platform ``name``
    (None: safe on every platform), even-aligned. Each descriptor's ``safe_area`` is in pixels from
    each edge of a 1080x1920 canvas (left, top, right, bottom), from the platform's creator
    guidance, rounded outwards; scaled with the canvas."""
    sides = [platform(name).safe_area] if name else [p.safe_area for p in platforms()]
    left, top, right, bottom = (max(s[i] for s in sides) for i in range(4))
    sx, sy = width / 1080, height / 1920
    x0, y0 = int(left * sx + 1) & ~1, int(top * sy + 1) & ~1
    x1, y1 = int(width - right * sx) & ~1, int(height - bottom * sy) & ~1
    return Box(x0, y0, x1 - x0, y1 - y0)


@dataclass(frozen=True)
class Face:
    """One font file of the chain; ``weight`` applies to variable fonts."""

    name: str
    path: Path
    weight: int | None = None


def _fontpkg_file(module: str, pattern: str) -> Path:
    pkg = importlib.import_module(module)
    files = sorted(p for p in (pkg.ROOT / "files").glob(pattern) if "Italic" not in p.name)
    if not files:
        raise RuntimeError(f"{module} is installed without a {pattern} font file")
    return files[0]


@functools.lru_cache(maxsize=1)
def font_path() -> Path:
    """Noto Sans, shipped by the ``fontpkg-noto-sans`` wheel: Latin (Vietnamese included),
    Greek and Cyrillic, so captions never depend on the fonts a machine happens to have."""
    return _fontpkg_file("fontpkg_noto_sans", "NotoSans*.ttf")


@functools.lru_cache(maxsize=1)
def emoji_font_path() -> Path | None:
    """An outline emoji font installed on this machine, if any (none ships on PyPI: without
    one, emoji are dropped cleanly, never drawn as boxes)."""
    import glob
    import os

    for folder in _EMOJI_FONT_DIRS:
        root = os.path.expanduser(folder)
        for pattern in _EMOJI_FONT_GLOBS:
            found = sorted(glob.glob(os.path.join(root, "**", pattern), recursive=True))
            if found:
                return Path(found[0])
    return None


@functools.lru_cache(maxsize=4)
def font_chain(role: str = "body") -> tuple[Face, ...]:
    """The faces a ``role`` ("title" or "body") draws with, first choice first: Be Vietnam Pro
    (designed for Vietnamese) for titles, Noto Sans for body text, Noto Sans Thai for Thai,
    then an emoji font where the machine has one."""
    if role not in ("title", "body"):
        raise ValueError(f"Invalid text role ({role!r}). Supported: title, body.")
    body = Face(BODY_FONT, font_path(), 700)
    faces = [body]
    if role == "title":
        faces.insert(0, Face(TITLE_FONT, _fontpkg_file("fontpkg_be_vietnam_pro", "BeVietnamPro-ExtraBold.ttf")))
    faces.append(Face("Noto Sans Thai", _fontpkg_file("fontpkg_noto_sans_thai", "NotoSansThai*.ttf"), 700))
    emoji = emoji_font_path()
    if emoji is not None:
        faces.append(Face("emoji", emoji))
    return tuple(faces)


@functools.lru_cache(maxsize=1)
def shaping() -> tuple[bool, str]:
    """Whether Pillow shapes text with libraqm (ligatures, Thai and other complex scripts,
    combining marks placed by the font), and its version or why not."""
    from PIL import features

    if features.check("raqm"):
        return True, f"libraqm {features.version('raqm') or ''}".strip()
    return False, "Pillow was built without libraqm: basic layout, complex scripts may be drawn wrongly"


@functools.lru_cache(maxsize=64)
def _load(path: Path, size_px: int, weight: int | None) -> ImageFont.FreeTypeFont:
    raqm, why = shaping()
    if not raqm:
        _warn_once(f"warning: {why}")
    engine = ImageFont.Layout.RAQM if raqm else ImageFont.Layout.BASIC
    font = ImageFont.truetype(str(path), size_px, layout_engine=engine)
    if weight is not None:
        try:
            values = []
            for axis in font.get_variation_axes():
                name = axis.get("name", b"")
                name = name.decode() if isinstance(name, bytes) else str(name)
                values.append(weight if name.lower().startswith("weight") else axis.get("default", 100))
            font.set_variation_by_axes(values)
        except (OSError, AttributeError):
            pass  # not a variable font, or FreeType without variations: the file's weight
    return font


def load_font(size_px: int, weight: int = 700, *, role: str = "body") -> ImageFont.FreeTypeFont:
    """The first face of ``role``'s chain at ``size_px``."""
    face = font_chain(role)[0]
    return _load(face.path, size_px, weight if face.weight is not None else None)


@functools.lru_cache(maxsize=8)
def _cmap(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(str(path), lazy=True) as tt:
        return frozenset(tt.getBestCmap())


def covered_codepoints(role: str = "body") -> frozenset[int]:
    """Code points some face of the chain has glyphs for."""
    out: set[int] = set()
    for face in font_chain(role):
        out |= _cmap(face.path)
    return frozenset(out)


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        print(message, file=sys.stderr)


def _joins(ch: str, prev: str | None) -> bool:
    """Whether ``ch`` belongs to the grapheme before it: combining marks, variation selectors,
    zero-width joiners and what they join, skin tones, emoji tags."""
    cp = ord(ch)
    return (unicodedata.category(ch) in ("Mn", "Mc", "Me") or 0xFE00 <= cp <= 0xFE0F or cp == 0x200D
            or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F or prev == "\u200d")


def graphemes(text: str) -> list[str]:
    """``text`` cut into user-perceived characters (an approximation of UAX #29 good enough
    for choosing a font: a base and its marks, an emoji and its modifiers stay together)."""
    out: list[str] = []
    prev = None
    for ch in text:
        if out and _joins(ch, prev):
            out[-1] += ch
        else:
            out.append(ch)
        prev = ch
    return out


def font_runs(text: str, *, role: str = "body") -> tuple[list[tuple[int, str]], list[str]]:
    """``text`` as runs of (face index in the chain, text), and the graphemes no face covers
    (dropped). Spaces and marks stay with the run they are in."""
    faces = font_chain(role)
    cmaps = [_cmap(f.path) for f in faces]
    runs: list[tuple[int, str]] = []
    dropped: list[str] = []
    for g in graphemes(normalize(text)):
        base = g[0]
        if base.isspace() or unicodedata.category(base) in ("Cc", "Cf"):
            if base.isspace() and runs and not runs[-1][1].endswith(" "):  # one space where a dropped emoji was
                runs[-1] = (runs[-1][0], runs[-1][1] + " ")
            continue
        needed = [ord(c) for c in g if not (0xFE00 <= ord(c) <= 0xFE0F or ord(c) == 0x200D)]
        face = next((i for i, cm in enumerate(cmaps) if all(cp in cm for cp in needed)), None)
        if face is None:
            face = next((i for i, cm in enumerate(cmaps) if ord(base) in cm), None)
        if face is None:
            if g not in dropped:
                dropped.append(g)
            continue
        if runs and runs[-1][0] == face:
            runs[-1] = (face, runs[-1][1] + g)
        else:
            runs.append((face, g))
    return runs, dropped


def missing_glyphs(text: str, *, role: str = "body") -> list[str]:
    """Characters of ``text`` no face of the chain can draw (they are dropped, never boxes)."""
    return font_runs(text, role=role)[1]


def normalize(text: str) -> str:
    """NFC: Vietnamese typed as base letter + combining marks becomes precomposed letters,
    which the font draws as designed glyphs instead of stacked marks."""
    return unicodedata.normalize("NFC", text)


def _face_font(index: int, size_px: int, role: str) -> ImageFont.FreeTypeFont:
    face = font_chain(role)[index]
    return _load(face.path, size_px, face.weight)


def text_width(text: str, *, size_px: int, role: str = "body") -> float:
    """Width in pixels of one line of ``text`` drawn with ``role``'s font chain."""
    runs, _ = font_runs(text, role=role)
    return sum(_face_font(i, size_px, role).getlength(t) for i, t in runs)


def wrap(text: str, size_px: int, *, max_width_px: int, role: str = "body") -> list[str]:
    """Greedy word wrap to ``max_width_px``; a word longer than a line (or a script written
    without spaces, such as Thai) is cut between graphemes, never inside one."""
    lines: list[str] = []
    for paragraph in normalize(text).splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if text_width(candidate, size_px=size_px, role=role) <= max_width_px:
                line = candidate
                continue
            if line:
                lines.append(line)
            pieces = graphemes(word)
            while len(pieces) > 1 and text_width(word, size_px=size_px, role=role) > max_width_px:
                cut = len(pieces)
                while cut > 1 and text_width("".join(pieces[:cut]), size_px=size_px, role=role) > max_width_px:
                    cut -= 1
                lines.append("".join(pieces[:cut]))
                pieces = pieces[cut:]
                word = "".join(pieces)
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
    max_height_px: int | None = None,
    fill: tuple[int, int, int, int] = (255, 255, 255, 255),
    align: str = "center",
    role: str = "body",
    plate: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """Draw ``text`` wrapped to ``max_width_px`` with a dark outline and a soft shadow (or, with
    ``plate``, on a rounded plate of that colour), each character in the first face of
    ``role``'s chain that has it.

    Returns (H, W, 4) uint8 straight-alpha RGBA, H and W even, cropped to the ink. The font
    shrinks until the text fits in ``max_lines`` lines and ``max_height_px``.
    """
    size = size_px
    while True:
        lines = wrap(text, size, max_width_px=max_width_px, role=role)
        ascent, descent = _face_font(0, size, role).getmetrics()
        line_h = int((ascent + descent) * 1.12)
        fits = len(lines) <= max_lines and (max_height_px is None or line_h * len(lines) <= max_height_px)
        if fits or size <= 12:
            break
        size = max(12, int(size * 0.9))
    lines = lines[:max_lines]
    stroke = 0 if plate else max(2, size // 14)
    shadow = 0 if plate else max(2, size // 16)
    pad = (size // 3) if plate else stroke + shadow * 3
    width = (max_width_px + 2 * pad + 1) & ~1  # even, so the crop below stays even
    height = (line_h * max(1, len(lines)) + 2 * pad + 1) & ~1
    text_layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    shadow_layer = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(text_layer)
    sdraw = ImageDraw.Draw(shadow_layer)
    widths = []
    for i, line in enumerate(lines):
        runs, _ = font_runs(line, role=role)
        lw = sum(_face_font(f, size, role).getlength(t) for f, t in runs)
        widths.append(lw)
        x = pad + (max_width_px - lw) / 2 if align == "center" else pad
        baseline = pad + i * line_h + ascent
        for f, t in runs:
            font = _face_font(f, size, role)
            if shadow:
                sdraw.text((x + shadow, baseline + shadow), t, font=font, fill=160, stroke_width=stroke,
                           stroke_fill=160, anchor="ls")
            draw.text((x, baseline), t, font=font, fill=fill, stroke_width=stroke, stroke_fill=(0, 0, 0, 255),
                      anchor="ls")
            x += font.getlength(t)
    out = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    if plate:
        inked = max(widths or [0])
        x0 = pad + (max_width_px - inked) / 2 - pad if align == "center" else 0
        ImageDraw.Draw(out).rounded_rectangle((x0, 0, x0 + inked + 2 * pad, height - 1), radius=pad, fill=plate)
    else:
        shadow_layer = shadow_layer.filter(ImageFilter.GaussianBlur(shadow))
        out.putalpha(shadow_layer)
    out.alpha_composite(text_layer)
    arr = np.asarray(out)
    ys, xs = np.nonzero(arr[..., 3])
    if len(ys) == 0:
        return np.zeros((2, 2, 4), np.uint8)
    y0, y1 = ys.min() & ~1, (ys.max() + 2) & ~1
    x0, x1 = xs.min() & ~1, (xs.max() + 2) & ~1
    return np.ascontiguousarray(arr[y0:y1, x0:x1])


def text_overlay(text: str, *, max_width_px: int, size_px: int, role: str = "body", **kwargs) -> YuvaOverlay:
    """``render_text_rgba`` converted once to a YUVA overlay for the kernels; characters no
    font has (emoji on a machine without an emoji font) are dropped with one warning."""
    missing = missing_glyphs(text, role=role)
    if missing:
        _warn_once(f"warning: no font here draws {''.join(missing)!r}: left out of the text "
                   "(install an outline emoji font such as Noto Emoji to show emoji)")
    rgba = render_text_rgba(text, max_width_px=max_width_px, size_px=size_px, role=role, **kwargs)
    return rgba_to_yuva420(torch.from_numpy(rgba))


def mashup_overlays(
    geo: LayoutGeometry, *, caption: str | None, attribution: str | None
) -> list[tuple[YuvaOverlay, int, int]]:
    """The caption (lower third of the main box) and the credit line, each converted once,
    with where it goes: (overlay, x, y), x and y even.

    On a vertical canvas both stay inside every platform's safe area (clear of the apps'
    right-hand buttons and bottom caption band): the credit line sits on the safe area's
    bottom edge; on a horizontal one, at the canvas's bottom edge."""
    out = []
    vertical = geo.height > geo.width
    safe = safe_area(None, width=geo.width, height=geo.height) if vertical else Box(0, 0, geo.width, geo.height)
    if caption:
        box = geo.main
        left = max(box.x + int(box.width * 0.08), safe.x)
        right = min(box.x + box.width - int(box.width * 0.08), safe.x + safe.width)
        size = max(24, int(min(box.width, box.height) * 0.062))
        ov = text_overlay(caption, max_width_px=right - left, size_px=size, max_lines=5)
        x = left + (right - left - ov.width) // 2
        # lower third of the main box, clear of the bottom edge
        y = box.y + int(box.height * 0.80) - ov.height
        y = max(box.y + int(box.height * 0.06), safe.y, y)
        out.append((ov, x & ~1, y & ~1))
    if attribution:
        size = max(16, int(geo.height * 0.016))
        max_w = int(safe.width * 0.96) if vertical else int(geo.width * 0.9)
        ov = text_overlay(attribution, max_width_px=max_w, size_px=size, max_lines=1)
        x = safe.x + (safe.width - ov.width) // 2
        y = safe.y + safe.height - ov.height - int(geo.height * 0.012)
        out.append((ov, x & ~1, y & ~1))
    return out
