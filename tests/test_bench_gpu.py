"""`farm bench gpu`'s parts that run without a GPU: the ffmpeg CUDA peer renders the same job
as `farm bench mashup`'s ffmpeg (checked by running its graph with the CPU filters in place
of the CUDA ones), processes are measured one by one and at once, and a machine without
CUDA gets one clear line."""

from __future__ import annotations

import io
import sys

import pytest
from conftest import run_farm

import benchmarks.gpu as gpu
import benchmarks.mashup as mashup


def test_cover_size_covers_the_box_keeping_the_aspect():
    assert gpu.cover_size(1920, 1080, (1080, 1280)) == (2276, 1280)
    assert gpu.cover_size(1080, 1920, (1080, 640)) == (1080, 1920)
    assert gpu.cover_size(1280, 720, (1080, 640)) == (1138, 640)
    w, h = gpu.cover_size(1001, 777, (1080, 1280))
    assert w >= 1080 and h >= 1280 and w % 2 == h % 2 == 0 and abs(w / h - 1001 / 777) < 0.01


def _on_the_cpu(cmd: list[str]) -> list[str]:
    """The CUDA command with its GPU parts swapped for their CPU filters."""
    out, skip = [], 0
    for arg in cmd:
        if arg in ("-hwaccel", "-hwaccel_output_format"):
            skip = 2
        if skip:
            skip -= 1
            continue
        out.append(arg.replace("scale_cuda", "scale").replace(",hwdownload", ""))
    return out


def test_the_ffmpeg_cuda_peer_renders_the_same_job(tmp_path):
    seconds = 1.0
    main, template = mashup.make_inputs(tmp_path, seconds, io.StringIO())
    exe = mashup.ffmpeg_exe()
    cuda = gpu.ffmpeg_cuda_cmd(exe, main, template, tmp_path / "cuda.mp4", seconds, (1920, 1080), (1080, 1920))
    assert cuda.count("-hwaccel") == 2 and cuda.count("cuda") == 4
    graph = cuda[cuda.index("-filter_complex") + 1]
    assert "scale_cuda=2276:1280,hwdownload,format=nv12,crop=1080:1280" in graph
    assert cuda[cuda.index("-c:v") + 1] == "libx264" and cuda[cuda.index("-crf") + 1] == str(mashup.CRF)
    run = gpu.run_measured(_on_the_cpu(cuda))
    assert run.returncode == 0, run.stderr
    mashup.run_timed(mashup.ffmpeg_cmd(main, template, tmp_path / "cpu.mp4", seconds))
    assert mashup.frame_count(tmp_path / "cuda.mp4") == mashup.frame_count(tmp_path / "cpu.mp4") == 30
    assert mashup.psnr(tmp_path / "cuda.mp4", tmp_path / "cpu.mp4") >= 40.0


def test_processes_are_measured_alone_and_at_once():
    burn = "s = sum(i * i for i in range(2_000_000)); print('done')"
    alone = gpu.run_measured([sys.executable, "-c", burn])
    assert alone.returncode == 0 and alone.stdout.strip() == "done" and alone.cpu_s > 0
    runs = gpu.run_many([[sys.executable, "-c", burn], [sys.executable, "-c", "import sys; sys.exit(3)"],
                         [sys.executable, "-c", "import sys; sys.stderr.write('bad input')"]])
    assert [r.returncode for r in runs] == [0, 3, 0]
    assert runs[0].cpu_s > 0 and runs[2].stderr == "bad input"


def test_without_cuda_the_bench_says_so_in_one_line(tmp_path):
    from farm.media import cuda_ready

    if cuda_ready()[0]:
        pytest.skip("this machine has a GPU")
    r = run_farm("bench", "gpu", "--seconds", "1", "--workdir", str(tmp_path))
    assert r.returncode == 3
    assert r.stderr.count("\n") == 1 and "needs a CUDA GPU" in r.stderr and "Traceback" not in r.stderr
    assert not list(tmp_path.iterdir())


def test_the_gpu_check_fits_its_time_and_sums_up(tmp_path):
    from benchmarks import gpu_check

    assert sum(gpu_check.TIMEOUTS.values()) < 8 * 60
    (tmp_path / "nvidia-smi.txt").write_text("NVIDIA H100 80GB HBM3, 570.86, 81559 MiB\n")
    (tmp_path / "doctor.json").write_text('{"cuda": {"available": true}, "pynvvideocodec": {"loaded": false}, '
                                          '"nvdec": {"why": "not exposed"}, "nvenc": {}, "chosen": {"decoder": "x"}}')
    (tmp_path / "tests.xml").write_text(
        '<testsuites><testsuite><testcase classname="t" name="a"/><testcase classname="t" name="b">'
        '<failure message="GPU memory drifts">x</failure></testcase><testcase classname="t" name="c"><skipped/>'
        '</testcase><testcase classname="t" name="d"/></testsuite></testsuites>')
    (tmp_path / "bench.log").write_text("round 1: ...\nKilled\n")
    steps = [{"step": "tests", "status": "exit 1", "seconds": 30.0}, {"step": "bench", "status": "timed out after 200 s",
                                                                        "seconds": 200.0}]
    summary = gpu_check.summarize(tmp_path, steps)
    assert "card: NVIDIA H100 80GB HBM3" in summary and "FAILED t::b: GPU memory drifts" in summary
    assert "tests: 2 passed, 1 failed, 1 skipped" in summary and "bench: no report (timed out after 200 s: Killed)" in summary
    # doctor + 2 tests; 1 test + the bench + the CPU-run test set, whose process left no report
    assert summary.rstrip().splitlines()[-1] == "3 passed, 3 failed"
    (tmp_path / "tests-cpu.xml").write_text('<testsuite><testcase classname="k" name="e"/></testsuite>')
    summary = gpu_check.summarize(tmp_path, steps)
    assert "tests-cpu: 1 passed, 0 failed, 0 skipped" in summary
    assert summary.rstrip().splitlines()[-1] == "4 passed, 2 failed"
