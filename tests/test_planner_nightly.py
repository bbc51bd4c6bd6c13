"""The learning planner inside `farm nightly`: rewards read from the catalog and the metric history,
an account per job within its cap, learned template, mood and hour, the share of originals kept, and
`farm plan explain` / `farm recommend`."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timedelta, timezone

import pytest

import catalogs
from farm.cli import main as farm_main
from farm.jobs import enqueue_plans, plan_batch
from farm.publish import add_account
from farm.revenue import read_posts, views_at
from farm.settings import PlannerSettings
from farm.workspace import Workspace
from publishing import token_file, workspace

NOW = datetime(2026, 12, 7, 18, 0)  # naive UTC; the workspace's publish time zone is UTC


def test_views_at_24_hours_are_interpolated_and_wait_for_a_snapshot():
    t0 = datetime(2026, 12, 1, 10, 0)
    snaps = [(t0 + timedelta(hours=20), 100), (t0 + timedelta(hours=30), 400)]
    assert views_at(snaps, t0) == pytest.approx(100 + 4 / 10 * 300)  # a straight line from 20 h to 30 h
    assert views_at(snaps[:1], t0) is None  # nothing after 24 h yet: the reward arrives later
    assert views_at([(t0 + timedelta(hours=50), 900)], t0) == 900  # the first snapshot after, within 72 h
    assert views_at([(t0 + timedelta(hours=100), 900)], t0) is None  # too late to stand for day one


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.delenv("FARM_SECRET_KEYS", raising=False)
    w = workspace(tmp_path / "ws")
    (w.root / "farm.toml").write_text('[ai]\nenabled = false\n[publish]\ntimezone = "UTC"\n'
                                      "[planner]\nexplore = 0.0\nmin_evidence = 5\n", encoding="utf-8")
    return Workspace(w.root)


def _media(con, kind: str, name: str, *, licence: str = "owned", mood: str | None = None) -> int:
    return catalogs.insert_media(con, {"kind": kind, "path": f"/lib/{name}", "sha256": name, "size_bytes": 1,
                                       "duration_s": 4.0, "width": 1080, "height": 1920, "fps": 30.0,
                                       "has_audio": kind == "audio", "license": licence, "mood": mood})


def _library(ws) -> dict[str, int]:
    with ws.catalog.write() as con:
        ids = {f"s{i}": _media(con, "source", f"s{i}.mp4") for i in range(6)}
        ids |= {f"l{i}": _media(con, "source", f"l{i}.mp4", licence="licensed") for i in range(3)}
        ids |= {f"t{i}": _media(con, "template", f"t{i}.mp4") for i in range(3)}
        ids |= {m: _media(con, "audio", f"{m}.m4a", licence="cc0", mood=m) for m in ("upbeat", "calm")}
    return ids


def _history(ws, account: dict, ids: dict, *, good: str, bad: str, days: int = 12) -> None:
    """Two posts a day on ``account`` for ``days`` days: the ``good`` template at 19:00 gets 20x the views
    of the ``bad`` one at 03:00; snapshots 30 hours after each post."""
    rows = []
    with ws.catalog.write() as con:
        for d in range(days):
            for tpl, hour, views in ((good, 19, 2000), (bad, 3, 100)):
                at = NOW - timedelta(days=days - d + 1) + timedelta(hours=hour - NOW.hour)
                job = catalogs.insert_job(con, kind="mashup", spec={}, platform=account["platform"],
                                          inputs=[(ids["s0"], "main", 0), (ids[tpl], "template", 0),
                                                  (ids["upbeat"], "music", 0)])
                con.execute("UPDATE jobs SET state = 'published' WHERE id = ?", [job])
                catalogs.insert_upload(con, job_id=job, account_id=account["id"], platform=account["platform"],
                                       marker=f"m{job}", size_bytes=1, privacy="public")
                catalogs.update_upload(con, job, account["platform"], state="published", started_at=at,
                                       published_at=at)
                rows.append({"upload": f"{account['platform']}:{job}", "at": at + timedelta(hours=30),
                             "views": views, "likes": views // 10, "comments": 0, "shares": 0,
                             "engagement_rate": 0.1, "job_id": job, "platform": account["platform"],
                             "account_id": account["id"], "remote_id": f"r{job}", "available": True})
    catalogs.append_metrics(ws.metrics_dir, "metrics", rows, at=NOW - timedelta(days=1))


def _accounts(ws, tmp_path, **extra) -> tuple[dict, dict]:
    tok = token_file(tmp_path, "t", "token-value")
    seasoned = add_account(ws, "tiktok", username="seasoned", token_file=tok, daily_cap=3, min_gap_min=60,
                           window="auto", **extra)
    fresh = add_account(ws, "tiktok", username="fresh", token_file=tok, daily_cap=3, min_gap_min=60)
    with ws.catalog.write() as con:  # both began posting through the farm a month ago
        con.execute("UPDATE accounts SET created_at = ?", [NOW - timedelta(days=30)])
    return seasoned, fresh


def _plan(ws, count: int, *, seed: int = 3) -> tuple[list[dict], list[str]]:
    with ws.catalog.read() as con:
        return plan_batch(ws, con, count=count, platforms=["tiktok"], seed=seed, now=NOW)


def test_rewards_come_from_the_views_24_hours_after_posting(ws, tmp_path):
    ids = _library(ws)
    seasoned, _ = _accounts(ws, tmp_path)
    _history(ws, seasoned, ids, good="t1", bad="t2", days=3)
    with ws.catalog.read() as con:
        posts = read_posts(con, metrics_dir=ws.metrics_dir, now=NOW, tz=timezone.utc)
    assert len(posts) == 6
    good = [p for p in posts if p.arms["template"] == str(ids["t1"])]
    assert {p.arms["hour"] for p in good} == {"19"} and {p.arms["mood"] for p in good} == {"upbeat"}
    assert all(p.reward == pytest.approx(math.log1p(2000)) for p in good)  # the only snapshot, 30 h after


def test_the_nightly_gives_each_job_an_account_and_learned_choices(ws, tmp_path):
    ids = _library(ws)
    seasoned, fresh = _accounts(ws, tmp_path)
    _history(ws, seasoned, ids, good="t1", bad="t2")
    plans, notes = _plan(ws, 6)
    assert [p["account_id"] for p in plans] == [seasoned["id"], fresh["id"]] * 3  # round robin within caps
    mine = [p for p in plans if p["account_id"] == seasoned["id"]]
    assert {p["template"] for p in mine} == {ids["t1"]}, [p["plan_arm"] for p in mine]
    assert all(p["plan_arm"]["learned"] for p in mine)
    # 19:00 is the best hour known; hours never tried are still sampled from their (shrunk) prior
    assert "19" in [p["plan_arm"]["hour"]["arm"] for p in mine]
    for p in mine:
        local = datetime.strptime(p["plan_arm"]["hour"]["local_time"], "%Y-%m-%d %H:%M")
        assert local == p["publish_after"] and local > NOW  # UTC is the publish time zone here
    times = sorted(p["publish_after"] for p in mine)
    assert all(b - a >= timedelta(minutes=60) for a, b in zip(times, times[1:]))  # its minimum gap kept
    theirs = [p for p in plans if p["account_id"] == fresh["id"]]
    assert all(not p["plan_arm"]["learned"] and "random" in p["plan_arm"]["template"]["reason"] for p in theirs)
    assert any("tiktok:fresh: too little data (0 weighted post(s) with a known reward, needs 5)" in n for n in notes)
    ids_made = enqueue_plans(ws, plans, batch_id="nightly-test", seed=3)
    with ws.catalog.read() as con:
        job = catalogs.get_job(con, ids_made[0])
    assert job["account_id"] == seasoned["id"] and job["publish_after"] == plans[0]["publish_after"]


def test_caps_for_the_day_and_warm_up_bound_the_plan(ws, tmp_path):
    ids = _library(ws)
    _accounts(ws, tmp_path, warmup_days=14)  # the seasoned account warms up: 1 post on its first day
    with ws.catalog.write() as con:
        con.execute("UPDATE accounts SET warmup_from = ? WHERE username = 'seasoned'", [NOW - timedelta(hours=1)])
    plans, notes = _plan(ws, 6)
    per = [p.get("account") for p in plans]
    assert per.count("tiktok:seasoned") == 1 and per.count("tiktok:fresh") == 3 and per.count(None) == 2
    assert any("2 job(s) over the accounts' caps" in n for n in notes)
    assert ids  # the library was there


def test_an_account_at_its_share_of_originals_gets_only_its_own_footage(ws, tmp_path):
    ids = _library(ws)
    seasoned, fresh = _accounts(ws, tmp_path)
    with ws.catalog.write() as con:  # fresh's month: 7 originals and 3 reused sources, the 0.7 share
        for i in range(10):
            main = ids["s1"] if i < 7 else ids["l0"]
            job = catalogs.insert_job(con, kind="mashup", spec={}, platform="tiktok",
                                      inputs=[(main, "main", 0), (ids["t0"], "template", 0)])
            catalogs.insert_upload(con, job_id=job, account_id=fresh["id"], platform="tiktok", marker=f"x{job}",
                                   size_bytes=1, privacy="public")
            catalogs.update_upload(con, job, "tiktok", state="published", started_at=NOW - timedelta(days=2))
    ws = Workspace(ws.root, settings=dataclasses.replace(ws.settings, planner=PlannerSettings(explore=0.0)))
    plans, _ = _plan(ws, 6)
    licences = {ids[k]: k[0] for k in ids if k[0] in "sl" and k[1:].isdigit()}
    assert all(licences[p["main"]] == "s" for p in plans if p["account_id"] == fresh["id"])
    assert all(p["plan_arm"]["original"] for p in plans if p["account_id"] == fresh["id"])


def _cli(capsys, ws, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = farm_main(["--workspace", str(ws.root), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_explain_and_recommend(ws, tmp_path, capsys):
    ids = _library(ws)
    seasoned, fresh = _accounts(ws, tmp_path)
    _history(ws, seasoned, ids, good="t1", bad="t2")
    enqueue_plans(ws, _plan(ws, 2)[0], batch_id="nightly-x", seed=3)
    with ws.catalog.write() as con:
        catalogs.insert_health(con, fresh["id"], 42.0, {"note": "test"})
    code, out, _ = _cli(capsys, ws, "plan", "explain", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["reward"] == "views"
    acc = {a["account"]: a for a in doc["accounts"]}
    best = acc["tiktok:seasoned"]["arms"]["template"][0]
    assert best["arm"] == str(ids["t1"]) and best["label"] == "t1.mp4" and best["low"] < best["mean"] < best["high"]
    assert acc["tiktok:seasoned"]["learning"] and not acc["tiktok:fresh"]["learning"]
    assert [j["template"]["arm"] for j in acc["tiktok:seasoned"]["tonight"]] == [str(ids["t1"])]
    code, out, _ = _cli(capsys, ws, "plan", "explain", "--account", "seasoned")
    assert code == 0 and "tiktok:seasoned: learning from 18.63 weighted post(s)" in out and "t1.mp4" in out
    assert _cli(capsys, ws, "plan", "explain", "--account", "nobody")[0] == 2
    code, out, _ = _cli(capsys, ws, "recommend", "--json")
    doc = json.loads(out)
    arms = {a["account"]: a for a in doc["arms"]}
    assert arms["tiktok:seasoned"]["template"]["best"]["label"] == "t1.mp4"
    assert arms["tiktok:seasoned"]["template"]["worst"]["label"] == "t2.mp4"
    assert arms["tiktok:seasoned"]["hour"]["best"]["arm"] == "19"
    [rest] = doc["pause"]
    assert rest["account"] == "tiktok:fresh" and rest["command"] == "farm accounts pause tiktok:fresh --days 30"


def test_the_commission_reward_waits_for_settled_orders(ws, tmp_path):
    ids = _library(ws)
    seasoned, _ = _accounts(ws, tmp_path)
    _history(ws, seasoned, ids, good="t1", bad="t2", days=1)
    with ws.catalog.read() as con:
        sold, pending = [r["job_id"] for r in catalogs.posted_arms(con, since=NOW - timedelta(days=30))]
    with ws.catalog.write() as con:
        for order, job, status, money in (("o1", sold, "completed", 30000.0), ("o2", sold, "cancelled", 9e9),
                                          ("o3", pending, "pending", 5000.0)):
            con.execute("INSERT INTO commissions (network, order_id, item_id, model_id, status, net_commission, "
                        "job_id, platform, imported_at, updated_at) VALUES ('shopee', ?, 'i', 'm', ?, ?, ?, "
                        "'tiktok', ?, ?)", [order, status, money, job, NOW, NOW])
    with ws.catalog.read() as con:
        posts = {p.job_id: p for p in read_posts(con, metrics_dir=ws.metrics_dir, now=NOW, tz=timezone.utc,
                                                 reward="commission")}
    assert posts[sold].reward == pytest.approx(math.log1p(30000.0))  # the cancelled order earns nothing
    assert posts[pending].reward is None  # an order still pending: not learned from yet


def test_a_fixed_window_holds_even_when_the_gap_pushes_posts_later(ws, tmp_path):
    _library(ws)
    tok = token_file(tmp_path, "t", "token-value")
    add_account(ws, "tiktok", username="evening", token_file=tok, daily_cap=4, min_gap_min=90, window="18:00-20:00")
    plans, _ = _plan(ws, 4)
    times = sorted(p["publish_after"] for p in plans)
    assert len(times) == 4 and all(18 <= t.hour < 20 for t in times), times  # UTC is the publish zone here
    assert all(b - a >= timedelta(minutes=90) for a, b in zip(times, times[1:]))
