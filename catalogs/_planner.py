"""What the learning planner reads: each post's arms (account, template, mood, hour), its views
over time and its validated commission; the jobs it planned and why."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

from catalogs._connect import rows_as_dicts
from catalogs._publishing import _REUSES_SOURCE

__all__ = ["posted_arms", "view_snapshots", "validated_commission", "planned_jobs", "account_original_mix", "set_job_plan",
           "product_views_orders", "policy_rejections", "media_names"]


def posted_arms(con: duckdb.DuckDBPyConnection, *, since: datetime) -> list[dict]:
    """Every upload made public since ``since`` with what it was made of: its account, the job's
    kind, template (media id and file), music mood and the planner's record (``plan_arm``)."""
    rows = rows_as_dicts(con.execute(
        """
        SELECT u.job_id, u.platform, u.account_id, a.username, u.published_at, j.kind, j.product_id, j.plan_arm,
               (SELECT min(jm.media_id) FROM job_media jm WHERE jm.job_id = j.id AND jm.role = 'template')
                   AS template_id,
               (SELECT min(m.mood) FROM job_media jm JOIN media m ON m.id = jm.media_id
                 WHERE jm.job_id = j.id AND jm.role = 'music') AS mood
        FROM uploads u JOIN jobs j ON j.id = u.job_id JOIN accounts a ON a.id = u.account_id
        WHERE u.state = 'published' AND u.published_at IS NOT NULL AND u.published_at >= ?
        ORDER BY u.published_at, u.job_id
        """, [since]))
    for r in rows:
        r["plan_arm"] = json.loads(r["plan_arm"]) if isinstance(r["plan_arm"], str) else r["plan_arm"]
    return rows


def view_snapshots(con: duckdb.DuckDBPyConnection, *, since: datetime) -> dict[tuple[int, str], list[tuple]]:
    """(job id, platform) -> [(at, views), ...] in time order, from the metric history (call
    ``create_metric_views`` on ``con`` first); snapshots of a video the platform did not show are left out."""
    out: dict[tuple[int, str], list[tuple]] = {}
    for job_id, platform, at, views in con.execute(
            'SELECT job_id, platform, "at", views FROM metrics WHERE coalesce(available, true) AND views IS NOT NULL '
            'AND job_id IS NOT NULL AND "at" >= ? ORDER BY job_id, platform, "at"', [since]).fetchall():
        out.setdefault((int(job_id), str(platform)), []).append((at, int(views)))
    return out


def validated_commission(con: duckdb.DuckDBPyConnection) -> dict[tuple[int, str], tuple[float, int]]:
    """(job id, platform) -> (validated net commission, orders still pending) of the post's sub-id; amounts are
    summed as numbers (the planner compares posts of one account, which sells in one currency)."""
    return {(int(j), str(p)): (float(v or 0), int(n or 0)) for j, p, v, n in con.execute(
        "SELECT job_id, platform, sum(coalesce(net_commission, commission, 0)) FILTER (WHERE status = 'completed'), "
        "count(*) FILTER (WHERE status = 'pending') FROM commissions WHERE job_id IS NOT NULL "
        "GROUP BY 1, 2").fetchall()}


def planned_jobs(con: duckdb.DuckDBPyConnection, *, since: datetime, account_id: int | None = None) -> list[dict]:
    """Jobs the learning planner chose since ``since`` (newest first), with its record of why."""
    sql = ("SELECT id AS job_id, kind, platform, state, account_id, batch_id, publish_after, created_at, plan_arm "
           "FROM jobs WHERE plan_arm IS NOT NULL AND created_at >= ?")
    params: list = [since]
    if account_id is not None:
        sql += " AND account_id = ?"
        params.append(int(account_id))
    rows = rows_as_dicts(con.execute(sql + " ORDER BY created_at DESC, id DESC", params))
    for r in rows:
        r["plan_arm"] = json.loads(r["plan_arm"]) if isinstance(r["plan_arm"], str) else r["plan_arm"]
    return rows


def account_original_mix(con: duckdb.DuckDBPyConnection, *, since: datetime) -> dict[int, tuple[int, int]]:
    """account id -> (originals, posts) since ``since``: its uploads as ``account_post_mix`` counts them, plus
    the jobs planned for it (``jobs.account_id``) that have no upload yet; originals as ``job_is_original``."""
    rows = con.execute(
        f"""
        WITH posts AS (
            SELECT u.account_id, u.job_id FROM uploads u
            WHERE u.state <> 'failed' AND coalesce(u.started_at, u.created_at) >= ?
            UNION ALL
            SELECT j.account_id, j.id FROM jobs j
            WHERE j.account_id IS NOT NULL AND j.state NOT IN ('failed', 'cancelled') AND j.created_at >= ?
              AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.job_id = j.id))
        SELECT p.account_id,
               count(*) FILTER (WHERE j.id IS NULL OR j.kind = 'promo' OR NOT {_REUSES_SOURCE.format(job='p.job_id')}),
               count(*)
        FROM posts p LEFT JOIN jobs j ON j.id = p.job_id GROUP BY p.account_id
        """, [since, since]).fetchall()
    return {int(a): (int(o), int(n)) for a, o, n in rows}


def set_job_plan(con: duckdb.DuckDBPyConnection, job_id: int, *, account_id: int | None,
                 publish_after: datetime | None, plan_arm: dict) -> None:
    """Record the planner's choice on a job: the account it goes to, its earliest publish time, and why."""
    con.execute("UPDATE jobs SET account_id = ?, publish_after = ?, plan_arm = ? WHERE id = ?",
                [account_id, publish_after, json.dumps(plan_arm, ensure_ascii=False, default=str), int(job_id)])


def product_views_orders(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Each product promoted in a published post: its posts' latest views summed, and its orders (distinct
    order ids of commissions joined to its posts by sub-id); call ``create_metric_views`` first."""
    return rows_as_dicts(con.execute(
        """
        WITH latest AS (SELECT job_id, platform, arg_max(views, "at") AS views FROM metrics
                        WHERE views IS NOT NULL AND job_id IS NOT NULL GROUP BY 1, 2),
             posts AS (SELECT j.product_id, u.job_id, u.platform FROM uploads u JOIN jobs j ON j.id = u.job_id
                       WHERE u.state = 'published' AND j.product_id IS NOT NULL)
        SELECT p.id AS product_id, p.name, count(DISTINCT (posts.job_id, posts.platform)) AS posts,
               coalesce(sum(latest.views), 0) AS views,
               (SELECT count(DISTINCT c.order_id) FROM commissions c JOIN jobs cj ON cj.id = c.job_id
                 WHERE cj.product_id = p.id) AS orders
        FROM posts JOIN products p ON p.id = posts.product_id
        LEFT JOIN latest ON latest.job_id = posts.job_id AND latest.platform = posts.platform
        GROUP BY p.id, p.name ORDER BY views DESC
        """))


def policy_rejections(con: duckdb.DuckDBPyConnection, *, since: datetime) -> dict[int, int]:
    """account id -> uploads the platform refused on policy grounds since ``since``."""
    return {int(a): int(n) for a, n in con.execute(
        "SELECT account_id, count(*) FROM uploads WHERE state = 'failed' AND error_class = 'PolicyError' "
        "AND coalesce(updated_at, created_at) >= ? GROUP BY 1", [since]).fetchall()}


def media_names(con: duckdb.DuckDBPyConnection, ids: list[int]) -> dict[int, str]:
    """media id -> its file path, for naming template arms."""
    if not ids:
        return {}
    return {int(i): str(p) for i, p in con.execute(
        f"SELECT id, path FROM media WHERE id IN ({', '.join('?' * len(ids))})", [int(i) for i in ids]).fetchall()}
