"""CLI commands for publishing: `farm accounts ...` and `farm publish`."""

from __future__ import annotations

import argparse
import sys
import threading

from farm.cli._output import Progress, format_table, print_json
from farm.cli._workspace import _leaf, _ws
from farm.platforms import INTERACTIONS, PRIVACY_WORDS, platform, platform_names, platforms

ACCOUNT_COLUMNS_SHOWN = ["id", "platform", "name", "state", "privacy", "daily_cap", "cap_today", "min_gap_minutes",
                         "window", "last_posted_at"]


# -- accounts -----------------------------------------------------------------------------
def _account_options(p, *, page_help: str) -> None:
    """The options ``accounts add`` and ``accounts connect`` share."""
    p.add_argument("--name", required=True, help="the account's name in the farm (e.g. its handle)")
    p.add_argument("--page-id", default=None, metavar="ID", help=page_help)
    p.add_argument("--daily-cap", type=int, default=None, metavar="N", help="posts a day at most (default 3)")
    p.add_argument("--min-gap-minutes", type=int, default=None, metavar="M",
                   help="minutes between two posts at least (default 120)")
    p.add_argument("--window", default=None, metavar="HH:MM-HH:MM|auto",
                   help="post only inside this daily window (publish.timezone; it may wrap past midnight), or auto: "
                        "at the hours the nightly planner learns, with jitter (the minimum gap still holds)")
    p.add_argument("--warmup-days", type=int, default=None, metavar="N",
                   help="a new account's daily cap starts at 1 and grows to its cap over N days (default: [planner] "
                        "warmup_days, 14; 0: no warm-up); a reconnect keeps the warm-up it has")
    p.add_argument("--privacy", choices=PRIVACY_WORDS, default=None,
                   help="public (default) | private | unlisted | self-only | inbox (drafts finished in the app)")
    for what in INTERACTIONS:
        p.add_argument(f"--allow-{what}", action=argparse.BooleanOptionalAction, default=None,
                       help=f"let viewers {'comment' if what == 'comments' else what} where the platform has the "
                            "switch (off unless given, and never when the creator turned it off)")
    p.add_argument("--json", action="store_true")


def add_accounts(sub) -> None:
    p = sub.add_parser("accounts", help="publishing accounts: connect (in the browser), add (tokens from files), "
                       "list, enable, disable, pause, resume, remove, rotate-key")
    asub = p.add_subparsers(dest="accounts_cmd", required=True, metavar="ACTION")

    con = _leaf(asub, "connect", help="connect an account in the browser (OAuth with PKCE on a loopback redirect); an "
                "existing name is reconnected")
    con.add_argument("platform", choices=[d.name for d in platforms() if d.oauth is not None])
    _account_options(con, page_help="facebook: the Page to publish on (default: the only one the user manages)")
    con.add_argument("--no-browser", action="store_true", help="print the sign-in address alone on one line instead "
                     "of opening a browser (a server without a screen); the address the browser ends on may be "
                     "pasted on stdin")
    con.add_argument("--port", type=int, default=0, metavar="P", help="listen on this loopback port (default: a free "
                     "one; Facebook apps register a fixed one)")
    con.add_argument("--timeout", type=float, default=300.0, metavar="S", help="seconds to wait for the browser "
                     "(default 300)")
    con.set_defaults(func=_cmd_accounts_connect)

    add = _leaf(asub, "add", help="add an account with tokens from files (an existing name: reconnect it with new "
                "tokens); its tokens are stored encrypted")
    add.add_argument("platform", choices=platform_names(outbox=True))
    _account_options(add, page_help="facebook: the Page that publishes the reels")
    add.add_argument("--token-file", default=None, metavar="F",
                     help="file holding the access token (or the JSON an OAuth tool saved); not needed for local")
    add.add_argument("--refresh-token-file", default=None, metavar="F", help="file holding the refresh token")
    add.set_defaults(func=_cmd_accounts_add)

    ls = _leaf(asub, "list", help="list accounts: state, limits and what each platform will do (never a secret)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_accounts_list)

    for name, helptext in (("disable", "stop publishing to an account"), ("enable", "publish to it again"),
                           ("remove", "delete an account and its tokens")):
        c = _leaf(asub, name, help=helptext)
        c.add_argument("account", metavar="ACCOUNT", help="its id, name, or PLATFORM:NAME")
        c.add_argument("--json", action="store_true")
        c.set_defaults(func=_cmd_accounts_change, action=name)

    pause = _leaf(asub, "pause", help="stop publishing to an account for some days; it resumes by itself")
    pause.add_argument("account", metavar="ACCOUNT", help="its id, name, or PLATFORM:NAME")
    pause.add_argument("--days", type=int, required=True, metavar="N", help="days to pause (more than 0)")
    pause.add_argument("--reason", default=None, metavar="TEXT", help="why (shown in `farm accounts list` and by "
                       "`farm publish`)")
    pause.add_argument("--json", action="store_true")
    pause.set_defaults(func=_cmd_accounts_pause)

    resume = _leaf(asub, "resume", help="lift an account's pause now")
    resume.add_argument("account", metavar="ACCOUNT", help="its id, name, or PLATFORM:NAME")
    resume.add_argument("--json", action="store_true")
    resume.set_defaults(func=_cmd_accounts_resume)

    rot = _leaf(asub, "rotate-key", help="re-encrypt every stored token under a new key")
    rot.add_argument("--json", action="store_true")
    rot.set_defaults(func=_cmd_accounts_rotate)


def _allow(args) -> dict:
    return {what: getattr(args, f"allow_{what}") for what in INTERACTIONS}


def _warmup_days(args, ws) -> int:
    """``--warmup-days``, else ``[planner] warmup_days``; checked before anything is stored."""
    from farm.errors import InputError

    days = ws.settings.planner.warmup_days if args.warmup_days is None else args.warmup_days
    if days < 0:
        raise InputError(f"Invalid --warmup-days ({days}). Supported: 0 or more (0: no warm-up).")
    return int(days)


def _say_account(ws, acc: dict, *, json_out: bool, verb: str, extra: dict | None = None) -> None:
    from farm.publish import list_account_rows

    row = next(r for r in list_account_rows(ws) if r["id"] == acc["id"])
    notes = [n for n in acc.get("notes") or [] if n not in row["warnings"]]
    if json_out:
        print_json({**row, "reconnected": acc.get("reconnected", False), "warnings": row["warnings"] + notes,
                    **(extra or {})})
        return
    who = f" ({row['remote_name']})" if row.get("remote_name") else ""
    print(f"{verb} {row['platform']}:{row['name']}{who} (id {row['id']}); its tokens are stored encrypted")
    for line in (extra or {}).get("can", []) + _account_notes(row):
        print(f"  {line}")
    for note in row["warnings"] + notes:
        print(f"  warning: {note}")


def _cmd_accounts_add(args) -> int:
    from farm.publish import add_account

    ws = _ws(args)
    acc = add_account(ws, args.platform, username=args.name, token_file=args.token_file,
                      refresh_token_file=args.refresh_token_file, page_id=args.page_id, daily_cap=args.daily_cap,
                      min_gap_min=args.min_gap_minutes, window=args.window, privacy=args.privacy, allow=_allow(args),
                      warmup_days=_warmup_days(args, ws))
    _say_account(ws, acc, json_out=args.json, verb="reconnected" if acc.get("reconnected") else "added")
    return 0


def _cmd_accounts_connect(args) -> int:
    from farm.publish import ConnectOptions, connect_account

    ws = _ws(args)
    options = ConnectOptions(name=args.name, page_id=args.page_id, privacy=args.privacy, daily_cap=args.daily_cap,
                             min_gap_min=args.min_gap_minutes, window=args.window, allow=_allow(args),
                             warmup_days=_warmup_days(args, ws), browser=not args.no_browser, port=args.port,
                             timeout_s=args.timeout)
    say = (lambda url: print(url, file=sys.stderr, flush=True)) if args.json and not args.no_browser else \
        (lambda url: print(url, flush=True))
    acc = connect_account(ws, args.platform, options, say=say)
    descriptor = platform(args.platform)
    granted = acc.get("granted") or []
    oauth = descriptor.oauth
    can = [f"can publish: yes ({', '.join(s.rsplit('/', 1)[-1] for s in oauth.required)})"]
    stats = oauth.statistics_scope
    if stats:
        ok = not granted or stats in granted
        can.append(f"statistics: {'yes' if ok else 'no'} ({stats.rsplit('/', 1)[-1]}"
                   + ("" if ok else ": not granted; reconnect to allow statistics") + ")")
    _say_account(ws, acc, json_out=args.json, verb="reconnected" if acc.get("reconnected") else "connected",
                 extra={"can": can, "granted": granted})
    return 0


def _cmd_accounts_list(args) -> int:
    from farm.publish import list_account_rows

    rows = list_account_rows(_ws(args))
    if args.json:
        print_json(rows)
        return 0
    print(format_table(rows, ACCOUNT_COLUMNS_SHOWN) if rows else "(no accounts: connect one with `farm accounts "
          "connect`)")
    for r in rows:  # the table cuts long cells; what the user must know is printed whole
        for note in _account_notes(r) + r["warnings"]:
            print(f"{r['platform']}:{r['name']}: {note}")
    return 0


def _account_notes(row: dict) -> list[str]:
    """The pause and the warm-up of a listed account, as lines."""
    notes = []
    if row["state"] == "paused":
        until = f"paused until {row['paused_until']:%Y-%m-%d %H:%M} UTC"
        notes.append(until + (f" ({row['pause_reason']})" if row.get("pause_reason") else "") + "; it resumes by "
                     "itself (or `farm accounts resume`)")
    if row.get("warmup"):
        notes.append(f"{row['warmup']}: {row['cap_today']} post(s) today of its cap of {row['daily_cap']}")
    return notes


def _cmd_accounts_pause(args) -> int:
    from farm.publish import pause_account

    acc = pause_account(_ws(args), args.account, days=args.days, reason=args.reason)
    doc = {"id": acc["id"], "platform": acc["platform"], "name": acc["username"], "action": "paused",
           "state": "paused", "paused_until": acc["paused_until"], "pause_reason": acc["pause_reason"]}
    if args.json:
        print_json(doc)
    else:
        why = f" ({acc['pause_reason']})" if acc["pause_reason"] else ""
        print(f"paused {acc['platform']}:{acc['username']} (id {acc['id']}) until {acc['paused_until']:%Y-%m-%d %H:%M} "
              f"UTC{why}: nothing is published to it until then; it resumes by itself")
    return 0


def _cmd_accounts_resume(args) -> int:
    from farm.publish import list_account_rows, resume_account

    ws = _ws(args)
    acc = resume_account(ws, args.account)
    row = next(r for r in list_account_rows(ws) if r["id"] == acc["id"])
    if args.json:
        print_json({"id": acc["id"], "platform": acc["platform"], "name": acc["username"], "action": "resumed",
                    "was_paused": acc["was_paused"], "state": row["state"]})
    elif acc["was_paused"]:
        print(f"resumed {acc['platform']}:{acc['username']} (id {acc['id']}): it may publish again (state "
              f"{row['state']})")
    else:
        print(f"{acc['platform']}:{acc['username']} (id {acc['id']}) was not paused (state {row['state']})")
    return 0


def _cmd_accounts_change(args) -> int:
    from farm.publish import remove_account, set_active

    ws = _ws(args)
    if args.action == "remove":
        acc = remove_account(ws, args.account)
        verb = "removed"
    else:
        acc = set_active(ws, args.account, args.action == "enable")
        verb = f"{args.action}d"
    if args.json:
        print_json({"id": acc["id"], "platform": acc["platform"], "name": acc["username"], "action": verb})
    else:
        print(f"{verb} {acc['platform']}:{acc['username']} (id {acc['id']})")
    return 0


def _cmd_accounts_rotate(args) -> int:
    from farm.publish import rotate_key

    out = rotate_key(_ws(args))
    if args.json:
        print_json(out)
    else:
        print(f"re-encrypted the tokens of {out['accounts']} account(s) under key {out['key_id']} ({out['source']})")
        if not out["old_keys_dropped"]:
            print("  the other keys in FARM_SECRET_KEYS are no longer needed: remove them from the variable")
    return 0


# -- publish ------------------------------------------------------------------------------
def add_publish(sub) -> None:
    p = _leaf(sub, "publish", help="upload due ready videos to the accounts, exactly once per platform")
    p.add_argument("--once", action="store_true", help="one pass, then exit (default: a pass every "
                   "publish.sweep_interval_s until stopped)")
    p.add_argument("--platform", choices=platform_names(outbox=True), default=None, help="only this platform")
    p.add_argument("--dry-run", action="store_true", help="print which account would take which job, and why")
    p.add_argument("--local", action="store_true", help="upload in this process instead of on Ray actors")
    p.add_argument("--address", default=None, metavar="ADDR", help="Ray cluster to join (default: a local Ray)")
    p.add_argument("--json", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_cmd_publish)


class _BarReporter:
    def __init__(self, bar: Progress, *, echo: bool) -> None:
        self.bar, self.echo = bar, echo
        self.sent: dict = {}
        self.grand = 0
        self.uploads = 0
        self.ended = 0

    def total(self, n: int, *, uploads: int = 0) -> None:
        self.grand += n
        self.uploads += uploads
        self.bar.update(sum(self.sent.values()), self.grand)
        self.bar.status(f"0/{self.uploads} uploads")

    def finished(self, outcome) -> None:
        self.ended += 1
        self.bar.status(f"{self.ended}/{self.uploads} uploads")

    def progress(self, key, sent_bytes: int) -> None:
        self.sent[key] = sent_bytes
        self.bar.update(sum(self.sent.values()))

    def note(self, text: str) -> None:
        if self.echo:
            self.bar.note(text)


def _print_sweep(result, *, dry_run: bool) -> None:
    for notice in result.notices:
        print(f"note: {notice}")
    if dry_run:
        for r in result.refused:
            print(f"refused: {r['message']}")
        for a in result.assignments:
            head = f"job {a['job_id']} -> {a['account']}" if a["account"] else f"job {a['job_id']} -> {a['platform']}: " \
                f"waiting ({a['wait']})"
            print(head)
            for reason in a["reasons"]:
                print(f"    {reason}")
        if not result.assignments and not result.refused:
            print("nothing due to publish")
        return
    for o in result.outcomes:
        print(f"job {o.job_id} -> {o.account}: {o.status}: {o.message}")
    for a in result.assignments:
        if a["account"] is None:
            print(f"job {a['job_id']} -> {a['platform']}: waiting: {a['wait']}")
    for r in result.refused:
        print(f"refused: {r['message']}")
    if not result.outcomes and not result.assignments and not result.refused:
        print("nothing due to publish")


def _uploader() -> type:
    from actors import Uploader

    return Uploader


def _cmd_publish(args) -> int:
    from farm.locks import WorkspaceLock
    from farm.publish import StopFlag, sweep

    ws = _ws(args)
    if args.dry_run:
        result = sweep(ws, platform=args.platform, dry_run=True)
        print_json(result.as_dict()) if args.json else _print_sweep(result, dry_run=True)
        return 0
    stop = StopFlag()
    if not args.once and threading.current_thread() is threading.main_thread():
        stop.install()
    failed = False
    with WorkspaceLock(ws.state_dir / "publish.lock", what="farm publish").acquire(wait_s=0):
        while True:
            with Progress("upload", unit="B", unit_scale=True, quiet=args.json or args.quiet) as bar:
                result = sweep(ws, platform=args.platform, local=args.local, address=args.address,
                               reporter=_BarReporter(bar, echo=False), uploader=None if args.local else _uploader())
            failed = failed or bool(result.refused) or any(o.status == "failed" for o in result.outcomes)
            if args.json:
                print_json(result.as_dict())
            else:
                _print_sweep(result, dry_run=False)
            sys.stdout.flush()
            if args.once or stop.event.wait(ws.settings.publish.sweep_interval_s):
                break
    return 1 if failed else 0

