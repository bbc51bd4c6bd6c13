"""The GPU path's parts that run anywhere: NV12/P016 kernels, rotation, batched fits, the pinned
ring, backend selection and per-input fallback, NVENC packets, `farm doctor`. The parts that
need a GPU are in test_gpu.py (needs_cuda)."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import numpy as np
import pytest
import torch

import kernels
from colourbars import codes, expected_bt709, read_planes, ycbcr
from conftest import RED, flat_clip, run_farm
from frames import difference
from kernels import Planes


def rand_planes(w: int, h: int, seed: int, *, n: int | None = None) -> Planes:
    g = torch.Generator().manual_seed(seed)
    lead = () if n is None else (n,)
    return Planes(*(torch.randint(0, 256, (*lead, *s), dtype=torch.uint8, generator=g)
                    for s in ((h, w), (h // 2, w // 2), (h // 2, w // 2))))


def test_nv12_round_trip_and_views():
    p = rand_planes(16, 10, 1)
    nv12 = kernels.planes_to_nv12(p)
    assert nv12.shape == (15, 16)
    # NV12 by hand: luma rows, then Cb Cr Cb Cr ...
    np.testing.assert_array_equal(nv12[10:].numpy()[:, 0::2], p.u.numpy())
    np.testing.assert_array_equal(nv12[10:].numpy()[:, 1::2], p.v.numpy())
    back = kernels.nv12_planes(nv12)
    assert all(torch.equal(a, b) for a, b in zip(back, p))
    assert back.y.data_ptr() == nv12.data_ptr(), "8-bit planes are views"


def test_p016_values_come_down_to_their_bit_depth():
    # 10-bit values MSB-aligned in 16 bits, as NVDEC writes them
    y10 = torch.tensor([[64, 940], [512, 1023]], dtype=torch.int32)
    c10 = torch.tensor([[512, 960]], dtype=torch.int32)  # one Cb, Cr pair
    frame = torch.cat([y10 << 6, (c10 << 6).reshape(1, 2)]).to(torch.uint16)
    p = kernels.nv12_planes(frame, bits=10)
    assert p.y.dtype == torch.int16 and p.y.tolist() == [[64, 940], [512, 1023]]
    assert p.u.tolist() == [[512]] and p.v.tolist() == [[960]]
    out = kernels.convert_to_bt709(p, source=kernels.SourceColour(bits=10))
    assert out.y.tolist() == [[16, 235], [128, 255]] and out.v.item() == 240


def test_rotation_matches_the_cpu_decoders_turns():
    # a phone's "rotate=90" (-90 here) needs a clockwise quarter turn, as ffmpeg's autorotate
    y = torch.arange(24, dtype=torch.uint8).reshape(4, 6)
    p = Planes(y, torch.zeros((2, 3), dtype=torch.uint8), torch.zeros((2, 3), dtype=torch.uint8))
    cw = kernels.rotate_planes(p, rotation_deg=-90).y.numpy()
    np.testing.assert_array_equal(cw, np.rot90(y.numpy(), k=-1))  # clockwise
    np.testing.assert_array_equal(kernels.rotate_planes(p, rotation_deg=90).y.numpy(), np.rot90(y.numpy(), k=1))
    np.testing.assert_array_equal(kernels.rotate_planes(p, rotation_deg=180).y.numpy(), np.rot90(y.numpy(), k=2))
    with pytest.raises(ValueError, match="Supported: 0, 90, -90, 180"):
        kernels.rotate_planes(p, rotation_deg=45)


@pytest.mark.parametrize("fit", ["cover", "contain", "blur"])
def test_fit_parts_batched_equals_one_by_one(fit):
    batch = rand_planes(64, 36, 3, n=3)
    pictures, backgrounds = kernels.fit_parts(batch, box_width=40, box_height=48, fit=fit)
    geo = kernels.fit_geometry(src_width=64, src_height=36, box_width=40, box_height=48, fit=fit)
    assert (pictures.width, pictures.height) == (geo.scaled_width, geo.scaled_height)
    for k in range(3):
        one, bg = kernels.fit_parts(batch.frame(k), box_width=40, box_height=48, fit=fit)
        assert all(torch.equal(a, b) for a, b in zip(pictures.frame(k), one))
        assert (bg is None) == (backgrounds is None) == (fit != "blur")


def test_pinned_ring_hands_frames_over_in_order(tmp_path):
    """The ring between GPU canvases and a CPU encoder, run on CPU tensors: every frame
    comes out, in order, with its own pixels (lossless x264), however deep the ring."""
    from farm.media import Mp4Muxer, libx264_config
    from farm.media import HostRingEncoder
    from farm.media import PyAVEncoder

    w, h, n = 64, 48, 11
    config = libx264_config(preset="ultrafast", crf=0)
    ring = HostRingEncoder(PyAVEncoder(config, width=w, height=h, fps=25), device="cpu", depth=4)
    out = tmp_path / "ring.mp4"
    muxer = Mp4Muxer(out, fps=25)
    for i in range(n):
        slot, canvas = ring.new_canvas()
        canvas.y.fill_(20 + 20 * i)
        canvas.u.fill_(128 - i)
        canvas.v.fill_(128 + i)
        muxer.write_video(ring.encode(slot))
    muxer.write_video(ring.flush())
    muxer.write_audio(np.zeros((2, 4800), np.float32))
    muxer.commit()
    with av.open(str(out)) as c:
        got = [read_planes(f) for f in c.decode(video=0)]
    assert len(got) == n
    for i, (y, u, v) in enumerate(got):
        assert int(y.mean()) == 20 + 20 * i and int(u.mean()) == 128 - i and int(v.mean()) == 128 + i


def test_nvdec_refuses_what_it_cannot_decode():
    from farm.media import probe
    from farm.media import nvdec_refusal

    def info(**kw):
        from farm.media import MediaInfo

        base = dict(path="x.mp4", duration_s=1.0, has_video=True, has_audio=False, width=64, height=64,
                    coded_width=64, coded_height=64, video_codec="h264", pix_fmt="yuv420p",
                    source_colour=kernels.SourceColour())
        return MediaInfo(**{**base, **kw})

    assert nvdec_refusal(info()) is None
    assert "RGB" in nvdec_refusal(info(source_colour=None))
    assert "alpha" in nvdec_refusal(info(alpha=True))
    assert "prores" in nvdec_refusal(info(video_codec="prores"))
    assert "odd" in nvdec_refusal(info(coded_width=63))
    assert "4:2:2" in nvdec_refusal(info(pix_fmt="yuv422p10le"))
    no_high10 = lambda codec, chroma, bits: {"supported": int(bits == 8), "width_max": 4096, "height_max": 4096}  # noqa: E731
    assert "h264 420 10-bit" in nvdec_refusal(info(source_colour=kernels.SourceColour(bits=10)), caps=no_high10)
    assert "over this GPU's NVDEC limit" in nvdec_refusal(info(coded_width=8192, coded_height=4320), caps=no_high10)
    del probe


def test_gpu_decoder_falls_back_per_input_and_says_why(tmp_path):
    """Without NVDEC (here: no driver at all) the GPU decoder hands over the CPU decoder's
    frames on its device and records, per input, why."""
    from farm.media import CpuVideoDecoder, probe
    from farm.media import GpuVideoDecoder

    src = flat_clip(tmp_path / "red.mp4", RED, seconds=0.2)
    dec = GpuVideoDecoder(cpu=CpuVideoDecoder(), nvdec=False, device="cpu")
    frames = list(dec.frames(probe(src), box_width=160, box_height=90, fit="cover"))
    assert len(frames) == 6 and isinstance(frames[0].picture, Planes) and frames[0].picture.device.type == "cpu"
    assert dec.name == "cpu-decode+cuda" and len(dec.notes) == 1 and "red.mp4" in dec.notes[0]


def test_decoder_choice_on_a_machine_without_a_gpu():
    from farm.errors import InputError, UnavailableError
    from farm.media import CpuVideoDecoder, choose_decoder
    from farm.media import cuda_ready

    if cuda_ready()[0]:
        pytest.skip("this machine has CUDA")
    assert isinstance(choose_decoder("auto"), CpuVideoDecoder) and isinstance(choose_decoder("cpu"), CpuVideoDecoder)
    with pytest.raises(UnavailableError, match="--decoder gpu"):
        choose_decoder("gpu")
    with pytest.raises(InputError, match="Supported: auto, cpu, gpu"):
        choose_decoder("vdpau")


def test_nvenc_access_units_become_packets():
    from farm.media import NvencEncoder

    idr = b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x00\x01\x68\xce" + b"\x00\x00\x01\x65\x88"
    p_slice = b"\x00\x00\x00\x01\x41\x9a"
    enc = object.__new__(NvencEncoder)
    enc._out, enc._time_base = 0, Fraction(1, 30)
    packets = enc._packets([{"data": idr, "picture_type": 0}, {"data": p_slice}]) + enc._packets(p_slice)
    assert [p.pts for p in packets] == [0, 1, 2] and [p.dts for p in packets] == [0, 1, 2]
    assert [p.is_keyframe for p in packets] == [True, False, False] and bytes(packets[0]) == idr


def test_doctor_reports_every_backend_and_the_choice():
    r = run_farm("doctor", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert {"cuda", "pynvvideocodec", "nvdec", "nvenc", "encoders_in_pyav", "chosen"} <= set(doc)
    assert doc["encoders_in_pyav"]["libx264"] is True
    if not doc["cuda"]["available"]:
        assert doc["chosen"] == {"decoder": "pyav-cpu", "device": "cpu", "encoder": "libx264", "compose": "CPU"}
    text = run_farm("doctor")
    assert text.returncode == 0 and "a render here:" in text.stdout


def test_gpu_compose_path_runs_on_cpu_tensors(tmp_path):
    """The whole GPU-path render (decoder on a device, compositor and overlays there, the
    pinned ring to x264), run with the CPU as its device: same picture as the CPU path."""
    from farm.jobs import MashupSpec
    from farm.media import CpuVideoDecoder
    from farm.media import GpuVideoDecoder
    from farm.render import render_mashup

    w, h = 320, 180
    rgb = np.zeros((h, w, 3))
    rgb[:, : w // 2] = (0.75, 0.75, 0.0)
    rgb[:, w // 2 :] = (0.0, 0.0, 0.75)
    y, cb, cr = ycbcr(rgb, "bt709")
    planes = [np.clip(np.round(p), 0, 255).astype(np.uint8) for p in codes(y, cb[::2, ::2], cr[::2, ::2], full=False, bits=8)]
    from colourbars import Variant, write_planes

    # 20 frames: two compose batches of 8 and a partial one, fades at both ends, a crossfade
    frames = [[np.roll(p, 3 * i, axis=1) for p in planes] for i in range(10)]
    src = write_planes(tmp_path / "src.mp4", frames, v=Variant("x", w, h, tags="bt709"))
    outs = {}
    for name, decoder in (("cpu", CpuVideoDecoder()), ("gpu", GpuVideoDecoder(cpu=CpuVideoDecoder(), nvdec=False, device="cpu"))):
        spec = MashupSpec(mains=(str(src), str(src)), template=str(src), output=str(tmp_path / f"{name}.mp4"),
                          encoder="libx264", fade_s=0.1, crf=10, caption="Giá chỉ 199.000đ")
        result = render_mashup(spec, decoder=decoder)
        outs[name] = [read_planes(f) for f in av.open(result.path).decode(video=0)]
    assert len(outs["cpu"]) == len(outs["gpu"]) == 17  # 2 x 10 frames less the 0.1 s crossfade
    for a, b in zip(outs["cpu"], outs["gpu"]):
        for pa, pb in zip(a, b):
            assert not difference(pa, pb, mode="psnr", min_db=45.0)
    assert expected_bt709((191, 191, 0))
