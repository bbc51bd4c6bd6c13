"""Synthetic sample media (moving pictures with film grain, tones) for demos, benchmarks and tests."""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def _tone(n: int, *, start: int, hz: float, rate: int, channels: int) -> np.ndarray:
    t = (np.arange(start, start + n) / rate).astype(np.float64)
    wave = 0.25 * np.sin(2 * math.pi * hz * t) * (0.6 + 0.4 * np.sin(2 * math.pi * 0.5 * t))
    return np.repeat(wave[None, :].astype(np.float32), channels, axis=0)


# Bars for `make_video(bars=True)`: 8-bit R'G'B' (75 % SMPTE, then 100 % primaries), and
# two luma-only patches at the ends of the code range.
_BARS_RGB = (
    (191, 191, 191), (191, 191, 0), (0, 191, 191), (0, 191, 0), (191, 0, 191), (191, 0, 0), (0, 0, 191),
    (255, 0, 0), (0, 255, 0), (0, 0, 255),
)  # fmt: skip
_SUPER_WHITE, _SUPER_BLACK = 254, 1


def _bar_band(width: int, height: int) -> tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(first row, (Y, U, V)) of a band of bars over the middle third, BT.709 limited range."""
    kr, kb = 0.2126, 0.0722
    top = (height // 3) & ~1
    rows = (height // 3) & ~1
    cols = len(_BARS_RGB) + 2
    y = np.empty((rows, width), np.int16)
    u = np.empty((rows // 2, (width + 1) // 2), np.uint8)
    v = np.empty_like(u)
    for i in range(cols):
        x0, x1 = i * width // cols & ~1, (i + 1) * width // cols & ~1 if i < cols - 1 else width
        if i < len(_BARS_RGB):
            r, g, b = (c / 255 for c in _BARS_RGB[i])
            luma = kr * r + (1 - kr - kb) * g + kb * b
            y[:, x0:x1] = round(16 + 219 * luma)
            u[:, x0 // 2 : (x1 + 1) // 2] = round(128 + 224 * (b - luma) / (2 * (1 - kb)))
            v[:, x0 // 2 : (x1 + 1) // 2] = round(128 + 224 * (r - luma) / (2 * (1 - kr)))
        else:
            y[:, x0:x1] = _SUPER_WHITE if i == len(_BARS_RGB) else _SUPER_BLACK
            u[:, x0 // 2 : (x1 + 1) // 2] = 128
            v[:, x0 // 2 : (x1 + 1) // 2] = 128
    return top, (y, u, v)


def _moving_picture(phase: float, xx: np.ndarray, yy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Y as int16, U, V) of the gradient and disc at ``phase`` (0..1) of their loop, on the grid ``xx``, ``yy``."""
    height, width = xx.shape
    base = 40 + 150 * (xx / max(1, width - 1)) * 0.6 + 60 * (yy / max(1, height - 1))
    base += 25 * np.sin(2 * math.pi * (xx / max(1, width) * 2 + phase))
    cx = width * (0.2 + 0.6 * (0.5 + 0.5 * math.sin(2 * math.pi * phase)))
    cy = height * (0.3 + 0.4 * (0.5 + 0.5 * math.cos(2 * math.pi * phase)))
    r = min(width, height) * 0.18
    disc = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
    base[disc] = 200
    ch, cw = (height + 1) // 2, (width + 1) // 2
    u = np.full((ch, cw), 128 + int(30 * math.sin(2 * math.pi * phase)), np.uint8)
    v = np.full((ch, cw), 128 + int(30 * math.cos(2 * math.pi * phase)), np.uint8)
    return base.astype(np.int16), u, v


def _yuv420p_frame(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> av.VideoFrame:
    """A yuv420p frame holding the three uint8 planes (rows copied past each plane's padding)."""
    height, width = y.shape
    frame = av.VideoFrame(width, height, "yuv420p")
    for idx, plane in enumerate((y, u, v)):
        dst = frame.planes[idx]
        h, w = plane.shape
        np.frombuffer(dst, np.uint8).reshape(-1, dst.line_size)[:h, :w] = plane
    return frame


def _tone_frame(start: int, stop: int, *, hz: float, rate: int, channels: int, layout: str) -> av.AudioFrame:
    """Samples [start, stop) of the test tone as one planar-float audio frame, stamped at ``start``."""
    af = av.AudioFrame.from_ndarray(_tone(stop - start, start=start, hz=hz, rate=rate, channels=channels),
                                    format="fltp", layout=layout)
    af.sample_rate = rate
    af.pts = start
    af.time_base = Fraction(1, rate)
    return af


def make_video(
    path: str | os.PathLike,
    *,
    width: int,
    height: int,
    seconds: float,
    fps: int = 30,
    seed: int = 0,
    grain: int = 8,
    color: tuple[int, int, int] | None = None,
    audio_hz: float | None = None,
    audio_rate: int = 48_000,
    audio_channels: int = 2,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    crf: int = 20,
    bars: bool = False,
) -> Path:
    """Write a deterministic test video: a moving gradient and disc under film grain.

    ``color`` paints a flat (Y, U, V) frame instead (for layout tests); ``grain`` is the
    grain amplitude in luma steps, so the picture does not compress trivially;
    ``audio_hz`` adds a stereo tone. ``bars`` lays saturated colour bars (75 % SMPTE,
    100 % primaries, super-white and super-black codes) over the middle third and tags
    the file BT.709, so a comparison can see a colour error, not just a shape error.
    """
    path = Path(path)
    rng = np.random.default_rng(seed)
    n = max(1, int(round(seconds * fps)))
    out = av.open(os.fspath(path), "w")
    try:
        opts = {"crf": str(crf), "preset": "ultrafast"} if codec in ("libx264", "libx265") else {}
        vs = out.add_stream(codec, rate=fps, options=opts)
        vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
        vs.time_base = Fraction(1, fps)
        if bars:
            cc = vs.codec_context
            cc.colorspace = cc.color_primaries = cc.color_trc = 1  # BT.709
            cc.color_range = 1
        band = _bar_band(width, height) if bars else None
        astream = None
        if audio_hz is not None:
            astream = out.add_stream("aac", rate=audio_rate)
            astream.layout = "stereo" if audio_channels == 2 else ("mono" if audio_channels == 1 else "5.1")
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        field = rng.integers(-grain, grain + 1, size=(height + 64, width + 64), dtype=np.int16) if grain else None
        ch, cw = (height + 1) // 2, (width + 1) // 2
        samples_done = 0
        for i in range(n):
            if color is not None:
                y = np.full((height, width), color[0], np.int16)
                u = np.full((ch, cw), color[1], np.uint8)
                v = np.full((ch, cw), color[2], np.uint8)
            else:
                y, u, v = _moving_picture(i / max(1, n), xx, yy)
            lo, hi = 16, 235
            if band is not None:  # the bars replace the picture in the middle third
                top, (by, bu, bv) = band
                y[top : top + by.shape[0]] = by
                u, v = u.copy(), v.copy()
                u[top // 2 : top // 2 + bu.shape[0]] = bu
                v[top // 2 : top // 2 + bv.shape[0]] = bv
                lo, hi = 0, 255  # the super-white and super-black bars use the full code range
            if field is not None:
                oy, ox = rng.integers(0, 64, size=2)
                y = y + field[oy : oy + height, ox : ox + width]
            frame = _yuv420p_frame(np.clip(y, lo, hi).astype(np.uint8), u, v)
            if pix_fmt != "yuv420p":
                frame = frame.reformat(format=pix_fmt)
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(vs.encode(frame))
            if astream is not None:  # the tone up to this frame's end
                upto = int(round((i + 1) * audio_rate / fps))
                out.mux(astream.encode(_tone_frame(samples_done, upto, hz=audio_hz, rate=audio_rate,
                                                   channels=audio_channels, layout=astream.layout.name)))
                samples_done = upto
        out.mux(vs.encode(None))
        if astream is not None:
            out.mux(astream.encode(None))
    finally:
        out.close()
    return path


def make_audio(
    path: str | os.PathLike, *, seconds: float, hz: float = 440.0, rate: int = 44_100, channels: int = 2
) -> Path:
    """Write a tone as an audio-only file (AAC in .m4a, MP3, WAV...: chosen by extension)."""
    path = Path(path)
    out = av.open(os.fspath(path), "w")
    try:
        codec = {".wav": "pcm_s16le", ".mp3": "libmp3lame", ".ogg": "libvorbis", ".flac": "flac"}.get(path.suffix, "aac")
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "stereo" if channels == 2 else "mono"
        total = int(seconds * rate)
        step = 1152
        fmt = stream.format.name if stream.format is not None else "fltp"
        resampler = av.AudioResampler(format=fmt, layout=stream.layout.name, rate=rate, frame_size=step)
        for start in range(0, total, step):
            k = min(step, total - start)
            tone = _tone(k, start=start, hz=hz, rate=rate, channels=channels)
            frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout=stream.layout.name)
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for f in resampler.resample(frame):
                out.mux(stream.encode(f))
        for f in resampler.resample(None):
            out.mux(stream.encode(f))
        out.mux(stream.encode(None))
    finally:
        out.close()
    return path


def make_product_image(path: str | Path, *, width: int, height: int, seed: int, label: str = "") -> Path:
    """A product-photo-like still: a soft studio gradient, a rounded product shape with a
    highlight and a shadow, a label on it; JPEG, PNG or WebP by the suffix."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    top, bottom = rng.integers(170, 240, 3), rng.integers(60, 140, 3)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    bg = (top * (1 - ramp) + bottom * ramp) * np.ones((1, width, 1), np.float32)
    bg += rng.normal(0, 2.0, bg.shape)
    img = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8))
    w, h = int(width * 0.46), int(height * 0.5)
    x0, y0 = (width - w) // 2, (height - h) // 2
    shadow = Image.new("L", (width, height), 0)
    ImageDraw.Draw(shadow).ellipse((x0, y0 + h - h // 10, x0 + w, y0 + h + h // 10), fill=120)
    img.paste((20, 20, 20), mask=shadow.filter(ImageFilter.GaussianBlur(width // 60)))
    colour = tuple(int(c) for c in rng.integers(40, 220, 3))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((x0, y0, x0 + w, y0 + h), radius=w // 5, fill=colour)
    d.rounded_rectangle((x0 + w // 8, y0 + h // 12, x0 + w // 4, y0 + h - h // 12), radius=w // 16,
                        fill=tuple(min(255, c + 60) for c in colour))
    if label:
        from farm.render import load_font

        font = load_font(max(12, width // 14), role="title")
        d.text((width // 2, y0 + h // 2), label, font=font, fill=(255, 255, 255), anchor="mm",
               stroke_width=max(1, width // 300), stroke_fill=(0, 0, 0))
    path = Path(path)
    img.save(path, quality=90) if path.suffix.lower() in (".jpg", ".jpeg") else img.save(path)
    return path
