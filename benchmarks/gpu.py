"""`farm bench gpu`: the `farm bench mashup` job on one GPU machine, three ways, alternating:
farm's CPU path, farm's GPU path (NVDEC or CPU decode, CUDA compositing, NVENC or x264 from a
pinned ring), and the ffmpeg CLI with CUDA decode and scaling (``-hwaccel cuda``, ``scale_cuda``)
and the same libx264 settings. Reported: fps, CPU-seconds per video, peak GPU memory, PSNR
between the outputs; decode-only fps of NVDEC against PyAV on the CPU; and the GPU path's
throughput with 1, 2, 4 and 8 workers rendering at once.

Every peer that cannot run here (no ffmpeg binary, an ffmpeg without CUDA, no NVDEC) is
recorded with the reason and the rest still runs; only a machine without CUDA at all is
refused (there is no GPU path to measure).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import av

from benchmarks.mashup import (
    CRF,
    FADE_S,
    FPS,
    PRESET,
    farm_cmd,
    ffmpeg_exe,
    machine_line,
    make_inputs,
    psnr,
)

MAIN_BOX = (1080, 1280)
TEMPLATE_BOX = (1080, 640)
WORKER_COUNTS = (1, 2, 4, 8)
CPU_PATH, GPU_PATH, FFMPEG_CUDA = "farm CPU path", "farm GPU path", "ffmpeg CLI (CUDA)"


def _say(log: TextIO, msg: str) -> None:
    print(msg, file=log, flush=True)


# -- measuring a process --------------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    returncode: int
    stdout: str
    stderr: str


def run_measured(cmd: list[str], *, env: dict | None = None) -> Run:
    """Run ``cmd`` to its end; wall time and the CPU time it (and its children) used."""
    return run_many([cmd], env=env)[0]


def run_many(cmds: list[list[str]], *, env: dict | None = None) -> list[Run]:
    """Start every command at once and wait for all; each one's wall and CPU seconds."""
    with tempfile.TemporaryDirectory(prefix="farm-bench-gpu-") as tmp:
        procs = []
        t0 = time.perf_counter()
        for i, cmd in enumerate(cmds):
            out = open(Path(tmp) / f"{i}.out", "w+")
            err = open(Path(tmp) / f"{i}.err", "w+")
            procs.append((subprocess.Popen(cmd, stdout=out, stderr=err, env=env), out, err))
        runs: dict[int, Run] = {}
        pending = {p.pid: (i, p, out, err) for i, (p, out, err) in enumerate(procs)}
        while pending:
            pid, status, usage = os.wait4(-1, 0)
            if pid not in pending:
                continue
            i, p, out, err = pending.pop(pid)
            p.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            runs[i] = Run(time.perf_counter() - t0, usage.ru_utime + usage.ru_stime, p.returncode, out.read(), err.read())
            out.close()
            err.close()
    return [runs[i] for i in range(len(cmds))]


class GpuMemoryWatch:
    """Peak GPU memory used on the device while a block runs, above what it used before
    (NVML, polled every 20 ms; a process's own allocations and its CUDA context both count).
    ``peak_bytes`` is None where NVML cannot be read."""

    def __init__(self, gpu_id: int = 0) -> None:
        self._handle = None
        self.peak_bytes: int | None = None
        self.why = ""
        try:
            import pynvml

            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(gpu_id)
            self._nvml = pynvml
        except Exception as err:
            self.why = f"NVML not readable ({err})"

    def _used(self) -> int:
        return int(self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used)

    def __enter__(self) -> GpuMemoryWatch:
        if self._handle is None:
            return self
        self._base = self._used()
        self._top = self._base
        self._stop = threading.Event()

        def poll() -> None:
            while not self._stop.wait(0.02):
                self._top = max(self._top, self._used())

        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is None:
            return
        self._stop.set()
        self._thread.join()
        self._top = max(self._top, self._used())
        self.peak_bytes = self._top - self._base


# -- the peers ------------------------------------------------------------------------------


def cover_size(width: int, height: int, box: tuple[int, int]) -> tuple[int, int]:
    """The even size that covers ``box`` keeping the aspect ratio (what `fit=cover` scales to)."""
    bw, bh = box
    scale = max(bw / width, bh / height)
    w = max(bw, 2 * round(width * scale / 2))
    h = max(bh, 2 * round(height * scale / 2))
    return w, h


def ffmpeg_cuda_cmd(exe: str, main: Path, template: Path, out: Path, seconds: float,
                    main_size: tuple[int, int], template_size: tuple[int, int]) -> list[str]:
    """`farm bench mashup`'s ffmpeg job with decoding on NVDEC and scaling on CUDA
    (``scale_cuda``), cropping, stacking, fades and libx264 on the CPU, as a user would."""
    end = seconds - FADE_S
    mw, mh = cover_size(*main_size, MAIN_BOX)
    tw, th = cover_size(*template_size, TEMPLATE_BOX)
    graph = (
        f"[0:v]scale_cuda={mw}:{mh},hwdownload,format=nv12,crop={MAIN_BOX[0]}:{MAIN_BOX[1]},setsar=1[m];"
        f"[1:v]scale_cuda={tw}:{th},hwdownload,format=nv12,crop={TEMPLATE_BOX[0]}:{TEMPLATE_BOX[1]},setsar=1[t];"
        f"[m][t]vstack=inputs=2,fps={FPS},fade=t=in:st=0:d={FADE_S},fade=t=out:st={end}:d={FADE_S},format=yuv420p[v];"
        f"[0:a]aresample=48000,afade=t=in:st=0:d={FADE_S},afade=t=out:st={end}:d={FADE_S}[a]"
    )
    cuda_in = ["-hwaccel", "cuda", "-hwaccel_output_format", "cuda"]
    return [
        exe, "-y", "-loglevel", "error", *cuda_in, "-i", str(main), *cuda_in, "-i", str(template),
        "-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-t", f"{seconds}",
        "-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF), "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "160k", "-ar", "48000", "-movflags", "+faststart", str(out),
    ]  # fmt: skip


def ffmpeg_cuda_peer() -> tuple[str | None, str]:
    """An ffmpeg binary that lists CUDA among its hwaccels and has ``scale_cuda``, or why not."""
    try:
        exe = ffmpeg_exe()
    except SystemExit:
        return None, "no ffmpeg binary here (neither on PATH nor from imageio-ffmpeg)"
    try:
        accels = subprocess.run([exe, "-hide_banner", "-hwaccels"], capture_output=True, text=True, timeout=30).stdout
        filters = subprocess.run([exe, "-hide_banner", "-filters"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"{exe} does not run ({err})"
    if "cuda" not in accels.split():
        return None, f"{exe} was built without CUDA (no cuda hwaccel)"
    if "scale_cuda" not in filters:
        return None, f"{exe} has no scale_cuda filter"
    return exe, ""


def _size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return s.codec_context.width, s.codec_context.height


def _farm(path_kind: str, main: Path, template: Path, out: Path, seconds: float) -> list[str]:
    return [*farm_cmd(main, template, out, seconds), "--decoder", "cpu" if path_kind == CPU_PATH else "gpu", "--json"]


# -- decode only ----------------------------------------------------------------------------


def nvdec_decode_frames(path: Path, gpu_id: int = 0) -> int:
    """Decode every frame of ``path`` on NVDEC into GPU memory (nothing converted or copied)."""
    import torch

    from farm.media import nvidia_codec

    nvc = nvidia_codec()
    dmx = nvc.CreateDemuxer(filename=str(path))
    dec = nvc.CreateDecoder(gpuid=gpu_id, codec=dmx.GetNvCodecId(), cudacontext=0, cudastream=0, usedevicememory=True)
    n = 0
    for packet in dmx:
        n += len(dec.Decode(packet))
    end = getattr(nvc, "PacketData", None)
    if end is not None:
        try:
            n += len(dec.Decode(end()))
        except Exception:
            pass
    torch.cuda.synchronize()
    return n


def pyav_decode_frames(path: Path) -> int:
    """Decode every frame of ``path`` with PyAV on the CPU, threaded as the farm decodes."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        return sum(1 for _ in c.decode(s))


def decode_only(path: Path, rounds: int, log: TextIO) -> dict:
    out: dict = {"input": path.name}
    try:
        from farm.media import nvidia_codec

        nvidia_codec()
        nvdec_ok = True
    except Exception as err:
        nvdec_ok = False
        out["nvdec_why"] = str(err)
    times: dict[str, list[float]] = {"pyav_cpu": [], "nvdec": []}
    frames: dict[str, int] = {}
    for r in range(rounds):
        order = ["pyav_cpu", "nvdec"] if r % 2 == 0 else ["nvdec", "pyav_cpu"]
        for name in order:
            if name == "nvdec" and not nvdec_ok:
                continue
            t = time.perf_counter()
            try:
                frames[name] = nvdec_decode_frames(path) if name == "nvdec" else pyav_decode_frames(path)
            except Exception as err:
                out[f"{name}_why"] = f"{type(err).__name__}: {err}"
                nvdec_ok = nvdec_ok and name != "nvdec"
                continue
            times[name].append(time.perf_counter() - t)
    for name, ts in times.items():
        if ts:
            out[f"{name}_fps"] = round(frames[name] / statistics.median(ts), 1)
            out[f"{name}_frames"] = frames[name]
    if "nvdec_fps" in out and "pyav_cpu_fps" in out:
        out["nvdec_vs_pyav"] = round(out["nvdec_fps"] / out["pyav_cpu_fps"], 2)
    _say(log, f"decode only ({path.name}): " + ", ".join(f"{k}={v}" for k, v in out.items() if k.endswith("fps")))
    return out


# -- the whole bench ------------------------------------------------------------------------


def run_gpu_bench(*, seconds: float = 10.0, rounds: int = 2, workdir: str | None = None,
                  worker_counts: tuple[int, ...] = WORKER_COUNTS, log: TextIO = sys.stderr) -> dict:
    """Run every comparison; the report has a Markdown ``table``."""
    from farm.errors import UnavailableError
    from farm.media import cuda_ready

    ok, gpu = cuda_ready()
    if not ok:
        raise UnavailableError(f"farm bench gpu needs a CUDA GPU ({gpu})")
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="farm-bench-gpu-"))
    root.mkdir(parents=True, exist_ok=True)
    main, template = make_inputs(root, seconds, log)
    frames = round(seconds * FPS)
    exe, ffmpeg_why = ffmpeg_cuda_peer()
    tools = [CPU_PATH, GPU_PATH] + ([FFMPEG_CUDA] if exe else [])
    outs = {t: root / f"out_{t.split()[0]}_{t.split()[1]}.mp4" for t in tools}
    results: dict[str, dict] = {t: {"wall_s": [], "cpu_s": [], "gpu_peak_bytes": []} for t in tools}
    skipped: dict[str, str] = {} if exe else {FFMPEG_CUDA: ffmpeg_why}
    used: dict[str, dict] = {}
    sizes = (_size(main), _size(template))
    for r in range(rounds):
        order = tools if r % 2 == 0 else tools[::-1]
        for name in order:
            if name in skipped:
                continue
            if name == FFMPEG_CUDA:
                cmd = ffmpeg_cuda_cmd(exe, main, template, outs[name], seconds, *sizes)
            else:
                cmd = _farm(name, main, template, outs[name], seconds)
            with GpuMemoryWatch() as watch:
                run = run_measured(cmd)
            if run.returncode != 0:
                skipped[name] = f"exit {run.returncode}: {run.stderr.strip().splitlines()[-1:] or ['(no message)']}"
                _say(log, f"round {r + 1}: {name}: FAILED ({skipped[name]})")
                continue
            if name != FFMPEG_CUDA:
                summary = json.loads(run.stdout.strip().splitlines()[-1])
                used[name] = {"decoder": summary["decoder"], "encoder": summary["encoder"], "notes": summary["notes"],
                              "torch_peak_bytes": summary.get("gpu_peak_bytes", 0),
                              "timings_s": summary.get("timings_s", {})}
            results[name]["wall_s"].append(run.wall_s)
            results[name]["cpu_s"].append(run.cpu_s)
            if watch.peak_bytes is not None:
                results[name]["gpu_peak_bytes"].append(watch.peak_bytes)
            phases = ", ".join(f"{k} {v:.2f}" for k, v in used.get(name, {}).get("timings_s", {}).items()
                               if k in ("wait_decode", "compose", "encode"))
            _say(log, f"round {r + 1}: {name}: {run.wall_s:.2f} s ({frames / run.wall_s:.1f} fps), "
                      f"{run.cpu_s:.1f} CPU-s" + (f" (in the render: {phases} s)" if phases else ""))
    rows = []
    for name in tools:
        if name in skipped or not results[name]["wall_s"]:
            continue
        res = results[name]
        wall = statistics.median(res["wall_s"])
        row = {"tool": name, "seconds": round(wall, 2), "fps": round(frames / wall, 1),
               "cpu_s_per_video": round(statistics.median(res["cpu_s"]), 1),
               "gpu_peak_mib": round(max(res["gpu_peak_bytes"]) / 2**20) if res["gpu_peak_bytes"] else None}
        row.update({k: v for k, v in used.get(name, {}).items() if k not in ("torch_peak_bytes", "timings_s")})
        if name in used:
            row["torch_peak_mib"] = round(used[name]["torch_peak_bytes"] / 2**20)
        rows.append(row)
    by = {r["tool"]: r for r in rows}
    if CPU_PATH in by:
        for r in rows:
            r["vs_cpu_path"] = round(r["fps"] / by[CPU_PATH]["fps"], 2)
    _say(log, "measuring PSNR between the outputs...")
    quality = {}
    pairs = [(GPU_PATH, CPU_PATH), (GPU_PATH, FFMPEG_CUDA), (CPU_PATH, FFMPEG_CUDA)]
    for a, b in pairs:
        if a in by and b in by:
            quality[f"{a} vs {b}"] = round(psnr(outs[a], outs[b]), 2)
    decode = [decode_only(main, max(rounds, 2), log), decode_only(template, max(rounds, 2), log)]
    scaling = []
    if GPU_PATH in by:
        for n in worker_counts:
            cmds = [_farm(GPU_PATH, main, template, root / f"out_w{n}_{i}.mp4", seconds) for i in range(n)]
            with GpuMemoryWatch() as watch:
                t = time.perf_counter()
                runs = run_many(cmds)
                wall = time.perf_counter() - t
            bad = [r for r in runs if r.returncode != 0]
            if bad:
                scaling.append({"workers": n, "failed": f"{len(bad)} of {n}: {bad[0].stderr.strip()[-300:]}"})
                _say(log, f"{n} workers: {len(bad)} failed")
                continue
            entry = {"workers": n, "wall_s": round(wall, 2), "fps_total": round(n * frames / wall, 1),
                     "videos_per_min": round(60 * n / wall, 1),
                     "cpu_s_per_video": round(sum(r.cpu_s for r in runs) / n, 1),
                     "gpu_peak_mib": round(watch.peak_bytes / 2**20) if watch.peak_bytes is not None else None}
            scaling.append(entry)
            _say(log, f"{n} workers: {entry['fps_total']} fps in all, {entry['videos_per_min']} videos/min")
    report = {
        "machine": machine_line(),
        "gpu": gpu,
        "inputs": f"{seconds:g} s of 1920x1080p30 main (colour bars, film grain, stereo) + 1080x1920p30 template (bars)",
        "settings": f"vertical 1080x1920, cover, fade {FADE_S} s, libx264 {PRESET} crf {CRF}, AAC 48 kHz",
        "rounds": rounds,
        "results": rows,
        "skipped": skipped,
        "psnr_db": quality,
        "decode_only": decode,
        "workers": scaling,
        "workdir": str(root),
    }
    report["table"] = _table(report, frames)
    (root / "report.json").write_text(json.dumps(report, indent=2))
    return report


def _table(report: dict, frames: int) -> str:
    lines = [
        f"machine: {report['machine']}; GPU: {report['gpu']}",
        f"inputs: {report['inputs']}; {report['settings']}; median of {report['rounds']} alternating rounds, "
        f"{frames} frames",
        "",
        "| tool | decoder -> encoder | seconds | fps | vs CPU path | CPU-s/video | peak GPU MiB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        chain = f"{r['decoder']} -> {r['encoder']}" if "decoder" in r else "NVDEC + scale_cuda -> libx264"
        lines.append(f"| {r['tool']} | {chain} | {r['seconds']} | {r['fps']} | {r.get('vs_cpu_path', '-')}x | "
                     f"{r['cpu_s_per_video']} | {r['gpu_peak_mib'] if r['gpu_peak_mib'] is not None else '-'} |")
    for name, why in report["skipped"].items():
        lines.append(f"| {name} | not run: {why} | | | | | |")
    lines.append("")
    for pair, db in report["psnr_db"].items():
        lines.append(f"PSNR {pair}: {db} dB")
    for d in report["decode_only"]:
        if "nvdec_fps" in d:
            lines.append(f"decode only, {d['input']}: NVDEC {d['nvdec_fps']} fps, PyAV on the CPU "
                         f"{d.get('pyav_cpu_fps', '-')} fps ({d.get('nvdec_vs_pyav', '-')}x)")
        else:
            lines.append(f"decode only, {d['input']}: PyAV on the CPU {d.get('pyav_cpu_fps', '-')} fps; NVDEC not "
                         f"measured ({d.get('nvdec_why', 'unavailable')})")
    if report["workers"]:
        lines += ["", "| GPU-path workers at once | wall s | fps in all | videos/min | CPU-s/video | peak GPU MiB |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for w in report["workers"]:
            if "failed" in w:
                lines.append(f"| {w['workers']} | failed: {w['failed']} | | | | |")
            else:
                lines.append(f"| {w['workers']} | {w['wall_s']} | {w['fps_total']} | {w['videos_per_min']} | "
                             f"{w['cpu_s_per_video']} | {w['gpu_peak_mib'] if w['gpu_peak_mib'] is not None else '-'} |")
    return "\n".join(lines)

