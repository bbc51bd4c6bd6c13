"""Pre-upload checks: what a rendered video is, and whether a platform's published limits take it."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Literal

from farm.errors import InputError, PolicyError
from farm.media import audio_stream, open_input, probe, video_stream
from farm.platforms import AccountInfo, PlatformSpec, platform
from farm.records import JsonRecord


@dataclass(frozen=True)
class VideoFacts(JsonRecord):
    """What the platforms judge a video file by.

    ``container`` is one FFmpeg format name ("mp4", "mov", "webm", "matroska", ...), not the
    demuxer's family list; ``video_codec`` and ``audio_codec`` are FFmpeg's codec names
    ("h264", "hevc", "vp9", "aac"), whichever decoder read them; ``audio_codec`` is None for a
    silent file. ``width`` and ``height`` are the display size, after the rotation a phone
    recorded. ``notes`` are remarks that do not stop the upload (YouTube: "not a Short").
    """

    container: str
    video_codec: str
    audio_codec: str | None
    width: int
    height: int
    duration_s: float
    fps: float
    size_bytes: int
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.notes, (list, str)):
            object.__setattr__(self, "notes", tuple([self.notes] if isinstance(self.notes, str) else self.notes))
        if self.width <= 0 or self.height <= 0:
            raise InputError(f"VideoFacts: size must be positive, not {self.width}x{self.height}")
        if self.duration_s <= 0 or self.fps < 0 or self.size_bytes < 0:
            raise InputError(f"VideoFacts: bad duration_s={self.duration_s}, fps={self.fps} or "
                             f"size_bytes={self.size_bytes}")

    @property
    def orientation(self) -> Literal["vertical", "square", "horizontal"]:
        return "vertical" if self.height > self.width else "square" if self.height == self.width else "horizontal"

    def __repr__(self) -> str:
        audio = f"+{self.audio_codec}" if self.audio_codec else ""
        notes = f", {len(self.notes)} note(s)" if self.notes else ""
        return (f"VideoFacts({self.container} {self.video_codec}{audio} {self.width}x{self.height}"
                f"@{self.fps:.3g} {self.duration_s:.2f}s {self.size_bytes} B{notes})")


# 23.976 (NTSC film) counts as 24 and 59.94 as 60: the platforms list the nominal rates.
_FPS_SLACK = 0.05
# Durations compare at millisecond precision, so 90.0004 s from timestamp rounding is 90 s.
_DURATION_DIGITS = 3


def video_facts(path: str | os.PathLike) -> VideoFacts:
    """The facts of the video at ``path``, as :func:`check_upload` judges them.

    The file is probed as the farm probes every input (its first frame must decode), so a
    missing, empty, non-media or video-less file raises :class:`InputError` naming it.

    Example::

        facts = video_facts("out/job-7.mp4")
        facts.container, facts.video_codec, facts.width, facts.height  # ("mp4", "h264", 1080, 1920)
    """
    info = probe(path, need_video=True)
    with open_input(path) as container:
        vstream = video_stream(container)
        astream = audio_stream(container)
        fmt = container_format(container.format.name, path, brand=container.metadata.get("major_brand"))
        # the codec's own name, not the decoder's (libdav1d reads "av1")
        vcodec = _codec_name(vstream) or info.video_codec
        acodec = _codec_name(astream) or (info.audio_codec or None)
    return VideoFacts(
        container=fmt,
        video_codec=vcodec,
        audio_codec=acodec,
        width=info.width,
        height=info.height,
        duration_s=info.duration_s,
        fps=info.fps,
        size_bytes=os.stat(path).st_size,
    )


def container_format(format_name: str, path: str | os.PathLike, *, brand: str | None = None) -> str:
    """One format name for the file: FFmpeg's demuxer names a family ("mov,mp4,m4a,3gp,3g2,mj2",
    "matroska,webm"); the file's extension picks the member, else (ISO family) its major brand,
    else the family's first name."""
    names = [n.strip() for n in format_name.split(",") if n.strip()]
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    ext = {"m4v": "mp4", "mkv": "matroska", "qt": "mov", "wmv": "asf", "mpg": "mpeg"}.get(ext, ext)
    if ext in names:
        return ext
    if "mov" in names and "mp4" in names:  # the ISO/QuickTime demuxer: "qt  " is QuickTime's brand
        return "mov" if (brand or "").strip().lower() == "qt" else "mp4"
    return names[0] if names else format_name


def check_upload(path: str | os.PathLike, platform_name: str, *,
                 account: AccountInfo | None = None) -> VideoFacts:
    """Check the video at ``path`` against the platform's published limits (its descriptor's
    ``spec``) before uploading it.

    Args:
        path: the rendered video.
        platform_name: a registered platform (``farm.platforms.platform_names(outbox=True)``).
        account: what the account may post (TikTok's creator info); its ``max_duration_s`` and
            ``min_duration_s`` replace the platform's defaults where given.

    Returns:
        The file's :class:`VideoFacts`, with ``notes`` for what is allowed but worth knowing
        (YouTube: a horizontal video, or a vertical one over 3 minutes, is not a Short).

    Raises:
        PolicyError: the platform would refuse the file; one line naming the file, the platform
            and every rule it breaks (``reason`` holds the rules alone).
        InputError: the file cannot be read as a video, or the platform is unknown.

    Example::

        check_upload("out/job-7.mp4", "tiktok", account=AccountInfo(("PUBLIC_TO_EVERYONE",), max_duration_s=60))
        # PolicyError: out/job-7.mp4: TikTok refuses it: 95.0 s is longer than this account's 60 s limit (creator info)
    """
    descriptor = platform(platform_name)
    spec = descriptor.spec
    facts = video_facts(path)
    problems = violations(facts, spec, account=account, source=descriptor.account_info_source)
    if problems:
        reason = "; ".join(problems)
        raise PolicyError(f"{os.fspath(path)}: {spec.name} refuses it: {reason}", reason=reason)
    notes = _notes(facts, spec)
    return dataclasses.replace(facts, notes=notes) if notes else facts


def violations(facts: VideoFacts, spec: PlatformSpec, *, account: AccountInfo | None = None,
               source: str = "account info") -> list[str]:
    """Every rule of ``spec`` (and of ``account``'s duration limits) that ``facts`` break, each as a
    short clause; empty when the platform takes the file."""
    name = spec.name
    out: list[str] = []
    if spec.containers is not None and facts.container not in spec.containers:
        out.append(f"container {facts.container} is not one of {_listed(spec.containers)}")
    if spec.video_codecs is not None and facts.video_codec not in spec.video_codecs:
        out.append(f"video codec {facts.video_codec} is not one of {_listed(spec.video_codecs)}")
    if spec.audio_codecs is not None and facts.audio_codec is not None and facts.audio_codec not in spec.audio_codecs:
        out.append(f"audio codec {facts.audio_codec} is not one of {_listed(spec.audio_codecs)}")

    duration = round(facts.duration_s, _DURATION_DIGITS)
    max_s, max_whose = _limit(account.max_duration_s if account else None, spec.max_duration_s, name, source)
    min_s, min_whose = _limit(account.min_duration_s if account else None, spec.min_duration_s, name, source)
    if max_s is not None and duration > max_s:
        out.append(f"{facts.duration_s:.1f} s is longer than {max_whose.format(f'{_num(max_s)} s limit')}")
    if min_s is not None and duration < min_s:
        out.append(f"{facts.duration_s:.1f} s is shorter than {min_whose.format(f'{_num(min_s)} s minimum')}")

    if spec.max_size_bytes is not None and facts.size_bytes > spec.max_size_bytes:
        out.append(f"{_size(facts.size_bytes)} is over {name}'s {_size(spec.max_size_bytes)} limit")
    if spec.min_fps is not None and facts.fps < spec.min_fps - _FPS_SLACK:
        out.append(f"{facts.fps:.3g} fps is below {name}'s {_num(spec.min_fps)} fps minimum")
    if spec.max_fps is not None and facts.fps > spec.max_fps + _FPS_SLACK:
        out.append(f"{facts.fps:.3g} fps is above {name}'s {_num(spec.max_fps)} fps maximum")

    size = f"{facts.width}x{facts.height}"
    if (spec.min_width_px is not None and facts.width < spec.min_width_px) or (
            spec.min_height_px is not None and facts.height < spec.min_height_px):
        out.append(f"{size} is smaller than {name}'s {spec.min_width_px or 0}x{spec.min_height_px or 0} minimum")
    if (spec.max_width_px is not None and facts.width > spec.max_width_px) or (
            spec.max_height_px is not None and facts.height > spec.max_height_px):
        out.append(f"{size} is larger than {name}'s {spec.max_width_px or 0}x{spec.max_height_px or 0} maximum")
    if spec.aspect == "9:16":
        ratio = facts.width / facts.height
        if abs(ratio - 9 / 16) > spec.aspect_tolerance * 9 / 16:
            shape = "" if facts.orientation == "vertical" else f", it is {facts.orientation}"
            out.append(f"{size} is not 9:16 vertical ({ratio:.3f} wide per high{shape})")
    return out


def _notes(facts: VideoFacts, spec: PlatformSpec) -> tuple[str, ...]:
    if spec.short_form_max_duration_s is None:
        return ()
    if facts.orientation == "horizontal":
        return (f"{facts.width}x{facts.height} is horizontal: {spec.name} posts it as a regular video, not a Short",)
    if round(facts.duration_s, _DURATION_DIGITS) > spec.short_form_max_duration_s:
        return (f"{facts.duration_s:.1f} s is longer than {_num(spec.short_form_max_duration_s)} s: "
                f"{spec.name} posts it as a regular video, not a Short",)
    return ()


def _limit(account_value: float | None, default: float | None, name: str, source: str) -> tuple[float | None, str]:
    """The duration bound that applies, and a template saying whose it is: the account's, where
    it gave one, else the platform's."""
    if account_value is not None:
        return float(account_value), "this account's {} (" + source + ")"
    return default, name + "'s {}"


def _codec_name(stream) -> str | None:
    if stream is None:
        return None
    try:
        return stream.codec_context.codec.canonical_name or None
    except (AttributeError, ValueError):  # a codec PyAV cannot describe: the probe's name serves
        return None


def _listed(names: frozenset[str]) -> str:
    return ", ".join(sorted(names))


def _num(x: float) -> str:
    return f"{x:g}"


def _size(n: int) -> str:
    for unit, scale in (("GB", 1000 ** 3), ("MB", 1000 ** 2), ("kB", 1000)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"
