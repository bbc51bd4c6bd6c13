"""The muxer: any encoder's H.264 packets plus the AAC soundtrack, into a faststart MP4, atomically."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from farm.errors import InputError, RenderError
from farm.media._audio import SAMPLE_RATE
from farm.media._files import commit_file, temp_path_for

AAC_BITRATE = 160_000


class Mp4Muxer:
    """Writes H.264 video packets and AAC audio into ``output`` through a temp file.

    Video comes as ``av.Packet`` objects from a :class:`farm.media.VideoEncoder`, or as a
    raw H.264 elementary stream (Annex B, one access unit per call, parameter sets in-band
    on keyframes: what NVENC hands over) through :meth:`write_bitstream`. The video track
    is described from its first packet, so no encoder has to say more than its packets.
    Audio is (2, n) float32 at 48 kHz, encoded here; it waits for the video track to
    exist before anything is written.

    ``commit()`` closes the file (faststart moves the index to the front), fsyncs it and
    renames it into place; ``abort()`` removes the temp file. Nothing is ever left
    half-written under the final name.
    """

    def __init__(self, output: str | os.PathLike, *, fps: int) -> None:
        self.output = Path(output)
        self.fps = fps
        if self.output.is_dir():
            raise InputError(f"{self.output}: output is a directory")
        parent = self.output.parent
        if not parent.exists():
            raise InputError(f"{self.output}: output folder {parent} does not exist")
        self.temp = temp_path_for(self.output)
        try:
            self._container = av.open(os.fspath(self.temp), "w", format="mp4", options={"movflags": "+faststart"})
        except (av.error.FFmpegError, OSError) as err:
            raise InputError(f"{self.output}: cannot write here ({getattr(err, 'strerror', None) or err})") from None
        self._astream = None
        self._vstream = None
        self._time_base = Fraction(1, fps)
        self._audio_samples = 0
        self._held_audio: list[np.ndarray] = []

    # -- video --------------------------------------------------------------------------
    def write_video(self, packets: Iterable[av.Packet]) -> None:
        """Mux encoded H.264 packets (with pts, dts and time_base)."""
        for p in packets:
            if self._vstream is None:
                self._open_video(bytes(p))
            p.stream = self._vstream
            self._mux([p])

    def write_bitstream(self, data: bytes, *, pts: int, dts: int | None = None, keyframe: bool = False) -> None:
        """Mux one access unit of a raw H.264 elementary stream; ``pts``/``dts`` count frames
        (``dts`` defaults to ``pts``: right for streams without B-frames, as NVENC is set up)."""
        packet = av.Packet(data)
        packet.pts = pts
        packet.dts = pts if dts is None else dts
        packet.duration = 1
        packet.time_base = self._time_base
        if keyframe:
            packet.is_keyframe = True
        self.write_video([packet])

    def _open_video(self, first: bytes) -> None:
        # The track's parameters (size, profile, SPS/PPS) are read off the first access
        # unit, whatever encoder made it: FFmpeg's H.264 parser does the reading.
        try:
            with av.open(io.BytesIO(first), format="h264") as probe:
                template = probe.streams.video[0]
                if not (template.codec_context.width and template.codec_context.height):
                    raise IndexError("no picture size in it")
                self._vstream = self._container.add_stream_from_template(template)
        except (av.error.FFmpegError, IndexError) as err:
            raise RenderError(f"{self.output}: the encoder's first packet is not H.264 ({err})") from None
        self._vstream.time_base = self._time_base
        # audio second, as players and the rest of the farm's files have it: track 1
        a = self._container.add_stream("aac", rate=SAMPLE_RATE)
        a.layout = "stereo"
        a.format = "fltp"
        a.bit_rate = AAC_BITRATE
        self._astream = a
        held, self._held_audio = self._held_audio, []
        for samples in held:
            self._encode_audio(samples)

    # -- audio --------------------------------------------------------------------------
    def write_audio(self, samples: np.ndarray) -> None:
        """Append (2, n) float32 samples at 48 kHz."""
        if samples.shape[1] == 0:
            return
        if self._astream is None:
            self._held_audio.append(np.array(samples, dtype=np.float32, copy=True))
            return
        self._encode_audio(samples)

    def _encode_audio(self, samples: np.ndarray) -> None:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, dtype=np.float32), format="fltp", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._audio_samples
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self._audio_samples += samples.shape[1]
        self._mux(self._astream.encode(frame))

    # -- the file -----------------------------------------------------------------------
    def _mux(self, packets) -> None:
        try:
            self._container.mux(packets)
        except av.error.FFmpegError as err:
            raise RenderError(f"{self.output}: muxing failed ({err})") from None

    def commit(self) -> Path:
        """Finish the file and move it into place; returns the output path."""
        try:
            if self._vstream is None or self._astream is None:
                raise RenderError(f"{self.output}: no video was encoded")
            self._mux(self._astream.encode(None))
            self._container.close()
        except BaseException:
            self.abort()
            raise
        try:
            commit_file(self.temp, self.output)
        except OSError as err:
            self.abort()
            raise RenderError(f"{self.output}: cannot move the finished file into place ({err})") from None
        return self.output

    def abort(self) -> None:
        """Drop the temp file (nothing ever appeared under the output's name)."""
        try:
            self._container.close()
        except Exception:
            pass
        try:
            self.temp.unlink()
        except FileNotFoundError:
            pass
