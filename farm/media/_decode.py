"""The decoder seam: what a video decoder backend provides, and which one this machine uses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from farm.media._frames import FittedFrame
from farm.media._probe import MediaInfo


class VideoDecoder(Protocol):
    """Decodes one input into frames fitted to a box's geometry.

    Backends differ in where the work runs: the CPU backend decodes with PyAV and scales
    in libswscale; a GPU backend decodes on NVDEC and fits with ``kernels.fit_frame`` on
    CUDA. Either yields :class:`FittedFrame` in presentation order, with ``time_s``
    relative to the file's origin (``MediaInfo.start_s``).
    """

    name: str

    def frames(
        self, info: MediaInfo, *, box_width: int, box_height: int, fit: str
    ) -> Iterator[FittedFrame]: ...


def choose_decoder(name: str = "auto", *, threads: int = 0) -> VideoDecoder:
    """The decoder backend for this machine: ``auto`` and ``cpu`` give PyAV on the CPU.

    The NVDEC backend arrives with the GPU path; until then every machine decodes on
    the CPU, which handles every codec FFmpeg reads.
    """
    from farm.media._cpu_decode import CpuVideoDecoder

    if name in ("auto", "cpu"):
        return CpuVideoDecoder(threads=threads)
    from farm.errors import InputError

    raise InputError(f"Invalid decoder ({name!r}). Supported: auto, cpu.")
