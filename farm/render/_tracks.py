"""The mashup's two picture tracks (mains, template), each decoding ahead on its own threads,
and the painter that puts a fitted frame into its box."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import kernels
from farm.media import FittedFrame, MediaInfo, Prefetcher, VideoDecoder, as_planes
from farm.render._cache import RenderCache
from farm.render._timeline import FrameSelector, Placement, looping_frames
from kernels import Box

if TYPE_CHECKING:
    from kernels import Planes

# A looping template's fitted frames are kept in memory up to this size, so its second
# and later passes cost no decoding at all.
TEMPLATE_CACHE_BYTES = 768 * 1024 * 1024
PREFETCH_DEPTH = 48
# A clip's decoder starts this long before the clip is needed.
LOOKAHEAD_S = 1.0


class BoxPainter:
    """Puts a fitted frame into its box on the canvas: cover copies, contain letterboxes,
    blur lays the picture over a blurred, darkened cover of itself."""

    def __init__(self, box: Box, *, fit: str) -> None:
        self.box = box
        self.fit = fit

    def paint(self, dst: "Planes", frame: FittedFrame) -> None:
        pic = as_planes(frame.picture)
        if self.fit == "cover":
            kernels.copy_into(dst, pic)
            return
        ox = (self.box.width - pic.width) // 2 & ~1
        oy = (self.box.height - pic.height) // 2 & ~1
        if self.fit == "contain":
            kernels.letterbox(dst, pic, offset_x=ox, offset_y=oy)
            return
        bg = kernels.blur_background(as_planes(frame.background), width=self.box.width, height=self.box.height)
        kernels.copy_into(dst, bg)
        kernels.paste(dst, pic, x=ox, y=oy)


class _ClipReader:
    def __init__(self, placement: Placement, decoder: VideoDecoder, box: Box, fit: str, tol: float) -> None:
        self.placement = placement
        self._prefetch = Prefetcher(
            decoder.frames(placement.info, box_width=box.width, box_height=box.height, fit=fit),
            depth=PREFETCH_DEPTH,
            name=f"decode:{Path(placement.info.path).name}",
        )
        self.selector = FrameSelector(self._prefetch, tolerance_s=tol)

    def close(self) -> None:
        self._prefetch.close()


class MainTrack:
    """The main clips on the timeline: each clip's decoder opens ``LOOKAHEAD_S`` before it is
    due and closes when it is done; during a crossfade two clips are live."""

    def __init__(self, placements: list[Placement], decoder: VideoDecoder, *, box: Box, fit: str,
                 crossfade_s: float, tolerance_s: float) -> None:
        self.placements = placements
        self._decoder, self._box, self._fit, self._tol = decoder, box, fit, tolerance_s
        self._xfade = crossfade_s
        self._readers: dict[int, _ClipReader] = {}

    def open_due(self, t: float) -> None:
        for i, p in enumerate(self.placements):
            if i not in self._readers and p.start_s - LOOKAHEAD_S <= t < p.end_s:
                self._readers[i] = _ClipReader(p, self._decoder, self._box, self._fit, self._tol)

    def at(self, t: float) -> list[tuple[FittedFrame, float]]:
        """The frames shown at ``t``: the outgoing clip's, then (in a crossfade) the incoming
        clip's with its weight."""
        self.open_due(t)
        p = self.placements
        active = [i for i in sorted(self._readers) if p[i].start_s <= t + 1e-9 < p[i].end_s]
        if not active:  # past the last clip's declared end by a rounding: hold its last frame
            active = [max(self._readers)]
        for i in list(self._readers):
            if p[i].end_s <= t and i not in active:
                self._readers.pop(i).close()
        shown = []
        for i in active[-2:]:
            frame = self._readers[i].selector.at(t - p[i].start_s)
            weight = 1.0 if not shown else (min(1.0, max(0.0, (t - p[i].start_s) / self._xfade)) if self._xfade > 0 else 1.0)
            shown.append((frame, weight))
        return shown

    def close(self) -> None:
        for r in self._readers.values():
            r.close()
        self._readers.clear()


class TemplateTrack:
    """The template, looped to the output's length; its fitted frames are kept for the
    next pass (and, with a worker's ``cache``, for the next job that uses it)."""

    def __init__(self, info: MediaInfo, decoder: VideoDecoder, *, box: Box, fit: str, duration_s: float,
                 tolerance_s: float, cache: RenderCache | None, cache_bytes: int = TEMPLATE_CACHE_BYTES) -> None:
        first_pass = on_first_pass = None
        if cache is not None:
            key = cache.frames_key(info.path, box_width=box.width, box_height=box.height, fit=fit)
            first_pass = cache.get(key)

            def keep(frames: list[FittedFrame], period: float, size: int) -> None:
                cache.put(key, (frames, period), size_bytes=size)

            on_first_pass: Callable | None = keep if first_pass is None else None  # type: ignore[no-redef]
            cache_bytes = min(cache_bytes, cache.max_bytes)
        self._feed = Prefetcher(
            looping_frames(
                decoder, info, box=box, fit=fit, loop=duration_s > info.duration_s + tolerance_s,
                cache_bytes=cache_bytes, first_pass=first_pass, on_first_pass=on_first_pass,
            ),
            depth=PREFETCH_DEPTH,
            name="decode:template",
        )
        self._selector = FrameSelector(self._feed, tolerance_s=tolerance_s)

    def at(self, t: float) -> FittedFrame:
        return self._selector.at(t)

    def close(self) -> None:
        self._feed.close()
