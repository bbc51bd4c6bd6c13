"""Shopee Affiliate Open API (Vietnam): short links with a sub-id, and the conversion report (docs/affiliate.md).

One GraphQL endpoint (``[affiliate] shopee_affiliate_api``), every request signed::

    Authorization: SHA256 Credential={AppId}, Timestamp={ts}, Signature={sha256(AppId + ts + payload + Secret)}

where ``payload`` is the exact JSON body sent (so the body is serialised once and those bytes go
out) and the timestamp must be within 10 minutes of Shopee's clock. Errors come back as
``{"errors": [{"message", "extensions": {"code", "message"}}]}``: 10020 (signature, credential,
timestamp) -> AuthError naming the settings; 10030 (2,000 requests an hour) -> RetryableError;
11001 (params, e.g. a sub-id with ``_``) and other business errors -> InputError; 10000 -> RetryableError.

The conversion report pages with a ``scrollId`` that is good for one use and 30 seconds: pages
are read back to back before any row is handed on, and a cursor that has lapsed all the same (a
slow network) means reading the window again from its start, never a lost page.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from farm.errors import AuthError, InputError, RetryableError
from farm.platforms import Secret, with_retries
from farm.revenue._http import json_object, retry_after_s, send, snippet
from farm.revenue._networks import Network
from farm.revenue._rows import Commission
from farm.revenue._subid import check_sub_id

if TYPE_CHECKING:
    import httpx

HOSTS = ("shopee.vn", "shope.ee", "shp.ee")  # and their subdomains: s.shopee.vn, vn.shp.ee, spf.shopee.vn
CREDENTIALS = "[affiliate] shopee_app_id and shopee_secret (or FARM_SHOPEE_APP_ID, FARM_SHOPEE_SECRET)"
MAX_SUB_IDS = 5
REPORT_PAGE_ROWS = 500  # the most a page holds
REPORT_MAX_DAYS = 90  # the report covers the last 3 months only
SCROLL_TTL_S = 30.0
NEW_QUERY_GAP_S = 30.0  # a query without scrollId waits 30 s after the last one
MAX_RESTARTS = 3
_AUTH_CODES = {10020, 10031, 10032, 10033, 10034, 10035}
_INPUT_CODES = {10010, 11000, 11001, 11002}
_ORDER_STATUS = {"UNPAID": "pending", "PENDING": "pending", "COMPLETED": "completed", "CANCELLED": "cancelled"}
_REPORT_FIELDS = (
    "purchaseTime clickTime conversionId checkoutId utmContent totalCommission netCommission "
    "orders{orderId orderStatus items{itemId itemName modelId completeTime actualAmount itemTotalCommission "
    "displayItemStatus fraudStatus channelType}}"
)


def has_credentials(settings) -> bool:
    return bool(settings.shopee_app_id and settings.shopee_secret)


def missing(settings, *, campaign_id: str | None = None) -> str | None:
    """Why a Shopee link cannot carry a sub-id with these settings, or None."""
    return None if has_credentials(settings) else f"no Shopee Affiliate API credentials ({CREDENTIALS})"


def _gql(value: str) -> str:
    """A GraphQL string literal (JSON's escapes are GraphQL's; non-ASCII as \\uXXXX)."""
    return json.dumps(value, ensure_ascii=True)


def signature(app_id: str, timestamp: str, payload: str, secret: str) -> str:
    """Shopee's request signature: sha256(AppId + Timestamp + Payload + Secret), lower-case hex."""
    return hashlib.sha256((app_id + timestamp + payload + secret).encode("utf-8")).hexdigest()


def _signed_post(settings, client: httpx.Client, query: str, *, what: str, now: Callable[[], float]) -> dict:
    """POST one GraphQL document, signed over the exact bytes sent; its ``data``, errors mapped."""
    secret = Secret(settings.shopee_secret)
    app_id = str(settings.shopee_app_id)
    payload = json.dumps({"query": query}, separators=(",", ":"), ensure_ascii=True)
    timestamp = str(int(now()))
    signed = signature(app_id, timestamp, payload, secret.reveal())
    headers = {"Authorization": f"SHA256 Credential={app_id}, Timestamp={timestamp}, Signature={signed}",
               "Content-Type": "application/json"}
    response = send(client, "POST", settings.shopee_affiliate_api, what=what, secrets=(secret,),
                    content=payload.encode("utf-8"), headers=headers)
    return _data(response, what=what, secret=secret)


def _seconds_to_next_hour(now: float) -> float:
    return 3600.0 - (now % 3600.0)


def _data(response: httpx.Response, *, what: str, secret: Secret) -> dict:
    status = response.status_code
    body = json_object(response)
    if status == 429:
        raise RetryableError(f"{what}: rate limited (HTTP 429)", retry_after_s=retry_after_s(response))
    if status >= 500:
        raise RetryableError(f"{what}: Shopee answered HTTP {status}", retry_after_s=retry_after_s(response))
    if status in (401, 403):
        raise AuthError(f"{what}: Shopee refused the credentials (HTTP {status}); check {CREDENTIALS}")
    errors = body.get("errors")
    if errors:
        first = errors[0] if isinstance(errors, list) and isinstance(errors[0], dict) else {}
        ext = first.get("extensions") if isinstance(first.get("extensions"), dict) else {}
        code = ext.get("code")
        words = snippet(" - ".join(dict.fromkeys(str(m) for m in (first.get("message"), ext.get("message")) if m))
                        or "no message", secret)
        if code in _AUTH_CODES:
            clock = "expired" in words.lower() or "timestamp" in words.lower()
            hint = " (is this machine's clock right?)" if clock else ""
            raise AuthError(f"{what}: Shopee refused the credentials: {words} (code {code}){hint}; check {CREDENTIALS}")
        if code == 10030:
            raise RetryableError(f"{what}: Shopee's rate limit (2,000 requests an hour): {words} (code 10030)",
                                 retry_after_s=retry_after_s(response) or _seconds_to_next_hour(time.time()))
        if code == 10000:
            raise RetryableError(f"{what}: Shopee system error: {words} (code 10000)")
        raise InputError(f"{what}: Shopee refused the request: {words} (code {code})")
    if status != 200:
        raise InputError(f"{what}: Shopee answered HTTP {status} ({snippet(response.text, secret)})")
    data = body.get("data")
    if not isinstance(data, dict):
        raise RetryableError(f"{what}: Shopee's answer has no data ({snippet(response.text, secret)})")
    return data


def make_link(origin_url: str, sub_id: str, *, settings, client: httpx.Client, campaign_id: str | None = None,
              sleep: Callable[[float], None] = time.sleep, now: Callable[[], float] = time.time) -> str:
    """A Shopee short link to ``origin_url`` whose clicks carry ``sub_id`` (``subIds[0]``).

    Raises:
        InputError: no credentials, a sub-id Shopee would refuse, or Shopee refused the link.
        AuthError: Shopee refused the app id, the secret or the signature.
        RetryableError: still failing after ``[affiliate] max_retries`` retries (5xx, rate limit, network).
    """
    check_sub_id(sub_id)
    if not has_credentials(settings):
        raise InputError(f"Shopee short link: {missing(settings)}")
    query = (f"mutation{{generateShortLink(input:{{originUrl:{_gql(origin_url)},subIds:[{_gql(sub_id)}]}})"
             "{shortLink}}")
    data = with_retries(lambda: _signed_post(settings, client, query, what="Shopee short link", now=now),
                        retries=int(settings.max_retries), sleep=sleep, what="Shopee short link")
    link = (data.get("generateShortLink") or {}).get("shortLink")
    if not isinstance(link, str) or not link.startswith(("https://", "http://")):
        raise RetryableError(f"Shopee short link: the answer has no link ({snippet(json.dumps(data))})")
    return link


def _unix(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def _utc(seconds) -> datetime | None:
    try:
        value = int(seconds)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(value, timezone.utc).replace(tzinfo=None) if value > 0 else None


def _report_query(field: str, start: int, end: int, *, limit: int, scroll_id: str | None) -> str:
    args = f"{field}Start:{start},{field}End:{end},limit:{limit}"
    if scroll_id:
        args += f",scrollId:{_gql(scroll_id)}"
    return f"{{conversionReport({args}){{nodes{{{_REPORT_FIELDS}}} pageInfo{{hasNextPage scrollId}}}}}}"


def _items_in(nodes: list) -> int:
    return sum(len(item_list) for node in nodes for order in (node.get("orders") or [])
               for item_list in [order.get("items") or []])


class _Reader:
    """Reads one report window page by page, promptly; starts it again when a cursor lapsed."""

    def __init__(self, settings, client, *, on_page, sleep, now, page_rows: int) -> None:
        self.settings, self.client, self.on_page, self.sleep, self.now = settings, client, on_page, sleep, now
        self.page_rows = page_rows
        self.last_first_query: float | None = None

    def _post(self, query: str) -> dict:
        return with_retries(lambda: _signed_post(self.settings, self.client, query, what="Shopee conversion report",
                                                 now=self.now),
                            retries=int(self.settings.max_retries), sleep=self.sleep, what="Shopee conversion report")

    def _first_query_gap(self) -> None:
        # Shopee asks for 30 s between queries that start a scroll (docs/affiliate.md)
        if self.last_first_query is not None:
            wait = NEW_QUERY_GAP_S - (self.now() - self.last_first_query)
            if wait > 0:
                self.sleep(wait)
        self.last_first_query = self.now()

    def window(self, field: str, start: int, end: int) -> list[dict]:
        for attempt in range(MAX_RESTARTS + 1):
            nodes: list[dict] = []
            scroll_id: str | None = None
            page = 0
            self._first_query_gap()
            try:
                while True:
                    data = self._post(_report_query(field, start, end, limit=self.page_rows, scroll_id=scroll_id))
                    report = data.get("conversionReport") or {}
                    got = [n for n in (report.get("nodes") or []) if isinstance(n, dict)]
                    nodes += got
                    page += 1
                    if self.on_page:
                        self.on_page("page", {"page": page, "rows": _items_in(got)})
                    info = report.get("pageInfo") or {}
                    if not info.get("hasNextPage") or not info.get("scrollId"):
                        return nodes
                    scroll_id = str(info["scrollId"])
            except InputError as err:
                if scroll_id is None or attempt >= MAX_RESTARTS:
                    raise
                # The cursor lapsed (30 s, one use) or was refused: the rows read so far are dropped and
                # the window is read again from its start, so no page is lost and none counted twice.
                if self.on_page:
                    self.on_page("restart", {"reason": f"Shopee's page cursor was refused after page {page} "
                                                       f"({err}); reading the report again from its start"})
        raise RetryableError("Shopee conversion report: its page cursor kept lapsing")  # not reached


def _status(order_status: str, fraud_status: str | None) -> str:
    if str(fraud_status or "").upper() == "FRAUD":
        return "cancelled"
    return _ORDER_STATUS.get(str(order_status or "").upper(), "pending")


def _money(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def split_sub_ids(utm_content: str | None) -> tuple[str, ...]:
    """Shopee's ``utmContent`` ("s1-s2-s3-s4-s5", empty places kept) as the sub-ids, trailing empties dropped."""
    parts = str(utm_content or "").split("-")[:MAX_SUB_IDS]
    while parts and not parts[-1]:
        parts.pop()
    return tuple(parts)


def _rows(node: dict) -> Iterator[Commission]:
    """One Commission per item of each order of a conversion; the conversion's net commission (after an
    MCN's fee) shared among its items in proportion to their commission."""
    total = _money(node.get("totalCommission"))
    net = _money(node.get("netCommission"))
    share = net / total if net is not None and total else None
    checkout = node.get("conversionId") or node.get("checkoutId")
    for order in node.get("orders") or []:
        if not order.get("orderId"):
            continue  # nothing to key a row on; Shopee always sends one
        for item in order.get("items") or []:
            commission = _money(item.get("itemTotalCommission"))
            yield Commission(
                network="shopee", order_id=str(order.get("orderId") or ""), item_id=str(item.get("itemId") or ""),
                model_id="" if item.get("modelId") is None else str(item.get("modelId")),
                status=_status(order.get("orderStatus"), item.get("fraudStatus")),  # type: ignore[arg-type]
                raw_status=str(item.get("displayItemStatus") or order.get("orderStatus") or ""),
                currency="VND", order_value=_money(item.get("actualAmount")), commission=commission,
                net_commission=(commission * share if commission is not None and share is not None else commission),
                sub_ids=split_sub_ids(node.get("utmContent")), checkout_id=str(checkout) if checkout else None,
                ordered_at=_utc(node.get("purchaseTime")), clicked_at=_utc(node.get("clickTime")),
                completed_at=_utc(item.get("completeTime")), channel=item.get("channelType"),
                item_name=item.get("itemName"))


def fetch_commissions(settings, *, since: datetime, until: datetime, client: httpx.Client, on_page=None,
                      sleep: Callable[[float], None] = time.sleep, now: Callable[[], float] = time.time,
                      page_rows: int = REPORT_PAGE_ROWS) -> Iterator[Commission]:
    """Every item of every order placed, or completed, between ``since`` and ``until`` (naive UTC).

    Two windows are read, by purchase time and by completion time, so an order placed before
    ``since`` and completed since is updated too; an item is given once.

    Raises:
        InputError: no credentials, ``since`` not before ``until``, or older than Shopee keeps (3 months).
        AuthError, RetryableError: as for :func:`make_link`.
    """
    if not has_credentials(settings):
        raise InputError(f"Shopee conversion report: {missing(settings)}")
    start, end = _unix(since), _unix(until)
    if end <= start:
        raise InputError(f"Shopee conversion report: since ({since}) must be before until ({until})")
    if start < now() - REPORT_MAX_DAYS * 86400:
        raise InputError(f"Shopee conversion report: since ({since:%Y-%m-%d}) is older than the {REPORT_MAX_DAYS} "
                         "days Shopee keeps; import the dashboard's CSV export for older orders (farm revenue import)")
    reader = _Reader(settings, client, on_page=on_page, sleep=sleep, now=now, page_rows=page_rows)
    seen: set[tuple[str, str, str, str]] = set()
    for field in ("purchaseTime", "completeTime"):
        for node in reader.window(field, start, end):  # the whole window first: its cursors wait for no one
            for row in _rows(node):
                if row.key not in seen:
                    seen.add(row.key)
                    yield row


SHOPEE = Network(name="shopee", title="Shopee", hosts=HOSTS, tracking="shopee sub-id", make_link=make_link,
                 fetch_commissions=fetch_commissions, has_credentials=has_credentials, missing=missing)
