"""Commission rows from the affiliate networks, joined to the farm's posts by sub-id, and the revenue queries.

A commission row is one item of one order, keyed on (network, order_id, item_id, model_id).
Its ``sub_ids`` are what the network reported (Shopee's Sub_id1..5, AccessTrade's utm_content);
the one that names a post in ``affiliate_links`` sets ``job_id`` and ``platform``. Rows that
name no post are kept (``job_id`` NULL, ``sub_id`` the first raw value): "not from a farm video".

Importing the same or a newer report again never double-counts (the key is the table's
primary key) and follows :func:`newer_wins`: a row whose status is final (completed or
cancelled) is not moved back to pending by an older export.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import duckdb

from catalogs._connect import rows_as_dicts, utcnow
from catalogs._metrics import create_metric_views

__all__ = [
    "REVENUE_GROUPINGS", "FINAL_COMMISSION_STATUSES", "newer_wins", "upsert_commissions", "match_sub_ids",
    "commission_count", "revenue_by", "revenue_unmatched", "revenue_per_day",
]

REVENUE_GROUPINGS = ("video", "account", "product", "template", "platform")
FINAL_COMMISSION_STATUSES = ("completed", "cancelled")

# Columns a commission row brings, in the table's names; the key comes first.
_KEY = ("network", "order_id", "item_id", "model_id")
_VALUES = ("checkout_id", "status", "raw_status", "ordered_at", "clicked_at", "completed_at", "order_value",
           "commission", "net_commission", "currency", "sub_ids", "sub_id", "job_id", "platform", "channel",
           "item_name")


def _get(row: Any, name: str, default=None):
    return row.get(name, default) if isinstance(row, dict) else getattr(row, name, default)


def _sub_id_parts(values: Iterable[str]) -> list[str]:
    """Each reported sub-id, and its '-'-separated parts (Shopee's API joins Sub_id1..5 with '-')."""
    out: list[str] = []
    for value in values:
        text = str(value or "").strip()
        if not text:
            continue
        for part in (text, *text.split("-")):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out


def match_sub_ids(con: duckdb.DuckDBPyConnection, sub_ids: Iterable[str]) -> dict[str, tuple[int, str]]:
    """``{sub_id: (job_id, platform)}`` for those of ``sub_ids`` that name a post in ``affiliate_links``."""
    wanted = _sub_id_parts(sub_ids)
    if not wanted:
        return {}
    rows = con.execute("SELECT sub_id, job_id, platform FROM affiliate_links WHERE sub_id IN (SELECT unnest(?))",
                       [wanted]).fetchall()
    return {sub_id: (int(job_id), platform) for sub_id, job_id, platform in rows}


def newer_wins(old: dict, new: dict) -> bool:
    """Whether ``new`` (from the file being imported) replaces the stored ``old`` row of the same key.

    The rule, decided by the rows themselves, not by the order files are imported in:

    - a final status (completed, cancelled) is never moved back to pending: a pending row after a
      final one can only come from an older export;
    - between two final statuses (Shopee may cancel a completed order at the month's check), the
      row with the later completion time wins; when either has none, the file imported last wins;
    - otherwise (pending to pending, pending to final) the file imported last wins, so amounts a
      network fills in later (AccessTrade reports 0 while an order is held) are taken.
    """
    if old["status"] in FINAL_COMMISSION_STATUSES and new["status"] == "pending":
        return False
    if old["status"] in FINAL_COMMISSION_STATUSES and new["status"] in FINAL_COMMISSION_STATUSES \
            and old["status"] != new["status"]:
        before, after = old.get("completed_at"), new.get("completed_at")
        if before is not None and after is not None and after < before:
            return False
    return True


def _as_record(row: Any, links: dict[str, tuple[int, str]]) -> dict:
    """One incoming row (a ``farm.revenue.Commission`` or a dict) as table columns, its sub-id matched."""
    rec = {c: _get(row, c) for c in _KEY}
    rec["item_id"] = str(rec["item_id"] or "")
    rec["model_id"] = str(rec["model_id"] or "")
    for c in _VALUES:
        rec[c] = _get(row, c)
    raw = [str(s).strip() for s in (_get(row, "sub_ids") or ()) if str(s or "").strip()]
    rec["sub_ids"] = json.dumps(raw, ensure_ascii=False)
    rec["currency"] = rec["currency"] or "VND"
    rec["sub_id"], rec["job_id"], rec["platform"] = (raw[0] if raw else None), None, None
    for part in _sub_id_parts(raw):
        if part in links:
            rec["sub_id"] = part
            rec["job_id"], rec["platform"] = links[part]
            break
    return rec


def _existing(con: duckdb.DuckDBPyConnection, records: list[dict]) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    by_network: dict[str, set[str]] = {}
    for r in records:
        by_network.setdefault(r["network"], set()).add(r["order_id"])
    for network, orders in by_network.items():
        rows = rows_as_dicts(con.execute(
            f"SELECT {', '.join(_KEY + _VALUES)} FROM commissions WHERE network = ? AND order_id IN (SELECT unnest(?))",
            [network, sorted(orders)]))
        for r in rows:
            out[tuple(r[c] for c in _KEY)] = r
    return out


def _same(a: dict, b: dict) -> bool:
    def norm(v):
        return round(v, 6) if isinstance(v, float) else v

    return all(norm(a.get(c)) == norm(b.get(c)) for c in _VALUES)


def _register(con: duckdb.DuckDBPyConnection, records: list[dict], *, source: str, at: datetime) -> None:
    """``records`` as the relation ``revenue_incoming`` (one bulk statement beats a statement per row)."""
    import pyarrow as pa

    text, stamp, number = pa.string(), pa.timestamp("us"), pa.float64()
    types = {"ordered_at": stamp, "clicked_at": stamp, "completed_at": stamp, "order_value": number,
             "commission": number, "net_commission": number, "job_id": pa.int64()}
    columns = {c: pa.array([r[c] for r in records], type=types.get(c, text)) for c in _KEY + _VALUES}
    columns["source"] = pa.array([source] * len(records), type=text)
    columns["written_at"] = pa.array([at] * len(records), type=stamp)
    con.register("revenue_incoming", pa.table(columns))


def upsert_commissions(con: duckdb.DuckDBPyConnection, rows: Iterable[Any], *, source: str,
                       now: datetime | None = None) -> dict:
    """Insert or update commission rows; returns ``{"new", "updated", "unchanged", "matched", "unmatched"}``.

    ``rows`` are ``farm.revenue.Commission`` objects (or dicts with the same names). A key seen
    twice in ``rows`` counts once as new and then as unchanged (or updated). ``matched`` and
    ``unmatched`` count distinct keys whose sub-id does, or does not, name a farm post.
    ``source`` (a file name, ``api:shopee``) is recorded on rows written. Call it inside
    ``ws.catalog.write()`` so one import is one transaction.
    """
    rows = list(rows)
    links = match_sub_ids(con, [s for r in rows for s in (_get(r, "sub_ids") or ())])
    records = [_as_record(r, links) for r in rows]
    stored = _existing(con, records)
    at = now or utcnow()
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    inserts: dict[tuple, dict] = {}
    updates: dict[tuple, dict] = {}
    for rec in records:
        key = tuple(rec[c] for c in _KEY)
        old = stored.get(key)
        if old is None:
            stored[key] = rec
            inserts[key] = rec
            counts["new"] += 1
            continue
        if not newer_wins(old, rec):
            # a stale status, but a sub-id that now names a post is still worth knowing
            rec = {**old, **{c: rec[c] for c in ("sub_id", "job_id", "platform")}} if rec["job_id"] else old
        if _same(old, rec):
            counts["unchanged"] += 1
            continue
        stored[key] = rec
        (inserts if key in inserts else updates)[key] = rec
        counts["updated"] += 1
    cols = ", ".join(_KEY + _VALUES)
    if inserts:
        _register(con, list(inserts.values()), source=source, at=at)
        con.execute(f"INSERT INTO commissions ({cols}, source, imported_at, updated_at) "
                    f"SELECT {cols}, source, written_at, written_at FROM revenue_incoming")
        con.unregister("revenue_incoming")
    if updates:
        _register(con, list(updates.values()), source=source, at=at)
        con.execute(f"UPDATE commissions SET {', '.join(f'{c} = i.{c}' for c in _VALUES)}, source = i.source, "
                    f"updated_at = i.written_at FROM revenue_incoming i "
                    f"WHERE {' AND '.join(f'commissions.{c} = i.{c}' for c in _KEY)}")
        con.unregister("revenue_incoming")
    final = {tuple(r[c] for c in _KEY): r for r in records}
    counts["matched"] = sum(1 for k in final if stored[k]["job_id"] is not None)
    counts["unmatched"] = len(final) - counts["matched"]
    return counts


def commission_count(con: duckdb.DuckDBPyConnection) -> int:
    """How many commission rows the catalog holds (all networks, all times)."""
    return int(con.execute("SELECT count(*) FROM commissions").fetchone()[0])


# -- the revenue queries ----------------------------------------------------------------
_AT = "coalesce(c.ordered_at, c.imported_at)"
_AMOUNT = "coalesce(c.net_commission, c.commission, 0)"
_MONEY = (
    "count(DISTINCT c.order_id) FILTER (WHERE c.status <> 'cancelled') AS orders, "
    "count(DISTINCT c.order_id) FILTER (WHERE c.status = 'cancelled') AS orders_cancelled, "
    "count(*) AS items, "
    f"coalesce(sum({_AMOUNT}) FILTER (WHERE c.status = 'pending'), 0) AS commission_pending, "
    f"coalesce(sum({_AMOUNT}) FILTER (WHERE c.status = 'completed'), 0) AS commission_validated, "
    f"coalesce(sum({_AMOUNT}) FILTER (WHERE c.status = 'cancelled'), 0) AS commission_cancelled"
)
# grouping -> (key columns as "SQL AS name", the columns that identify a group)
_GROUPS = {
    "video": (["c.job_id AS job_id", "c.platform AS platform"], ["job_id", "platform"]),
    "account": (["p.account_id AS account_id", "p.account AS account", "c.platform AS platform"],
                ["account_id", "account", "platform"]),
    "product": (["p.product_id AS product_id", "p.product AS product"], ["product_id", "product"]),
    "template": (["p.template_id AS template_id", "p.template AS template"], ["template_id", "template"]),
    "platform": (["c.platform AS platform"], ["platform"]),
}
_VIDEO_EXTRA = ("account_id", "account", "sub_id", "product_id", "product", "template", "title")
_METRIC_COLUMNS = {"upload": "VARCHAR", "at": "TIMESTAMP", "views": "BIGINT", "job_id": "BIGINT",
                   "platform": "VARCHAR", "available": "BOOLEAN"}


def _latest_views(con: duckdb.DuckDBPyConnection, metrics_dir: str | os.PathLike | None) -> None:
    """Temp view ``revenue_views``: each (job_id, platform)'s latest view count from the metric history.

    Snapshots written before a column existed lack it; their post is read from the ``upload``
    key (``<job>:<platform>``, or ``<platform>:<job>`` in the oldest files).
    """
    if metrics_dir is None:
        con.execute("CREATE OR REPLACE TEMP VIEW revenue_views AS "
                    "SELECT NULL::BIGINT AS job_id, NULL::VARCHAR AS platform, NULL::BIGINT AS views WHERE false")
        return
    create_metric_views(con, metrics_dir)
    have = {r[0] for r in con.execute("DESCRIBE metrics").fetchall()}
    cols = ", ".join(f'"{c}"' if c in have else f'NULL::{t} AS "{c}"' for c, t in _METRIC_COLUMNS.items())
    con.execute(
        "CREATE OR REPLACE TEMP VIEW revenue_views AS "
        "WITH m AS (SELECT coalesce(job_id, TRY_CAST(regexp_extract(upload, '^(\\d+):', 1) AS BIGINT), "
        "                  TRY_CAST(regexp_extract(upload, ':(\\d+)$', 1) AS BIGINT)) AS job_id, "
        "           coalesce(platform, nullif(regexp_extract(upload, '^\\d+:(.+)$', 1), ''), "
        "                    nullif(regexp_extract(upload, '^(.+):\\d+$', 1), '')) AS platform, \"at\", views "
        f"           FROM (SELECT {cols} FROM metrics) WHERE coalesce(available, true) AND views IS NOT NULL "
        "           AND \"at\" IS NOT NULL) "
        "SELECT job_id, platform, arg_max(views, \"at\") AS views FROM m WHERE job_id IS NOT NULL "
        "GROUP BY job_id, platform"
    )


def _posts_view(con: duckdb.DuckDBPyConnection, metrics_dir: str | os.PathLike | None) -> None:
    """Temp view ``revenue_posts``: every post (uploaded, or named by a commission) with what it was made of."""
    _latest_views(con, metrics_dir)
    con.execute(
        "CREATE OR REPLACE TEMP VIEW revenue_posts AS "
        "WITH k AS (SELECT job_id, platform FROM uploads "
        "           UNION SELECT job_id, platform FROM commissions WHERE job_id IS NOT NULL) "
        "SELECT k.job_id, k.platform, u.account_id, a.username AS account, j.product_id, pr.name AS product, "
        "       t.media_id AS template_id, regexp_extract(tm.path, '[^/\\\\]+$', 0) AS template, "
        "       json_extract_string(j.post_metadata, '$.\"' || k.platform || '\".title') AS title, "
        "       l.sub_id, v.views, coalesce(u.published_at, u.created_at) AS posted_at "
        "FROM k LEFT JOIN uploads u ON u.job_id = k.job_id AND u.platform = k.platform "
        "LEFT JOIN accounts a ON a.id = u.account_id LEFT JOIN jobs j ON j.id = k.job_id "
        "LEFT JOIN products pr ON pr.id = j.product_id "
        "LEFT JOIN (SELECT job_id, arg_min(media_id, position) AS media_id FROM job_media "
        "           WHERE role = 'template' GROUP BY job_id) t ON t.job_id = k.job_id "
        "LEFT JOIN media tm ON tm.id = t.media_id "
        "LEFT JOIN affiliate_links l ON l.job_id = k.job_id AND l.platform = k.platform "
        "LEFT JOIN revenue_views v ON v.job_id = k.job_id AND v.platform = k.platform"
    )


def _per_1000(row: dict) -> None:
    for c in ("commission_pending", "commission_validated", "commission_cancelled"):
        row[c] = round(float(row[c] or 0), 2)
    views = row.get("views")
    # only what the measured posts earned goes over their views: a post with no count yet adds nothing
    measured = row.pop("earned_measured", None)
    earned = row["commission_pending"] + row["commission_validated"] if measured is None else float(measured or 0)
    row["views"] = None if views is None else int(views)
    row["commission_per_1000_views"] = round(1000.0 * earned / views, 2) if views else None


def revenue_by(con: duckdb.DuckDBPyConnection, metrics_dir: str | os.PathLike | None, *, by: str,
               since: datetime, until: datetime | None = None, limit: int | None = None) -> list[dict]:
    """Orders and commission of farm posts ordered in [``since``, ``until``), one row per group and currency.

    ``by`` is one of :data:`REVENUE_GROUPINGS`. Each row has its group's key columns (video:
    ``job_id, platform`` plus ``account, sub_id, product_id, product, template, title``; account:
    ``account_id, account, platform``; product: ``product_id, product``; template: ``template_id,
    template``; platform: ``platform``) and ``currency, orders`` (distinct orders not cancelled),
    ``orders_cancelled, items, commission_pending, commission_validated`` (completed),
    ``commission_cancelled``, ``views`` (the latest counts of the group's posts published in the
    window or earning in it; NULL when none was measured) and ``commission_per_1000_views``
    (pending plus validated per 1,000 of those views). Amounts are the net commission (the
    item's commission when the network gives no net). Largest earners first.
    """
    select, names = _GROUPS[by]
    extra = [f"any_value(p.{c}) AS {c}" for c in _VIDEO_EXTRA] if by == "video" else []
    where = f"c.job_id IS NOT NULL AND {_AT} >= ?" + (f" AND {_AT} < ?" if until else "")
    params = [since, until] if until else [since]
    _posts_view(con, metrics_dir)
    keys = ", ".join(select)
    money = rows_as_dicts(con.execute(
        f"SELECT {keys}, {', '.join(extra) + ', ' if extra else ''}c.currency, {_MONEY}, "
        f"coalesce(sum({_AMOUNT}) FILTER (WHERE c.status <> 'cancelled' AND p.views IS NOT NULL), 0) "
        "AS earned_measured FROM commissions c LEFT JOIN revenue_posts p ON p.job_id = c.job_id AND p.platform = c.platform "
        f"WHERE {where} GROUP BY ALL", params))
    views_select = ", ".join(s.replace("c.", "p.") for s in select)
    views = con.execute(
        f"SELECT {views_select}, sum(p.views) FROM revenue_posts p WHERE p.views IS NOT NULL AND "
        "(p.posted_at >= ? OR EXISTS (SELECT 1 FROM commissions c "
        f"WHERE c.job_id = p.job_id AND c.platform = p.platform AND {where})) "
        "GROUP BY ALL", [since, *params]).fetchall()
    seen = {tuple(r[:-1]): r[-1] for r in views}
    for row in money:
        row["views"] = seen.get(tuple(row[n] for n in names))
        _per_1000(row)
        row["unmatched"] = False
    money.sort(key=lambda r: (-(r["commission_validated"] + r["commission_pending"]), -r["orders"],
                              tuple(str(r[n]) for n in names), r["currency"]))
    return money[:limit] if limit else money


def revenue_unmatched(con: duckdb.DuckDBPyConnection, *, since: datetime, until: datetime | None = None) -> list[dict]:
    """Commissions in the window whose sub-ids name no farm post, per currency (same money columns)."""
    where = f"c.job_id IS NULL AND {_AT} >= ?" + (f" AND {_AT} < ?" if until else "")
    rows = rows_as_dicts(con.execute(
        f"SELECT c.currency, {_MONEY} FROM commissions c WHERE {where} GROUP BY c.currency ORDER BY c.currency",
        [since, until] if until else [since]))
    for row in rows:
        row["views"] = None
        _per_1000(row)
        row["unmatched"] = True
    return rows


def revenue_per_day(con: duckdb.DuckDBPyConnection, *, since: datetime, until: datetime | None = None) -> list[dict]:
    """Commission per UTC day the order was placed, every row (farm posts or not): ``day, currency,
    orders, commission_pending, commission_validated, commission_cancelled``."""
    where = f"{_AT} >= ?" + (f" AND {_AT} < ?" if until else "")
    rows = rows_as_dicts(con.execute(
        f"SELECT CAST({_AT} AS DATE) AS day, c.currency, {_MONEY} FROM commissions c WHERE {where} "
        "GROUP BY ALL ORDER BY day, c.currency", [since, until] if until else [since]))
    for row in rows:
        for c in ("commission_pending", "commission_validated", "commission_cancelled"):
            row[c] = round(float(row[c] or 0), 2)
    return rows
