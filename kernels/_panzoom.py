"""Pan-and-zoom ("Ken Burns") over a still image: smooth viewport paths and their rendering."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import torch

from kernels._planes import Planes

ZOOM_MIN = 1.0
ZOOM_MAX = 4.0
PAN_ZOOM_METHODS = ("taps", "matmul")
PanZoomMethod = Literal["taps", "matmul"]

# Sampling geometry (all of it lives here; the test's numpy reference restates it):
#
# * Continuous luma coordinates: pixel (col, row) covers [col, col+1) x [row, row+1), its
#   sample sits at (col + 0.5, row + 0.5); a Viewport is a rectangle in these coordinates.
# * Chroma siting is MPEG-2/H.264 "left" (the 4:2:0 default of BT.709 video): chroma sample
#   (i, j) sits at luma (2j + 0.5, 2i + 1), i.e. horizontally co-sited with luma column 2j and
#   vertically halfway between luma rows 2i and 2i+1. Output chroma samples use the same
#   siting in the output frame, mapped through the viewport's affine map.
# * Filter: a separable tent whose half-width is max(1, source pixels per output pixel). When
#   the viewport is smaller than the output (zooming in) it is plain bilinear; when larger, the
#   tent widens with the downscale factor (PIL/torch "antialias" bilinear), so every source
#   pixel contributes and a 2x downscale of a 3000x4000 still doesn't alias. Its weights are
#   never negative, so unlike bicubic/Lanczos it cannot ring around the hard edges product
#   shots have (text, packaging, logos): every output is a convex mix of source samples.
# * Edges: taps that would fall outside the image are dropped and the rest renormalised, so
#   nothing outside the image is read (for bilinear this equals clamping to the edge sample).
#
# Method, chosen by measurement (1080x1920 output from a 3000x4000 still, 8 viewports zooming
# 1.0 -> 1.3, i.e. ~2x downscale; torch 2.13 CPU build; 2-vCPU KVM guest, `nproc` 2,
# /proc/cpuinfo "AMD EPYC" family 25 model 17 (AVX-512), shared with other jobs: load ~2);
# median of 3 runs, seconds per batch of 8 frames (Y, U and V):
#
#   method                                          1 thread    2 threads (torch default)
#   "taps"   K row/column gathers + FMAs per pass   0.45        0.32
#   "matmul" dense per-frame weight matrices, mm    3.56        1.79
#   grid_sample bilinear (not kept: aliases at 2x)  0.35        0.20
#
# "taps" costs O(out * taps); "matmul" multiplies by matrices that are >99 % zeros. grid_sample
# is faster only because it reads 4 samples where a 2x downscale needs ~5x5 to not alias.
# On an H200 (CUDA, torch 2.11) the same batch took 20 ms with "taps" and 15 ms with "matmul".
# The default is the faster one with the tent filter: "taps".


@dataclass(frozen=True)
class Viewport:
    """A rectangle of the source image in continuous luma pixel coordinates (sub-pixel)."""

    x: float
    y: float
    width: float
    height: float

    def __post_init__(self) -> None:
        for name in ("x", "y", "width", "height"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"Invalid Viewport {name} ({value!r}). Supported: a finite number.")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(
                f"Invalid Viewport size ({self.width}x{self.height}). Supported: width and height above 0."
            )

    def inside(self, *, image_width: int, image_height: int, tolerance_px: float = 1e-6) -> bool:
        """Whether the viewport lies entirely inside a ``image_width`` x ``image_height`` image."""
        return (
            self.x >= -tolerance_px
            and self.y >= -tolerance_px
            and self.x + self.width <= image_width + tolerance_px
            and self.y + self.height <= image_height + tolerance_px
        )


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Invalid {name} ({value!r}). Supported: an integer, 1 or more.")


def _check_even_size(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 2 or value % 2:
        raise ValueError(f"Invalid {name} ({value!r}). Supported: an even integer, 2 or more (4:2:0).")


def _smoothstep(t: float) -> float:
    # Zero velocity at both ends and continuous velocity between: the camera eases in and out.
    return t * t * (3.0 - 2.0 * t)


def pan_zoom_path(
    *,
    image_width: int,
    image_height: int,
    out_width: int,
    out_height: int,
    frames: int,
    zoom_from: float,
    zoom_to: float,
    focus_from: tuple[float, float],
    focus_to: tuple[float, float],
) -> list[Viewport]:
    """A smooth pan-and-zoom path: ``frames`` viewports with the output's aspect ratio.

    Args:
        image_width, image_height: the source still's luma size in pixels.
        out_width, out_height: the output frame size (even); only its aspect ratio is used here.
        frames: how many viewports (one per output frame), 1 or more.
        zoom_from, zoom_to: 1.0 is the largest viewport of the output's aspect that fits in the
            image; 2.0 shows half its width. Supported: 1.0 to 4.0.
        focus_from, focus_to: (x, y) the viewport centres on, normalised to the image (0..1).

    Returns:
        Viewports eased in and out (smoothstep): the centre moves along a straight line and the
        zoom changes geometrically (constant perceived speed between the eases). A viewport
        that would show past the image's edge is moved (never reshaped) to touch the edge;
        this happens at the two ends, and the ones between stay inside by convexity (the size,
        geometric in the ease, is convex, so it stays under the chord the centres allow).

    Raises:
        ValueError: a size, ``frames``, a zoom or a focus out of its supported range.

    Example:
        >>> path = pan_zoom_path(image_width=4000, image_height=3000, out_width=1080,
        ...     out_height=1920, frames=90, zoom_from=1.0, zoom_to=1.5,
        ...     focus_from=(0.5, 0.5), focus_to=(0.7, 0.4))
        >>> len(path), round(path[0].height)
        (90, 3000)
    """
    _check_positive_int("image_width", image_width)
    _check_positive_int("image_height", image_height)
    _check_even_size("out_width", out_width)
    _check_even_size("out_height", out_height)
    _check_positive_int("frames", frames)
    for name, zoom in (("zoom_from", zoom_from), ("zoom_to", zoom_to)):
        if not isinstance(zoom, (int, float)) or not ZOOM_MIN <= zoom <= ZOOM_MAX:
            raise ValueError(f"Invalid {name} ({zoom!r}). Supported: {ZOOM_MIN} to {ZOOM_MAX}.")
    for name, focus in (("focus_from", focus_from), ("focus_to", focus_to)):
        ok = isinstance(focus, (tuple, list)) and len(focus) == 2
        if not ok or not all(isinstance(f, (int, float)) and 0.0 <= f <= 1.0 for f in focus):
            raise ValueError(f"Invalid {name} ({focus!r}). Supported: (x, y), each 0.0 to 1.0.")

    aspect = out_width / out_height
    if image_width / image_height > aspect:
        base_w, base_h = image_height * aspect, float(image_height)
    else:
        base_w, base_h = float(image_width), image_width / aspect

    def clamped_centre(zoom: float, focus: tuple[float, float]) -> tuple[float, float]:
        w, h = base_w / zoom, base_h / zoom
        cx = min(max(focus[0] * image_width, w / 2), image_width - w / 2)
        cy = min(max(focus[1] * image_height, h / 2), image_height - h / 2)
        return cx, cy

    (cx0, cy0), (cx1, cy1) = clamped_centre(zoom_from, focus_from), clamped_centre(zoom_to, focus_to)
    path = []
    for k in range(frames):
        e = _smoothstep(k / (frames - 1)) if frames > 1 else 0.0
        zoom = zoom_from * (zoom_to / zoom_from) ** e
        w, h = base_w / zoom, base_h / zoom
        cx, cy = cx0 + (cx1 - cx0) * e, cy0 + (cy1 - cy0) * e
        # Only float rounding can reach past the edge here; clamping by moving keeps the size.
        x = min(max(cx - w / 2, 0.0), image_width - w)
        y = min(max(cy - h / 2, 0.0), image_height - h)
        path.append(Viewport(x=x, y=y, width=w, height=h))
    return path


def _taps(
    starts: torch.Tensor, steps: torch.Tensor, *, count: int, first: float, stride: float, offset: float,
    sub: float, size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tent-filter taps along one axis for N viewports: (N, count, K) indices and weights.

    Output sample j sits at output luma coordinate ``first + stride * j``; through the viewport
    (``starts`` + coordinate * ``steps``, in source luma coordinates) it lands on source sample
    coordinate s = (X - offset) / sub of a plane ``size`` samples long.
    """
    j = torch.arange(count, dtype=torch.float64)
    s = (starts[:, None] + (first + stride * j)[None, :] * steps[:, None] - offset) / sub  # (N, count)
    radius = steps.clamp(min=1.0)[:, None]  # source samples per output sample, plane units alike
    # the open interval (s - r, s + r) holds at most ceil(2r) integers: 2 taps when enlarging
    k_max = max(1, int(math.ceil(2 * float(radius.max()) - 1e-9)))
    k = torch.floor(s - radius)[..., None] + 1 + torch.arange(k_max, dtype=torch.float64)
    w = (1 - (k - s[..., None]).abs() / radius[..., None]).clamp_(min=0)
    w = w * ((k >= 0) & (k <= size - 1))  # taps outside the image: dropped, never read
    w = w / w.sum(-1, keepdim=True)
    return k.clamp_(0, size - 1).long(), w.float()


def _resample_taps(plane, bounds, ry, wy, rx, wx) -> torch.Tensor:
    # Rows first on the columns this frame touches, then columns: each pass is K gathers + FMAs.
    r0, r1, c0, c1 = bounds
    src = plane[r0:r1, c0:c1].float()
    ry, rx = ry - r0, rx - c0
    rows = src.index_select(0, ry[:, 0]).mul_(wy[:, :1])
    for t in range(1, ry.shape[1]):
        rows.addcmul_(src.index_select(0, ry[:, t]), wy[:, t : t + 1])
    cols = rows.T.contiguous()  # gathering whole rows is ~20 % faster than strided columns
    out = cols.index_select(0, rx[:, 0]).mul_(wx[:, :1])
    for t in range(1, rx.shape[1]):
        out.addcmul_(cols.index_select(0, rx[:, t]), wx[:, t : t + 1])
    return out.T


def _dense(index: torch.Tensor, weight: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    m = torch.zeros(index.shape[0], hi - lo, dtype=weight.dtype, device=weight.device)
    return m.scatter_add_(1, index - lo, weight)


def _resample_matmul(plane, bounds, ry, wy, rx, wx) -> torch.Tensor:
    r0, r1, c0, c1 = bounds
    src = plane[r0:r1, c0:c1].float()
    my, mx = _dense(ry, wy, r0, r1), _dense(rx, wx, c0, c1).T
    # Multiply in the order with fewer flops.
    if my.shape[0] * src.shape[1] * (src.shape[0] + mx.shape[1]) <= src.shape[0] * mx.shape[1] * (
        src.shape[1] + my.shape[0]
    ):
        return (my @ src) @ mx
    return my @ (src @ mx)


def pan_zoom(
    image: Planes,
    viewports: Sequence[Viewport],
    *,
    out_width: int,
    out_height: int,
    out: Planes | None = None,
    method: PanZoomMethod = "taps",
) -> Planes:
    """Render one output frame per viewport of a still image, as one batch.

    Args:
        image: the still, a single 4:2:0 frame (planes without a leading dimension), on
            any device; the output is on the same device.
        viewports: N viewports (``pan_zoom_path`` makes them), each entirely inside the image.
        out_width, out_height: output frame size, even.
        out: optional (N, out_height, out_width) batch to write into (may be strided views).
        method: "taps" (default, the faster measured on CPU) or "matmul"; the same filter.

    Returns:
        A batch of N frames (planes with a leading dimension N); ``out`` when given.

    Raises:
        ValueError: an odd or non-positive output size, no viewports, a viewport reaching
            past the image (named in the message), a batched ``image``, a wrong ``out``.

    Example:
        >>> from kernels import new_planes
        >>> still = new_planes(width=400, height=300)
        >>> frames = pan_zoom(still, [Viewport(x=10.25, y=0, width=168.75, height=300)],
        ...     out_width=90, out_height=160)
        >>> frames.y.shape
        torch.Size([1, 160, 90])
    """
    _check_even_size("out_width", out_width)
    _check_even_size("out_height", out_height)
    if method not in PAN_ZOOM_METHODS:
        raise ValueError(f"Invalid method ({method!r}). Supported: {', '.join(PAN_ZOOM_METHODS)}.")
    if image.y.dim() != 2:
        raise ValueError(f"Invalid image shape ({tuple(image.y.shape)}). Supported: one frame, (H, W) planes.")
    height, width = image.height, image.width
    if width % 2 or height % 2 or image.u.shape != (height // 2, width // 2) or image.v.shape != image.u.shape:
        raise ValueError(f"Invalid image planes ({image!r}, u {tuple(image.u.shape)}). Supported: 4:2:0, even sizes.")
    viewports = list(viewports)
    if not viewports:
        raise ValueError("Invalid viewports (none). Supported: 1 or more.")
    for i, vp in enumerate(viewports):
        if not isinstance(vp, Viewport):
            raise ValueError(f"Invalid viewports[{i}] ({vp!r}). Supported: Viewport.")
        if not vp.inside(image_width=width, image_height=height):
            raise ValueError(
                f"Invalid viewports[{i}] ({vp}). Supported: inside the {width}x{height} image "
                f"(0 <= x, x + width <= {width}, 0 <= y, y + height <= {height})."
            )
    n = len(viewports)
    if out is None:
        out = Planes(
            torch.empty((n, out_height, out_width), dtype=torch.uint8, device=image.device),
            torch.empty((n, out_height // 2, out_width // 2), dtype=torch.uint8, device=image.device),
            torch.empty((n, out_height // 2, out_width // 2), dtype=torch.uint8, device=image.device),
        )
    else:
        want = [(n, out_height, out_width), *[(n, out_height // 2, out_width // 2)] * 2]
        if [tuple(p.shape) for p in out] != want or any(p.dtype != torch.uint8 for p in out):
            raise ValueError(
                f"Invalid out ({[tuple(p.shape) for p in out]}). Supported: uint8 planes of shapes {want}."
            )

    def f64(values: list[float]) -> torch.Tensor:
        # Tap positions in float64 on the CPU (a few KB): float32 would cost ~1e-4 px at x=4000,
        # and the crop bounds are read here without a device sync per frame.
        return torch.tensor(values, dtype=torch.float64)

    x0, y0 = f64([vp.x for vp in viewports]), f64([vp.y for vp in viewports])
    sx = f64([vp.width / out_width for vp in viewports])
    sy = f64([vp.height / out_height for vp in viewports])
    # Luma sample j: output coordinate j + 0.5 -> source sample (X - 0.5). Chroma sample j:
    # x at 2j + 0.5 -> (X - 0.5) / 2; y at 2i + 1 -> (Y - 1) / 2 ("left" siting, see top).
    luma = (
        _taps(y0, sy, count=out_height, first=0.5, stride=1, offset=0.5, sub=1, size=height),
        _taps(x0, sx, count=out_width, first=0.5, stride=1, offset=0.5, sub=1, size=width),
    )
    chroma = (
        _taps(y0, sy, count=out_height // 2, first=1.0, stride=2, offset=1.0, sub=2, size=height // 2),
        _taps(x0, sx, count=out_width // 2, first=0.5, stride=2, offset=0.5, sub=2, size=width // 2),
    )
    resample = _resample_taps if method == "taps" else _resample_matmul
    for plane, dst, ((ry, wy), (rx, wx)) in zip(image, out, (luma, chroma, chroma)):
        bounds = torch.stack([ry.amin((1, 2)), ry.amax((1, 2)) + 1, rx.amin((1, 2)), rx.amax((1, 2)) + 1], 1).tolist()
        ry, wy, rx, wx = (t.to(image.device, non_blocking=True) for t in (ry, wy, rx, wx))
        for i in range(n):
            values = resample(plane, bounds[i], ry[i], wy[i], rx[i], wx[i])
            dst[i].copy_(values.add_(0.5).floor_().clamp_(0, 255))  # round half up
    return out
