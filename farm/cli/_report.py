"""CLI command `farm report`: one self-contained HTML page of charts over the last nights."""

from __future__ import annotations

from farm.cli._output import print_json
from farm.cli._workspace import _ws, add_workspace_option


def add_report(sub) -> None:
    from farm.report import DEFAULT_DAYS, MAX_DAYS

    p = sub.add_parser("report", help="write an HTML report with charts over the last nights (viewable offline)")
    add_workspace_option(p)
    p.add_argument("--days", default=str(DEFAULT_DAYS), metavar="N",
                   help=f"calendar days (UTC) up to today to cover, 1 to {MAX_DAYS} (default {DEFAULT_DAYS})")
    p.add_argument("-o", "--output", default="report.html", metavar="FILE",
                   help="the HTML file to write (default: report.html in the current folder)")
    p.add_argument("--json", action="store_true", help="print what was written as one JSON document")
    p.set_defaults(func=_cmd_report)


def _cmd_report(args) -> int:
    from farm.report import parse_days, write_report

    days = parse_days(args.days)  # before the workspace: a bad value is the first thing said
    result = write_report(_ws(args), args.output, days=days)
    if args.json:
        print_json(result.as_dict())
        return 0
    s = result.summary
    print(f"{result.path}: {len(result.charts)} charts over the last {s.days} days "
          f"({s.rendered} rendered, {s.published} published, {s.failed} failed, {s.views:,} views)")
    if result.empty_charts:
        print(f"  no data yet: {', '.join(result.empty_charts)}")
    if s.attention:
        print(f"  {len(s.attention)} account(s) need attention: "
              + ", ".join(f"{a.username} ({a.platform})" for a in s.attention))
    return 0
