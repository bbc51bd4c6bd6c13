"""A simulated week of scheduling: caps, gaps, windows and the platforms' own limits are never exceeded."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import duckdb

import catalogs
from farm.publish import Planner, add_account
from farm.settings import PlatformSettings, PublishSettings, Settings
from publishing import add_facebook, token_file, workspace

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PACIFIC = ZoneInfo("America/Los_Angeles")


def test_a_simulated_week_respects_every_limit(tmp_path):
    ws = workspace(tmp_path / "ws")
    # tokens good for years: the simulated week lies ahead of the real clock
    tok = token_file(tmp_path, "t", '{"access_token": "token-value", "expires_at": "2035-01-01T00:00:00Z"}')
    accounts = {
        "yt1": add_account(ws, "youtube", username="yt1", token_file=tok, daily_cap=5, min_gap_min=60,
                           window="08:00-22:00"),
        "yt2": add_account(ws, "youtube", username="yt2", token_file=tok, daily_cap=5, min_gap_min=90),
        "tt1": add_account(ws, "tiktok", username="tt1", token_file=tok, daily_cap=40, min_gap_min=0),
        # a long-lived Page token (it never expires), checked with debug_token as `accounts add` does
        "fb1": add_facebook(ws, tmp_path, username="fb1", page_id="1", daily_cap=30, min_gap_min=0,
                            window="20:00-04:00"),
    }
    by_id = {a["id"]: name for name, a in accounts.items()}
    settings = Settings(platforms=PlatformSettings(youtube_daily_uploads=7),
                        publish=PublishSettings(timezone="Asia/Ho_Chi_Minh"))
    start = datetime(2026, 11, 30, 0, 5)  # naive UTC, a Monday
    posts: dict[str, list[datetime]] = defaultdict(list)
    next_job = iter(range(1, 100000))
    now = start
    con = duckdb.connect(str(ws.catalog.path))  # one connection for the whole week: opening one costs ~30 ms
    while now < start + timedelta(days=7):
        planner = Planner(con, settings, now=now)
        chosen = []
        # a deep backlog on every platform: each sweep offers more jobs than anyone may take
        for platform, n in (("youtube", 3), ("tiktok", 8), ("facebook", 2)):
            for _ in range(n):
                target = planner.choose(next(next_job), platform)
                if target.account is None:
                    assert target.wait
                else:
                    chosen.append(target)
        for target in chosen:  # then the uploads happen, as in `farm publish`
            job_id, platform, acc = target.job_id, target.platform, target.account
            catalogs.insert_upload(con, job_id=job_id, account_id=acc["id"], platform=platform,
                                   marker=f"m{job_id}", size_bytes=1, privacy="public")
            catalogs.update_upload(con, job_id, platform, state="published", started_at=now)
            if platform in ("youtube", "tiktok"):
                catalogs.record_call(con, platform, "insert" if platform == "youtube" else "init",
                                     account_id=acc["id"], at=now)
            posts[by_id[acc["id"]]].append(now)
        now += timedelta(minutes=20)
    con.close()

    def local(t):
        return t.replace(tzinfo=timezone.utc).astimezone(TZ)

    assert all(posts[n] for n in accounts), {n: len(p) for n, p in posts.items()}
    for name, acc in accounts.items():
        times = posts[name]
        per_day = defaultdict(int)
        for t in times:
            per_day[local(t).date()] += 1
        assert max(per_day.values()) <= acc["daily_cap"], (name, per_day)
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(g >= timedelta(minutes=acc["min_gap_min"]) for g in gaps), name
        if acc["window_start"]:
            start_hm, end_hm = acc["window_start"], acc["window_end"]
            for t in times:
                hm = local(t).strftime("%H:%M")
                inside = start_hm <= hm < end_hm if start_hm < end_hm else (hm >= start_hm or hm < end_hm)
                assert inside, (name, hm)
    # YouTube: the project's quota (7 a day here) is shared by both channels, counted in Pacific days
    yt_days = defaultdict(int)
    for t in posts["yt1"] + posts["yt2"]:
        yt_days[t.replace(tzinfo=timezone.utc).astimezone(PACIFIC).date()] += 1
    assert max(yt_days.values()) == 7
    # TikTok: never more than 6 inits in any minute
    tt = sorted(posts["tt1"])
    assert all(sum(1 for u in tt if t <= u < t + timedelta(minutes=1)) <= 6 for t in tt)
    assert max(sum(1 for u in tt if u == t) for t in tt) == 6  # and the limit is reached, not avoided
    # Facebook: never more than 30 reels in any moving 24 hours, though the window spans two local days
    fb = sorted(posts["fb1"])
    assert all(sum(1 for u in fb if t - timedelta(hours=24) < u <= t) <= 30 for t in fb)
    # round robin: the two YouTube channels share the work
    assert abs(len(posts["yt1"]) - len(posts["yt2"])) <= 7


def test_one_pass_spreads_its_jobs_evenly_over_the_accounts_with_room(tmp_path):
    """Within one pass, N jobs over K accounts with room go ceil(N/K) or floor(N/K) each, in turn."""
    ws = workspace(tmp_path / "ws")
    tok = token_file(tmp_path, "t", "token-value")
    for name in ("a", "b", "c"):
        add_account(ws, "tiktok", username=name, token_file=tok, daily_cap=40, min_gap_min=0)
    add_account(ws, "tiktok", username="full", token_file=tok, daily_cap=1, min_gap_min=0)
    with ws.catalog.read() as con:
        planner = Planner(con, ws.settings, now=catalogs.utcnow())
        targets = [planner.choose(job_id, "tiktok") for job_id in range(1, 9)]
    picked = [t.account["username"] for t in targets]
    # "full" takes one (its cap), then the other three share the rest in turn
    assert sorted(picked.count(n) for n in ("a", "b", "c", "full")) == [1, 2, 2, 3]
    assert picked.count("full") == 1
    assert all(picked[i] != picked[i + 1] for i in range(len(picked) - 1))  # nobody twice in a row
    assert targets[0].reasons[0].endswith("chosen (its turn of 4 with room)")
    assert targets[-1].reasons[0].endswith("chosen (its turn of 3 with room)")
    assert any("daily cap reached" in r for r in targets[-1].reasons)
