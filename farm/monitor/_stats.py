"""Statistics of published videos through the platforms' official APIs, appended to the Parquet `metrics` history.

One snapshot row per published upload and run: the counts the platform gives (YouTube has
no share count; TikTok gives none for private or inbox posts, which are recorded as
unavailable, never as zero), and the engagement rate computed from those counts only.
Before measuring, published uploads a platform still owes an id about are asked again
(``follow_up``): a TikTok post's statistics start once its public id arrives.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import catalogs
from farm.errors import AuthError, FarmError, QuotaError, ScopeError
from farm.platforms import platform
from farm.publish import StepRunner, follow_up, mark_missing_scope, with_token
from farm.workspace import Workspace


def engagement_rate(views: int | None, likes: int | None, comments: int | None,
                    shares: int | None) -> float | None:
    """(likes + comments + shares) / views over the counts given (a missing one counts as absent,
    not as zero: the caller notes it); None without views."""
    if not views:
        return None
    return sum(v for v in (likes, comments, shares) if v is not None) / views


@dataclass
class StatsRun:
    """What one pass measured: snapshot rows written, per-account problems."""

    rows: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        available = [r for r in self.rows if r["available"]]
        return {"videos": len(self.rows), "with_statistics": len(available),
                "views": sum(r["views"] or 0 for r in available), "problems": self.problems}


def collect_stats(ws: Workspace, *, now: datetime, runner=None, sleep=None) -> StatsRun:
    """Fetch every published video's statistics (batched per account by the client) and append them
    to the ``metrics`` Parquet history under ``date=<today>``.

    Args:
        runner: a :class:`farm.publish.StepRunner` (its HTTP client and keyring); one is made if None.
    """
    run = StatsRun()
    with ws.catalog.read() as con:
        pending = catalogs.pending_uploads(con)
    own = runner is None
    runner = runner or StepRunner(ws.root, sleep=sleep)
    try:
        if pending:
            run.problems += [line for line in follow_up(ws, runner, now=now) if "was not asked" in line]
        with ws.catalog.read() as con:
            uploads = catalogs.published_uploads(con)
            accounts = {a["id"]: a for a in catalogs.list_accounts(con)}
            holds = {(h["platform"], h["account_id"]) for h in catalogs.active_holds(con, now, bucket="read")}
        by_account: dict[int, list[dict]] = defaultdict(list)
        for u in uploads:
            by_account[u["account_id"]].append(u)
        for account_id, items in by_account.items():
            acc = accounts.get(account_id)
            if acc is None:
                continue
            held = (acc["platform"], None) in holds or (acc["platform"], account_id) in holds
            stats = _account_stats(ws, runner, acc, items, run, now=now, held=held)
            run.rows += [_row(u, acc, stats, now=now) for u in items]
    finally:
        if own:
            runner.close()
    catalogs.append_metrics(ws.metrics_dir, "metrics", run.rows, at=now)
    return run


def _account_stats(ws: Workspace, runner, acc: dict, items: list[dict], run: StatsRun, *, now: datetime,
                   held: bool) -> dict:
    """One account's statistics by remote id ({} when none could be read; the reason in ``run.problems``)."""
    descriptor = platform(acc["platform"])
    label = f"{acc['platform']}:{acc['username']}"
    measurable = [u for u in items if u["remote_id"] and u["state"] == "published"]
    if not measurable or not descriptor.stats.available:
        return {}
    if acc.get("needs_reconnect") or acc.get("key_problem"):
        run.problems.append(f"{label}: needs reconnect; statistics not fetched")
        return {}
    if acc.get("missing_scope"):
        run.problems.append(f"{label}: reconnect to allow statistics (the token lacks {acc['missing_scope']})")
        return {}
    if held:
        run.problems.append(f"{label}: the statistics quota is spent; statistics wait for its reset")
        return {}
    privacy = {u["remote_id"]: u["privacy"] or "public" for u in measurable}
    try:
        return _fetch(ws, runner, acc, privacy, run, now=now)
    except QuotaError as err:
        reset = err.reset_at or now + timedelta(hours=1)
        with ws.catalog.write() as con:  # the quota alert says it; the next pass waits
            catalogs.add_hold(con, acc["platform"], until=reset, reason=f"{acc['platform']} statistics quota spent",
                              account_id=None if err.scope == "project" else acc["id"], bucket="read")
        run.problems.append(f"{label}: statistics quota spent; statistics wait for {reset:%Y-%m-%d %H:%M} UTC")
    except ScopeError as err:
        mark_missing_scope(ws, acc, err.scope, str(err))
        run.problems.append(f"{label}: reconnect to allow statistics ({err})")
    except FarmError as err:
        run.problems.append(f"{label}: statistics not fetched ({err})")
    return {}


def _fetch(ws: Workspace, runner, acc: dict, privacy: dict[str, str], run: StatsRun, *, now: datetime) -> dict:
    """The platform's statistics for ``privacy``'s ids; one video the platform will not describe
    (deleted, another Page's) does not cost the others theirs: then each is asked on its own."""
    label = f"{acc['platform']}:{acc['username']}"
    client = runner.client(acc["platform"], acc["username"])
    with ws.catalog.read() as con:
        client.retired_metrics = frozenset(catalogs.retired_metrics(con, acc["platform"]))

    def ask(ids: list[str]):
        return with_token(ws, acc, client, runner.keyring,
                          lambda token: client.video_stats(token, ids, privacy={i: privacy[i] for i in ids}), now=now)

    try:
        stats = ask(list(privacy))
    except (QuotaError, AuthError):
        raise
    except FarmError as err:
        if len(privacy) == 1:
            raise
        stats = _one_by_one(ask, privacy, run, label=label, first=err)
    _record(ws, acc, client, len(privacy), run, now=now)
    return stats


def _one_by_one(ask, privacy: dict[str, str], run: StatsRun, *, label: str, first: FarmError) -> dict:
    """Each video asked on its own: a video refused (another Page's, deleted) is a problem of its own;
    only when every video is refused does the account's error stand (a scope it lacks, say)."""
    stats: dict = {}
    refused: list[FarmError] = []
    for rid in privacy:
        try:
            stats.update(ask([rid]))
        except (QuotaError, AuthError):
            raise
        except FarmError as one:
            refused.append(one)
            run.problems.append(f"{label}: video {rid}: statistics refused ({one})")
    if not stats:
        raise next((e for e in refused if isinstance(e, ScopeError)), first)
    return stats


def _record(ws: Workspace, acc: dict, client, asked: int, run: StatsRun, *, now: datetime) -> None:
    """The statistics calls made (a quota cost, where the platform counts one), and metrics the
    platform retired (said once, never asked for again)."""
    stats = platform(acc["platform"]).stats
    with ws.catalog.write() as con:
        if stats.call:
            for _ in range(-(-asked // max(1, stats.batch))):
                catalogs.record_call(con, acc["platform"], stats.call, account_id=acc["id"], at=now)
        for metric, message in client.newly_retired().items():
            if catalogs.retire_metric(con, acc["platform"], metric, message):
                line = (f"{acc['platform']}: the metric {metric} is retired ({message}); the other statistics are "
                        "read without it")
                run.problems.append(line)
                catalogs.log_stage(con, None, "monitor", status="info", detail=line[:2000])


def _row(u: dict, acc: dict, stats: dict, *, now: datetime) -> dict:
    """One snapshot row: the counts given, or unavailable with the reason, never zeros."""
    descriptor = platform(acc["platform"])
    st = stats.get(u["remote_id"]) if u["remote_id"] else None
    row = {"upload": f"{u['job_id']}:{u['platform']}", "at": now, "job_id": u["job_id"],
           "platform": u["platform"], "account_id": acc["id"], "remote_id": u["remote_id"],
           "available": False, "views": None, "likes": None, "comments": None, "shares": None,
           "engagement_rate": None, "shares_missing": False, "note": None}
    if u["state"] == "inbox":
        row["note"] = f"a draft in the {descriptor.label} inbox: no statistics until it is posted"
    elif not descriptor.stats.available:
        row["note"] = "posted by hand: no statistics"
    elif not u["remote_id"] and u.get("pending"):
        row["note"] = f"no {u['pending']} yet (the platform is still reviewing the post)"
    elif not u["remote_id"]:
        privacy = u.get("privacy") or "public"
        row["note"] = (f"{privacy} post: {descriptor.label} gives no statistics" if privacy != "public"
                       else "the platform gave no id for it")
    elif st is None:
        row["note"] = "not measured this run"
    else:
        row.update(available=bool(st.available), note=st.note)
        if st.available:
            row.update(views=st.views, likes=st.likes, comments=st.comments, shares=st.shares,
                       shares_missing=st.shares is None,
                       engagement_rate=engagement_rate(st.views, st.likes, st.comments, st.shares))
            if st.shares is None and not row["note"]:
                row["note"] = f"{descriptor.label} gives no share count: engagement without shares"
    return row
