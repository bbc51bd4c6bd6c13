"""The ``farm`` command line: parsing, dispatch, and one line on stderr (with an exit code) per error."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from farm.cli import _doctor, _monitor, _plan, _publish, _render, _report, _revenue, _schedule, _serve, _workspace
from farm.errors import FarmError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="farm", description="reel farm: batch renders for short-form video")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _workspace.add_workspace_option(parser, top=True)
    _render.add_mashup(sub)
    _render.add_promo(sub)
    _workspace.add_init(sub)
    _workspace.add_media(sub)
    _workspace.add_products(sub)
    _workspace.add_queue(sub)
    _workspace.add_logs(sub)
    _workspace.add_sql(sub)
    _workspace.add_nightly(sub)
    _publish.add_accounts(sub)
    _publish.add_publish(sub)
    _monitor.add_monitor(sub)
    _render.add_bench(sub)
    _render.add_demo(sub)
    _doctor.add_doctor(sub)
    _schedule.add_schedule(sub)
    _schedule.add_scheduler(sub)
    _report.add_report(sub)
    _revenue.add_revenue(sub)
    _plan.add_plan(sub)
    _plan.add_recommend(sub)
    _serve.add_serve(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except FarmError as err:
        print(f"farm: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("farm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as err:  # a bug: one line unless FARM_DEBUG asks for the traceback
        if os.environ.get("FARM_DEBUG"):
            raise
        print(f"farm: internal error: {type(err).__name__}: {err} (set FARM_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1


def run() -> None:
    """Console entry point: run the CLI, flush, and exit without interpreter teardown.

    Unloading torch and the codec libraries at exit takes a noticeable part of a second
    and does nothing useful for a finished command; every output is already closed,
    fsynced and renamed into place by then.
    """
    rc = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(rc)


if __name__ == "__main__":
    run()
