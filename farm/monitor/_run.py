"""One monitoring pass: statistics, account health, alerts and their webhook, in that order."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime

import catalogs
from farm.monitor._alerts import conditions, deliver_webhooks, sync_alerts
from farm.monitor._health import account_health
from farm.monitor._stats import collect_stats
from farm.publish import local_zone
from farm.workspace import Workspace


def monitor_once(ws: Workspace, *, now: Callable[[], datetime] = catalogs.utcnow,
                 sleep: Callable[[float], None] = time.sleep, log=None, http=None, runner=None) -> dict:
    """Fetch statistics, score every account's health, raise and clear alerts, send the webhook.

    Returns a summary: statistics fetched, health per account, alerts raised and cleared,
    webhook deliveries. ``log`` gets one line per new alert (stderr by default).
    """
    log = log or (lambda line: print(line, file=sys.stderr))
    at = now()
    stats = collect_stats(ws, now=at, runner=runner, sleep=sleep)
    for problem in stats.problems:
        log(f"farm: monitor: {problem}")
    with ws.catalog.read() as con:
        catalogs.create_metric_views(con, ws.metrics_dir)
        accounts = catalogs.list_accounts(con)
        tz = local_zone(ws.settings.publish.timezone)
        health = {a["id"]: account_health(con, a, now=at, tz=tz) for a in accounts}
    with ws.catalog.write() as con:
        for h in health.values():
            catalogs.insert_health(con, h.account_id, h.health, h.components, at=at)
    with ws.catalog.read() as con:
        found = conditions(ws, con, now=at, health=health)
    alerts = sync_alerts(ws, found, now=at, log=log)
    hooks = deliver_webhooks(ws, http=http, sleep=sleep, now=now)
    names = {a["id"]: f"{a['platform']}:{a['username']}" for a in accounts}
    return {
        "at": at, "statistics": stats.summary(),
        "health": [{"account_id": h.account_id, "account": names[h.account_id], "health": round(h.health, 1),
                    "components": h.components} for h in health.values()],
        "alerts": alerts, "webhook": hooks,
    }
