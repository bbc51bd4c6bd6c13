"""One mashup: probe, plan the timeline, then decode -> compose -> encode -> mux, frame by frame."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import kernels
from farm.errors import InputError
from farm.jobs import MashupSpec, RenderResult
from farm.media import (
    SAMPLE_RATE,
    AudioClip,
    EncoderConfig,
    MediaInfo,
    Mp4Muxer,
    VideoDecoder,
    VideoEncoder,
    build_soundtrack,
    choose_decoder,
    choose_encoder,
    open_encoder,
    probe,
    sha256_file,
)
from farm.render._cache import RenderCache
from farm.render._timeline import Placement, plan_timeline
from farm.render._tracks import TEMPLATE_CACHE_BYTES, BoxPainter, MainTrack, TemplateTrack

# GPU path: output frames composed per batch (one fade call over the batch)
COMPOSE_BATCH = 8

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class MashupPlan:
    """What the frame loop needs to know before it starts."""

    mains: list[MediaInfo]
    template: MediaInfo
    placements: list[Placement]
    crossfade_s: float
    fps: int
    frames: int
    geo: kernels.LayoutGeometry

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps

    @property
    def tolerance_s(self) -> float:
        return 0.5 / self.fps


def plan_mashup(spec: MashupSpec) -> MashupPlan:
    """Probe every input (a bad one is an InputError naming it) and lay out the timeline."""
    if Path(spec.output).suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise InputError(f"{spec.output}: output must be an .mp4 file")
    mains = [probe(p, need_video=True) for p in spec.mains]
    template = probe(spec.template, need_video=True)
    if spec.music is not None:
        probe(spec.music, need_audio=True)
    placements, duration_s, xfade = plan_timeline(mains, duration_s=spec.duration_s, fade_s=spec.fade_s)
    fps = int(spec.fps)
    return MashupPlan(mains, template, placements, xfade, fps, max(1, int(round(duration_s * fps))),
                      kernels.layout_geometry(spec.layout))


def encoder_config(spec: MashupSpec, *, threads: int | None, device: str = "cpu") -> EncoderConfig:
    config = choose_encoder(spec.encoder, preset=spec.preset, crf=spec.crf, device=device)
    if threads and config.name == "libx264":
        config = dataclasses.replace(config, options={**config.options, "threads": str(int(threads))})
    return config


def start_soundtrack(spec: MashupSpec, plan: MashupPlan, cache: RenderCache | None) -> Future:
    """Build the soundtrack on its own thread; the future's result is (samples, seconds)."""

    def build() -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        last = len(plan.placements) - 1
        clips = [
            AudioClip(
                p.info.path if p.info.has_audio else None, origin_s=p.info.start_s, start_s=p.start_s,
                duration_s=p.duration_s, fade_in_s=plan.crossfade_s if i > 0 else 0.0,
                fade_out_s=plan.crossfade_s if i < last else 0.0,
            )
            for i, p in enumerate(plan.placements)
        ]
        samples = build_soundtrack(
            clips, duration_s=plan.duration_s, music_path=spec.music, music_volume=spec.music_volume,
            fade_s=spec.fade_s, decode_music=cache.music if cache is not None else None,
        )
        return samples, time.perf_counter() - t0

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="soundtrack")
    future = pool.submit(build)
    pool.shutdown(wait=False)
    return future


class AudioFeed:
    """Hands the soundtrack to the muxer as the picture advances: nothing until it is ready
    (the muxer interleaves by timestamp), then up to the current frame; all of it at the end."""

    def __init__(self, soundtrack: Future, muxer: Mp4Muxer, plan: MashupPlan) -> None:
        self._future, self._muxer, self._plan = soundtrack, muxer, plan
        self._samples: np.ndarray | None = None
        self._written = 0
        self.seconds = 0.0

    def feed(self, frames_done: int) -> None:
        last = frames_done >= self._plan.frames
        if self._samples is None:
            if not (last or self._future.done()):
                return
            self._samples, self.seconds = self._future.result()  # re-raises a failed build
        upto = self._samples.shape[1] if last else int(frames_done * SAMPLE_RATE / self._plan.fps)
        if upto > self._written:
            self._muxer.write_audio(self._samples[:, self._written : upto])
            self._written = upto


class Compositor:
    """Paints one output frame: the mains (crossfading), the template, the overlays, the fades."""

    def __init__(self, spec: MashupSpec, plan: MashupPlan, *, device: str = "cpu") -> None:
        from farm.render._text import mashup_overlays

        geo = plan.geo
        self._plan, self._fade_s = plan, spec.fade_s
        self._main = BoxPainter(geo.main, fit=spec.fit)
        self._template = BoxPainter(geo.template, fit=spec.fit)
        self._scratch = kernels.new_planes(width=geo.main.width, height=geo.main.height, device=device)
        # overlays are converted once and live where the canvas is
        self._overlays = [(ov.to(device), x, y)
                          for ov, x, y in mashup_overlays(geo, caption=spec.caption, attribution=spec.attribution)]

    def paint(self, canvas: kernels.Planes, t: float, mains: list, template_frame, *, fade: bool = True) -> None:
        geo = self._plan.geo
        main_dst = kernels.region(canvas, geo.main)
        self._main.paint(main_dst, mains[0][0])
        if len(mains) > 1:
            incoming, weight = mains[1]
            self._main.paint(self._scratch, incoming)
            kernels.crossfade(main_dst, self._scratch, weight=weight, out=main_dst)
        self._template.paint(kernels.region(canvas, geo.template), template_frame)
        for ov, x, y in self._overlays:
            kernels.alpha_overlay(canvas, ov, x=x, y=y)
        if fade:
            level = self.level(t)
            if level < 1.0:
                kernels.fade_to_black(canvas, level=level)

    def level(self, t: float) -> float:
        return kernels.fade_level(t, duration_s=self._plan.duration_s, fade_s=self._fade_s)


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
    plan = plan_mashup(spec)
    decoder = decoder or choose_decoder(spec.decoder, threads=threads or 0)
    # frames that are tensors on a device are composed there (the GPU path)
    device = str(decoder.device) if getattr(decoder, "on_device", False) else None
    config = encoder_config(spec, threads=threads, device=device or "cpu")
    timings = {"probe": time.perf_counter() - t0, "wait_decode": 0.0, "compose": 0.0, "encode": 0.0}
    soundtrack = start_soundtrack(spec, plan, cache)
    muxer = Mp4Muxer(spec.output, fps=plan.fps)
    mains = MainTrack(plan.placements, decoder, box=plan.geo.main, fit=spec.fit, crossfade_s=plan.crossfade_s,
                      tolerance_s=plan.tolerance_s)
    template = encoder = None
    try:
        template = TemplateTrack(plan.template, decoder, box=plan.geo.template, fit=spec.fit,
                                 duration_s=plan.duration_s, tolerance_s=plan.tolerance_s, cache=cache,
                                 cache_bytes=template_cache_bytes)
        mains.open_due(0.0)
        # Decoders and the soundtrack are under way: now pay for torch's import.
        import torch

        # Codec threads already fill the cores; torch's own pool would only contend (on the
        # GPU path too: its CPU copies into the encoder's frames would wake a spinning pool).
        torch.set_num_threads(1)
        if device is not None and device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats(device)
        encoder = open_encoder(config, width=plan.geo.width, height=plan.geo.height, fps=plan.fps, device=device,
                               preset=spec.preset, crf=spec.crf)
        compositor = Compositor(spec, plan, device=device or "cpu")
        audio = AudioFeed(soundtrack, muxer, plan)
        if device is None:
            for n in range(plan.frames):
                _frame(n, plan, mains, template, compositor, encoder, muxer, audio, timings)
                if progress is not None:
                    progress(n + 1, plan.frames)
        else:
            batch = kernels.new_planes(width=plan.geo.width, height=plan.geo.height, device=device,
                                       frames=COMPOSE_BATCH)
            for start in range(0, plan.frames, COMPOSE_BATCH):
                _frames_on_device(start, batch, plan, mains, template, compositor, encoder, muxer, audio, timings)
                if progress is not None:
                    progress(min(start + COMPOSE_BATCH, plan.frames), plan.frames)
        tf = time.perf_counter()
        muxer.write_video(encoder.flush())
        audio.feed(plan.frames)
        muxer.commit()
        timings["finish"] = time.perf_counter() - tf
    except BaseException:
        muxer.abort()
        raise
    finally:
        mains.close()
        if template is not None:
            template.close()
        if encoder is not None:
            encoder.close()
    timings["audio"] = audio.seconds
    timings["total"] = time.perf_counter() - t0
    peak = 0
    if device is not None and device.startswith("cuda"):
        import torch

        peak = int(torch.cuda.max_memory_allocated(device))
    return _result(spec, plan, config, decoder, timings, gpu_peak_bytes=peak)


def _frame(n: int, plan: MashupPlan, mains: MainTrack, template: TemplateTrack, compositor: Compositor,
           encoder: VideoEncoder, muxer: Mp4Muxer, audio: AudioFeed, timings: dict[str, float]) -> None:
    """One output frame: wait for its inputs, compose, encode and mux (with the sound so far)."""
    t = n / plan.fps
    tw = time.perf_counter()
    shown = mains.at(t)
    template_frame = template.at(t)
    tc = time.perf_counter()
    canvas_frame, canvas = encoder.new_canvas()
    compositor.paint(canvas, t, shown, template_frame)
    te = time.perf_counter()
    muxer.write_video(encoder.encode(canvas_frame))
    audio.feed(n + 1)
    timings["wait_decode"] += tc - tw
    timings["compose"] += te - tc
    timings["encode"] += time.perf_counter() - te


def _frames_on_device(start: int, batch: kernels.Planes, plan: MashupPlan, mains: MainTrack,
                      template: TemplateTrack, compositor: Compositor, encoder: VideoEncoder, muxer: Mp4Muxer,
                      audio: AudioFeed, timings: dict[str, float]) -> None:
    """Up to ``COMPOSE_BATCH`` output frames on the device: painted into one batch, faded by one
    kernel call over the batch, then handed to the encoder's canvases (a device-to-device copy
    each) in order. Nothing here waits for the device: the encoder's ring does, frames later."""
    n = min(COMPOSE_BATCH, plan.frames - start)
    times = [(start + k) / plan.fps for k in range(n)]
    tw = time.perf_counter()
    inputs = [(mains.at(t), template.at(t)) for t in times]
    tc = time.perf_counter()
    for k, (t, (shown, template_frame)) in enumerate(zip(times, inputs)):
        compositor.paint(batch.frame(k), t, shown, template_frame, fade=False)
    levels = [compositor.level(t) for t in times]
    if min(levels) < 1.0:
        kernels.fade_frames_to_black(kernels.Planes(*(p[:n] for p in batch)), levels=levels)
    timings["wait_decode"] += tc - tw
    timings["compose"] += time.perf_counter() - tc
    for k in range(n):
        te = time.perf_counter()
        slot, canvas = encoder.new_canvas()
        kernels.copy_into(canvas, batch.frame(k))
        muxer.write_video(encoder.encode(slot))
        audio.feed(start + k + 1)
        timings["encode"] += time.perf_counter() - te


def _result(spec: MashupSpec, plan: MashupPlan, config: EncoderConfig, decoder: VideoDecoder,
            timings: dict[str, float], *, gpu_peak_bytes: int = 0) -> RenderResult:
    output = Path(spec.output)
    return RenderResult(
        path=str(output),
        size_bytes=output.stat().st_size,
        sha256=sha256_file(output),
        frames=plan.frames,
        fps=plan.fps,
        duration_s=plan.duration_s,
        width=plan.geo.width,
        height=plan.geo.height,
        encoder=config.name,
        decoder=decoder.name,
        timings_s={k: round(v, 4) for k, v in timings.items()},
        notes=tuple(getattr(decoder, "notes", ())),
        gpu_peak_bytes=gpu_peak_bytes,
    )
