"""Typed access to ``affiliate_links``: each post's affiliate link and sub-id, made once per (job, platform)."""

from __future__ import annotations

import duckdb

from catalogs._connect import rows_as_dicts, utcnow
from farm.errors import InputError

__all__ = ["LINK_COLUMNS", "get_links", "save_link", "job_for_sub_id", "links_for_sub_ids"]

LINK_COLUMNS = ("job_id", "platform", "sub_id", "product_id", "network", "origin_url", "url", "tracked", "note",
                "created_at", "updated_at")


def get_links(con: duckdb.DuckDBPyConnection, job_id: int) -> list[dict]:
    """The job's links, one per platform, by platform name."""
    return rows_as_dicts(con.execute(
        f"SELECT {', '.join(LINK_COLUMNS)} FROM affiliate_links WHERE job_id = ? ORDER BY platform", [int(job_id)]))


def save_link(con: duckdb.DuckDBPyConnection, *, job_id: int, platform: str, sub_id: str, url: str,
              tracked: bool, product_id: int | None = None, network: str | None = None,
              origin_url: str | None = None, note: str | None = None) -> dict:
    """Store a post's link unless the (job, platform) has one already; returns the stored row
    (the earlier one when another process got there first: a link is made once).

    Raises:
        InputError: the sub-id is already another post's.
    """
    try:
        con.execute(
            "INSERT INTO affiliate_links (job_id, platform, sub_id, product_id, network, origin_url, url, tracked, "
            "note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, platform) DO NOTHING",
            [int(job_id), platform, sub_id, product_id, network, origin_url, url, bool(tracked), note, utcnow()])
    except duckdb.ConstraintException:
        other = job_for_sub_id(con, sub_id)
        raise InputError(f"sub-id {sub_id} is already job {other['job_id'] if other else '?'}'s "
                         f"({other['platform'] if other else '?'}); it cannot be job {job_id}'s too") from None
    rows = rows_as_dicts(con.execute(
        f"SELECT {', '.join(LINK_COLUMNS)} FROM affiliate_links WHERE job_id = ? AND platform = ?",
        [int(job_id), platform]))
    return rows[0]


def job_for_sub_id(con: duckdb.DuckDBPyConnection, sub_id: str) -> dict | None:
    """The post a sub-id belongs to: its link row (``job_id``, ``platform``, ...), or None."""
    rows = rows_as_dicts(con.execute(
        f"SELECT {', '.join(LINK_COLUMNS)} FROM affiliate_links WHERE sub_id = ?", [sub_id]))
    return rows[0] if rows else None


def links_for_sub_ids(con: duckdb.DuckDBPyConnection, sub_ids: list[str]) -> dict[str, dict]:
    """``{sub_id: link row}`` for those of ``sub_ids`` that are known (a join for many rows at once)."""
    wanted = sorted({s for s in sub_ids if s})
    if not wanted:
        return {}
    rows = rows_as_dicts(con.execute(
        f"SELECT {', '.join(LINK_COLUMNS)} FROM affiliate_links WHERE sub_id IN ({', '.join('?' for _ in wanted)})",
        wanted))
    return {r["sub_id"]: r for r in rows}
