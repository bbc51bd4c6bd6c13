"""`farm revenue`: commission reports in (import, sync) and what each video earned out."""

from __future__ import annotations

import argparse


def add_revenue(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("revenue", help="what each video earned (commission reports joined to videos by sub-id)")
