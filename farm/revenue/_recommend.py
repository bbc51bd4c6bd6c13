"""`farm recommend`: the best and worst arms per account, accounts whose audience does not engage,
products with views but no orders, and accounts to rest (low health or a policy rejection)."""

from __future__ import annotations

from datetime import datetime, timedelta

import catalogs
from farm.revenue._explain import LOW_ENGAGEMENT, LOW_ENGAGEMENT_DAYS, LOW_HEALTH, PAUSE_DAYS, explain
from farm.workspace import Workspace

MIN_ARM_EVIDENCE = 2.0  # weighted posts an arm needs before it is called best or worst


def _best_worst(arms: dict[str, list[dict]]) -> dict[str, dict]:
    out = {}
    for dim, rows in arms.items():
        known = [r for r in rows if r["mean"] is not None and (r["evidence"] or 0) >= MIN_ARM_EVIDENCE]
        if len(known) >= 2:
            best, worst = known[0], known[-1]
            out[dim] = {"best": {k: best[k] for k in ("arm", "label", "mean", "evidence")},
                        "worst": {k: worst[k] for k in ("arm", "label", "mean", "evidence")}}
    return out


def _low_engagement(con, accounts: list[dict], now: datetime) -> list[dict]:
    """Accounts whose engagement rate stayed under 3% on each of the last 7 days (7 days of data)."""
    out = []
    since = now - timedelta(days=LOW_ENGAGEMENT_DAYS)
    for acc in accounts:
        days = [(d, r) for d, r in catalogs.daily_engagement(con, acc["id"], since) if r is not None]
        if len(days) >= LOW_ENGAGEMENT_DAYS - 1 and all(r < LOW_ENGAGEMENT for _, r in days):
            out.append({"account": f"{acc['platform']}:{acc['username']}", "days": len(days),
                        "engagement": round(sum(r for _, r in days) / len(days), 4),
                        "advice": "engagement under 3% for a week: try other templates or hooks, or rest the account"})
    return out


def _rest(con, accounts: list[dict], now: datetime) -> list[dict]:
    """Accounts to pause for 30 days: health under 50, or a post refused on policy grounds (30 days)."""
    health = {h["account_id"]: h["health"] for h in catalogs.latest_health(con)}
    policy = catalogs.policy_rejections(con, since=now - timedelta(days=30))
    out = []
    for acc in accounts:
        reasons = []
        if health.get(acc["id"]) is not None and health[acc["id"]] < LOW_HEALTH:
            reasons.append(f"health {health[acc['id']]:.0f} under {LOW_HEALTH:.0f}")
        if policy.get(acc["id"]):
            reasons.append(f"{policy[acc['id']]} post(s) refused on policy grounds in 30 days")
        if reasons:
            out.append({"account": f"{acc['platform']}:{acc['username']}", "reasons": reasons, "days": PAUSE_DAYS,
                        "command": f"farm accounts pause {acc['platform']}:{acc['username']} --days {PAUSE_DAYS}"})
    return out


def recommend(ws: Workspace, *, now: datetime) -> dict:
    """What to change, from the learner and the catalog (one JSON-able document)."""
    beliefs = explain(ws, now=now)
    with ws.catalog.read() as con:
        accounts = catalogs.list_accounts(con)
        catalogs.create_metric_views(con, ws.metrics_dir)
        low = _low_engagement(con, accounts, now)
        rest = _rest(con, accounts, now)
        products = [dict(p, advice="views but no orders: check the price, the link and the call to action")
                    for p in catalogs.product_views_orders(con) if p["views"] > 0 and p["orders"] == 0]
    arms = [{"account": a["account"], "learning": a["learning"], "reason": a["reason"], **_best_worst(a["arms"])}
            for a in beliefs["accounts"]]
    return {"reward": beliefs["reward"], "arms": arms, "low_engagement": low, "products_without_orders": products,
            "pause": rest}
