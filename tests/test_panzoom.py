"""Pan-and-zoom against a float64 numpy restatement of its sampling equations, and its paths."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import kernels
from kernels import Planes, Viewport

W, H = 334, 518  # 333x517 rounded up to even: odd-ish, not a power of two
OUT_W, OUT_H = 96, 160


def content(width: int = W, height: int = H, seed: int = 5) -> Planes:
    """Full-range noise with saturated 0/255 blocks and a ramp: every tap weight shows."""
    g = np.random.default_rng(seed)

    def plane(h: int, w: int) -> torch.Tensor:
        p = g.integers(0, 256, (h, w))
        p[h // 5 : h // 3, w // 6 : w // 2] = 255
        p[h // 2 : h // 2 + h // 7, w // 3 : w - w // 5] = 0
        p[-h // 6 :, :] = np.linspace(0, 255, w)[None, :].round()
        return torch.from_numpy(p.astype(np.uint8))

    return Planes(plane(height, width), plane(height // 2, width // 2), plane(height // 2, width // 2))


# --- the reference: written from the sampling equations, float64, dense weights ------------
#
# Pixel (c, r) of a plane covers [c, c+1) x [r, r+1) of its own grid; a luma sample sits at its
# centre. Chroma siting "left": chroma (i, j) sits at luma (x = 2j + 0.5, y = 2i + 1), in the
# source and in the output alike. An output sample at output-luma coordinate u lands on source
# luma coordinate X = vp.x + u * vp.width / out_width. Weights: a tent of half-width
# max(1, vp.width / out_width) source samples, over the samples that exist, normalised.


def ref_weights(start: float, length: float, out_luma: int, positions: np.ndarray, offset: float, sub: int, n: int):
    scale = length / out_luma
    s = (start + positions * scale - offset) / sub  # source sample coordinate of each output sample
    k = np.arange(n, dtype=np.float64)
    w = np.maximum(0.0, 1.0 - np.abs(k[None, :] - s[:, None]) / max(1.0, scale))
    return w / w.sum(axis=1, keepdims=True)


def ref_pan_zoom(image: Planes, vp: Viewport, out_width: int, out_height: int) -> list[np.ndarray]:
    got = []
    for i, p in enumerate(image):
        src = p.numpy().astype(np.float64)
        h, w = src.shape
        if i == 0:
            wy = ref_weights(vp.y, vp.height, out_height, np.arange(out_height) + 0.5, 0.5, 1, h)
            wx = ref_weights(vp.x, vp.width, out_width, np.arange(out_width) + 0.5, 0.5, 1, w)
        else:
            wy = ref_weights(vp.y, vp.height, out_height, 2 * np.arange(out_height // 2) + 1.0, 1.0, 2, h)
            wx = ref_weights(vp.x, vp.width, out_width, 2 * np.arange(out_width // 2) + 0.5, 0.5, 2, w)
        got.append(np.clip(np.floor(wy @ src @ wx.T + 0.5), 0, 255).astype(np.int64))
    return got


def max_diff(frame: Planes, ref: list[np.ndarray]) -> int:
    return max(int(np.abs(p.numpy().astype(np.int64) - r).max()) for p, r in zip(frame, ref))


VIEWPORTS = [
    Viewport(x=0.0, y=0.0, width=H * OUT_W / OUT_H, height=float(H)),  # zoom 1, touches 3 edges, ~3.2x down
    Viewport(x=17.3, y=41.85, width=61.2, height=102.0),  # zoom-in: 0.64 source px per output px
    Viewport(x=W - 150.75, y=H - 250.125, width=150.75, height=250.125),  # bottom-right corner, 1.57x down
    Viewport(x=123.456, y=200.5, width=96.0, height=160.0),  # 1:1 at a sub-pixel offset
    Viewport(x=0.0, y=3.3, width=200.0, height=H - 3.3),  # unequal x/y scale, left and bottom edges
    Viewport(x=W - 3.5, y=0.0, width=3.5, height=5.0),  # extreme zoom-in at the right edge
]


@pytest.mark.parametrize("method", ["taps", "matmul"])
def test_pan_zoom_matches_numpy_reference(method):
    image = content()
    frames = kernels.pan_zoom(image, VIEWPORTS, out_width=OUT_W, out_height=OUT_H, method=method)
    n = len(VIEWPORTS)
    assert frames.y.shape == (n, OUT_H, OUT_W) and frames.u.shape == frames.v.shape == (n, OUT_H // 2, OUT_W // 2)
    for i, vp in enumerate(VIEWPORTS):
        ref = ref_pan_zoom(image, vp, OUT_W, OUT_H)
        assert max_diff(frames.frame(i), ref) <= 1, (method, vp)
        assert all(int(r.max()) - int(r.min()) > 50 for r in ref)  # not a flat frame a broken kernel could make


def test_quarter_pixel_shift_changes_the_output():
    image = content(seed=8)
    a = Viewport(x=40.0, y=60.0, width=120.0, height=200.0)
    b = Viewport(x=40.25, y=60.0, width=120.0, height=200.0)
    fa, fb = (kernels.pan_zoom(image, [vp], out_width=OUT_W, out_height=OUT_H).frame(0) for vp in (a, b))
    for pa, pb in zip(fa, fb):
        changed = (pa.int() - pb.int()).abs()
        assert (changed > 0).float().mean() > 0.3 and int(changed.max()) >= 5
    assert max_diff(fb, ref_pan_zoom(image, b, OUT_W, OUT_H)) <= 1


def test_exact_halves_round_up():
    """A 1:1 viewport half a pixel over: luma is the mean of two neighbours, chroma a 1/4 : 3/4
    mix, all exact in float32, so the kernel must equal the reference exactly (half up, not
    half to even: about half the luma samples end in .5)."""
    image = content(seed=4)
    vp = Viewport(x=123.5, y=200.0, width=float(OUT_W), height=float(OUT_H))
    ref = ref_pan_zoom(image, vp, OUT_W, OUT_H)
    for method in ("taps", "matmul"):
        got = kernels.pan_zoom(image, [vp], out_width=OUT_W, out_height=OUT_H, method=method).frame(0)
        assert max_diff(got, ref) == 0, method


def test_batch_equals_single_calls_and_writes_into_out():
    image = content(seed=9)
    out = kernels.new_planes(width=OUT_W + 10, height=OUT_H, frames=len(VIEWPORTS), fill_black=False)
    view = out.crop(x=0, y=0, width=OUT_W, height=OUT_H)  # strided views, as encoders hand out
    got = kernels.pan_zoom(image, VIEWPORTS, out_width=OUT_W, out_height=OUT_H, out=view)
    assert got is view
    for i, vp in enumerate(VIEWPORTS):
        single = kernels.pan_zoom(image, [vp], out_width=OUT_W, out_height=OUT_H)
        assert all(torch.equal(a[i], b[0]) for a, b in zip(view, single))


def test_edges_never_read_outside_the_image():
    """A 2-px frame of one saturated colour around another: with viewports touching each edge,
    every output lies between the two colours (zero padding would read 0 below Y 16), and
    where the output samples only the edge it is exactly the edge colour."""
    edge, inside = (16, 240, 16), (235, 16, 240)
    y = torch.full((H, W), inside[0], dtype=torch.uint8)
    y[:2], y[-2:], y[:, :2], y[:, -2:] = edge[0], edge[0], edge[0], edge[0]
    chroma = []
    for e, c in zip(edge[1:], inside[1:]):
        p = torch.full((H // 2, W // 2), c, dtype=torch.uint8)
        p[:1], p[-1:], p[:, :1], p[:, -1:] = e, e, e, e
        chroma.append(p)
    image = Planes(y, *chroma)
    touching = [
        Viewport(x=0.0, y=0.0, width=30.0, height=50.0),  # upscale at the top-left corner
        Viewport(x=W - 30.0, y=H - 50.0, width=30.0, height=50.0),
        Viewport(x=0.0, y=0.0, width=float(W), height=float(H)),  # whole image, downscale
        Viewport(x=W - 250.0, y=0.0, width=250.0, height=H * 0.9),
    ]
    frames = kernels.pan_zoom(image, touching, out_width=OUT_W, out_height=OUT_H)
    for plane, e, c in zip(frames, edge, inside):
        assert int(plane.min()) >= min(e, c) and int(plane.max()) <= max(e, c)
    # Upscaling 0.31x at the corner: output sample 0 lands before source sample 0 (at -0.34 px):
    # only the edge sample may count.
    assert int(frames.y[0, 0, 0]) == edge[0] and int(frames.y[1, -1, -1]) == edge[0]
    assert int(frames.u[0, 0, 0]) == edge[1] and int(frames.v[1, -1, -1]) == edge[2]
    for i, vp in enumerate(touching):
        assert max_diff(frames.frame(i), ref_pan_zoom(image, vp, OUT_W, OUT_H)) <= 1


@pytest.mark.parametrize(
    "vp",
    [
        Viewport(x=-0.5, y=0.0, width=50.0, height=80.0),
        Viewport(x=W - 49.9, y=0.0, width=50.0, height=80.0),
        Viewport(x=0.0, y=H - 79.0, width=50.0, height=80.0),
        Viewport(x=0.0, y=0.0, width=W + 2.0, height=80.0),
    ],
)
def test_viewport_past_the_edge_raises_naming_it(vp):
    with pytest.raises(ValueError, match=r"Invalid viewports\[1\] \(Viewport\(x=.*inside the 334x518 image"):
        kernels.pan_zoom(content(), [VIEWPORTS[1], vp], out_width=OUT_W, out_height=OUT_H)


def test_bad_arguments_say_what_is_allowed():
    with pytest.raises(ValueError, match=r"Invalid Viewport size \(0x5\)"):
        Viewport(x=0, y=0, width=0, height=5)
    with pytest.raises(ValueError, match=r"Invalid out_width \(95\)\. Supported: an even integer"):
        kernels.pan_zoom(content(), [VIEWPORTS[1]], out_width=95, out_height=OUT_H)
    with pytest.raises(ValueError, match=r"Invalid method \('cubic'\)\. Supported: taps, matmul\."):
        kernels.pan_zoom(content(), [VIEWPORTS[1]], out_width=OUT_W, out_height=OUT_H, method="cubic")
    args = dict(image_width=W, image_height=H, out_width=OUT_W, out_height=OUT_H, frames=10, zoom_from=1.0,
                zoom_to=2.0, focus_from=(0.5, 0.5), focus_to=(0.5, 0.5))  # fmt: skip
    for bad, message in (
        ({"zoom_to": 0.5}, r"Invalid zoom_to \(0\.5\)\. Supported: 1\.0 to 4\.0\."),
        ({"zoom_from": 4.5}, r"Invalid zoom_from \(4\.5\)\. Supported: 1\.0 to 4\.0\."),
        ({"frames": 0}, r"Invalid frames \(0\)\. Supported: an integer, 1 or more\."),
        ({"focus_to": (1.2, 0.5)}, r"Invalid focus_to \(\(1\.2, 0\.5\)\)\. Supported: \(x, y\), each 0\.0 to 1\.0\."),
    ):
        with pytest.raises(ValueError, match=message):
            kernels.pan_zoom_path(**{**args, **bad})


def test_path_zoom_one_is_the_largest_fit_and_focus_is_centred():
    path = kernels.pan_zoom_path(image_width=4000, image_height=3000, out_width=1080, out_height=1920, frames=5,
                                 zoom_from=1.0, zoom_to=2.0, focus_from=(0.5, 0.5), focus_to=(0.6, 0.55))  # fmt: skip
    assert path[0] == Viewport(x=(4000 - 1687.5) / 2, y=0.0, width=1687.5, height=3000.0)
    end = path[-1]
    assert end.width == pytest.approx(843.75) and end.height == pytest.approx(1500.0)
    assert end.x + end.width / 2 == pytest.approx(2400.0) and end.y + end.height / 2 == pytest.approx(1650.0)
    wide = kernels.pan_zoom_path(image_width=1000, image_height=3000, out_width=1920, out_height=1080, frames=1,
                                 zoom_from=1.0, zoom_to=1.0, focus_from=(0.0, 1.0), focus_to=(0.0, 1.0))  # fmt: skip
    assert wide == [Viewport(x=0.0, y=3000 - 562.5, width=1000.0, height=562.5)]  # clamped by moving


def test_path_centre_moves_monotonically_and_smoothly():
    frames = 60
    path = kernels.pan_zoom_path(image_width=4000, image_height=3000, out_width=1080, out_height=1920,
                                 frames=frames, zoom_from=1.0, zoom_to=2.0, focus_from=(0.3, 0.4),
                                 focus_to=(0.7, 0.6))  # fmt: skip
    cx = np.array([vp.x + vp.width / 2 for vp in path])
    cy = np.array([vp.y + vp.height / 2 for vp in path])
    log_w = np.log([vp.width for vp in path])
    for track in (cx, cy, -log_w):  # the start's y is clamped (zoom 1 shows the full height)
        d = np.diff(track)
        travel = track[-1] - track[0]
        assert travel > 0 and np.all(d > 0)
        # Continuous velocity: the motion per frame changes by a few thousandths of the travel,
        # and the camera eases in and out (first and last steps tiny).
        assert np.abs(np.diff(d)).max() <= 7 * travel / (frames - 1) ** 2
        assert d[0] < 0.05 * d.max() and d[-1] < 0.05 * d.max()
    # No integer steps: rounding the positions would make the third difference jump by ~1 px.
    assert np.abs(np.diff(cx, 3)).max() <= 16 * (cx[-1] - cx[0]) / (frames - 1) ** 3
    assert np.any(np.abs(cx - np.round(cx)) > 0.01)


def test_random_paths_stay_inside_the_image_with_the_output_aspect():
    rnd = random.Random(1234)
    outs = [(1080, 1920), (1920, 1080), (1080, 1080), (96, 160)]
    for _ in range(300):
        iw, ih = rnd.randint(16, 6000), rnd.randint(16, 6000)
        ow, oh = rnd.choice(outs)

        def zoom() -> float:
            return rnd.choice([1.0, 4.0, rnd.uniform(1.0, 4.0)])

        def focus() -> tuple[float, float]:
            return rnd.choice([0.0, 1.0, rnd.random()]), rnd.choice([0.0, 1.0, rnd.random()])

        zf, zt = zoom(), zoom()
        path = kernels.pan_zoom_path(image_width=iw, image_height=ih, out_width=ow, out_height=oh,
                                     frames=rnd.randint(1, 40), zoom_from=zf, zoom_to=zt, focus_from=focus(),
                                     focus_to=focus())  # fmt: skip
        for vp in path:
            assert vp.inside(image_width=iw, image_height=ih, tolerance_px=1e-6), (iw, ih, vp)
            assert vp.width / vp.height == pytest.approx(ow / oh, rel=1e-9)
        base = min(iw, ih * ow / oh)
        assert path[0].width == pytest.approx(base / zf)
        assert len(path) == 1 or path[-1].width == pytest.approx(base / zt)


def test_a_path_at_the_corners_renders():
    image = content(seed=3)
    path = kernels.pan_zoom_path(image_width=W, image_height=H, out_width=OUT_W, out_height=OUT_H, frames=7,
                                 zoom_from=4.0, zoom_to=1.0, focus_from=(1.0, 1.0), focus_to=(0.0, 0.0))  # fmt: skip
    frames = kernels.pan_zoom(image, path, out_width=OUT_W, out_height=OUT_H)
    for i in (0, 3, 6):
        assert max_diff(frames.frame(i), ref_pan_zoom(image, path[i], OUT_W, OUT_H)) <= 1


@pytest.mark.needs_cuda
def test_pan_zoom_on_cuda_like_on_cpu():
    image = content(seed=11)
    cpu = kernels.pan_zoom(image, VIEWPORTS, out_width=OUT_W, out_height=OUT_H)
    for method in ("taps", "matmul"):
        gpu = kernels.pan_zoom(image.to("cuda"), VIEWPORTS, out_width=OUT_W, out_height=OUT_H, method=method)
        assert gpu.device.type == "cuda"
        for a, b in zip(cpu, gpu):
            assert int((a.int() - b.cpu().int()).abs().max()) <= 1

