"""`farm plan explain` and `farm recommend`: what the planner learned and what to do about it."""

from __future__ import annotations

import argparse

from farm.cli._output import format_table, print_json
from farm.cli._workspace import _leaf, _ws

ARMS_SHOWN = 6  # per dimension in the text view; --json has them all


def add_plan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="the learning planner: each arm's posterior and tonight's reasons")
    psub = p.add_subparsers(dest="plan", required=True, metavar="ACTION")
    e = _leaf(psub, "explain", help="per account: each template, mood and hour's posterior mean, 90% interval, "
                                    "evidence and picks, and why tonight's jobs were chosen")
    e.add_argument("--account", default=None, metavar="NAME", help="one account (NAME or platform:NAME)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_cmd_explain)


def add_recommend(sub: argparse._SubParsersAction) -> None:
    p = _leaf(sub, "recommend", help="best and worst templates, moods and hours; accounts and products to look at")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_recommend)


def _cmd_explain(args) -> int:
    import catalogs
    from farm.revenue import explain_plan

    doc = explain_plan(_ws(args), now=catalogs.utcnow(), account=args.account)
    if args.json:
        print_json(doc)
        return 0
    print(f"reward: {doc['reward']} · decay {doc['decay']:g} a day · at least {doc['explore']:.0%} of picks explore")
    if not doc["accounts"]:
        print("no accounts: the nightly plans as before (farm accounts connect PLATFORM)")
    for acc in doc["accounts"]:
        print(f"\n{acc['account']}: {acc['reason']}")
        for day, why in acc["ignored_days"].items():
            print(f"  not learned from: {day} ({why})")
        for dim, rows in acc["arms"].items():
            if rows:
                print(f"  {dim}:")
                shown = [{"arm": r["label"], "mean": r["mean"], "low": r["low"], "high": r["high"],
                          "evidence": r["evidence"], "picks": r["picks"]} for r in rows[:ARMS_SHOWN]]
                print("    " + format_table(shown).replace("\n", "\n    "))
        for job in acc["tonight"]:
            why = "; ".join(f"{dim} {job[dim]['label']}: {job[dim]['reason']}" for dim in ("template", "mood", "hour")
                            if dim in job)
            print(f"  job {job['job_id']} ({job['batch_id']}): {why}")
    return 0


def _cmd_recommend(args) -> int:
    import catalogs
    from farm.revenue import recommend

    doc = recommend(_ws(args), now=catalogs.utcnow())
    if args.json:
        print_json(doc)
        return 0
    for a in doc["arms"]:
        lines = [f"{dim}: best {v['best']['label']}, worst {v['worst']['label']}" for dim, v in a.items()
                 if isinstance(v, dict) and "best" in v]
        print(f"{a['account']}: " + ("; ".join(lines) if lines else a["reason"]))
    for a in doc["low_engagement"]:
        print(f"{a['account']}: engagement {a['engagement']:.1%} over {a['days']} days: {a['advice']}")
    for p in doc["products_without_orders"]:
        print(f"product {p['product_id']} ({p['name']}): {p['views']} views, no orders: {p['advice']}")
    for r in doc["pause"]:
        print(f"{r['account']}: {'; '.join(r['reasons'])}: pause it for {r['days']} days: {r['command']}")
    if not any((doc["arms"], doc["low_engagement"], doc["products_without_orders"], doc["pause"])):
        print("nothing to recommend yet: publish, run `farm monitor`, and import commissions")
    return 0
