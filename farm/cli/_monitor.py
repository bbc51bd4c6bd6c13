"""CLI commands for watching the farm: `farm monitor` and `farm alerts`."""

from __future__ import annotations

import sys
import threading
from datetime import timedelta

import catalogs
from farm.cli._output import format_table, print_json
from farm.cli._workspace import _leaf, _ws

MONITOR_INTERVAL_S = 3600.0
"""How often `farm monitor` without --once measures (the schedule runs it with --once, daily)."""


def add_monitor(sub) -> None:
    p = _leaf(sub, "monitor", help="fetch published videos' statistics, score account health, raise alerts")
    p.add_argument("--once", action="store_true", help=f"one pass, then exit (default: a pass every "
                   f"{MONITOR_INTERVAL_S / 60:g} minutes until stopped)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_monitor)

    a = _leaf(sub, "alerts", help="the alerts that are open (and, with --days, the recent ones)")
    a.add_argument("--days", type=float, default=None, metavar="N", help="also alerts raised in the last N days")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=_cmd_alerts)


def _print_pass(doc: dict) -> None:
    st = doc["statistics"]
    print(f"statistics: {st['with_statistics']} of {st['videos']} published video(s) measured, {st['views']} views")
    for h in doc["health"]:
        c = h["components"]
        print(f"  {h['account']:<28} health {h['health']:5.1f}   token {c['token_state']}, "
              f"{c['upload_failures_7d']} failure(s) and {c['policy_rejections_7d']} rejection(s) in 7 days")
    for a in doc["alerts"]["raised"]:
        print(f"alert ({a['severity']}): {a['message']}")
    for a in doc["alerts"]["cleared"]:
        print(f"cleared: {a['message']}")
    hooks = doc["webhook"]
    if hooks.get("sent") or hooks.get("pending"):
        print(f"webhook: {hooks['sent']} sent, {hooks['pending']} still pending")


def _cmd_monitor(args) -> int:
    from farm.monitor import monitor_once
    from farm.publish import StopFlag

    ws = _ws(args)
    stop = StopFlag()
    if not args.once and threading.current_thread() is threading.main_thread():
        stop.install()
    while True:
        doc = monitor_once(ws, log=lambda line: print(line, file=sys.stderr))
        print_json(doc) if args.json else _print_pass(doc)
        sys.stdout.flush()
        if args.once or stop.event.wait(MONITOR_INTERVAL_S):
            return 0


def _cmd_alerts(args) -> int:
    ws = _ws(args)
    with ws.catalog.read() as con:
        if args.days is not None:
            rows = catalogs.recent_alerts(con, catalogs.utcnow() - timedelta(days=args.days))
        else:
            rows = catalogs.open_alerts(con)
    if args.json:
        print_json(rows)
        return 0
    shown = [{"id": r["id"], "severity": r["severity"], "raised_at": r["raised_at"],
              "state": "cleared" if r["cleared_at"] else "open", "webhook": r["webhook_state"] or "-",
              "message": r["message"]} for r in rows]
    print(format_table(shown) if rows else "(no alerts)")
    for r in rows:  # the table cuts long messages
        if len(r["message"]) > 57:
            print(f"{r['id']}: {r['message']}")
    return 0
