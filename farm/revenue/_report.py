"""What each video (account, product, template, platform) earned: `farm revenue`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from farm.errors import InputError

Grouping = Literal["video", "account", "product", "template", "platform"]
GROUPINGS: tuple[str, ...] = ("video", "account", "product", "template", "platform")
DEFAULT_DAYS = 30
MAX_DAYS = 3660
# Each grouping's columns, in the order a table shows them (the money columns follow).
KEY_COLUMNS = {
    "video": ("job_id", "platform", "account", "sub_id", "product_id", "title"),
    "account": ("account_id", "account", "platform"),
    "product": ("product_id", "product"),
    "template": ("template_id", "template"),
    "platform": ("platform",),
}
MONEY_COLUMNS = ("orders", "commission_pending", "commission_validated", "commission_cancelled", "currency",
                 "views", "commission_per_1000_views")


def check_days(days) -> int:
    """``--days`` as a whole number from 1 to :data:`MAX_DAYS`, else :class:`InputError`."""
    try:
        value = int(str(days).strip())
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_DAYS:
        raise InputError(f"--days must be a whole number of days from 1 to {MAX_DAYS}, not {str(days)!r}")
    return value


def check_grouping(by: str) -> str:
    if by not in GROUPINGS:
        raise InputError(f"Invalid grouping ({by!r}). Supported: {', '.join(GROUPINGS)}.")
    return by


def _unmatched_row(by: str, row: dict) -> dict:
    """A totals line for commissions whose sub-id names no farm video, shaped like the grouping's rows."""
    keys = {c: None for c in KEY_COLUMNS[by]}
    if by == "video":
        keys.update(account_id=None, product=None, template=None)
    return {**keys, **row, "note": "not from a farm video (no sub-id of a farm post)"}


def revenue_report(ws, *, days: int = DEFAULT_DAYS, by: Grouping = "video", now: datetime | None = None) -> list[dict]:
    """Orders and commission over the last ``days`` days (by when the order was placed), one row per
    group and currency (VND is never added to USD).

    ``by="video"`` rows have ``job_id, platform, account, sub_id, product_id, product, template,
    title, orders, orders_cancelled, items, commission_pending, commission_validated`` (the
    network completed it), ``commission_cancelled, currency, views, commission_per_1000_views``
    (pending plus validated per 1,000 of the latest views; null where no view count is known)
    and ``unmatched: false``; other groupings have their own keys (see :data:`KEY_COLUMNS`) and
    the same money columns. Commissions whose sub-id names no farm post come last, one line per
    currency with the key columns null and ``unmatched: true``, so no money goes missing.

    Example::

        for row in revenue_report(ws, days=30, by="account"):
            print(row["account"], row["commission_validated"], row["currency"])
    """
    import catalogs

    days = check_days(days)
    by = check_grouping(by)
    until = now or catalogs.utcnow()
    since = until - timedelta(days=days)
    with ws.catalog.read() as con:
        rows = catalogs.revenue_by(con, ws.metrics_dir, by=by, since=since)
        unmatched = catalogs.revenue_unmatched(con, since=since)
    return [{**r, "note": None} for r in rows] + [_unmatched_row(by, r) for r in unmatched]
