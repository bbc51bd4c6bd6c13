"""Planar YUV 4:2:0 frames as torch tensors: the one frame type every kernel takes."""

from __future__ import annotations

from typing import NamedTuple

import torch

# Limited-range ("TV") black and neutral chroma, as BT.709 8-bit video stores them.
BLACK_Y = 16
NEUTRAL_C = 128


class Planes(NamedTuple):
    """A YUV 4:2:0 frame: ``y`` is (H, W), ``u`` and ``v`` are (H/2, W/2), uint8.

    The tensors may be strided views into someone else's buffer (a decoded AVFrame,
    an encoder's input frame), so kernels write through ``copy_`` and in-place ops.
    """

    y: torch.Tensor
    u: torch.Tensor
    v: torch.Tensor

    @property
    def device(self) -> torch.device:
        return self.y.device

    def to(self, device: str | torch.device, *, non_blocking: bool = False) -> "Planes":
        """The same frame on ``device`` (itself when already there)."""
        return Planes(*(p.to(device, non_blocking=non_blocking) for p in self))

    def clone(self) -> "Planes":
        return Planes(*(p.clone() for p in self))

    def frame(self, index: int) -> "Planes":
        """Frame ``index`` of a batch (planes with a leading dimension)."""
        return Planes(self.y[index], self.u[index], self.v[index])

    @property
    def height(self) -> int:
        return int(self.y.shape[-2])

    @property
    def width(self) -> int:
        return int(self.y.shape[-1])

    def crop(self, *, x: int, y: int, width: int, height: int) -> "Planes":
        """A view of the even-aligned rectangle (x, y, width, height)."""
        if x % 2 or y % 2 or width % 2 or height % 2:
            raise ValueError(f"crop must be even-aligned for 4:2:0, got {(x, y, width, height)}")
        return Planes(
            self.y[..., y : y + height, x : x + width],
            self.u[..., y // 2 : (y + height) // 2, x // 2 : (x + width) // 2],
            self.v[..., y // 2 : (y + height) // 2, x // 2 : (x + width) // 2],
        )

    def __repr__(self) -> str:
        return f"Planes({self.width}x{self.height}, {self.y.dtype}, {self.y.device})"


def new_planes(
    *, width: int, height: int, device: str | torch.device = "cpu", fill_black: bool = True, frames: int | None = None
) -> Planes:
    """Allocate a ``width`` x ``height`` frame, black by default; with ``frames``, a batch of
    that many (planes with a leading dimension; ``Planes.frame(k)`` is one of them)."""
    if width % 2 or height % 2:
        raise ValueError(f"4:2:0 frames need even sizes, got {width}x{height}")
    lead = () if frames is None else (int(frames),)
    mk = torch.full if fill_black else (lambda size, _v, **kw: torch.empty(size, **kw))
    return Planes(
        mk((*lead, height, width), BLACK_Y, dtype=torch.uint8, device=device),
        mk((*lead, height // 2, width // 2), NEUTRAL_C, dtype=torch.uint8, device=device),
        mk((*lead, height // 2, width // 2), NEUTRAL_C, dtype=torch.uint8, device=device),
    )


def fill_black(planes: Planes) -> None:
    """Paint ``planes`` black in place."""
    planes.y.fill_(BLACK_Y)
    planes.u.fill_(NEUTRAL_C)
    planes.v.fill_(NEUTRAL_C)


def copy_into(dst: Planes, src: Planes) -> None:
    """Copy ``src`` into ``dst`` (same size), plane by plane."""
    for d, s in zip(dst, src):
        d.copy_(s)
