"""`farm bench planner`: the learning planner against random and round robin in a simulated world."""

from __future__ import annotations

import argparse


def add_bench_planner(bsub: argparse._SubParsersAction) -> None:
    bsub.add_parser("planner", help="the learning planner vs random vs round robin, as shares of an oracle's views")
