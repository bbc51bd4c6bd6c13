"""Commission reports exported from the networks' dashboards (Shopee Affiliate, AccessTrade) read into rows.

Every row is parsed before anything is written: a bad file raises one
:class:`~farm.errors.InputError` line naming the file, the row (the header is row 1, as a
spreadsheet shows it) and the column. What the exports look like, and where that was read,
is in docs/revenue.md.
"""

from __future__ import annotations

import dataclasses

import csv
import io
import os
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from farm.errors import InputError
from farm.revenue._rows import Commission, CommissionStatus

Network = Literal["shopee", "accesstrade", "auto"]
NETWORKS = ("shopee", "accesstrade", "auto")
# Both dashboards show Vietnam time (UTC+7, no daylight saving); the catalog keeps naive UTC.
VIETNAM = timezone(timedelta(hours=7))

# The network's words for a status, folded (no accents, lower case, only letters and digits).
_STATUS_WORDS: dict[str, CommissionStatus] = {}
for _status, _words in {
    "pending": ("dang cho xu ly", "cho xu ly", "dang xu ly", "chua thanh toan", "pending", "unpaid", "hold",
                "tam duyet", "cho duyet", "dang cho", "pre approved", "preapproved", "0", "processing"),
    "completed": ("hoan thanh", "da hoan thanh", "completed", "complete", "da duyet", "duyet", "approved",
                  "da thanh toan", "paid", "settled", "1"),
    "cancelled": ("da huy", "huy", "huy bo", "cancelled", "canceled", "cancel", "rejected", "reject", "tu choi",
                  "bi tu choi", "da tu choi", "khong hop le", "invalid", "ineligible", "2", "-1"),
}.items():
    for _w in _words:
        _STATUS_WORDS[re.sub(r"[^a-z0-9-]", "", _w)] = _status  # type: ignore[assignment]

# field -> the folded header names that carry it (first found wins)
SHOPEE_COLUMNS = {
    "order_id": ("iddonhang", "orderid", "madonhang"),
    "status": ("trangthaidathang", "orderstatus", "trangthaidonhang"),
    "item_status": ("trangthaisanphamlienket", "affiliateitemstatus", "itemstatus"),
    "checkout_id": ("checkoutid", "conversionid", "idcheckout"),
    "ordered_at": ("thoigiandathang", "ordertime", "purchasetime"),
    "completed_at": ("thoigianhoanthanh", "completetime", "completedtime", "ordercompletedtime"),
    "clicked_at": ("thoigianclick", "clicktime"),
    "item_id": ("itemid", "idsanpham"),
    "model_id": ("idmodel", "modelid"),
    "item_name": ("tenitem", "itemname"),
    "order_value": ("giatridonhang", "purchasevalue", "ordervalue"),
    "commission": ("tonghoahongsanpham", "itemtotalcommission"),
    "net_commission": ("hoahongrongtiepthilienket", "affiliatenetcommission", "netaffiliatecommission",
                       "netcommission"),
    "channel": ("kenh", "channel"),
}
SHOPEE_REQUIRED = ("order_id", "status", "ordered_at", "item_id")
ACCESSTRADE_COLUMNS = {
    "order_id": ("orderid", "madonhang", "iddonhang", "donhang"),
    "status": ("status", "trangthai", "orderstatus", "conversionstatus", "trangthaidonhang"),
    "order_pending": ("orderpending",),
    "order_approved": ("orderapproved",),
    "order_reject": ("orderreject",),
    "merchant": ("merchant", "campaign", "campaignname", "chiendich", "nhacungcap"),
    "commission": ("pubcommission", "hoahong", "commission", "hoahongpublisher"),
    "order_value": ("billing", "giatridonhang", "ordervalue", "transactionvalue", "doanhthu"),
    "ordered_at": ("salestime", "thoigiandathang", "ordertime", "transactiontime", "thoigianphatsinh"),
    "clicked_at": ("clicktime", "thoigianclick"),
    "completed_at": ("confirmedtime", "thoigianduyet"),
    "item_id": ("productid", "masanpham"),
    "item_name": ("productname", "tensanpham"),
    "channel": ("website", "kenh"),
}
ACCESSTRADE_REQUIRED = ("order_id", "commission", "ordered_at")
_ACCESSTRADE_SUB_IDS = ("utmcontent", "sub1", "sub2", "sub3", "sub4")
_CURRENCIES = {"₫": "VND", "đ": "VND", "d": "VND", "vnd": "VND", "vnđ": "VND", "rp": "IDR", "idr": "IDR",
               "฿": "THB", "thb": "THB", "rm": "MYR", "myr": "MYR", "₱": "PHP", "php": "PHP", "$": "USD",
               "usd": "USD", "s$": "SGD", "sgd": "SGD"}


def fold(text: str) -> str:
    """A name or word without accents, case, spaces or punctuation: ``Thời Gian Đặt Hàng`` -> ``thoigiandathang``."""
    text = unicodedata.normalize("NFD", str(text).replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]", "", text)


def _header_key(header: str) -> str:
    """A header's folded name, its unit in brackets left out: ``Giá trị đơn hàng (₫)`` -> ``giatridonhang``."""
    return fold(re.sub(r"\([^)]*\)\s*$", "", header.strip()))


def _header_currency(header: str) -> str | None:
    m = re.search(r"\(([^)]*)\)\s*$", header.strip())
    return _CURRENCIES.get(m.group(1).strip().lower()) if m else None


class _Table:
    """The rows of one CSV file with its headers, and the one-line errors that name a cell."""

    def __init__(self, name: str, headers: list[str], rows: list[tuple[int, list[str]]]) -> None:
        self.name = name
        self.headers = headers
        self.rows = rows
        self.keys = [_header_key(h) for h in headers]

    def find(self, aliases: tuple[str, ...]) -> int | None:
        for alias in aliases:
            if alias in self.keys:
                return self.keys.index(alias)
        return None

    def columns(self, spec: dict[str, tuple[str, ...]], required: tuple[str, ...], network: str) -> dict[str, int]:
        found = {field: i for field, aliases in spec.items() if (i := self.find(aliases)) is not None}
        for field in required:
            if field not in found:
                names = " or ".join(f'"{a}"' for a in _readable(spec[field]))
                raise InputError(f"{self.name}: not a {network} commission report: no {names} column "
                                 f"(the columns are: {', '.join(self.headers)[:300]})")
        return found

    def fail(self, row: int, col: int, problem: str) -> InputError:
        return InputError(f'{self.name}: row {row}, column "{self.headers[col]}": {problem}')


def _readable(aliases: tuple[str, ...]) -> list[str]:
    names = {"iddonhang": "ID đơn hàng", "orderid": "Order id", "trangthaidathang": "Trạng thái đặt hàng",
             "orderstatus": "Order Status", "thoigiandathang": "Thời Gian Đặt Hàng", "ordertime": "Order Time",
             "itemid": "Item id", "pubcommission": "pub_commission", "hoahong": "Hoa hồng",
             "salestime": "sales_time", "status": "status"}
    return [names[a] for a in aliases if a in names] or list(aliases[:2])


# -- reading the file ------------------------------------------------------------------
def _decode(name: str, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" and some CSV exports
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError(f"{name}: not readable as UTF-16 text") from None
    if data.startswith(b"PK\x03\x04"):
        raise InputError(f"{name}: an Excel workbook (.xlsx), not CSV: download the report as CSV, or save it "
                         "from Excel as \"CSV UTF-8\"")
    if b"\x00" in data[:4096]:
        raise InputError(f"{name}: not a CSV file (binary data)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{name}: not UTF-8 text (byte {err.start}); save it as \"CSV UTF-8\"") from None


def _delimiter(text: str) -> str:
    """The separator of the header line: the commonest of , ; and tab outside quotes."""
    first, quoted = [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch in "\r\n" and not quoted:
            break
        elif not quoted:
            first.append(ch)
    line = "".join(first)
    return max((",", ";", "\t"), key=line.count)


def read_table(path: str | os.PathLike) -> _Table:
    """The file as a header and its non-empty rows (numbered as a spreadsheet shows them)."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise InputError(f"{name}: is a folder, not a CSV file") from None
    except OSError as err:
        raise InputError(f"{name}: cannot read it ({err.strerror or err})") from None
    text = _decode(name, data)
    if not text.strip():
        raise InputError(f"{name}: empty file (no header row)")
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True))
    except csv.Error as err:
        raise InputError(f"{name}: not a readable CSV file ({err})") from None
    numbered = [(n, [c.strip() for c in r]) for n, r in enumerate(records, start=1) if any(c.strip() for c in r)]
    headers = [unicodedata.normalize("NFC", h.lstrip("\ufeff")).strip() for h in numbered[0][1]]
    if len(headers) < 2:
        raise InputError(f"{name}: not a commission report (its first row has {len(headers)} column)")
    for n, cells in numbered[1:]:
        # a row cut short (a truncated download, a bad copy) would import with its money missing
        last = max((i for i, h in enumerate(headers) if h), default=0)
        if len(cells) <= last:
            raise InputError(f"{name}: row {n}: {len(cells)} cells, the header has {last + 1} columns (a row cut "
                             "short?)")
        if len(cells) > len(headers) and any(cells[len(headers):]):
            raise InputError(f"{name}: row {n}: {len(cells)} cells, more than the header's {len(headers)} columns")
    return _Table(name, headers, numbered[1:])


# -- cells -----------------------------------------------------------------------------
_EMPTY = ("", "-", "--", "n/a", "null", "none")
_MONEY_MARKS = re.compile(r"(₫|vnđ|vnd|đ|usd|us\$|\$|rp|฿|rm|₱|\s|\u00a0)", re.I)


def parse_amount(text: str) -> float | None:
    """A money amount as dashboards write it: ``123456``, ``123.456`` or ``123,456`` (thousands),
    ``₫123,456``, ``1.234,5`` / ``1,234.5`` (decimals), ``(1.000)`` or ``-1000``; ``None`` when empty.

    Raises ValueError for anything else. A lone separator followed by exactly three digits is a
    thousands separator (VND has no minor unit); with two kinds, the last one is the decimal point.
    """
    s = _MONEY_MARKS.sub("", text.strip())
    if s.lower() in _EMPTY:
        return None
    negative = s.startswith("-") or (s.startswith("(") and s.endswith(")"))
    s = s.strip("()").lstrip("-+")
    if "." in s and "," in s:
        decimal = "." if s.rfind(".") > s.rfind(",") else ","
        s = s.replace("," if decimal == "." else ".", "").replace(decimal, ".")
    elif "." in s or "," in s:
        sep = "." if "." in s else ","
        parts = s.split(sep)
        if len(parts) > 2 or (len(parts) == 2 and len(parts[1]) == 3):
            if not all(len(p) == 3 for p in parts[1:]):
                raise ValueError(text)
            s = "".join(parts)
        else:
            s = s.replace(",", ".")
    if not re.fullmatch(r"\d+(\.\d+)?", s):
        raise ValueError(text)
    value = float(s)
    return -value if negative else value


_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d",
                 "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y",
                 "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d")


def parse_time(text: str) -> datetime | None:
    """A dashboard's date and time (Vietnam time unless it carries an offset) as naive UTC; ``None`` when empty.

    Raises ValueError for anything that is not one of the forms in ``_DATE_FORMATS`` or ISO 8601.
    """
    s = text.strip()
    if s.lower() in _EMPTY:
        return None
    s = re.sub(r"\.\d+(?=$|[+-]\d\d:?\d\d$|Z$)", "", s)  # fractions of a second
    for fmt in _DATE_FORMATS:
        try:
            local = datetime.strptime(s, fmt)
        except ValueError:
            continue
        return local.replace(tzinfo=VIETNAM).astimezone(timezone.utc).replace(tzinfo=None)
    aware = datetime.fromisoformat(s.replace("Z", "+00:00"))  # ValueError when it is not a date either
    if aware.tzinfo is None:
        aware = aware.replace(tzinfo=VIETNAM)
    return aware.astimezone(timezone.utc).replace(tzinfo=None)


def status_of(word: str) -> CommissionStatus | None:
    """The farm's status for a network's word (``Đang chờ xử lý``, ``Hoàn thành``, ``Đã hủy``, ``Tạm duyệt``,
    ``approved``, ``1``...), or None for a word not known here."""
    word = word.strip()
    return _STATUS_WORDS.get(word if re.fullmatch(r"-?\d+", word) else fold(word))


class _Row:
    """One data row's cells, read through the column map with errors that name the cell."""

    def __init__(self, table: _Table, number: int, cells: list[str], columns: dict[str, int]) -> None:
        self.table, self.number, self.cells, self.columns = table, number, cells, columns

    def text(self, field: str, *, required: bool = False) -> str:
        col = self.columns.get(field)
        value = self.cells[col] if col is not None and col < len(self.cells) else ""
        if required and not value:
            raise self.table.fail(self.number, col, "empty")
        return value

    def parsed(self, field: str, parse: Callable[[str], object], what: str, *, required: bool = False):
        text = self.text(field, required=required)
        try:
            value = parse(text)
        except (ValueError, OverflowError):
            raise self.table.fail(self.number, self.columns[field], f"not {what} ({text!r})") from None
        if value is None and required:
            raise self.table.fail(self.number, self.columns[field], "empty")
        return value


def _time(row: _Row, field: str, *, required: bool = False) -> datetime | None:
    if field not in row.columns:
        return None
    return row.parsed(field, parse_time, "a date and time like 2026-11-30 21:14:05", required=required)


def _amount(row: _Row, field: str) -> float | None:
    return row.parsed(field, parse_amount, "a number") if field in row.columns else None


# -- the two exports ---------------------------------------------------------------------
def _status(row: _Row, field: str, unknown: dict[str, int]) -> tuple[CommissionStatus, str]:
    word = row.text(field, required=True)
    status = status_of(word)
    if status is None:  # a word this release does not know: kept as pending, and said so
        unknown[word] = unknown.get(word, 0) + 1
        status = "pending"
    return status, word


def _shopee_row(row: _Row, sub_cols: list[int], currency: str,
                unknown: dict[str, int]) -> Commission:
    status, raw = _status(row, "status", unknown)
    item_word = row.text("item_status") if "item_status" in row.columns else ""
    if status != "cancelled" and item_word and status_of(item_word) == "cancelled":
        status, raw = "cancelled", f"{raw} / {item_word}"  # one item of a completed order refunded
    return Commission(
        network="shopee", order_id=row.text("order_id", required=True), item_id=row.text("item_id", required=True),
        model_id=row.text("model_id"), status=status, raw_status=raw, currency=currency,
        order_value=_amount(row, "order_value"), commission=_amount(row, "commission"),
        net_commission=_amount(row, "net_commission"),
        sub_ids=tuple(row.cells[i] for i in sub_cols if i < len(row.cells) and row.cells[i]),
        checkout_id=row.text("checkout_id") or None, ordered_at=_time(row, "ordered_at", required=True),
        clicked_at=_time(row, "clicked_at"), completed_at=_time(row, "completed_at"),
        channel=row.text("channel") or None, item_name=row.text("item_name") or None,
    )


def _read_shopee(table: _Table, unknown: dict[str, int]) -> list[Commission]:
    columns = table.columns(SHOPEE_COLUMNS, SHOPEE_REQUIRED, "Shopee")
    if "commission" not in columns and "net_commission" not in columns:
        raise InputError(f'{table.name}: not a Shopee commission report: no "Hoa hồng ròng tiếp thị liên kết(₫)" '
                         'or "Tổng hoa hồng sản phẩm(₫)" column')
    money = columns.get("net_commission", columns.get("commission"))
    currency = _header_currency(table.headers[money]) or "VND"
    sub_cols = [i for i, k in enumerate(table.keys) if re.fullmatch(r"subid\d?", k)]
    return [_shopee_row(_Row(table, n, cells, columns), sub_cols, currency, unknown)
            for n, cells in table.rows]


def _accesstrade_status(row: _Row, unknown: dict[str, int]) -> tuple[CommissionStatus, str]:
    if "status" in row.columns:
        return _status(row, "status", unknown)
    # the order list's counters: one of order_pending / order_approved / order_reject is 1
    for field, status in (("order_reject", "cancelled"), ("order_approved", "completed"), ("order_pending", "pending")):
        if field in row.columns and (row.parsed(field, parse_amount, "a number") or 0) > 0:
            return status, field  # type: ignore[return-value]
    return "pending", "order_pending"


def _read_accesstrade(table: _Table, unknown: dict[str, int]) -> list[Commission]:
    columns = table.columns(ACCESSTRADE_COLUMNS, ACCESSTRADE_REQUIRED, "AccessTrade")
    if "status" not in columns and not {"order_pending", "order_approved", "order_reject"} & set(columns):
        raise InputError(f'{table.name}: not an AccessTrade order report: no "status" (Trạng thái) column')
    currency = _header_currency(table.headers[columns["commission"]]) or "VND"
    sub_cols = [table.keys.index(k) for k in _ACCESSTRADE_SUB_IDS if k in table.keys]
    out = []
    for n, cells in table.rows:
        row = _Row(table, n, cells, columns)
        status, raw = _accesstrade_status(row, unknown)
        out.append(Commission(
            network="accesstrade", order_id=row.text("order_id", required=True), item_id="", model_id="",
            status=status, raw_status=raw, currency=currency, order_value=_amount(row, "order_value"),
            commission=_amount(row, "commission"), net_commission=_amount(row, "commission"),
            sub_ids=tuple(cells[i] for i in sub_cols if i < len(cells) and cells[i]),
            checkout_id=None, ordered_at=_time(row, "ordered_at", required=True), clicked_at=_time(row, "clicked_at"),
            completed_at=_time(row, "completed_at"),
            channel=row.text("channel") or row.text("merchant") or None, item_name=row.text("item_name") or None,
        ))
    return _per_order(out)


def _per_order(rows: list[Commission]) -> list[Commission]:
    """AccessTrade's rows merged to one per order, as its order list (`farm revenue sync`) gives them, so an
    order imported from a file and synced from the API is one row: amounts summed; pending while any product
    is, cancelled when every product is, else completed."""
    orders: dict[str, list[Commission]] = {}
    for r in rows:
        orders.setdefault(r.order_id, []).append(r)
    out = []
    for parts in orders.values():
        first = parts[0]
        if len(parts) == 1:
            out.append(first)
            continue
        statuses = {p.status for p in parts}
        status = ("pending" if "pending" in statuses else "cancelled" if statuses == {"cancelled"} else "completed")

        def total(field: str) -> float | None:
            values = [getattr(p, field) for p in parts if getattr(p, field) is not None]
            return sum(values) if values else None

        out.append(dataclasses.replace(
            first, status=status, raw_status=", ".join(sorted({p.raw_status for p in parts})),
            order_value=total("order_value"), commission=total("commission"), net_commission=total("net_commission"),
            sub_ids=tuple(dict.fromkeys(s for p in parts for s in p.sub_ids)),
            completed_at=max((p.completed_at for p in parts if p.completed_at), default=None),
            item_name=", ".join(dict.fromkeys(p.item_name for p in parts if p.item_name)) or None))
    return out


def detect_network(table: _Table) -> str:
    """``shopee`` or ``accesstrade`` from a report's headers; InputError when neither fits."""
    keys = set(table.keys)
    shopee_only = {"trangthaidathang", "checkoutid", "hoahongrongtiepthilienket", "tonghoahongsanpham",
                   "itemtotalcommission", "affiliatenetcommission", "idmodel"}
    if keys & shopee_only or (any(re.fullmatch(r"subid\d", k) for k in keys) and "itemid" in keys):
        return "shopee"
    if keys & {"utmcontent", "pubcommission", "merchant", "orderpending", "orderapproved", "salestime", "hoahong",
               "chiendich"}:
        return "accesstrade"
    raise InputError(f"{table.name}: cannot tell which network's report this is from its columns "
                     "(give --network shopee or --network accesstrade)")


def read_commission_csv(path: str | os.PathLike, *, network: Network = "auto",
                        unknown_statuses: dict[str, int] | None = None) -> list[Commission]:
    """Every row of a dashboard's commission report, parsed and checked, as :class:`Commission` rows.

    ``network`` is ``shopee`` (the affiliate dashboard's commission report, Vietnamese or English
    headers), ``accesstrade`` (its order report) or ``auto`` (told from the headers). Status
    words this release does not know are read as pending and counted in ``unknown_statuses``.

    Raises:
        InputError: one line naming the file, and the row and column where a cell is bad (an
            unreadable file, not CSV, a missing column, a value that is not a number or a date).

    Example::

        rows = read_commission_csv("AffiliateCommissionReport202612.csv")
        rows[0].status, rows[0].sub_ids  # ('pending', ('r7k2tiktok',))
    """
    if network not in NETWORKS:
        raise InputError(f"Invalid network ({network!r}). Supported: {', '.join(NETWORKS)}.")
    table = read_table(path)
    kind = detect_network(table) if network == "auto" else network
    unknown = unknown_statuses if unknown_statuses is not None else {}
    return _read_shopee(table, unknown) if kind == "shopee" else _read_accesstrade(table, unknown)


def import_commissions(ws, path: str | os.PathLike, *, network: Network = "auto") -> dict:
    """Parse a commission report, then write all of it in one transaction (nothing when it is bad).

    Returns ``{"file", "network", "rows", "new", "updated", "unchanged", "matched", "unmatched",
    "unknown_statuses"}``: ``matched`` counts the order items traced to a farm video by their
    sub-id, ``unmatched`` those that were not (kept, shown apart in reports).
    """
    import catalogs

    unknown: dict[str, int] = {}
    rows = read_commission_csv(path, network=network, unknown_statuses=unknown)
    with ws.catalog.write() as con:
        counts = catalogs.upsert_commissions(con, rows, source=Path(path).name)
    return {"file": str(path), "network": rows[0].network if rows else network, "rows": len(rows), **counts,
            "unknown_statuses": unknown}
