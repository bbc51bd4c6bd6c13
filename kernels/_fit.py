"""Fitting a source frame into a box: cover, contain (letterbox) and blur, plus resizing."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from kernels._geometry import fit_geometry, small_cover_size
from kernels._planes import BLACK_Y, NEUTRAL_C, Planes, new_planes

BLUR_DARKEN = 0.55


def resize_plane(plane: torch.Tensor, *, height: int, width: int) -> torch.Tensor:
    """Bilinear resize of uint8 planes (antialiased when shrinking), on their device.

    Leading dimensions are a batch: (N, H, W) planes of N frames are resized in one call.
    """
    if plane.shape[-2:] == (height, width):
        return plane
    lead = plane.shape[:-2]
    src = plane.reshape(-1, 1, *plane.shape[-2:]).float()
    shrinking = height < plane.shape[-2] or width < plane.shape[-1]
    out = F.interpolate(
        src, size=(height, width), mode="bilinear", align_corners=False, antialias=shrinking
    )
    return out.round_().clamp_(0, 255).to(torch.uint8).reshape(*lead, height, width)


def resize(planes: Planes, *, width: int, height: int) -> Planes:
    """Resize a 4:2:0 frame to ``width`` x ``height`` (both even)."""
    return Planes(
        resize_plane(planes.y, height=height, width=width),
        resize_plane(planes.u, height=height // 2, width=width // 2),
        resize_plane(planes.v, height=height // 2, width=width // 2),
    )


def letterbox(box: Planes, picture: Planes, *, offset_x: int, offset_y: int) -> None:
    """Paint ``box`` black and place ``picture`` at the offset: contain's letterbox."""
    box.y.fill_(BLACK_Y)
    box.u.fill_(NEUTRAL_C)
    box.v.fill_(NEUTRAL_C)
    dst = box.crop(x=offset_x, y=offset_y, width=picture.width, height=picture.height)
    for d, s in zip(dst, picture):
        d.copy_(s)


def _gaussian_kernel(sigma: float, device: torch.device) -> torch.Tensor:
    radius = max(1, int(math.ceil(2.5 * sigma)))
    xs = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    k = torch.exp(-(xs**2) / (2 * sigma * sigma))
    return k / k.sum()


def gaussian_blur_plane(plane: torch.Tensor, *, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of one plane (any dtype in, float32 out), edges replicated."""
    k = _gaussian_kernel(sigma, plane.device)
    r = (k.numel() - 1) // 2
    x = plane.reshape(1, 1, *plane.shape[-2:]).float()
    x = F.pad(x, (r, r, 0, 0), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    x = F.pad(x, (0, 0, r, r), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, -1, 1))
    return x.reshape(plane.shape[-2:])


def blur_background(small: Planes, *, width: int, height: int, darken: float = BLUR_DARKEN) -> Planes:
    """Blur and darken a small cover-fitted frame and scale it up to ``width`` x ``height``."""
    out = []
    for i, (plane, h, w) in enumerate(
        ((small.y, height, width), (small.u, height // 2, width // 2), (small.v, height // 2, width // 2))
    ):
        sigma = max(1.0, plane.shape[-1] / 40.0)
        blurred = gaussian_blur_plane(plane, sigma=sigma)
        centre = float(BLACK_Y if i == 0 else NEUTRAL_C)
        blurred = (blurred - centre) * darken + centre
        up = F.interpolate(blurred[None, None], size=(h, w), mode="bilinear", align_corners=False)
        out.append(up.round_().clamp_(0, 255).to(torch.uint8)[0, 0])
    return Planes(*out)


def fit_parts(src: Planes, *, box_width: int, box_height: int, fit: str) -> tuple[Planes, Planes | None]:
    """What a decoder hands the compositor for one frame (or a batch, leading dimension N):
    the picture cropped and scaled for ``fit`` (box size for cover, the scaled size for
    contain and blur), and for blur the small cover-fitted frame its background is made
    from. The same geometry as the CPU decoder's filter graph, on the frame's device."""
    geo = fit_geometry(
        src_width=src.width, src_height=src.height, box_width=box_width, box_height=box_height, fit=fit
    )
    picture = resize(
        src.crop(x=geo.crop_x, y=geo.crop_y, width=geo.crop_width, height=geo.crop_height),
        width=geo.scaled_width,
        height=geo.scaled_height,
    )
    if fit != "blur":
        return picture, None
    sw, sh = small_cover_size(box_width=box_width, box_height=box_height)
    cg = fit_geometry(src_width=src.width, src_height=src.height, box_width=sw, box_height=sh, fit="cover")
    small = resize(src.crop(x=cg.crop_x, y=cg.crop_y, width=cg.crop_width, height=cg.crop_height), width=sw, height=sh)
    return picture, small


def fit_frame(src: Planes, *, box_width: int, box_height: int, fit: str) -> Planes:
    """Fit a whole source frame into a ``box_width`` x ``box_height`` box (torch path).

    This is the device-agnostic reference: GPU decoders use it as it is; the CPU
    decoder produces the same geometry with libswscale before the frame reaches torch.
    """
    geo = fit_geometry(
        src_width=src.width, src_height=src.height, box_width=box_width, box_height=box_height, fit=fit
    )
    cropped = src.crop(x=geo.crop_x, y=geo.crop_y, width=geo.crop_width, height=geo.crop_height)
    picture = resize(cropped, width=geo.scaled_width, height=geo.scaled_height)
    if fit == "cover":
        return picture
    if fit == "contain":
        box = new_planes(width=box_width, height=box_height, device=src.y.device)
    else:
        sw, sh = small_cover_size(box_width=box_width, box_height=box_height)
        cg = fit_geometry(
            src_width=src.width, src_height=src.height, box_width=sw, box_height=sh, fit="cover"
        )
        small = resize(
            src.crop(x=cg.crop_x, y=cg.crop_y, width=cg.crop_width, height=cg.crop_height),
            width=sw,
            height=sh,
        )
        box = blur_background(small, width=box_width, height=box_height)
    dst = box.crop(x=geo.offset_x, y=geo.offset_y, width=picture.width, height=picture.height)
    for d, s in zip(dst, picture):
        d.copy_(s)
    return box
