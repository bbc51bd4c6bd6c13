"""Statistics of published videos through the platforms' official APIs, appended to the Parquet `metrics` history.

One snapshot row per published upload and run: the counts the platform gives (YouTube has
no share count; TikTok gives none for private or inbox posts, which are recorded as
unavailable, never as zero), and the engagement rate computed from those counts only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import catalogs
from farm.errors import AuthError, FarmError, QuotaError
from farm.platforms import YOUTUBE_STATS_BATCH
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
    from farm.publish import StepRunner, load_tokens, needs_refresh, refresh_account

    with ws.catalog.read() as con:
        uploads = catalogs.published_uploads(con)
        accounts = {a["id"]: a for a in catalogs.list_accounts(con)}
    run = StatsRun()
    if not uploads:
        return run
    own = runner is None
    runner = runner or StepRunner(ws.root, sleep=sleep)
    try:
        by_account: dict[int, list[dict]] = defaultdict(list)
        for u in uploads:
            by_account[u["account_id"]].append(u)
        for account_id, items in by_account.items():
            acc = accounts.get(account_id)
            if acc is None:
                continue
            label = f"{acc['platform']}:{acc['username']}"
            measurable = [u for u in items if u["remote_id"] and u["state"] == "published"
                          and acc["platform"] != "local"]
            stats: dict = {}
            if measurable and not acc.get("needs_reconnect"):
                client = runner.client(acc["platform"], acc["username"])
                privacy = {u["remote_id"]: u["privacy"] or "public" for u in measurable}
                try:
                    tokens = load_tokens(ws, acc, runner.keyring)
                    if needs_refresh(tokens, now):
                        tokens = refresh_account(ws, acc, client, tokens, runner.keyring)
                    try:
                        stats = client.video_stats(tokens.access_token, list(privacy), privacy=privacy)
                    except AuthError:
                        tokens = refresh_account(ws, acc, client, tokens, runner.keyring)
                        stats = client.video_stats(tokens.access_token, list(privacy), privacy=privacy)
                    except QuotaError:
                        raise
                    except FarmError as err:
                        # one video the platform will not describe (deleted, another Page's) must not cost the
                        # others theirs: ask for each on its own
                        stats = {}
                        for rid in privacy:
                            try:
                                stats.update(client.video_stats(tokens.access_token, [rid],
                                                                 privacy={rid: privacy[rid]}))
                            except QuotaError:
                                raise
                            except FarmError as one:
                                run.problems.append(f"{label}: video {rid}: statistics refused ({one})")
                        if not stats:
                            raise err
                    if acc["platform"] == "youtube":
                        with ws.catalog.write() as con:  # videos.list: 1 unit of the project's 10,000 a day
                            for _ in range(-(-len(privacy) // YOUTUBE_STATS_BATCH)):
                                catalogs.record_call(con, "youtube", "list", account_id=account_id, at=now)
                except QuotaError as err:
                    reset = err.reset_at or now + timedelta(hours=1)
                    with ws.catalog.write() as con:  # the quota alert says it; the next pass waits
                        catalogs.add_hold(con, acc["platform"], until=reset, reason=f"{acc['platform']} quota spent",
                                          account_id=None if acc["platform"] == "youtube" else account_id)
                    run.problems.append(f"{label}: quota spent; statistics wait for {reset:%Y-%m-%d %H:%M} UTC")
                except FarmError as err:
                    run.problems.append(f"{label}: statistics not fetched ({err})")
            elif measurable:
                run.problems.append(f"{label}: needs reconnect; statistics not fetched")
            for u in items:
                st = stats.get(u["remote_id"]) if u["remote_id"] else None
                row = {"upload": f"{u['job_id']}:{u['platform']}", "at": now, "job_id": u["job_id"],
                       "platform": u["platform"], "account_id": account_id, "remote_id": u["remote_id"],
                       "available": False, "views": None, "likes": None, "comments": None, "shares": None,
                       "engagement_rate": None, "shares_missing": False, "note": None}
                if u["state"] == "inbox":
                    row["note"] = "a TikTok draft in the inbox: no statistics until it is posted"
                elif acc["platform"] == "local":
                    row["note"] = "posted by hand: no statistics"
                elif st is None:
                    row["note"] = "not measured this run"
                else:
                    row.update(available=bool(st.available), note=st.note)
                    if st.available:
                        row.update(views=st.views, likes=st.likes, comments=st.comments, shares=st.shares,
                                   shares_missing=st.shares is None,
                                   engagement_rate=engagement_rate(st.views, st.likes, st.comments, st.shares))
                        if st.shares is None and not row["note"]:
                            row["note"] = f"{acc['platform']} gives no share count: engagement without shares"
                run.rows.append(row)
    finally:
        if own:
            runner.close()
    catalogs.append_metrics(ws.metrics_dir, "metrics", run.rows, at=now)
    return run
