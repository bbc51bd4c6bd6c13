"""`farm bench promo`: farm's promo render against the ffmpeg CLI doing a comparable zoompan + xfade
slideshow (same images, music, duration, libx264 settings), alternating in the same run, with a
jitter measure: the frame-to-frame motion of a tracked point in the first image.

The ffmpeg peer is the slideshow recipe people use: each image scaled to cover the frame with
some room, ``zoompan`` zooming in from 1.0 to 1.18 over its segment, ``xfade`` between segments,
the music faded in and out. ``zoompan`` positions its crop in whole pixels of its input, so a
slow zoom moves the picture in steps; farm's pan/zoom samples sub-pixel viewports. farm also
draws its title card, price badge, captions and end card, which the peer does not.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import tempfile
import wave
from pathlib import Path
from typing import TextIO

import av
import numpy as np

from benchmarks.mashup import CRF, FPS, PRESET, farm_exe, ffmpeg_exe, machine_line, run_timed

WIDTH, HEIGHT = 1080, 1920
XFADE_S = 0.6  # farm's crossfade, for the peer too
ZOOM_TO = 1.18
# the tracked point: a green disc in the first image, where no text of the promo goes
DOT_XY = (0.62, 0.55)
DOT_RADIUS = 0.012


def make_images(root: Path, log: TextIO) -> list[Path]:
    """Three photo-like product images of different shapes, the first with the tracked dot."""
    from PIL import Image, ImageDraw, ImageFilter

    out = []
    for k, (w, h) in enumerate(((3000, 4000), (1600, 1200), (2000, 2000))):
        path = root / f"product_{k}_{w}x{h}.jpg"
        out.append(path)
        if path.exists():
            continue
        print(f"generating {path.name}...", file=log)
        rng = np.random.default_rng(k)
        base = np.zeros((h, w, 3), np.float32)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        for c in range(3):
            base[..., c] = 60 + 40 * np.sin(xx / (90 + 30 * c) + k) + 30 * np.cos(yy / (70 + 20 * c))
        base += rng.normal(0, 6, base.shape)
        img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.2))
        d = ImageDraw.Draw(img)
        for _ in range(12):  # a few product-like shapes
            x, y = rng.integers(0, w - w // 5), rng.integers(0, h - h // 5)
            colour = tuple(int(v) for v in rng.integers(80, 220, 3))
            d.rounded_rectangle((x, y, x + w // 6, y + h // 8), radius=w // 60, fill=colour)
        if k == 0:
            r = DOT_RADIUS * w
            cx, cy = DOT_XY[0] * w, DOT_XY[1] * h
            d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(0, 255, 0))
        img.save(path, quality=92)
    return out


def make_music(root: Path, seconds: float) -> Path:
    path = root / f"music_{seconds:g}s.wav"
    if not path.exists():
        rate = 48_000
        t = np.arange(int(seconds * rate)) / rate
        tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes((tone * 32767).astype("<i2").tobytes())
    return path


def product_file(root: Path, images: list[Path]) -> Path:
    import yaml

    path = root / "product.yaml"
    path.write_text(yaml.safe_dump({
        "name": "Bình giữ nhiệt inox 500ml", "price": 259000, "currency": "VND", "images": [str(i) for i in images],
        "selling_points": ["Giữ nóng 12 giờ, giữ lạnh 24 giờ", "Inox 304 an toàn", "Nắp chống tràn"],
        "call_to_action": "Mua ngay", "language": "vi", "platforms": ["tiktok"],
    }, allow_unicode=True), encoding="utf-8")
    return path


def segments(n: int, duration_s: float) -> tuple[float, list[float]]:
    """Segment length and xfade offsets: n segments overlapping by XFADE_S fill the duration."""
    seg = (duration_s + (n - 1) * XFADE_S) / n
    return seg, [(k + 1) * (seg - XFADE_S) for k in range(n - 1)]


def ffmpeg_cmd(exe: str, images: list[Path], music: Path, out: Path, duration_s: float) -> list[str]:
    seg, offsets = segments(len(images), duration_s)
    frames = int(math.ceil(seg * FPS))
    step = (ZOOM_TO - 1.0) / frames
    cmd = [exe, "-v", "error", "-y"]
    for img in images:
        cmd += ["-loop", "1", "-framerate", str(FPS), "-t", f"{seg:.4f}", "-i", str(img)]
    cmd += ["-i", str(music)]
    # cover the frame with 25 % room, then zoom in from the centre over the segment
    cw, ch = int(WIDTH * 1.25) & ~1, int(HEIGHT * 1.25) & ~1
    parts = [
        f"[{k}:v]scale={cw}:{ch}:force_original_aspect_ratio=increase,crop={cw}:{ch},"
        f"zoompan=z='min(zoom+{step:.6f},{ZOOM_TO})':d={frames}:x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'"
        f":s={WIDTH}x{HEIGHT}:fps={FPS},format=yuv420p,setsar=1[v{k}]"
        for k in range(len(images))
    ]
    last = "v0"
    for k, off in enumerate(offsets, start=1):
        parts.append(f"[{last}][v{k}]xfade=transition=fade:duration={XFADE_S}:offset={off:.4f}[x{k}]")
        last = f"x{k}"
    parts.append(f"[{last}]trim=duration={duration_s},fade=t=in:d=0.3,fade=t=out:st={duration_s - 0.5}:d=0.5[v]")
    a = len(images)
    parts.append(f"[{a}:a]aloop=loop=-1:size=2e9,atrim=duration={duration_s},afade=t=in:d=0.5,"
                 f"afade=t=out:st={duration_s - 1.5}:d=1.5[a]")
    cmd += ["-filter_complex", ";".join(parts), "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", PRESET,
            "-crf", str(CRF), "-pix_fmt", "yuv420p", "-r", str(FPS), "-c:a", "aac", "-b:a", "128k",
            "-t", f"{duration_s}", str(out)]
    return cmd


def farm_cmd(product: Path, music: Path, out: Path, duration_s: float) -> list[str]:
    return [*farm_exe(), "promo", str(product), "-o", str(out), "--duration", f"{duration_s:g}", "--music", str(music),
            "--no-ai", "--no-voice", "-q"]


def track_point(path: Path, *, start_s: float, end_s: float) -> list[tuple[float, float]]:
    """The green disc's centroid (sub-pixel) in each frame between ``start_s`` and ``end_s``."""
    out = []
    with av.open(str(path)) as c:
        for n, frame in enumerate(c.decode(video=0)):
            t = n / FPS
            if t < start_s:
                continue
            if t >= end_s:
                break
            yuv = frame.to_ndarray(format="yuv420p")
            u = yuv[HEIGHT:HEIGHT + HEIGHT // 4].reshape(HEIGHT // 2, WIDTH // 2).astype(np.float32)
            v = yuv[HEIGHT + HEIGHT // 4:].reshape(HEIGHT // 2, WIDTH // 2).astype(np.float32)
            # pure green is far below neutral in both chroma planes; weight by how far
            w = np.clip(128 - u - 40, 0, None) * np.clip(128 - v - 40, 0, None)
            if w.sum() < 1e3:
                continue
            ys, xs = np.mgrid[0:HEIGHT // 2, 0:WIDTH // 2]
            out.append((float((xs * w).sum() / w.sum() * 2), float((ys * w).sum() / w.sum() * 2)))
    return out


def jitter_px(points: list[tuple[float, float]]) -> float | None:
    """RMS of the trajectory's second difference (px per frame squared): smooth motion, even
    eased, is near 0; whole-pixel steps make it jump."""
    if len(points) < 5:
        return None
    p = np.asarray(points)
    d2 = p[2:] - 2 * p[1:-1] + p[:-2]
    return float(np.sqrt((d2 ** 2).sum(axis=1).mean()))


def run_promo_bench(*, seconds: float = 20.0, rounds: int = 2, workdir: str | None = None,
                    log: TextIO = sys.stderr) -> dict:
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="farm-bench-promo-"))
    root.mkdir(parents=True, exist_ok=True)
    images = make_images(root, log)
    music = make_music(root, 8.0)
    product = product_file(root, images)
    exe = ffmpeg_exe()
    frames = int(round(seconds * FPS))
    outs = {"farm promo": root / "out_farm.mp4", "ffmpeg zoompan+xfade": root / "out_ffmpeg.mp4"}
    times: dict[str, list[float]] = {k: [] for k in outs}
    for r in range(rounds):
        order = list(outs) if r % 2 == 0 else list(outs)[::-1]
        for name in order:
            cmd = (farm_cmd(product, music, outs[name], seconds) if name == "farm promo"
                   else ffmpeg_cmd(exe, images, music, outs[name], seconds))
            dt = run_timed(cmd)
            times[name].append(dt)
            print(f"round {r + 1}: {name}: {dt:.2f} s ({frames / dt:.1f} fps)", file=log)
    seg, _ = segments(len(images), seconds)
    window = (1.0, seg - XFADE_S - 0.1)  # the first image, after the fade-in, before the crossfade
    rows = []
    for name, out in outs.items():
        wall = statistics.median(times[name])
        pts = track_point(out, start_s=window[0], end_s=window[1])
        rows.append({"tool": name, "seconds": round(wall, 2), "fps": round(frames / wall, 1),
                     "jitter_px": None if jitter_px(pts) is None else round(jitter_px(pts), 3),
                     "tracked_frames": len(pts)})
    farm, peer = rows
    report = {
        "machine": machine_line(),
        "inputs": f"3 JPEG product photos (3000x4000, 1600x1200, 2000x2000), {seconds:g} s, music",
        "settings": f"1080x1920 at {FPS} fps, libx264 {PRESET} crf {CRF}, AAC; zoom 1.0 -> {ZOOM_TO}, "
                    f"crossfade {XFADE_S} s",
        "rounds": rounds,
        "results": rows,
        "throughput_vs_ffmpeg": round(farm["fps"] / peer["fps"], 2),
        "workdir": str(root),
    }
    report["table"] = "\n".join([
        f"machine: {report['machine']}",
        f"inputs: {report['inputs']}; {report['settings']}; median of {rounds} alternating rounds",
        "",
        "| tool | seconds | fps | vs ffmpeg | jitter (px/frame², RMS) | frames tracked |",
        "|---|---:|---:|---:|---:|---:|",
        *[f"| {r['tool']} | {r['seconds']} | {r['fps']} | {round(r['fps'] / peer['fps'], 2)}x | {r['jitter_px']} | "
          f"{r['tracked_frames']} |" for r in rows],
    ])
    (root / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return report
