"""Colour-bar fixtures from first principles: RGB bars encoded with each source's own equations.

Nothing here imports the farm: the Y'CbCr of every input is computed with numpy from the
RGB bars and the matrix, range, primaries and transfer of the variant, written with PyAV
straight into the encoder's planes (no libswscale), and the expected output is the BT.709
limited-range Y'CbCr of the same RGB, from the BT.709 equations.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


# 75 % SMPTE bars (8-bit R'G'B'), then black: each colour fills a vertical stripe.
BARS = (
    ("white75", (191, 191, 191)),
    ("yellow", (191, 191, 0)),
    ("cyan", (0, 191, 191)),
    ("green", (0, 191, 0)),
    ("magenta", (191, 0, 191)),
    ("red", (191, 0, 0)),
    ("blue", (0, 0, 191)),
    ("black", (0, 0, 0)),
)
K = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114), "bt2020": (0.2627, 0.0593)}
# AVColorSpace / AVColorPrimaries / AVColorTransferCharacteristic codes
TAGS = {
    "bt709": (1, 1, 1),
    "bt601": (6, 6, 6),  # smpte170m (525 lines)
    "bt601-625": (5, 5, 6),  # bt470bg (625 lines)
    "bt2020": (9, 9, 14),  # bt2020nc, bt2020, bt2020-10
    "hlg": (9, 9, 18),
    "pq": (9, 9, 16),
}
# Linear BT.709 RGB -> linear BT.2020 RGB (ITU-R BT.2087).
BT709_TO_BT2020 = np.array(
    [[0.6274040, 0.3292820, 0.0433136], [0.0690970, 0.9195400, 0.0113612], [0.0163916, 0.0880132, 0.8955950]]
)


def ycbcr(rgb: np.ndarray, matrix: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised Y' in [0, 1], Cb and Cr in [-0.5, 0.5] from R'G'B' in [0, 1]."""
    kr, kb = K[matrix]
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = kr * r + (1 - kr - kb) * g + kb * b
    return y, (b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))


def codes(y, cb, cr, *, full: bool, bits: int):
    s = float(1 << (bits - 8))
    if full:
        top = (1 << bits) - 1
        return y * top, cb * top + 128 * s, cr * top + 128 * s
    return 16 * s + 219 * s * y, 128 * s + 224 * s * cb, 128 * s + 224 * s * cr


def expected_bt709(rgb8) -> tuple[float, float, float]:
    """The BT.709 limited-range (Y, Cb, Cr) of an 8-bit R'G'B' colour."""
    y, cb, cr = ycbcr(np.asarray(rgb8, float) / 255.0, "bt709")
    return tuple(float(v) for v in codes(y, cb, cr, full=False, bits=8))  # type: ignore[return-value]


def bt709_oetf(x):
    x = np.clip(x, 0, 1)
    return np.where(x < 0.018, 4.5 * x, 1.099 * np.power(x, 0.45) - 0.099)


def bt709_inverse_oetf(e):
    e = np.clip(e, 0, 1)
    return np.where(e < 0.081, e / 4.5, np.power((e + 0.099) / 1.099, 1 / 0.45))


def bars_rgb(width: int, height: int) -> np.ndarray:
    """(H, W, 3) float R'G'B' in [0, 1]: the bars as vertical stripes."""
    img = np.zeros((height, width, 3))
    for i, (_, rgb) in enumerate(BARS):
        x0, x1 = i * width // len(BARS), (i + 1) * width // len(BARS)
        img[:, x0:x1] = np.asarray(rgb) / 255.0
    return img


def bar_boxes(width: int, height: int, *, margin: float = 0.25):
    """Inner rectangles (x, y, w, h) of each bar in a width x height picture."""
    out = []
    for i in range(len(BARS)):
        x0, x1 = i * width / len(BARS), (i + 1) * width / len(BARS)
        bw = x1 - x0
        out.append((int(x0 + bw * margin), int(height * margin), max(1, int(bw * (1 - 2 * margin))), max(1, int(height * (1 - 2 * margin)))))
    return out


@dataclass(frozen=True)
class Variant:
    """One way of storing the bars: matrix, range, tags, size, depth, codec."""

    name: str
    width: int
    height: int
    matrix: str = "bt709"
    full: bool = False
    tags: str | None = None  # a TAGS key, or None for an untagged file
    bits: int = 8
    codec: str = "libx264"
    wide: bool = False  # store BT.2020 primaries (converted in linear light)


VARIANTS = {
    v.name: v
    for v in (
        Variant("untagged-sd", 640, 360, matrix="bt601"),
        Variant("untagged-hd", 1280, 720, matrix="bt709"),
        Variant("tagged-601", 1280, 720, matrix="bt601", tags="bt601"),  # tags beat the size rule
        Variant("tagged-601-625", 720, 576, matrix="bt601", tags="bt601-625"),
        Variant("tagged-709", 640, 360, matrix="bt709", tags="bt709"),  # tags beat the size rule
        Variant("full-range", 1280, 720, matrix="bt709", full=True, tags="bt709"),
        Variant("full-range-601", 640, 360, matrix="bt601", full=True),  # like a JPEG: yuvj420p
        Variant("bt2020-10bit", 1280, 720, matrix="bt2020", tags="bt2020", bits=10, codec="libx265", wide=True),
        Variant("h264-high10", 1280, 720, matrix="bt709", tags="bt709", bits=10),
        Variant("hevc-main10-untagged", 1280, 720, matrix="bt709", bits=10, codec="libx265"),
        Variant("av1-709-sd", 640, 360, matrix="bt709", tags="bt709", codec="libsvtav1"),
    )
}


def planes_for(rgb: np.ndarray, v: Variant) -> list[np.ndarray]:
    """The variant's Y, Cb, Cr code planes (4:2:0, chroma averaged 2x2) for R'G'B' ``rgb``."""
    if v.wide:
        lin = bt709_inverse_oetf(rgb) @ BT709_TO_BT2020.T
        rgb = bt709_oetf(lin)
    y, cb, cr = ycbcr(rgb, v.matrix)
    h, w = y.shape
    cb = cb.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    cr = cr.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    Y, U, V = codes(y, cb, cr, full=v.full, bits=v.bits)
    top = (1 << v.bits) - 1
    dtype = np.uint16 if v.bits > 8 else np.uint8
    return [np.clip(np.round(p), 0, top).astype(dtype) for p in (Y, U, V)]


def write_planes(path: Path, frames: list[list[np.ndarray]], *, v: Variant, fps: int = 30, x265_params: str = "") -> Path:
    """Encode (nearly) losslessly planes given as code values, tagged as ``v`` says
    (``x265_params`` adds to libx265's, e.g. HDR mastering metadata)."""
    h, w = frames[0][0].shape
    pix_fmt = "yuv420p10le" if v.bits > 8 else ("yuvj420p" if v.full and v.tags is None else "yuv420p")
    with av.open(str(path), "w") as out:
        if v.codec == "libx265":
            opts = {"x265-params": "lossless=1:log-level=error" + (f":{x265_params}" if x265_params else ""), "preset": "ultrafast"}
        elif v.codec == "libx264":
            opts = {"qp": "0", "preset": "ultrafast"}
        elif v.codec == "libsvtav1":
            opts = {"crf": "4", "preset": "10"}
        else:
            opts = {}
        vs = out.add_stream(v.codec, rate=fps, options=opts)
        vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
        vs.time_base = Fraction(1, fps)
        cc = vs.codec_context
        if v.tags is not None:
            cc.colorspace, cc.color_primaries, cc.color_trc = TAGS[v.tags]
        if v.full:
            cc.color_range = 2
        elif v.tags is not None:
            cc.color_range = 1
        for i, planes in enumerate(frames):
            frame = av.VideoFrame(w, h, pix_fmt)
            for k, plane in enumerate(planes):
                dst = frame.planes[k]
                raw = np.frombuffer(dst, np.uint8).reshape(-1, dst.line_size)
                ph, pw = plane.shape
                raw[:ph, : pw * plane.itemsize] = plane.view(np.uint8).reshape(ph, pw * plane.itemsize)
            if v.tags is not None:
                frame.colorspace = TAGS[v.tags][0]
            if v.full:
                frame.color_range = 2
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


def write_bars(path: Path, v: Variant, *, seconds: float = 0.2, fps: int = 30) -> Path:
    planes = planes_for(bars_rgb(v.width, v.height), v)
    return write_planes(path, [planes] * max(1, int(round(seconds * fps))), v=v, fps=fps)


def full_code_range_planes(width: int, height: int) -> list[np.ndarray]:
    """Bars whose codes span 0..255, like ffmpeg's testsrc or a camera: super-black,
    super-white and chroma at both ends, as BT.601 full-range bars read as limited BT.709."""
    rgb = bars_rgb(width, height) * (255 / 191)  # 100 % bars
    y, cb, cr = ycbcr(np.clip(rgb, 0, 1), "bt601")
    h, w = y.shape
    cb = cb.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    cr = cr.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    Y, U, V = codes(y, cb, cr, full=True, bits=8)
    Y[:, : width // len(BARS)] = 255  # the first bar: super-white
    Y[:, -(width // len(BARS)) :] = 0  # the last: super-black
    return [np.clip(np.round(p), 0, 255).astype(np.uint8) for p in (Y, U, V)]


def read_planes(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A yuv420p frame's planes as numpy arrays, read straight from memory (no libswscale)."""
    assert frame.format.name in ("yuv420p", "yuvj420p"), frame.format.name
    out = []
    for k, (w, h) in enumerate(((frame.width, frame.height), (frame.width // 2, frame.height // 2), (frame.width // 2, frame.height // 2))):
        p = frame.planes[k]
        out.append(np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:h, :w].copy())
    return tuple(out)  # type: ignore[return-value]


def first_frame(path: Path, index: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == index:
                return read_planes(f)
    raise AssertionError(f"{path} has no frame {index}")


def set_display_rotation(path: Path, degrees: int) -> Path:
    """Write a display matrix into an MP4's video ``tkhd`` (as phones and ``ffmpeg
    -display_rotation`` do), in place, without an ffmpeg binary: ``degrees`` as that option
    takes them, and the file then reads back as ffmpeg's does. One video track only."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    if at < 0 or data.find(b"tkhd", at + 4) >= 0:
        raise ValueError(f"{path}: expected exactly one tkhd box")
    version = data[at + 4]
    matrix_at = at + 4 + 4 + (32 if version == 1 else 20) + 8 + 8
    one, minus = 0x10000, 0xFFFF0000
    # (a, b, u, c, d, v, x, y, w) in 16.16 (u, v, w in 2.30); FFmpeg's -display_rotation 90 writes
    # a=0 b=-1 c=1 d=0, and 180 writes a=d=-1
    turns = {0: (one, 0, 0, one), 90: (0, minus, one, 0), 180: (minus, 0, 0, minus), 270: (0, one, minus, 0)}
    a, b, c, d = turns[degrees % 360]
    values = (a, b, 0, c, d, 0, 0, 0, 0x40000000)
    data[matrix_at:matrix_at + 36] = b"".join(v.to_bytes(4, "big") for v in values)
    path.write_bytes(bytes(data))
    return path
