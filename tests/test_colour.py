"""Colour that can fail: bars in every storage the farm meets, checked against the BT.709
equations and against what the ffmpeg CLI renders from the same inputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from colourbars import (
    BARS,
    VARIANTS,
    Variant,
    bar_boxes,
    expected_bt709,
    first_frame,
    full_code_range_planes,
    read_planes,
    write_bars,
    write_planes,
)
from farm.jobs import MashupSpec
from farm.render import render_mashup
from frames import difference, region_means
from kernels import fit_geometry, layout_geometry

GEO = layout_geometry("vertical")
FULL_CODES = Variant("full-code-range", 1080, 1920, matrix="bt709")


@pytest.fixture(scope="module")
def bars_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bars")
    for name, v in VARIANTS.items():
        write_bars(root / f"{name}.mp4", v)
    planes = full_code_range_planes(FULL_CODES.width, FULL_CODES.height)
    write_planes(root / "full-code-range.mp4", [planes] * 6, v=FULL_CODES)
    return root


def render(src: Path, out: Path, *, fit: str = "contain") -> Path:
    spec = MashupSpec(
        mains=(str(src),), template=str(src), output=str(out), encoder="libx264", fit=fit, fade_s=0.0, crf=10,
    )
    render_mashup(spec)
    return out


def picture_box(v: Variant, box) -> tuple[int, int, int, int]:
    """Where the contain-fitted picture of ``v`` sits on the canvas: (x, y, w, h)."""
    g = fit_geometry(src_width=v.width, src_height=v.height, box_width=box.width, box_height=box.height, fit="contain")
    return box.x + g.offset_x, box.y + g.offset_y, g.scaled_width, g.scaled_height


def bar_errors(planes, v: Variant) -> list[str]:
    bad = []
    for box_name, box in (("main", GEO.main), ("template", GEO.template)):
        px, py, pw, ph = picture_box(v, box)
        for (bar, rgb), (bx, by, bw, bh) in zip(BARS, bar_boxes(pw, ph)):
            got = region_means(planes, (px + bx, py + by, bw, bh))
            want = expected_bt709(rgb)
            if abs(got[0] - want[0]) > 2 or abs(got[1] - want[1]) > 3 or abs(got[2] - want[2]) > 3:
                bad.append(f"{box_name} {bar}: got Y'CbCr {tuple(round(x, 1) for x in got)}, BT.709 says {tuple(round(x, 1) for x in want)}")
    return bad


@pytest.mark.parametrize("name", list(VARIANTS))
def test_bars_match_the_bt709_equations_as_main_and_template(tmp_path, bars_dir, name):
    v = VARIANTS[name]
    out = render(bars_dir / f"{name}.mp4", tmp_path / "out.mp4")
    errors = bar_errors(first_frame(out, 2), v)
    assert not errors, f"{name}: " + "; ".join(errors)


def test_full_code_range_passes_through_untouched(tmp_path, bars_dir):
    """Untagged HD with super-white, super-black and chroma at both ends keeps its codes."""
    src = bars_dir / "full-code-range.mp4"
    out = render(src, tmp_path / "out.mp4", fit="cover")
    got = first_frame(out, 2)
    source = first_frame(src)
    # cover: the template box shows rows 640..1280 of the source, the main box rows 320..1600
    for (dy, sy, h) in ((GEO.template.y, 640, 640), (GEO.main.y, 320, 1280)):
        for (bx, by, bw, bh) in bar_boxes(1080, h):
            a = region_means(got, (bx, dy + by, bw, bh))
            b = region_means(source, (bx, sy + by, bw, bh))
            assert max(abs(x - y) for x, y in zip(a, b)) <= 1.5, f"codes moved: {a} vs source {b}"
    assert got[0].max() >= 250 and got[0].min() <= 4, "super-white and super-black survive"


def nearest(plane: np.ndarray, w: int, h: int) -> np.ndarray:
    ys = (np.arange(h) * plane.shape[0] // h)[:, None]
    xs = (np.arange(w) * plane.shape[1] // w)[None, :]
    return plane[ys, xs]


def test_bar_check_fails_on_unconverted_bt601(bars_dir):
    """A core that ignored the matrix would pass BT.601 codes through: the check sees it."""
    v = VARIANTS["untagged-sd"]
    src = first_frame(bars_dir / "untagged-sd.mp4")
    canvas = [np.full((1920, 1080), 16, np.uint8), np.full((960, 540), 128, np.uint8), np.full((960, 540), 128, np.uint8)]
    for box in (GEO.main, GEO.template):
        px, py, pw, ph = picture_box(v, box)
        canvas[0][py : py + ph, px : px + pw] = nearest(src[0], pw, ph)
        for k in (1, 2):
            canvas[k][py // 2 : (py + ph) // 2, px // 2 : (px + pw) // 2] = nearest(src[k], pw // 2, ph // 2)
    assert bar_errors(canvas, v), "the bar check passed BT.601 codes as BT.709"


# --- against the ffmpeg CLI ----------------------------------------------------------------

# How the ffmpeg CLI is told to read each input: (matrix, range, primaries) for its colorspace
# filter; None: the codes pass (BT.709 limited already).
CLI_COLOUR = {
    "untagged-sd": ("smpte170m", "tv", "bt709"),
    "untagged-hd": None,
    "tagged-601": ("smpte170m", "tv", "bt709"),
    "tagged-601-625": ("bt470bg", "tv", "bt709"),
    "tagged-709": None,
    "full-range": ("bt709", "pc", "bt709"),
    "full-range-601": ("smpte170m", "pc", "bt709"),
    "bt2020-10bit": ("bt2020ncl", "tv", "bt2020"),
    "h264-high10": None,
    "hevc-main10-untagged": None,
    "av1-709-sd": None,
    "full-code-range": None,
}


def cli_box(v: Variant, box, colour) -> str:
    g = fit_geometry(src_width=v.width, src_height=v.height, box_width=box.width, box_height=box.height, fit="contain")
    chain = []
    if colour is not None:
        space, rng, prim = colour
        trc = "bt2020-10" if prim == "bt2020" else "bt709"
        chain.append(
            f"colorspace=ispace={space}:irange={rng}:iprimaries={prim}:itrc={trc}:"
            "space=bt709:range=tv:primaries=bt709:trc=bt709:format=yuv420p"
        )
    chain.append(
        f"scale={g.scaled_width}:{g.scaled_height}:flags=bilinear:in_range=tv:out_range=tv:"
        "in_color_matrix=bt709:out_color_matrix=bt709"
    )
    chain.append(f"pad={box.width}:{box.height}:{g.offset_x}:{g.offset_y}:color=black")
    return ",".join(chain)


@pytest.mark.parametrize("name", [*VARIANTS, "full-code-range"])
def test_whole_frame_matches_the_ffmpeg_cli(tmp_path, bars_dir, ffmpeg, name):
    v = VARIANTS.get(name, FULL_CODES)
    src = bars_dir / f"{name}.mp4"
    out = render(src, tmp_path / "farm.mp4")
    colour = CLI_COLOUR[name]
    graph = (
        f"[0:v]split[a][b];[a]{cli_box(v, GEO.main, colour)}[m];[b]{cli_box(v, GEO.template, colour)}[t];"
        "[m][t]vstack=inputs=2,format=yuv420p[v]"
    )
    raw = tmp_path / "ref.yuv"
    subprocess.run(
        [ffmpeg, "-y", "-loglevel", "error", "-i", str(src), "-filter_complex", graph, "-map", "[v]",
         "-frames:v", "1", "-f", "rawvideo", str(raw)],
        check=True,
    )  # fmt: skip
    ref_y = np.frombuffer(raw.read_bytes(), np.uint8)[: 1080 * 1920].reshape(1920, 1080)
    got_y = first_frame(out, 0)[0]
    problem = difference(got_y, ref_y, mode="psnr", min_db=40.0)
    assert not problem, f"{name}: luma against the ffmpeg CLI: {problem}"


# --- HDR ----------------------------------------------------------------------------------

# HDR signal levels (BT.2408): 18 % grey sits at 38 % of both HLG and PQ (about 26 nits);
# HDR reference white at 75 % HLG and 58 % PQ (203 nits).
HDR_PATCHES = {
    "hlg": (("grey", (0.38, 0.38, 0.38)), ("white", (0.75, 0.75, 0.75)), ("red", (0.75, 0.0, 0.0))),
    "pq": (("grey", (0.38, 0.38, 0.38)), ("white", (0.58, 0.58, 0.58)), ("red", (0.75, 0.0, 0.0))),
}
# SDR mid-grey on a BT.1886 screen showing HDR reference white as its white: the signal
# whose light is 26/203 of white.
SDR_MID_GREY_Y = 16 + 219 * (26 / 203) ** (1 / 2.4)


def write_hdr(path: Path, transfer: str, *, width: int = 960, height: int = 540) -> Path:
    from colourbars import codes, ycbcr

    rgb = np.zeros((height, width, 3))
    patches = HDR_PATCHES[transfer]
    for i, (_, sig) in enumerate(patches):
        rgb[:, i * width // len(patches) : (i + 1) * width // len(patches)] = sig
    y, cb, cr = ycbcr(rgb, "bt2020")
    cb = cb.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
    cr = cr.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
    planes = [np.clip(np.round(p), 0, 1023).astype(np.uint16) for p in codes(y, cb, cr, full=False, bits=10)]
    v = Variant(f"hdr-{transfer}", width, height, matrix="bt2020", tags=transfer, bits=10, codec="libx265")
    return write_planes(path, [planes] * 6, v=v)


@pytest.mark.parametrize("transfer", ["hlg", "pq"])
def test_hdr_is_tone_mapped_to_sdr(tmp_path, transfer):
    src = write_hdr(tmp_path / f"{transfer}.mp4", transfer)
    v = Variant("hdr", 960, 540)
    planes = first_frame(render(src, tmp_path / "out.mp4"), 2)
    px, py, pw, ph = picture_box(v, GEO.main)
    n = len(HDR_PATCHES[transfer])
    got = {}
    for i, (name, _) in enumerate(HDR_PATCHES[transfer]):
        x0 = px + i * pw // n
        got[name] = region_means(planes, (x0 + pw // (4 * n), py + ph // 4, pw // (2 * n), ph // 2))
    grey, white, red = got["grey"], got["white"], got["red"]
    # mid-grey stays mid-grey, neutral: not washed out, not crushed
    assert abs(grey[0] - SDR_MID_GREY_Y) <= 4 and abs(grey[1] - 128) <= 2 and abs(grey[2] - 128) <= 2, grey
    # reference white is bright but below SDR peak, leaving room for the highlights
    assert 195 <= white[0] <= 228 and abs(white[1] - 128) <= 2 and abs(white[2] - 128) <= 2, white
    # a saturated BT.2020 red lands inside the BT.709 gamut, still a saturated red
    from colourbars import K

    kr, kb = K["bt709"]
    yn, cbn, crn = (red[0] - 16) / 219, (red[1] - 128) / 224, (red[2] - 128) / 224
    r = yn + 2 * (1 - kr) * crn
    b = yn + 2 * (1 - kb) * cbn
    g = (yn - kr * r - kb * b) / (1 - kr - kb)
    assert all(-0.02 <= c <= 1.02 for c in (r, g, b)), f"out of gamut: RGB {r:.3f} {g:.3f} {b:.3f}"
    assert r > 0.5 and g < 0.1 * r and b < 0.1 * r, f"not a saturated red: RGB {r:.3f} {g:.3f} {b:.3f}"



# --- pictures: PNG (RGB) and JPEG (BT.601 full range) -------------------------------------


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_still_pictures_come_out_bt709(tmp_path, fmt):
    from PIL import Image

    from colourbars import bars_rgb

    w, h = 1280, 720
    img = Image.fromarray(np.round(bars_rgb(w, h) * 255).astype(np.uint8))
    src = tmp_path / f"bars.{'png' if fmt == 'png' else 'jpg'}"
    img.save(src, quality=98, subsampling=0) if fmt == "jpeg" else img.save(src)
    planes = first_frame(render(src, tmp_path / "out.mp4"), 0)
    errors = bar_errors(planes, Variant(fmt, w, h))
    assert not errors, f"{fmt}: " + "; ".join(errors)


# --- the same codes on FFmpeg 7 and FFmpeg 8 -------------------------------------------------

OTHER_PYTHON = os.environ.get("FARM_OTHER_PYTHON")
RENDER_SCRIPT = """
import sys
from farm.render import render_mashup
from farm.jobs import MashupSpec
src, out = sys.argv[1:3]
render_mashup(MashupSpec(mains=(src,), template=src, output=out, encoder="libx264", fit="contain", fade_s=0.0, crf=0, duration_s=0.1))
import av
print(av.__version__, av.ffmpeg_version_info)
"""


@pytest.mark.skipif(not OTHER_PYTHON, reason="set FARM_OTHER_PYTHON to a Python with another PyAV build (make check-ffmpeg)")
@pytest.mark.parametrize("name", [*VARIANTS, "full-code-range"])
def test_same_codes_on_another_ffmpeg(tmp_path, bars_dir, name):
    """Rendered losslessly here and under another PyAV (another FFmpeg), every pixel of
    every plane agrees within one level."""
    import av

    src = bars_dir / f"{name}.mp4"
    outs = []
    for label, python in (("here", sys.executable), ("other", OTHER_PYTHON)):
        out = tmp_path / f"{label}.mp4"
        proc = subprocess.run([python, "-c", RENDER_SCRIPT, str(src), str(out)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        outs.append((proc.stdout.strip(), out))
    assert outs[0][0] != outs[1][0], f"both runs used {outs[0][0]}: nothing compared"
    with av.open(str(outs[0][1])) as a, av.open(str(outs[1][1])) as b:
        for fa, fb in zip(a.decode(video=0), b.decode(video=0)):
            for pa, pb in zip(read_planes(fa), read_planes(fb)):
                problem = difference(pa, pb, mode="tolerance", tol=1)
                assert not problem, f"{name}: {outs[0][0]} against {outs[1][0]}: {problem}"


def test_overlays_use_the_bt709_equations():
    """Captions and logos are RGBA converted once by the kernels: saturated colours land on
    the BT.709 values (flat 2x2 blocks, so 4:2:0 chroma is exact)."""
    import torch

    import kernels

    colours = [rgb for _, rgb in BARS] + [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
    rgba = torch.zeros((2, 2 * len(colours), 4), dtype=torch.uint8)
    for i, rgb in enumerate(colours):
        rgba[:, 2 * i : 2 * i + 2, :3] = torch.tensor(rgb, dtype=torch.uint8)
    rgba[..., 3] = 255
    ov = kernels.rgba_to_yuva420(rgba)
    for i, rgb in enumerate(colours):
        want = expected_bt709(rgb)
        got = (float(ov.planes.y[0, 2 * i]), float(ov.planes.u[0, i]), float(ov.planes.v[0, i]))
        assert max(abs(a - b) for a, b in zip(got, want)) <= 0.5, f"{rgb}: {got} vs {want}"


@pytest.mark.parametrize("metadata", ["max-cll=4000,400", "master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(40000000,50)", ""])
def test_pq_highlights_roll_off_to_the_peak_the_metadata_states(tmp_path, metadata):
    """A 600-nit grey in a clip mastered for 4000 nits stays clearly below SDR white; the same
    clip with no metadata is taken as a 1000-nit master, where 600 nits is near its peak
    and lands on white."""
    from colourbars import codes, ycbcr

    import kernels

    w, h = 960, 540
    sig = np.zeros((h, w, 3))
    sig[:, : w // 2] = float(kernels.pq_inverse_eotf(torch_tensor(26.0)))  # mid-grey
    sig[:, w // 2 :] = float(kernels.pq_inverse_eotf(torch_tensor(600.0)))
    y, cb, cr = ycbcr(sig, "bt2020")
    planes = [np.clip(np.round(p), 0, 1023).astype(np.uint16) for p in codes(y, cb[::2, ::2], cr[::2, ::2], full=False, bits=10)]
    v = Variant("pq", w, h, matrix="bt2020", tags="pq", bits=10, codec="libx265")
    params = f"hdr10=1:{metadata}" if metadata else ""
    src = write_planes(tmp_path / "pq.mp4", [planes] * 6, v=v, x265_params=params)
    f = first_frame(render(src, tmp_path / "out.mp4"), 2)
    px, py, pw, ph = picture_box(Variant("pq", w, h), GEO.main)
    grey = region_means(f, (px + pw // 8, py + ph // 4, pw // 4, ph // 2))[0]
    bright = region_means(f, (px + 5 * pw // 8, py + ph // 4, pw // 4, ph // 2))[0]
    if metadata:
        assert 215 <= bright <= 230, f"600 nits of a 4000-nit master: Y' {bright}"
        assert 95 <= grey <= SDR_MID_GREY_Y + 1, f"mid-grey {grey}"
    else:
        assert bright >= 233 and abs(grey - SDR_MID_GREY_Y) <= 2, (grey, bright)


def torch_tensor(x: float):
    import torch

    return torch.tensor(x)
