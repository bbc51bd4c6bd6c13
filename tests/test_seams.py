"""The seams the next backends plug into: the muxer takes any encoder's H.264 (a raw
elementary stream, as NVENC hands it over), and every job outcome goes through one
lifecycle whose retry decision is the error class's ``permanent`` flag."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import BLUE, RED, flat_clip, run_farm
from farm.errors import FarmError, InputError, RenderError, RetryableError, UnavailableError, is_permanent
from farm.jobs import JobOutcome, RenderResult
from farm.media import Mp4Muxer
from frames import difference

FPS = 25
W, H = 320, 240


@pytest.fixture(scope="module")
def raw_h264(tmp_path_factory, ffmpeg) -> Path:
    """2 s of H.264 Annex B elementary stream from the ffmpeg CLI (no container, no
    timestamps: what a hardware encoder hands over), keyframe every 10 frames."""
    path = tmp_path_factory.mktemp("raw") / "clip.h264"
    subprocess.run(
        [ffmpeg, "-y", "-loglevel", "error", "-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate={FPS}:duration=2",
         "-c:v", "libx264", "-bf", "0", "-g", "10", "-pix_fmt", "yuv420p", "-f", "h264", str(path)],
        check=True,
    )  # fmt: skip
    return path


def access_units(path: Path) -> list[tuple[bytes, bool]]:
    with av.open(str(path), format="h264") as c:
        return [(bytes(p), bool(p.is_keyframe)) for p in c.demux(video=0) if p.size]


def test_muxer_takes_a_raw_h264_elementary_stream(tmp_path, raw_h264):
    units = access_units(raw_h264)
    assert len(units) == 2 * FPS and units[0][1]
    out = tmp_path / "muxed.mp4"
    muxer = Mp4Muxer(out, fps=FPS)
    tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(96_000) / 48_000)).astype(np.float32)
    for i, (data, key) in enumerate(units):
        muxer.write_bitstream(data, pts=i, keyframe=key)
        if i % FPS == FPS - 1:
            k = (i + 1) // FPS
            muxer.write_audio(np.stack([tone, tone])[:, (k - 1) * 48_000 : k * 48_000])
    muxer.commit()
    assert out.exists() and not list(tmp_path.glob(".*.part"))
    with av.open(str(out)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert (v.index, a.index) == (0, 1)
        assert (v.codec_context.name, v.width, v.height) == ("h264", W, H)
        assert v.average_rate == FPS and abs(float(v.duration * v.time_base) - 2.0) < 1e-6
        assert a.codec_context.name == "aac"
        packets = [p for p in c.demux(v) if p.size]
        times = [float(p.pts * p.time_base) for p in packets]
        assert times == pytest.approx([i / FPS for i in range(2 * FPS)])
        keys = [i for i, p in enumerate(packets) if p.is_keyframe]
        assert keys == [i for i, (_, k) in enumerate(units) if k] == list(range(0, 2 * FPS, 10))
    # the pictures are the stream's own
    with av.open(str(out)) as c, av.open(str(raw_h264), format="h264") as r:
        for got, want in zip(c.decode(video=0), r.decode(video=0)):
            assert not difference(got.to_ndarray(format="yuv420p"), want.to_ndarray(format="yuv420p"))
    head = out.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))


def test_muxer_leaves_nothing_when_aborted_or_fed_junk(tmp_path):
    out = tmp_path / "never.mp4"
    muxer = Mp4Muxer(out, fps=FPS)
    muxer.write_audio(np.zeros((2, 4800), np.float32))
    with pytest.raises(RenderError, match="not H.264"):
        muxer.write_bitstream(b"\x00\x00\x00\x01 this is not a picture", pts=0, keyframe=True)
    muxer.abort()
    assert not out.exists() and not list(tmp_path.iterdir())


# -- one job lifecycle --------------------------------------------------------------------------


def test_permanence_is_the_error_classes_flag():
    assert is_permanent(InputError("x")) and is_permanent(UnavailableError("x"))
    assert not is_permanent(RenderError("x")) and not is_permanent(RetryableError("x"))
    assert not is_permanent(ValueError("a bug")) and not is_permanent(FarmError("x"))
    o = JobOutcome.failure(7, UnavailableError("--encoder nvenc: no NVENC"))
    assert (o.ok, o.error_class, o.permanent) == (False, "UnavailableError", True)
    o = JobOutcome.failure(7, KeyError("oops"))
    assert (o.error_class, o.permanent) == ("InternalError", False)
    with pytest.raises(ValueError):
        JobOutcome(7, True)


def test_outcomes_cross_process_boundaries_intact():
    import pickle

    res = RenderResult(path="/x.mp4", size_bytes=10, sha256="ab", frames=3, fps=30, duration_s=0.1, width=2,
                       height=2, encoder="libx264", decoder="pyav-cpu", timings_s={"total": 0.5})
    o = JobOutcome.success(3, res, worker="w", pid=12, rss_bytes=99)
    assert pickle.loads(pickle.dumps(o)) == o


@pytest.fixture
def nvenc_workspace(tmp_path, library_media):
    ws = tmp_path / "ws"
    assert run_farm("init", str(ws)).returncode == 0
    (ws / "farm.toml").write_text('[render]\nencoder = "nvenc"\n')
    red = flat_clip(tmp_path / "red.mp4", RED, seconds=0.3)
    blue = flat_clip(tmp_path / "blue.mp4", BLUE, seconds=0.3)
    for path, kind in ((red, "source"), (blue, "template")):
        r = run_farm("media", "import", str(path), "--kind", kind, "--license", "owned", "--workspace", str(ws), "--json")
        assert r.returncode == 0, r.stderr
    assert run_farm("queue", "add", "mashup", "--main", "1", "--workspace", str(ws)).returncode == 0
    return ws, red, blue


def test_a_job_asking_for_missing_nvenc_fails_at_once(nvenc_workspace, tmp_path):
    """No NVENC here (H100-class GPUs have none either): the job fails on its first attempt
    with the message `farm mashup --encoder nvenc` exits 3 with, and is not retried."""
    from farm.media import probe_nvenc

    if probe_nvenc()[0]:
        pytest.skip("this machine has NVENC")
    ws, red, blue = nvenc_workspace
    r = run_farm("queue", "render", "--json", "--workspace", str(ws))
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and doc["rendered"] == [] and doc["retried"] == []
    assert len(doc["failed"]) == 1
    jobs = json.loads(run_farm("queue", "list", "--json", "--workspace", str(ws)).stdout)
    assert jobs[0]["state"] == "failed" and jobs[0]["attempts"] == 1 and jobs[0]["error_class"] == "UnavailableError"
    direct = run_farm("mashup", str(red), "--template", str(blue), "-o", str(tmp_path / "o.mp4"), "--encoder", "nvenc", "-q")
    assert direct.returncode == 3
    assert direct.stderr.strip() == f"farm: error: {doc['failed'][0]['error']}"
