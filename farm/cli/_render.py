"""CLI commands that render without a workspace's queue: mashup, promo, bench, demo."""

from __future__ import annotations

import argparse
import json
import sys

from farm.cli._bench_planner import add_bench_planner
from farm.cli._output import Progress
from farm.platforms import platform_names
from farm.settings import option, render_default


def add_mashup(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mashup",
        help="render a 2/3 + 1/3 mashup of main clips over a template",
        description="Render MAIN clips (crossfaded in order) in 2/3 of the frame and TEMPLATE in the other 1/3.",
    )
    p.add_argument("mains", nargs="+", metavar="MAIN", help="main video(s), played in order")
    p.add_argument("--template", required=True, metavar="TEMPLATE", help="template video (loops or is cut to length)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mp4", help="output MP4 file")
    p.add_argument("--layout", default=render_default("layout"), choices=option("render", "layout").choices)
    p.add_argument("--fit", default=render_default("fit"), choices=option("render", "fit").choices)
    p.add_argument("--duration", type=float, default=None, metavar="SECONDS", help="default: the main clips' total")
    p.add_argument("--fade", type=float, default=render_default("fade_s"), metavar="SECONDS",
                   help="fade in/out and crossfade length (0: off)")
    p.add_argument("--music", default=None, metavar="AUDIO", help="music track mixed under the main audio")
    p.add_argument("--music-volume", type=float, default=render_default("music_volume"), metavar="GAIN")
    p.add_argument("--caption", default=None, metavar="TEXT", help="caption burned in over the main box")
    p.add_argument("--attribution", default=None, metavar="TEXT", help='credit line, e.g. "Source: @creator"')
    p.add_argument("--fps", type=int, default=render_default("fps"))
    p.add_argument("--preset", default=render_default("preset"))
    p.add_argument("--crf", type=int, default=render_default("crf"))
    p.add_argument("--encoder", default=render_default("encoder"), choices=option("render", "encoder").choices)
    p.add_argument("--decoder", default=render_default("decoder"), choices=option("render", "decoder").choices,
                   help="cpu: PyAV; gpu: NVDEC and CUDA compositing; auto: gpu where there is one")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_mashup)


def _cmd_mashup(args: argparse.Namespace) -> int:
    from farm.jobs import MashupSpec
    from farm.render import render_mashup

    spec = MashupSpec(
        mains=tuple(args.mains),
        template=args.template,
        output=args.output,
        layout=args.layout,
        fit=args.fit,
        duration_s=args.duration,
        fade_s=args.fade,
        music=args.music,
        music_volume=args.music_volume,
        caption=args.caption,
        attribution=args.attribution,
        fps=args.fps,
        preset=args.preset,
        crf=args.crf,
        encoder=args.encoder,
        decoder=args.decoder,
    )
    with Progress("mashup", unit="frame", total=0, quiet=args.quiet or args.json) as bar:
        result = render_mashup(spec, progress=bar.update if bar.active else None)
    if args.json:
        print(json.dumps(result.summary(), ensure_ascii=False))
    else:
        print(
            f"{result.path}: {result.frames} frames, {result.duration_s:.2f} s, "
            f"{result.width}x{result.height}, {result.encoder}, rendered at {result.render_fps:.1f} fps"
        )
    return 0


def add_promo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "promo",
        help="render a 20-30 s product promo: pan/zoom images, captions, price, call to action, music",
        description="Render a vertical promo of PRODUCT (a catalog id, or a YAML/JSON product file). The words come "
                    "from the AI server (OPENAI_API_KEY, OPENAI_BASE_URL) or, without one, the template writer.",
    )
    p.add_argument("product", metavar="PRODUCT_FILE_OR_ID")
    p.add_argument("-o", "--output", required=True, metavar="OUT.mp4")
    p.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                   help=f"20 to 30 (default from farm.toml: {option('promo', 'duration_s').default:g})")
    p.add_argument("--template", default=None, metavar="VIDEO", help="a template video in the 1/3 box; the promo "
                                                                      "takes the 2/3 box")
    mg = p.add_mutually_exclusive_group()
    mg.add_argument("--music", default=None, metavar="AUDIO", help="a music file")
    mg.add_argument("--mood", default=None, help="the library's least used music of this mood (needs a workspace)")
    p.add_argument("--platform", default=None, choices=platform_names(),
                   help="keep text in this platform's safe area (default: safe on all) and write only its post")
    p.add_argument("--ai", action=argparse.BooleanOptionalAction, default=None,
                   help="words from the AI server (default from farm.toml: on)")
    p.add_argument("--voice", action=argparse.BooleanOptionalAction, default=None,
                   help="speak the script over the music (default from farm.toml: off)")
    p.add_argument("--seed", type=int, default=0, help="varies the pan/zoom moves")
    p.add_argument("--json", action="store_true", help="print the result, the words and the post metadata as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_promo)


def _cmd_promo(args: argparse.Namespace) -> int:
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from farm.errors import InputError
    from farm.jobs import build_promo, load_product
    from farm.render import render_promo
    from farm.workspace import find_workspace

    explicit = getattr(args, "workspace", None)
    if explicit or os.environ.get("FARM_HOME"):
        ws = find_workspace(explicit)
    else:
        try:
            ws = find_workspace()
        except InputError:
            ws = None  # a product file renders without a workspace
    if args.mood and ws is None:
        raise InputError("--mood picks music from a workspace's library: run farm init, or give --music FILE")
    product = load_product(args.product, ws=ws)
    voice_dir = Path(tempfile.mkdtemp(prefix="farm-voice-")) if ws is None else None
    try:
        job = build_promo(product, output=args.output, ws=ws, platform=args.platform, duration_s=args.duration,
                          template=args.template, music=args.music, mood=args.mood, ai=args.ai, voice=args.voice,
                          voice_dir=voice_dir, seed=args.seed)
        for w in job.warnings:
            print(f"warning: {w}", file=sys.stderr)
        with Progress("promo", unit="frame", total=0, quiet=args.quiet or args.json) as bar:
            result = render_promo(job.spec, progress=bar.update if bar.active else None)
    finally:
        if voice_dir is not None:
            shutil.rmtree(voice_dir, ignore_errors=True)
    if args.json:
        print(json.dumps({**result.summary(), **job.summary()}, ensure_ascii=False, default=str))
    else:
        print(f"{result.path}: {result.frames} frames, {result.duration_s:.2f} s, {result.width}x{result.height}, "
              f"{result.encoder}, rendered at {result.render_fps:.1f} fps; text from "
              f"{job.text_source}{f' ({job.text_source_reason})' if job.text_source_reason else ''}"
              f"{', with voice' if job.voice else ''}")
    return 0


def add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks against peer tools, in the same run")
    bsub = p.add_subparsers(dest="bench", required=True, metavar="BENCH")
    m = bsub.add_parser(
        "mashup",
        help="farm mashup vs the ffmpeg CLI vs MoviePy on the same generated 1080p inputs",
    )
    m.add_argument("--seconds", type=float, default=20.0, help="length of the generated inputs (default 20)")
    m.add_argument("--rounds", type=int, default=2, help="alternating rounds per tool (default 2)")
    m.add_argument("--workdir", default=None, help="where inputs and outputs go (default: a temp folder)")
    m.add_argument("--no-moviepy", action="store_true", help="skip MoviePy (slow)")
    m.add_argument("--moviepy-seconds", type=float, default=None, help="render only this much with MoviePy")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=_cmd_bench_mashup)

    pb = bsub.add_parser("promo", help="farm promo vs the ffmpeg CLI's zoompan + xfade slideshow, with a jitter measure")
    pb.add_argument("--seconds", type=float, default=20.0, help="promo length, 20 to 30 (default 20)")
    pb.add_argument("--rounds", type=int, default=2, help="alternating rounds per tool (default 2)")
    pb.add_argument("--workdir", default=None)
    pb.add_argument("--json", action="store_true")
    pb.set_defaults(func=_cmd_bench_promo)

    c = bsub.add_parser("catalog", help="catalog latency at 100k media and jobs: farm (DuckDB) vs SQLite doing the same")
    c.add_argument("--rows", type=int, default=100_000, help="media rows and job rows (default 100000)")
    c.add_argument("--samples", type=int, default=200, help="timed samples per operation (default 200)")
    c.add_argument("--workdir", default=None)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=_cmd_bench_catalog)

    b = bsub.add_parser("batch", help="farm nightly vs the ffmpeg CLI once per video (sequential and parallel)")
    b.add_argument("--count", type=int, default=32, help="videos in the batch (default 32: a fixed ~7 s start-up is repaid over a batch)")
    b.add_argument("--seconds", type=float, default=10.0, help="length of each main clip (default 10)")
    b.add_argument("--workers", type=int, action="append", default=None, metavar="K",
                   help="worker count to measure (repeat; default 1..cores)")
    b.add_argument("--workdir", default=None)
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=_cmd_bench_batch)

    g = bsub.add_parser("gpu", help="the mashup job on this GPU: farm CPU path vs GPU path vs the ffmpeg CLI with CUDA; "
                                    "NVDEC decode-only; 1-8 GPU workers at once")
    g.add_argument("--seconds", type=float, default=10.0, help="length of the generated inputs (default 10)")
    g.add_argument("--rounds", type=int, default=2, help="alternating rounds per tool (default 2)")
    g.add_argument("--workers", type=int, action="append", default=None, metavar="N",
                   help="concurrent GPU-path workers to measure (repeat; default 1, 2, 4, 8)")
    g.add_argument("--workdir", default=None)
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=_cmd_bench_gpu)
    sv = bsub.add_parser("serve", help="farm serve's list endpoints at 100k jobs and the preview's first byte, "
                                       "vs the same catalog queries in-process")
    sv.add_argument("--jobs", type=int, default=100_000, help="jobs (and media) in the workspace (default 100000)")
    sv.add_argument("--samples", type=int, default=200, help="timed requests per endpoint (default 200)")
    sv.add_argument("--workdir", default=None)
    sv.add_argument("--json", action="store_true")
    sv.set_defaults(func=_cmd_bench_serve)
    add_bench_planner(bsub)


def _cmd_bench_promo(args: argparse.Namespace) -> int:
    from benchmarks.promo import run_promo_bench
    from farm.errors import InputError

    if not 20 <= args.seconds <= 30:
        raise InputError(f"Invalid --seconds ({args.seconds:g}). Supported: 20 to 30.")
    if args.rounds < 1:
        raise InputError(f"--rounds must be at least 1, not {args.rounds}")
    report = run_promo_bench(seconds=args.seconds, rounds=args.rounds, workdir=args.workdir, log=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(report["table"])
    return 0


def _cmd_bench_mashup(args: argparse.Namespace) -> int:
    from benchmarks.mashup import run_mashup_bench

    report = run_mashup_bench(
        seconds=args.seconds,
        rounds=args.rounds,
        workdir=args.workdir,
        moviepy=not args.no_moviepy,
        moviepy_seconds=args.moviepy_seconds,
        log=sys.stderr,
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(report["table"])
    return _psnr_verdict(report, "farm bench mashup")


def _psnr_verdict(report: dict, what: str) -> int:
    from benchmarks.mashup import psnr_failure

    failure = psnr_failure(report, what)
    if failure is None:
        return 0
    print(failure, file=sys.stderr)
    return 1


def _cmd_bench_catalog(args: argparse.Namespace) -> int:
    from benchmarks.catalog import run_catalog_bench

    report = run_catalog_bench(rows=args.rows, samples=args.samples, workdir=args.workdir, log=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(report["table"])
    return 0


def _cmd_bench_serve(args: argparse.Namespace) -> int:
    from benchmarks.serve import run_serve_bench

    report = run_serve_bench(jobs=args.jobs, samples=args.samples, workdir=args.workdir, log=sys.stderr)
    print(json.dumps(report, indent=2, default=str) if args.json else report["table"])
    return 0


def _cmd_bench_batch(args: argparse.Namespace) -> int:
    from benchmarks.batch import run_batch_bench

    report = run_batch_bench(count=args.count, seconds=args.seconds, workdir=args.workdir,
                             worker_counts=args.workers, log=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(report["table"])
    return _psnr_verdict(report, "farm bench batch")


def _cmd_bench_gpu(args: argparse.Namespace) -> int:
    from benchmarks.gpu import WORKER_COUNTS, run_gpu_bench

    report = run_gpu_bench(seconds=args.seconds, rounds=args.rounds, workdir=args.workdir,
                           worker_counts=tuple(args.workers or WORKER_COUNTS), log=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(report["table"])
    return 0


def add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="a demo workspace with generated sample media and a rendered batch (`make run`)")
    p.add_argument("--out", default="demo", help="the demo workspace folder (default ./demo)")
    p.add_argument("--seconds", type=float, default=6.0, help="length of the generated main clips")
    p.add_argument("--jobs", type=int, default=6, help="mashups to plan and render (default 6)")
    p.add_argument("--promos", type=int, default=2, help="product promos to plan and render (default 2)")
    p.add_argument("--in-process", action="store_true", help="render with `queue render` here instead of Ray")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from farm.demo import run_demo

    info: dict = {}

    def on_event(name: str, data: dict) -> None:
        if name == "ray":
            info.update(data)
            print(f"ray started; dashboard while the batch runs: {data.get('dashboard_url', '-')}", file=sys.stderr)
        elif name == "planned":
            print(f"planned {data['planned']} job(s), {data['pending']} pending; rendering on Ray ...", file=sys.stderr)
        elif name == "done":
            print(f"  job {data['job_id']} ready ({data['frames']} frames at {data['render_fps']:.0f} fps on {data['worker']})",
                  file=sys.stderr)
        elif name in ("failed", "lost", "retry"):
            print(f"  job {data['job_id']}: {data.get('state', 'failed')}: {data['error']}", file=sys.stderr)

    ws, summary = run_demo(args.out, seconds=args.seconds, jobs=args.jobs, promos=args.promos,
                           in_process=args.in_process, on_event=on_event)
    doc = summary.as_dict()
    from farm.demo import publish_demo

    print("publishing the ready videos to the local outbox ...", file=sys.stderr)
    published = publish_demo(ws, in_process=args.in_process)
    posted = [o for o in published.outcomes if o.status == "published"]
    from farm.monitor import monitor_once
    from farm.report import write_report

    monitor_once(ws, log=lambda line: print(line, file=sys.stderr))  # health and alerts (the outbox has no statistics)
    report = write_report(ws, ws.root / "report.html")
    print(f"demo workspace: {ws.root}")
    print(f"  rendered {len(doc['rendered'])} job(s), failed {len(doc['failed'])}; {doc['frames']} frames in {doc['wall_s']:.1f} s")
    print(f"  outputs:   {ws.out_dir}/")
    print(f"  published: {len(posted)} video(s) with their post metadata to {ws.outbox_dir}/outbox/ "
          f"(the local platform; see `farm accounts list`, `farm publish --dry-run`)")
    print(f"  catalog:   {ws.catalog.path}   e.g. .venv/bin/farm --workspace {args.out} queue list")
    print(f"  logs:      .venv/bin/farm --workspace {args.out} logs JOB_ID")
    if info.get("dashboard_url"):
        print(f"  dashboard: {info['dashboard_url']} (up while a batch runs; see README, 'Watching a batch')")
    print(f"  report:    {report.path} ({len(report.charts)} charts; open it in a browser, no network needed)")
    bad = [o for o in published.outcomes if o.status == "failed"]
    for o in bad:
        print(f"  publish failed: job {o.job_id}: {o.message}", file=sys.stderr)
    return 0 if not doc["failed"] and not bad else 1
