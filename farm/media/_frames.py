"""Frame hand-off between decoder backends, the kernels and encoders; AVFrame -> torch views.

torch is imported inside the functions: a CPU decoder hands over plain AVFrames, so
decoding can start while torch is still loading.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import av
import numpy as np

if TYPE_CHECKING:
    import torch

    from kernels import Planes


class FittedFrame(NamedTuple):
    """A decoded source frame already fitted to its box's geometry.

    ``time_s`` is relative to the file's origin. ``picture`` is the scaled picture (box
    size for cover, the scaled size for contain and blur); ``background`` is the small
    cover-fitted frame a blur background is made from (blur only). Each is either an 8-bit
    BT.709 yuv420p ``av.VideoFrame`` (the CPU decoder's untouched pass-through) or
    :class:`kernels.Planes` (converted input, or a GPU decoder's); :func:`as_planes` gives
    tensors either way.
    """

    time_s: float
    picture: Any
    background: Any = None

    def __repr__(self) -> str:
        return f"FittedFrame(t={self.time_s:.3f}s, {self.picture.width}x{self.picture.height})"


def plane_view(
    frame: av.VideoFrame, index: int, *, width: int, height: int, bytes_per_sample: int = 1, channels: int = 1
) -> "torch.Tensor":
    """A zero-copy tensor over plane ``index`` of ``frame``: (height, width) for planar
    formats, (height, width, channels) for packed ones; uint8, or int16 for 9-16 bit samples.

    AVFrame rows are padded to ``line_size``; the view strides over the padding.
    """
    import torch

    plane = frame.planes[index]
    flat = np.frombuffer(plane, dtype=np.uint8)
    rows = flat[: plane.line_size * height].reshape(height, plane.line_size)
    rows = rows[:, : width * channels * bytes_per_sample]
    if bytes_per_sample == 2:
        rows = rows.view("<i2")  # 10-bit values fit in int16, which torch handles everywhere
    if channels > 1:
        rows = rows.reshape(height, width, channels)
    return torch.from_numpy(rows)


def yuv420_views(frame: av.VideoFrame) -> "Planes":
    """Zero-copy :class:`kernels.Planes` over an 8-bit yuv420p AVFrame."""
    from kernels import Planes

    if frame.format.name != "yuv420p":
        raise ValueError(f"expected a yuv420p frame, got {frame.format.name}")
    w, h = frame.width, frame.height
    return Planes(
        plane_view(frame, 0, width=w, height=h),
        plane_view(frame, 1, width=w // 2, height=h // 2),
        plane_view(frame, 2, width=w // 2, height=h // 2),
    )


def as_planes(picture: Any) -> "Planes":
    """Tensor planes of a decoder's picture, whichever backend made it."""
    if isinstance(picture, av.VideoFrame):
        return yuv420_views(picture)
    return picture
