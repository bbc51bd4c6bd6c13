"""Probing media files: what streams they hold, how long they run, and whether they decode."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import av

from farm.errors import InputError
from kernels import SourceColour


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds, as the render pipeline needs to know it.

    ``width`` and ``height`` are the *display* size (after the rotation a phone
    recorded in the display matrix); ``rotation_deg`` is that rotation, counter-clockwise.
    ``start_s`` is the video stream's first timestamp, the file's origin for A/V sync.
    ``colour`` says how its code values are read (matrix, range, depth, HDR), and
    ``source_colour`` is the same for the kernels (None for RGB sources); ``alpha`` says
    the pictures carry transparency. ``still`` is true for a single picture (a PNG, a
    JPEG, a one-frame GIF), false for anything that moves (an animated GIF is a video).
    """

    path: str
    duration_s: float
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    coded_width: int = 0
    coded_height: int = 0
    rotation_deg: int = 0
    fps: float = 0.0
    start_s: float = 0.0
    video_codec: str = ""
    pix_fmt: str = ""
    colour: str = ""
    still: bool = False
    source_colour: SourceColour | None = None
    alpha: bool = False
    audio_codec: str = ""
    sample_rate: int = 0
    channels: int = 0

    def __repr__(self) -> str:
        kind = f"{self.width}x{self.height}@{self.fps:.3g} {self.video_codec}" if self.has_video else "audio"
        return f"MediaInfo({Path(self.path).name!r}, {kind}, {self.duration_s:.2f}s)"


def input_error(path: str | os.PathLike, problem: str) -> InputError:
    """The one-line error for a bad input: the file's name, then what is wrong."""
    return InputError(f"{os.fspath(path)}: {problem}")


def describe_av_error(err: Exception) -> str:
    """A short human reason for a PyAV/FFmpeg error."""
    if isinstance(err, av.error.InvalidDataError):
        return "not a media file FFmpeg can read (invalid data)"
    if isinstance(err, av.error.PermissionError):
        return "permission denied"
    if isinstance(err, av.error.IsADirectoryError):
        return "is a directory, not a media file"
    reason = getattr(err, "strerror", None) or str(err)
    return f"cannot be read ({reason})"


def open_input(path: str | os.PathLike) -> av.container.InputContainer:
    """Open ``path`` for reading, mapping every failure to an :class:`InputError`."""
    p = Path(path)
    if not p.exists():
        raise input_error(path, "file not found")
    if p.is_dir():
        raise input_error(path, "is a directory, not a media file")
    if p.stat().st_size == 0:
        raise input_error(path, "empty file (0 bytes)")
    try:
        return av.open(os.fspath(p), metadata_errors="ignore")
    except av.error.FFmpegError as err:
        raise input_error(path, describe_av_error(err)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise input_error(path, f"cannot be read ({err})") from None


_DEFAULT = av.stream.Disposition.default
_ATTACHED_PIC = av.stream.Disposition.attached_pic
# Codecs that also store single pictures: one decoded frame makes such a file a still.
IMAGE_CODECS = frozenset({"png", "apng", "mjpeg", "jpeg2000", "webp", "bmp", "tiff", "gif", "jpegls", "qoi"})


def _pick(streams) -> av.stream.Stream | None:
    """The stream a player would show: the one flagged default, else the first."""
    for s in streams:
        if s.disposition & _DEFAULT:
            return s
    return streams[0] if streams else None


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    """The video stream to use: cover art (an MP3's picture) is not video."""
    return _pick([s for s in container.streams.video if not s.disposition & _ATTACHED_PIC])


def audio_stream(container: av.container.InputContainer) -> av.audio.stream.AudioStream | None:
    """The audio stream to use."""
    return _pick(list(container.streams.audio))


def _duration_s(container: av.container.InputContainer, stream: av.stream.Stream | None) -> float:
    if stream is not None and stream.duration is not None and stream.time_base is not None:
        d = float(stream.duration * stream.time_base)
        if d > 0:
            return d
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000
    return 0.0


def probe(path: str | os.PathLike, *, need_video: bool = False, need_audio: bool = False) -> MediaInfo:
    """Probe ``path`` and decode its first video frame (or audio frame) to prove it reads.

    Raises :class:`InputError` naming the file when it is missing, empty, not media,
    lacks a stream that was asked for, or does not decode.
    """
    with open_input(path) as container:
        vstream = video_stream(container)
        astream = audio_stream(container)
        if need_video and vstream is None:
            what = "audio only" if astream is not None else "no streams FFmpeg can decode"
            raise input_error(path, f"has no video stream ({what})")
        if need_audio and astream is None:
            raise input_error(path, "has no audio stream")
        if vstream is None and astream is None:
            raise input_error(path, "has no audio or video stream")
        info: dict = {"path": os.fspath(path), "has_video": vstream is not None, "has_audio": astream is not None}
        if astream is not None:
            info["audio_codec"] = astream.codec_context.name
            info["sample_rate"] = int(astream.codec_context.sample_rate or 0)
            info["channels"] = int(astream.codec_context.channels or 0)
        if vstream is not None:
            from farm.media._color import declared_tags

            declared = declared_tags(vstream)
            first, second = _first_frames(container, vstream, path)
            rotation = int(round(first.rotation or 0)) % 360
            if rotation > 180:
                rotation -= 360
            cw, ch = first.width, first.height
            w, h = (ch, cw) if abs(rotation) == 90 else (cw, ch)
            rate = vstream.average_rate or vstream.guessed_rate or vstream.base_rate
            start = vstream.start_time
            info.update(
                duration_s=_duration_s(container, vstream),
                width=w,
                height=h,
                coded_width=cw,
                coded_height=ch,
                rotation_deg=rotation,
                fps=float(rate) if rate else 0.0,
                start_s=float(start * vstream.time_base) if start is not None else float(first.time or 0.0),
                video_codec=vstream.codec_context.name,
                pix_fmt=first.format.name,
                **_colour_fields(first, declared, path),
                still=second is None and vstream.codec_context.name in IMAGE_CODECS,
            )
        else:
            _first_audio(container, astream, path)
            info["duration_s"] = _duration_s(container, astream)
    if info["duration_s"] <= 0:
        info["duration_s"] = _measure_duration(path, video=vstream is not None)
    if info["duration_s"] <= 0:
        raise input_error(path, "has no duration (no frames)")
    return MediaInfo(**info)


def _first_frames(container, stream, path) -> tuple[av.VideoFrame, av.VideoFrame | None]:
    """The first frame, and for picture codecs the second (None: a still; the first again
    when the second exists but does not decode)."""
    first = None
    try:
        for frame in container.decode(stream):
            if first is not None:
                return first, frame
            first = frame
            if stream.codec_context.name not in IMAGE_CODECS:
                return first, None
    except av.error.FFmpegError as err:
        if first is not None:
            # a second packet that fails to decode is still a second frame: not a still
            return first, first
        raise input_error(path, f"video does not decode ({describe_av_error(err)})") from None
    if first is None:
        raise input_error(path, "video stream has no frames (empty or truncated)")
    return first, None


def _colour_fields(frame: av.VideoFrame, declared: dict[str, int | str], path) -> dict:
    from farm.media._color import UnsupportedColour, frame_kind

    try:
        kind = frame_kind(frame, declared)
    except UnsupportedColour as err:
        raise input_error(path, str(err)) from None
    if kind.family == "rgb":
        return {"colour": "RGB with alpha" if kind.alpha else "RGB", "alpha": kind.alpha}
    bits = max((c.bits for c in frame.format.components), default=8)
    source = dataclasses.replace(kind.colour, bits=bits)
    return {"colour": source.describe() + (" with alpha" if kind.alpha else ""), "source_colour": source,
            "alpha": kind.alpha}


def _first_audio(container, stream, path) -> None:
    try:
        for _ in container.decode(stream):
            return
    except av.error.FFmpegError as err:
        raise input_error(path, f"audio does not decode ({describe_av_error(err)})") from None
    raise input_error(path, "audio stream has no samples (empty or truncated)")


def _measure_duration(path, *, video: bool) -> float:
    """Duration by demuxing every packet, for files whose headers do not say."""
    end = 0.0
    with open_input(path) as container:
        stream = video_stream(container) if video else audio_stream(container)
        try:
            for packet in container.demux(stream):
                if packet.pts is None or packet.time_base is None:
                    continue
                t = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                end = max(end, t)
        except av.error.FFmpegError:
            pass
    return end
