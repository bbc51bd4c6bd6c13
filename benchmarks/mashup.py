"""`farm bench mashup`: farm mashup vs the ffmpeg CLI vs MoviePy, alternating, same inputs."""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import TextIO

import av
import numpy as np

from farm.samples import make_video

FPS = 30
PRESET = "veryfast"
CRF = 23
FADE_S = 0.5
# Light film grain at a phone-like bitrate (about 10-20 Mbit/s): not trivially
# compressible, and not so noisy that decoding the inputs dominates.
GRAIN = 3
INPUT_CRF = 23
# Below this PSNR (ours against the ffmpeg CLI's output, on inputs with saturated colour
# bars) the two did not render the same picture, and a speed ratio means nothing.
PSNR_FLOOR_DB = 35.0


def ffmpeg_exe() -> str:
    """The ffmpeg binary: the system's, else the one the imageio-ffmpeg wheel carries."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        raise SystemExit("farm bench needs an ffmpeg binary: pip install 'reel-farm[bench]'") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def farm_exe() -> list[str]:
    exe = Path(sys.executable).with_name("farm")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "farm"]


def make_inputs(workdir: Path, seconds: float, log: TextIO) -> tuple[Path, Path]:
    main = workdir / f"main_1080p30_{seconds:g}s_g{GRAIN}_bars.mp4"
    template = workdir / f"template_1080x1920_{seconds:g}s_g{GRAIN}_bars.mp4"
    if not main.exists():
        print(f"generating {main.name} (1920x1080, colour bars, film grain, stereo tone)...", file=log)
        make_video(main.with_suffix(".tmp.mp4"), width=1920, height=1080, seconds=seconds, fps=FPS, seed=1, grain=GRAIN, crf=INPUT_CRF, audio_hz=330.0, bars=True)
        main.with_suffix(".tmp.mp4").rename(main)
    if not template.exists():
        print(f"generating {template.name} (1080x1920, colour bars, film grain)...", file=log)
        make_video(template.with_suffix(".tmp.mp4"), width=1080, height=1920, seconds=seconds, fps=FPS, seed=2, grain=GRAIN, crf=INPUT_CRF, bars=True)
        template.with_suffix(".tmp.mp4").rename(template)
    return main, template


def ffmpeg_cmd(main: Path, template: Path, out: Path, seconds: float) -> list[str]:
    end = seconds - FADE_S
    graph = (
        "[0:v]scale=1080:1280:force_original_aspect_ratio=increase,crop=1080:1280,setsar=1[m];"
        "[1:v]scale=1080:640:force_original_aspect_ratio=increase,crop=1080:640,setsar=1[t];"
        f"[m][t]vstack=inputs=2,fps={FPS},fade=t=in:st=0:d={FADE_S},fade=t=out:st={end}:d={FADE_S},format=yuv420p[v];"
        f"[0:a]aresample=48000,afade=t=in:st=0:d={FADE_S},afade=t=out:st={end}:d={FADE_S}[a]"
    )
    return [
        ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(main), "-i", str(template),
        "-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-t", f"{seconds}",
        "-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF), "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "160k", "-ar", "48000", "-movflags", "+faststart", str(out),
    ]  # fmt: skip


def farm_cmd(main: Path, template: Path, out: Path, seconds: float) -> list[str]:
    return [
        *farm_exe(), "mashup", str(main), "--template", str(template), "-o", str(out),
        "--duration", f"{seconds}", "--fade", str(FADE_S), "--fps", str(FPS),
        "--preset", PRESET, "--crf", str(CRF), "--encoder", "libx264", "--quiet",
    ]  # fmt: skip


MOVIEPY_SCRIPT = textwrap.dedent(
    """
    import sys
    from moviepy import VideoFileClip, CompositeVideoClip, vfx, afx
    main_path, template_path, out, seconds, preset, crf, fps, fade = sys.argv[1:9]
    seconds, fps, fade = float(seconds), int(fps), float(fade)
    main = VideoFileClip(main_path).subclipped(0, seconds)
    tmpl = VideoFileClip(template_path, audio=False).subclipped(0, seconds)
    main = main.resized(height=1280) if main.w / main.h > 1080 / 1280 else main.resized(width=1080)
    main = main.cropped(x_center=main.w / 2, y_center=main.h / 2, width=1080, height=1280)
    tmpl = tmpl.resized(width=1080) if tmpl.w / tmpl.h < 1080 / 640 else tmpl.resized(height=640)
    tmpl = tmpl.cropped(x_center=tmpl.w / 2, y_center=tmpl.h / 2, width=1080, height=640)
    clip = CompositeVideoClip([main.with_position((0, 0)), tmpl.with_position((0, 1280))], size=(1080, 1920))
    clip = clip.with_audio(main.audio).with_duration(seconds)
    clip = clip.with_effects([vfx.FadeIn(fade), vfx.FadeOut(fade)])
    clip.audio = clip.audio.with_effects([afx.AudioFadeIn(fade), afx.AudioFadeOut(fade)])
    clip.write_videofile(out, fps=fps, codec="libx264", preset=preset, audio_codec="aac",
                         audio_fps=48000, ffmpeg_params=["-crf", crf, "-pix_fmt", "yuv420p"],
                         logger=None)
    """
)


def moviepy_cmd(main: Path, template: Path, out: Path, seconds: float) -> list[str]:
    return [sys.executable, "-c", MOVIEPY_SCRIPT, str(main), str(template), str(out), f"{seconds}", PRESET, str(CRF), str(FPS), str(FADE_S)]


def run_timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(cmd[:3])} ...\n{proc.stderr[-2000:]}")
    return dt


def psnr_failure(report: dict, what: str) -> str | None:
    """The one-line complaint when a report's PSNR is under the floor, else None."""
    if report["psnr_ok"]:
        return None
    return (
        f"{what}: farm's output is {report['psnr_farm_vs_ffmpeg_db']} dB PSNR from the ffmpeg CLI's, under the "
        f"{PSNR_FLOOR_DB:g} dB floor: the two rendered different pictures, so the timings compare nothing"
    )


def psnr(a: Path, b: Path, *, max_frames: int | None = None) -> float:
    """Mean PSNR over all planes of all frames of ``a`` against ``b`` (same size and count)."""
    total_mse, count = 0.0, 0
    with av.open(str(a)) as ca, av.open(str(b)) as cb:
        for i, (fa, fb) in enumerate(zip(ca.decode(video=0), cb.decode(video=0))):
            if max_frames is not None and i >= max_frames:
                break
            x = fa.to_ndarray(format="yuv420p").astype(np.float32)
            y = fb.to_ndarray(format="yuv420p").astype(np.float32)
            total_mse += float(np.mean((x - y) ** 2))
            count += 1
    if count == 0:
        return 0.0
    mse = total_mse / count
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def frame_count(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.demux(video=0) if _.size)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (benchmark reports name their machine)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def machine_line() -> str:
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu_model()}, "
            f"Python {platform.python_version()}")


def run_mashup_bench(
    *,
    seconds: float = 20.0,
    rounds: int = 2,
    workdir: str | None = None,
    moviepy: bool = True,
    moviepy_seconds: float | None = None,
    log: TextIO = sys.stderr,
) -> dict:
    """Run the comparison and return a report (with a Markdown ``table``)."""
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="farm-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    main, template = make_inputs(root, seconds, log)
    frames = int(round(seconds * FPS))
    tools: dict[str, list[float]] = {"farm mashup": [], "ffmpeg CLI": []}
    outs = {"farm mashup": root / "out_farm.mp4", "ffmpeg CLI": root / "out_ffmpeg.mp4"}
    for r in range(rounds):
        order = ["farm mashup", "ffmpeg CLI"] if r % 2 == 0 else ["ffmpeg CLI", "farm mashup"]
        for name in order:
            cmd = (farm_cmd if name == "farm mashup" else ffmpeg_cmd)(main, template, outs[name], seconds)
            dt = run_timed(cmd)
            tools[name].append(dt)
            print(f"round {r + 1}: {name}: {dt:.2f} s ({frames / dt:.1f} fps)", file=log)
    mp_frames = 0
    if moviepy:
        mp_seconds = moviepy_seconds or seconds
        mp_frames = int(round(mp_seconds * FPS))
        out = root / "out_moviepy.mp4"
        print(f"moviepy: rendering {mp_seconds:g} s (slow)...", file=log)
        dt = run_timed(moviepy_cmd(main, template, out, mp_seconds))
        tools["MoviePy 2"] = [dt]
        outs["MoviePy 2"] = out
        print(f"moviepy: {dt:.2f} s ({mp_frames / dt:.1f} fps)", file=log)
    print("measuring PSNR of farm's output against ffmpeg's...", file=log)
    quality = psnr(outs["farm mashup"], outs["ffmpeg CLI"])
    rows = []
    ff_fps = frames / statistics.median(tools["ffmpeg CLI"])
    for name, times in tools.items():
        n = mp_frames if name == "MoviePy 2" else frames
        med = statistics.median(times)
        fps = n / med
        rows.append({"tool": name, "seconds": round(med, 2), "frames": n, "fps": round(fps, 1), "vs_ffmpeg": round(fps / ff_fps, 3)})
    farm_fps = rows[0]["fps"]
    report = {
        "machine": machine_line(),
        "inputs": f"{seconds:g} s of 1920x1080p30 main (colour bars, film grain, stereo) + 1080x1920p30 template (bars)",
        "settings": f"vertical 1080x1920, cover, fade {FADE_S} s, libx264 {PRESET} crf {CRF}, AAC 48 kHz",
        "rounds": rounds,
        "results": rows,
        "psnr_farm_vs_ffmpeg_db": round(quality, 2),
        "psnr_floor_db": PSNR_FLOOR_DB,
        "psnr_ok": quality >= PSNR_FLOOR_DB,
        "farm_vs_ffmpeg": round(farm_fps / ff_fps, 3),
        "workdir": str(root),
    }
    if moviepy:
        report["farm_vs_moviepy"] = round(farm_fps / rows[-1]["fps"], 2)
    lines = [
        f"machine: {report['machine']}",
        f"inputs: {report['inputs']}; {report['settings']}; median of {rounds} alternating rounds",
        "",
        "| tool | seconds | frames | fps | vs ffmpeg CLI |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['tool']} | {r['seconds']} | {r['frames']} | {r['fps']} | {r['vs_ffmpeg']:.2f}x |" for r in rows]
    lines.append("")
    lines.append(
        f"PSNR of farm's output against ffmpeg's (saturated bars): {report['psnr_farm_vs_ffmpeg_db']} dB"
        f" ({'ok' if report['psnr_ok'] else 'FAIL'}: floor {PSNR_FLOOR_DB:g} dB)"
    )
    if moviepy:
        lines.append(f"farm vs MoviePy: {report['farm_vs_moviepy']}x")
    report["table"] = "\n".join(lines)
    (root / "report.json").write_text(json.dumps(report, indent=2))
    return report
