"""`farm report`: a self-contained HTML page whose every chart draws in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import run_farm

DAYS = 14
# Data lies on days 0-12 back (inside a 14-day window) and 16-20 back (outside it); nothing
# on days 13-15, so a test that crosses midnight UTC counts the same.
INSIDE = range(0, 13)
OUTSIDE = range(16, 21)
VIET = "Cửa hàng Hoa Mai"
VIET_PAGE = "Trang Đồ Gốm Bát Tràng"
CHART_COUNT = 8


def _chromium() -> str | None:
    found = shutil.which("chromium") or "/usr/bin/chromium"
    return found if Path(found).exists() else None


def _noon(days_back: int) -> datetime:
    today = datetime.now(timezone.utc).date()
    return datetime.combine(today - timedelta(days=days_back), datetime.min.time()) + timedelta(hours=12)


@dataclass
class Expected:
    """What the report must say, counted here from the rows as they were made."""

    rendered: int = 0
    failed: int = 0
    published: int = 0
    inbox: int = 0
    upload_failures: int = 0
    views: int = 0
    ai_tokens: int = 0
    open_alerts: int = 0
    attention: set = field(default_factory=set)


def _fill(ws) -> Expected:
    """Three weeks of a small farm: jobs in every state, uploads to three accounts (two with
    Vietnamese names), health measurements, AI text and Parquet statistics snapshots."""
    from catalogs import append_metrics

    exp = Expected()
    accounts = [(1, "tiktok", VIET), (2, "youtube", "reelfarm-yt"), (3, "facebook", VIET_PAGE)]
    jobs, uploads, health = [], [], []
    job_id = 0
    for back in (*INSIDE, *OUTSIDE):
        inside = back in INSIDE
        at = _noon(back)
        for n in range(3):  # three rendered videos a night: two published, one ready
            job_id += 1
            kind = "promo" if n == 0 else "mashup"
            source, tokens = (("ai", 700 + back) if back % 3 else ("fallback", 0)) if kind == "promo" else (None, 0)
            state = "ready" if n == 2 else "published"
            jobs.append(dict(id=job_id, kind=kind, state=state, created_at=at - timedelta(hours=2),
                             finished_at=at, frames=300, render_fps=60.0 + back + n, text_source=source,
                             ai_tokens=tokens, error_class=None, error_message=None))
            exp.rendered += inside
            exp.ai_tokens += tokens if inside else 0
            if state == "published":
                account_id, platform, _ = accounts[(job_id + back) % 3]
                up_state = "inbox" if platform == "tiktok" and back == 5 else "published"
                uploads.append(dict(job_id=job_id, account_id=account_id, platform=platform, state=up_state,
                                    created_at=at, published_at=at + timedelta(hours=1), error_class=None,
                                    error_message=None))
                exp.published += inside and up_state == "published"
                exp.inbox += inside and up_state == "inbox"
        if back % 2 == 0:  # a failed render every other night, with the job's id in its message
            job_id += 1
            jobs.append(dict(id=job_id, kind="mashup", state="failed", created_at=at - timedelta(hours=2),
                             finished_at=at, frames=None, render_fps=None, text_source=None, ai_tokens=0,
                             error_class="RenderError", error_message=f"job {job_id}: encoder exited with status 1"))
            exp.failed += inside
        if back % 4 == 1:  # that night's ready job (odd nights have no failed one): its upload refused
            uploads.append(dict(job_id=job_id, account_id=2, platform="youtube",
                                state="failed", created_at=at, published_at=None, error_class="QuotaError",
                                error_message="youtube: quota exhausted for today"))
            exp.upload_failures += inside
        for account_id, base in ((1, 70.0), (2, 95.0), (3, 90.0)):
            health.append((account_id, at, base - (12 - back if account_id == 1 and inside else 0)))
    for i in range(4):  # waiting to render now
        job_id += 1
        jobs.append(dict(id=job_id, kind="mashup", state="pending", created_at=_noon(0), finished_at=None, frames=None,
                         render_fps=None, text_source=None, ai_tokens=0, error_class=None, error_message=None))
    exp.attention = {VIET, VIET_PAGE}  # health 58 < 80; needs reconnect

    with ws.catalog.write() as con:
        for account_id, platform, name in accounts:
            con.execute("INSERT INTO accounts (id, platform, username, created_at, needs_reconnect, reconnect_reason) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        [account_id, platform, name, _noon(30), account_id == 3,
                         "token revoked" if account_id == 3 else None])
        for j in jobs:
            con.execute(
                "INSERT INTO jobs (id, kind, spec, state, created_at, started_at, finished_at, updated_at, frames, "
                "render_fps, text_source, ai_tokens, error_class, error_message) "
                "VALUES (?, ?, '{}', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [j["id"], j["kind"], j["state"], j["created_at"], j["finished_at"], j["finished_at"],
                 j["finished_at"] or j["created_at"], j["frames"], j["render_fps"], j["text_source"], j["ai_tokens"],
                 j["error_class"], j["error_message"]])
        for u in uploads:
            con.execute("INSERT INTO uploads (job_id, account_id, platform, state, created_at, updated_at, "
                        "published_at, error_class, error_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [u["job_id"], u["account_id"], u["platform"], u["state"], u["created_at"], u["created_at"],
                         u["published_at"], u["error_class"], u["error_message"]])
        con.executemany("INSERT INTO account_health VALUES (?, ?, ?, '{}')", health)
        con.execute("INSERT INTO alerts (kind, key, severity, account_id, message, raised_at) VALUES "
                    "('health', 'health:1', 'warning', 1, 'health 58 < 80', ?)", [_noon(0)])
        con.execute("INSERT INTO alerts (kind, key, severity, message, raised_at, cleared_at) VALUES "
                    "('batch', 'batch:x', 'warning', 'failed jobs', ?, ?)", [_noon(3), _noon(2)])
    exp.open_alerts = 1

    # Statistics: each published post measured on the day it went up and the two after, its
    # views growing; one private TikTok post has none. Most first snapshots are in the older
    # layout, without job, platform and account columns (read through union_by_name).
    latest: dict[str, int] = {}
    by_day: dict[int, list[dict]] = {}
    for u in uploads:
        if u["state"] != "published":
            continue
        back = (datetime.now(timezone.utc).date() - u["created_at"].date()).days
        key = f"{u['platform']}:{u['job_id']}"
        for step in range(3):
            day = back - step
            if day < 0:
                break
            views = 100 * u["account_id"] + 40 * step + u["job_id"]
            row = dict(upload=key, at=_noon(day) + timedelta(hours=6), views=views, likes=views // 10,
                       comments=views // 50, shares=None if u["platform"] == "youtube" else views // 100)
            row["engagement_rate"] = (row["likes"] + row["comments"] + (row["shares"] or 0)) / views
            if step or back < 2:  # else a post's first snapshot is in the older layout
                row.update(job_id=u["job_id"], platform=u["platform"], account_id=u["account_id"],
                           remote_id=f"r{u['job_id']}", available=True, note=None)
            by_day.setdefault(day, []).append(row)
            if day in INSIDE:
                latest[key] = views
    private = dict(upload="tiktok:private", at=_noon(1), views=None, likes=None, comments=None, shares=None,
                   engagement_rate=None, job_id=1, platform="tiktok", account_id=1, remote_id="p1", available=False,
                   note="private post: no statistics")
    by_day.setdefault(1, []).append(private)
    for day, rows in by_day.items():
        new = [r for r in rows if "account_id" in r]
        old = [r for r in rows if "account_id" not in r]
        for part in (new, old):
            append_metrics(ws.metrics_dir, "metrics", part, at=_noon(day))
    exp.views = sum(latest.values())
    return exp


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    from farm.workspace import init_workspace

    root = tmp_path_factory.mktemp("report")
    ws, _ = init_workspace(root / "ws")
    return ws, _fill(ws)


def _report(ws, out: Path, *extra: str) -> dict:
    res = run_farm("--workspace", str(ws.root), "report", "-o", str(out), "--json", *extra, cwd=out.parent)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _summary_values(page: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-key="(\w+)" data-value="(-?\d+)"', page)}


def _assert_self_contained(page: str) -> None:
    """Nothing loads from elsewhere: no script src, no stylesheet link; plotly.js inline, once."""
    from plotly.offline import get_plotlyjs

    plotly_js = get_plotlyjs()
    assert page.count(plotly_js) == 1, "plotly.js inline, exactly once"
    ours = page.replace(plotly_js, "")  # plotly.js itself mentions plotly.com in its modebar's link
    assert '<meta charset="utf-8">' in ours
    assert not re.search(r"<script[^>]*\ssrc\s*=", ours, re.I), "a script loaded from elsewhere"
    assert not re.search(r"<link\b", ours, re.I), "a linked stylesheet or icon"
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", ours, re.I), "a network address"
    assert "Plotly.newPlot" in ours


def _browser_dom(page: Path, tmp_path: Path) -> str:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium binary (`chromium` on PATH or /usr/bin/chromium): install Debian's chromium "
                    "package (.ci/run does) to check that the report's charts draw")
    profile = tmp_path / "chromium-profile"
    res = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def _assert_all_drawn(dom: str, chart_ids: list[str]) -> dict[str, str]:
    """Every chart's div holds a Plotly SVG, and the page counted them all as drawn."""
    body = re.search(r"<body([^>]*)>", dom).group(1)
    assert f'data-charts-drawn="{len(chart_ids)}"' in body, body
    assert 'data-charts-failed="0"' in body and 'data-charts-done="true"' in body, body
    assert re.search(rf"<title>[^<]*\[{len(chart_ids)}/{len(chart_ids)} charts drawn\]</title>", dom)
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'<div[^>]*\bid="chart-(\w+)"', dom)]
    assert [cid for _, cid in starts] == chart_ids
    ends = [s for s, _ in starts[1:]] + [dom.index('id="report-figures"')]
    parts = {cid: dom[s:e] for (s, cid), e in zip(starts, ends)}
    for cid, part in parts.items():
        assert "main-svg" in part, f"chart {cid} did not draw"
        assert 'data-drawn="true"' in part[:400], cid
    return parts


def test_report_draws_every_chart_with_the_catalogs_numbers(filled, tmp_path):
    ws, exp = filled
    out = tmp_path / "report.html"
    doc = _report(ws, out, "--days", str(DAYS))
    assert doc["path"] == str(out.resolve())
    assert len(doc["charts"]) == CHART_COUNT and doc["empty_charts"] == []
    page = out.read_text(encoding="utf-8")
    _assert_self_contained(page)
    assert not list(tmp_path.glob(".report.html*")), "temp file left behind"

    expected = {"rendered": exp.rendered, "published": exp.published, "inbox": exp.inbox, "failed": exp.failed,
                "upload_failures": exp.upload_failures, "views": exp.views, "ai_tokens": exp.ai_tokens,
                "open_alerts": exp.open_alerts, "attention": len(exp.attention)}
    assert _summary_values(page) == expected
    s = doc["summary"]
    assert {k: s[k] for k in expected if k != "attention"} == {k: v for k, v in expected.items() if k != "attention"}
    assert {a["username"] for a in s["attention"]} == exp.attention
    assert s["since"] == (date.fromisoformat(s["until"][:10]) - timedelta(days=DAYS - 1)).isoformat()
    assert VIET in page and VIET_PAGE in page  # raw UTF-8 in the summary, not mangled

    dom = _browser_dom(out, tmp_path)
    parts = _assert_all_drawn(dom, doc["charts"])
    assert "no data yet" not in dom
    # the browser decoded the page as UTF-8: Vietnamese account names in the drawn legends
    assert VIET in parts["uploads"] and VIET_PAGE in parts["views"] and VIET in parts["health"]
    assert "RenderError: job N: encoder exited" in parts["failures"]


def test_a_shorter_window_counts_less(filled, tmp_path):
    ws, exp = filled
    doc = _report(ws, tmp_path / "week.html", "--days", "3")
    s = doc["summary"]
    assert s["days"] == 3
    nights = (date.fromisoformat(s["until"][:10]) - _noon(0).date()).days + 3  # 3, or 2 past midnight UTC
    # three rendered a night, a failed render on even nights back
    assert s["rendered"] == 3 * nights < exp.rendered
    assert s["failed"] == sum(1 for back in range(nights) if back % 2 == 0)


def test_empty_workspace_still_draws_every_chart_saying_no_data(tmp_path):
    from farm.workspace import init_workspace

    ws, _ = init_workspace(tmp_path / "ws")
    here = tmp_path / "here"
    here.mkdir()
    res = run_farm("--workspace", str(ws.root), "report", cwd=here)  # default -o: report.html here
    assert res.returncode == 0, res.stderr
    out = here / "report.html"
    assert str(out) in res.stdout and "no data yet" in res.stdout
    page = out.read_text(encoding="utf-8")
    _assert_self_contained(page)
    assert all(v == 0 for v in _summary_values(page).values())
    assert page.count('data-empty=true') == CHART_COUNT

    dom = _browser_dom(out, tmp_path)
    parts = _assert_all_drawn(dom, [m for m in re.findall(r'id="chart-(\w+)"', page)])
    for cid, part in parts.items():
        assert "no data yet" in part, f"chart {cid} has no 'no data yet' annotation"


@pytest.mark.parametrize("bad", ["0", "abc", "1.5", "367", ""])
def test_days_must_be_a_whole_number_in_range(tmp_path, bad):
    res = run_farm("report", "--days", bad, "-o", str(tmp_path / "r.html"), cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("farm: error: --days must be a whole number"), res.stderr
    assert repr(bad) in lines[0]
    assert not (tmp_path / "r.html").exists()


def test_unwritable_output_is_one_line(filled, tmp_path):
    ws, _ = filled
    res = run_farm("--workspace", str(ws.root), "report", "-o", str(tmp_path / "missing" / "r.html"), cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "does not exist" in res.stderr


def test_report_replaces_an_old_file_atomically(filled, tmp_path):
    ws, _ = filled
    out = tmp_path / "report.html"
    out.write_text("old")
    _report(ws, out, "--days", "2")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
