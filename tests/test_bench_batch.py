"""`farm bench batch` runs end to end on a tiny batch: both sides render the same jobs."""

from __future__ import annotations

from benchmarks.batch import run_batch_bench


def test_batch_bench_tiny(tmp_path):
    report = run_batch_bench(count=2, seconds=2.0, workdir=str(tmp_path), worker_counts=[1])
    assert report["count"] == 2 and report["frames"] == 120
    assert "ffmpeg sequential" in report["table"] and "farm nightly k=1" in report["table"]
    assert report["psnr_farm_vs_ffmpeg_db"] > 30
