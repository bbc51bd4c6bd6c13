"""`farm bench planner`: the learning planner against random and round robin in a simulated world."""

from __future__ import annotations

import argparse

from farm.cli._output import print_json
from farm.errors import InputError


def add_bench_planner(bsub: argparse._SubParsersAction) -> None:
    p = bsub.add_parser("planner", help="the learning planner vs random vs round robin, as shares of an oracle's views")
    p.add_argument("--days", type=int, default=60, help="simulated days (default 60)")
    p.add_argument("--accounts", type=int, default=4, help="simulated accounts (default 4; the last one is new)")
    p.add_argument("--seed", type=int, default=1, help="the first world's random seed (default 1)")
    p.add_argument("--worlds", type=int, default=3, help="simulated worlds, seeds SEED, SEED+1, ...; the shares "
                                                         "are their mean (default 3)")
    p.add_argument("--noise-sd", type=float, default=None,
                   help="spread of a post's views around its arms' mean, sigma on log-views (default 0.5)")
    p.add_argument("--json", action="store_true", help="one JSON document with the shares and per-day curves")
    p.set_defaults(func=_cmd_bench_planner)


def _cmd_bench_planner(args: argparse.Namespace) -> int:
    from benchmarks.planner import NOISE_SD, format_report, run_planner_worlds

    if args.days < 1:
        raise InputError(f"--days must be at least 1, got {args.days}")
    if not 1 <= args.accounts <= 1000:
        raise InputError(f"--accounts must be 1 to 1000, got {args.accounts}")
    noise_sd = NOISE_SD if args.noise_sd is None else args.noise_sd
    if not 0 <= noise_sd <= 5:
        raise InputError(f"--noise-sd must be 0 to 5, got {noise_sd:g}")
    if not 1 <= args.worlds <= 100:
        raise InputError(f"--worlds must be 1 to 100, got {args.worlds}")
    report = run_planner_worlds(worlds=args.worlds, days=args.days, accounts=args.accounts, seed=args.seed,
                                noise_sd=noise_sd)
    if args.json:
        print_json(report)
    else:
        print(format_report(report))
    return 0
