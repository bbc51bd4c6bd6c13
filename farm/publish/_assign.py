"""Which account publishes which due job: round robin among accounts with room, inside the platforms' limits.

An account has room when it is enabled and connected, inside its posting window, past
its minimum gap since its last post, under its daily cap, and its platform allows another
post: YouTube's per-project ``videos.insert`` quota (counted from midnight Pacific time),
TikTok's 6 inits a minute per token, Facebook's 30 reels per Page in a moving 24 hours,
and no hold left by a quota error. Among those with room, the one that posted least
recently goes first, so posts rotate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import catalogs
from farm.errors import InputError
from farm.publish._accounts import Window, account_status

PACIFIC = ZoneInfo("America/Los_Angeles")
TIKTOK_INITS_PER_MINUTE = 6
FACEBOOK_REELS_PER_DAY = 30
REAL_PLATFORMS = ("youtube", "tiktok", "facebook")


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


def job_targets(job: dict, active_platforms: set[str], account_platforms: set[str] | None = None) -> list[str]:
    """The platforms a job goes to: its own platform (a job without one: every platform with an
    account). The local outbox stands in, once, for the wanted platforms that have no account at
    all, when there is an active local account: it is how people who post by hand publish. A
    platform whose accounts are only disabled or need a reconnect keeps its jobs waiting."""
    have = set(active_platforms) | set(account_platforms or ())
    wanted = [job["platform"]] if job.get("platform") else [p for p in REAL_PLATFORMS if p in have]
    served = [p for p in wanted if p in have]
    if "local" in active_platforms and (len(served) < len(wanted) or not wanted):
        served.append("local")
    return served or wanted


class Planner:
    """Chooses accounts for due jobs, keeping count of its own choices within one sweep."""

    def __init__(self, con, settings, *, now: datetime) -> None:
        self.con = con
        self.settings = settings
        self.now = now
        self.tz = local_zone(settings.publish.timezone)
        self.accounts = catalogs.list_accounts(con)
        self.holds = catalogs.active_holds(con, now)
        self._extra_posts: dict[int, int] = {}
        self._chosen_at: dict[int, datetime] = {}
        self._youtube_extra = 0
        self._tiktok_extra: dict[int, int] = {}
        self._counts: dict[tuple, object] = {}  # the catalog's numbers, read once per planner

    def _count(self, key: tuple, read):
        if key not in self._counts:
            self._counts[key] = read()
        return self._counts[key]

    def active_platforms(self) -> set[str]:
        return {a["platform"] for a in self.accounts if a["active"] and not a.get("needs_reconnect")}

    def account_platforms(self) -> set[str]:
        """Platforms with any account, enabled or not."""
        return {a["platform"] for a in self.accounts}

    # -- limits ----------------------------------------------------------------------
    def _hold(self, platform: str, account_id: int) -> dict | None:
        for h in self.holds:
            if h["platform"] == platform and h["account_id"] in (None, account_id):
                return h
        return None

    def youtube_used(self) -> int:
        since = midnight_utc(self.now, PACIFIC)
        return self._count(("yt",), lambda: catalogs.count_calls(self.con, "youtube", "insert", since=since)) \
            + self._youtube_extra

    def why_not(self, acc: dict) -> str | None:
        """Why ``acc`` cannot post now (None: it can)."""
        state, why = account_status(acc, self.now)
        if state == "disabled":
            return "disabled"
        if state == "reconnect":
            return f"needs reconnect ({why})"
        hold = self._hold(acc["platform"], acc["id"])
        if hold:
            return f"{hold['reason']} (until {hold['until']:%Y-%m-%d %H:%M} UTC)"
        if acc["window_start"]:
            win = Window(acc["window_start"], acc["window_end"])
            local = to_local(self.now, self.tz)
            if not win.contains(local):
                return f"outside its posting window {win.start}-{win.end} (opens {win.next_open(local):%H:%M})"
        last = max(filter(None, (self._count(("last", acc["id"]), lambda: catalogs.account_last_post(self.con, acc["id"])),
                                 self._chosen_at.get(acc["id"]))), default=None)
        if last is not None and acc["min_gap_min"]:
            ready_at = last + timedelta(minutes=acc["min_gap_min"])
            if ready_at > self.now:
                return (f"minimum gap of {acc['min_gap_min']} min since its last post "
                        f"(next at {to_local(ready_at, self.tz):%H:%M})")
        used = self._count(("day", acc["id"]), lambda: catalogs.account_posts_since(
            self.con, acc["id"], midnight_utc(self.now, self.tz))) + self._extra_posts.get(acc["id"], 0)
        if used >= acc["daily_cap"]:
            return f"daily cap reached ({used} of {acc['daily_cap']} today)"
        p = acc["platform"]
        if p == "youtube":
            cap = self.settings.platforms.youtube_daily_uploads
            if self.youtube_used() >= cap:
                reset = next_midnight_utc(self.now, PACIFIC)
                return (f"YouTube project quota spent ({cap} uploads today, shared by every channel of the project; "
                        f"resets {reset:%Y-%m-%d %H:%M} UTC)")
        if p == "tiktok":
            inits = self._count(("tt", acc["id"]), lambda: catalogs.count_calls(
                self.con, "tiktok", "init", account_id=acc["id"], since=self.now - timedelta(minutes=1))) \
                + self._tiktok_extra.get(acc["id"], 0)
            if inits >= TIKTOK_INITS_PER_MINUTE:
                return f"TikTok's limit of {TIKTOK_INITS_PER_MINUTE} upload inits a minute for this token"
        if p == "facebook":
            day = self._count(("fb", acc["id"]), lambda: catalogs.account_posts_since(
                self.con, acc["id"], self.now - timedelta(hours=24))) + self._extra_posts.get(acc["id"], 0)
            if day >= FACEBOOK_REELS_PER_DAY:
                return f"Facebook's limit of {FACEBOOK_REELS_PER_DAY} API reels per Page in 24 hours"
        return None

    # -- choice ----------------------------------------------------------------------
    def choose(self, job_id: int, platform: str) -> Target:
        target = Target(job_id, platform)
        candidates = [a for a in self.accounts if a["platform"] == platform]
        if not candidates:
            target.wait = f"no {platform} account (add one with `farm accounts add {platform}`)"
            return target
        free = []
        for acc in candidates:
            why = self.why_not(acc)
            label = f"{platform}:{acc['username']}"
            if why is None:
                free.append(acc)
            else:
                target.reasons.append(f"{label}: {why}")
        if not free:
            quota = [r for r in target.reasons if "quota" in r]
            target.wait = quota[0].split(": ", 1)[1] if quota else f"no {platform} account has room now"
            return target
        last_post = {a["id"]: max(filter(None, (a.get("last_posted_at"), self._chosen_at.get(a["id"]))),
                                  default=datetime.min) for a in free}
        free.sort(key=lambda a: (last_post[a["id"]], a["id"]))
        pick = free[0]
        target.account = pick
        target.reasons.insert(0, f"{platform}:{pick['username']}: chosen (posted least recently of "
                                 f"{len(free)} with room)")
        for other in free[1:]:
            target.reasons.append(f"{platform}:{other['username']}: has room, posted more recently")
        self._extra_posts[pick["id"]] = self._extra_posts.get(pick["id"], 0) + 1
        self._chosen_at[pick["id"]] = self.now
        if platform == "youtube":
            self._youtube_extra += 1
        if platform == "tiktok":
            self._tiktok_extra[pick["id"]] = self._tiktok_extra.get(pick["id"], 0) + 1
        return target
