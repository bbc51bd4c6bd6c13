"""Each kernel against a plain numpy reference, on random frames (not flat colours)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kernels
from frames import difference
from kernels import Planes


def rand_planes(w: int, h: int, seed: int) -> Planes:
    g = torch.Generator().manual_seed(seed)
    return Planes(
        torch.randint(0, 256, (h, w), dtype=torch.uint8, generator=g),
        torch.randint(0, 256, (h // 2, w // 2), dtype=torch.uint8, generator=g),
        torch.randint(0, 256, (h // 2, w // 2), dtype=torch.uint8, generator=g),
    )


def np_planes(p: Planes):
    return [x.numpy().astype(np.int64) for x in p]


def test_fade_to_black_matches_numpy():
    p = rand_planes(64, 32, 1)
    ref = np_planes(p)
    kernels.fade_to_black(p, level=0.3)
    k = round(0.3 * 256)
    for got, src, centre in zip(p, ref, (16, 128, 128)):
        want = np.clip(np.floor(((src - centre) * k + centre * 256 + 128) / 256), 0, 255)
        np.testing.assert_array_equal(got.numpy(), want)


def test_batched_fade_matches_numpy_frame_by_frame():
    levels = [0.0, 0.3, 1.0, 0.77, 0.5]
    batch = kernels.Planes(*(torch.stack(planes) for planes in zip(*(rand_planes(34, 22, 10 + i) for i in range(5)))))
    ref = [np_planes(batch.frame(i)) for i in range(5)]
    kernels.fade_frames_to_black(batch, levels=levels)
    for i, level in enumerate(levels):
        k = round(level * 256)
        for got, src, centre in zip(batch.frame(i), ref[i], (16, 128, 128)):
            want = np.clip(np.floor(((src - centre) * k + centre * 256 + 128) / 256), 0, 255)
            np.testing.assert_array_equal(got.numpy(), want)
    with pytest.raises(ValueError, match="2 levels for a batch of 5"):
        kernels.fade_frames_to_black(batch, levels=[0.5, 0.5])


def test_fade_extremes():
    p = rand_planes(16, 16, 2)
    before = [x.clone() for x in p]
    kernels.fade_to_black(p, level=1.0)
    assert all(torch.equal(a, b) for a, b in zip(p, before))
    kernels.fade_to_black(p, level=0.0)
    assert int(p.y.unique().item()) == 16 and int(p.u.unique().item()) == 128
    with pytest.raises(ValueError):
        kernels.fade_to_black(p, level=1.5)


def test_crossfade_matches_numpy():
    a, b = rand_planes(64, 32, 3), rand_planes(64, 32, 4)
    ra, rb = np_planes(a), np_planes(b)
    out = kernels.crossfade(a, b, weight=0.25, out=kernels.new_planes(width=64, height=32))
    k = 64
    for got, x, y in zip(out, ra, rb):
        np.testing.assert_array_equal(got.numpy(), (x * (256 - k) + y * k + 128) // 256)


def test_alpha_overlay_matches_numpy_and_clips():
    frame = rand_planes(64, 32, 5)
    ref = np_planes(frame)
    rgba = torch.randint(0, 256, (10, 12, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(6))
    ov = kernels.rgba_to_yuva420(rgba)
    kernels.alpha_overlay(frame, ov, x=58, y=26)  # hangs over the right and bottom edges
    a = ov.alpha_y.numpy().astype(np.int64)[:6, :6]
    src = ov.planes.y.numpy().astype(np.int64)[:6, :6]
    want = (src * a + ref[0][26:32, 58:64] * (255 - a) + 127) // 255
    np.testing.assert_array_equal(frame.y.numpy()[26:32, 58:64], want)
    np.testing.assert_array_equal(frame.y.numpy()[:26], ref[0][:26])  # untouched outside


def test_rgb_yuv_roundtrip_bt709():
    rgb = torch.randint(0, 256, (32, 32, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(7))
    rgb = rgb.repeat_interleave(2, 0).repeat_interleave(2, 1)  # 2x2 blocks: chroma survives 4:2:0
    back = kernels.yuv420_to_rgb(kernels.rgb_to_yuv420(rgb))
    assert (back.int() - rgb.int()).abs().max() <= 3
    # BT.709 reference values: white, black, pure red
    px = torch.tensor([[[255, 255, 255], [0, 0, 0]], [[255, 0, 0], [255, 0, 0]]], dtype=torch.uint8)
    y = kernels.rgb_to_yuv420(px).y
    assert y[0, 0] == 235 and y[0, 1] == 16 and y[1, 0] == 63


def np_bilinear(plane: np.ndarray, h: int, w: int) -> np.ndarray:
    """Half-pixel-centre bilinear resize (align_corners=False), upscaling only."""
    H, W = plane.shape
    ys = np.clip((np.arange(h) + 0.5) * H / h - 0.5, 0, H - 1)
    xs = np.clip((np.arange(w) + 0.5) * W / w - 0.5, 0, W - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, H - 1), np.minimum(x0 + 1, W - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    p = plane.astype(np.float64)
    top = p[y0][:, x0] * (1 - fx) + p[y0][:, x1] * fx
    bot = p[y1][:, x0] * (1 - fx) + p[y1][:, x1] * fx
    return np.clip(np.round(top * (1 - fy) + bot * fy), 0, 255)


def test_resize_plane_matches_numpy_bilinear():
    p = torch.randint(0, 256, (20, 30), dtype=torch.uint8, generator=torch.Generator().manual_seed(8))
    got = kernels.resize_plane(p, height=50, width=64).numpy().astype(np.int64)
    want = np_bilinear(p.numpy(), 50, 64)
    assert np.abs(got - want).max() <= 1


@pytest.mark.parametrize(
    "src,box,fit,expected",
    [
        ((1920, 1080), (1080, 1280), "cover", (504, 0, 912, 1080, 1080, 1280, 0, 0)),
        ((1920, 1080), (1080, 1280), "contain", (0, 0, 1920, 1080, 1080, 608, 0, 336)),
        ((1080, 1920), (1080, 640), "cover", (0, 640, 1080, 640, 1080, 640, 0, 0)),
        ((321, 181), (640, 1080), "contain", (0, 0, 320, 180, 640, 360, 0, 360)),
    ],
)
def test_fit_geometry(src, box, fit, expected):
    g = kernels.fit_geometry(src_width=src[0], src_height=src[1], box_width=box[0], box_height=box[1], fit=fit)
    assert (g.crop_x, g.crop_y, g.crop_width, g.crop_height, g.scaled_width, g.scaled_height, g.offset_x, g.offset_y) == expected


def test_fit_frame_cover_contain_blur_against_numpy():
    src = rand_planes(64, 36, 9)
    cover = kernels.fit_frame(src, box_width=36, box_height=36, fit="cover")
    assert (cover.width, cover.height) == (36, 36)
    contain = kernels.fit_frame(src, box_width=32, box_height=32, fit="contain")
    # 64x36 into 32x32: a 32x18 picture with 8 rows of letterbox top and bottom (rounded to even)
    y = contain.y.numpy()
    assert (y[:6] == 16).all() and (y[-6:] == 16).all()
    assert (contain.u.numpy()[:3] == 128).all()
    # contain's picture is the antialiased shrink of the whole source
    pic = y[8:26]
    assert pic.std() > 0
    blur = kernels.fit_frame(src, box_width=32, box_height=32, fit="blur")
    band = blur.y.numpy()[:6].astype(np.int64)
    assert not (band == 16).all(), "blur background must not be a black letterbox"
    assert band.std() < src.y.numpy().std() / 2, "the background must be blurred"


def test_gaussian_blur_matches_numpy_convolution():
    p = torch.randint(0, 256, (16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(10))
    got = kernels.gaussian_blur_plane(p, sigma=1.0).numpy()
    r = 3
    xs = np.arange(-r, r + 1)
    k = np.exp(-(xs**2) / 2.0)
    k /= k.sum()
    padded = np.pad(p.numpy().astype(np.float64), r, mode="edge")
    rows = np.stack([np.convolve(row, k, mode="valid") for row in padded[r:-r]])
    padded = np.pad(rows, ((r, r), (0, 0)), mode="edge")
    want = np.stack([np.convolve(col, k, mode="valid") for col in padded.T]).T
    np.testing.assert_allclose(got, want, atol=1e-3)


def test_compose_two_thirds_places_each_box():
    geo = kernels.layout_geometry("horizontal")
    canvas = kernels.new_planes(width=geo.width, height=geo.height)
    main = Planes(*(torch.full(s, v, dtype=torch.uint8) for s, v in (((1080, 1280), 50), ((540, 640), 60), ((540, 640), 70))))
    tmpl = Planes(*(torch.full(s, v, dtype=torch.uint8) for s, v in (((1080, 640), 150), ((540, 320), 160), ((540, 320), 170))))
    kernels.compose_two_thirds(canvas, main, tmpl, layout="horizontal")
    assert (canvas.y[:, :1280] == 50).all() and (canvas.y[:, 1280:] == 150).all()
    assert (canvas.v[:, :640] == 70).all() and (canvas.v[:, 640:] == 170).all()
    with pytest.raises(ValueError, match="Supported: vertical, horizontal"):
        kernels.layout_geometry("diagonal")


@pytest.mark.needs_cuda
def test_kernels_run_on_cuda_like_on_cpu():
    a, b = rand_planes(64, 32, 11), rand_planes(64, 32, 12)
    cpu = kernels.crossfade(a, b, weight=0.4, out=kernels.new_planes(width=64, height=32))
    ga, gb = Planes(*(x.cuda() for x in a)), Planes(*(x.cuda() for x in b))
    gpu = kernels.crossfade(ga, gb, weight=0.4, out=kernels.new_planes(width=64, height=32, device="cuda"))
    assert all(torch.equal(x, y.cpu()) for x, y in zip(cpu, gpu))


@pytest.mark.needs_cuda
def test_the_gpu_paths_kernels_on_cuda_like_on_cpu():
    """The batched kernels the GPU path runs (NV12 unpacking, rotation, fits over a batch,
    batched fades, NV12 packing for NVENC): on CUDA as on the CPU (exact, or within one
    code value where the CUDA interpolation rounds differently)."""
    frames = [rand_planes(202, 114, 30 + i) for i in range(4)]
    batch = Planes(*(torch.stack(p) for p in zip(*frames)))
    gbatch = batch.to("cuda")
    nv12 = kernels.planes_to_nv12(batch.frame(0))
    assert torch.equal(kernels.planes_to_nv12(gbatch.frame(0)).cpu(), nv12)
    assert all(torch.equal(a, b.cpu()) for a, b in zip(kernels.nv12_planes(nv12), kernels.nv12_planes(nv12.cuda())))
    for deg in (90, 180, -90):
        cpu_r = kernels.rotate_planes(batch, rotation_deg=deg)
        gpu_r = kernels.rotate_planes(gbatch, rotation_deg=deg)
        assert all(torch.equal(a, b.cpu()) for a, b in zip(cpu_r, gpu_r))
    for fit in ("cover", "contain", "blur"):
        cpu_pic, cpu_bg = kernels.fit_parts(batch, box_width=108, box_height=64, fit=fit)
        gpu_pic, gpu_bg = kernels.fit_parts(gbatch, box_width=108, box_height=64, fit=fit)
        for a, b in zip(cpu_pic, gpu_pic):
            assert a.shape == b.shape and (a.int() - b.cpu().int()).abs().max() <= 1, fit
        assert (cpu_bg is None) == (gpu_bg is None)
    levels = [0.0, 0.25, 0.9, 1.0]
    kernels.fade_frames_to_black(batch, levels=levels)
    kernels.fade_frames_to_black(gbatch, levels=levels)
    assert all(torch.equal(a, b.cpu()) for a, b in zip(batch, gbatch))


# --- colour conversion (kernels.convert_to_bt709) against numpy and the standards' anchors ---

KR_KB = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114), "bt2020": (0.2627, 0.0593)}


def np_convert_sdr(y, u, v, *, matrix: str, full: bool, bits: int):
    """Numpy reference: decode with ``matrix``/range to R'G'B' (chroma repeated 2x2), encode
    BT.709 limited; chroma from the same R'G'B' averaged per 2x2 block (exact for linear maps)."""
    s = 2 ** (bits - 8)
    if full:
        top = 2**bits - 1
        yn, un, vn = y / top, (u - 128 * s) / top, (v - 128 * s) / top
    else:
        yn, un, vn = (y - 16 * s) / (219 * s), (u - 128 * s) / (224 * s), (v - 128 * s) / (224 * s)
    un = np.kron(un, np.ones((2, 2)))
    vn = np.kron(vn, np.ones((2, 2)))
    kr, kb = KR_KB[matrix]
    r = yn + 2 * (1 - kr) * vn
    b = yn + 2 * (1 - kb) * un
    g = (yn - kr * r - kb * b) / (1 - kr - kb)
    kr, kb = KR_KB["bt709"]
    y2 = kr * r + (1 - kr - kb) * g + kb * b
    cb2 = ((b - y2) / (2 * (1 - kb))).reshape(y.shape[0] // 2, 2, y.shape[1] // 2, 2).mean(axis=(1, 3))
    cr2 = ((r - y2) / (2 * (1 - kr))).reshape(y.shape[0] // 2, 2, y.shape[1] // 2, 2).mean(axis=(1, 3))
    return [np.clip(np.round(p), 0, 255) for p in (16 + 219 * y2, 128 + 224 * cb2, 128 + 224 * cr2)]


@pytest.mark.parametrize(
    "matrix,rng,bits", [("bt601", "tv", 8), ("bt601", "pc", 8), ("bt709", "pc", 8), ("bt709", "tv", 10), ("bt2020", "tv", 10), ("bt601", "pc", 10)]
)
def test_convert_matrix_and_range_matches_numpy(matrix, rng, bits):
    g = torch.Generator().manual_seed(21)
    top = 2**bits
    dtype = torch.int16 if bits > 8 else torch.uint8
    y = torch.randint(0, top, (24, 32), generator=g)
    u = torch.randint(0, top, (12, 16), generator=g)
    v = torch.randint(0, top, (12, 16), generator=g)
    src = kernels.SourceColour(matrix=matrix, range=rng, bits=bits)
    got = kernels.convert_to_bt709(Planes(y.to(dtype), u.to(dtype), v.to(dtype)), source=src)
    want = np_convert_sdr(y.numpy().astype(float), u.numpy().astype(float), v.numpy().astype(float), matrix=matrix, full=rng == "pc", bits=bits)
    for name, a, b in zip("YUV", got, want):
        assert a.dtype == torch.uint8
        assert np.abs(a.numpy().astype(int) - b).max() <= 1, f"{matrix} {rng} {bits}-bit: plane {name}"


def test_convert_bt709_8bit_is_untouched_full_code_range_included():
    p = Planes(torch.tensor([[0, 255], [17, 240]], dtype=torch.uint8), torch.tensor([[0]], dtype=torch.uint8), torch.tensor([[255]], dtype=torch.uint8))
    out = kernels.convert_to_bt709(p, source=kernels.SourceColour())
    assert out is p


def test_convert_10bit_anchor_values():
    # 10-bit BT.709 limited: 64 / 940 / 512 are 8-bit 16 / 235 / 128
    p = Planes(torch.tensor([[64, 940], [502, 1019]], dtype=torch.int16), torch.tensor([[512]], dtype=torch.int16), torch.tensor([[960]], dtype=torch.int16))
    out = kernels.convert_to_bt709(p, source=kernels.SourceColour(bits=10))
    assert out.y.tolist() == [[16, 235], [126, 255]] and out.u.item() == 128 and out.v.item() == 240


def test_transfer_functions_hit_the_standards_anchor_values():
    nits = kernels.pq_eotf(torch.tensor([0.0, 0.5081, 0.5807, 0.7518, 1.0]))
    np.testing.assert_allclose(nits.numpy(), [0.0, 100.0, 203.0, 1000.0, 10000.0], rtol=2e-3, atol=1e-3)
    back = kernels.pq_inverse_eotf(torch.tensor([100.0, 203.0, 1000.0]))
    np.testing.assert_allclose(back.numpy(), [0.5081, 0.5807, 0.7518], atol=2e-4)
    scene = kernels.hlg_inverse_oetf(torch.tensor([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(scene.numpy(), [0.0, 1 / 12, 1.0], atol=1e-5)


def test_bt2390_eetf_keeps_the_dark_and_lands_the_peak():
    x = torch.tensor([0.0, 5.0, 26.0, 60.0, 203.0, 500.0, 1000.0])
    y = kernels.bt2390_eetf(x, source_peak_nits=1000.0, target_peak_nits=203.0)
    np.testing.assert_allclose(y[:4].numpy(), x[:4].numpy(), rtol=1e-3)  # below the knee: unchanged
    assert abs(float(y[-1]) - 203.0) < 0.5  # the source peak lands on the target peak
    assert bool((y[1:] >= y[:-1]).all()) and float(y[4]) < 203.0  # monotonic, white below peak


def test_fit_gamut_lands_in_gamut_and_keeps_greys():
    r, g, b = (torch.tensor(v) for v in ([1.66, 0.5, 2.0], [-0.12, 0.5, 1.5], [-0.02, 0.5, 0.2]))
    fr, fg, fb = kernels.fit_gamut(r, g, b)
    for c in (fr, fg, fb):
        assert float(c.min()) >= 0 and float(c.max()) <= 1
    assert (fr[1], fg[1], fb[1]) == (0.5, 0.5, 0.5)
    assert float(fr[0]) == 1.0 and float(fg[0]) == 0.0  # saturated red stays red


@pytest.mark.needs_cuda
def test_convert_on_cuda_matches_cpu():
    g = torch.Generator().manual_seed(22)
    y = torch.randint(64, 941, (64, 96), generator=g, dtype=torch.int64).to(torch.int16)
    u = torch.randint(64, 961, (32, 48), generator=g, dtype=torch.int64).to(torch.int16)
    v = torch.randint(64, 961, (32, 48), generator=g, dtype=torch.int64).to(torch.int16)
    for src in (
        kernels.SourceColour(matrix="bt601", range="pc", bits=10),
        kernels.SourceColour(matrix="bt2020", primaries="bt2020", transfer="hlg", bits=10),
        kernels.SourceColour(matrix="bt2020", primaries="bt2020", transfer="pq", bits=10),
    ):
        cpu = kernels.convert_to_bt709(Planes(y, u, v), source=src)
        gpu = kernels.convert_to_bt709(Planes(y.cuda(), u.cuda(), v.cuda()), source=src)
        for a, b in zip(cpu, gpu):
            assert (a.int() - b.cpu().int()).abs().max() <= 1


# --- the non-linear chain against a per-pixel numpy reference built from the standards ---


def _rgb_to_xyz(primaries, white=(0.3127, 0.3290)) -> np.ndarray:
    def xyz(x, y):
        return np.array([x / y, 1.0, (1 - x - y) / y])

    p = np.stack([xyz(*c) for c in primaries], 1)
    return p * np.linalg.solve(p, xyz(*white))


# BT.2020 -> BT.709 in linear light, from the two sets of primaries (not from the kernel's table)
NP_2020_TO_709 = np.linalg.solve(
    _rgb_to_xyz([(0.640, 0.330), (0.300, 0.600), (0.150, 0.060)]),
    _rgb_to_xyz([(0.708, 0.292), (0.170, 0.797), (0.131, 0.046)]),
)
PQ = (2610 / 16384, 2523 / 4096 * 128, 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32)


def np_pq_eotf(e):
    m1, m2, c1, c2, c3 = PQ
    p = np.clip(e, 0, 1) ** (1 / m2)
    return 10000 * (np.maximum(p - c1, 0) / (c2 - c3 * p)) ** (1 / m1)


def np_pq_inverse(nits):
    m1, m2, c1, c2, c3 = PQ
    y = np.clip(nits / 10000, 0, 1) ** m1
    return ((c1 + c2 * y) / (1 + c3 * y)) ** m2


def np_bt2390(nits, source_peak, target_peak=203.0):
    sp = np_pq_inverse(source_peak)
    max_lum = np_pq_inverse(target_peak) / sp
    ks = 1.5 * max_lum - 0.5
    e1 = np.clip(np_pq_inverse(nits) / sp, 0, 1)
    t = (e1 - ks) / (1 - ks)
    p = (2 * t**3 - 3 * t**2 + 1) * ks + (t**3 - 2 * t**2 + t) * (1 - ks) + (-2 * t**3 + 3 * t**2) * max_lum
    return np_pq_eotf(np.where(e1 < ks, e1, p) * sp)


def np_chain(Y, U, V, transfer: str):
    """Every pixel through the whole chain (10-bit BT.2020 limited in, BT.709 8-bit out)."""
    y = (Y - 64) / 876.0
    cb, cr = (np.kron((C - 512) / 896.0, np.ones((2, 2))) for C in (U, V))
    kr, kb = KR_KB["bt2020"]
    r, b = y + 2 * (1 - kr) * cr, y + 2 * (1 - kb) * cb
    rgb = np.stack([r, (y - kr * r - kb * b) / (1 - kr - kb), b], -1)
    if transfer == "pq":
        lin = np_pq_eotf(rgb)
    elif transfer == "hlg":  # inverse OETF, then the BT.2100 OOTF for a 1000-nit display
        a = 0.17883277
        e = np.clip(rgb, 0, 1)
        s = np.where(e <= 0.5, e * e / 3, (np.exp((e - (0.5 - a * np.log(4 * a))) / a) + 1 - 4 * a) / 12)
        lin = 1000 * s * np.maximum(s @ np.array([kr, 1 - kr - kb, kb]), 1e-6)[..., None] ** 0.2
    else:
        e = np.clip(rgb, 0, 1)
        lin = np.where(e < 0.081, e / 4.5, ((e + 0.099) / 1.099) ** (1 / 0.45))
    lin = lin @ NP_2020_TO_709.T
    if transfer in ("pq", "hlg"):
        lin = np.maximum(lin, 0)
        top = lin.max(-1)
        sig = np.clip(lin * (np_bt2390(top, 1000.0) / np.maximum(top, 1e-6) / 203.0)[..., None], 0, 1) ** (1 / 2.4)
    else:
        x = np.clip(lin, 0, 1)
        sig = np.where(x < 0.018, 4.5 * x, 1.099 * x**0.45 - 0.099)
    kr, kb = KR_KB["bt709"]
    yo = sig @ np.array([kr, 1 - kr - kb, kb])
    h, w = Y.shape
    block = lambda c: c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))  # noqa: E731
    cbo, cro = block((sig[..., 2] - yo) / (2 * (1 - kb))), block((sig[..., 0] - yo) / (2 * (1 - kr)))
    return [np.clip(np.round(p), 0, 255) for p in (16 + 219 * yo, 128 + 224 * cbo, 128 + 224 * cro)]


@pytest.mark.parametrize("transfer", ["hlg", "pq", "sdr"])
def test_wide_gamut_and_hdr_match_the_per_pixel_chain_on_noisy_saturated_content(transfer):
    """A gradient under heavy luma noise (+-40 of 876 codes) and saturated, varying chroma:
    the kernel's per-block evaluation must stay within 50 dB of running every pixel through
    the chain (a kernel that ignored the detail inside a block scores about 33-38 dB)."""
    g = np.random.default_rng(3)
    h, w = 96, 128
    xx, yy = np.linspace(0, 1, w)[None, :], np.linspace(0, 1, h)[:, None]
    Y = np.clip(64 + 876 * (0.15 + 0.6 * xx * yy) + g.integers(-40, 41, (h, w)), 64, 940)
    U = np.clip(512 + 300 * np.sin(6 * xx[:, ::2] + 3 * yy[::2]) + g.integers(-20, 21, (h // 2, w // 2)), 64, 960)
    V = np.clip(512 + 300 * np.cos(5 * xx[:, ::2] - 2 * yy[::2]) + g.integers(-20, 21, (h // 2, w // 2)), 64, 960)
    src = kernels.SourceColour(matrix="bt2020", primaries="bt2020", transfer=transfer, bits=10)
    got = kernels.convert_to_bt709(Planes(*(torch.from_numpy(a.astype(np.int16)) for a in (Y, U, V))), source=src)
    want = np_chain(Y.astype(float), U.astype(float), V.astype(float), transfer)
    for name, a, b, floor in zip("YUV", got, want, (50.0, 45.0, 45.0)):
        problem = difference(a.numpy(), b, mode="psnr", min_db=floor)
        assert not problem, f"{transfer} plane {name} against the per-pixel chain: {problem}"


def test_the_bt2020_to_bt709_matrix_follows_from_the_primaries():
    np.testing.assert_allclose(np.array(kernels.BT2020_TO_BT709), NP_2020_TO_709, atol=1e-6)
