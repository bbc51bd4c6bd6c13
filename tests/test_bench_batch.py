"""`farm bench batch` runs end to end on a tiny batch: both sides render the same jobs."""

from __future__ import annotations

from benchmarks.batch import run_batch_bench


def test_batch_bench_tiny(tmp_path):
    report = run_batch_bench(count=2, seconds=1.0, workdir=str(tmp_path), worker_counts=[1])
    assert report["count"] == 2 and report["frames"] == 60
    assert "ffmpeg sequential" in report["table"] and "farm nightly k=1" in report["table"]
    assert report["psnr_farm_vs_ffmpeg_db"] > 30
    assert report["psnr_ok"] and report["psnr_floor_db"] == 35.0


def test_mashup_bench_tiny_fails_below_the_psnr_floor(tmp_path):
    import benchmarks.mashup as bench

    report = bench.run_mashup_bench(seconds=1.0, rounds=1, workdir=str(tmp_path), moviepy=False)
    assert report["psnr_ok"] and report["psnr_farm_vs_ffmpeg_db"] >= 35.0, report["table"]
    assert bench.psnr_failure(report, "farm bench mashup") is None
    bad = {**report, "psnr_farm_vs_ffmpeg_db": 21.3, "psnr_ok": False}
    assert "under the 35 dB floor" in bench.psnr_failure(bad, "farm bench mashup")


def test_bench_inputs_carry_saturated_bt709_bars(tmp_path):
    import av
    import numpy as np

    from farm.samples import make_video

    path = make_video(tmp_path / "b.mp4", width=640, height=360, seconds=0.1, grain=0, crf=0, bars=True)
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.codec_context.colorspace == 1
        f = next(c.decode(s))
    y = np.frombuffer(f.planes[0], np.uint8).reshape(-1, f.planes[0].line_size)[:360, :640]
    u = np.frombuffer(f.planes[1], np.uint8).reshape(-1, f.planes[1].line_size)[:180, :320]
    row, crow = 180, 90
    # yellow is the second of 12 columns: BT.709 75 % yellow is (168, 44, 136)
    x = 640 * 3 // 24
    assert abs(int(y[row, x]) - 168) <= 1 and abs(int(u[crow, x // 2]) - 44) <= 1
    assert y[row].max() >= 250 and y[row].min() <= 4, "super-white and super-black patches"
