"""Product promos: images, pan/zoom and crossfades, the title and end cards, the price badge,
Vietnamese text in the pixels, the voice over ducked music, the template box, bad images."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

import kernels
from conftest import GREY, _bt709, flat_clip, planes_of, read_frames
from farm.errors import InputError
from farm.jobs import PromoSpec
from farm.media import SAMPLE_RATE, build_promo_soundtrack, decode_audio, duck_gain, speech_envelope
from farm.render import END_CARD_S, TextLayer, plan_promo, render_promo, render_text_rgba, safe_area
from frames import psnr

W, H = 1080, 1920
FPS = 10  # promos are 20-30 s: tests render them at 10 fps to stay quick


def flat_image(path: Path, rgb: tuple[int, int, int], size: tuple[int, int], **save) -> Path:
    Image.new("RGB", size, rgb).save(path, **save)
    return path


def tone_wav(path: Path, *, hz: float, seconds: float, amplitude: float = 0.5) -> Path:
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    data = (np.sin(2 * np.pi * hz * t) * amplitude * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(data.tobytes())
    return path


def spec(tmp_path: Path, images, **kw) -> PromoSpec:
    base = dict(images=tuple(str(i) for i in images), title="Áo thun", price="1.290.000₫",
                output=str(tmp_path / "promo.mp4"), duration_s=20, fps=FPS, preset="ultrafast", crf=18,
                encoder="libx264", decoder="cpu")
    base.update(kw)
    return PromoSpec(**base)


def frame_at(frames: list[np.ndarray], t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return planes_of(frames[int(round(t * FPS))], W, H)


def near(planes, x: int, y: int, want: tuple[int, int, int], tol: float = 6.0, size: int = 40) -> bool:
    yy, uu, vv = planes
    got = (yy[y:y + size, x:x + size].mean(), uu[y // 2:(y + size) // 2, x // 2:(x + size) // 2].mean(),
           vv[y // 2:(y + size) // 2, x // 2:(x + size) // 2].mean())
    return all(abs(g - w) <= tol for g, w in zip(got, want))


RED_RGB, GREEN_RGB, BLUE_RGB = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def test_images_follow_each_other_with_a_crossfade_and_cards(tmp_path):
    images = [flat_image(tmp_path / "r.png", RED_RGB, (540, 960)), flat_image(tmp_path / "g.png", GREEN_RGB, (540, 960)),
              flat_image(tmp_path / "b.png", BLUE_RGB, (540, 960))]
    s = spec(tmp_path, images, hook="Mát lạnh mùa hè", selling_lines=("Vải cotton", "Giao nhanh"),
             call_to_action="Mua ngay", platform="tiktok")
    result = render_promo(s)
    assert (result.width, result.height, result.frames) == (W, H, 200)
    frames = read_frames(Path(result.path))
    assert len(frames) == 200
    plan = plan_promo(s)
    seg = plan.segments
    # each image fills the box in its own time (colours from the BT.709 equations, not from the farm)
    probe_x, probe_y = 900, 1000  # clear of every text line
    for k, rgb in enumerate((RED_RGB, GREEN_RGB, BLUE_RGB)):
        mid = (max(seg[k].start_s, 1.0) + min(seg[k].end_s, plan.duration_s - END_CARD_S)) / 2
        assert near(frame_at(frames, mid), probe_x, probe_y, _bt709(*(c / 255 for c in rgb))), (k, mid)
    # halfway through the first crossfade: the average of red and green
    t = round((seg[1].start_s + seg[0].end_s) / 2 * FPS) / FPS
    w = (t - seg[1].start_s) / (seg[0].end_s - seg[1].start_s)
    assert 0.3 < w < 0.7
    red, green = _bt709(1, 0, 0), _bt709(0, 1, 0)
    assert near(frame_at(frames, t), probe_x, probe_y, tuple(a * (1 - w) + b * w for a, b in zip(red, green)))
    # the call to action's yellow plate only on the end card; the price badge's red plate before it
    yellow = _bt709(1, 204 / 255, 0)
    plate = _bt709(230 / 255, 30 / 255, 60 / 255)
    layer = TextLayer(s, plan, device="cpu")
    where = {p["role"]: p for p in layer.placements()}
    cta, badge = where["cta"], where["price"]
    # inside each plate, left of its text and clear of its rounded corners
    cx, cy = cta["x"] + 12, (cta["y"] + cta["height"] // 2 - 4) & ~1
    assert near(frame_at(frames, plan.duration_s - 1.5), cx, cy, yellow, tol=12, size=8)
    assert not near(frame_at(frames, 8.0), cx, cy, yellow, tol=12, size=8)
    bx, by = badge["x"] + 12, (badge["y"] + badge["height"] // 2 - 4) & ~1
    assert near(frame_at(frames, 8.0), bx, by, plate, tol=12, size=8)
    assert not near(frame_at(frames, plan.duration_s - 1.5), bx, by, plate, tol=12, size=8)
    # fades in from black and out to black
    assert frames[0][:H].mean() < 20 and frames[-1][:H].mean() < 40


def test_vietnamese_title_reaches_the_pixels(tmp_path):
    """The title card's pixels against a reference drawn outside the video path: the same RGBA
    text composited over the same grey in numpy, turned into luma with the BT.709 equation.
    The string without its diacritics must match clearly worse."""
    title = "Áo thun Việt Nam chất lượng"
    s = spec(tmp_path, [flat_image(tmp_path / "grey.png", (128, 128, 128), (540, 960))], hook=title,
             selling_lines=(), call_to_action="")
    result = render_promo(s)
    plan = plan_promo(s)
    hook = next(p for p in TextLayer(s, plan, device="cpu").placements() if p["role"] == "hook")
    y_video = frame_at(read_frames(Path(result.path)), 1.5)[0].astype(np.float64)
    x0, y0 = hook["x"], hook["y"]
    box_w = hook["width"]

    def reference(text: str) -> np.ndarray:
        rgba = render_text_rgba(text, max_width_px=plan.box.width - 2 * max(60, 40) - 90, size_px=84, role="title",
                                max_lines=3, max_height_px=10_000).astype(np.float64)
        return rgba

    safe = safe_area(None, width=W, height=H)
    width = min(safe.x + safe.width, W - 40) - max(safe.x, 40)
    rgba = render_text_rgba(title, max_width_px=width, size_px=84, role="title", max_lines=3,
                            max_height_px=int((min(safe.y + safe.height, H - 40) - max(safe.y, 40)) * 0.32))
    assert rgba.shape[1] == box_w  # the same raster the layer placed
    grey_y = _bt709(128 / 255, 128 / 255, 128 / 255)[0]

    def luma(rgba: np.ndarray) -> np.ndarray:
        a = rgba[..., 3:4].astype(np.float64) / 255
        rgb = rgba[..., :3].astype(np.float64) * a + 128 * (1 - a)
        return 16 + 219 * (0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]) / 255

    assert abs(luma(np.zeros((2, 2, 4), np.uint8))[0, 0] - grey_y) < 1
    want = luma(rgba)
    h, w = want.shape
    got = y_video[y0:y0 + h, x0:x0 + w]
    good = psnr(got, want)
    plain = render_text_rgba("Ao thun Viet Nam chat luong", max_width_px=width, size_px=84, role="title", max_lines=3)
    ph, pw = min(h, plain.shape[0]), min(w, plain.shape[1])
    bad = psnr(got[:ph, :pw], luma(plain)[:ph, :pw])
    assert good >= 28.0, f"title pixels differ from the reference: {good:.1f} dB"
    assert good - bad >= 4.0, f"with diacritics {good:.1f} dB, without {bad:.1f} dB"
    assert reference  # keeps the helper above honest for readers: the layer's width is what counts


def test_photos_of_every_kind(tmp_path):
    """EXIF-rotated JPEG (stored landscape, shown portrait), tiny PNG, huge JPEG, WebP, HEIC."""
    pillow_heif = pytest.importorskip("pillow_heif")  # a dependency; absent only in the GPU check's bare image
    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = flat_image(tmp_path / "phone.jpg", (255, 0, 0), (1600, 900), exif=exif, quality=95)
    tiny = flat_image(tmp_path / "tiny.png", (0, 255, 0), (48, 64))
    huge = flat_image(tmp_path / "huge.jpg", (0, 0, 255), (6000, 4000), quality=80)
    webp = flat_image(tmp_path / "a.webp", (255, 255, 0), (800, 800), lossless=True)
    heic = flat_image(tmp_path / "a.heic", (0, 255, 255), (900, 1600), quality=95)
    s = spec(tmp_path, [rotated, tiny, huge, webp, heic], duration_s=25, selling_lines=(), call_to_action="")
    result = render_promo(s)
    frames = read_frames(Path(result.path))
    plan = plan_promo(s)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
    for seg, rgb in zip(plan.segments, colours):
        mid = (max(seg.start_s, 3.2) + min(seg.end_s, plan.duration_s - END_CARD_S)) / 2
        f = frame_at(frames, mid)
        assert near(f, 500, 1000, _bt709(*(c / 255 for c in rgb)), tol=8), (seg.index, mid)
    # the phone photo is upright (portrait: it fills the box to the top; sideways it would be a
    # band with a dark blurred fill above it)
    first = plan.segments[0]
    f = frame_at(frames, (max(first.start_s, 3.2) + first.end_s) / 2)
    assert near(f, 500, 200, _bt709(1, 0, 0), tol=8)
    # the huge landscape one is shown whole: its band in the middle, a darker blurred fill above
    third = plan.segments[2]
    f = frame_at(frames, (third.start_s + third.end_s) / 2)
    assert f[0][100:140, 500:540].mean() < _bt709(0, 0, 1)[0] - 3


def test_a_bad_image_fails_naming_it_and_leaves_nothing(tmp_path):
    good = flat_image(tmp_path / "ok.png", (10, 200, 30), (64, 64))
    bad = tmp_path / "broken.jpg"
    data = flat_image(tmp_path / "full.jpg", (200, 10, 30), (640, 480), quality=90).read_bytes()
    bad.write_bytes(data[: len(data) // 3])
    s = spec(tmp_path, [good, bad])
    with pytest.raises(InputError, match="broken.jpg"):
        render_promo(s)
    assert not Path(s.output).exists() and not list(tmp_path.glob(".*promo*"))


def test_spec_checks():
    with pytest.raises(InputError, match="20 to 30 seconds"):
        PromoSpec(images=("a.png",), title="x", price="1", output="o.mp4", duration_s=12)
    with pytest.raises(InputError, match="1 to 10"):
        PromoSpec(images=(), title="x", price="1", output="o.mp4")
    with pytest.raises(InputError, match="voice lines"):
        PromoSpec(images=("a.png",), title="x", price="1", output="o.mp4", selling_lines=("a",), voice_lines=("v.wav",))
    s = PromoSpec(images=("a.png",), title="x", price="1", output="o.mp4", selling_lines=("a", "b"),
                  call_to_action="Buy")
    assert PromoSpec.from_json(s.to_json()) == s and s.spoken_texts == ("x", "a", "b", "Buy")


def _band_level(samples: np.ndarray, hz: float) -> float:
    mono = samples.mean(axis=0)
    spec_ = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    freqs = np.fft.rfftfreq(len(mono), 1 / SAMPLE_RATE)
    return float(spec_[(freqs > hz - 5) & (freqs < hz + 5)].max())


def test_music_ducks_under_the_voice(tmp_path):
    music = tone_wav(tmp_path / "music.wav", hz=440, seconds=3.0, amplitude=0.4)
    voice = tone_wav(tmp_path / "line.wav", hz=1000, seconds=1.0, amplitude=0.5)
    mix = build_promo_soundtrack(duration_s=8.0, music_path=str(music), voice_paths=[str(voice)],
                                 voice_starts_s=[3.0], fade_out_s=0.5)
    assert mix.shape == (2, 8 * SAMPLE_RATE)
    before = mix[:, int(1.5 * SAMPLE_RATE):int(2.5 * SAMPLE_RATE)]
    during = mix[:, int(3.4 * SAMPLE_RATE):int(3.9 * SAMPLE_RATE)]
    drop_db = 20 * math.log10(_band_level(during, 440) / (_band_level(before, 440) * 0.5))  # 0.5 s vs 1 s window
    assert -14.0 <= drop_db <= -10.0, f"music under the voice: {drop_db:.1f} dB"
    assert _band_level(during, 1000) > 10 * _band_level(before, 1000)
    # the gain moves without steps: no sample-to-sample jump bigger than the slew allows
    env = speech_envelope(np.tile(decode_audio(str(voice)), (1, 1)))
    g = duck_gain(np.concatenate([np.zeros(SAMPLE_RATE, np.float32), env[: SAMPLE_RATE], np.zeros(SAMPLE_RATE,
                                                                                                  np.float32)]))
    assert np.abs(np.diff(g)).max() < 0.02 and g.min() == pytest.approx(10 ** (-12 / 20), abs=0.01)


def test_voice_lines_drive_the_captions_and_the_sound(tmp_path):
    lines = [tone_wav(tmp_path / f"v{k}.wav", hz=1000, seconds=1.5) for k in range(4)]
    music = tone_wav(tmp_path / "music.wav", hz=440, seconds=5.0, amplitude=0.3)
    s = spec(tmp_path, [flat_image(tmp_path / "g.png", GREY, (540, 960))], hook="Xin chào",
             selling_lines=("Một", "Hai"), call_to_action="Mua ngay", voice_lines=tuple(map(str, lines)),
             music=str(music))
    plan = plan_promo(s)
    starts = [sl.start_s for sl in plan.slots]
    assert starts == pytest.approx(plan.voice_starts_s) and len(starts) == 4
    assert all(b - a == pytest.approx(1.5 + 0.35) for a, b in zip(starts, starts[1:]))
    result = render_promo(s)
    with av.open(result.path) as c:
        audio = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
    at = int((starts[1] + 0.5) * SAMPLE_RATE)
    spoken = audio[:, at:at + SAMPLE_RATE // 2]
    gap = int((starts[1] - 0.2) * SAMPLE_RATE)
    silent = audio[:, gap:gap + SAMPLE_RATE // 10]
    assert _band_level(spoken, 1000) > 5 * _band_level(np.tile(silent, (1, 5)), 1000)


def test_with_a_template_the_promo_takes_two_thirds(tmp_path):
    tpl = flat_clip(tmp_path / "tpl.mp4", GREY, seconds=2.0, width=320, height=180)
    s = spec(tmp_path, [flat_image(tmp_path / "r.png", (255, 0, 0), (1080, 1280))], template=str(tpl),
             selling_lines=(), call_to_action="")
    result = render_promo(s)
    f = frame_at(read_frames(Path(result.path)), 10.0)
    geo = kernels.layout_geometry("vertical")
    assert near(f, 500, geo.template.y + 200, GREY, tol=6)
    assert near(f, 500, geo.main.y + 900, _bt709(1, 0, 0), tol=8)


def test_overlay_opacity_against_numpy():
    import torch

    rng = np.random.default_rng(3)
    frame = kernels.Planes(*(torch.from_numpy(rng.integers(0, 256, s, dtype=np.uint8)) for s in ((8, 8), (4, 4), (4, 4))))
    rgba = rng.integers(0, 256, (8, 8, 4), dtype=np.uint8)
    ov = kernels.rgba_to_yuva420(torch.from_numpy(rgba))
    before = [p.clone().numpy().astype(np.int64) for p in frame]
    kernels.alpha_overlay(frame, ov, x=0, y=0, opacity=0.5)
    q8 = 128
    a = (ov.alpha_y.numpy().astype(np.int64) * q8 + 128) // 256
    want = (ov.planes.y.numpy().astype(np.int64) * a + before[0] * (255 - a) + 127) // 255
    assert np.array_equal(frame.y.numpy(), want)
    same = kernels.Planes(*(torch.from_numpy(b.astype(np.uint8)) for b in before))
    kernels.alpha_overlay(same, ov, x=0, y=0, opacity=0.0)
    assert np.array_equal(same.y.numpy(), before[0])


def test_the_shift_division_of_the_blend_is_exact():
    t = np.arange(0, 255 * 255 + 1, dtype=np.int64)
    u = t + 128
    assert np.array_equal((u + (u >> 8)) >> 8, (t + 127) // 255)


@pytest.mark.needs_cuda
def test_promo_composed_on_cuda_matches_the_cpu(tmp_path):
    """The GPU path of a promo (images panned and composed on CUDA, the template decoded on
    NVDEC where it can be, x264 fed through the pinned ring) against the CPU path's frames."""
    rng = np.random.default_rng(5)
    images = []
    for k, (w, h) in enumerate(((900, 1200), (1200, 700))):
        a = (rng.random((h // 8, w // 8, 3)) * 255).astype(np.uint8)
        path = tmp_path / f"tex{k}.png"
        Image.fromarray(a).resize((w, h), Image.Resampling.BICUBIC).save(path)
        images.append(path)
    tpl = flat_clip(tmp_path / "tpl.mp4", GREY, seconds=2.0, width=320, height=180)
    kw = dict(hook="Giá chỉ 99.000₫", selling_lines=("Một", "Hai"), call_to_action="Mua ngay", template=str(tpl))
    cpu = render_promo(spec(tmp_path, images, output=str(tmp_path / "cpu.mp4"), decoder="cpu", **kw))
    gpu = render_promo(spec(tmp_path, images, output=str(tmp_path / "gpu.mp4"), decoder="auto", **kw))
    assert gpu.decoder.startswith("cuda") and cpu.decoder.startswith("cpu")
    a, b = read_frames(Path(cpu.path)), read_frames(Path(gpu.path))
    assert len(a) == len(b) == cpu.frames
    worst = min(psnr(x[:H].astype(np.float64), y[:H].astype(np.float64)) for x, y in zip(a, b) if x[:H].std() > 1)
    assert worst >= 40.0, f"luma PSNR of the CUDA promo against the CPU one falls to {worst:.1f} dB"
