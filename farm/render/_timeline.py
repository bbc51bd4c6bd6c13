"""The mashup's timeline: main clips end to end with crossfades, sampled at a constant rate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from farm.errors import InputError
from farm.media import FittedFrame, MediaInfo, VideoDecoder
from kernels import Box


@dataclass(frozen=True)
class Placement:
    """A main clip on the output timeline."""

    info: MediaInfo
    start_s: float
    duration_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


def plan_timeline(mains: list[MediaInfo], *, duration_s: float | None, fade_s: float) -> tuple[list[Placement], float, float]:
    """Lay the main clips end to end, overlapping by the crossfade; loop them to fill
    ``duration_s`` when it is longer. Returns (placements, output duration, crossfade)."""
    shortest = min(m.duration_s for m in mains)
    cycles = len(mains) > 1 or (duration_s is not None and duration_s > mains[0].duration_s)
    xfade = min(fade_s, shortest / 2) if cycles else 0.0
    placements: list[Placement] = []
    t = 0.0
    i = 0
    natural = sum(m.duration_s for m in mains) - xfade * (len(mains) - 1)
    target = duration_s if duration_s is not None else natural
    while True:
        info = mains[i % len(mains)]
        placements.append(Placement(info, t, info.duration_s))
        end = t + info.duration_s
        i += 1
        if end >= target - 1e-6 or (duration_s is None and i >= len(mains)):
            break
        t = end - xfade
    return placements, target, xfade


class FrameSelector:
    """Constant-rate sampling of a timestamped stream: the frame shown at time t is the
    latest whose timestamp is at most t plus half an output frame (ffmpeg's fps filter,
    rounding to nearest). Variable-rate input therefore comes out at a constant rate."""

    def __init__(self, frames: Iterator[FittedFrame], *, tolerance_s: float) -> None:
        self._frames = frames
        self._tol = tolerance_s
        self._cur: FittedFrame | None = None
        self._next: FittedFrame | None = None
        self._done = False

    def _pull(self) -> FittedFrame | None:
        if self._done:
            return None
        try:
            return next(self._frames)
        except StopIteration:
            self._done = True
            return None

    def at(self, t_s: float) -> FittedFrame:
        if self._cur is None:
            self._cur = self._pull()
            if self._cur is None:
                raise InputError("video stream has no frames")
        while True:
            if self._next is None:
                self._next = self._pull()
            if self._next is not None and self._next.time_s <= t_s + self._tol:
                self._cur, self._next = self._next, None
            else:
                return self._cur


def looping_frames(
    decoder: VideoDecoder,
    info: MediaInfo,
    *,
    box: Box,
    fit: str,
    loop: bool,
    cache_bytes: int,
    first_pass: tuple[list[FittedFrame], float] | None = None,
    on_first_pass: Callable[[list[FittedFrame], float, int], None] | None = None,
) -> Iterator[FittedFrame]:
    """The template's frames, repeated end to end with shifted timestamps when ``loop``.

    The first pass is kept in memory when it fits in ``cache_bytes``; later passes then
    replay it instead of decoding again. ``first_pass`` (frames, period) replays a pass
    kept from an earlier job without decoding at all; ``on_first_pass(frames, period,
    size_bytes)`` receives a complete first pass so a worker can keep it for later jobs.
    """
    step = 1.0 / info.fps if info.fps > 0 else 1.0 / 30
    if first_pass is not None:
        cache, period = first_pass
        yield from cache
    else:
        keep = loop or on_first_pass is not None
        cache = [] if keep else None
        used = 0
        last = 0.0
        for f in decoder.frames(info, box_width=box.width, box_height=box.height, fit=fit):
            last = f.time_s
            if cache is not None:
                used += f.picture.width * f.picture.height * 3 // 2
                if f.background is not None:
                    used += f.background.width * f.background.height * 3 // 2
                cache = cache if used <= cache_bytes else None
                if cache is not None:
                    cache.append(f)
            yield f
        period = max(last + step, step)
        if cache is not None and on_first_pass is not None:
            on_first_pass(cache, period, used)
    if not loop:
        return
    offset = period
    while True:
        if cache is not None:
            for f in cache:
                yield f._replace(time_s=f.time_s + offset)
        else:
            for f in decoder.frames(info, box_width=box.width, box_height=box.height, fit=fit):
                yield f._replace(time_s=f.time_s + offset)
        offset += period
