"""Files as real users have them: phones, WebM, alpha, several streams, cover art, damage.

Each fixture is built here (PyAV or the ffmpeg CLI from imageio-ffmpeg) the way such
files occur in the wild; colours are saturated BT.709 values from the equations, so a
wrong matrix, a lost rotation or a white transparent area shows.
"""

from __future__ import annotations

import math
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from colourbars import expected_bt709, first_frame
from conftest import run_farm, tone_level
from frames import region_means
from farm.render import render_mashup
from farm.jobs import MashupSpec
from kernels import fit_geometry, layout_geometry

GEO = layout_geometry("vertical")
RED = expected_bt709((255, 0, 0))
BLUE = expected_bt709((0, 0, 255))
GREEN = expected_bt709((0, 255, 0))
BLACK = (16.0, 128.0, 128.0)
W, H = 320, 180


def codes(c) -> tuple[int, int, int]:
    return tuple(int(round(x)) for x in c)  # type: ignore[return-value]


def halves(top, bottom, *, width: int = W, height: int = H) -> list[np.ndarray]:
    """yuv420p planes: ``top`` colour above, ``bottom`` below."""
    planes = []
    for k, (w, h) in enumerate(((width, height), (width // 2, height // 2), (width // 2, height // 2))):
        p = np.empty((h, w), np.uint8)
        p[: h // 2] = codes(top)[k]
        p[h // 2 :] = codes(bottom)[k]
        planes.append(p)
    return planes


def write_av(
    path: Path,
    *,
    planes: list[np.ndarray],
    times_s: list[float],
    audio_hz: float | None = None,
    audio_rate: int = 48000,
    audio_layout: str = "stereo",
    audio_codec: str = "aac",
    fmt: str | None = None,
    audio_start_s: float = 0.0,
    octave_from_s: float | None = None,
) -> Path:
    """A BT.709-tagged H.264 clip of one picture at the given (possibly irregular) times, with
    a tone whose first sample is at ``audio_start_s`` and which jumps an octave at
    ``octave_from_s`` (seconds of the tone), so its alignment can be checked."""
    h, w = planes[0].shape
    tb = Fraction(1, 1000)
    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream("libx264", rate=30, options={"qp": "0", "preset": "ultrafast"})
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.time_base = vs.codec_context.time_base = tb
        vs.codec_context.colorspace = vs.codec_context.color_primaries = vs.codec_context.color_trc = 1
        a = None
        if audio_hz is not None:
            a = out.add_stream(audio_codec, rate=audio_rate)
            a.layout = audio_layout
        end = times_s[-1] + 1 / 30
        for t in times_s:
            frame = av.VideoFrame(w, h, "yuv420p")
            for k, p in enumerate(planes):
                raw = np.frombuffer(frame.planes[k], np.uint8).reshape(-1, frame.planes[k].line_size)
                raw[: p.shape[0], : p.shape[1]] = p
            frame.colorspace = 1
            frame.pts = int(round(t / tb))
            frame.time_base = tb
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if a is not None:
            n = int(end * audio_rate)
            channels = len(a.layout.channels)
            t = np.arange(n) / audio_rate
            hz = np.where(t >= octave_from_s, 2 * audio_hz, audio_hz) if octave_from_s is not None else audio_hz
            tone = (0.3 * np.sin(2 * math.pi * np.cumsum(np.broadcast_to(hz, t.shape)) / audio_rate)).astype(np.float32)
            offset = int(round(audio_start_s * audio_rate))
            size = a.codec_context.frame_size or 1024
            for i in range(0, n, size):
                chunk = np.repeat(tone[None, i : i + size], channels, axis=0)
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout=audio_layout)
                af.sample_rate = audio_rate
                af.pts = i + offset
                out.mux(a.encode(af))
            out.mux(a.encode(None))
    return path


def ffmpeg_run(ffmpeg: str, *args: str) -> None:
    subprocess.run([ffmpeg, "-y", "-loglevel", "error", *args], check=True)


def render(tmp_path: Path, main: Path, template: Path, **kw) -> Path:
    out = tmp_path / kw.pop("name", "out.mp4")
    spec = MashupSpec(mains=(str(main),), template=str(template), output=str(out), encoder="libx264", fade_s=0.0, **kw)
    render_mashup(spec)
    return out


def main_picture(width: int, height: int, *, fit: str = "contain") -> tuple[int, int, int, int]:
    g = fit_geometry(src_width=width, src_height=height, box_width=GEO.main.width, box_height=GEO.main.height, fit=fit)
    return g.offset_x, g.offset_y, g.scaled_width, g.scaled_height


def near(got, want, tol: float = 3.0) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(got, want))


def out_audio(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        return np.concatenate([f.to_ndarray() for f in c.decode(s)], axis=1), s.sample_rate


@pytest.fixture(scope="module")
def grey(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("grey")
    return write_av(root / "grey.mp4", planes=halves((128, 128, 128), (128, 128, 128), width=180, height=320), times_s=[i / 30 for i in range(30)])


def test_phone_clip_upside_down_vfr_mono_aac(tmp_path, ffmpeg, grey):
    times = [0.0, 0.04, 0.07, 0.15, 0.2, 0.31, 0.4, 0.45, 0.6, 0.62, 0.8, 0.97]
    raw = write_av(tmp_path / "raw.mp4", planes=halves(RED, BLUE), times_s=times, audio_hz=440.0, audio_rate=44100, audio_layout="mono")
    phone = tmp_path / "phone.mp4"
    ffmpeg_run(ffmpeg, "-display_rotation", "180", "-i", str(raw), "-c", "copy", str(phone))
    with av.open(str(phone)) as c:
        assert c.streams.audio[0].codec_context.channels == 1
    out = render(tmp_path, phone, grey, fit="contain", duration_s=1.0)
    ox, oy, pw, ph = main_picture(W, H)
    f = first_frame(out, 15)
    top = region_means(f, (ox + 40, oy + ph // 8, pw - 80, ph // 4))
    bottom = region_means(f, (ox + 40, oy + 5 * ph // 8, pw - 80, ph // 4))
    assert near(top, BLUE) and near(bottom, RED), f"not turned upright: top {top}, bottom {bottom}"
    with av.open(str(out)) as c:
        pts = [p.pts for p in c.demux(video=0) if p.size]
        assert len(pts) == 30 and len(set(np.diff(sorted(pts)).tolist())) == 1, "constant frame rate"
    samples, rate = out_audio(out)
    assert samples.shape[0] == 2 and rate == 48000
    assert tone_level(samples, rate, 440.0) > 20 and np.allclose(samples[0], samples[1], atol=1e-3)


@pytest.fixture(scope="module")
def source_with_tone(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("src")
    return write_av(root / "src.mp4", planes=halves(RED, GREEN), times_s=[i / 30 for i in range(30)], audio_hz=440.0)


@pytest.mark.parametrize(
    "name,args",
    [
        ("vp8-vorbis.webm", ["-c:v", "libvpx", "-b:v", "2M", "-c:a", "libvorbis"]),
        ("vp9-opus.webm", ["-c:v", "libvpx-vp9", "-crf", "10", "-b:v", "0", "-c:a", "libopus"]),
        ("live-no-duration.webm", ["-c:v", "libvpx-vp9", "-crf", "10", "-b:v", "0", "-c:a", "libopus", "-f", "webm", "-live", "1"]),
    ],
)
def test_webm(tmp_path, ffmpeg, grey, source_with_tone, name, args):
    path = tmp_path / name
    if name.startswith("live"):
        # written to a pipe: no seeking back, so no duration and no cues in the container
        with open(path, "wb") as fh:
            subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(source_with_tone), *args, "pipe:1"], stdout=fh, check=True)
        with av.open(str(path)) as c:
            assert c.duration is None and c.streams.video[0].duration is None
    else:
        ffmpeg_run(ffmpeg, "-i", str(source_with_tone), *args, str(path))
    out = render(tmp_path, path, grey, fit="contain")
    with av.open(str(out)) as c:
        n = sum(1 for p in c.demux(video=0) if p.size)
    assert 28 <= n <= 31, f"{name}: {n} frames for a 1 s clip"
    ox, oy, pw, ph = main_picture(W, H)
    f = first_frame(out, 10)
    assert near(region_means(f, (ox + 40, oy + ph // 8, pw - 80, ph // 4)), RED, 6)
    assert near(region_means(f, (ox + 40, oy + 5 * ph // 8, pw - 80, ph // 4)), GREEN, 6)
    samples, rate = out_audio(out)
    assert tone_level(samples, rate, 440.0) > 20


TRANSPARENT_RIGHT = "color=c=white@0.0:s=320x180:r=10:d=0.6,format=rgba,drawbox=x=0:y=0:w=160:h=180:color=red@1.0:t=fill:replace=1"


@pytest.mark.parametrize("name", ["alpha.webm", "anim.gif"])
def test_transparent_areas_show_black(tmp_path, ffmpeg, grey, name):
    """VP9 with alpha and an animated GIF: the opaque half is red, the transparent half (white
    under zero alpha) is black like a letterbox, as players that drop alpha show a GIF."""
    path = tmp_path / name
    if name.endswith(".webm"):
        ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", TRANSPARENT_RIGHT, "-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p", "-auto-alt-ref", "0", str(path))
    else:
        ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", TRANSPARENT_RIGHT, "-vf", "split[a][b];[a]palettegen=reserve_transparent=1[p];[b][p]paletteuse=alpha_threshold=128", str(path))
    out = render(tmp_path, path, grey, fit="contain")
    ox, oy, pw, ph = main_picture(W, H)
    f = first_frame(out, 5)
    left = region_means(f, (ox + 20, oy + ph // 4, pw // 2 - 40, ph // 2))
    right = region_means(f, (ox + pw // 2 + 20, oy + ph // 4, pw // 2 - 40, ph // 2))
    assert near(left, RED, 4), left
    assert near(right, BLACK, 3), f"transparent pixels show {right}, not black"


def test_several_video_streams_and_subtitles_use_the_default_one(tmp_path, ffmpeg, grey):
    red = write_av(tmp_path / "red.mp4", planes=halves(RED, RED), times_s=[i / 30 for i in range(15)])
    blue = write_av(tmp_path / "blue.mp4", planes=halves(BLUE, BLUE), times_s=[i / 30 for i in range(15)], audio_hz=440.0)
    subs = tmp_path / "subs.srt"
    subs.write_text("1\n00:00:00,000 --> 00:00:00,400\nXin chào\n")
    multi = tmp_path / "multi.mkv"
    ffmpeg_run(
        ffmpeg, "-i", str(red), "-i", str(blue), "-i", str(subs),
        "-map", "0:v", "-map", "1:v", "-map", "1:a", "-map", "2", "-c:v", "copy", "-c:a", "copy", "-c:s", "srt",
        "-disposition:v:0", "0", "-disposition:v:1", "default", str(multi),
    )  # fmt: skip
    with av.open(str(multi)) as c:
        assert len(c.streams.video) == 2 and len(c.streams.subtitles) == 1
    out = render(tmp_path, multi, grey, fit="contain")
    ox, oy, pw, ph = main_picture(W, H)
    assert near(region_means(first_frame(out, 5), (ox + 40, oy + 40, pw - 80, ph - 80)), BLUE), "the default stream"


def test_one_pixel_video_fills_its_box(tmp_path, grey):
    path = tmp_path / "dot.mkv"
    with av.open(str(path), "w") as out:
        vs = out.add_stream("ffv1", rate=30)
        vs.width, vs.height, vs.pix_fmt = 1, 1, "yuv444p"
        vs.codec_context.colorspace = 1
        for i in range(10):
            frame = av.VideoFrame(1, 1, "yuv444p")
            for k, v in enumerate(codes(RED)):
                frame.planes[k].update(bytes([v]) + bytes(frame.planes[k].buffer_size - 1))
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    out = render(tmp_path, path, grey, fit="cover")
    assert near(region_means(first_frame(out, 5), (40, 40, 1000, 1200)), RED)


def test_eight_khz_sound_as_main_audio_and_music(tmp_path, grey):
    main = write_av(tmp_path / "m.mp4", planes=halves(RED, RED), times_s=[i / 30 for i in range(30)], audio_hz=440.0, audio_rate=8000, audio_layout="mono")
    music = tmp_path / "music.wav"
    with av.open(str(music), "w") as out:
        a = out.add_stream("pcm_s16le", rate=8000)
        a.layout = "mono"
        n = 8000
        tone = (0.3 * np.sin(2 * math.pi * 1000.0 * np.arange(n) / 8000)).astype(np.float32)[None]
        af = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
        af.sample_rate, af.pts = 8000, 0
        out.mux(a.encode(af))
        out.mux(a.encode(None))
    out = render(tmp_path, main, grey, music=str(music), music_volume=0.8)
    samples, rate = out_audio(out)
    assert rate == 48000 and abs(samples.shape[1] / rate - 1.0) < 0.05
    assert tone_level(samples, rate, 440.0) > 20 and tone_level(samples, rate, 1000.0) > 20


def test_mp3_with_cover_art_is_music(tmp_path, ffmpeg, grey):
    wav = tmp_path / "tone.wav"
    ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", "sine=frequency=660:duration=1.5", str(wav))
    cover = tmp_path / "cover.png"
    ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", "color=c=orange:s=300x300", "-frames:v", "1", str(cover))
    mp3 = tmp_path / "song.mp3"
    ffmpeg_run(ffmpeg, "-i", str(wav), "-i", str(cover), "-map", "0", "-map", "1", "-c:a", "libmp3lame", "-c:v", "png",
               "-disposition:v", "attached_pic", "-id3v2_version", "3", str(mp3))  # fmt: skip
    with av.open(str(mp3)) as c:
        assert c.streams.video and c.streams.video[0].disposition & av.stream.Disposition.attached_pic
    silent = write_av(tmp_path / "silent.mp4", planes=halves(RED, RED), times_s=[i / 30 for i in range(30)])
    out = render(tmp_path, silent, grey, music=str(mp3))
    samples, rate = out_audio(out)
    assert tone_level(samples, rate, 660.0) > 20
    from farm.media import probe

    info = probe(mp3)
    assert not info.has_video and info.has_audio and 1.4 < info.duration_s < 1.7


def test_audio_that_breaks_part_way(tmp_path, grey):
    """Audio packets past 0.5 s are garbage: the picture renders whole, the sound plays up
    to the break and is silent after it, and a warning says so."""
    good = write_av(tmp_path / "good.mkv", planes=halves(RED, RED), times_s=[i / 30 for i in range(30)], audio_hz=440.0)
    broken = tmp_path / "broken.mkv"
    rng = np.random.default_rng(1)
    with av.open(str(good)) as src, av.open(str(broken), "w") as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is None:
                continue
            out_stream = streams[packet.stream.index]
            if packet.stream.type == "audio" and packet.pts * packet.time_base > 0.5:
                garbage = av.Packet(rng.integers(0, 256, packet.size, dtype=np.uint8).tobytes())
                garbage.pts, garbage.dts, garbage.time_base = packet.pts, packet.dts, packet.time_base
                packet = garbage
            packet.stream = out_stream
            dst.mux(packet)
    proc = run_farm("mashup", str(broken), "--template", str(grey), "-o", str(tmp_path / "out.mp4"), "--fade", "0", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "warning" in proc.stderr and "broken.mkv" in proc.stderr and "audio" in proc.stderr
    samples, rate = out_audio(tmp_path / "out.mp4")
    head, tail = samples[:, : int(0.4 * rate)], samples[:, int(0.7 * rate) :]
    assert tone_level(head, rate, 440.0) > 20
    assert float(np.abs(tail).max()) < 0.05, "after the break: silence, not noise"


def test_animated_gif_is_a_video_and_a_one_frame_gif_an_image(tmp_path, ffmpeg):
    from farm.library import ImportOptions, import_media
    from farm.workspace import init_workspace

    anim, still = tmp_path / "anim.gif", tmp_path / "still.gif"
    ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", TRANSPARENT_RIGHT, str(anim))
    ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", TRANSPARENT_RIGHT, "-frames:v", "1", str(still))
    ws = init_workspace(tmp_path / "ws")[0]
    report = import_media(ws, [str(anim)], ImportOptions(kind="source"))
    assert report.ok and report.added[0]["kind"] == "source" and report.added[0]["duration_s"] > 0.4
    report = import_media(ws, [str(anim)], ImportOptions())
    assert not report.ok and "a video; say whether it is a template or a source" in str(report.failed)
    report = import_media(ws, [str(still)], ImportOptions(kind="source"))
    assert not report.ok and "still image" in str(report.failed)
    report = import_media(ws, [str(still)], ImportOptions())
    assert report.ok and report.added[0]["kind"] == "image"
    # and through the CLI, as a user types it
    proc = run_farm("media", "import", str(anim), "--kind", "template", "--workspace", str(ws.root))
    assert proc.returncode == 0, proc.stderr



def window(samples: np.ndarray, rate: int, t0: float, t1: float) -> np.ndarray:
    return samples[:, int(t0 * rate) : int(t1 * rate)]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0


def hears(samples: np.ndarray, rate: int, t0: float, t1: float, hz: float) -> bool:
    """The window holds the tone at ``hz`` rather than its octave (or the other way round)."""
    w = window(samples, rate, t0, t1)
    other = 2 * hz if hz < 600 else hz / 2
    return rms(w) > 0.05 and tone_level(w, rate, hz) > 3 * tone_level(w, rate, other)


def test_audio_that_starts_after_the_video_keeps_sync(tmp_path, grey):
    # the tone's first sample is at 0.3 s; it jumps an octave 0.3 s into the tone
    src = write_av(tmp_path / "late.mp4", planes=halves(RED, RED), times_s=[i / 30 for i in range(30)],
                   audio_hz=440.0, audio_start_s=0.3, octave_from_s=0.3)  # fmt: skip
    samples, rate = out_audio(render(tmp_path, src, grey))
    assert rms(window(samples, rate, 0.0, 0.27)) < 0.01, "silence before the sound starts"
    assert hears(samples, rate, 0.33, 0.57, 440.0) and hears(samples, rate, 0.64, 0.95, 880.0)


def test_audio_that_starts_before_the_video_is_cut_to_it(tmp_path, grey):
    # the picture starts at 0.3 s, the sound at 0: the first 0.3 s of sound are dropped
    src = write_av(tmp_path / "early.mkv", planes=halves(RED, RED), times_s=[0.3 + i / 30 for i in range(30)],
                   audio_hz=440.0, octave_from_s=0.5)  # fmt: skip
    samples, rate = out_audio(render(tmp_path, src, grey))
    assert hears(samples, rate, 0.02, 0.18, 440.0) and hears(samples, rate, 0.24, 0.9, 880.0)


def test_damage_in_the_middle_of_the_audio_is_silent_and_the_rest_keeps_sync(tmp_path, grey):
    good = write_av(tmp_path / "good.mkv", planes=halves(RED, RED), times_s=[i / 30 for i in range(30)],
                    audio_hz=440.0, octave_from_s=0.7)  # fmt: skip
    broken = tmp_path / "holed.mkv"
    rng = np.random.default_rng(2)
    with av.open(str(good)) as src, av.open(str(broken), "w") as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is None:
                continue
            t = float(packet.pts * packet.time_base)
            out_stream = streams[packet.stream.index]
            if packet.stream.type == "audio" and 0.4 < t < 0.6:
                garbage = av.Packet(rng.integers(0, 256, packet.size, dtype=np.uint8).tobytes())
                garbage.pts, garbage.dts, garbage.time_base = packet.pts, packet.dts, packet.time_base
                packet = garbage
            packet.stream = out_stream
            dst.mux(packet)
    samples, rate = out_audio(render(tmp_path, broken, grey))
    assert hears(samples, rate, 0.05, 0.38, 440.0)
    assert rms(window(samples, rate, 0.45, 0.55)) < 0.01, "silence over the damaged packets"
    assert hears(samples, rate, 0.62, 0.69, 440.0) and hears(samples, rate, 0.75, 0.95, 880.0), "resumes in sync"


def test_transparent_edges_blend_with_black_not_with_hidden_colour(tmp_path, ffmpeg, grey):
    """Scaled up 3.4x, the red/transparent edge must fade red -> black: the white hidden under
    zero alpha must not bleed in (a pink or grey fringe, brighter than the red)."""
    path = tmp_path / "edge.webm"
    ffmpeg_run(ffmpeg, "-f", "lavfi", "-i", TRANSPARENT_RIGHT, "-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p", "-auto-alt-ref", "0", str(path))
    out = render(tmp_path, path, grey, fit="contain")
    ox, oy, pw, ph = main_picture(W, H)
    y = first_frame(out, 5)[0][oy + ph // 4 : oy + 3 * ph // 4, ox : ox + pw].astype(int)
    edge = y[:, pw // 2 - 12 : pw // 2 + 12]
    assert edge.max() <= RED[0] + 8, f"a bright fringe at the transparent edge (max Y {edge.max()})"


def test_limited_range_grey_video_keeps_its_levels(tmp_path, grey):
    """A monochrome clip (gray pixel format) coded in limited range: black stays 16 and white
    235 (libswscale reads gray as full range whatever it is told)."""
    path = tmp_path / "mono.mkv"
    with av.open(str(path), "w") as out:
        vs = out.add_stream("ffv1", rate=30)
        vs.width, vs.height, vs.pix_fmt = W, H, "gray"
        vs.codec_context.color_range = 1
        for i in range(10):
            frame = av.VideoFrame(W, H, "gray")
            raw = np.frombuffer(frame.planes[0], np.uint8).reshape(-1, frame.planes[0].line_size)
            raw[: H // 2, :W] = 16
            raw[H // 2 : H, :W] = 235
            frame.color_range = 1
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    out = render(tmp_path, path, grey, fit="contain")
    ox, oy, pw, ph = main_picture(W, H)
    f = first_frame(out, 5)
    assert near(region_means(f, (ox + 40, oy + ph // 8, pw - 80, ph // 4)), BLACK, 2)
    assert near(region_means(f, (ox + 40, oy + 5 * ph // 8, pw - 80, ph // 4)), (235.0, 128.0, 128.0), 2)


def test_unsupported_colour_matrix_is_one_clear_line(tmp_path, ffmpeg, grey, source_with_tone):
    ycgco = tmp_path / "ycgco.mp4"
    ffmpeg_run(ffmpeg, "-i", str(source_with_tone), "-c", "copy", "-an", "-bsf:v", "h264_metadata=matrix_coefficients=8", str(ycgco))
    proc = run_farm("mashup", str(ycgco), "--template", str(grey), "-o", str(tmp_path / "out.mp4"), "-q")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "ycgco.mp4" in lines[0] and "YCgCo" in lines[0], proc.stderr
    assert not (tmp_path / "out.mp4").exists()
