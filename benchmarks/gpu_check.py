"""The one-call GPU check: everything the GPU path needs proven, on a fresh GPU machine, in one run.

    python3 benchmarks/gpu_check.py OUT_DIR [--wheels .whl]

Given Python, torch and pytest (no internet, no ffmpeg, no DuckDB or Ray needed), it
installs the carried wheels (``make gpu-wheels`` downloads them: PyAV, PyNvVideoCodec, the
fonts) into a private folder, then runs, each under its own timeout so that a hang costs
only its step:

1. ``nvidia-smi``: the card, the driver;
2. ``farm doctor --json``: CUDA, NVDEC per codec, NVENC sessions, what a render would use;
3. the ``needs_cuda`` tests with ``FARM_REQUIRE_CUDA=1`` (GPU output against the CPU path's,
   GPU memory over 50 jobs, NVENC declined and x264 used), then, in a second pytest process,
   the GPU path's CPU-run tests;
4. ``farm bench gpu --seconds 10 --json`` with 1, 4 and 8 workers at once.

Everything lands in OUT_DIR: ``nvidia-smi.txt``, ``doctor.json``, ``tests.log``/``tests.xml``,
``tests-cpu.log``/``tests-cpu.xml``, ``bench.json``, ``bench.log``, and ``summary.txt``, whose
last line is ``N passed, N failed`` (the tests plus the doctor and bench steps). The steps'
timeouts add up to under 8 minutes. A machine whose NVDEC is not exposed still runs: the doctor records
it, the tests and the bench then decode on the CPU and compose on the GPU.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SITE = Path("/tmp/farm-gpu-check-site")
BENCH_DIR = Path("/tmp/farm-gpu-check-bench")
# seconds per step; together under 8 minutes
TIMEOUTS = {"nvidia-smi": 15, "install": 30, "doctor": 45, "tests": 110, "tests-cpu": 110, "bench": 165}
# two pytest processes: a test that brings its process down (an abort in the driver)
# costs the other file set nothing
TEST_SETS = {"tests": ("tests/test_gpu.py",),
             "tests-cpu": ("tests/test_gpu_path.py", "tests/test_kernels.py", "tests/test_text_and_spec.py",
                           "tests/test_panzoom.py", "tests/test_promo.py")}
BENCH_WORKERS = (1, 4, 8)


def run_step(name: str, cmd: list[str], *, out: Path, env: dict, log_name: str, stdout_name: str | None = None) -> dict:
    """Run one step in its own process group; kill the group at its timeout."""
    limit = TIMEOUTS[name]
    t = time.monotonic()
    with open(out / log_name, "w") as log:
        stdout = open(out / stdout_name, "w") if stdout_name else log
        try:
            proc = subprocess.Popen(cmd, stdout=stdout, stderr=log, cwd=REPO, env=env, start_new_session=True)
            try:
                rc = proc.wait(timeout=limit)
                status = "ok" if rc == 0 else f"exit {rc}"
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                status = f"timed out after {limit} s"
        except OSError as err:
            status = f"could not start: {err}"
        finally:
            if stdout is not log:
                stdout.close()
    seconds = round(time.monotonic() - t, 1)
    print(f"[gpu-check] {name}: {status} ({seconds} s)", flush=True)
    return {"step": name, "status": status, "seconds": seconds}


def test_counts(xml_path: Path) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError):
        return counts
    for case in root.iter("testcase"):
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            counts["failed"] += 1
        elif "skipped" in kinds:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return counts


def failed_tests(xml_path: Path) -> list[str]:
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError):
        return []
    out = []
    for case in root.iter("testcase"):
        for child in case:
            if child.tag in ("failure", "error"):
                first = (child.get("message") or "").strip().splitlines()[:1]
                out.append(f"{case.get('classname')}::{case.get('name')}: {first[0] if first else child.tag}"[:400])
    return out


def last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def summarize(out: Path, steps: list[dict]) -> str:
    lines = ["# reel farm GPU check", ""]
    smi = (out / "nvidia-smi.txt").read_text(errors="replace").strip() if (out / "nvidia-smi.txt").exists() else ""
    lines.append(f"card: {smi or 'nvidia-smi gave nothing'}")
    lines += [f"step {s['step']}: {s['status']} ({s['seconds']} s)" for s in steps]
    passed = failed = 0
    status = {s["step"]: s["status"] for s in steps}
    try:
        doctor = json.loads((out / "doctor.json").read_text())
        lines += ["", f"CUDA: {doctor['cuda']}", f"PyNvVideoCodec: {doctor['pynvvideocodec']}",
                  f"NVDEC: {doctor['nvdec']}", f"NVENC: {doctor['nvenc']}", f"a render here uses: {doctor['chosen']}"]
        passed += 1
    except (OSError, ValueError, KeyError):
        lines.append(f"doctor: no report ({status.get('doctor', 'not run')}: {last_line(out / 'doctor.log')})")
        failed += 1
    for step in TEST_SETS:
        counts = test_counts(out / f"{step}.xml")
        lines += ["", f"{step}: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
                      f" ({status.get(step, 'not run')})"]
        lines += [f"  FAILED {t}" for t in failed_tests(out / f"{step}.xml")]
        passed += counts["passed"]
        failed += counts["failed"]
        if counts["passed"] + counts["failed"] == 0:
            failed += 1  # no test ran at all (the process died first): a failure of the check
    try:
        bench = json.loads((out / "bench.json").read_text())
        lines += ["", bench["table"]]
        passed += 1
    except (OSError, ValueError, KeyError):
        lines += ["", f"bench: no report ({status.get('bench', 'not run')}: {last_line(out / 'bench.log')})"]
        failed += 1
    lines += ["", f"{passed} passed, {failed} failed"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="folder for every result")
    ap.add_argument("--wheels", default=str(REPO / ".whl"), help="carried wheels to install (default .whl)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "FARM_REQUIRE_CUDA": "1"}
    steps = [run_step("nvidia-smi", ["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                                     "--format=csv,noheader"], out=out, env=env, log_name="nvidia-smi.txt")]
    wheels = sorted(glob.glob(os.path.join(args.wheels, "*.whl")))
    if wheels:
        steps.append(run_step("install", [py, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                                          "--no-cache-dir", "--upgrade", "--target", str(SITE), *wheels],
                              out=out, env=env, log_name="install.log"))
        paths = [str(REPO), str(SITE)]  # the repository first: the PyNvVideoCodec wheel brings a top-level benchmarks/ folder too
    else:
        print(f"[gpu-check] no wheels in {args.wheels}: using what is installed", flush=True)
        paths = [str(REPO)]
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [os.environ.get("PYTHONPATH")] if p])
    steps.append(run_step("doctor", [py, "-m", "farm", "doctor", "--json"], out=out, env=env,
                          log_name="doctor.log", stdout_name="doctor.json"))
    per_test = ["-o", "timeout=90"] if importlib.util.find_spec("pytest_timeout") else []
    for step, files in TEST_SETS.items():
        steps.append(run_step(step, [py, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfEs", *per_test,
                                     f"--junitxml={out / f'{step}.xml'}", *files],
                              out=out, env=env, log_name=f"{step}.log"))
    workers = [arg for n in BENCH_WORKERS for arg in ("--workers", str(n))]
    steps.append(run_step("bench", [py, "-m", "farm", "bench", "gpu", "--seconds", "10", "--json", *workers,
                                    "--workdir", str(BENCH_DIR)], out=out, env=env,
                          log_name="bench.log", stdout_name="bench.json"))
    summary = summarize(out, steps)
    (out / "summary.txt").write_text(summary)
    print(summary, end="", flush=True)
    return 0 if summary.rstrip().endswith(" 0 failed") else 1


if __name__ == "__main__":
    sys.exit(main())
