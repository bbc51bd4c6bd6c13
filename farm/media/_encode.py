"""The encoder seam: what a video encoder provides, and H.264 through PyAV (libx264, h264_nvenc).

An encoder takes canvases and hands back H.264 packets (Annex B, parameter sets in-band
on keyframes); it knows nothing of files. :class:`farm.media.Mp4Muxer` writes the packets
of any encoder, a GPU encoder's raw bitstream included, into the MP4.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol

import av

from farm.errors import InputError, RenderError, UnavailableError
from farm.media._frames import yuv420_views
from farm.settings import X264_PRESETS

if TYPE_CHECKING:
    from kernels import Planes

CANVAS_RING = 4
# AVColorPrimaries / AVColorTransferCharacteristic / AVColorSpace value for BT.709, and
# AVCOL_RANGE_MPEG (limited range).
_BT709 = 1
_RANGE_TV = 1


@dataclass(frozen=True)
class EncoderConfig:
    """Which H.264 encoder writes the video and with what options."""

    name: str  # "libx264" or "nvenc"
    codec: str  # the FFmpeg encoder: "libx264", "h264_nvenc"
    options: dict[str, str] = field(default_factory=dict)


def libx264_config(*, preset: str, crf: int) -> EncoderConfig:
    if preset not in X264_PRESETS:
        raise InputError(f"Invalid preset ({preset!r}). Supported: {', '.join(X264_PRESETS)}.")
    return EncoderConfig("libx264", "libx264", {"preset": preset, "crf": str(crf)})


_NVENC_PRESETS = {  # x264 preset names mapped to NVENC's p1 (fastest) .. p7 (best)
    "ultrafast": "p1", "superfast": "p2", "veryfast": "p3", "faster": "p3", "fast": "p4",
    "medium": "p4", "slow": "p5", "slower": "p6", "veryslow": "p7", "placebo": "p7",
}  # fmt: skip


def nvenc_config(*, preset: str, crf: int) -> EncoderConfig:
    return EncoderConfig(
        "nvenc", "h264_nvenc", {"preset": _NVENC_PRESETS.get(preset, "p4"), "rc": "vbr", "cq": str(crf), "b": "0"}
    )


_nvenc_probe: tuple[bool, str] | None = None


def probe_nvenc() -> tuple[bool, str]:
    """Whether an NVENC session opens on this machine, and why not when it does not.

    H100, H200 and A100 have NVDEC but no NVENC, so a CUDA GPU alone proves nothing:
    the only test is opening a session. It is opened in a child process (a failed session
    can leave the CUDA state of the process that tried broken); the answer is cached for
    the process.
    """
    global _nvenc_probe
    if _nvenc_probe is None:
        try:
            av.codec.Codec("h264_nvenc", "w")
        except Exception as err:  # this PyAV build has no NVENC encoder at all
            _nvenc_probe = (False, f"h264_nvenc is not usable here ({err})")
            return _nvenc_probe
        from farm.media._probe_child import probe_in_child

        _nvenc_probe = probe_in_child("nvenc_pyav", 0)
    return _nvenc_probe


def open_nvenc_pyav_session() -> tuple[bool, str]:
    """Open one h264_nvenc session here (the child's side of :func:`probe_nvenc`)."""
    try:
        ctx = av.CodecContext.create("h264_nvenc", "w")
        ctx.width, ctx.height, ctx.pix_fmt = 256, 256, "yuv420p"
        ctx.time_base = Fraction(1, 30)
        ctx.open()
        return True, "an NVENC session opened"
    except av.error.FFmpegError as err:
        return False, f"no NVENC session could be opened ({err.strerror or err})"
    except Exception as err:  # a missing codec raises outside FFmpegError
        return False, f"h264_nvenc is not usable here ({err})"


def choose_encoder(name: str, *, preset: str, crf: int, device: str = "cpu") -> EncoderConfig:
    """The encoder for ``--encoder`` auto|libx264|nvenc on this machine; ``device`` is where
    the canvases are ("cuda": NVENC is probed through PyNvVideoCodec, which takes them)."""
    if not 0 <= crf <= 51:
        raise InputError(f"Invalid crf ({crf}). Supported: 0 to 51.")
    if name not in ("auto", "libx264", "nvenc"):
        raise InputError(f"Invalid encoder ({name!r}). Supported: auto, libx264, nvenc.")
    x264 = libx264_config(preset=preset, crf=crf)  # validates the preset either way
    if name == "libx264":
        return x264
    if str(device).startswith("cuda"):
        from farm.media._gpu import probe_nvenc_gpu

        ok, why = probe_nvenc_gpu()
    else:
        ok, why = probe_nvenc()
    if name == "nvenc" and not ok:
        raise UnavailableError(f"--encoder nvenc: {why}; use --encoder libx264 or auto")
    return nvenc_config(preset=preset, crf=crf) if ok else x264


class VideoEncoder(Protocol):
    """Encodes canvases to H.264 packets.

    ``new_canvas()`` gives a frame the encoder can take and writable :class:`kernels.Planes`
    views of it (a CPU encoder's AVFrame; a GPU encoder's device buffer); ``encode`` and
    ``flush`` return ``av.Packet`` objects in decode order with ``pts``, ``dts`` and
    ``time_base`` set.
    """

    name: str

    def new_canvas(self) -> tuple[Any, "Planes"]: ...

    def encode(self, canvas: Any) -> Iterable[av.Packet]: ...

    def flush(self) -> Iterable[av.Packet]: ...

    def close(self) -> None: ...


class PyAVEncoder:
    """H.264 through FFmpeg's encoders in PyAV: libx264 on the CPU, or h264_nvenc.

    Canvases come from a small ring of yuv420p AVFrames: the encoders copy a frame's
    pixels before ``encode`` returns, so a frame can be painted again a few frames later,
    and reusing warm buffers saves a 3 MB allocation and its page faults per frame.
    """

    def __init__(self, config: EncoderConfig, *, width: int, height: int, fps: int) -> None:
        self.name = config.name
        self.width, self.height, self.fps = width, height, fps
        ctx = av.CodecContext.create(config.codec, "w")
        ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
        ctx.time_base = Fraction(1, fps)
        ctx.framerate = Fraction(fps, 1)
        ctx.thread_type = "AUTO"
        ctx.color_primaries = ctx.color_trc = ctx.colorspace = _BT709
        ctx.color_range = _RANGE_TV
        ctx.options = dict(config.options)
        try:
            ctx.open()
        except av.error.FFmpegError as err:
            raise RenderError(f"{config.codec}: cannot open the encoder ({err.strerror or err})") from None
        self._ctx = ctx
        self._frames = 0
        self._ring: list = []

    def new_canvas(self) -> tuple[av.VideoFrame, "Planes"]:
        slot = self._frames % CANVAS_RING
        if len(self._ring) <= slot:
            frame = av.VideoFrame(self.width, self.height, "yuv420p")
            self._ring.append((frame, yuv420_views(frame)))
        return self._ring[slot]

    def encode(self, canvas: av.VideoFrame) -> list[av.Packet]:
        canvas.pts = self._frames
        canvas.time_base = self._ctx.time_base
        canvas.color_range = _RANGE_TV
        canvas.colorspace = _BT709
        self._frames += 1
        return self._stamp(self._ctx.encode(canvas))

    def flush(self) -> list[av.Packet]:
        return self._stamp(self._ctx.encode(None))

    def _stamp(self, packets: list[av.Packet]) -> list[av.Packet]:
        for p in packets:
            if p.time_base is None:
                p.time_base = self._ctx.time_base
            if not p.duration:
                p.duration = 1
        return packets

    def close(self) -> None:
        self._ctx = None
        self._ring.clear()


def open_encoder(config: EncoderConfig, *, width: int, height: int, fps: int, device: str | None = None,
                 preset: str = "veryfast", crf: int = 23) -> VideoEncoder:
    """The encoder ``config`` names. With no ``device`` the canvases are the encoder's own
    AVFrames (PyAV's libx264 or h264_nvenc); with one, they are tensors there: NVENC through
    PyNvVideoCodec on a CUDA device, else libx264 fed through a ring of (pinned) host
    buffers."""
    if device is None:
        return PyAVEncoder(config, width=width, height=height, fps=fps)
    from farm.media._gpu import HostRingEncoder, NvencEncoder

    if config.name == "nvenc" and str(device).startswith("cuda"):
        return NvencEncoder(config, width=width, height=height, fps=fps, device=device, preset=preset, crf=crf)
    return HostRingEncoder(PyAVEncoder(config, width=width, height=height, fps=fps), device=device)
