"""The learner fitted to the catalog's history: what the nightly plan and `farm plan explain` read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import catalogs
from farm.revenue._bandit import Learner, Observation
from farm.revenue._rewards import Post, account_key, read_posts


@dataclass
class Fitted:
    """A learner fitted to every account's posts, with what it was fitted on."""

    learner: Learner
    posts: list[Post]
    accounts: list[dict]
    reward: str
    today: date
    account_start: dict[str, date] = field(default_factory=dict)

    def evidence(self, account_id: int) -> float:
        """What the learner learns from for the account: its kept posts with a known reward, weighted by
        their age (days set aside, a new account's first days and throttled ones, count nothing)."""
        return self.learner.evidence(account_key(account_id), "hour")

    def learning(self, account_id: int) -> bool:
        """Whether the learner's picks for the account are its own, not random for too little data."""
        return self.evidence(account_id) >= self.learner.min_evidence


def account_start(account: dict) -> date:
    """The day an account began posting through the farm: its warm-up start, else when it was added."""
    at = account.get("warmup_from") or account.get("created_at")
    return at.date() if isinstance(at, datetime) else date.min


def fit(con, settings, *, metrics_dir, now: datetime, tz) -> Fitted:
    """Fit a learner on the last 120 days of posts (``[planner]`` decides the reward, the decay, the
    exploration and what is too little data)."""
    from farm.publish import to_local

    cfg = settings.planner
    posts = read_posts(con, metrics_dir=metrics_dir, now=now, tz=tz, reward=cfg.reward)
    accounts = catalogs.list_accounts(con)
    starts = {account_key(a["id"]): account_start(a) for a in accounts}
    learner = Learner(decay=cfg.decay, explore=cfg.explore, min_evidence=cfg.min_evidence,
                      new_account_days=cfg.new_account_days)
    today = to_local(now, tz).date()
    learner.fit([Observation(account=account_key(p.account_id), day=p.day, arms=p.arms, reward=p.reward)
                 for p in posts if p.reward is not None], today=today, account_start=starts)
    return Fitted(learner=learner, posts=posts, accounts=accounts, reward=cfg.reward, today=today,
                  account_start=starts)
