"""`farm bench serve`: latency of `farm serve`'s list endpoints at 100k jobs, and the preview's first byte, over loopback."""

from __future__ import annotations

import math
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import catalogs
from benchmarks.catalog import fill_catalog, machine_info
from benchmarks.mashup import farm_exe
from farm.errors import InputError
from farm.samples import make_video
from farm.workspace import Workspace, init_workspace

GOAL_MS = 100.0
WARMUP = 2
DEFAULT_PAGE_ROWS = 100  # farm.web's default page (PAGE_ROWS in its API)
PAGE = 50
# An endpoint slower than this per request gets fewer samples (at least MIN_SAMPLES), so one
# unpaged endpoint cannot hold the run for minutes; the report says how many each got.
BUDGET_S_PER_ENDPOINT = 40.0
MIN_SAMPLES = 5
ACCOUNTS = (("tiktok", "bench_tt_1"), ("tiktok", "bench_tt_2"), ("youtube", "bench_yt_1"),
            ("youtube", "bench_yt_2"), ("facebook", "bench_fb_1"), ("facebook", "bench_fb_2"))  # fmt: skip
UPLOADS = 200


def _endpoints(jobs: int, job_id: int) -> list[tuple[str, str, dict | None, dict | None]]:
    """(name, path, request headers, the same query's ``catalogs.list_jobs`` arguments for the peer)."""
    deep = max(0, jobs - PAGE)
    default = DEFAULT_PAGE_ROWS  # what the API pages by when no limit is given
    return [
        (f"jobs (default page of {default})", "/api/v1/jobs", None, {"limit": default}),
        (f"jobs first page (limit={PAGE})", f"/api/v1/jobs?limit={PAGE}", None, {"limit": PAGE}),
        ("jobs state=ready", "/api/v1/jobs?state=ready", None, {"state": "ready", "limit": default}),
        ("jobs kind=promo platform=tiktok", "/api/v1/jobs?kind=promo&platform=tiktok", None,
         {"kind": "promo", "platform": "tiktok", "limit": default}),
        (f"jobs deep page (offset={deep})", f"/api/v1/jobs?limit={PAGE}&offset={deep}", None,
         {"limit": PAGE, "offset": deep}),
        ("job detail", f"/api/v1/jobs/{job_id}", None, None),
        (f"media (default page of {default})", "/api/v1/media", None, None),
        ("accounts", "/api/v1/accounts", None, None),
        ("queue page (HTML)", "/queue", None, None),
        ("preview first byte", f"/api/v1/jobs/{job_id}/video", {"Range": "bytes=0-"}, None),
    ]  # fmt: skip


def build_workspace(root: Path, *, jobs: int, log: TextIO) -> tuple[Workspace, int, dict]:
    """A workspace with ``jobs`` jobs and media (benchmarks.catalog's fill), accounts, uploads and one
    ready job whose output is a real small video; returns it, that job's id and the table counts."""
    ws, _ = init_workspace(root / "ws")
    t = time.perf_counter()
    counts = fill_catalog(ws, rows=jobs)
    video = ws.out_dir / "bench-preview.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    make_video(video, width=360, height=640, seconds=3.0, fps=30, audio_hz=440.0)
    with ws.catalog.write() as con:
        ids = [catalogs.insert_account(con, {"platform": p, "username": u}) for p, u in ACCOUNTS]
        published = [(j["id"], j["platform"]) for j in catalogs.list_jobs(con, state="published", limit=UPLOADS * 4)
                     if j["platform"] is not None][:UPLOADS]
        by_platform = {p: i for (p, _), i in zip(ACCOUNTS, ids)}
        for job, plat in published:
            catalogs.insert_upload(con, job_id=job, account_id=by_platform[plat], platform=plat,
                                   marker=f"bench-{job}", size_bytes=2_000_000, privacy="public")
        job_id = int(catalogs.list_jobs(con, state="ready", limit=1)[0]["id"])
        catalogs.set_job_output(con, job_id, path=str(video), size_bytes=video.stat().st_size)
    counts.update(accounts=len(ids), uploads=len(published))
    print(f"workspace filled in {time.perf_counter() - t:.1f} s: {counts}", file=log)
    return ws, job_id, counts


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(ws: Workspace, *, timeout_s: float = 60.0) -> tuple[subprocess.Popen, str]:
    """`farm serve --port P` as a subprocess; returns it and the URL from its first stdout line."""
    cmd = [*farm_exe(), "serve", "--workspace", str(ws.root), "--port", str(_free_port()), "--lang", "en"]
    err_path = ws.root.parent / "serve.stderr"
    with open(err_path, "w") as err:  # a file, not a pipe nobody reads while the server runs
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=timeout_s)
    except queue.Empty:
        line = ""
    if not line.startswith("serving on "):
        proc.kill()
        proc.wait(timeout=10)
        raise RuntimeError(f"serve bench: farm serve did not start ({line.strip() or 'no URL line'}): "
                           f"{err_path.read_text(errors='replace').strip()[-500:]}")
    return proc, line.split("serving on ", 1)[1].strip().rstrip("/")


def _http_call(client, path: str, headers: dict | None) -> Callable[[], int]:
    """One request; for a Range request only up to the first body byte (its time to first byte)."""

    def call() -> int:
        if headers and "Range" in headers:
            with client.stream("GET", path, headers=headers) as r:
                next(r.iter_raw(1), None)
                return r.status_code
        r = client.get(path, headers=headers)
        return r.status_code

    return call


def _peer_call(ws: Workspace, kwargs: dict) -> Callable[[], int]:
    """The same list query in-process, a connection per call as the server opens one per request."""

    def call() -> int:
        with ws.catalog.read() as con:
            catalogs.list_jobs(con, **kwargs)
        return 200

    return call


def _timed(fn: Callable[[], int]) -> tuple[float, int]:
    t = time.perf_counter()
    status = fn()
    return (time.perf_counter() - t) * 1000.0, status


def _summary(times_ms: list[float]) -> dict:
    ordered = sorted(times_ms)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2),
            "max_ms": round(ordered[-1], 2)}  # fmt: skip


def _measure(name: str, http: Callable[[], int], peer: Callable[[], int] | None, samples: int,
             log: TextIO) -> dict:
    """Warm up, then ``samples`` requests (fewer for a slow endpoint), alternating with the peer when there is one."""
    t = time.perf_counter()
    statuses = set()
    for _ in range(WARMUP):
        statuses.add(http())
        if peer:
            peer()
    per_call_s = (time.perf_counter() - t) / WARMUP
    n = max(1, min(samples, max(MIN_SAMPLES, int(BUDGET_S_PER_ENDPOINT / max(per_call_s, 1e-6)))))
    times: dict[str, list[float]] = {"http": [], "peer": []}
    for i in range(n):
        order = (("http", http), ("peer", peer)) if i % 2 == 0 else (("peer", peer), ("http", http))
        for side, fn in order:
            if fn is None:
                continue
            ms, status = _timed(fn)
            times[side].append(ms)
            if side == "http":
                statuses.add(status)
    row = {"endpoint": name, "status": sorted(statuses), **_summary(times["http"])}
    row["under_goal"] = row["p95_ms"] < GOAL_MS
    if peer:
        row["peer"] = _summary(times["peer"])
        row["ratio_p50"] = round(row["p50_ms"] / max(row["peer"]["p50_ms"], 1e-3), 1)
    peer_text = f", in-process {row['peer']['p50_ms']:.1f} ms" if peer else ""
    print(f"{name}: p50 {row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms ({n} samples){peer_text}", file=log)
    return row


def _table(report: dict) -> str:
    info, c = report["machine"], report["counts"]
    lines = [
        f"machine: {info['platform']}, {info['cpu_count']} cores, {info['cpu']}, Python {info['python']}, "
        f"DuckDB {info['duckdb']}",
        f"workspace: {c['jobs']} jobs, {c['media']} media, {c['accounts']} accounts, {c['uploads']} uploads; "
        f"farm serve over loopback (httpx), goal p95 < {GOAL_MS:.0f} ms; peer: the same catalogs.list_jobs "
        "query in-process, alternating",
        "",
        "| endpoint | n | p50 ms | p95 ms | max ms | under goal | in-process p50 ms | HTTP / in-process |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in report["endpoints"]:
        peer_ms = f"{r['peer']['p50_ms']:.1f}" if "peer" in r else "-"
        ratio = f"{r['ratio_p50']:.1f}x" if "peer" in r else "-"
        lines.append(
            f"| {r['endpoint']} | {r['n']} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['max_ms']:.1f} "
            f"| {'yes' if r['under_goal'] else 'NO'} | {peer_ms} | {ratio} |"
        )
    return "\n".join(lines)


def run_serve_bench(
    *,
    jobs: int = 100_000,
    samples: int = 200,
    workdir: str | None = None,
    log: TextIO = sys.stderr,
) -> dict:
    """Time `farm serve`'s endpoints on a workspace of ``jobs`` jobs; returns a report with a ``table``.

    The server runs as `farm serve` in its own process and is asked over loopback by one httpx
    client (keep-alive), so each time is a whole request: routing, one catalog read, JSON or HTML.
    Each list-jobs query also runs in this process through ``catalogs.list_jobs`` on its own
    connection, alternating with the request: the floor, so the ratio is what HTTP adds. An endpoint
    whose requests take long gets fewer than ``samples`` (at least 5; ``n`` in the report).

    The files go in a new folder under ``workdir`` (kept), or in a temp folder removed at the end.
    """
    import httpx

    if jobs < 30:
        raise InputError(f"Invalid jobs ({jobs}). Supported: 30 or more.")
    if samples < 1:
        raise InputError(f"Invalid samples ({samples}). Supported: 1 or more.")
    t_start = time.perf_counter()
    if workdir:
        Path(workdir).mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="farm-serve-bench-", dir=workdir))
    proc = None
    try:
        ws, job_id, counts = build_workspace(root, jobs=jobs, log=log)
        proc, url = start_server(ws)
        print(f"farm serve at {url}", file=log)
        rows = []
        with httpx.Client(base_url=url, timeout=120.0) as client:
            for name, path, headers, peer_kwargs in _endpoints(jobs, job_id):
                peer = _peer_call(ws, peer_kwargs) if peer_kwargs is not None else None
                row = _measure(name, _http_call(client, path, headers), peer, samples, log)
                row["path"] = path
                if any(s not in (200, 206) for s in row["status"]):
                    raise RuntimeError(f"serve bench: GET {path} answered {row['status']}")
                rows.append(row)
        report = {"jobs": jobs, "counts": counts, "samples": samples, "goal_p95_ms": GOAL_MS, "endpoints": rows,
                  "machine": machine_info(), "wall_s": round(time.perf_counter() - t_start, 1)}  # fmt: skip
        report["table"] = _table(report)
        return report
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if workdir is None:
            shutil.rmtree(root, ignore_errors=True)
