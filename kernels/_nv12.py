"""Semi-planar frames as NVIDIA's decoders and encoders hand them (NV12, P016) <-> planar 4:2:0,
and turning frames upright."""

from __future__ import annotations

import torch

from kernels._planes import Planes


def nv12_planes(frame: torch.Tensor, *, height: int | None = None, bits: int = 8) -> Planes:
    """Planar views of a semi-planar 4:2:0 frame: one (H * 3/2, W) tensor, luma rows then
    interleaved Cb/Cr rows.

    8-bit NV12 (uint8) comes back as zero-copy views. 16-bit P016 (uint16, the ``bits``
    significant bits at the top of each sample, as NVDEC writes 10- and 12-bit video) comes
    back as new int16 planes with the values shifted down, least-significant-bit aligned,
    as :class:`kernels.SourceColour` reads them.
    """
    if frame.ndim != 2:
        raise ValueError(f"expected a (H*3/2, W) semi-planar frame, got shape {tuple(frame.shape)}")
    rows, width = frame.shape
    height = height if height is not None else rows * 2 // 3
    if width % 2 or height % 2 or rows < height + height // 2:
        raise ValueError(f"a {width}x{height} 4:2:0 frame needs even sizes and {height * 3 // 2} rows, got {rows}")
    y = frame[:height]
    uv = frame[height : height + height // 2].reshape(height // 2, width // 2, 2)
    if frame.dtype == torch.uint8:
        return Planes(y, uv[..., 0], uv[..., 1])
    shift = 16 - bits
    # uint16 has few operations in torch: widen, shift, and hold the result in int16
    return Planes(*((p.to(torch.int32) >> shift).to(torch.int16) for p in (y, uv[..., 0], uv[..., 1])))


def planes_to_nv12(planes: Planes, out: torch.Tensor | None = None) -> torch.Tensor:
    """An 8-bit planar frame as one contiguous NV12 tensor (what NVENC takes)."""
    h, w = planes.height, planes.width
    if out is None:
        out = torch.empty((h * 3 // 2, w), dtype=torch.uint8, device=planes.y.device)
    out[:h].copy_(planes.y)
    uv = out[h:].view(h // 2, w // 2, 2)
    uv[..., 0].copy_(planes.u)
    uv[..., 1].copy_(planes.v)
    return out


def rotate_planes(planes: Planes, *, rotation_deg: int) -> Planes:
    """Turn a frame upright: ``rotation_deg`` is the display matrix's rotation,
    counter-clockwise (a phone's "rotate=90" tag is -90 here and needs a clockwise turn)."""
    turns = {0: 0, 90: 1, -90: 3, 270: 3, 180: 2, -180: 2}.get(int(rotation_deg))
    if turns is None:
        raise ValueError(f"Invalid rotation ({rotation_deg}). Supported: 0, 90, -90, 180.")
    if turns == 0:
        return planes
    return Planes(*(torch.rot90(p, turns, dims=(-2, -1)) for p in planes))
