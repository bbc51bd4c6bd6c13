"""One product promo: images panned and zoomed with crossfades, a title card, a price badge, the
selling points in turn, an end card with the call to action, music (and a voice) under it."""

from __future__ import annotations

import math
import random
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import kernels
from farm.errors import InputError
from farm.jobs import PromoSpec, RenderResult
from farm.media import (
    MediaInfo,
    Mp4Muxer,
    build_promo_soundtrack,
    choose_decoder,
    load_image_rgb,
    open_encoder,
    probe,
    sha256_file,
)
from farm.render._mashup import COMPOSE_BATCH, AudioFeed, ProgressFn, encoder_config
from farm.render._tracks import TemplateTrack

PROMO_WIDTH, PROMO_HEIGHT = 1080, 1920
CROSSFADE_S = 0.6
TITLE_S = 3.0
END_CARD_S = 3.5
TEXT_FADE_S = 0.3
FADE_IN_S = 0.3
FADE_OUT_S = 0.5
# an image whose aspect is within this factor of its box fills it (a slight crop); a more
# different one is shown whole over a blurred fill of itself
FILL_ASPECT_TOLERANCE = 1.12
ZOOM_RANGE = (1.0, 1.18)
# the image is scaled once (Lanczos) to the size its widest view fills the box at: pan and zoom
# then only enlarge it, up to ZOOM_RANGE's top (2 taps per sample instead of 4 when shrinking;
# measured: pan/zoom 8.4 -> x s over a 600-frame promo on 2 cores)
OVERSAMPLE = 1.0
END_CARD_DIM = 0.45  # the end card darkens the picture to this level under the call to action
VOICE_GAP_S = 0.35


@dataclass(frozen=True)
class Slot:
    """A line of text on screen from ``start_s`` to ``end_s`` (fading in and out)."""

    text: str
    start_s: float
    end_s: float
    role: str  # hook | point | cta


@dataclass(frozen=True)
class Segment:
    """Image ``index`` on screen from ``start_s`` to ``end_s`` (crossfading at both ends)."""

    index: int
    start_s: float
    end_s: float


@dataclass
class PromoPlan:
    fps: int
    frames: int
    geo: kernels.LayoutGeometry | None  # with a template: its 2/3 + 1/3 layout
    box: kernels.Box  # where the promo's pictures go
    segments: list[Segment]
    slots: list[Slot]
    images: list[Path]
    template: MediaInfo | None
    voice_starts_s: list[float]

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps


def _wav_seconds(path: str) -> float:
    info = probe(path, need_audio=True)
    return info.duration_s


def plan_promo(spec: PromoSpec) -> PromoPlan:
    """Check every input (an image that does not decode is an InputError naming it) and lay
    out the timeline: image segments, text slots (following the voice when there is one)."""
    if Path(spec.output).suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise InputError(f"{spec.output}: output must be an .mp4 file")
    for img in spec.images:  # decoded whole when the render loads them (a bad one is named then)
        if not Path(img).is_file():
            raise InputError(f"{img}: no such file")
    template = probe(spec.template, need_video=True) if spec.template else None
    if spec.music is not None:
        probe(spec.music, need_audio=True)
    fps = int(spec.fps)
    frames = int(round(spec.duration_s * fps))
    duration = frames / fps
    n = len(spec.images)
    # n segments overlapping by the crossfade fill the duration
    seg = (duration + (n - 1) * CROSSFADE_S) / n
    segments = [Segment(k, k * (seg - CROSSFADE_S), min(duration, k * (seg - CROSSFADE_S) + seg)) for k in range(n)]
    texts = spec.spoken_texts
    voice_starts: list[float] = []
    if spec.voice_lines:
        # each line shows while it is spoken: one after another, a short breath between;
        # a line that would start in the last half second is left out (voice and text alike)
        slots = []
        t = 0.4
        for k, (text, path) in enumerate(zip(texts, spec.voice_lines)):
            if t > duration - 0.5:
                break
            length = _wav_seconds(path)
            voice_starts.append(t)
            role = "hook" if k == 0 else ("cta" if k == len(texts) - 1 and spec.call_to_action else "point")
            slots.append(Slot(text, t, min(duration, t + max(length, 1.2)), role))
            t += length + VOICE_GAP_S
    else:
        slots = _even_slots(spec, duration)
    if spec.template:
        geo = kernels.layout_geometry("vertical")
        box = geo.main
    else:
        geo = None
        box = kernels.Box(0, 0, PROMO_WIDTH, PROMO_HEIGHT)
    return PromoPlan(fps, frames, geo, box, segments, slots, [Path(p) for p in spec.images], template, voice_starts)


def _even_slots(spec: PromoSpec, duration: float) -> list[Slot]:
    """No voice: the hook on the title card, the selling points in turn, the call to action on
    the end card."""
    slots = [Slot(spec.hook or spec.title, 0.0, TITLE_S, "hook")]
    end_card = duration - END_CARD_S
    points = list(spec.selling_lines)
    if points:
        span = (end_card - TITLE_S) / len(points)
        slots += [Slot(p, TITLE_S + k * span + 0.15, TITLE_S + (k + 1) * span - 0.15, "point")
                  for k, p in enumerate(points)]
    if spec.call_to_action:
        slots.append(Slot(spec.call_to_action, end_card, duration, "cta"))
    return slots


def image_motion(rng: random.Random) -> tuple:
    """A slow move, different per image: zoom in or out, drifting between two focus points."""
    zoom_in = rng.random() < 0.6
    z0, z1 = (ZOOM_RANGE if zoom_in else ZOOM_RANGE[::-1])
    f0 = (0.5 + rng.uniform(-0.12, 0.12), 0.5 + rng.uniform(-0.12, 0.12))
    f1 = (0.5 + rng.uniform(-0.18, 0.18), 0.5 + rng.uniform(-0.18, 0.18))
    return z0, z1, f0, f1


class ImageTrack:
    """One image prepared once: scaled for the deepest zoom, converted to 4:2:0, its foreground
    rectangle in the box, its blurred fill (when its aspect differs) and its viewport path."""

    def __init__(self, path: Path, *, box: kernels.Box, frames: int, motion: tuple, device: str) -> None:
        import torch
        from PIL import Image

        rgb = load_image_rgb(path)
        h, w = rgb.shape[:2]
        box_aspect, aspect = box.width / box.height, w / h
        if max(aspect / box_aspect, box_aspect / aspect) <= FILL_ASPECT_TOLERANCE:
            fg_w, fg_h = box.width, box.height
        elif aspect > box_aspect:  # wider than the box: full width, centred vertically
            fg_w, fg_h = box.width, int(box.width / aspect) & ~1
        else:
            fg_w, fg_h = int(box.height * aspect) & ~1, box.height
        fg_w, fg_h = max(2, fg_w), max(2, fg_h)
        self.fg = kernels.Box((box.width - fg_w) // 2 & ~1, (box.height - fg_h) // 2 & ~1, fg_w, fg_h)
        # scale once (Lanczos) so that the zoom-1 viewport is OVERSAMPLE times the foreground:
        # a huge photo costs nothing per frame
        vp_w = min(w, h * fg_w / fg_h)
        want = fg_w * OVERSAMPLE / vp_w
        if want < 1.0:
            nw, nh = max(2, int(round(w * want)) & ~1), max(2, int(round(h * want)) & ~1)
            rgb = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.Resampling.LANCZOS))
        else:  # small images: keep their pixels; the kernel interpolates up
            rgb = rgb[: h & ~1, : w & ~1]
            if rgb.shape[0] < 2 or rgb.shape[1] < 2:
                rgb = np.repeat(np.repeat(rgb, 2, axis=0), 2, axis=1)
        self.image = kernels.rgb_to_yuv420(torch.from_numpy(np.array(rgb, copy=True))).to(device)
        ih, iw = self.image.height, self.image.width
        self.fill = None
        if (fg_w, fg_h) != (box.width, box.height):
            small = kernels.resize(self.image, width=max(2, (iw // 8) & ~1), height=max(2, (ih // 8) & ~1))
            _, cover = kernels.fit_parts(small, box_width=box.width, box_height=box.height, fit="blur")
            self.fill = kernels.blur_background(cover, width=box.width, height=box.height)
        z0, z1, f0, f1 = motion
        self.viewports = kernels.pan_zoom_path(image_width=iw, image_height=ih, out_width=fg_w, out_height=fg_h,
                                               frames=max(2, frames), zoom_from=z0, zoom_to=z1, focus_from=f0,
                                               focus_to=f1)

    def paint(self, dst: kernels.Planes, local_frames: list[int], *, fill: list[bool] | None = None) -> None:
        """Frames ``local_frames`` of this image's move into ``dst`` (box-sized, leading N);
        ``fill[k]`` False: frame k's buffer already holds this image's blurred fill."""
        fg = self.fg
        if self.fill is not None:
            for k in range(len(local_frames)):
                if fill is None or fill[k]:
                    kernels.copy_into(dst.frame(k), self.fill)
        out = kernels.Planes(
            dst.y[:, fg.y:fg.y + fg.height, fg.x:fg.x + fg.width],
            dst.u[:, fg.y // 2:(fg.y + fg.height) // 2, fg.x // 2:(fg.x + fg.width) // 2],
            dst.v[:, fg.y // 2:(fg.y + fg.height) // 2, fg.x // 2:(fg.x + fg.width) // 2],
        )
        last = len(self.viewports) - 1
        kernels.pan_zoom(self.image, [self.viewports[min(f, last)] for f in local_frames],
                         out_width=fg.width, out_height=fg.height, out=out)


class TextLayer:
    """Every line of the promo rasterised once: the title card, the price badge, the selling
    points and the call to action, placed inside the platform's safe area."""

    def __init__(self, spec: PromoSpec, plan: PromoPlan, *, device: str) -> None:
        from farm.render._text import safe_area, text_overlay

        canvas_h = PROMO_HEIGHT
        safe = safe_area(spec.platform, width=PROMO_WIDTH, height=canvas_h)
        box = plan.box
        # text stays inside both the safe area and the promo's box
        left, top = max(safe.x, box.x + 40), max(safe.y, box.y + 40)
        right = min(safe.x + safe.width, box.x + box.width - 40)
        bottom = min(safe.y + safe.height, box.y + box.height - 40)
        width = right - left
        self._items: list[tuple[Slot | None, kernels.YuvaOverlay, int, int]] = []
        for slot in plan.slots:
            if slot.role == "hook":
                ov = text_overlay(slot.text, max_width_px=width, size_px=84, role="title", max_lines=3,
                                  max_height_px=int((bottom - top) * 0.32))
                x, y = left + (width - ov.width) // 2, top + 20
            elif slot.role == "cta":
                ov = text_overlay(slot.text, max_width_px=width, size_px=92, role="title", max_lines=2,
                                  plate=(255, 204, 0, 255), fill=(20, 20, 20, 255))
                x, y = left + (width - ov.width) // 2, (top + bottom) // 2 - ov.height // 2
            else:
                ov = text_overlay(slot.text, max_width_px=width, size_px=64, role="body", max_lines=3,
                                  max_height_px=int((bottom - top) * 0.25))
                x, y = left + (width - ov.width) // 2, bottom - ov.height - 10
            self._items.append((slot, ov.to(device), x & ~1, y & ~1))
        badge = text_overlay(spec.price, max_width_px=int(width * 0.7), size_px=64, role="title", max_lines=1,
                             plate=(230, 30, 60, 255))
        self._badge = (badge.to(device), left & ~1, (top + int((bottom - top) * 0.36)) & ~1)
        # on the end card the price stands under the call to action, larger
        cta = [(ov, x, y) for slot, ov, x, y in self._items if slot.role == "cta"]
        big = text_overlay(spec.price, max_width_px=width, size_px=84, role="title", max_lines=1,
                           plate=(230, 30, 60, 255))
        below = (cta[0][2] + cta[0][0].height + 30) if cta else (top + bottom) // 2
        self._end_price = (big.to(device), (left + (width - big.width) // 2) & ~1, below & ~1)
        self._end_card_s = plan.duration_s - END_CARD_S

    def placements(self) -> list[dict]:
        """Where each line goes on the canvas (role, text, x, y, width, height, shown from/to)."""
        out = [{"role": slot.role, "text": slot.text, "x": x, "y": y, "width": ov.width, "height": ov.height,
                "start_s": slot.start_s, "end_s": slot.end_s} for slot, ov, x, y in self._items]
        for role, (ov, x, y), span in (("price", self._badge, (0.5, self._end_card_s)),
                                       ("end-price", self._end_price, (self._end_card_s, math.inf))):
            out.append({"role": role, "text": "", "x": x, "y": y, "width": ov.width, "height": ov.height,
                        "start_s": span[0], "end_s": span[1]})
        return out

    def paint(self, canvas: kernels.Planes, t: float) -> None:
        for slot, ov, x, y in self._items:
            a = _opacity(t, slot.start_s, slot.end_s)
            if a > 0:
                kernels.alpha_overlay(canvas, ov, x=x, y=y, opacity=a)
        ov, x, y = self._badge
        kernels.alpha_overlay(canvas, ov, x=x, y=y, opacity=_opacity(t, 0.5, self._end_card_s))
        ov, x, y = self._end_price
        kernels.alpha_overlay(canvas, ov, x=x, y=y, opacity=_opacity(t, self._end_card_s, math.inf))


def _opacity(t: float, start_s: float, end_s: float) -> float:
    if t < start_s or t >= end_s:
        return 0.0
    a = min(1.0, (t - start_s) / TEXT_FADE_S, (end_s - t) / TEXT_FADE_S)
    return max(0.0, min(1.0, a))


def start_promo_soundtrack(spec: PromoSpec, plan: PromoPlan) -> Future:
    def build() -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        samples = build_promo_soundtrack(duration_s=plan.duration_s, music_path=spec.music,
                                         music_volume=spec.music_volume, voice_paths=list(spec.voice_lines),
                                         voice_starts_s=plan.voice_starts_s, fade_out_s=FADE_OUT_S * 3)
        return samples, time.perf_counter() - t0

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="promo-sound")
    future = pool.submit(build)
    pool.shutdown(wait=False)
    return future


def _frame_level(t: float, duration_s: float) -> float:
    """Fade in from black at the start, out to black at the end."""
    return max(0.0, min(1.0, t / FADE_IN_S if FADE_IN_S else 1.0, (duration_s - t) / FADE_OUT_S))


class PromoComposer:
    """Composes the promo's frames in order, a batch of image frames per kernel call, into a
    ring of canvases: run on its own thread (``farm.media.Prefetcher``), it works while the
    encoder takes the frames before."""

    def __init__(self, spec: PromoSpec, plan: PromoPlan, *, device: str, decoder, ring: int) -> None:
        from farm.render._tracks import BoxPainter

        self._spec, self._plan, self._device = spec, plan, device
        rng = random.Random(spec.seed)
        motions = [image_motion(rng) for _ in plan.segments]  # drawn in order: the same seed, the same moves

        def track(seg: Segment) -> ImageTrack:
            frames = int(round((seg.end_s - seg.start_s) * plan.fps)) + 1
            return ImageTrack(plan.images[seg.index], box=plan.box, frames=frames, motion=motions[seg.index],
                              device=device)

        # decoding and scaling photos (Pillow and torch leave Python's lock) on a few threads
        with ThreadPoolExecutor(max_workers=min(4, len(plan.segments)), thread_name_prefix="promo-load") as pool:
            self._tracks = {seg.index: t for seg, t in zip(plan.segments, pool.map(track, plan.segments))}
        self._text = TextLayer(spec, plan, device=device)
        self.template = None
        if plan.template is not None:
            self.template = TemplateTrack(plan.template, decoder, box=plan.geo.template, fit="cover",
                                          duration_s=plan.duration_s, tolerance_s=0.5 / plan.fps, cache=None)
            self._template_painter = BoxPainter(plan.geo.template, fit="cover")
        self._ring = [kernels.new_planes(width=PROMO_WIDTH, height=PROMO_HEIGHT, device=device) for _ in range(ring)]
        self.compose_s = 0.0  # finishing frames: crossfade, template, text, fades
        self.images_s = 0.0  # panning and zooming the images, on the second thread
        self._fills: dict[tuple[int, int], int] = {}
        self.wait_decode_s = 0.0

    def close(self) -> None:
        if self.template is not None:
            self.template.close()

    def _paint_images(self, times: list[float], dst_a: kernels.Planes, dst_b: kernels.Planes) -> list[list[Segment]]:
        """Each frame's image (and, in a crossfade, the next one) into ``dst_a`` (``dst_b``)."""
        t0 = time.perf_counter()
        try:
            return self._paint(times, dst_a, dst_b)
        finally:
            self.images_s += time.perf_counter() - t0

    def _paint(self, times: list[float], dst_a: kernels.Planes, dst_b: kernels.Planes) -> list[list[Segment]]:
        plan = self._plan
        # which image's blurred fill each batch slot holds: a fill is copied in only when the
        # slot last held another image's (or a crossfade overwrote it)
        holds = self._fills
        shown = []
        for t in times:
            active = [seg for seg in plan.segments if seg.start_s <= t < seg.end_s] or [plan.segments[-1]]
            shown.append(active[:2])
        for layer, dst in ((0, dst_a), (1, dst_b)):
            by_image: dict[int, list[tuple[int, int]]] = {}
            for k, active in enumerate(shown):
                if len(active) > layer:
                    seg = active[layer]
                    by_image.setdefault(seg.index, []).append((k, int(round((times[k] - seg.start_s) * plan.fps))))
            for index, pairs in by_image.items():
                ks = [k for k, _ in pairs]
                need = [holds.get((id(dst.y), k)) != index for k in ks]
                for k in ks:
                    holds[(id(dst.y), k)] = index
                if ks == list(range(ks[0], ks[0] + len(ks))):  # a run of frames: one kernel call
                    view = kernels.Planes(*(p[ks[0]: ks[0] + len(ks)] for p in dst))
                    self._tracks[index].paint(view, [lf for _, lf in pairs], fill=need)
                else:
                    for (k, lf), n in zip(pairs, need):
                        self._tracks[index].paint(kernels.Planes(*(p[k: k + 1] for p in dst)), [lf], fill=[n])
        return shown

    def frames(self):
        """Yields (frame number, canvas): a canvas is painted again ``ring`` frames later.

        The images of the next batch are panned and zoomed on a second thread while this
        batch's frames are finished (crossfade, template, text, fades) and handed over."""
        plan, box = self._plan, self._plan.box
        batch = COMPOSE_BATCH
        sets = [tuple(kernels.new_planes(width=box.width, height=box.height, device=self._device, frames=batch)
                      for _ in range(2)) for _ in range(2)]
        end_card = plan.duration_s - END_CARD_S
        starts = list(range(0, plan.frames, batch))

        def times_of(start: int) -> list[float]:
            return [(start + k) / plan.fps for k in range(min(batch, plan.frames - start))]

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="promo-images")
        try:
            pending = pool.submit(self._paint_images, times_of(starts[0]), *sets[0])
            for i, start in enumerate(starts):
                shown = pending.result()
                if i + 1 < len(starts):
                    pending = pool.submit(self._paint_images, times_of(starts[i + 1]), *sets[(i + 1) % 2])
                frames_a, frames_b = sets[i % 2]
                yield from self._finish(start, times_of(start), shown, frames_a, frames_b, end_card)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _finish(self, start: int, times: list[float], shown, frames_a, frames_b, end_card: float):
        plan, box = self._plan, self._plan.box
        tc = time.perf_counter()
        for k, t in enumerate(times):
            canvas = self._ring[(start + k) % len(self._ring)]
            picture = frames_a.frame(k)
            if len(shown[k]) > 1:
                a, b = shown[k]
                weight = (t - b.start_s) / max(1e-6, a.end_s - b.start_s)
                kernels.crossfade(picture, frames_b.frame(k), weight=min(1.0, max(0.0, weight)), out=picture)
                self._fills.pop((id(frames_a.y), k), None)  # the slot's fill is mixed now
            if self.template is not None:
                kernels.copy_into(kernels.region(canvas, box), picture)
                tw = time.perf_counter()
                frame = self.template.at(t)
                self.wait_decode_s += time.perf_counter() - tw
                self._template_painter.paint(kernels.region(canvas, plan.geo.template), frame)
            else:
                kernels.copy_into(canvas, picture)
            if t >= end_card:
                dim = 1.0 - (1.0 - END_CARD_DIM) * min(1.0, (t - end_card) / 0.5)
                kernels.fade_to_black(kernels.region(canvas, box), level=dim)
            self._text.paint(canvas, t)
            level = _frame_level(t, plan.duration_s)
            if level < 1.0:
                kernels.fade_to_black(canvas, level=level)
            self.compose_s += time.perf_counter() - tc
            yield start + k, canvas
            tc = time.perf_counter()


def render_promo(spec: PromoSpec, *, progress: ProgressFn | None = None, threads: int | None = None) -> RenderResult:
    """Render ``spec`` to ``spec.output``; on any failure nothing appears under the output name.

    Composing runs on its own thread, a few frames ahead of the encoder (torch and x264 both
    leave Python's lock while they work, so the two overlap on two cores)."""
    t0 = time.perf_counter()
    plan = plan_promo(spec)
    import torch

    from farm.media import Prefetcher, cuda_ready

    torch.set_num_threads(1)
    cuda = spec.decoder != "cpu" and cuda_ready()[0]
    device = "cuda:0" if cuda else None
    config = encoder_config(spec, threads=threads, device=device or "cpu")
    timings = {"probe": time.perf_counter() - t0, "wait_decode": 0.0, "compose": 0.0, "encode": 0.0}
    soundtrack = start_promo_soundtrack(spec, plan)
    muxer = Mp4Muxer(spec.output, fps=plan.fps)
    composer = encoder = frames = None
    decoder = None
    try:
        tp = time.perf_counter()
        if plan.template is not None:
            decoder = choose_decoder(spec.decoder, threads=threads or 0)
        depth = 4
        composer = PromoComposer(spec, plan, device=device or "cpu", decoder=decoder, ring=depth + 3)
        timings["prepare"] = time.perf_counter() - tp
        encoder = open_encoder(config, width=PROMO_WIDTH, height=PROMO_HEIGHT, fps=plan.fps, device=device,
                               preset=spec.preset, crf=spec.crf)
        audio = AudioFeed(soundtrack, muxer, plan)
        frames = Prefetcher(composer.frames(), depth=depth, name="promo-compose")
        wait = 0.0
        tw = time.perf_counter()
        for n, picture in frames:
            te = time.perf_counter()
            wait += te - tw
            slot, canvas = encoder.new_canvas()
            kernels.copy_into(canvas, picture)
            muxer.write_video(encoder.encode(slot))
            audio.feed(n + 1)
            timings["encode"] += time.perf_counter() - te
            if progress is not None and ((n + 1) % COMPOSE_BATCH == 0 or n + 1 == plan.frames):
                progress(n + 1, plan.frames)
            tw = time.perf_counter()
        tf = time.perf_counter()
        muxer.write_video(encoder.flush())
        audio.feed(plan.frames)
        muxer.commit()
        timings["finish"] = time.perf_counter() - tf
        timings["compose"] = composer.compose_s
        timings["pan_zoom"] = composer.images_s
        timings["wait_compose"] = wait
        timings["wait_decode"] = composer.wait_decode_s
    except BaseException:
        muxer.abort()
        raise
    finally:
        if frames is not None:
            frames.close()
        if composer is not None:
            composer.close()
        if encoder is not None:
            encoder.close()
    timings["audio"] = audio.seconds
    timings["total"] = time.perf_counter() - t0
    out = Path(spec.output)
    return RenderResult(
        path=str(out), size_bytes=out.stat().st_size, sha256=sha256_file(out), frames=plan.frames, fps=plan.fps,
        duration_s=plan.duration_s, width=PROMO_WIDTH, height=PROMO_HEIGHT, encoder=config.name,
        decoder=("cuda compose" if cuda else "cpu") + (f" + {decoder.name}" if decoder is not None else ""),
        timings_s={k: round(v, 4) for k, v in timings.items()},
    )
