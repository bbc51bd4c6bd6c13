"""Thompson sampling over Normal-Inverse-Gamma posteriors: the template, mood and hour an account posts next.

The model, per account and per dimension (``template``: a template's media id, ``mood``: a mood
name, ``hour``: "00".."23"), with one *arm* per value:

- A post's reward r (log(1 + views 24 hours after posting), or commission per post) on arm a is
  Normal(mu_a, sigma_a^2), with a Normal-Inverse-Gamma prior NIG(mu0, kappa0, alpha0, beta0):
  sigma^2 ~ InvGamma(alpha0, beta0), mu | sigma^2 ~ Normal(mu0, sigma^2 / kappa0).
- Old evidence decays: observation i weighs w_i = decay ** age_days_i (0.97 a day: a month-old
  post counts 0.4). The weighted conjugate update (:func:`nig_update`) is the closed form with
  n = sum w, xbar = sum w x / n, S = sum w (x - xbar)^2::

      kappa_n = kappa0 + n            mu_n   = (kappa0 mu0 + n xbar) / kappa_n
      alpha_n = alpha0 + n / 2        beta_n = beta0 + S / 2 + kappa0 n (xbar - mu0)^2 / (2 kappa_n)

  (integer weights are the same as repeating an observation; any weight is a power likelihood).
- Shrinkage toward all accounts (empirical Bayes). An account's *level* is its weighted mean
  reward less its posts' estimated arm effects (so an account that only used weak arms is not
  taken for a weak account), shrunk toward everyone's by ``kappa0`` pseudo-posts. An arm's
  pooled *effect* is the weighted mean, over the OTHER accounts' posts on that arm, of reward
  minus the posting account's level, shrunk toward 0 by ``kappa0`` pseudo-posts (an arm nobody
  else used has effect 0: the dimension's overall mean). The prior mean is mu0 = level + effect: the pooled
  mean of the arm, moved to this account's own level (a big account's views are not a small
  one's; with accounts at the same level it is exactly the pooled mean). Leaving the account out
  keeps its own posts from counting twice. How strongly: the pool knows the arm to within
  sigma^2 / W (W: the other accounts' weighted posts on it) and an account's arm differs from
  the pool's by tau^2, the between-account variance of arm effects estimated per dimension by
  the method of moments (DerSimonian-Laird, floored at sigma^2 / 50), so the prior is worth
  kappa0' = max(kappa0, 1 / (tau^2 / sigma^2 + 1 / W)) posts: about W when accounts agree (at
  most 50), about ``kappa0`` (default 2) when they differ or the pool knows little.
  alpha0 = 2 and beta0 = s^2 (alpha0 - 1), so the prior's expected sigma^2 is s^2, the pooled
  weighted variance of rewards around level + the arm's unpooled mean effect (all accounts).
- The dimensions and the levels are learned together (backfitting, 6 sweeps): each dimension's
  arms learn from the reward less the level and the other dimensions' estimated effects
  (posterior mean minus level), so a mood mostly posted with the best template is not credited
  with that template's views.
- Hours are ordered: a post at hour h also counts, at half and a quarter of its weight, for
  hours h +- 1 and h +- 2 (an audience there at 19:00 is mostly there at 20:00), so a day's 24
  hours are learned from a few posts a day. ``n`` of an hour's posterior includes those shares.
- Thompson sampling: per candidate arm draw sigma^2 ~ InvGamma(alpha_n, beta_n), then
  mu ~ Normal(mu_n, sigma^2 / kappa_n); pick the largest mu. A pick is uniform at random instead
  (``explored``) with probability ``explore``, and also whenever this learner's random picks for
  the account and dimension would fall under ``explore`` of its picks, so at least that share is
  random over any run. An account with under ``min_evidence`` weighted posts with rewards is
  picked for at random, and the reason says so. Arms never seen get the shrunk prior, so a new
  template is tried. Everything random comes from the caller's ``random.Random``: same seed, same
  picks.
- Not learned from: an account's first ``new_account_days`` days from its start (a new account's
  reach is the platform's warm-up, not its arms), and *throttled* days, when the platform cut
  the account's reach so that all its arms fell together. A day is throttled when both
  (1) its mean reward is more than 2 robust standard deviations (1.4826 x the median absolute
  deviation) below the median of the account's daily means over the days within 28 days of it
  (the day itself left out; at least 5 such days, else the day is kept), and
  (2) every arm used that day, in every dimension, is below its own mean on the account's other
  days (an arm with no other day makes the day count: a new, genuinely bad arm is learned from).
  A bad arm on a normal day drags the day's mean down but leaves the day's other arms at their
  usual level, so it is learned from.
"""

from __future__ import annotations

import dataclasses
import math
import random
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

Dimension = Literal["template", "mood", "hour"]
DIMENSIONS: tuple[str, ...] = ("template", "mood", "hour")
ALPHA0 = 2.0
DEFAULT_VARIANCE = 1.0  # the prior's sigma^2 while nobody has any reward yet (log-views scale)
MIN_VARIANCE = 1e-6
THROTTLE_ROBUST_SDS = 2.0
THROTTLE_WINDOW_DAYS = 28
THROTTLE_MIN_DAYS = 5
BACKFIT_SWEEPS = 6
KAPPA_MAX = 50.0  # the pooled prior is never worth more than this many of the account's own posts
MAD_TO_SD = 1.4826  # a normal's standard deviation per median absolute deviation
HOUR_KERNEL = (1.0, 0.5, 0.25)  # the weight a post at hour h lends hours h +- 0, 1, 2 (circular)


@lru_cache(maxsize=4096)
def _lent_to(dimension: str, arm: str) -> tuple[tuple[str, float], ...]:
    """The arms a post on ``arm`` counts for, with the share of its weight: itself, and for an hour
    "00".."23" its neighbours by :data:`HOUR_KERNEL` (an audience at 19:00 is mostly there at 20:00)."""
    if dimension != "hour" or not (len(arm) == 2 and arm.isdigit() and int(arm) < 24):
        return ((arm, 1.0),)
    hour = int(arm)
    lent = [(arm, HOUR_KERNEL[0])]
    for step, share in enumerate(HOUR_KERNEL[1:], start=1):
        lent += [(f"{(hour - step) % 24:02d}", share), (f"{(hour + step) % 24:02d}", share)]
    return tuple(lent)


def _check_dimension(dimension: str) -> None:
    if dimension not in DIMENSIONS:
        raise ValueError(f"Invalid dimension ({dimension!r}). Supported: {', '.join(DIMENSIONS)}.")


@dataclass(frozen=True)
class Observation:
    """One post's reward: ``arms`` maps a dimension ("template", "mood", "hour") to the arm it used;
    ``day`` is the day it was posted on (its age decays its weight)."""

    account: str
    day: date
    arms: Mapping[str, str]
    reward: float

    def __post_init__(self) -> None:
        for dimension in self.arms:
            _check_dimension(dimension)
        if not math.isfinite(self.reward):
            raise ValueError(f"{self.account} {self.day}: reward must be a finite number, got {self.reward!r}")


# -- Student-t quantiles without scipy (for the posterior's interval on its mean) ---------------

def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz), as in Numerical Recipes."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        even = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
        odd = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
        for num in (even, odd):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def _t_cdf(t: float, df: float) -> float:
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def _t_pdf(t: float, df: float) -> float:
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_c - (df + 1) / 2 * math.log1p(t * t / df))


@lru_cache(maxsize=4096)
def student_t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (``df`` need not be whole).

    Args:
        p: a probability in (0, 1).
        df: degrees of freedom, > 0.
    Returns:
        t with P(T <= t) = p, to about 1e-10.
    """
    if not 0.0 < p < 1.0 or not df > 0:
        raise ValueError(f"student_t_quantile needs 0 < p < 1 and df > 0, got p={p!r}, df={df!r}")
    if p < 0.5:
        return -student_t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    # The t quantile lies above the normal one; Newton from there, kept inside a bracket.
    lo, t = 0.0, statistics.NormalDist().inv_cdf(p)
    hi = t
    while _t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        f = _t_cdf(t, df) - p
        if f < 0:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
        step = f / max(_t_pdf(t, df), 1e-300)
        t_next = t - step
        if not lo < t_next < hi:
            t_next = (lo + hi) / 2.0
        if abs(t_next - t) <= 1e-12 * max(1.0, abs(t)):
            return t_next
        t = t_next
    return t


# -- the posterior and its update ----------------------------------------------------------------

@dataclass(frozen=True)
class Posterior:
    """A Normal-Inverse-Gamma belief about one arm's reward: sigma^2 ~ InvGamma(alpha, beta),
    mu | sigma^2 ~ Normal(mu, sigma^2 / kappa); ``n`` is the weighted evidence behind it."""

    mu: float
    kappa: float
    alpha: float
    beta: float
    n: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mu) and self.kappa > 0 and self.alpha > 0 and self.beta > 0 and self.n >= 0):
            raise ValueError(f"invalid Normal-Inverse-Gamma parameters: {self}")

    @property
    def mean(self) -> float:
        """The posterior mean of the arm's mean reward."""
        return self.mu

    def interval(self, level: float = 0.9) -> tuple[float, float]:
        """A central credible interval for the arm's mean reward.

        Args:
            level: the probability inside, in (0, 1).
        Returns:
            (lo, hi): the marginal of the mean is Student-t with 2 alpha degrees of freedom,
            location mu and scale sqrt(beta / (alpha kappa)).
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"interval level must be in (0, 1), got {level!r}")
        scale = math.sqrt(self.beta / (self.alpha * self.kappa))
        half = student_t_quantile(0.5 + level / 2.0, 2.0 * self.alpha) * scale
        return (self.mu - half, self.mu + half)

    def sample(self, rng: random.Random) -> float:
        """One Thompson draw of the arm's mean reward: sigma^2 ~ InvGamma(alpha, beta), then
        mu ~ Normal(mu, sigma^2 / kappa).

        Args:
            rng: the source of randomness (two draws).
        Returns:
            the drawn mean reward.
        """
        sigma2 = 1.0 / rng.gammavariate(self.alpha, 1.0 / self.beta)  # Gamma(shape alpha, rate beta)
        return rng.normalvariate(self.mu, math.sqrt(sigma2 / self.kappa))


def decay_weight(age_days: float, *, decay: float) -> float:
    """The weight of evidence ``age_days`` old: ``decay ** age_days`` (evidence from the future weighs 1)."""
    return decay ** max(age_days, 0.0)


def nig_update(values: Sequence[float], weights: Sequence[float] | None = None, *, mu0: float, kappa0: float,
               alpha0: float, beta0: float) -> Posterior:
    """The Normal-Inverse-Gamma posterior after weighted observations (closed form, see the module).

    Args:
        values: the rewards.
        weights: one non-negative weight per value (all 1 when left out).
        mu0, kappa0, alpha0, beta0: the prior NIG(mu0, kappa0, alpha0, beta0).
    Returns:
        the :class:`Posterior`, with ``n`` = the sum of the weights.
    """
    weights = [1.0] * len(values) if weights is None else list(weights)
    if len(weights) != len(values):
        raise ValueError(f"{len(values)} values but {len(weights)} weights")
    if any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative")
    n = math.fsum(weights)
    if n <= 0:
        return Posterior(mu0, kappa0, alpha0, beta0, 0.0)
    xbar = math.fsum(w * x for w, x in zip(weights, values)) / n
    s = math.fsum(w * (x - xbar) ** 2 for w, x in zip(weights, values))
    return _closed_form(n, xbar, s, mu0=mu0, kappa0=kappa0, alpha0=alpha0, beta0=beta0)


def _closed_form(n: float, xbar: float, s: float, *, mu0: float, kappa0: float, alpha0: float,
                 beta0: float) -> Posterior:
    """NIG(mu0, kappa0, alpha0, beta0) after evidence of weight n, weighted mean xbar and weighted
    sum of squared deviations s."""
    if n <= 0:
        return Posterior(mu0, kappa0, alpha0, beta0, 0.0)
    kappa_n = kappa0 + n
    return Posterior(
        mu=(kappa0 * mu0 + n * xbar) / kappa_n,
        kappa=kappa_n,
        alpha=alpha0 + n / 2.0,
        beta=beta0 + s / 2.0 + kappa0 * n * (xbar - mu0) ** 2 / (2.0 * kappa_n),
        n=n,
    )


# -- days not learned from -----------------------------------------------------------------------

def _throttled_days(posts: Sequence[Observation]) -> dict[date, str]:
    """The days of one account's posts when all its arms fell together (see the module's rule)."""
    by_day: dict[date, list[Observation]] = defaultdict(list)
    for post in posts:
        by_day[post.day].append(post)
    day_mean = {day: statistics.fmean(p.reward for p in ps) for day, ps in by_day.items()}
    arm_rewards: dict[tuple[str, str], dict[date, list[float]]] = defaultdict(lambda: defaultdict(list))
    for post in posts:
        for dimension, arm in post.arms.items():
            arm_rewards[(dimension, arm)][post.day].append(post.reward)
    found = {}
    for day, mean in day_mean.items():
        window = [m for d, m in day_mean.items() if d != day and abs((d - day).days) <= THROTTLE_WINDOW_DAYS]
        if len(window) < THROTTLE_MIN_DAYS:
            continue
        middle = statistics.median(window)
        robust_sd = MAD_TO_SD * statistics.median(abs(m - middle) for m in window)
        if not mean < middle - THROTTLE_ROBUST_SDS * robust_sd:
            continue
        if _all_arms_below(day, by_day[day], arm_rewards):
            found[day] = (f"throttled: the day's mean reward {mean:.3g} is under the median {middle:.3g} of nearby "
                          f"days by more than {THROTTLE_ROBUST_SDS:g} robust sd ({robust_sd:.3g}), every arm below "
                          "its own mean")
    return found


def _all_arms_below(day: date, posts: Sequence[Observation], arm_rewards) -> bool:
    used = {(dimension, arm) for post in posts for dimension, arm in post.arms.items()}
    if not used:
        return False
    for key in used:
        other = [r for d, rewards in arm_rewards[key].items() if d != day for r in rewards]
        if not other or statistics.fmean(arm_rewards[key][day]) >= statistics.fmean(other):
            return False
    return True


# -- the learner ---------------------------------------------------------------------------------

def _explore(arms: Sequence[str], posteriors: Mapping[str, Posterior], rng: random.Random) -> str:
    """An exploring pick: at random among the arms that could still be the best (their 90% upper
    bound reaches the best posterior mean), least tried first; every arm when none could."""
    best = max(posteriors[a].mean for a in arms)
    plausible = [a for a in arms if posteriors[a].interval(0.9)[1] >= best]
    if not plausible:
        return rng.choice(list(arms))
    fewest = min(posteriors[a].n for a in plausible)
    return rng.choice([a for a in plausible if posteriors[a].n <= fewest + 1.0])


@dataclass(frozen=True)
class Choice:
    """One pick: ``explored`` is True when the arm was picked at random, ``random_reason`` says why
    (too little data, or exploration); ``posteriors`` are the candidates' beliefs at the time."""

    arm: str
    explored: bool
    random_reason: str | None
    posteriors: dict[str, Posterior] = field(default_factory=dict)


@dataclass
class _Pool:
    """Everything :meth:`Learner.fit` derives from the kept observations. Sums are of residuals:
    a post's reward less its account's level and the other dimensions' effects."""

    levels: dict[str, float] = field(default_factory=dict)
    global_mean: float = 0.0
    evidence: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    # (dimension, arm) -> account -> [sum w, sum w r, sum w r^2]
    stats: dict[tuple[str, str], dict[str, list[float]]] = field(default_factory=dict)
    variance: dict[str, float] = field(default_factory=dict)  # dimension -> the pooled sigma^2
    between: dict[str, float] = field(default_factory=dict)  # dimension -> tau^2, how far accounts' arms differ


def _between_accounts(pool: _Pool, dimension: str) -> float | None:
    """tau^2: the variance of an arm's effect between accounts, beyond sampling noise, by the method
    of moments (DerSimonian-Laird) over every arm two or more accounts used; None if none did."""
    variance = pool.variance.get(dimension)
    q = df = c = 0.0
    for (d, _), per in pool.stats.items():
        entries = [(w, r / w) for w, r, _ in per.values() if w > 0]
        if d != dimension or len(entries) < 2:
            continue
        w_sum = math.fsum(w for w, _ in entries)
        mean = math.fsum(w * e for w, e in entries) / w_sum
        q += math.fsum(w * (e - mean) ** 2 for w, e in entries)
        df += len(entries) - 1
        c += w_sum - math.fsum(w * w for w, _ in entries) / w_sum
    if variance is None or df == 0 or c <= 0:
        return None
    return max((q - df * variance) / c, variance / KAPPA_MAX)


EXPLORE_DRAWS = 24  # posterior draws that estimate how often Thompson sampling already explores


class Learner:
    """Thompson sampling per account and dimension over Normal-Inverse-Gamma posteriors shrunk toward
    all accounts (the model is in this module's docstring).

    Example::

        learner = Learner()
        learner.fit(observations, today=date(2026, 12, 7), account_start={"shop_a": date(2026, 10, 1)})
        choice = learner.choose("shop_a", "mood", ["calm", "upbeat"], random.Random(7))
        choice.arm, choice.explored, choice.random_reason

    Args:
        decay: the weight a day-old observation keeps, per day of age, in (0, 1].
        explore: the least share of picks made uniformly at random, in [0, 1].
        min_evidence: weighted posts with rewards an account needs before picks stop being random.
        new_account_days: an account's first days (from its start) are not learned from.
        kappa0: the pooled prior's weight, in pseudo-posts.
    """

    def __init__(self, *, decay: float = 0.97, explore: float = 0.1, min_evidence: float = 5,
                 new_account_days: int = 7, kappa0: float = 2.0) -> None:
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"decay must be in (0, 1], got {decay!r}")
        if not 0.0 <= explore <= 1.0:
            raise ValueError(f"explore must be in [0, 1], got {explore!r}")
        if min_evidence < 0 or new_account_days < 0 or not kappa0 > 0:
            raise ValueError("min_evidence and new_account_days must be >= 0 and kappa0 > 0")
        self.decay, self.explore, self.min_evidence = decay, explore, min_evidence
        self.new_account_days, self.kappa0 = new_account_days, kappa0
        self._pool = _Pool()
        self._ignored: dict[str, dict[date, str]] = {}
        self._cache: dict[tuple[str, str, str], Posterior] = {}
        self._picks: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._random_picks: dict[tuple[str, str], int] = defaultdict(int)

    # -- fitting ---------------------------------------------------------------------------

    def fit(self, observations: Iterable[Observation], *, today: date, account_start: Mapping[str, date]) -> None:
        """Replace what was learned with what ``observations`` say as of ``today``.

        Args:
            observations: every post with a reward (any order); posts on an account's first
                ``new_account_days`` days and on its throttled days are set aside.
            today: the day the weights' ages are counted to.
            account_start: each account's first day; an account missing from it has no
                new-account days.
        Returns:
            None. Pick counts (for :meth:`explain` and the exploration share) survive a refit.
        """
        by_account: dict[str, list[Observation]] = defaultdict(list)
        for obs in observations:
            by_account[obs.account].append(obs)
        self._ignored, kept = {}, []
        for account, posts in by_account.items():
            ignored = self._new_account_days(account, posts, account_start)
            rest = [p for p in posts if p.day not in ignored]
            ignored.update(_throttled_days(rest))
            self._ignored[account] = dict(sorted(ignored.items()))
            kept += [(p, decay_weight((today - p.day).days, decay=self.decay)) for p in rest if p.day not in ignored]
        self._backfit(kept)

    def _backfit(self, kept: Sequence[tuple[Observation, float]]) -> None:
        """Learn levels and every dimension's arms together (backfitting): each dimension learns from
        the reward less the other dimensions' estimated effects, so a mood mostly posted with the best
        template is not credited with its views; an account's level is its reward less every arm's
        effect, so an account that only used weak arms is not taken for a weak account."""
        self._pool, self._cache = _Pool(), {}
        accounts = [obs.account for obs, _ in kept]
        used = {d: [(i, obs.arms[d]) for i, (obs, _) in enumerate(kept) if d in obs.arms] for d in DIMENSIONS}
        effect = {d: [0.0] * len(kept) for d in DIMENSIONS}
        offsets = [0.0] * len(kept)  # the sum of a post's estimated arm effects
        for _ in range(BACKFIT_SWEEPS):
            self._set_levels(kept, offsets)
            levels = self._pool.levels
            for dimension in DIMENSIONS:
                rows = used[dimension]
                mine = effect[dimension]
                residuals = [kept[i][0].reward - levels[accounts[i]] - offsets[i] + mine[i] for i, _ in rows]
                self._pool_dimension(dimension, [(accounts[i], kept[i][1], arm) for i, arm in rows], residuals)
                for i, arm in rows:
                    new = self.posterior(accounts[i], dimension, arm).mean - levels[accounts[i]]
                    offsets[i] += new - mine[i]
                    mine[i] = new

    def _new_account_days(self, account: str, posts: Sequence[Observation],
                          account_start: Mapping[str, date]) -> dict[date, str]:
        start = account_start.get(account)
        if start is None or self.new_account_days <= 0:
            return {}
        end = start + timedelta(days=self.new_account_days)
        # posts from before its start (history it had before the farm) are learned from
        return {p.day: f"new account: day {(p.day - start).days + 1} of its first {self.new_account_days}"
                for p in posts if start <= p.day < end}

    def _set_levels(self, kept: Sequence[tuple[Observation, float]], offsets: Sequence[float]) -> None:
        """Each account's level: its weighted mean reward less ``offsets`` (its posts' estimated arm
        effects), shrunk toward everyone's by ``kappa0`` posts; and the evidence per dimension."""
        pool = self._pool
        pool.evidence.clear()
        totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for (obs, w), offset in zip(kept, offsets):
            totals[obs.account][0] += w
            totals[obs.account][1] += w * (obs.reward - offset)
            for dimension in obs.arms:
                pool.evidence[(obs.account, dimension)] += w
        weight = math.fsum(t[0] for t in totals.values())
        pool.global_mean = math.fsum(t[1] for t in totals.values()) / weight if weight > 0 else 0.0
        pool.levels = {account: (self.kappa0 * pool.global_mean + x_sum) / (self.kappa0 + w_sum)
                       for account, (w_sum, x_sum) in totals.items()}

    def _pool_dimension(self, dimension: str, rows: Sequence[tuple[str, float, str]],
                        residuals: Sequence[float]) -> None:
        """(Re)build one dimension's per-arm sums, pooled variance and tau^2 from ``rows`` (account,
        weight, arm used) and their ``residuals``."""
        pool = self._pool
        for key in [k for k in pool.stats if k[0] == dimension]:
            del pool.stats[key]
        for key in [k for k in self._cache if k[1] == dimension]:
            del self._cache[key]
        unlent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for (account, w, used), r in zip(rows, residuals):
            total = unlent[used]
            total[0] += w
            total[1] += w * r
            for arm, share in _lent_to(dimension, used):
                per = pool.stats.setdefault((dimension, arm), {})
                sums = per.get(account)
                if sums is None:
                    sums = per[account] = [0.0, 0.0, 0.0]
                sw = share * w
                sums[0] += sw
                sums[1] += sw * r
                sums[2] += sw * r * r
        # the variance around the arm's unpooled mean effect, over every account's posts
        squares = [0.0, 0.0]
        for (_, w, used), r in zip(rows, residuals):
            squares[0] += w
            squares[1] += w * (r - unlent[used][1] / unlent[used][0]) ** 2 if unlent[used][0] > 0 else 0.0
        if squares[0] > 0:
            pool.variance[dimension] = max(squares[1] / squares[0], MIN_VARIANCE)
        pool.between.pop(dimension, None)
        between = _between_accounts(pool, dimension)
        if between is not None:
            pool.between[dimension] = between

    # -- beliefs ---------------------------------------------------------------------------

    def prior(self, account: str, dimension: str, arm: str) -> Posterior:
        """The shrunk prior of ``account``'s ``arm``: the other accounts' pooled effect of the arm on
        top of this account's level (see the module's docstring); ``n`` is 0."""
        _check_dimension(dimension)
        pool = self._pool
        level = pool.levels.get(account, pool.global_mean)
        others = [(w, r) for other, (w, r, _) in pool.stats.get((dimension, arm), {}).items() if other != account]
        w_others = math.fsum(w for w, _ in others)
        effect = math.fsum(r for _, r in others) / (w_others + self.kappa0)
        variance = pool.variance.get(dimension, DEFAULT_VARIANCE)
        kappa = self.kappa0
        between = pool.between.get(dimension)
        if w_others > 0 and between is not None:
            # the pool knows the arm to sigma^2 / w_others, and this account's arm differs from it by tau^2
            kappa = max(self.kappa0, 1.0 / (between / variance + 1.0 / w_others))
        return Posterior(level + effect, kappa, ALPHA0, variance * (ALPHA0 - 1.0), 0.0)

    def posterior(self, account: str, dimension: str, arm: str) -> Posterior:
        """``account``'s belief about ``arm`` in ``dimension``: its prior updated with its own kept posts
        (on the level's scale: the update is the same shifted by any constant)."""
        key = (account, dimension, arm)
        if key not in self._cache:
            prior = self.prior(account, dimension, arm)
            level = self._pool.levels.get(account, self._pool.global_mean)
            w, r_sum, r2_sum = self._pool.stats.get((dimension, arm), {}).get(account, (0.0, 0.0, 0.0))
            mean = r_sum / w if w > 0 else 0.0
            post = _closed_form(w, mean, max(r2_sum - w * mean * mean, 0.0), mu0=prior.mu - level,
                                kappa0=prior.kappa, alpha0=prior.alpha, beta0=prior.beta)
            self._cache[key] = dataclasses.replace(post, mu=post.mu + level)
        return self._cache[key]

    def evidence(self, account: str, dimension: str) -> float:
        """The weighted number of ``account``'s kept posts with rewards that used ``dimension``."""
        return self._pool.evidence.get((account, dimension), 0.0)

    # -- choosing and explaining -----------------------------------------------------------

    def choose(self, account: str, dimension: str, candidates: Sequence[str], rng: random.Random) -> Choice:
        """Pick one of ``candidates`` for ``account``'s next post.

        Args:
            account: the account posting.
            dimension: "template", "mood" or "hour".
            candidates: the arms allowed tonight (rights, windows); duplicates are dropped.
            rng: every random draw comes from it, so a seed fixes the pick.
        Returns:
            a :class:`Choice`: the arm, whether it was picked at random and why, and every
            candidate's posterior.
        """
        _check_dimension(dimension)
        arms = list(dict.fromkeys(candidates))
        if not arms:
            raise ValueError(f"{account}: no {dimension} to choose from")
        posteriors = {arm: self.posterior(account, dimension, arm) for arm in arms}
        key = (account, dimension)
        picks = sum(self._picks[key].values())
        evidence = self.evidence(account, dimension)
        if evidence < self.min_evidence:
            reason = f"too little data: {evidence:.3g} posts with views, needs {self.min_evidence:g}"
            arm = rng.choice(arms)
        elif self._random_picks[key] < math.floor(self.explore * (picks + 1)):
            # behind the share over this learner's picks: explore now, whatever the draws said before
            arm, reason = _explore(arms, posteriors, rng), f"exploration (at least {self.explore:.0%} of picks)"
        else:
            arm, reason = self._sample_or_explore(arms, posteriors, rng)
        if reason is not None:
            self._random_picks[key] += 1
        self._picks[key][arm] += 1
        return Choice(arm=arm, explored=reason is not None, random_reason=reason, posteriors=posteriors)

    def _sample_or_explore(self, arms: list[str], posteriors: Mapping[str, Posterior],
                           rng: random.Random) -> tuple[str, str | None]:
        """Thompson sampling, exploring at least ``explore`` of the time: a sampled arm that is not the
        best by posterior mean is itself an exploring pick; how often that happens is estimated from
        ``EXPLORE_DRAWS`` draws, and a directed exploring pick (:func:`_explore`) makes up the rest.
        Returns the arm and, for an exploring pick, why."""
        greedy = max(arms, key=lambda a: (posteriors[a].mean, a))
        if len(arms) > 1 and self.explore > 0:
            wins = sum(max(arms, key=lambda a: posteriors[a].sample(rng)) != greedy for _ in range(EXPLORE_DRAWS))
            sampled_share = wins / EXPLORE_DRAWS
            extra = max(0.0, (self.explore - sampled_share) / max(1e-9, 1.0 - sampled_share))
            if rng.random() < extra:
                return _explore(arms, posteriors, rng), (f"exploration (at least {self.explore:.0%} of picks try "
                                                         "an arm other than the best)")
        draws = [posteriors[a].sample(rng) for a in arms]
        arm = arms[max(range(len(arms)), key=draws.__getitem__)]
        return arm, (None if arm == greedy else "sampled: the posterior's draw favoured an arm other than the best")

    def explain(self, account: str) -> dict[str, dict[str, dict]]:
        """What the learner believes about ``account``'s arms.

        Args:
            account: the account.
        Returns:
            ``{dimension: {arm: {"mean", "interval": [lo, hi] (90%), "n" (weighted evidence),
            "picks" (this learner's picks)}}}``, arms best first: every arm any account has
            evidence on, or that this learner picked for the account.
        """
        out: dict[str, dict[str, dict]] = {}
        for dimension in DIMENSIONS:
            arms = {arm for (d, arm) in self._pool.stats if d == dimension}
            arms |= {arm for arm, count in self._picks.get((account, dimension), {}).items() if count}
            rows = {}
            for arm in arms:
                post = self.posterior(account, dimension, arm)
                lo, hi = post.interval(0.9)
                rows[arm] = {"mean": post.mean, "interval": [lo, hi], "n": post.n,
                             "picks": self._picks.get((account, dimension), {}).get(arm, 0)}
            out[dimension] = dict(sorted(rows.items(), key=lambda item: (-item[1]["mean"], item[0])))
        return out

    def ignored_days(self, account: str) -> dict[date, str]:
        """The days of ``account`` not learned from, each with its reason (new account, throttled)."""
        return dict(self._ignored.get(account, {}))
