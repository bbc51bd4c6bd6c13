"""Readers during a running render, and `kill -9` in the middle of `farm queue render`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import catalogs
from conftest import RED, BLUE, flat_clip, run_farm
from farm.library import ImportOptions, import_media
from farm.jobs import enqueue_mashup
from farm.workspace import init_workspace


@pytest.fixture
def queued(tmp_path):
    """A workspace with three pending 2-second jobs (long enough to catch one mid-render)."""
    ws, _ = init_workspace(tmp_path / "ws")
    main = flat_clip(tmp_path / "main.mp4", RED, seconds=2.0)
    tpl = flat_clip(tmp_path / "tpl.mp4", BLUE, seconds=0.5, width=180, height=320)
    rep = import_media(ws, [str(main)], ImportOptions(kind="source", license="owned"))
    m = rep.added[0]["id"]
    t = import_media(ws, [str(tpl)], ImportOptions(kind="template", license="owned")).added[0]["id"]
    jobs = [enqueue_mashup(ws, mains=[m], template=t, caption=f"job {i}")["id"] for i in range(3)]
    return ws, jobs


def _start_render(ws) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "farm", "queue", "render", "-q", "--workspace", str(ws.root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _jobs(ws) -> dict[int, dict]:
    r = run_farm("queue", "list", "--json", "--workspace", str(ws.root))
    assert r.returncode == 0, r.stderr
    return {j["id"]: j for j in json.loads(r.stdout)}


def _wait_for(pred, proc, *, timeout_s=120.0, what=""):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        assert proc.poll() is None, f"render exited early waiting for {what}: {proc.stderr.read()}"
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_read_only_commands_work_while_a_render_runs(queued):
    ws, jobs = queued
    proc = _start_render(ws)
    seen_states = set()
    try:
        _wait_for(lambda: any(j["state"] == "rendering" for j in _jobs(ws).values()), proc, what="a rendering job")
        while proc.poll() is None:
            states = {j["state"] for j in _jobs(ws).values()}
            seen_states |= states
            for args in (("queue", "stats", "--json"), ("media", "list", "--json"), ("logs", str(jobs[0]), "--json"),
                         ("sql", "SELECT count(*) AS n FROM jobs", "--json")):
                r = run_farm(*args, "--workspace", str(ws.root))
                assert r.returncode == 0, (args, r.stderr)
    finally:
        proc.wait(timeout=300)
    assert proc.returncode == 0, proc.stderr.read()
    assert "rendering" in seen_states
    assert {j["state"] for j in _jobs(ws).values()} == {"ready"}


def test_second_renderer_is_refused_plainly(queued):
    ws, _ = queued
    proc = _start_render(ws)
    try:
        _wait_for(lambda: any(j["state"] == "rendering" for j in _jobs(ws).values()), proc, what="a rendering job")
        r = run_farm("queue", "render", "--workspace", str(ws.root))
        assert r.returncode == 75 and r.stderr.count("\n") == 1
        assert f"another farm render (queue render or nightly) is running on this workspace (PID {proc.pid}" in r.stderr
    finally:
        proc.wait(timeout=300)


def test_kill_9_mid_render_leaves_a_consistent_catalog_and_the_next_run_recovers(queued):
    ws, jobs = queued
    proc = _start_render(ws)
    try:
        _wait_for(
            lambda: (lambda js: js[jobs[0]]["state"] == "ready" and js[jobs[1]]["state"] == "rendering")(_jobs(ws)),
            proc, what="job 1 ready and job 2 rendering",
        )
        time.sleep(0.3)  # well into job 2's frames
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    # the catalog opens (read-only too) and says what happened; nothing is recorded that is not on disk
    js = _jobs(ws)
    assert js[jobs[0]]["state"] == "ready"
    assert Path(js[jobs[0]]["output_path"]).stat().st_size == js[jobs[0]]["output_size_bytes"]
    assert js[jobs[1]]["state"] == "rendering" and js[jobs[1]]["output_path"] is None
    assert js[jobs[2]]["state"] == "pending"
    assert not (ws.out_dir / f"job-{jobs[1]:06d}.mp4").exists()  # no half-written file under a final name

    r = run_farm("queue", "render", "--json", "--workspace", str(ws.root))
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["recovered"]["rendering"] == 1
    assert summary["rendered"] == [jobs[1], jobs[2]]
    js = _jobs(ws)
    assert {j["state"] for j in js.values()} == {"ready"}
    assert js[jobs[1]]["attempts"] == 2 and js[jobs[0]]["attempts"] == 1
    for j in js.values():
        assert Path(j["output_path"]).stat().st_size == j["output_size_bytes"]
    assert not list(ws.out_dir.glob(".*.part"))
    with ws.catalog.read() as con:
        recover_rows = [r for r in catalogs.job_log(con, jobs[1]) if r["stage"] == "recover"]
    assert len(recover_rows) == 1 and "process gone" in recover_rows[0]["detail"]


def test_missing_output_of_a_ready_job_is_rendered_again(queued):
    ws, jobs = queued
    assert run_farm("queue", "render", "--limit", "1", "-q", "--workspace", str(ws.root)).returncode == 0
    out = Path(_jobs(ws)[jobs[0]]["output_path"])
    out.unlink()
    r = run_farm("queue", "render", "--limit", "1", "--json", "--workspace", str(ws.root))
    summary = json.loads(r.stdout)
    assert summary["recovered"]["missing_output"] == 1 and summary["rendered"] == [jobs[0]]
    assert out.exists()


def test_a_long_reader_delays_recording_but_fails_nothing(queued):
    ws, jobs = queued
    # an interactive command waits 2 s here (queue.lock_wait_s; 10 s by default), so a short hold proves it
    (ws.root / "farm.toml").write_text("[queue]\nlock_wait_s = 2.0\n", encoding="utf-8")
    proc = _start_render(ws)
    try:
        _wait_for(lambda: any(j["state"] == "rendering" for j in _jobs(ws).values()), proc, what="a rendering job")
        # a reader that holds the file longer than an interactive command would wait
        holder = subprocess.run(
            [sys.executable, "-c", f"import duckdb,time;c=duckdb.connect({str(ws.catalog.path)!r}, read_only=True);"
             "time.sleep(4)"], timeout=60,
        )
        assert holder.returncode == 0
    finally:
        proc.wait(timeout=300)
    assert proc.returncode == 0, proc.stderr.read()
    js = _jobs(ws)
    assert {j["state"] for j in js.values()} == {"ready"} and {j["attempts"] for j in js.values()} == {1}
