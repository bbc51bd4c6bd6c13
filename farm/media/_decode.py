"""The decoder seam: what a video decoder backend provides, and which one this machine uses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from farm.media._frames import FittedFrame
from farm.media._probe import MediaInfo
from farm.settings import DECODERS


class VideoDecoder(Protocol):
    """Decodes one input into frames fitted to a box's geometry.

    Backends differ in where the work runs: the CPU backend decodes with PyAV and scales
    in libswscale; the GPU backend decodes on NVDEC and fits with ``kernels.fit_parts``
    on CUDA. Either yields :class:`FittedFrame` in presentation order, with ``time_s``
    relative to the file's origin (``MediaInfo.start_s``). ``device`` says where the
    frames are ("cpu" or "cuda:N"), and ``on_device`` whether they are tensors to compose
    there (else AVFrames the CPU encoder's canvases take); ``notes`` what the backend had
    to do otherwise (an input decoded on the CPU, and why).
    """

    name: str
    device: str
    on_device: bool
    notes: list[str]

    def frames(
        self, info: MediaInfo, *, box_width: int, box_height: int, fit: str
    ) -> Iterator[FittedFrame]: ...


def choose_decoder(name: str = "auto", *, threads: int = 0) -> VideoDecoder:
    """The decoder backend: ``cpu`` is PyAV on the CPU (every codec FFmpeg reads); ``gpu``
    puts frames on the GPU, decoded on NVDEC where it can take them (else on the CPU and
    uploaded); ``auto`` is ``gpu`` where torch sees CUDA and PyNvVideoCodec loads, else
    ``cpu``."""
    from farm.errors import InputError, UnavailableError
    from farm.media._cpu_decode import CpuVideoDecoder

    if name not in DECODERS:
        raise InputError(f"Invalid decoder ({name!r}). Supported: {', '.join(DECODERS)}.")
    cpu = CpuVideoDecoder(threads=threads)
    if name == "cpu":
        return cpu
    from farm.media._gpu import GpuVideoDecoder, cuda_ready, nvidia_codec

    ok, why = cuda_ready()
    if name == "gpu":
        if not ok:
            raise UnavailableError(f"--decoder gpu: {why}; use --decoder cpu or auto")
        return GpuVideoDecoder(cpu=cpu)
    if not ok:
        return cpu
    try:
        nvidia_codec()
    except UnavailableError:
        return cpu
    return GpuVideoDecoder(cpu=cpu)
