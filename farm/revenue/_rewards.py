"""Rewards from the catalog: each published post's arms (template, mood, posting hour) and what it
earned, views 24 hours after posting or validated commission, as the learner's observations."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import catalogs

DIMENSIONS = ("template", "mood", "hour")
HISTORY_DAYS = 120  # evidence older than this weighs under 0.03 at the default decay: not read
VIEWS_AFTER = timedelta(hours=24)
LATEST_SNAPSHOT = timedelta(hours=72)  # a first snapshot taken later than this says little about day one


def account_key(account_id: int) -> str:
    """The learner's name for an account: its catalog id (names can change, ids do not)."""
    return str(int(account_id))


def hour_arm(hour: int) -> str:
    return f"{int(hour):02d}"


def views_at(snapshots: list[tuple[datetime, int]], published_at: datetime, *, after: timedelta = VIEWS_AFTER) -> float | None:
    """Views ``after`` posting: interpolated between the snapshots around that moment, else the
    first snapshot after it when taken within 72 hours; None while it is unknown (the reward
    arrives late, and a post is learned from once it does)."""
    target = published_at + after
    before = [(at, v) for at, v in snapshots if at <= target]
    later = [(at, v) for at, v in snapshots if at >= target]
    if not later:
        return None
    t1, v1 = later[0]
    if before and before[-1][0] >= published_at:
        t0, v0 = before[-1]
        if t1 == t0:
            return float(v1)
        frac = (target - t0).total_seconds() / (t1 - t0).total_seconds()
        return v0 + frac * (v1 - v0)
    if t1 - published_at <= LATEST_SNAPSHOT:
        return float(v1)
    return None


@dataclass(frozen=True)
class Post:
    """One published post as the planner learns from it."""

    job_id: int
    platform: str
    account_id: int
    username: str
    day: date
    arms: dict[str, str]
    reward: float | None  # None while its views are not known yet
    views: float | None
    kind: str
    product_id: int | None


def _arms(row: dict, local_hour: int) -> dict[str, str]:
    plan = row.get("plan_arm") or {}
    arms = {"hour": hour_arm(local_hour)}
    template = row.get("template_id")
    if template is not None:
        arms["template"] = str(template)
    mood = row.get("mood") or (plan.get("mood") or {}).get("arm")
    if mood:
        arms["mood"] = str(mood)
    return arms


def read_posts(con, *, metrics_dir, now: datetime, tz, reward: str = "views") -> list[Post]:
    """Every post published in the last 120 days, with its arms and its reward.

    ``reward`` "views": log(1 + views 24 hours after posting). "commission": log(1 + the post's
    validated commission), for posts whose views are known and whose orders are all settled (a
    post with an order still pending waits; one without orders earned 0).
    """
    from farm.publish import to_local

    since = now - timedelta(days=HISTORY_DAYS)
    rows = catalogs.posted_arms(con, since=since)
    catalogs.create_metric_views(con, metrics_dir)
    snaps = catalogs.view_snapshots(con, since=since)
    money = catalogs.validated_commission(con) if reward == "commission" else {}
    posts = []
    for r in rows:
        key = (int(r["job_id"]), r["platform"])
        local = to_local(r["published_at"], tz)
        views = views_at(snaps.get(key, []), r["published_at"])
        value = None
        if views is not None and reward == "views":
            value = math.log1p(max(views, 0.0))
        elif views is not None:
            validated, pending = money.get(key, (0.0, 0))
            value = None if pending else math.log1p(max(validated, 0.0))
        posts.append(Post(job_id=key[0], platform=r["platform"], account_id=int(r["account_id"]),
                          username=r["username"], day=local.date(), arms=_arms(r, local.hour), reward=value,
                          views=views, kind=r["kind"], product_id=r.get("product_id")))
    return posts
