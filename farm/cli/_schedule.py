"""CLI commands for the unattended schedule: `farm schedule` (crontab and systemd timers) and `farm scheduler`."""

from __future__ import annotations

import shlex
import sys
from datetime import datetime

from farm.cli._output import format_table, print_json
from farm.cli._workspace import _leaf, _ws


# -- schedule -------------------------------------------------------------------------------
def add_schedule(sub) -> None:
    p = _leaf(sub, "schedule", help="print the crontab lines and systemd timers that run the farm; --install "
              "writes them for you")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--install", action="store_true",
                      help="write them for the current user: systemd user timers where systemd runs, else the "
                      "crontab (running it again changes nothing)")
    what.add_argument("--uninstall", action="store_true", help="remove this workspace's timers and crontab block")
    p.add_argument("--via", choices=("auto", "systemd", "crontab"), default="auto",
                   help="with --install: where to install (default: systemd if `systemctl --user` answers)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_schedule)


def _cmd_schedule(args) -> int:
    from farm.schedule import install_schedule, scheduled_tasks, uninstall_schedule

    ws = _ws(args)
    tasks = scheduled_tasks(ws)
    if args.install:
        report = install_schedule(tasks, root=ws.root, via=args.via)
        if args.json:
            print_json(report.as_dict())
            return 0
        if not report.changed:
            print(f"already installed ({report.method}): nothing changed")
        else:
            where = f": {len(report.files)} unit file(s) written" if report.method == "systemd" and report.files else ""
            print(f"installed {len(tasks)} task(s) for this user via {report.method}{where}")
            for cmd in report.commands:
                print(f"  ran: {' '.join(cmd)}")
        for note in report.notes:
            print(f"note: {note}")
        return 0
    if args.uninstall:
        reports = uninstall_schedule(root=ws.root)
        if args.json:
            print_json([r.as_dict() for r in reports])
            return 0
        removed = [r.method for r in reports if r.changed]
        print(f"removed this workspace's {' and '.join(removed)} schedule" if removed else "nothing to remove")
        return 0
    doc = _schedule_doc(ws, tasks)
    if args.json:
        print_json(doc)
        return 0
    print(f"# reel farm schedule for {ws.root} (cron times in this machine's time zone, {doc['timezone']})")
    rows = [{"task": t["task"], "cron": t["cron"], "next_run": t["next_run"], "command": shlex.join(t["command"])}
            for t in doc["tasks"]]
    print("\n".join("# " + line for line in format_table(rows).splitlines()))
    print("\n# ---- crontab (`farm schedule --install` where systemd does not run, or paste into `crontab -e`)")
    print(doc["crontab"], end="")
    print(f"\n# ---- systemd user units (`farm schedule --install` writes them to {doc['systemd']['unit_dir']})")
    for name, text in doc["systemd"]["units"].items():
        print(f"# ==> {name} <==")
        print(text)
    return 0


def _schedule_doc(ws, tasks) -> dict:
    from tzlocal import get_localzone

    from farm.schedule import crontab_block, systemd_unit_dir, systemd_units, unit_name

    tz = get_localzone()
    now = datetime.now(tz)
    entries = []
    for t in tasks:
        upcoming = t.cron_expr.trigger(timezone=tz).get_next_fire_time(None, now)
        entries.append({**t.as_dict(), "unit": unit_name(ws.root, t.name),
                        "next_run": upcoming.strftime("%Y-%m-%d %H:%M") if upcoming else None})
    return {
        "workspace": str(ws.root),
        "timezone": str(tz),
        "tasks": entries,
        "crontab": crontab_block(tasks, root=ws.root),
        "systemd": {"unit_dir": str(systemd_unit_dir()), "units": systemd_units(tasks, root=ws.root)},
    }


# -- scheduler ------------------------------------------------------------------------------
def add_scheduler(sub) -> None:
    p = _leaf(sub, "scheduler", help="run every task on its cron schedule in one long-lived process, for machines "
              "without cron (stop with SIGTERM or Ctrl-C)")
    p.add_argument("--grace-s", type=float, default=20.0, metavar="S",
                   help="on stop, how long running tasks get to finish before they are terminated (default 20)")
    p.add_argument("--json", action="store_true", help="one JSON object per run on stdout")
    p.add_argument("--run", default=None, metavar="TASK", choices=("nightly", "publish", "monitor", "cleanup"),
                   help="run this one task now and record it, as cron and systemd start them (a run of it still "
                   "going: recorded as skipped)")
    p.set_defaults(func=_cmd_scheduler)


def _cmd_scheduler(args) -> int:
    from farm.errors import InputError
    from farm.schedule import run_scheduler

    if args.run:
        from farm.schedule import run_task_once

        return run_task_once(_ws(args), args.run)
    if not args.grace_s >= 0:
        raise InputError(f"--grace-s must be 0 or more, not {args.grace_s}")

    def on_run(record) -> None:
        if args.json:
            print_json(record.as_dict())
        else:
            print(record.line())
        sys.stdout.flush()

    return run_scheduler(_ws(args), grace_s=args.grace_s, on_run=on_run)
