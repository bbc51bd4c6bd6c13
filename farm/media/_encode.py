"""Encoding and muxing with PyAV: H.264 + AAC into a faststart MP4, written atomically."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from farm.errors import InputError, RenderError, UnavailableError
from farm.media._audio import SAMPLE_RATE
from farm.media._frames import yuv420_views

AAC_BITRATE = 160_000
CANVAS_RING = 4
X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo",
)  # fmt: skip

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
    the only test is opening a session. The answer is cached for the process.
    """
    global _nvenc_probe
    if _nvenc_probe is None:
        try:
            ctx = av.CodecContext.create("h264_nvenc", "w")
            ctx.width, ctx.height, ctx.pix_fmt = 256, 256, "yuv420p"
            ctx.time_base = Fraction(1, 30)
            ctx.open()
            _nvenc_probe = (True, "an NVENC session opened")
        except av.error.FFmpegError as err:
            _nvenc_probe = (False, f"no NVENC session could be opened ({err.strerror or err})")
        except Exception as err:  # a missing codec raises outside FFmpegError
            _nvenc_probe = (False, f"h264_nvenc is not usable here ({err})")
    return _nvenc_probe


def choose_encoder(name: str, *, preset: str, crf: int) -> EncoderConfig:
    """The encoder for ``--encoder`` auto|libx264|nvenc on this machine."""
    if not 0 <= crf <= 51:
        raise InputError(f"Invalid crf ({crf}). Supported: 0 to 51.")
    if name == "libx264":
        return libx264_config(preset=preset, crf=crf)
    if name == "nvenc":
        ok, why = probe_nvenc()
        if not ok:
            raise UnavailableError(f"--encoder nvenc: {why}; use --encoder libx264 or auto")
        return nvenc_config(preset=preset, crf=crf)
    if name == "auto":
        libx264_config(preset=preset, crf=crf)  # validates the preset either way
        ok, _ = probe_nvenc()
        return nvenc_config(preset=preset, crf=crf) if ok else libx264_config(preset=preset, crf=crf)
    raise InputError(f"Invalid encoder ({name!r}). Supported: auto, libx264, nvenc.")


def temp_path_for(output: Path) -> Path:
    """A hidden temp name beside ``output``, so the final rename stays on one filesystem."""
    return output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.part")


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Mp4Writer:
    """Writes H.264 video and AAC audio into ``output`` through a temp file.

    ``commit()`` closes the file (faststart moves the index to the front), fsyncs it and
    renames it into place; ``abort()`` removes the temp file. Nothing is ever left
    half-written under the final name.
    """

    def __init__(self, output: str | os.PathLike, *, width: int, height: int, fps: int, encoder: EncoderConfig):
        self.output = Path(output)
        self.width, self.height, self.fps = width, height, fps
        self.encoder = encoder
        if self.output.is_dir():
            raise InputError(f"{self.output}: output is a directory")
        parent = self.output.parent
        if not parent.exists():
            raise InputError(f"{self.output}: output folder {parent} does not exist")
        self.temp = temp_path_for(self.output)
        try:
            self._container = av.open(
                os.fspath(self.temp), "w", format="mp4", options={"movflags": "+faststart"}
            )
        except (av.error.FFmpegError, OSError) as err:
            raise InputError(f"{self.output}: cannot write here ({getattr(err, 'strerror', None) or err})") from None
        try:
            self._setup_streams()
        except BaseException:
            self.abort()
            raise
        self._video_frames = 0
        self._audio_samples = 0
        self._ring: list = []

    def _setup_streams(self) -> None:
        vs = self._container.add_stream(self.encoder.codec, rate=self.fps, options=dict(self.encoder.options))
        vs.width, vs.height, vs.pix_fmt = self.width, self.height, "yuv420p"
        vs.time_base = Fraction(1, self.fps)
        vs.thread_type = "AUTO"
        cc = vs.codec_context
        cc.color_primaries = _BT709
        cc.color_trc = _BT709
        cc.colorspace = _BT709
        cc.color_range = _RANGE_TV
        self._vstream = vs
        a = self._container.add_stream("aac", rate=SAMPLE_RATE)
        a.layout = "stereo"
        a.format = "fltp"
        a.bit_rate = AAC_BITRATE
        self._astream = a

    def new_canvas(self):
        """An output frame and writable tensor views of its planes.

        Frames come from a small ring: the H.264 encoders copy a frame's pixels before
        ``encode`` returns, so a frame can be painted again a few frames later. Reusing
        warm buffers saves a 3 MB allocation and its page faults on every frame.
        """
        slot = self._video_frames % CANVAS_RING
        if len(self._ring) <= slot:
            frame = av.VideoFrame(self.width, self.height, "yuv420p")
            self._ring.append((frame, yuv420_views(frame)))
        return self._ring[slot]

    def write_video(self, frame: av.VideoFrame) -> None:
        frame.pts = self._video_frames
        frame.time_base = Fraction(1, self.fps)
        frame.color_range = _RANGE_TV
        frame.colorspace = _BT709
        self._video_frames += 1
        self._mux(self._vstream.encode(frame))

    def write_audio(self, samples: np.ndarray) -> None:
        """Append (2, n) float32 samples at 48 kHz."""
        if samples.shape[1] == 0:
            return
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, dtype=np.float32), format="fltp", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._audio_samples
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self._audio_samples += samples.shape[1]
        self._mux(self._astream.encode(frame))

    def _mux(self, packets) -> None:
        try:
            self._container.mux(packets)
        except av.error.FFmpegError as err:
            raise RenderError(f"{self.output}: muxing failed ({err})") from None

    def commit(self) -> Path:
        try:
            self._mux(self._vstream.encode(None))
            self._mux(self._astream.encode(None))
            self._container.close()
        except BaseException:
            self.abort()
            raise
        try:
            with open(self.temp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(self.temp, self.output)
        except OSError as err:
            self.abort()
            raise RenderError(f"{self.output}: cannot move the finished file into place ({err})") from None
        fsync_dir(self.output.parent)
        return self.output

    def abort(self) -> None:
        try:
            self._container.close()
        except Exception:
            pass
        try:
            self.temp.unlink()
        except FileNotFoundError:
            pass


