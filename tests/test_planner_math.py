"""The learning planner's math: the weighted Normal-Inverse-Gamma update against its closed form and a
grid posterior, Student-t intervals, shrinkage, exploration, too little data, ignored days, seeds,
and `farm bench planner`."""

from __future__ import annotations

import json
import math
import random
from datetime import date, timedelta

import numpy as np
import pytest

from farm.cli import main
from farm.revenue import Learner, Observation, Posterior, decay_weight, nig_update, student_t_quantile

TODAY = date(2026, 12, 7)
PRIOR = {"mu0": 1.0, "kappa0": 2.0, "alpha0": 3.0, "beta0": 2.0}


def _same(a: Posterior, b: Posterior, rel: float = 1e-12) -> None:
    for name in ("mu", "kappa", "alpha", "beta", "n"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=rel, abs=1e-12), name


# -- the update ----------------------------------------------------------------------------------

def test_integer_weights_are_repeated_observations():
    xs, ws = [0.3, 1.7, 2.2, 0.9], [2, 1, 3, 1]
    repeated = [x for x, w in zip(xs, ws) for _ in range(w)]
    _same(nig_update(xs, ws, **PRIOR), nig_update(repeated, **PRIOR))


def test_one_at_a_time_equals_all_at_once():
    """Conjugacy: each posterior is the next prior; the batch formula must agree (weighted too)."""
    xs, ws = [0.3, 1.7, 2.2, 0.9, -0.4], [1.0, 0.5, 0.8, 0.3, 1.0]
    post = Posterior(PRIOR["mu0"], PRIOR["kappa0"], PRIOR["alpha0"], PRIOR["beta0"])
    for x, w in zip(xs, ws):
        # one observation of weight w: kappa += w, mu moves by w/kappa', beta += kappa w (x - mu)^2 / (2 kappa')
        kappa = post.kappa + w
        post = Posterior((post.kappa * post.mu + w * x) / kappa, kappa, post.alpha + w / 2,
                         post.beta + post.kappa * w * (x - post.mu) ** 2 / (2 * kappa), post.n + w)
    _same(nig_update(xs, ws, **PRIOR), post, rel=1e-10)


def test_weighted_update_matches_a_grid_posterior():
    """prior density x prod Normal(x_i | mu, s2) ** w_i, integrated numerically on a (mu, log s2) grid."""
    xs, ws = np.array([0.3, 1.7, 2.2, 0.9, 1.1]), np.array([1.0, 0.5, 0.8, 0.3, 1.0])
    mu0, k0, a0, b0 = PRIOR["mu0"], PRIOR["kappa0"], PRIOR["alpha0"], PRIOR["beta0"]
    mu = np.linspace(-4.0, 6.0, 1201)[:, None]
    log_s2 = np.linspace(math.log(1e-3), math.log(200.0), 1601)[None, :]
    s2 = np.exp(log_s2)
    log_prior = -(a0 + 1) * log_s2 - b0 / s2 - 0.5 * log_s2 - k0 * (mu - mu0) ** 2 / (2 * s2)
    squares = (ws[None, None, :] * (xs[None, None, :] - mu[..., None]) ** 2).sum(-1)
    log_likelihood = -0.5 * ws.sum() * log_s2 - squares / (2 * s2)  # prod Normal(x_i | mu, s2) ** w_i
    log_p = log_prior + log_likelihood + log_s2  # + log_s2: the Jacobian of the log s2 grid
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    e_mu = float((p * mu).sum())
    grid = {"E[mu]": e_mu, "Var[mu]": float((p * (mu - e_mu) ** 2).sum()), "E[s2]": float((p * s2).sum()),
            "E[1/s2]": float((p / s2).sum())}
    post = nig_update(xs.tolist(), ws.tolist(), **PRIOR)
    closed = {"E[mu]": post.mu, "Var[mu]": post.beta / ((post.alpha - 1) * post.kappa),
              "E[s2]": post.beta / (post.alpha - 1), "E[1/s2]": post.alpha / post.beta}
    for key in grid:
        assert grid[key] == pytest.approx(closed[key], rel=2e-3), key


def test_no_evidence_leaves_the_prior_and_bad_weights_are_refused():
    _same(nig_update([], **PRIOR), Posterior(1.0, 2.0, 3.0, 2.0, 0.0))
    with pytest.raises(ValueError, match="weights"):
        nig_update([1.0], [-1.0], **PRIOR)
    with pytest.raises(ValueError, match="2 values but 1 weights"):
        nig_update([1.0, 2.0], [1.0], **PRIOR)


def test_decay_weights_feed_the_posterior():
    assert decay_weight(0, decay=0.97) == 1.0
    assert decay_weight(10, decay=0.97) == pytest.approx(0.97 ** 10)
    assert decay_weight(-3, decay=0.97) == 1.0  # a post dated after `today` is not worth more than a fresh one
    ages = [0, 3, 10, 30]
    rewards = [7.0, 6.5, 7.4, 6.9]
    posts = [Observation("a", TODAY - timedelta(days=age), {"template": "t1"}, r) for age, r in zip(ages, rewards)]
    learner = Learner(decay=0.9)
    learner.fit(posts, today=TODAY, account_start={})
    weights = [0.9 ** age for age in ages]
    post = learner.posterior("a", "template", "t1")
    prior = learner.prior("a", "template", "t1")
    assert post.n == pytest.approx(sum(weights))
    _same(post, nig_update(rewards, weights, mu0=prior.mu, kappa0=prior.kappa, alpha0=prior.alpha, beta0=prior.beta))


# -- intervals and draws ---------------------------------------------------------------------------

@pytest.mark.parametrize(("df", "t95"), [(1, 6.313752), (2, 2.919986), (5, 2.015048), (10, 1.812461), (30, 1.697261),
                                         (1e7, 1.644854)])
def test_student_t_quantiles_match_the_tables(df, t95):
    assert student_t_quantile(0.95, df) == pytest.approx(t95, abs=2e-6)
    assert student_t_quantile(0.05, df) == pytest.approx(-t95, abs=2e-6)


def test_intervals_cover_the_truth_nine_times_in_ten():
    """Truth drawn from the prior, data from the truth: a 90% credible interval holds it 90% of the time."""
    rng = random.Random(3)
    trials, covered = 4000, 0
    for _ in range(trials):
        s2 = 1.0 / rng.gammavariate(3.0, 1.0 / 2.0)
        mu = rng.normalvariate(0.0, math.sqrt(s2 / 1.0))
        data = [rng.normalvariate(mu, math.sqrt(s2)) for _ in range(4)]
        lo, hi = nig_update(data, mu0=0.0, kappa0=1.0, alpha0=3.0, beta0=2.0).interval(0.9)
        covered += lo <= mu <= hi
    assert covered / trials == pytest.approx(0.9, abs=0.02)


def test_draws_have_the_posteriors_mean_and_spread():
    post = Posterior(mu=2.0, kappa=4.0, alpha=6.0, beta=3.0)
    rng = random.Random(5)
    draws = np.array([post.sample(rng) for _ in range(20000)])
    assert draws.mean() == pytest.approx(2.0, abs=0.01)
    assert draws.var() == pytest.approx(post.beta / ((post.alpha - 1) * post.kappa), rel=0.05)
    lo, hi = post.interval(0.9)
    assert np.mean((draws >= lo) & (draws <= hi)) == pytest.approx(0.9, abs=0.01)


# -- shrinkage -------------------------------------------------------------------------------------

def _posts(account, arm, rewards, *, start=TODAY - timedelta(days=30), dimension="template"):
    return [Observation(account, start + timedelta(days=i), {dimension: arm}, r) for i, r in enumerate(rewards)]


def test_an_arm_an_account_never_used_starts_at_the_pooled_mean():
    """b and c posted on templates X and Y, a only on Y. Y does as well on all three, so a is as big
    an account as b and c: a's prior for X is the pool's X (b's 8.0, c's 8.2, c being 0.2 bigger)."""
    rng = random.Random(11)
    posts = _posts("a", "Y", [rng.gauss(7.0, 0.3) for _ in range(20)])
    for acct, x_mean, y_mean in (("b", 8.0, 7.0), ("c", 8.2, 7.2)):
        posts += _posts(acct, "X", [rng.gauss(x_mean, 0.3) for _ in range(20)])
        posts += _posts(acct, "Y", [rng.gauss(y_mean, 0.3) for _ in range(20)])
    learner = Learner(decay=1.0, kappa0=2.0)
    learner.fit(posts, today=TODAY, account_start={})
    prior = learner.prior("a", "template", "X")
    assert prior.mean == pytest.approx(8.0, abs=0.1)  # a's own Y mean is 7.0: the pool lifts X a whole point
    assert prior.kappa > 10  # b and c agree about X, so the pool weighs more than kappa0 posts
    assert learner.posterior("a", "template", "X") == prior  # no evidence of a's own
    assert learner.posterior("a", "template", "Y").mean == pytest.approx(7.0, abs=0.1)
    # an arm nobody used gets a's own level (the dimension's mean for a), at kappa0
    fresh = learner.prior("a", "template", "never")
    assert fresh.kappa == 2.0 and 7.0 < fresh.mean < 8.0


def test_own_evidence_outweighs_the_pool_as_it_grows():
    rng = random.Random(12)
    pool = _posts("b", "X", [rng.gauss(8.0, 0.3) for _ in range(30)])
    pool += _posts("b", "Y", [rng.gauss(7.0, 0.3) for _ in range(30)])
    means = []
    for n_own in (0, 5, 40):
        own = _posts("a", "Y", [rng.gauss(7.0, 0.3) for _ in range(30)]) + _posts("a", "X", [6.0] * n_own)
        learner = Learner(decay=1.0)
        learner.fit(pool + own, today=TODAY, account_start={})
        means.append(learner.posterior("a", "template", "X").mean)
    assert means[0] > 7.5 and means[0] > means[1] > means[2] and means[2] == pytest.approx(6.0, abs=0.35)


# -- choosing --------------------------------------------------------------------------------------

def _history(accounts=("a",), days=30, *, seed=1, throttle=(), start=TODAY - timedelta(days=40)):
    """``days`` days of 4 posts an account on templates t0..t3 (t3 the best), 2 moods and 4 hours."""
    rng = random.Random(seed)
    effect = {"t0": 0.0, "t1": 0.1, "t2": 0.2, "t3": 0.6}
    posts = []
    for acct in accounts:
        for d in range(days):
            day = start + timedelta(days=d)
            for k in range(4):
                template = f"t{(d + k) % 4}"
                reward = 7.0 + effect[template] + rng.gauss(0, 0.2) - (1.6 if d in throttle else 0.0)
                posts.append(Observation(acct, day, {"template": template, "mood": f"m{k % 2}",
                                                     "hour": f"{18 + k:02d}"}, reward))
    return posts


def test_exploration_is_at_least_the_share_asked_and_says_so():
    learner = Learner(explore=0.1)
    learner.fit(_history(), today=TODAY, account_start={})
    rng = random.Random(7)
    choices = [learner.choose("a", "template", ["t0", "t1", "t2", "t3"], rng) for _ in range(2000)]
    explored = [c for c in choices if c.explored]
    assert len(explored) >= 0.1 * len(choices) - 1  # never under the share (to one pick), whatever the draws
    assert len(explored) <= 0.15 * len(choices)
    assert all(c.random_reason.startswith("exploration") for c in explored)
    assert all(c.random_reason is None for c in choices if not c.explored)
    exploited = [c.arm for c in choices if not c.explored]
    assert exploited.count("t3") / len(exploited) > 0.95  # the best template by 0.4, learned


def test_too_little_data_picks_at_random_and_says_why():
    posts = _history(days=1)[:3]  # three posts with views
    learner = Learner(min_evidence=5)
    learner.fit(posts, today=posts[0].day, account_start={})
    rng = random.Random(1)
    choices = [learner.choose("a", "mood", ["m0", "m1", "m2"], rng) for _ in range(300)]
    assert all(c.explored and c.random_reason == "too little data: 3 posts with views, needs 5" for c in choices)
    assert {c.arm for c in choices} == {"m0", "m1", "m2"}
    fresh = Learner().choose("nobody", "hour", ["09", "21"], rng)
    assert fresh.random_reason == "too little data: 0 posts with views, needs 5"


def test_an_arm_never_seen_is_offered_with_its_prior():
    learner = Learner()
    learner.fit(_history(), today=TODAY, account_start={})
    choice = learner.choose("a", "template", ["t3", "brand-new"], random.Random(2))
    assert choice.posteriors["brand-new"] == learner.prior("a", "template", "brand-new")
    assert choice.posteriors["brand-new"].n == 0


def test_same_seed_same_picks():
    def picks(seed):
        learner = Learner()
        learner.fit(_history(accounts=("a", "b")), today=TODAY, account_start={})
        rng = random.Random(seed)
        return [learner.choose(acct, dim, cands, rng).arm for _ in range(50)
                for acct in ("a", "b") for dim, cands in (("template", ["t0", "t1", "t2", "t3"]),
                                                          ("hour", [f"{h:02d}" for h in range(24)]))]

    assert picks(42) == picks(42)
    assert picks(42) != picks(43)


def test_explain_lists_each_dimensions_arms_best_first():
    learner = Learner()
    learner.fit(_history(), today=TODAY, account_start={})
    learner.choose("a", "template", ["t0", "t3"], random.Random(3))
    out = learner.explain("a")
    assert set(out) == {"template", "mood", "hour"}
    assert next(iter(out["template"])) == "t3"
    for row in out["template"].values():
        lo, hi = row["interval"]
        assert lo < row["mean"] < hi and row["n"] > 0
    assert sum(row["picks"] for row in out["template"].values()) == 1
    with pytest.raises(ValueError, match="Supported: template, mood, hour"):
        learner.choose("a", "colour", ["red"], random.Random(1))


# -- days not learned from -------------------------------------------------------------------------

def test_a_new_accounts_first_week_is_not_learned_from():
    posts = _history(days=20)
    start = posts[0].day
    learner = Learner(new_account_days=7)
    learner.fit(posts, today=TODAY, account_start={"a": start})
    ignored = learner.ignored_days("a")
    assert sorted(ignored) == [start + timedelta(days=d) for d in range(7)]
    assert ignored[start] == "new account: day 1 of its first 7"
    kept = [p for p in posts if p.day >= start + timedelta(days=7)]
    assert learner.evidence("a", "template") == pytest.approx(
        sum(decay_weight((TODAY - p.day).days, decay=0.97) for p in kept))


def test_a_throttled_week_is_set_aside():
    week = range(20, 27)
    posts = _history(days=40, throttle=week)
    learner = Learner()
    learner.fit(posts, today=TODAY, account_start={})
    start = posts[0].day
    ignored = learner.ignored_days("a")
    assert sorted(ignored) == [start + timedelta(days=d) for d in week]
    assert all(why.startswith("throttled") for why in ignored.values())
    # and the arms are believed exactly as if that week had never been posted
    without = Learner()
    without.fit([p for p in posts if (p.day - start).days not in week], today=TODAY, account_start={})
    for arm in ("t0", "t1", "t2", "t3"):
        _same(learner.posterior("a", "template", arm), without.posterior("a", "template", arm))
    # learned from, that week would have dragged the best template down by a fifth of its 1.6
    t3 = [p.reward for p in posts if p.arms["template"] == "t3"]
    assert sum(t3) / len(t3) < learner.posterior("a", "template", "t3").mean - 0.2


def test_a_bad_arm_on_a_normal_day_is_still_learned_from():
    start = TODAY - timedelta(days=40)
    posts = _history(days=40, start=start)
    # days 25-34: one post of four goes on template "bad" (views a twentieth): each of those days'
    # mean falls far below the account's usual, but the day's other arms do as well as ever
    bad_days = {start + timedelta(days=d) for d in range(25, 35)}
    posts = [Observation(p.account, p.day, {**p.arms, "template": "bad"}, p.reward - 3.0)
             if p.day in bad_days and p.arms["hour"] == "18" else p for p in posts]
    # day 36: all four posts on "awful", never used before: no arm of the day can vouch for the platform
    awful_day = start + timedelta(days=36)
    posts = [Observation(p.account, p.day, {**p.arms, "template": "awful"}, p.reward - 1.6)
             if p.day == awful_day else p for p in posts]
    learner = Learner()
    learner.fit(posts, today=TODAY, account_start={})
    assert learner.ignored_days("a") == {}
    bad, best = learner.posterior("a", "template", "bad"), learner.posterior("a", "template", "t3")
    assert bad.n == pytest.approx(sum(0.97 ** (TODAY - d).days for d in bad_days))
    assert bad.mean < best.mean - 2.0
    assert learner.posterior("a", "template", "awful").n > 3


# -- the benchmark ---------------------------------------------------------------------------------

def test_bench_planner_json(capsys):
    assert main(["bench", "planner", "--days", "20", "--worlds", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("learned_share", "random_share", "round_robin_share"):
        assert 0.0 < report[key] <= 1.0
    assert report["learned_share"] > report["random_share"]
    assert report["days"] == 20 and report["accounts"] == 4 and len(report["curves"]["learned"]) == 20


def test_bench_planner_refuses_bad_options(capsys):
    assert main(["bench", "planner", "--days", "0"]) == 2
    assert capsys.readouterr().err.strip() == "farm: error: --days must be at least 1, got 0"
