"""`farm plan explain` and `farm recommend`: what the learner believes per account, why tonight's jobs
were chosen, and what to change (arms to drop, accounts to rest, products that do not sell)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import catalogs
from farm.revenue._learn import Fitted, fit
from farm.revenue._rewards import DIMENSIONS, account_key
from farm.workspace import Workspace

LOW_ENGAGEMENT = 0.03
LOW_ENGAGEMENT_DAYS = 7
LOW_HEALTH = 50.0
PAUSE_DAYS = 30
RECENT_PLANS = timedelta(days=30)


def _label(dimension: str, arm: str, names: dict[int, str]) -> str:
    if dimension == "template" and arm.isdigit():
        return Path(names.get(int(arm), arm)).name
    if dimension == "hour":
        return f"{arm}:00"
    return arm


def _arms(fitted: Fitted, acc: dict, planned: list[dict], names: dict[int, str]) -> dict[str, list[dict]]:
    """Per dimension, each arm the account has evidence or picks for: posterior mean, 90% interval, evidence, picks."""
    beliefs = fitted.learner.explain(account_key(acc["id"]))
    picks: dict[tuple[str, str], int] = {}
    for job in planned:
        for dim in DIMENSIONS:
            arm = ((job.get("plan_arm") or {}).get(dim) or {}).get("arm")
            if arm is not None:
                picks[(dim, str(arm))] = picks.get((dim, str(arm)), 0) + 1
    out: dict[str, list[dict]] = {}
    for dim in DIMENSIONS:
        rows = []
        seen = set((beliefs.get(dim) or {}).keys()) | {a for d, a in picks if d == dim}
        for arm in sorted(seen):
            b = (beliefs.get(dim) or {}).get(arm) or {}
            low, high = b.get("interval") or (None, None)
            rows.append({"arm": arm, "label": _label(dim, arm, names), "mean": b.get("mean"), "low": low,
                         "high": high, "evidence": b.get("n", 0.0), "picks": picks.get((dim, arm), 0)})
        rows.sort(key=lambda r: (r["mean"] is None, -(r["mean"] or 0.0)))
        out[dim] = rows
    return out


def _tonight(planned: list[dict], names: dict[int, str]) -> list[dict]:
    """The account's jobs of the latest batch the planner made, with each choice's reason."""
    if not planned:
        return []
    batch = planned[0]["batch_id"]
    out = []
    for job in (j for j in planned if j["batch_id"] == batch):
        arm = job["plan_arm"] or {}
        out.append({"job_id": job["job_id"], "kind": job["kind"], "state": job["state"], "batch_id": batch,
                    "publish_after": job["publish_after"],
                    **{dim: {**arm[dim], "label": _label(dim, str(arm[dim]["arm"]), names)}
                       for dim in DIMENSIONS if arm.get(dim)}})
    return out


def explain(ws: Workspace, *, now: datetime, account: str | None = None) -> dict:
    """Each account's arms (posterior mean, interval, evidence, picks) and the reasons for tonight's
    choices; ``account`` (``NAME`` or ``platform:NAME``) keeps one."""
    from farm.errors import InputError
    from farm.publish import local_zone

    tz = local_zone(ws.settings.publish.timezone)
    with ws.catalog.read() as con:
        fitted = fit(con, ws.settings, metrics_dir=ws.metrics_dir, now=now, tz=tz)
        planned = catalogs.planned_jobs(con, since=now - RECENT_PLANS)
        templates = {int(p["arm"]) for j in planned for p in [(j["plan_arm"] or {}).get("template") or {}]
                     if str(p.get("arm", "")).isdigit()}
        templates |= {int(p.arms["template"]) for p in fitted.posts if p.arms.get("template", "").isdigit()}
        names = catalogs.media_names(con, sorted(templates))
    accounts = fitted.accounts
    if account is not None:
        accounts = [a for a in accounts if account in (a["username"], f"{a['platform']}:{a['username']}")]
        if not accounts:
            raise InputError(f"account {account!r}: no such account (farm accounts list)")
    cfg = ws.settings.planner
    out = []
    for acc in accounts:
        mine = [j for j in planned if j["account_id"] == acc["id"]]
        n = round(fitted.evidence(acc["id"]), 2)
        learning = fitted.learning(acc["id"])
        out.append({
            "account": f"{acc['platform']}:{acc['username']}", "id": acc["id"], "platform": acc["platform"],
            "evidence": n, "learning": learning,
            "reason": (f"learning from {n:g} weighted post(s) with a known reward" if learning else
                       f"too little data: {n:g} weighted post(s) with a known reward, needs {cfg.min_evidence}; "
                       "picks at random"),
            "ignored_days": {str(d): why for d, why in sorted(fitted.learner.ignored_days(account_key(acc["id"])).items())},
            "arms": _arms(fitted, acc, mine, names), "tonight": _tonight(mine, names),
        })
    return {"reward": fitted.reward, "today": str(fitted.today), "explore": cfg.explore, "decay": cfg.decay,
            "accounts": out}
