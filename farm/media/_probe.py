"""Probing media files: what streams they hold, how long they run, and whether they decode."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av

from farm.errors import InputError


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds, as the render pipeline needs to know it.

    ``width`` and ``height`` are the *display* size (after the rotation a phone
    recorded in the display matrix); ``rotation_deg`` is that rotation, counter-clockwise.
    ``start_s`` is the video stream's first timestamp, the file's origin for A/V sync.
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
        vstream = container.streams.video[0] if container.streams.video else None
        astream = container.streams.audio[0] if container.streams.audio else None
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
            first = _first_frame(container, vstream, path)
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
            )
            if w < 2 or h < 2:
                raise input_error(path, f"video is {w}x{h}, too small to use")
        else:
            _first_audio(container, astream, path)
            info["duration_s"] = _duration_s(container, astream)
    if info["duration_s"] <= 0:
        info["duration_s"] = _measure_duration(path, video=vstream is not None)
    if info["duration_s"] <= 0:
        raise input_error(path, "has no duration (no frames)")
    return MediaInfo(**info)


def _first_frame(container, stream, path) -> av.VideoFrame:
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError as err:
        raise input_error(path, f"video does not decode ({describe_av_error(err)})") from None
    raise input_error(path, "video stream has no frames (empty or truncated)")


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
        stream = container.streams.video[0] if video else container.streams.audio[0]
        try:
            for packet in container.demux(stream):
                if packet.pts is None or packet.time_base is None:
                    continue
                t = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                end = max(end, t)
        except av.error.FFmpegError:
            pass
    return end
