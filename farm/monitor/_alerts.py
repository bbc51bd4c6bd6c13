"""Alerts: what needs the user's attention, raised once per condition, cleared when it goes, and sent to a webhook.

An alert has a key (``health:3``, ``token:3``, ``rejections:3``, ``batch:nightly-...``,
``quota:youtube``); a condition that holds on the next pass keeps its open alert instead of
raising another, and one that no longer holds is cleared. New alerts go to the process log,
to stderr, to ``farm alerts`` and, when ``alerts.webhook_url`` is set, to the webhook as a
JSON POST, retried with backoff a bounded number of times; a webhook that stays down never
holds up the farm: the alert waits as ``pending`` and is sent again on the next pass.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

import catalogs
from farm.publish import account_status
from farm.workspace import Workspace

REPEATED_REJECTIONS = 2
"""Policy rejections in 7 days that make an alert of their own."""


@dataclass(frozen=True)
class Condition:
    kind: str  # health | token | rejections | batch | quota
    key: str
    severity: str  # warning | critical
    message: str
    account_id: int | None = None
    details: dict = field(default_factory=dict)


def conditions(ws: Workspace, con, *, now: datetime, health: dict[int, object]) -> list[Condition]:
    """Every alert condition that holds now."""
    out: list[Condition] = []
    threshold = ws.settings.alerts.health_threshold
    for acc in catalogs.list_accounts(con):
        label = f"{acc['platform']}:{acc['username']}"
        h = health.get(acc["id"])
        if h is not None and h.health < threshold:
            out.append(Condition("health", f"health:{acc['id']}", "warning",
                                 f"{label}: health {h.health:.0f} is under {threshold}", acc["id"],
                                 {"health": h.health, **h.components}))
        state, why = account_status(acc, now)
        if state == "reconnect":
            out.append(Condition("token", f"token:{acc['id']}:reconnect", "critical", f"{label}: reconnect it: {why}",
                                 acc["id"],
                                 {"state": state}))
        elif state == "expiring":
            out.append(Condition("token", f"token:{acc['id']}:expiring", "warning", f"{label}: {why}", acc["id"],
                                 {"state": state}))
        failures = catalogs.upload_failures(con, acc["id"], now - timedelta(days=7))
        rejections = failures.get("PolicyError", 0) + failures.get("RightsError", 0)
        if rejections >= REPEATED_REJECTIONS:
            out.append(Condition("rejections", f"rejections:{acc['id']}", "warning",
                                 f"{label}: {rejections} posts refused by the platform in 7 days", acc["id"],
                                 {"rejections_7d": rejections}))
    limit = ws.settings.alerts.failed_batch_percent
    for batch in catalogs.nightly_batches(con, since=now - timedelta(days=2)):
        if batch["unfinished"] or not batch["jobs"]:
            continue
        share = 100.0 * batch["failed"] / batch["jobs"]
        if share > limit:
            out.append(Condition("batch", f"batch:{batch['batch_id']}", "warning",
                                 f"{batch['batch_id']}: {batch['failed']} of {batch['jobs']} jobs failed "
                                 f"({share:.0f}%, more than {limit:g}%)", None,
                                 {"jobs": batch["jobs"], "failed": batch["failed"]}))
    for hold in catalogs.active_holds(con, now):
        who = f"account {hold['account_id']}" if hold["account_id"] is not None else "the whole project"
        what = "statistics quota" if hold["bucket"] == "read" else "quota"
        key = f"quota:{hold['platform']}:{hold['account_id'] or '*'}" + ("" if hold["bucket"] == "upload"
                                                                          else f":{hold['bucket']}")
        out.append(Condition("quota", key, "warning",
                             f"{hold['platform']} {what} exhausted for {who} until {hold['until']:%Y-%m-%d %H:%M} UTC",
                             hold["account_id"], {"until": hold["until"], "reason": hold["reason"],
                                                  "bucket": hold["bucket"]}))
    return out


def sync_alerts(ws: Workspace, found: list[Condition], *, now: datetime, log=None) -> dict:
    """Raise the new conditions, clear the open alerts whose condition is gone; returns both lists."""
    webhook = bool(ws.settings.alerts.webhook_url)
    raised, cleared = [], []
    with ws.catalog.write() as con:
        open_by_key = {a["key"]: a for a in catalogs.open_alerts(con)}
        keys = {c.key for c in found}
        for c in found:
            if c.key in open_by_key:
                continue
            alert_id = catalogs.insert_alert(con, kind=c.kind, key=c.key, severity=c.severity, message=c.message,
                                             account_id=c.account_id, details=c.details, at=now, webhook=webhook)
            catalogs.log_stage(con, None, "alert", status=c.severity, detail=c.message)
            raised.append({"id": alert_id, "kind": c.kind, "key": c.key, "severity": c.severity, "message": c.message})
        for key, a in open_by_key.items():
            if key not in keys:
                catalogs.update_alert(con, a["id"], cleared_at=now)
                catalogs.log_stage(con, None, "alert", status="info", detail=f"cleared: {a['message']}")
                cleared.append({"id": a["id"], "key": key, "message": a["message"]})
    if log is not None:
        for a in raised:
            log(f"farm: alert: {a['message']}")
    return {"raised": raised, "cleared": cleared}


PASS_BUDGET_S = 60.0
"""The most one pass spends on the webhook; what is left stays pending for the next pass."""


def _post(http: httpx.Client, url: str, content: bytes, timeout_s: float) -> tuple[int | None, str]:
    """POST with a deadline on the whole exchange (httpx's timeouts bound each read, and a receiver
    that trickles its answer would hold us for ever): (status or None, what went wrong)."""
    result: dict = {}

    def run() -> None:
        try:
            resp = http.post(url, content=content, headers={"Content-Type": "application/json; charset=utf-8"})
            result["status"] = resp.status_code
        except Exception as err:  # a bad URL, a refused connection, a timeout: never the farm's crash
            result["error"] = type(err).__name__

    worker = threading.Thread(target=run, name="farm-webhook", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        return None, f"no answer within {timeout_s:g} s"
    if "status" in result:
        return result["status"], f"HTTP {result['status']}"
    return None, result.get("error", "no answer")


def deliver_webhooks(ws: Workspace, *, http: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep,
                     now: Callable[[], datetime] = catalogs.utcnow) -> dict:
    """POST every pending alert to ``alerts.webhook_url`` (JSON), each retried with backoff up to
    ``alerts.webhook_retries`` times within its timeout; what is still undelivered stays pending."""
    from farm.platforms import backoff_s

    cfg = ws.settings.alerts
    if not cfg.webhook_url:
        return {"sent": 0, "pending": 0}
    with ws.catalog.read() as con:
        pending = catalogs.pending_webhooks(con)
    if not pending:
        return {"sent": 0, "pending": 0}
    own = http is None
    http = http or httpx.Client(timeout=httpx.Timeout(cfg.webhook_timeout_s), follow_redirects=False)
    pass_deadline = time.monotonic() + PASS_BUDGET_S
    sent = 0
    try:
        for alert in pending:
            body = {"farm": "reel-farm", "workspace": str(ws.root), "id": alert["id"], "kind": alert["kind"],
                    "key": alert["key"], "severity": alert["severity"], "message": alert["message"],
                    "account_id": alert["account_id"], "details": alert["details"],
                    "raised_at": alert["raised_at"].isoformat(timespec="seconds") + "Z"}
            attempts, ok, last = 0, False, ""
            content = json.dumps(body, default=str, ensure_ascii=False).encode("utf-8")
            for attempt in range(cfg.webhook_retries + 1):
                if time.monotonic() > pass_deadline:
                    last = last or "out of time for this pass"
                    break
                attempts += 1
                status, last = _post(http, cfg.webhook_url, content, cfg.webhook_timeout_s)
                if status is not None and 200 <= status < 300:
                    ok = True
                    break
                if status is not None and status < 500 and status not in (408, 429):
                    break  # the receiver refuses it: retrying will not help
                if attempt < cfg.webhook_retries:
                    sleep(backoff_s(attempt, base_s=0.5, cap_s=5.0))
            with ws.catalog.write() as con:
                row_attempts = (alert.get("webhook_attempts") or 0) + attempts
                catalogs.update_alert(con, alert["id"], webhook_state="sent" if ok else "pending",
                                      webhook_attempts=row_attempts)
                if not ok:
                    catalogs.log_stage(con, None, "alert", status="retry",
                                       detail=f"webhook for alert {alert['id']} not delivered ({last}); tried again "
                                              "on the next pass")
            sent += ok
    finally:
        if own:
            http.close()
    return {"sent": sent, "pending": len(pending) - sent}
