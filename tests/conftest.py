"""Shared fixtures: tiny generated media, a frame reader, and the needs_cuda marker."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest


# Saturated colours as BT.709 limited-range (Y, U, V), from the BT.709 equations on
# 100 % R'G'B' primaries: a layout test on them also sees a matrix or range error.
def _bt709(r: float, g: float, b: float) -> tuple[int, int, int]:
    kr, kb = 0.2126, 0.0722
    y = kr * r + (1 - kr - kb) * g + kb * b
    return round(16 + 219 * y), round(128 + 224 * (b - y) / (2 * (1 - kb))), round(128 + 224 * (r - y) / (2 * (1 - kr)))


RED = _bt709(1, 0, 0)  # (63, 102, 240)
BLUE = _bt709(0, 0, 1)  # (32, 240, 118)
GREEN = _bt709(0, 1, 0)  # (173, 42, 26)
GREY = (128, 128, 128)


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    if has_cuda or os.environ.get("FARM_REQUIRE_CUDA") == "1":
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU (set FARM_REQUIRE_CUDA=1 to make this fail instead)")
    for item in items:
        if "needs_cuda" in item.keywords:
            item.add_marker(skip)


def write_video(
    path: Path,
    frames: list[tuple[float, tuple[int, int, int] | np.ndarray]],
    *,
    width: int,
    height: int,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    time_base: Fraction = Fraction(1, 1000),
    end_s: float | None = None,
    options: dict | None = None,
    fmt: str | None = None,
    bt709: bool = True,
) -> Path:
    """Write (time_s, colour-or-(Y,U,V) planes) frames with exact timestamps (VFR allowed)."""
    out = av.open(str(path), "w", format=fmt)
    rate = 30
    vs = out.add_stream(codec, rate=rate, options=options or ({"crf": "10", "preset": "ultrafast"} if codec == "libx264" else {}))
    vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
    vs.time_base = time_base
    vs.codec_context.time_base = time_base
    if bt709:  # tagged, so the farm keeps the values (untagged SD is read as BT.601)
        vs.codec_context.colorspace = vs.codec_context.color_primaries = vs.codec_context.color_trc = 1
    cw, ch = (width + 1) // 2, (height + 1) // 2
    for t, content in frames:
        frame = av.VideoFrame(width, height, "yuv420p")
        if isinstance(content, tuple):
            planes = (np.full((height, width), content[0], np.uint8), np.full((ch, cw), content[1], np.uint8), np.full((ch, cw), content[2], np.uint8))
        else:
            planes = content
        for i, plane in enumerate(planes):
            dst = frame.planes[i]
            h, w = plane.shape
            np.frombuffer(dst, np.uint8).reshape(-1, dst.line_size)[:h, :w] = plane
        if pix_fmt != "yuv420p":
            frame = frame.reformat(format=pix_fmt)
        if bt709:
            frame.colorspace = 1
        frame.pts = int(round(t / time_base))
        frame.time_base = time_base
        out.mux(vs.encode(frame))
    out.mux(vs.encode(None))
    out.close()
    return path


def flat_clip(path: Path, colour, *, seconds: float, width: int = 320, height: int = 180, fps: int = 30, **kw) -> Path:
    n = int(round(seconds * fps))
    return write_video(path, [(i / fps, colour) for i in range(n)], width=width, height=height, **kw)


def read_frames(path: Path) -> list[np.ndarray]:
    """All frames as (H*3/2, W) yuv420p arrays."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="yuv420p") for f in c.decode(video=0)]


def planes_of(frame: np.ndarray, width: int, height: int):
    y = frame[:height]
    u = frame[height : height + height // 4].reshape(height // 2, width // 2)
    v = frame[height + height // 4 :].reshape(height // 2, width // 2)
    return y, u, v


def region_yuv(frame: np.ndarray, *, width: int, height: int, x: int, y: int, w: int, h: int) -> tuple[float, float, float]:
    """Mean (Y, U, V) of a canvas rectangle, from a (H*3/2, W) yuv420p frame."""
    from frames import region_means

    return region_means(planes_of(frame, width, height), (x, y, w, h))


def tone_level(samples: np.ndarray, rate: int, hz: float) -> float:
    """How far a tone at ``hz`` stands above the spectrum's mean (a clean tone: hundreds)."""
    mono = samples.mean(axis=0)
    spec = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    freqs = np.fft.rfftfreq(len(mono), 1 / rate)
    band = (freqs > hz - 8) & (freqs < hz + 8)
    return float(spec[band].max() / (spec.mean() + 1e-9))


def close_to(actual, expected, tol: float = 6.0) -> bool:
    """Region means within ``tol`` of the expected colour (frames.matches, tolerance mode)."""
    from frames import matches

    return matches(actual, expected, mode="tolerance", tol=tol)


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Path:
    """A folder of small inputs shared by the render tests."""
    root = tmp_path_factory.mktemp("media")
    flat_clip(root / "red.mp4", RED, seconds=1.0)
    flat_clip(root / "blue.mp4", BLUE, seconds=1.0)
    flat_clip(root / "green_tall.mp4", GREEN, seconds=1.0, width=180, height=320)
    return root


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    """The ffmpeg binary from imageio-ffmpeg, used only to build fixtures PyAV cannot."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_farm(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the CLI in a subprocess, as a user would (``env`` adds to the environment)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "farm", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=full_env
    )


@pytest.fixture(scope="session")
def library_media(tmp_path_factory) -> dict[str, Path]:
    """Small files for library tests: two sources, a template, a music track, an image, junk."""
    from farm.samples import make_audio

    root = tmp_path_factory.mktemp("library")
    out = {
        "src1": flat_clip(root / "src1.mp4", RED, seconds=1.0),
        "src2": flat_clip(root / "src2.mp4", BLUE, seconds=1.0, width=180, height=320),
        "tpl": flat_clip(root / "tpl.mp4", GREEN, seconds=0.5, width=180, height=320),
        "music": make_audio(root / "music.m4a", seconds=2.0, hz=440.0) or root / "music.m4a",
        "junk": root / "junk.mp4",
        "image": root / "product.png",
    }
    out["junk"].write_bytes(b"this is not a video" * 10)
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 30, 30)).save(out["image"])
    return out
