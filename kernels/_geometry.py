"""Box geometry for layouts and fits: plain integers, no tensors (so planning needs no torch)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

LayoutName = Literal["vertical", "horizontal"]
LAYOUTS: tuple[str, ...] = get_args(LayoutName)
FitName = Literal["cover", "contain", "blur"]
FITS: tuple[str, ...] = get_args(FitName)

# The blurred background is built at 1/BLUR_DOWNSCALE of the box, blurred there and
# scaled back up: the same look as a wide blur at full size for a fraction of the work.
BLUR_DOWNSCALE = 8


@dataclass(frozen=True)
class Box:
    """A rectangle on the canvas, in pixels; all four numbers are even."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class LayoutGeometry:
    """Canvas size and where the main and template boxes sit on it."""

    width: int
    height: int
    main: Box
    template: Box


def layout_geometry(layout: str) -> LayoutGeometry:
    """The 1080p geometry of ``layout``.

    Vertical is 1080x1920 with main on top (1080x1280) and template below (1080x640);
    horizontal is 1920x1080 with main left (1280x1080) and template right (640x1080).
    """
    if layout == "vertical":
        return LayoutGeometry(1080, 1920, Box(0, 0, 1080, 1280), Box(0, 1280, 1080, 640))
    if layout == "horizontal":
        return LayoutGeometry(1920, 1080, Box(0, 0, 1280, 1080), Box(1280, 0, 640, 1080))
    raise ValueError(f"Invalid layout ({layout!r}). Supported: {', '.join(LAYOUTS)}.")


def _even(v: float) -> int:
    return max(2, int(round(v / 2.0)) * 2)


def _even_floor(v: float) -> int:
    return max(0, int(math.floor(v / 2.0)) * 2)


@dataclass(frozen=True)
class FitGeometry:
    """How a source frame maps into a box.

    ``crop_*`` is the source rectangle used (even-aligned), ``scaled_*`` the size it is
    scaled to, and ``offset_*`` where the scaled picture sits inside the box (non-zero
    only for contain and blur, where the rest of the box is background).
    """

    crop_x: int
    crop_y: int
    crop_width: int
    crop_height: int
    scaled_width: int
    scaled_height: int
    offset_x: int
    offset_y: int


def fit_geometry(*, src_width: int, src_height: int, box_width: int, box_height: int, fit: str) -> FitGeometry:
    """Where the source goes in the box under ``fit`` (cover, contain or blur).

    For blur the geometry is contain's; the background is a cover fit of the same frame.
    """
    if fit not in FITS:
        raise ValueError(f"Invalid fit ({fit!r}). Supported: {', '.join(FITS)}.")
    if src_width < 2 or src_height < 2:
        raise ValueError(f"source of {src_width}x{src_height} is too small to fit")
    if fit == "cover":
        scale = max(box_width / src_width, box_height / src_height)
        cw = min(src_width - src_width % 2, _even(box_width / scale))
        ch = min(src_height - src_height % 2, _even(box_height / scale))
        cx = _even_floor((src_width - cw) / 2)
        cy = _even_floor((src_height - ch) / 2)
        return FitGeometry(cx, cy, cw, ch, box_width, box_height, 0, 0)
    scale = min(box_width / src_width, box_height / src_height)
    sw = min(box_width, _even(src_width * scale))
    sh = min(box_height, _even(src_height * scale))
    cw, ch = src_width - src_width % 2, src_height - src_height % 2
    return FitGeometry(0, 0, cw, ch, sw, sh, _even_floor((box_width - sw) / 2), _even_floor((box_height - sh) / 2))


def small_cover_size(*, box_width: int, box_height: int) -> tuple[int, int]:
    """The size of the cover-fitted frame a blur background is built from."""
    return _even(box_width / BLUR_DOWNSCALE), _even(box_height / BLUR_DOWNSCALE)
