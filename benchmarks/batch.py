"""`farm bench batch`: `farm nightly` vs the ffmpeg CLI run once per video, on the same batch.

The claim measured: a batch that reuses templates and music renders faster per video
than the ffmpeg CLI run once per video. Both sides render the same jobs (same mains,
templates, music, duration, fades, encoder settings): the farm through the whole
`farm nightly` command a user runs (Ray start, planning, rendering, recording), ffmpeg as
one command per job run by a sequential loop and by a loop of ``os.cpu_count()``
parallel processes (the best a shell loop can do). Runs alternate between the two sides
so machine noise hits both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TextIO

from benchmarks.mashup import (
    FPS,
    GRAIN,
    INPUT_CRF,
    PSNR_FLOOR_DB,
    farm_exe,
    ffmpeg_exe,
    frame_count,
    machine_line,
    psnr,
    run_timed,
)
from farm.media import MUSIC_FADE_S
from farm.samples import make_audio, make_video

TEMPLATE_S = 3.0
TEMPLATES = 2
MUSIC_TRACKS = 2
MUSIC_MOOD = "upbeat"  # the default nightly.mood, so every track is eligible
SEED = 1
# what the comparison needs from a job's spec (the output path differs per workspace)
SPEC_KEYS = ("mains", "template", "music", "layout", "fit", "duration_s", "fade_s", "music_volume", "caption",
             "attribution", "fps", "preset", "crf")


def _say(log: TextIO, msg: str) -> None:
    print(msg, file=log, flush=True)


def make_batch_inputs(root: Path, *, count: int, seconds: float, log: TextIO) -> dict[str, list[Path]]:
    """Mains, templates and music for the batch, generated once into ``root/inputs``."""
    folder = root / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[Path]] = {"source": [], "template": [], "audio": []}

    def once(path: Path, what: str, make) -> Path:
        if not path.exists():
            _say(log, f"generating {path.name} ({what})...")
            tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
            make(tmp)
            tmp.rename(path)
        return path

    for i in range(max(4, -(-count // TEMPLATES))):  # each main goes with every template once
        hz = 330.0 + 55.0 * i
        out["source"].append(once(
            folder / f"main{i}_1920x1080p30_{seconds:g}s_g{GRAIN}_bars.mp4", "1920x1080, colour bars, film grain, stereo tone",
            lambda p, i=i, hz=hz: make_video(p, width=1920, height=1080, seconds=seconds, fps=FPS, seed=10 + i,
                                             grain=GRAIN, crf=INPUT_CRF, audio_hz=hz, bars=True)))
    for i in range(TEMPLATES):
        out["template"].append(once(
            folder / f"template{i}_1080x1920p30_{TEMPLATE_S:g}s_g{GRAIN}_bars.mp4", "1080x1920, colour bars, film grain, loops",
            lambda p, i=i: make_video(p, width=1080, height=1920, seconds=TEMPLATE_S, fps=FPS, seed=20 + i,
                                      grain=GRAIN, crf=INPUT_CRF, bars=True)))
    for i in range(MUSIC_TRACKS):
        out["audio"].append(once(
            folder / f"music{i}_{seconds + 2:g}s.m4a", "stereo tone",
            lambda p, i=i: make_audio(p, seconds=seconds + 2, hz=220.0 + 110.0 * i)))
    return out


def stock_workspace(path: Path, inputs: dict[str, list[Path]]):
    """A fresh workspace at ``path`` with ``inputs`` imported in place (--link); returns it."""
    from farm.library import ImportOptions, import_media
    from farm.workspace import init_workspace

    if path.exists():
        shutil.rmtree(path)
    ws, _ = init_workspace(path)
    for kind, files in inputs.items():
        opts = ImportOptions(kind=kind, license="owned", link=True, mood=MUSIC_MOOD if kind == "audio" else None)
        report = import_media(ws, [str(f) for f in files], opts)
        if report.failed or report.duplicates or len(report.added) != len(files):
            raise SystemExit(f"benchmark: importing {kind} into {path} failed: {report.failed or report.duplicates}")
    return ws


def job_specs(ws) -> list[dict]:
    import catalogs

    with ws.catalog.read() as con:
        return [r["spec"] for r in catalogs.list_jobs(con, with_spec=True)]


def stage_seconds(ws) -> dict[str, float]:
    """Seconds per stage summed over a workspace's jobs (from the process log `farm logs` shows)."""
    import catalogs

    with ws.catalog.read() as con:
        return {stage: round(s, 2) for stage, s in catalogs.stage_seconds(con).items()}


def job_duration_s(spec: dict) -> float:
    """The output length the farm renders: spec duration, else the main's; whole frames."""
    from farm.media import probe

    fps = int(spec["fps"])
    if spec["duration_s"] is not None:
        d = float(spec["duration_s"])
    else:
        d = sum(probe(p, need_video=True).duration_s for p in spec["mains"])
    return max(1, int(round(d * fps))) / fps


def ffmpeg_job_cmd(spec: dict, out: Path) -> list[str]:
    """One ffmpeg command doing the job's work: cover-fit main over a looping template, fades,
    music mixed under the main audio with its own fades, libx264 + AAC, faststart."""
    if len(spec["mains"]) != 1:
        raise SystemExit("benchmark: the ffmpeg peer handles single-main jobs only")
    if spec["caption"] or spec["attribution"]:
        raise SystemExit("benchmark: jobs must carry no caption or credit line (the peer draws no text)")
    if spec["layout"] != "vertical" or spec["fit"] != "cover":
        raise SystemExit("benchmark: the ffmpeg peer does the vertical cover layout only")
    dur = job_duration_s(spec)
    fps = int(spec["fps"])
    fade = float(spec["fade_s"])
    end = dur - fade
    graph = [
        "[0:v]scale=1080:1280:force_original_aspect_ratio=increase,crop=1080:1280,setsar=1[m]",
        "[1:v]scale=1080:640:force_original_aspect_ratio=increase,crop=1080:640,setsar=1[t]",
        f"[m][t]vstack=inputs=2,fps={fps},fade=t=in:st=0:d={fade},fade=t=out:st={end:.6f}:d={fade},"
        "format=yuv420p[v]",
    ]
    inputs = ["-i", spec["mains"][0], "-stream_loop", "-1", "-i", spec["template"]]
    if spec["music"]:
        mf = min(MUSIC_FADE_S, dur / 4)
        inputs += ["-i", spec["music"]]
        graph += [
            "[0:a]aresample=48000[ma]",
            f"[2:a]aresample=48000,afade=t=in:st=0:d={mf},afade=t=out:st={dur - mf:.6f}:d={mf},"
            f"volume={spec['music_volume']}[mu]",
            f"[ma][mu]amix=inputs=2:normalize=0:duration=first,afade=t=in:st=0:d={fade},"
            f"afade=t=out:st={end:.6f}:d={fade}[a]",
        ]
    else:
        graph.append(f"[0:a]aresample=48000,afade=t=in:st=0:d={fade},afade=t=out:st={end:.6f}:d={fade}[a]")
    return [
        ffmpeg_exe(), "-y", "-loglevel", "error", *inputs, "-filter_complex", ";".join(graph),
        "-map", "[v]", "-map", "[a]", "-t", f"{dur:.6f}",
        "-c:v", "libx264", "-preset", spec["preset"], "-crf", str(spec["crf"]), "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "160k", "-ar", "48000", "-movflags", "+faststart", str(out),
    ]  # fmt: skip


def run_ffmpeg_loop(cmds: list[list[str]], *, parallel: int) -> float:
    """Wall seconds of running every command: one after another, or ``parallel`` at a time."""
    t = time.perf_counter()
    if parallel <= 1:
        for cmd in cmds:
            run_timed(cmd)
    else:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            list(pool.map(run_timed, cmds))
    return time.perf_counter() - t


def run_farm_nightly(ws_root: Path, *, count: int, workers: int) -> tuple[float, dict, list[str]]:
    """Time the whole `farm nightly` command as a user runs it; returns (wall s, its JSON, cmd)."""
    cmd = [*farm_exe(), "--workspace", str(ws_root), "nightly", "--count", str(count), "--workers", str(workers),
           "--seed", str(SEED), "--json", "-q"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"benchmark: farm nightly failed ({proc.returncode}): {' '.join(cmd)}\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"benchmark: farm nightly printed no JSON:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}") from None
    return wall, doc, cmd


def _plan_peer(root: Path, inputs: dict[str, list[Path]], count: int) -> list[dict]:
    """The batch's job specs, planned exactly as `farm nightly --seed SEED` plans them, in a
    scratch workspace stocked like the timed ones (so the ffmpeg loop can run first)."""
    from farm.jobs import enqueue_plans, plan_batch

    ws = stock_workspace(root / "ws-plan", inputs)
    with ws.catalog.read() as con:
        plans, notes = plan_batch(ws, con, count=count, seed=SEED)
    if len(plans) != count:
        raise SystemExit(f"benchmark: planned {len(plans)} of {count} jobs ({'; '.join(notes)}); lower --count")
    enqueue_plans(ws, plans, batch_id="bench-plan", seed=SEED)
    return job_specs(ws)


def _same_jobs(a: list[dict], b: list[dict]) -> bool:
    return len(a) == len(b) and all({k: x.get(k) for k in SPEC_KEYS} == {k: y.get(k) for k in SPEC_KEYS}
                                    for x, y in zip(a, b))


def run_batch_bench(
    *,
    count: int = 32,
    seconds: float = 10.0,
    workdir: str | None = None,
    worker_counts: list[int] | None = None,
    log: TextIO = sys.stderr,
) -> dict:
    """Run the comparison and return a report (with a Markdown ``table``)."""
    t_start = time.perf_counter()
    if count < 1:
        raise SystemExit("benchmark: count must be at least 1")
    cores = os.cpu_count() or 1
    ks = list(worker_counts) if worker_counts else list(range(1, cores + 1))
    if any(k < 1 for k in ks):
        raise SystemExit(f"benchmark: worker counts must be at least 1, not {ks}")
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="farm-bench-batch-"))
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()

    inputs = make_batch_inputs(root, count=count, seconds=seconds, log=log)
    for files in inputs.values():  # same start for both sides: inputs in the page cache
        for f in files:
            f.read_bytes()

    _say(log, f"planning the batch of {count} (seed {SEED}) for the ffmpeg peer...")
    specs = _plan_peer(root, inputs, count)
    frames_per_job = [int(round(job_duration_s(s) * int(s["fps"]))) for s in specs]
    total_frames = sum(frames_per_job)

    # Fresh, stocked workspaces for every farm run (stocking is not timed).
    workspaces = {}
    for k in ks:
        _say(log, f"stocking workspace ws-k{k} (import --link, licence owned)...")
        workspaces[k] = stock_workspace(root / f"ws-k{k}", inputs)

    ff_modes = {"seq": 1, "par": cores}
    ff_cmds = {}
    for mode in ff_modes:
        out_dir = root / f"ffmpeg-{mode}"
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir()
        ff_cmds[mode] = [ffmpeg_job_cmd(s, out_dir / f"job-{i + 1:06d}.mp4") for i, s in enumerate(specs)]

    # Alternate: ffmpeg sequential, farm k1, ffmpeg parallel, farm k2, farm k3...
    order: list[tuple[str, object]] = []
    ff_left = list(ff_modes)
    for k in ks:
        if ff_left:
            order.append(("ffmpeg", ff_left.pop(0)))
        order.append(("farm", k))
    order += [("ffmpeg", m) for m in ff_left]

    runs: list[dict] = []
    ff_wall: dict[str, float] = {}
    farm: dict[int, dict] = {}
    farm_cmd_line = None
    for side, what in order:
        if side == "ffmpeg":
            par = ff_modes[what]
            label = "ffmpeg sequential" if par == 1 else f"ffmpeg x{par} parallel"
            _say(log, f"{label}: {count} ffmpeg commands...")
            wall = run_ffmpeg_loop(ff_cmds[what], parallel=par)
            ff_wall[what] = wall
            got_frames = [frame_count(Path(c[-1])) for c in ff_cmds[what]]
            if got_frames != frames_per_job:
                raise SystemExit(f"benchmark: {label} wrote {got_frames} frames, expected {frames_per_job}")
            runs.append({"run": label, "wall_s": round(wall, 2)})
            _say(log, f"{label}: {wall:.2f} s ({wall / count:.2f} s/video, {total_frames / wall:.1f} fps)")
        else:
            k = what
            ws = workspaces[k]
            _say(log, f"farm nightly --workers {k}: {count} jobs...")
            wall, doc, cmd = run_farm_nightly(ws.root, count=count, workers=k)
            farm_cmd_line = " ".join(cmd[1:]) if farm_cmd_line is None else farm_cmd_line
            rendered = doc.get("rendered") or []
            if len(rendered) != count or doc.get("failed") or doc.get("planned") != count:
                raise SystemExit(f"benchmark: farm nightly k={k} rendered {len(rendered)} of {count} "
                                 f"(planned {doc.get('planned')}, failed {doc.get('failed')}, notes {doc.get('notes')})")
            if doc.get("frames") != total_frames:
                raise SystemExit(f"benchmark: farm nightly k={k} rendered {doc.get('frames')} frames, expected {total_frames}")
            got = job_specs(ws)
            if not _same_jobs(got, specs):
                raise SystemExit(f"benchmark: farm nightly k={k} planned a different batch than the ffmpeg peer")
            render_wall = float(doc["render_wall_s"])
            farm[k] = {"wall_s": wall, "render_wall_s": render_wall, "json_wall_s": doc.get("wall_s"),
                       "retried": len(doc.get("retried") or []), "stages_s": stage_seconds(ws),
                       "outputs": [s["output"] for s in got]}
            runs.append({"run": f"farm nightly k={k}", "wall_s": round(wall, 2), "render_wall_s": round(render_wall, 2),
                         "farm_json_wall_s": doc.get("wall_s")})
            _say(log, f"farm nightly k={k}: {wall:.2f} s whole command ({wall / count:.2f} s/video), "
                      f"{render_wall:.2f} s rendering ({render_wall / count:.2f} s/video), "
                      f"{total_frames / wall:.1f} fps; stages {farm[k]['stages_s']}")

    # Quality: one farm output against the matching ffmpeg output.
    k0 = ks[0]
    a, b = Path(farm[k0]["outputs"][0]), Path(ff_cmds["seq"][0][-1])
    _say(log, f"measuring PSNR of {a.name} (farm k={k0}) against ffmpeg's...")
    quality = psnr(a, b, max_frames=60)
    _say(log, f"PSNR farm vs ffmpeg: {quality:.2f} dB")

    def per_video(wall: float) -> float:
        return wall / count

    best_mode = min(ff_wall, key=ff_wall.get)
    best_spv = per_video(ff_wall[best_mode])
    rows = []
    for mode in ff_modes:
        wall = ff_wall[mode]
        spv = per_video(wall)
        rows.append({"tool": "ffmpeg sequential" if mode == "seq" else f"ffmpeg x{cores} parallel", "wall_s": round(wall, 2),
                     "s_per_video": round(spv, 3), "videos_per_hour": round(3600 / spv, 1),
                     "speed_vs_best_ffmpeg": round(best_spv / spv, 3)})
    for k in ks:
        f = farm[k]
        spv = per_video(f["wall_s"])
        rspv = per_video(f["render_wall_s"])
        rows.append({"tool": f"farm nightly k={k}", "wall_s": round(f["wall_s"], 2), "s_per_video": round(spv, 3),
                     "videos_per_hour": round(3600 / spv, 1), "speed_vs_best_ffmpeg": round(best_spv / spv, 3),
                     "render_wall_s": round(f["render_wall_s"], 2), "render_s_per_video": round(rspv, 3),
                     "render_videos_per_hour": round(3600 / rspv, 1) if rspv > 0 else None,
                     "render_speed_vs_best_ffmpeg": round(best_spv / rspv, 3) if rspv > 0 else None,
                     "overhead_s": round(f["wall_s"] - f["render_wall_s"], 2), "stages_s": f["stages_s"]})
    farm_rows = rows[len(ff_modes):]
    best_farm = max(farm_rows, key=lambda r: r["speed_vs_best_ffmpeg"])

    report = {
        "machine": machine_line(),
        "inputs": (f"{len(inputs['source'])} mains of {seconds:g} s 1920x1080p30 (colour bars, film grain {GRAIN}, stereo tone), "
                   f"{TEMPLATES} templates of {TEMPLATE_S:g} s 1080x1920p30 (colour bars, looped), {MUSIC_TRACKS} music tracks "
                   f"of {seconds + 2:g} s"),
        "settings": (f"vertical 1080x1920, cover, fade {specs[0]['fade_s']} s, music at {specs[0]['music_volume']}, "
                     f"libx264 {specs[0]['preset']} crf {specs[0]['crf']}, AAC 160k 48 kHz"),
        "count": count,
        "frames": total_frames,
        "worker_counts": ks,
        "order": [r["run"] for r in runs],
        "runs": runs,
        "results": rows,
        "best_ffmpeg_loop": rows[list(ff_modes).index(best_mode)]["tool"],
        "best_ffmpeg_s_per_video": round(best_spv, 3),
        "farm_vs_best_ffmpeg": {f"k={k}": r["speed_vs_best_ffmpeg"] for k, r in zip(ks, farm_rows)},
        "farm_render_vs_best_ffmpeg": {f"k={k}": r["render_speed_vs_best_ffmpeg"] for k, r in zip(ks, farm_rows)},
        "farm_beats_best_ffmpeg": best_farm["speed_vs_best_ffmpeg"] > 1.0,
        "psnr_farm_vs_ffmpeg_db": round(quality, 2),
        "psnr_floor_db": PSNR_FLOOR_DB,
        "psnr_ok": quality >= PSNR_FLOOR_DB,
        "psnr_files": [str(a), str(b)],
        "farm_command": farm_cmd_line,
        "ffmpeg_command_example": " ".join(ff_cmds["seq"][0]),
        "workdir": str(root),
    }
    lines = [
        f"machine: {report['machine']}",
        f"batch: {count} videos, {total_frames} frames; inputs: {report['inputs']}; {report['settings']}",
        f"order: {', '.join(report['order'])}",
        "",
        "| run | wall s | s/video | videos/hour | speed vs best ffmpeg loop |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['tool']} | {r['wall_s']:.2f} | {r['s_per_video']:.2f} | {r['videos_per_hour']:.0f} | "
                     f"{r['speed_vs_best_ffmpeg']:.2f}x |")
    lines.append("")
    for r in farm_rows:
        lines.append(f"{r['tool']}: render phase {r['render_wall_s']:.2f} s ({r['render_s_per_video']:.2f} s/video, "
                     f"{r['render_speed_vs_best_ffmpeg']:.2f}x best ffmpeg loop); start-up and bookkeeping "
                     f"{r['overhead_s']:.2f} s")
    lines.append(
        f"PSNR of farm's output against ffmpeg's (first 60 frames, saturated bars): {report['psnr_farm_vs_ffmpeg_db']} dB"
        f" ({'ok' if report['psnr_ok'] else 'FAIL'}: floor {PSNR_FLOOR_DB:g} dB)"
    )
    report["table"] = "\n".join(lines)
    report["bench_wall_s"] = round(time.perf_counter() - t_start, 1)
    _say(log, report["table"])
    (root / "report.json").write_text(json.dumps(report, indent=2, default=str))
    return report


if __name__ == "__main__":  # python -m benchmarks.batch [count] [seconds]
    argv = sys.argv[1:]
    r = run_batch_bench(count=int(argv[0]) if argv else 8, seconds=float(argv[1]) if len(argv) > 1 else 10.0)
    print(r["table"])
