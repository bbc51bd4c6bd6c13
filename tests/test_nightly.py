"""`farm nightly` on a real local Ray: planning, rendering, a killed worker, bad input, a restarted driver, metrics."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

import catalogs
from actors import RenderWorker
from conftest import BLUE, GREEN, RED, flat_clip, run_farm
from farm.errors import BusyError, InputError
from farm.library import ImportOptions, import_media
from farm.batch import run_nightly
from farm.jobs import plan_batch
from farm.jobs import render_lock
from farm.workspace import init_workspace

ray = pytest.importorskip("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module (2 CPUs), with its metrics endpoint on a known port."""
    port = _free_port()
    ctx = ray.init(num_cpus=2, include_dashboard=False, _metrics_export_port=port, log_to_driver=False,
                   configure_logging=False)
    yield {"metrics_port": port, "address": ctx.address_info["gcs_address"]}
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("nightly-media")
    from farm.samples import make_audio

    return {
        "m1": flat_clip(root / "m1.mp4", RED, seconds=1.0),
        "m2": flat_clip(root / "m2.mp4", BLUE, seconds=1.0, width=180, height=320),
        "m3": flat_clip(root / "m3.mp4", (120, 100, 160), seconds=1.0, width=240, height=240),
        "t1": flat_clip(root / "t1.mp4", GREEN, seconds=0.4, width=180, height=320),
        "t2": flat_clip(root / "t2.mp4", (60, 200, 90), seconds=0.4, width=180, height=320),
        "music": make_audio(root / "up.m4a", seconds=2.0, hz=523.0),
        "unknown": flat_clip(root / "unknown.mp4", (200, 128, 128), seconds=1.0),
    }


@pytest.fixture
def ws(tmp_path, clips):
    ws, _ = init_workspace(tmp_path / "ws")

    def add(key, **kw):
        rep = import_media(ws, [str(clips[key])], ImportOptions(**kw))
        assert rep.ok, rep.failed
        return rep.added[0]["id"]

    ws.ids = {  # type: ignore[attr-defined]
        "m1": add("m1", kind="source", license="owned"),
        "m2": add("m2", kind="source", license="cc0"),
        "m3": add("m3", kind="source", license="licensed"),
        "t1": add("t1", kind="template", license="owned"),
        "t2": add("t2", kind="template", license="owned"),
        "music": add("music", kind="audio", mood="upbeat", license="cc0"),
        "unknown": add("unknown", kind="source"),  # licence unknown: never planned
    }
    return ws


def _jobs(ws) -> dict[int, dict]:
    with ws.catalog.read() as con:
        return {j["id"]: j for j in catalogs.list_jobs(con, with_spec=True)}


# -- planning (no Ray) ------------------------------------------------------------------
def test_plan_is_diverse_publishable_and_seeded(ws):
    with ws.catalog.read() as con:
        plans, notes = plan_batch(ws, con, count=6, platforms=["tiktok", "youtube"], seed=3)
        again, _ = plan_batch(ws, con, count=6, platforms=["tiktok", "youtube"], seed=3)
    assert plans == again and not notes
    pairs = [(p["main"], p["template"]) for p in plans]
    assert len(set(pairs)) == 6  # 3 mains x 2 templates, none repeated
    assert ws.ids["unknown"] not in {p["main"] for p in plans}
    assert [p["platform"] for p in plans] == ["tiktok", "youtube"] * 3
    assert {p["music"] for p in plans} == {ws.ids["music"]}
    # least used first: each main twice, each template three times
    from collections import Counter

    assert sorted(Counter(p["main"] for p in plans).values()) == [2, 2, 2]
    with ws.catalog.read() as con:
        more, notes = plan_batch(ws, con, count=8, seed=3)
    assert len(more) == 6 and "every main/template pair" in notes[0]


def test_plan_skips_recent_pairs_and_needs_publishable_media(ws, tmp_path):
    from farm.jobs import enqueue_mashup

    enqueue_mashup(ws, mains=[ws.ids["m1"]], template=ws.ids["t1"])
    with ws.catalog.read() as con:
        plans, _ = plan_batch(ws, con, count=5, seed=1)
    assert (ws.ids["m1"], ws.ids["t1"]) not in {(p["main"], p["template"]) for p in plans}
    empty, _ = init_workspace(tmp_path / "empty")
    with empty.catalog.read() as con, pytest.raises(InputError, match="no source clips whose licence allows publishing"):
        plan_batch(empty, con, count=1)


def test_dry_run_prints_the_plan_and_enqueues_nothing(ws):
    r = run_farm("nightly", "--count", "3", "--dry-run", "--json", "--workspace", str(ws.root))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["dry_run"] is True and len(doc["plan"]) == 3
    assert _jobs(ws) == {}


# -- on Ray -------------------------------------------------------------------------------
def test_batch_renders_records_and_emits_metrics(ws, local_ray):
    events = []
    summary = run_nightly(ws, worker_class=RenderWorker, count=3, platforms=["tiktok"], seed=5,
                          on_event=lambda n, d: events.append((n, d)))
    doc = summary.as_dict()
    assert len(doc["rendered"]) == 3 and doc["failed"] == [] and doc["planned"] == 3
    assert doc["frames"] == 90 and doc["videos_per_hour"] > 0 and doc["fps"] > 0
    assert len(doc["workers"]) == 2 and sum(w["jobs_done"] for w in doc["workers"]) == 3
    jobs = _jobs(ws)
    for j in jobs.values():
        assert j["state"] == "ready" and j["attempts"] == 1 and j["platform"] == "tiktok"
        assert Path(j["output_path"]).stat().st_size == j["output_size_bytes"] and j["batch_id"] == doc["batch_id"]
    with ws.catalog.read() as con:
        assert catalogs.get_media(con, ws.ids["music"])["usage_count"] == 3
        stages = {r["stage"] for r in catalogs.job_log(con, min(jobs))}
    assert {"plan", "claim", "decode", "encode", "mux", "render"} <= stages
    # a worker reuses its template frames: 3 jobs over 2 templates on 2 workers -> at least one hit
    assert sum(w["cache"]["hits"] for w in doc["workers"]) >= 1
    assert [n for n, _ in events][:2] == ["planned", "workers"] or "workers" in [n for n, _ in events]
    # the custom metrics reach Ray's Prometheus endpoint
    url = f"http://127.0.0.1:{local_ray['metrics_port']}/metrics"
    deadline = time.monotonic() + 60
    seen: set[str] = set()
    wanted = {"ray_farm_frames_rendered", "ray_farm_job_stage_seconds", "ray_farm_jobs", "ray_farm_queue_depth"}
    while time.monotonic() < deadline and not wanted <= seen:
        try:
            text = httpx.get(url, timeout=5).text
            seen = {name for name in wanted if any(line.startswith(name) for line in text.splitlines())}
        except httpx.HTTPError:
            pass
        time.sleep(1)
    assert wanted <= seen, f"metrics missing: {wanted - seen}"
    frames = [line for line in text.splitlines() if line.startswith("ray_farm_frames_rendered")]
    assert any('backend="cpu"' in line and "node=" in line for line in frames)


def test_killed_worker_costs_one_attempt(ws, local_ray):
    killed: dict = {}

    def on_event(name, data):
        if name == "submit" and not killed:  # the first job starts at once on a warm worker
            killed.update(data)
            threading.Timer(0.2, os.kill, (data["pid"], signal.SIGKILL)).start()

    summary = run_nightly(ws, worker_class=RenderWorker, count=3, seed=9, on_event=on_event)
    doc = summary.as_dict()
    jobs = _jobs(ws)
    assert sorted(doc["rendered"]) == sorted(jobs) and doc["failed"] == []
    assert len(doc["retried"]) == 1  # exactly one attempt lost
    lost_id = doc["retried"][0]["id"]
    assert str(killed["pid"]) in doc["retried"][0]["error"]
    job = jobs[lost_id]
    assert job["state"] == "ready" and job["attempts"] == 2
    # a job queued behind the killed one on the same worker was requeued without a charge
    assert all(j["attempts"] == 1 for i, j in jobs.items() if i != lost_id)
    for j in jobs.values():
        assert Path(j["output_path"]).stat().st_size == j["output_size_bytes"]
    assert not list(ws.out_dir.glob(".*.part"))
    with ws.catalog.read() as con:
        log = catalogs.job_log(con, lost_id)
    lost = [r for r in log if r["stage"] == "render" and r["status"] == "retry"]
    assert len(lost) == 1 and "WorkerLost" in lost[0]["detail"]


def test_bad_input_job_fails_alone(ws, local_ray, tmp_path):
    bad = flat_clip(tmp_path / "soon-bad.mp4", (50, 60, 70), seconds=1.0)
    bad_id = import_media(ws, [str(bad)], ImportOptions(kind="source", license="owned")).added[0]["id"]
    with ws.catalog.write() as con:  # make it the first pick
        con.execute("UPDATE media SET usage_count = 5 WHERE kind = 'source' AND id <> ?", [bad_id])
    row_path = next(m["path"] for m in _jobs_media(ws) if m["id"] == bad_id)
    Path(row_path).write_bytes(b"\x00" * 4096)  # broken after import
    summary = run_nightly(ws, worker_class=RenderWorker, count=4, seed=2).as_dict()
    jobs = _jobs(ws)
    uses_bad = {i for i, j in jobs.items() if j["spec"]["mains"] == [row_path]}
    assert uses_bad and {f["id"] for f in summary["failed"]} == uses_bad
    assert set(summary["rendered"]) == set(jobs) - uses_bad and summary["retried"] == []
    for i in uses_bad:
        failed = jobs[i]
        assert failed["state"] == "failed" and failed["attempts"] == 1 and failed["error_class"] == "InputError"
        assert "soon-bad.mp4" in failed["error_message"] and failed["output_path"] is None


def _jobs_media(ws):
    with ws.catalog.read() as con:
        return catalogs.list_media(con)


def test_second_copy_is_refused_while_one_runs(ws, local_ray):
    lock = render_lock(ws).acquire()
    try:
        with pytest.raises(BusyError, match="another farm render"):
            run_nightly(ws, worker_class=RenderWorker, count=1)
        r = run_farm("nightly", "--count", "1", "--workspace", str(ws.root))
        assert r.returncode == 75 and r.stderr.count("\n") == 1 and f"PID {os.getpid()}" in r.stderr
    finally:
        lock.release()
    assert _jobs(ws) == {}  # nothing planned by the refused runs


def test_killed_driver_is_resumed_without_rerendering(ws, local_ray):
    proc = subprocess.Popen(
        [sys.executable, "-m", "farm", "nightly", "--count", "4", "--workers", "1", "--seed", "4", "-q",
         "--address", local_ray["address"], "--workspace", str(ws.root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            states = [j["state"] for j in _jobs(ws).values()]
            if states.count("ready") >= 1:
                break
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    before = _jobs(ws)
    assert len(before) == 4
    done_before = {i: j for i, j in before.items() if j["state"] == "ready"}
    assert done_before and len(done_before) < 4
    summary = run_nightly(ws, worker_class=RenderWorker, count=4, seed=4).as_dict()
    assert summary["resumed"] is True and summary["planned"] == 0
    after = _jobs(ws)
    assert len(after) == 4 and {j["state"] for j in after.values()} == {"ready"}
    assert set(summary["rendered"]) == set(before) - set(done_before)
    for i, j in done_before.items():  # finished jobs were not rendered again
        assert after[i]["attempts"] == 1 and after[i]["finished_at"] == j["finished_at"]


def test_unreachable_cluster_address_fails_fast(ws):
    port = _free_port()  # nobody listens there
    t = time.monotonic()
    r = run_farm("nightly", "--count", "1", "--address", f"127.0.0.1:{port}", "--workspace", str(ws.root), timeout=120)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "cannot connect" in r.stderr
    assert time.monotonic() - t < 60


def test_a_hung_render_is_cut_off_and_counted(ws, local_ray):
    from farm.workspace import Workspace

    (ws.root / "farm.toml").write_text("[queue]\njob_timeout_s = 0.2\nmax_attempts = 2\n")
    fresh = Workspace(ws.root)
    events = []
    summary = run_nightly(fresh, worker_class=RenderWorker, count=1, workers=1,
                          on_event=lambda n, d: events.append(n)).as_dict()
    assert events.count("timeout") == 2
    assert summary["rendered"] == [] and len(summary["failed"]) == 1
    job = next(iter(_jobs(fresh).values()))
    assert job["state"] == "failed" and job["attempts"] == 2 and job["error_class"] == "WorkerLost"
    assert not list(fresh.out_dir.glob(".*.part"))


def test_nightly_plans_promos_least_promoted_first(tmp_path, ws, local_ray):
    from PIL import Image

    from farm.library import import_products
    from farm.workspace import Workspace

    (ws.root / "farm.toml").write_text('[render]\nfps = 10\npreset = "ultrafast"\n', encoding="utf-8")
    ws = Workspace(ws.root)  # with the settings just written
    for k in range(2):
        Image.new("RGB", (400, 700), (60 * k, 120, 200)).save(tmp_path / f"p{k}.png")
        (tmp_path / f"p{k}.yaml").write_text(
            f"name: Sản phẩm {k}\nprice: {99000 + k}\ncurrency: VND\nimages: [p{k}.png]\nplatforms: [tiktok]\n",
            encoding="utf-8")
        assert import_products(ws, [str(tmp_path / f"p{k}.yaml")], license="owned").ok
    summary = run_nightly(ws, worker_class=RenderWorker, count=1, promos=3, platforms=["tiktok"], seed=2)
    doc = summary.as_dict()
    assert doc["planned"] == 4 and doc["failed"] == [] and len(doc["rendered"]) == 4
    jobs = _jobs(ws)
    promos = [j for j in jobs.values() if j["kind"] == "promo"]
    assert len(promos) == 3 and all(j["state"] == "ready" and Path(j["output_path"]).exists() for j in promos)
    with ws.catalog.read() as con:
        counts = sorted(p["times_promoted"] for p in catalogs.list_products(con))
        full = catalogs.get_job(con, promos[0]["id"])
    assert counts == [1, 2]  # least promoted first: both products, then the first again
    assert full["text_source"] == "fallback" and "tiktok" in full["post_metadata"]
