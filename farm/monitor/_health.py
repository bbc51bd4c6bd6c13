"""Account health, 0 to 100: one formula, written here and in the README, computed from the catalog.

    health = 100
           - 10 x upload failures in the last 7 days (not policy rejections)    at most 30
           - 15 x policy rejections in the last 7 days                          at most 30
           - 40 when the token is dead (needs a reconnect),
             15 when it (or its refresh token) expires within 3 days
           - 10 when the account posted at its daily cap on each day it posted of the 7 before today
           - up to 20 for engagement below the account's own 14-day median:
             20 x (1 - recent / median), recent = median of the last 3 days' rates
           - 5 x posts the platform made private (or self-only) in the last 7 days   at most 15
    clamped to 0..100.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import catalogs
from farm.publish import account_status

FAILURE_POINTS, FAILURE_CAP = 10, 30
REJECTION_POINTS, REJECTION_CAP = 15, 30
DEAD_TOKEN_POINTS, EXPIRING_POINTS = 40, 15
AT_CAP_POINTS = 10
ENGAGEMENT_POINTS = 20
PRIVATE_POINTS, PRIVATE_CAP = 5, 15
POLICY_CLASSES = ("PolicyError", "RightsError")


@dataclass(frozen=True)
class Health:
    account_id: int
    health: float
    components: dict


def account_health(con, account: dict, *, now: datetime, tz=None) -> Health:
    """The account's health now, with each term (``create_metric_views`` must have run on ``con``).

    Days are whole calendar days in ``tz`` (the publish time zone, as the daily caps count
    them; UTC when None): "the last 7 days it posted" are the 7 days before today, and the
    engagement medians use whole UTC days of snapshots (14, and the last 3).
    """
    from farm.publish import midnight_utc, to_local

    tz = tz or timezone.utc
    week = now - timedelta(days=7)
    failures = catalogs.upload_failures(con, account["id"], week)
    rejections = sum(n for cls, n in failures.items() if cls in POLICY_CLASSES)
    other = sum(n for cls, n in failures.items() if cls not in POLICY_CLASSES)
    state, why = account_status(account, now)
    token_points = DEAD_TOKEN_POINTS if state == "reconnect" else EXPIRING_POINTS if state == "expiring" else 0
    local_today = to_local(now, tz).date()
    counts: dict = {}
    for t in catalogs.post_times(con, account["id"], midnight_utc(now, tz) - timedelta(days=8)):
        day = to_local(t, tz).date()
        if 1 <= (local_today - day).days <= 7:  # whole days: today is not over yet
            counts[day] = counts.get(day, 0) + 1
    per_day = list(counts.values())
    at_cap = bool(per_day) and all(n >= account["daily_cap"] for n in per_day)
    utc_today = midnight_utc(now, timezone.utc)
    rates = [r for _, r in catalogs.daily_engagement(con, account["id"], utc_today - timedelta(days=13)) if r is not None]
    recent = [r for _, r in catalogs.daily_engagement(con, account["id"], utc_today - timedelta(days=2)) if r is not None]
    engagement_points = 0.0
    median14 = statistics.median(rates) if rates else None
    recent_median = statistics.median(recent) if recent else None
    if median14 and recent_median is not None and recent_median < median14:
        engagement_points = ENGAGEMENT_POINTS * (1 - recent_median / median14)
    private = catalogs.forced_private(con, account["id"], week)
    terms = {
        "upload_failures_7d": other, "failure_points": min(FAILURE_CAP, FAILURE_POINTS * other),
        "policy_rejections_7d": rejections, "rejection_points": min(REJECTION_CAP, REJECTION_POINTS * rejections),
        "token_state": state, "token_note": why, "token_points": token_points,
        "days_at_cap": sum(1 for n in per_day if n >= account["daily_cap"]), "cap_points": AT_CAP_POINTS if at_cap else 0,
        "engagement_median_14d": median14, "engagement_recent": recent_median,
        "engagement_points": round(engagement_points, 2),
        "forced_private_7d": private, "private_points": min(PRIVATE_CAP, PRIVATE_POINTS * private),
    }
    lost = sum(terms[k] for k in ("failure_points", "rejection_points", "token_points", "cap_points",
                                  "engagement_points", "private_points"))
    return Health(account["id"], max(0.0, min(100.0, 100.0 - lost)), terms)
