"""`farm revenue`: commission reports in (import, sync) and what each video earned out."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from farm.cli._output import Progress, format_table, print_json
from farm.cli._workspace import _ws, add_workspace_option
from farm.errors import InputError, UnavailableError

# Spelled out, not read from farm.revenue, so building the parser loads nothing (tests check they agree).
GROUPINGS = ("video", "account", "product", "template", "platform")
SYNC_NETWORKS = ("shopee", "accesstrade")
_NO_COMMISSIONS = ("no commissions yet: import the dashboard's commission report with "
                   "`farm revenue import FILE.csv` (Shopee or AccessTrade), or set the network keys in "
                   "[affiliate] and run `farm revenue sync`")


def add_revenue(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("revenue", help="what each video earned (commission reports joined to videos by sub-id)",
                       description="Orders and commission per video, account, product, template or platform. "
                                   "Subcommands: import FILE.csv, sync.")
    add_workspace_option(p)
    p.add_argument("--days", default="30", metavar="N", help="orders placed in the last N days (default 30)")
    p.add_argument("--by", default="video", choices=GROUPINGS, help="one row per ... (default video)")
    p.add_argument("--json", action="store_true", help="print one JSON document: a list of rows")
    p.set_defaults(func=_cmd_revenue)
    rsub = p.add_subparsers(dest="revenue_command", metavar="COMMAND")

    imp = rsub.add_parser("import", help="read a commission report CSV exported from the affiliate dashboard")
    add_workspace_option(imp)
    imp.add_argument("file", metavar="FILE.csv")
    imp.add_argument("--network", choices=("shopee", "accesstrade", "auto"), default="auto",
                     help="whose report it is (default: told from its columns)")
    imp.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    imp.set_defaults(func=_cmd_import)

    sync = rsub.add_parser("sync", help="fetch commissions through the networks' report APIs")
    add_workspace_option(sync)
    sync.add_argument("--days", default=argparse.SUPPRESS, metavar="N", help="orders of the last N days (default 30)")
    sync.add_argument("--network", choices=(*SYNC_NETWORKS, "all"), default="all",
                      help="which network (default: every one with credentials)")
    sync.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    sync.set_defaults(func=_cmd_sync)


def _money(row: dict) -> str:
    return (f"{row['orders']} order(s), pending {row['commission_pending']:,.2f}, "
            f"validated {row['commission_validated']:,.2f}, cancelled {row['commission_cancelled']:,.2f} "
            f"{row['currency']}")


def _cmd_revenue(args) -> int:
    from farm.revenue import REVENUE_KEY_COLUMNS, REVENUE_MONEY_COLUMNS, check_revenue_days, revenue_report

    days = check_revenue_days(args.days)
    ws = _ws(args)
    rows = revenue_report(ws, days=days, by=args.by)
    if args.json:
        print_json(rows)
        return 0
    videos = [r for r in rows if not r["unmatched"]]
    others = [r for r in rows if r["unmatched"]]
    if not rows:
        import catalogs

        with ws.catalog.read() as con:
            stored = catalogs.commission_count(con)
        print(f"no commissions in the last {days} days" + (f" ({stored} older; try a larger --days)" if stored
                                                          else f" ({_NO_COMMISSIONS})"))
        return 0
    print(format_table(videos, [*REVENUE_KEY_COLUMNS[args.by], *REVENUE_MONEY_COLUMNS]) if videos
          else f"no commission in the last {days} days came from a farm video")
    for r in others:
        print(f"not from a farm video: {_money(r)}")
    return 0


def _cmd_import(args) -> int:
    from farm.revenue import import_commissions

    result = import_commissions(_ws(args), args.file, network=args.network)
    if getattr(args, "json", False):
        print_json(result)
        return 0
    print(f"{result['file']} ({result['network']}): {result['rows']} row(s): {result['new']} new, "
          f"{result['updated']} updated, {result['unchanged']} unchanged; {result['matched']} from farm videos, "
          f"{result['unmatched']} not from a farm video")
    if result["unknown_statuses"]:
        words = ", ".join(f"{w!r} x{n}" for w, n in sorted(result["unknown_statuses"].items()))
        print(f"  read as pending (status words this release does not know): {words}")
    return 0


def _sync_networks(ws, wanted: str) -> list[str]:
    """The networks to fetch: those asked for that have credentials; InputError naming the settings otherwise."""
    from farm.revenue import network, networks

    settings = ws.settings.affiliate
    chosen = networks() if wanted == "all" else [network(wanted)]
    ready = [n.name for n in chosen if n.has_credentials(settings)]
    if not ready:
        raise InputError("; ".join(n.missing(settings) or f"no {n.name} credentials" for n in chosen)
                         + " (or import the dashboard's CSV with `farm revenue import FILE.csv`)")
    return ready


def _print_sync(result) -> None:
    """One line per network: rows read and what the catalog made of them, or why it was skipped."""
    if not isinstance(result, dict) or not isinstance(result.get("networks"), dict):
        print(result)
        return
    for name, outcome in result["networks"].items():
        if "skipped" in outcome:
            print(f"{name}: skipped ({outcome['skipped']})")
        elif "error" in outcome:
            print(f"{name}: failed ({outcome['error']})")
        else:
            stored = outcome.get("stored") or {}
            counts = ", ".join(f"{stored[k]} {k}" for k in ("new", "updated", "unchanged") if k in stored)
            matched = f"; {stored['matched']} from farm videos" if "matched" in stored else ""
            print(f"{name}: {outcome.get('rows', 0)} row(s) ({counts}){matched}")


def _cmd_sync(args) -> int:
    import catalogs
    from farm.revenue import check_revenue_days

    days = check_revenue_days(getattr(args, "days", "30"))
    as_json = getattr(args, "json", False)
    ws = _ws(args)
    networks = _sync_networks(ws, args.network)
    try:
        from farm.revenue import sync_commissions
    except ImportError:
        raise UnavailableError("`farm revenue sync` is not available in this build; "
                               "import the dashboard's CSV with `farm revenue import FILE.csv`") from None
    until = catalogs.utcnow()
    with Progress("sync", unit="row", quiet=as_json) as bar:
        def on_event(*event) -> None:
            kind, data = event if len(event) == 2 else event[0]
            if kind == "page" and isinstance(data, dict):
                bar.step(int(data.get("rows") or 0))
                bar.status(str(data.get("network", "")))

        result = sync_commissions(ws, since=until - timedelta(days=days), until=until, networks=networks,
                                  on_event=on_event)
    if as_json:
        print_json(result)
    else:
        _print_sync(result)
    failed = [o for o in result.get("networks", {}).values() if isinstance(o, dict) and "error" in o]
    if failed:  # one network failing does not stop the others, but a scheduled sync must not look fine
        print(f"farm: error: {len(failed)} network(s) failed; the others were synced", file=sys.stderr)
        return 1
    return 0
