"""`farm plan explain` and `farm recommend`: what the planner learned and what to do about it."""

from __future__ import annotations

import argparse


def add_plan(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("plan", help="the learning planner: each arm's posterior and tonight's reasons")


def add_recommend(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("recommend", help="best and worst templates, moods and hours; accounts and products to look at")
