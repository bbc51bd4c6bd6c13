"""`farm serve` end to end in headless Chromium (Debian's package, driven by Playwright): media imported
through the Library page's upload form, a mashup queued through the API, the queue rendered from the
Queue page's button with its progress arriving in the SSE live region, the job's video played on its
page, and an account connected through the (fake) platform's sign-in coming back to the server; no
console error and no page error on the way."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import flat_clip

from farm.workspace import init_workspace

WAIT_MS = 60_000
"""Playwright's auto-wait for each step (a render on a busy 2-core machine may take a while)."""


def _chromium() -> str | None:
    found = shutil.which("chromium") or "/usr/bin/chromium"
    return found if Path(found).exists() else None


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("no Playwright for Python (the test extra's `playwright` package): pip install -e .[test]")
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium binary (`chromium` on PATH or /usr/bin/chromium): install Debian's chromium "
                    "package (.ci/run does) to run the web dashboard's end-to-end test")
    return sync_playwright, chromium


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _first_line(proc: subprocess.Popen, timeout_s: float) -> str:
    """The server's first stdout line (its URL), or a failure naming what it printed instead."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if line:
                return line.strip()
        if proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"farm serve printed no URL (exit {proc.poll()}): {proc.stderr.read()[-2000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server: Ctrl-C as a user would, then a kill if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def _serving(tmp_path: Path, env_extra: dict[str, str] | None = None):
    """`farm serve` on a free loopback port over a fresh workspace with AI text off; yields (url, ws root)."""
    ws, _ = init_workspace(tmp_path / "ws")
    (ws.root / "farm.toml").write_text("[ai]\nenabled = false\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("FARM_SECRET_KEYS", "FARM_HOME")} | (env_extra or {})
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "farm", "serve", "--port", str(port), "--workspace", str(ws.root),
                             "--lang", "en"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL)
    try:
        line = _first_line(proc, 60)
        match = re.search(r"https?://\S+", line)
        assert match, f"farm serve's first line has no URL: {line!r}"
        yield match.group(0).rstrip("/") + "/", ws.root
    finally:
        _stop(proc)


@pytest.fixture
def server(tmp_path):
    with _serving(tmp_path) as served:
        yield served


@pytest.fixture
def browser_page():
    """A headless Chromium page whose console errors and page errors are collected in ``page.problems``."""
    sync_playwright, chromium = _playwright()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"])
        try:
            context = browser.new_context()
            context.set_default_timeout(WAIT_MS)
            page = context.new_page()
            problems: list[str] = []
            page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text} ({msg.location})")
                    if msg.type == "error" else None)
            page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
            page.problems = problems
            yield page
        finally:
            browser.close()


def _upload(page, base: str, clip: Path, kind: str) -> int:
    """Import ``clip`` through the Library page's form; returns the new media id the page names."""
    from playwright.sync_api import expect

    page.goto(base + "library")
    form = page.locator('form[action="/library/import"]')
    page.locator("details summary", has_text="Import").click()
    form.locator('input[name="file"]').set_input_files(str(clip))
    form.locator('select[name="kind"]').select_option(kind)
    form.locator('select[name="license"]').select_option("owned")
    form.locator("button").click()
    expect(page.locator("h1")).to_have_text("Imported")
    said = page.locator("main p").first.inner_text()
    match = re.fullmatch(r"media (\d+)", said.strip())
    assert match, said
    return int(match.group(1))


def test_import_queue_render_and_play_in_chromium(server, browser_page, tmp_path):
    from playwright.sync_api import expect

    base, _ = server
    page = browser_page
    source = _upload(page, base, flat_clip(tmp_path / "beach.mp4", (200, 120, 40), seconds=1.0), "source")
    template = _upload(page, base, flat_clip(tmp_path / "frame.mp4", (40, 60, 200), seconds=1.0), "template")
    page.goto(base + "library?kind=source")
    expect(page.locator("main")).to_contain_text("beach.mp4")

    # no page queues a mashup: the API does (no token on loopback; the page's session cookie, if any, rides along)
    resp = page.request.post(base + "api/v1/jobs", data={"kind": "mashup", "main": source, "template": template})
    assert resp.status == 201, resp.text()
    job_id = resp.json()["id"]
    assert resp.json()["state"] == "pending"

    page.goto(base + "queue")
    live = page.locator("#live")
    expect(live.locator(".tiles")).to_contain_text("pending")  # the SSE stream is connected and swapping
    with page.expect_response(lambda r: r.url.endswith("/api/v1/queue/render")) as started:
        page.locator("#render-queue").click()
    assert started.value.status == 202, started.value.text()
    ready = live.locator(".tiles div", has_text=re.compile(r"^\s*1\s*ready\s*$"))
    expect(ready).to_be_visible(timeout=2 * WAIT_MS)  # arrives through /events, no reload
    expect(live.locator(".tiles div", has_text="pending")).to_have_count(0)

    run = page.request.get(base + "api/v1/queue/render").json()
    assert run["result"] is not None and run["result"]["rendered"] == [job_id], json.dumps(run)[:2000]

    page.reload()
    page.locator(f'a[href="/jobs/{job_id}"]').click()
    expect(page.locator("h1")).to_contain_text("ready")
    video = page.locator("video")
    expect(video).to_have_attribute("src", f"/api/v1/jobs/{job_id}/video")
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("v => v.readyState >= 2 && !v.error", arg=video.element_handle())
    assert video.evaluate("v => v.duration") > 0.5

    assert page.problems == [], "\n".join(page.problems)


def test_connect_an_account_through_the_fake_oauth_server(tmp_path, browser_page):
    """The Accounts page's connect form for YouTube: the browser goes to the (fake) Google sign-in, which
    consents at once and sends it back to the server's /oauth/callback; the account is stored and listed,
    never its token; no console or page error."""
    from fake_platforms import FakeYouTube

    page = browser_page
    with FakeYouTube() as yt, _serving(tmp_path, yt.settings_env()) as (base, root):
        page.goto(base + "accounts")
        form = page.locator('form[action="/accounts/connect"]:has(input[name="platform"][value="youtube"])')
        form.locator('input[name="name"]').fill("kenh_vn")
        form.locator("button").click()
        page.wait_for_url(re.compile(r"/accounts\?connected="))
        from playwright.sync_api import expect

        expect(page.locator(".notice")).to_contain_text("youtube:kenh_vn")
        accounts = page.request.get(base + "api/v1/accounts").json()
        assert [(a["platform"], a["name"]) for a in accounts] == [("youtube", "kenh_vn")]
        listed = json.dumps(accounts) + page.content()
        assert not any(t in listed for t in yt._seen_tokens)  # no token is ever shown or returned
    assert page.problems == [], "\n".join(page.problems)
