"""The nightly's choices per account: which account each job goes to, and its template, music mood
and posting hour, sampled from what the learner knows (Thompson sampling); always inside the
rights, pair-window and account-safety rules (warm-up caps, pauses, the share of originals)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import catalogs
from farm.platforms import platform_names
from farm.publish import MIX_DAYS, Window, account_status, effective_daily_cap, local_zone, original_share_allows, to_local
from farm.revenue import account_key, fit_learner, hour_arm
from farm.workspace import Workspace


def _record(choice, dimension: str) -> dict:
    post = choice.posteriors.get(choice.arm)
    if choice.random_reason and choice.random_reason.startswith("too little data"):
        reason = f"random ({choice.random_reason})"
    elif choice.random_reason:
        reason = choice.random_reason
    else:
        reason = f"sampled the best of {len(choice.posteriors)} {dimension} arm(s)"
    return {"arm": choice.arm, "explored": bool(choice.explored), "reason": reason,
            "mean": None if post is None else round(post.mean, 4)}


class AccountPlan:
    """One night's plan over the accounts: an account per job (round robin within each account's
    cap for tomorrow, warm-up included), and the learner's picks for it."""

    def __init__(self, ws: Workspace, con, *, now: datetime, seed: int, platforms: list[str] | None) -> None:
        self.settings = ws.settings
        self.now = now
        self.tz = local_zone(ws.settings.publish.timezone)
        self.fitted = fit_learner(con, ws.settings, metrics_dir=ws.metrics_dir, now=now, tz=self.tz)
        # a different draw every night, the same for the same seed and night
        self.rng = random.Random(f"{seed}:{to_local(now, self.tz).date()}")
        wanted = set(platforms or platform_names())
        self.accounts = [a for a in self.fitted.accounts if a["platform"] in wanted and a["platform"] in platform_names()
                         and account_status(a, now)[0] in ("active", "expiring")]
        self.mix = {a: list(v) for a, v in catalogs.account_original_mix(con, since=now - timedelta(days=MIX_DAYS)).items()}
        self.times: dict[int, list[datetime]] = {}
        # jobs already planned for an account and not yet out take some of its room
        self.planned: dict[int, int] = {}
        for job in catalogs.planned_jobs(con, since=now - timedelta(days=2)):
            if job["account_id"] is not None and job["state"] in ("pending", "rendering", "ready") and (
                    job["publish_after"] is None or job["publish_after"] > now):
                self.planned[job["account_id"]] = self.planned.get(job["account_id"], 0) + 1
        self.notes: list[str] = []
        for a in self.accounts:
            if not self.fitted.learning(a["id"]):
                self.notes.append(f"planner: {a['platform']}:{a['username']}: too little data "
                                  f"({self.fitted.evidence(a['id']):.3g} weighted post(s) with a known reward, needs "
                                  f"{self.settings.planner.min_evidence}): picks at random")

    def slots(self, count: int) -> list[dict | None]:
        """The account of each of ``count`` jobs: round robin over the accounts with room tomorrow
        (each up to its cap for the day, warm-up included); None once all are full."""
        out: list[dict | None] = []
        while len(out) < count:
            took = False
            for a in self.accounts:
                if self.room(a) > 0 and len(out) < count:
                    out.append(a)
                    self.planned[a["id"]] = self.planned.get(a["id"], 0) + 1
                    took = True
            if not took:
                break
        if self.accounts and len(out) < count:
            self.notes.append(f"planner: {count - len(out)} job(s) over the accounts' caps for a day "
                              f"({len(out)} in all): planned without an account, published as room opens")
        return out + [None] * (count - len(out))

    def room(self, account: dict) -> int:
        """Posts the account may still be planned for the coming day."""
        return effective_daily_cap(account, self.now) - self.planned.get(account["id"], 0)

    def account_for(self, platform: str) -> dict | None:
        """The account of ``platform`` with the most room left (None when all are full)."""
        free = [a for a in self.accounts if a["platform"] == platform and self.room(a) > 0]
        if not free:
            return None
        pick = max(free, key=lambda a: (self.room(a), -a["id"]))
        self.planned[pick["id"]] = self.planned.get(pick["id"], 0) + 1
        return pick

    def choose(self, account: dict, dimension: str, candidates: list[str]) -> dict | None:
        """The learner's pick among ``candidates`` for ``account`` (None when there is no choice to make)."""
        if not candidates:
            return None
        choice = self.fitted.learner.choose(account_key(account["id"]), dimension, candidates, self.rng)
        return _record(choice, dimension)

    def may_use_licensed(self, account: dict) -> bool:
        """Whether the account may take one more post that is not an original and keep its share."""
        originals, total = self.mix.get(account["id"], [0, 0])
        return original_share_allows(originals, total, share=self.settings.planner.min_original_share)

    def took(self, account: dict, *, original: bool) -> None:
        mix = self.mix.setdefault(account["id"], [0, 0])
        mix[0] += int(original)
        mix[1] += 1

    def hours_for(self, account: dict) -> list[str]:
        """Hours the account may post in: its window's, or every hour (auto, or no window)."""
        if account.get("window_start") and not account.get("window_auto"):
            win = Window(account["window_start"], account["window_end"])
            day = to_local(self.now, self.tz).replace(minute=0, second=0, microsecond=0)
            return [hour_arm(h) for h in range(24) if win.contains(day.replace(hour=h))]
        return [hour_arm(h) for h in range(24)]

    def publish_time(self, account: dict) -> tuple[datetime | None, dict | None]:
        """When the account's next job may go out: the learned hour's next occurrence after now, plus
        jitter, kept the account's minimum gap from its other jobs of the night (naive UTC)."""
        pick = self.choose(account, "hour", self.hours_for(account))
        if pick is None:
            return None, None
        local_now = to_local(self.now, self.tz)
        at = local_now.replace(hour=int(pick["arm"]), minute=0, second=0, microsecond=0)
        if at <= local_now:
            at += timedelta(days=1)
        at += timedelta(minutes=self.rng.randint(0, self.settings.planner.jitter_min))
        gap = timedelta(minutes=int(account.get("min_gap_min") or 0))
        window = (Window(account["window_start"], account["window_end"])
                  if account.get("window_start") and not account.get("window_auto") else None)
        for other in sorted(self.times.get(account["id"], [])):
            if abs(other - at) < gap:
                at = other + gap
                if window is not None and not window.contains(at):  # the gap pushed it out: the next opening
                    at = window.next_open(at)
        self.times.setdefault(account["id"], []).append(at)
        pick["local_time"] = at.strftime("%Y-%m-%d %H:%M")
        return at.astimezone(timezone.utc).replace(tzinfo=None), pick


def plan_promo_accounts(ws: Workspace, job_ids: list[int], *, seed: int, platforms: list[str] | None) -> list[str]:
    """Give each promo of the night an account of its platform with room, and a learned posting hour;
    a promo is an original. Returns notes."""
    if not job_ids:
        return []
    with ws.catalog.write() as con:
        learning = AccountPlan(ws, con, now=catalogs.utcnow(), seed=seed + 1, platforms=platforms)
        if not learning.accounts:
            return []
        notes = []
        for job_id in job_ids:
            job = catalogs.get_job(con, job_id)
            account = learning.account_for(job["platform"]) if job and job["platform"] else None
            if account is None:
                notes.append(f"planner: promo job {job_id}: no {job['platform'] if job else ''} account with room; "
                             "published as room opens")
                continue
            learning.took(account, original=True)
            publish_after, hour = learning.publish_time(account)
            record = {"account": f"{account['platform']}:{account['username']}", "original": True, "kind": "promo",
                      "learned": learning.fitted.learning(account["id"]),
                      "reward": learning.fitted.reward, **({"hour": hour} if hour else {})}
            catalogs.set_job_plan(con, job_id, account_id=account["id"], publish_after=publish_after, plan_arm=record)
    return notes
