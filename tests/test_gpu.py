"""The GPU path on a GPU (needs_cuda: skipped without one, required with FARM_REQUIRE_CUDA=1):
its output against the CPU path's, GPU memory over many jobs, NVENC where there is none.

Inputs are made with PyAV only, so the check runs on a GPU machine with no ffmpeg binary.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from colourbars import Variant, bars_rgb, planes_for, read_planes, set_display_rotation, write_planes
from frames import psnr

pytestmark = pytest.mark.needs_cuda


def moving_bars(path: Path, *, width: int, height: int, frames: int = 20, bits: int = 8, codec: str = "libx264",
                times_s: list[float] | None = None) -> Path:
    """Bars that slide a little every frame (so a dropped or repeated frame shows), BT.709."""
    v = Variant(path.stem, width, height, tags="bt709", bits=bits, codec=codec)
    base = bars_rgb(width, height)
    pics = [planes_for(np.roll(base, 4 * i, axis=1), v) for i in range(frames)]
    if times_s is None:
        return write_planes(path, pics, v=v)
    tb = Fraction(1, 1000)
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=30, options={"qp": "0", "preset": "ultrafast"})
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.time_base = vs.codec_context.time_base = tb
        vs.codec_context.colorspace = vs.codec_context.color_primaries = vs.codec_context.color_trc = 1
        for t, planes in zip(times_s, pics):
            frame = av.VideoFrame(width, height, "yuv420p")
            for k, p in enumerate(planes):
                raw = np.frombuffer(frame.planes[k], np.uint8).reshape(-1, frame.planes[k].line_size)
                raw[: p.shape[0], : p.shape[1]] = p
            frame.pts, frame.time_base = int(round(t * 1000)), tb
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


def render(tmp_path: Path, main: Path, template: Path, *, decoder: str, name: str, **kw):
    from farm.jobs import MashupSpec
    from farm.render import render_mashup

    spec = MashupSpec(mains=(str(main),), template=str(template), output=str(tmp_path / f"{name}.mp4"),
                      encoder=kw.pop("encoder", "libx264"), decoder=decoder, crf=12, fade_s=0.2, **kw)
    return render_mashup(spec)


def frames_of(path: str) -> list:
    with av.open(path) as c:
        return [read_planes(f) for f in c.decode(video=0)]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return moving_bars(tmp_path_factory.mktemp("tpl") / "template.mp4", width=720, height=1280, frames=15)


def _phone(tmp_path: Path) -> Path:
    """A clip with a 90-degree display matrix, as a phone writes it."""
    return set_display_rotation(moving_bars(tmp_path / "phone.mp4", width=640, height=360), 90)


@pytest.mark.parametrize("case", ["landscape", "portrait", "rotated", "10-bit", "vfr"])
def test_gpu_output_matches_the_cpu_path(tmp_path, template, case):
    if case == "landscape":
        main = moving_bars(tmp_path / "land.mp4", width=1280, height=720)
    elif case == "portrait":
        main = moving_bars(tmp_path / "port.mp4", width=720, height=1280)
    elif case == "rotated":
        main = _phone(tmp_path)
    elif case == "10-bit":
        main = moving_bars(tmp_path / "hevc10.mkv", width=1280, height=720, bits=10, codec="libx265")
    else:
        main = moving_bars(tmp_path / "vfr.mp4", width=1280, height=720, frames=12,
                           times_s=[0.0, 0.03, 0.1, 0.12, 0.2, 0.31, 0.33, 0.4, 0.52, 0.55, 0.6, 0.7])
    cpu = render(tmp_path, main, template, decoder="cpu", name="cpu")
    gpu = render(tmp_path, main, template, decoder="gpu", name="gpu")
    assert gpu.frames == cpu.frames and gpu.decoder in ("nvdec", "cpu-decode+cuda")
    a, b = frames_of(cpu.path), frames_of(gpu.path)
    assert len(a) == len(b) == cpu.frames
    worst = min(psnr(x[0], y[0]) for x, y in zip(a, b))
    assert worst >= 40.0, f"{case}: luma PSNR of the GPU path against the CPU path falls to {worst:.1f} dB ({gpu.notes})"
    chroma = min(min(psnr(x[1], y[1]), psnr(x[2], y[2])) for x, y in zip(a, b))
    assert chroma >= 38.0, f"{case}: chroma PSNR {chroma:.1f} dB"


def test_nvdec_decodes_what_it_can(tmp_path, template):
    from farm.media import machine_report

    report = machine_report()
    if not report["pynvvideocodec"]["loaded"]:
        pytest.skip(f"no PyNvVideoCodec: {report['pynvvideocodec']['why']}")
    main = moving_bars(tmp_path / "h264.mp4", width=1280, height=720)
    gpu = render(tmp_path, main, template, decoder="gpu", name="gpu")
    if report["nvdec"].get("h264 4:2:0 8-bit"):
        assert gpu.decoder == "nvdec" and not gpu.notes, gpu.notes


def test_gpu_memory_stays_flat_over_50_jobs(tmp_path):
    import torch

    from farm.media import choose_decoder

    main = moving_bars(tmp_path / "m.mp4", width=640, height=360, frames=9)
    tpl = moving_bars(tmp_path / "t.mp4", width=360, height=640, frames=9)
    decoder = choose_decoder("gpu")
    from farm.jobs import MashupSpec
    from farm.render import RenderCache, render_mashup

    cache = RenderCache(max_bytes=64 << 20)
    used = []
    for i in range(50):
        spec = MashupSpec(mains=(str(main),), template=str(tpl), output=str(tmp_path / f"o{i % 2}.mp4"),
                          encoder="libx264", decoder="gpu", fade_s=0.1, preset="ultrafast")
        render_mashup(spec, decoder=decoder, cache=cache)
        torch.cuda.synchronize()
        used.append(torch.cuda.memory_allocated())
    settled = used[5:]
    assert max(settled) - min(settled) <= 16 << 20, f"GPU memory drifts: {[u >> 20 for u in used]} MiB"


def test_nvenc_is_used_where_it_opens_and_x264_where_it_does_not(tmp_path, template):
    from farm.errors import UnavailableError
    from farm.media import probe_nvenc_gpu

    ok, why = probe_nvenc_gpu()
    main = moving_bars(tmp_path / "m.mp4", width=1280, height=720, frames=10)
    result = render(tmp_path, main, template, decoder="gpu", name="auto", encoder="auto")
    if ok:
        assert result.encoder == "nvenc"
    else:
        assert result.encoder == "libx264", why
        with pytest.raises(UnavailableError, match="--encoder nvenc"):
            render(tmp_path, main, template, decoder="gpu", name="nvenc", encoder="nvenc")
    assert len(frames_of(result.path)) == result.frames
