"""Alpha-blending a pre-converted YUVA overlay (captions, credits, logos) onto a frame."""

from __future__ import annotations

import torch

from kernels._color import YuvaOverlay
from kernels._planes import Planes


def _blend(dst: torch.Tensor, src: torch.Tensor, alpha: torch.Tensor, opacity_q8: int = 256) -> None:
    a = alpha.to(torch.int32)
    if opacity_q8 < 256:  # the whole overlay fading: alpha * opacity, rounded, in 1/256 steps
        a = a.mul_(opacity_q8).add_(128).bitwise_right_shift_(8)
    t = src.to(torch.int32).mul_(a)
    t.add_(dst.to(torch.int32).mul_(255 - a))
    # floor((t + 127) / 255) for t in 0..255*255, without a division: u = t + 128,
    # (u + (u >> 8)) >> 8 (checked for every t in tests/test_promo.py)
    t.add_(128)
    t.add_(t >> 8).bitwise_right_shift_(8)
    dst.copy_(t)


def alpha_overlay(frame: Planes, overlay: YuvaOverlay, *, x: int, y: int, opacity: float = 1.0) -> None:
    """Blend ``overlay`` onto ``frame`` in place with its top-left corner at (x, y), even,
    its alpha scaled by ``opacity`` (0..1: a caption fading in or out).

    The parts of the overlay that fall outside the frame are clipped.
    """
    if x % 2 or y % 2:
        raise ValueError(f"overlay position must be even for 4:2:0, got ({x}, {y})")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"Invalid opacity ({opacity}). Supported: 0 to 1.")
    q8 = int(round(opacity * 256))
    if q8 == 0:
        return
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(frame.width, x + overlay.width), min(frame.height, y + overlay.height)
    if x1 <= x0 or y1 <= y0:
        return
    ox, oy = x0 - x, y0 - y
    w, h = x1 - x0, y1 - y0
    dst = frame.crop(x=x0, y=y0, width=w, height=h)
    src = overlay.planes.crop(x=ox, y=oy, width=w, height=h)
    _blend(dst.y, src.y, overlay.alpha_y[oy : oy + h, ox : ox + w], q8)
    ac = overlay.alpha_c[oy // 2 : (oy + h) // 2, ox // 2 : (ox + w) // 2]
    _blend(dst.u, src.u, ac, q8)
    _blend(dst.v, src.v, ac, q8)
