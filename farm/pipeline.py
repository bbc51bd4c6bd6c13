"""The render pipeline: decode -> kernels -> encode for one mashup (no Ray in here)."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import kernels
from farm.cache import RenderCache
from farm.errors import InputError
from farm.media import (
    SAMPLE_RATE,
    AudioClip,
    FittedFrame,
    MediaInfo,
    Mp4Writer,
    Prefetcher,
    VideoDecoder,
    as_planes,
    build_soundtrack,
    choose_decoder,
    choose_encoder,
    probe,
)
from farm.spec import MashupSpec, RenderResult
from kernels import Box

if TYPE_CHECKING:
    from kernels import Planes

ProgressFn = Callable[[int, int], None]

# A looping template's fitted frames are kept in memory up to this size, so its second
# and later passes cost no decoding at all.
TEMPLATE_CACHE_BYTES = 768 * 1024 * 1024
PREFETCH_DEPTH = 48
# A clip's decoder starts this long before the clip is needed.
LOOKAHEAD_S = 1.0


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


class BoxPainter:
    """Puts a fitted frame into its box on the canvas: cover copies, contain letterboxes,
    blur lays the picture over a blurred, darkened cover of itself."""

    def __init__(self, box: Box, *, fit: str) -> None:
        self.box = box
        self.fit = fit
        self._geo_cache: dict[tuple[int, int], tuple[int, int]] = {}

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


def _overlays(spec: MashupSpec, geo: kernels.LayoutGeometry) -> list[tuple[kernels.YuvaOverlay, int, int]]:
    from farm import text

    out = []
    if spec.caption:
        box = geo.main
        max_w = int(box.width * 0.84)
        size = max(24, int(min(box.width, box.height) * 0.062))
        ov = text.text_overlay(spec.caption, max_width_px=max_w, size_px=size, max_lines=5)
        x = box.x + (box.width - ov.width) // 2
        # lower third of the main box, clear of the bottom edge
        y = box.y + int(box.height * 0.80) - ov.height
        y = max(box.y + int(box.height * 0.06), y)
        out.append((ov, x & ~1, y & ~1))
    if spec.attribution:
        size = max(16, int(geo.height * 0.016))
        max_w = int(geo.width * 0.9)
        ov = text.text_overlay(spec.attribution, max_width_px=max_w, size_px=size, max_lines=1)
        x = (geo.width - ov.width) // 2
        y = geo.height - ov.height - int(geo.height * 0.012)
        out.append((ov, x & ~1, y & ~1))
    return out


def render_mashup(
    spec: MashupSpec,
    *,
    progress: ProgressFn | None = None,
    decoder: VideoDecoder | None = None,
    template_cache_bytes: int = TEMPLATE_CACHE_BYTES,
    cache: RenderCache | None = None,
    threads: int | None = None,
) -> RenderResult:
    """Render ``spec`` to ``spec.output`` and describe the result.

    ``cache`` (a long-lived worker's) keeps the template's fitted frames and the decoded
    music between jobs, so a batch that reuses them decodes each once. ``threads`` caps
    the codec threads (a worker's share of the cores); default: FFmpeg's choice.

    Raises :class:`InputError` (naming the file) for bad inputs; in every failure the
    temp file is removed and nothing appears under the output name.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    output = Path(spec.output)
    if output.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise InputError(f"{spec.output}: output must be an .mp4 file")
    mains = [probe(p, need_video=True) for p in spec.mains]
    template = probe(spec.template, need_video=True)
    if spec.music is not None:
        probe(spec.music, need_audio=True)
    encoder_cfg = choose_encoder(spec.encoder, preset=spec.preset, crf=spec.crf)
    if threads and encoder_cfg.name == "libx264":
        encoder_cfg = dataclasses.replace(encoder_cfg, options={**encoder_cfg.options, "threads": str(int(threads))})
    decoder = decoder or choose_decoder(threads=threads or 0)
    timings["probe"] = time.perf_counter() - t0

    placements, duration_s, xfade = plan_timeline(mains, duration_s=spec.duration_s, fade_s=spec.fade_s)
    fps = int(spec.fps)
    n_frames = max(1, int(round(duration_s * fps)))
    geo = kernels.layout_geometry(spec.layout)
    tol = 0.5 / fps

    soundtrack: dict[str, object] = {}

    def build_audio() -> None:
        ta = time.perf_counter()
        try:
            clips = [
                AudioClip(
                    p.info.path if p.info.has_audio else None,
                    origin_s=p.info.start_s,
                    start_s=p.start_s,
                    duration_s=p.duration_s,
                    fade_in_s=xfade if i > 0 else 0.0,
                    fade_out_s=xfade if i < len(placements) - 1 else 0.0,
                )
                for i, p in enumerate(placements)
            ]
            soundtrack["samples"] = build_soundtrack(
                clips, duration_s=n_frames / fps, music_path=spec.music, music_volume=spec.music_volume, fade_s=spec.fade_s,
                decode_music=cache.music if cache is not None else None,
            )
        except BaseException as err:
            soundtrack["error"] = err
        soundtrack["seconds"] = time.perf_counter() - ta

    audio_thread = threading.Thread(target=build_audio, name="soundtrack", daemon=True)
    audio_thread.start()

    writer = Mp4Writer(output, width=geo.width, height=geo.height, fps=fps, encoder=encoder_cfg)
    readers: dict[int, _ClipReader] = {}
    template_feed = None

    def open_due(t: float) -> None:
        for i, p in enumerate(placements):
            if i not in readers and p.start_s - LOOKAHEAD_S <= t < p.end_s:
                readers[i] = _ClipReader(p, decoder, geo.main, spec.fit, tol)

    first_pass = on_first_pass = None
    if cache is not None:
        tkey = cache.frames_key(template.path, box_width=geo.template.width, box_height=geo.template.height, fit=spec.fit)
        first_pass = cache.get(tkey)

        def on_first_pass(frames: list[FittedFrame], period: float, size: int) -> None:
            cache.put(tkey, (frames, period), size_bytes=size)

    try:
        template_feed = Prefetcher(
            looping_frames(
                decoder,
                template,
                box=geo.template,
                fit=spec.fit,
                loop=duration_s > template.duration_s + tol,
                cache_bytes=min(template_cache_bytes, cache.max_bytes) if cache is not None else template_cache_bytes,
                first_pass=first_pass,
                on_first_pass=on_first_pass if first_pass is None else None,
            ),
            depth=PREFETCH_DEPTH,
            name="decode:template",
        )
        template_sel = FrameSelector(template_feed, tolerance_s=tol)
        open_due(0.0)
        # Decoders and the soundtrack are under way: now pay for torch's import.
        import torch

        if str(getattr(decoder, "device", "cpu")) == "cpu":
            # Codec threads already fill the cores; torch's own pool would only contend.
            torch.set_num_threads(1)
        main_painter = BoxPainter(geo.main, fit=spec.fit)
        template_painter = BoxPainter(geo.template, fit=spec.fit)
        scratch = kernels.new_planes(width=geo.main.width, height=geo.main.height)
        overlays = _overlays(spec, geo)
        samples: np.ndarray | None = None
        audio_written = 0
        compose_s = encode_s = wait_s = 0.0
        for n in range(n_frames):
            t = n / fps
            open_due(t)
            active = [i for i in sorted(readers) if placements[i].start_s <= t + 1e-9 < placements[i].end_s]
            if not active:  # past the last clip's declared end by a rounding: hold its last frame
                active = [max(readers)]
            for i in list(readers):
                if placements[i].end_s <= t and i not in active:
                    readers.pop(i).close()
            tw = time.perf_counter()
            main_frames = [readers[i].selector.at(t - placements[i].start_s) for i in active[-2:]]
            tmpl_frame = template_sel.at(t)
            tc = time.perf_counter()
            wait_s += tc - tw

            canvas_frame, canvas = writer.new_canvas()
            main_dst = kernels.region(canvas, geo.main)
            main_painter.paint(main_dst, main_frames[0])
            if len(main_frames) > 1:
                incoming = placements[active[-1]]
                weight = (t - incoming.start_s) / xfade if xfade > 0 else 1.0
                main_painter.paint(scratch, main_frames[1])
                kernels.crossfade(main_dst, scratch, weight=min(1.0, max(0.0, weight)), out=main_dst)
            template_painter.paint(kernels.region(canvas, geo.template), tmpl_frame)
            for ov, x, y in overlays:
                kernels.alpha_overlay(canvas, ov, x=x, y=y)
            level = kernels.fade_level(t, duration_s=n_frames / fps, fade_s=spec.fade_s)
            if level < 1.0:
                kernels.fade_to_black(canvas, level=level)
            te = time.perf_counter()
            compose_s += te - tc

            writer.write_video(canvas_frame)
            # The soundtrack is built on its own thread; its packets join the file as soon
            # as it is ready (the muxer interleaves by timestamp), and at the latest here.
            if samples is None and (n == n_frames - 1 or not audio_thread.is_alive()):
                audio_thread.join()
                if "error" in soundtrack:
                    raise soundtrack["error"]  # type: ignore[misc]
                samples = soundtrack["samples"]  # type: ignore[assignment]
            if samples is not None:
                upto = samples.shape[1] if n == n_frames - 1 else int((n + 1) * SAMPLE_RATE / fps)
                if upto > audio_written:
                    writer.write_audio(samples[:, audio_written:upto])
                    audio_written = upto
            encode_s += time.perf_counter() - te
            if progress is not None:
                progress(n + 1, n_frames)
        tf = time.perf_counter()
        writer.commit()
        timings["finish"] = time.perf_counter() - tf
    except BaseException:
        writer.abort()
        raise
    finally:
        for r in readers.values():
            r.close()
        if template_feed is not None:
            template_feed.close()
    timings.update(
        wait_decode=wait_s,
        compose=compose_s,
        encode=encode_s,
        audio=float(soundtrack.get("seconds", 0.0)),  # type: ignore[arg-type]
        total=time.perf_counter() - t0,
    )
    digest = hashlib.sha256()
    with open(output, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return RenderResult(
        path=str(output),
        size_bytes=output.stat().st_size,
        sha256=digest.hexdigest(),
        frames=n_frames,
        fps=fps,
        duration_s=n_frames / fps,
        width=geo.width,
        height=geo.height,
        encoder=encoder_cfg.name,
        decoder=decoder.name,
        timings_s={k: round(v, 4) for k, v in timings.items()},
    )
