"""Which account publishes which due job: round robin among accounts with room, inside the platforms' limits.

An account has room when it is enabled, connected and not paused, inside its posting window
(an ``auto`` window has none: the nightly planner sets each job's ``publish_after``), past
its minimum gap since its last post, under its daily cap (during its warm-up, the smaller
cap of ``effective_daily_cap``), keeps its share of original posts (a job reusing a licensed
source goes only where originals stay at least ``[planner] min_original_share`` of its posts
over 30 days), and its platform allows another post: every limit of its descriptor
(YouTube's per-project ``videos.insert`` quota counted from midnight Pacific time, TikTok's
6 inits a minute per token, Facebook's 30 reels per Page in a moving 24 hours), and no
upload hold left by a quota error. Among those with
room, the one that posted least recently goes first; within one pass, an account chosen
goes behind every account not chosen yet, and those chosen take turns, so N jobs over K
accounts with room go ceil(N/K) or floor(N/K) each. A job the nightly planner gave an account
(``jobs.account_id``) goes to that account only, and waits for it; once that account is disabled
or removed, any account of the platform may take the job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import catalogs
from farm.errors import InputError
from farm.platforms import Limit, platform, platform_names, platforms
from farm.publish._accounts import Window, account_status, effective_daily_cap, warmup_text

PACIFIC = ZoneInfo("America/Los_Angeles")
MIX_DAYS = 30  # the days of posts over which an account's share of originals is kept


def local_zone(name: str):
    """The publish time zone: ``[publish] timezone`` or this machine's."""
    if not name:
        return datetime.now().astimezone().tzinfo
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"Invalid publish.timezone ({name!r}). Supported: an IANA name such as Asia/Ho_Chi_Minh.") from None


def to_local(now_utc: datetime, tz) -> datetime:
    return now_utc.replace(tzinfo=timezone.utc).astimezone(tz)


def to_utc(local: datetime) -> datetime:
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def midnight_utc(now_utc: datetime, tz) -> datetime:
    """The last midnight in ``tz``, as naive UTC."""
    local = to_local(now_utc, tz)
    return to_utc(datetime.combine(local.date(), time(0), tzinfo=tz))


def next_midnight_utc(now_utc: datetime, tz) -> datetime:
    local = to_local(now_utc, tz)
    return to_utc(datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz))


@dataclass
class Target:
    """One (job, platform) to publish, the account chosen (or None) and why each account was or was not."""

    job_id: int
    platform: str
    account: dict | None = None
    reasons: list[str] = field(default_factory=list)
    wait: str | None = None  # why nobody could take it now ("quota ...", "no account ...")


def original_share_allows(originals: int, total: int, *, share: float) -> bool:
    """Whether an account with ``originals`` original posts out of ``total`` may take one more post
    that is not original: its share of originals after that post, ``originals / (total + 1)``, must
    stay at least ``share``. Originals (promos, mashups of the user's own footage) are always allowed.

    >>> original_share_allows(7, 9, share=0.7), original_share_allows(7, 10, share=0.7)
    (True, False)
    """
    return originals / (total + 1) >= share - 1e-9  # 7/10 is 0.7 within a float's rounding


def job_targets(job: dict, active_platforms: set[str], account_platforms: set[str] | None = None) -> list[str]:
    """The platforms a job goes to: its own platform (a job without one: every platform with an
    account). An outbox (the local folder) stands in, once, for the wanted platforms that have no
    account at all, when it has an active account: it is how people who post by hand publish. A
    platform whose accounts are only disabled or need a reconnect keeps its jobs waiting."""
    have = set(active_platforms) | set(account_platforms or ())
    wanted = [job["platform"]] if job.get("platform") else [p for p in platform_names() if p in have]
    served = [p for p in wanted if p in have]
    outbox = next((p.name for p in platforms(outbox=True) if p.outbox and p.name in active_platforms), None)
    if outbox is not None and (len(served) < len(wanted) or not wanted):
        served.append(outbox)
    return served or wanted


class Planner:
    """Chooses accounts for due jobs, keeping count of its own choices within one sweep."""

    def __init__(self, con, settings, *, now: datetime) -> None:
        self.con = con
        self.settings = settings
        self.now = now
        self.tz = local_zone(settings.publish.timezone)
        self.accounts = catalogs.list_accounts(con)
        self.holds = catalogs.active_holds(con, now, bucket="upload")
        self._picks: list[dict] = []  # the accounts chosen in this pass, in order
        self._mix: dict[int, list[int]] = {}  # account id -> [originals, posts] chosen in this pass
        self.share = float(settings.planner.min_original_share)
        self._counts: dict[tuple, object] = {}  # the catalog's numbers, read once per planner

    def _count(self, key: tuple, read):
        if key not in self._counts:
            self._counts[key] = read()
        return self._counts[key]

    def active_platforms(self) -> set[str]:
        return {a["platform"] for a in self.accounts if a["active"] and not a.get("needs_reconnect")
                and not a.get("key_problem")}

    def account_platforms(self) -> set[str]:
        """Platforms with any account, enabled or not."""
        return {a["platform"] for a in self.accounts}

    # -- limits ----------------------------------------------------------------------
    def _hold(self, name: str, account_id: int) -> dict | None:
        for h in self.holds:
            if h["platform"] == name and h["account_id"] in (None, account_id):
                return h
        return None

    def _picked(self, acc: dict, *, per: str) -> int:
        """Posts chosen in this pass on ``acc`` (per account) or on its platform (per project)."""
        return sum(1 for p in self._picks if p["platform"] == acc["platform"]
                   and (per == "project" or p["id"] == acc["id"]))

    def _window_start(self, limit: Limit) -> datetime:
        if limit.day_zone is not None:
            return midnight_utc(self.now, ZoneInfo(limit.day_zone))
        return self.now - limit.window

    def _reset(self, limit: Limit) -> str:
        if limit.day_zone is not None:
            return f"{next_midnight_utc(self.now, ZoneInfo(limit.day_zone)):%Y-%m-%d %H:%M} UTC"
        return f"a moving {limit.window}"

    def limit_used(self, limit: Limit, acc: dict) -> int:
        """How much of ``limit`` is used now for ``acc``: the catalog's count plus this pass's picks."""
        since = self._window_start(limit)
        scope = acc["id"] if limit.per == "account" else None
        if limit.counts == "calls":
            used = self._count(("calls", acc["platform"], limit.call, scope, since), lambda: catalogs.count_calls(
                self.con, acc["platform"], limit.call, account_id=scope, since=since))
        else:
            ids = [acc["id"]] if scope is not None else [a["id"] for a in self.accounts
                                                           if a["platform"] == acc["platform"]]
            used = sum(self._count(("posts", i, since), lambda i=i: catalogs.account_posts_since(self.con, i, since))
                       for i in ids)
        return used + self._picked(acc, per=limit.per)

    def platform_limit(self, acc: dict) -> str | None:
        """Why the platform allows ``acc`` no other post now (None: it does)."""
        for limit in platform(acc["platform"]).limits:
            most = limit.maximum(self.settings.platforms)
            if self.limit_used(limit, acc) >= most:
                return limit.text.format(most=most, reset=self._reset(limit))
        return None

    def why_not(self, acc: dict, *, original: bool = True) -> str | None:
        """Why ``acc`` cannot post now (None: it can); ``original``: whether the post is an original
        (a promo, or a mashup of the user's own footage), which the account's share of originals allows."""
        state, why = account_status(acc, self.now)
        if state in ("disabled", "reconnect", "paused"):
            return {"disabled": "disabled", "paused": why}.get(state, f"needs reconnect ({why})")
        hold = self._hold(acc["platform"], acc["id"])
        if hold:
            return f"{hold['reason']} (until {hold['until']:%Y-%m-%d %H:%M} UTC)"
        if acc["window_start"] and not acc.get("window_auto"):
            win = Window(acc["window_start"], acc["window_end"])
            local = to_local(self.now, self.tz)
            if not win.contains(local):
                return f"outside its posting window {win.start}-{win.end} (opens {win.next_open(local):%H:%M})"
        last = self._last_post(acc)
        if last is not None and acc["min_gap_min"]:
            ready_at = last + timedelta(minutes=acc["min_gap_min"])
            if ready_at > self.now:
                return (f"minimum gap of {acc['min_gap_min']} min since its last post "
                        f"(next at {to_local(ready_at, self.tz):%H:%M})")
        used = self._count(("day", acc["id"]), lambda: catalogs.account_posts_since(
            self.con, acc["id"], midnight_utc(self.now, self.tz))) + self._picked(acc, per="account")
        cap = effective_daily_cap(acc, self.now)
        if used >= cap:
            warm = f", {warmup_text(acc, self.now)}" if cap < acc["daily_cap"] else ""
            return f"daily cap reached ({used} of {cap} today{warm})"
        if not original:
            originals, total = self.post_mix(acc)
            if not original_share_allows(originals, total, share=self.share):
                return (f"original share {originals / (total + 1):.2f} would fall under {self.share:.2f} "
                        f"({originals} originals of {total} posts in {MIX_DAYS} days; this job reuses a licensed "
                        "source)")
        return self.platform_limit(acc)

    def post_mix(self, acc: dict) -> tuple[int, int]:
        """(originals, posts) of ``acc`` over the last 30 days, this pass's picks counted."""
        since = self.now - timedelta(days=MIX_DAYS)
        originals, total = self._count(("mix", acc["id"]),
                                       lambda: catalogs.account_post_mix(self.con, acc["id"], since))
        extra = self._mix.get(acc["id"], [0, 0])
        return originals + extra[0], total + extra[1]

    def _job(self, job_id: int) -> tuple[bool, int | None]:
        """(is it original, its planned account id), read for every publishable job at once; a job
        not ready or publishing is not the publisher's to place: original, nothing planned."""
        return self._count(("jobs",), lambda: catalogs.job_plan_facts(self.con)).get(job_id, (True, None))

    def _last_post(self, acc: dict) -> datetime | None:
        chosen = self.now if any(p["id"] == acc["id"] for p in self._picks) else None
        return max(filter(None, (self._count(("last", acc["id"]), lambda: catalogs.account_last_post(self.con, acc["id"])),
                                 chosen)), default=None)

    # -- choice ----------------------------------------------------------------------
    def _turn(self, acc: dict) -> tuple:
        """Sort key: accounts not chosen in this pass first, least recently posted first; then those
        chosen, the one chosen longest ago first (round robin within the pass)."""
        picks = [i for i, p in enumerate(self._picks) if p["id"] == acc["id"]]
        if picks:
            return (1, picks[-1], datetime.min, acc["id"])
        last = max(filter(None, (acc.get("last_posted_at"),)), default=datetime.min)
        return (0, 0, last, acc["id"])

    def _planned(self, planned_id: int | None, name: str, target: Target) -> dict | None:
        """The job's planned account on ``name``, or None: none planned, planned on another platform,
        or released (disabled or removed: said in the reasons)."""
        if planned_id is None:
            return None
        acc = next((a for a in self.accounts if a["id"] == planned_id), None)
        if acc is None:
            target.reasons.append(f"{name}: its planned account (id {planned_id}) was removed: any account may take it")
            return None
        if acc["platform"] != name:
            return None
        if not acc["active"]:
            target.reasons.append(f"{name}:{acc['username']}: its planned account is disabled: any {name} account "
                                  "may take it")
            return None
        return acc

    def choose(self, job_id: int, name: str) -> Target:
        target = Target(job_id, name)
        original, planned_id = self._job(job_id)
        planned = self._planned(planned_id, name, target)
        candidates = [planned] if planned else [a for a in self.accounts if a["platform"] == name]
        if not candidates:
            target.wait = f"no {name} account (add one with `farm accounts connect {name}`)"
            return target
        free = []
        for acc in candidates:
            why = self.why_not(acc, original=original)
            if why is None:
                free.append(acc)
            else:
                target.reasons.append(f"{name}:{acc['username']}: {why}")
        if not free:
            quota = [r for r in target.reasons if "quota" in r]
            target.wait = quota[0].split(": ", 1)[1] if quota else f"no {name} account has room now"
            if planned:
                target.wait = f"waits for its planned account {name}:{planned['username']} ({why})"
            return target
        free.sort(key=self._turn)
        pick = free[0]
        target.account = pick
        turn = "its planned account" if planned else f"its turn of {len(free)} with room"
        target.reasons.insert(0, f"{name}:{pick['username']}: chosen ({turn})")
        for other in free[1:]:
            target.reasons.append(f"{name}:{other['username']}: has room, posted more recently")
        self._picks.append(pick)
        mix = self._mix.setdefault(pick["id"], [0, 0])
        mix[0] += int(original)
        mix[1] += 1
        return target
