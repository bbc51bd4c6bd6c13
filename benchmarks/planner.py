"""`farm bench planner`: the learning planner vs random vs round robin in a simulated world, as shares of an oracle.

The world (hidden from the strategies; every number below is drawn from the seed):

- Accounts with their own reach (log-views level ~ Normal(log 2000, 0.5), growing 0.5% a day).
  Every fourth account, and the last of a farm of two or more, is new on day 0: its daily cap
  grows from 1 post to the full cap over 14 days (the farm's warm-up) and the learner does not
  learn from its first 7 days. The others are established: the catalog holds their last 28 days
  of posts, made at random (the farm before the learning planner), when the simulation starts.
- Arm effects, additive on log-views, a shared structure plus each account's own difference:
  6 templates (the best 1.5-2x the worst in views; each account's own differences sd 0.1),
  4 moods (best 1.2-1.4x the worst; sd 0.05), 24 posting hours on a daily curve peaking at
  18-21 h (peak 1.5-2x the trough; each account's peak shifted by sd 1.5 h; each hour sd 0.05).
- Views ~ lognormal around exp(level + effects), sigma ``noise_sd`` (0.5) on log-views: two posts
  on the same arms, same account and day, differ by more than 2x about one time in three. The
  reward learned from is log(1 + views).
- Rewards arrive a day late: a post's 24-hour views are known the day after it goes out, after
  that night's plan was made, so the plan for day t learns from posts up to day t - 2.
- One throttled week per account at a random time: all its views cut by 80%.
- 4 posts per account a day (fewer while warming up), each at its own hour.

Strategies on the same world and the same noise (each post slot's lognormal draw is shared):
the learning planner (:class:`farm.revenue.Learner` with its defaults, refitted every simulated
day from the rewards known by then), uniform random, round robin, the oracle (the best true
template and mood, and the best true hours), and the ceiling (the oracle, but picking at random
10% of the time in each dimension, as the planner must). A strategy's share is its cumulative
*expected* views (not the noisy draws, so the comparison is stable) over the oracle's, over all
accounts, by each day.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from farm.revenue import Learner, Observation

N_TEMPLATES, N_MOODS, N_HOURS = 6, 4, 24
POSTS_PER_DAY = 4
WARMUP_DAYS = 14
LAG_DAYS = 2
HISTORY_DAYS = 28
NOISE_SD = 0.5
THROTTLE_FACTOR = 0.2
THROTTLE_DAYS = 7
DAY0 = date(2026, 1, 1)
# best / worst views between arms of the shared structure, and each account's own differences (log sd)
TEMPLATE_RATIO, TEMPLATE_ACCOUNT_SD = (1.5, 2.0), 0.1
MOOD_RATIO, MOOD_ACCOUNT_SD = (1.2, 1.4), 0.05
HOUR_RATIO, HOUR_ACCOUNT_SD, PEAK_SHIFT_SD_H = (1.5, 2.0), 0.05, 1.5
EXPLORE = 0.1  # the planner's default exploration, which the ceiling strategy copies
HOURS = tuple(f"{h:02d}" for h in range(N_HOURS))


@dataclass(frozen=True)
class World:
    """The hidden truth: effects on log-views per account (rows) and arm (columns)."""

    days: int
    accounts: tuple[str, ...]
    start_day: tuple[int, ...]  # negative: established before the simulation
    level: np.ndarray  # (accounts,) log-views on day 0
    growth_per_day: float
    template: np.ndarray  # (accounts, N_TEMPLATES)
    mood: np.ndarray  # (accounts, N_MOODS)
    hour: np.ndarray  # (accounts, N_HOURS)
    throttle_start: tuple[int, ...]
    noise_sd: float  # sigma of a post's views on log-views, around exp(level + effects)
    noise: np.ndarray  # (accounts, HISTORY_DAYS + days, POSTS_PER_DAY) standard normals shared by every strategy

    def posts_on(self, a: int, day: int) -> int:
        age = day - self.start_day[a]
        if age < 0:
            return 0
        return max(1, min(POSTS_PER_DAY, round(POSTS_PER_DAY * (age + 1) / WARMUP_DAYS)))

    def log_mean(self, a: int, day: int, t: int, m: int, h: int) -> float:
        throttled = self.throttle_start[a] <= day < self.throttle_start[a] + THROTTLE_DAYS
        return (self.level[a] + self.growth_per_day * day + self.template[a, t] + self.mood[a, m] + self.hour[a, h]
                + (math.log(THROTTLE_FACTOR) if throttled else 0.0))


def _spread_effects(rng: np.random.Generator, n: int, ratio_lo: float, ratio_hi: float) -> np.ndarray:
    """n shared effects on log-views whose best is ratio_lo..ratio_hi times the worst, centred."""
    raw = rng.normal(size=n)
    raw = (raw - raw.min()) / (raw.max() - raw.min())
    return (raw - raw.mean()) * math.log(rng.uniform(ratio_lo, ratio_hi))


def make_world(*, days: int, accounts: int, seed: int, noise_sd: float = NOISE_SD) -> World:
    rng = np.random.default_rng(seed)
    names = tuple(f"acct{i + 1}" for i in range(accounts))
    # every fourth account, and the last one of a farm with two or more, is new on day 0
    start = tuple(0 if (i % 4 == 3 or (i == accounts - 1 and accounts > 1)) else -60 for i in range(accounts))
    template = (_spread_effects(rng, N_TEMPLATES, *TEMPLATE_RATIO)
                + rng.normal(0, TEMPLATE_ACCOUNT_SD, (accounts, N_TEMPLATES)))
    mood = _spread_effects(rng, N_MOODS, *MOOD_RATIO) + rng.normal(0, MOOD_ACCOUNT_SD, (accounts, N_MOODS))
    peak = rng.uniform(18, 21) + rng.normal(0, PEAK_SHIFT_SD_H, accounts)
    amplitude = math.log(rng.uniform(*HOUR_RATIO)) / 2
    hours = np.arange(N_HOURS)
    hour = amplitude * np.cos(2 * np.pi * (hours[None, :] - peak[:, None]) / N_HOURS)
    hour = hour + rng.normal(0, HOUR_ACCOUNT_SD, (accounts, N_HOURS))
    last = max(days - THROTTLE_DAYS, 0)
    throttle = tuple(int(rng.integers(max(s, 0), last + 1)) if last >= max(s, 0) else days for s in start)
    return World(days=days, accounts=names, start_day=start, level=rng.normal(math.log(2000), 0.5, accounts),
                 growth_per_day=0.005, template=template, mood=mood, hour=hour, throttle_start=throttle,
                 noise_sd=noise_sd,
                 noise=rng.normal(size=(accounts, HISTORY_DAYS + days, POSTS_PER_DAY)))


# -- strategies: each picks (template, mood, hour) for one post ---------------------------------

class _Random:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def plan(self, day: int, known: list[Observation]) -> None:
        pass

    def pick(self, world: World, a: int, day: int, hours_left: list[int]) -> tuple[int, int, int]:
        return self.rng.randrange(N_TEMPLATES), self.rng.randrange(N_MOODS), self.rng.choice(hours_left)


class _RoundRobin(_Random):
    def __init__(self, seed: int) -> None:
        self.turn: dict[int, int] = {}
        self.next_hour: dict[int, int] = {}

    def pick(self, world: World, a: int, day: int, hours_left: list[int]) -> tuple[int, int, int]:
        turn = self.turn.get(a, a)  # accounts start out of step, so they try different arms at once
        self.turn[a] = turn + 1
        h = self.next_hour.get(a, 0)
        while h % N_HOURS not in hours_left:
            h += 1
        self.next_hour[a] = h + 1
        return turn % N_TEMPLATES, turn % N_MOODS, h % N_HOURS


class _Oracle(_Random):
    def pick(self, world: World, a: int, day: int, hours_left: list[int]) -> tuple[int, int, int]:
        return (int(np.argmax(world.template[a])), int(np.argmax(world.mood[a])),
                max(hours_left, key=lambda h: world.hour[a, h]))


class _Ceiling(_Random):
    def pick(self, world: World, a: int, day: int, hours_left: list[int]) -> tuple[int, int, int]:
        t, m, h = _Oracle.pick(self, world, a, day, hours_left)
        t = self.rng.randrange(N_TEMPLATES) if self.rng.random() < EXPLORE else t
        m = self.rng.randrange(N_MOODS) if self.rng.random() < EXPLORE else m
        h = self.rng.choice(hours_left) if self.rng.random() < EXPLORE else h
        return t, m, h


class _Learned(_Random):
    def __init__(self, seed: int, world: World) -> None:
        super().__init__(seed)
        self.learner = Learner()
        self.start = {name: DAY0 + timedelta(days=s) for name, s in zip(world.accounts, world.start_day)}
        self.explored = 0
        self.picks = 0

    def plan(self, day: int, known: list[Observation]) -> None:
        self.learner.fit(known, today=DAY0 + timedelta(days=day), account_start=self.start)

    def pick(self, world: World, a: int, day: int, hours_left: list[int]) -> tuple[int, int, int]:
        account = world.accounts[a]
        chosen = []
        for dimension, candidates in (("template", [str(t) for t in range(N_TEMPLATES)]),
                                      ("mood", [str(m) for m in range(N_MOODS)]),
                                      ("hour", [HOURS[h] for h in hours_left])):
            choice = self.learner.choose(account, dimension, candidates, self.rng)
            self.explored += choice.explored
            self.picks += 1
            chosen.append(int(choice.arm))
        return chosen[0], chosen[1], chosen[2]


def _post_day(world: World, strategy: _Random, day: int, posts: list[Observation]) -> float:
    """Every account's posts of ``day`` under ``strategy``, appended to ``posts``; their expected views."""
    expected = 0.0
    when = DAY0 + timedelta(days=day)
    for a, account in enumerate(world.accounts):
        hours_left = list(range(N_HOURS))
        for k in range(world.posts_on(a, day)):
            t, m, h = strategy.pick(world, a, day, hours_left)
            hours_left.remove(h)
            log_mean = world.log_mean(a, day, t, m, h)
            expected += math.exp(log_mean)
            views = math.exp(log_mean + world.noise_sd * world.noise[a, HISTORY_DAYS + day, k])
            posts.append(Observation(account, when, {"template": str(t), "mood": str(m), "hour": HOURS[h]},
                                     math.log1p(views)))
    return expected


def history(world: World, seed: int) -> list[Observation]:
    """The established accounts' last ``HISTORY_DAYS`` days before day 0, posted at random (the farm
    before the learning planner): what the metrics history holds when the planner is switched on."""
    posts: list[Observation] = []
    before = _Random(seed + 2)
    for day in range(-HISTORY_DAYS, 0):
        _post_day(world, before, day, posts)
    return posts


def _run(world: World, strategy: _Random, past: list[Observation]) -> tuple[np.ndarray, list[Observation]]:
    """Each day's expected views (summed over accounts) under ``strategy``, and the posts' rewards."""
    daily = np.zeros(world.days)
    posts = list(past)
    for day in range(world.days):
        cutoff = DAY0 + timedelta(days=day - LAG_DAYS)
        strategy.plan(day, [p for p in posts if p.day <= cutoff])
        daily[day] = _post_day(world, strategy, day, posts)
    return daily, posts


def run_planner_bench(*, days: int = 60, accounts: int = 4, seed: int = 1, noise_sd: float = NOISE_SD) -> dict:
    """Simulate ``days`` days of ``accounts`` accounts under each strategy (see the module).

    Returns:
        ``{"days", "accounts", "seed", "noise_sd", "learned_share", "random_share",
        "round_robin_share", "ceiling_share" (each a share of the oracle's expected views by the
        last day), "learned_over_random", "explored_share" (the planner's picks made at random),
        "throttled_days", "throttled_days_ignored" (of those, the ones the planner set aside),
        "normal_days_ignored_as_throttled", "curves": {strategy: [share by day 1..days]},
        "elapsed_s"}``.
    """
    began = time.perf_counter()
    world = make_world(days=days, accounts=accounts, seed=seed, noise_sd=noise_sd)
    learned = _Learned(seed, world)
    runs = {"learned": learned, "random": _Random(seed + 1), "round_robin": _RoundRobin(seed),
            "ceiling": _Ceiling(seed + 3), "oracle": _Oracle(seed)}
    cumulative = {}
    past = history(world, seed)
    for name, strategy in runs.items():
        daily, _ = _run(world, strategy, past)
        cumulative[name] = np.cumsum(daily)
    oracle = np.maximum(cumulative.pop("oracle"), 1e-300)
    curves = {name: [round(float(v), 4) for v in c / oracle] for name, c in cumulative.items()}
    true_throttled = {(world.accounts[a], DAY0 + timedelta(days=d)) for a, s in enumerate(world.throttle_start)
                      for d in range(s, min(s + THROTTLE_DAYS, days - LAG_DAYS))}
    flagged = {(acct, d) for acct in world.accounts for d, why in learned.learner.ignored_days(acct).items()
               if why.startswith("throttled")}
    report = {
        "days": days, "accounts": accounts, "seed": seed, "noise_sd": noise_sd,
        "learned_share": curves["learned"][-1], "random_share": curves["random"][-1],
        "round_robin_share": curves["round_robin"][-1], "ceiling_share": curves["ceiling"][-1],
    }
    report["learned_over_random"] = round(report["learned_share"] / max(report["random_share"], 1e-12), 3)
    report.update({
        "explored_share": round(learned.explored / max(learned.picks, 1), 3),
        "throttled_days": len(true_throttled),
        "throttled_days_ignored": len(true_throttled & flagged),
        "normal_days_ignored_as_throttled": len(flagged - true_throttled),
        "curves": curves,
        "elapsed_s": round(time.perf_counter() - began, 2),
    })
    return report


SHARES = ("learned_share", "random_share", "round_robin_share", "ceiling_share")


def run_planner_worlds(*, worlds: int = 3, days: int = 60, accounts: int = 4, seed: int = 1,
                       noise_sd: float = NOISE_SD) -> dict:
    """:func:`run_planner_bench` on ``worlds`` worlds (seeds ``seed`` .. ``seed + worlds - 1``): one world's
    luck (where its throttled weeks fall, how far apart its arms are) moves a share by a few points, so
    the shares reported are the worlds' means, each world's beside them.

    Returns:
        the first world's report with every share, ``explored_share`` and curve replaced by the mean
        over the worlds, plus ``"worlds"``: each world's seed and shares.
    """
    began = time.perf_counter()
    reports = [run_planner_bench(days=days, accounts=accounts, seed=seed + k, noise_sd=noise_sd) for k in range(worlds)]
    out = dict(reports[0])
    for key in (*SHARES, "explored_share"):
        out[key] = round(sum(r[key] for r in reports) / worlds, 4)
    for key in ("throttled_days", "throttled_days_ignored", "normal_days_ignored_as_throttled"):
        out[key] = sum(r[key] for r in reports)
    out["learned_over_random"] = round(out["learned_share"] / max(out["random_share"], 1e-12), 3)
    out["curves"] = {name: [round(sum(r["curves"][name][d] for r in reports) / worlds, 4) for d in range(days)]
                     for name in reports[0]["curves"]}
    out["worlds"] = [{"seed": r["seed"], **{k: r[k] for k in SHARES}} for r in reports]
    out["elapsed_s"] = round(time.perf_counter() - began, 2)
    return out


def format_report(report: dict) -> str:
    """The shares as a small table, with the learned/random ratio."""
    rows = [("learning planner", report["learned_share"]), ("random", report["random_share"]),
            ("round robin", report["round_robin_share"]), ("ceiling", report["ceiling_share"]), ("oracle", 1.0)]
    worlds = report.get("worlds") or [{"seed": report["seed"]}]
    lines = [f"farm bench planner: {report['accounts']} accounts, {report['days']} days, "
             f"{len(worlds)} world(s) (seeds {', '.join(str(w['seed']) for w in worlds)}; shares are their mean), "
             f"views' sigma {report['noise_sd']:g} on log-views",
             "", f"{'strategy':<18}{'share of oracle views':>22}", f"{'-' * 18}{'-' * 22}"]
    lines += [f"{name:<18}{share:>22.3f}" for name, share in rows]
    lines += ["", f"learned / random: {report['learned_over_random']:.2f}x;  picks exploring (an arm other than the "
                  "best by posterior mean): "
                  f"{report['explored_share']:.0%};  throttled days set aside: {report['throttled_days_ignored']} of "
                  f"{report['throttled_days']} (normal days set aside: {report['normal_days_ignored_as_throttled']})",
              "ceiling: the oracle picking at random 10% of the time in each dimension",
              "each world's learned share: " + ", ".join(f"{w['learned_share']:.3f}" for w in worlds
                                                         if "learned_share" in w),
              f"({report['elapsed_s']:.1f} s)"]
    return "\n".join(lines)
