"""Colour conversion between RGB and limited-range BT.709 YUV 4:2:0 (with alpha for overlays)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from kernels._planes import Planes

KR, KB = 0.2126, 0.0722  # BT.709
KG = 1.0 - KR - KB


class YuvaOverlay(NamedTuple):
    """An overlay converted once to YUV 4:2:0 with alpha at luma and chroma resolution.

    ``alpha_y`` is (H, W) and ``alpha_c`` is (H/2, W/2), both uint8 0..255.
    """

    planes: Planes
    alpha_y: torch.Tensor
    alpha_c: torch.Tensor

    def to(self, device) -> "YuvaOverlay":
        """The same overlay on ``device`` (no copy where it already is)."""
        return YuvaOverlay(self.planes.to(device), self.alpha_y.to(device), self.alpha_c.to(device))

    @property
    def width(self) -> int:
        return self.planes.width

    @property
    def height(self) -> int:
        return self.planes.height

    def __repr__(self) -> str:
        return f"YuvaOverlay({self.width}x{self.height})"


def _rgb_to_yuv_float(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r, g, b = (rgb[..., i] / 255.0 for i in range(3))
    y = KR * r + KG * g + KB * b
    cb = (b - y) / (2 * (1 - KB))
    cr = (r - y) / (2 * (1 - KR))
    return 16 + 219 * y, 128 + 224 * cb, 128 + 224 * cr


def _to_u8(x: torch.Tensor) -> torch.Tensor:
    return x.round().clamp_(0, 255).to(torch.uint8)


def rgb_to_yuv420(rgb: torch.Tensor) -> Planes:
    """(H, W, 3) uint8 RGB to limited-range BT.709 4:2:0 planes (chroma averaged 2x2)."""
    if rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.shape[0] % 2 or rgb.shape[1] % 2:
        raise ValueError(f"expected (H, W, 3) with even H and W, got {tuple(rgb.shape)}")
    y, cb, cr = _rgb_to_yuv_float(rgb.float())
    u = F.avg_pool2d(cb[None, None], 2)[0, 0]
    v = F.avg_pool2d(cr[None, None], 2)[0, 0]
    return Planes(_to_u8(y), _to_u8(u), _to_u8(v))


def rgba_to_yuva420(rgba: torch.Tensor) -> YuvaOverlay:
    """(H, W, 4) uint8 straight-alpha RGBA to a :class:`YuvaOverlay`.

    Chroma is averaged over each 2x2 block weighted by alpha, so the colour of
    transparent pixels (often black) does not bleed into glyph edges.
    """
    if rgba.ndim != 3 or rgba.shape[-1] != 4 or rgba.shape[0] % 2 or rgba.shape[1] % 2:
        raise ValueError(f"expected (H, W, 4) with even H and W, got {tuple(rgba.shape)}")
    f = rgba.float()
    a = f[..., 3] / 255.0
    y, cb, cr = _rgb_to_yuv_float(f[..., :3])
    wsum = F.avg_pool2d(a[None, None], 2)[0, 0]
    safe = wsum.clamp(min=1e-6)
    u = torch.where(wsum > 0, F.avg_pool2d((cb * a)[None, None], 2)[0, 0] / safe, torch.full_like(wsum, 128.0))
    v = torch.where(wsum > 0, F.avg_pool2d((cr * a)[None, None], 2)[0, 0] / safe, torch.full_like(wsum, 128.0))
    return YuvaOverlay(Planes(_to_u8(y), _to_u8(u), _to_u8(v)), _to_u8(a * 255), _to_u8(wsum * 255))


def yuv420_to_rgb(planes: Planes) -> torch.Tensor:
    """Limited-range BT.709 4:2:0 planes to (H, W, 3) uint8 RGB (chroma upsampled nearest)."""
    y = (planes.y.float() - 16) / 219
    cb = (planes.u.float() - 128) / 224
    cr = (planes.v.float() - 128) / 224
    cb = cb.repeat_interleave(2, -2).repeat_interleave(2, -1)
    cr = cr.repeat_interleave(2, -2).repeat_interleave(2, -1)
    r = y + 2 * (1 - KR) * cr
    b = y + 2 * (1 - KB) * cb
    g = (y - KR * r - KB * b) / KG
    return _to_u8(torch.stack([r, g, b], dim=-1) * 255)
