"""AccessTrade Vietnam's publisher API: links with the sub-id as ``utm_content``, and the order list (docs/affiliate.md).

Every request carries ``Authorization: Token <access key>``. A link is made by
``POST {base}/v1/product_link/create`` with ``{"campaign_id", "urls": [...], "utm_content"}``
and comes back as ``data.success_link[].short_link`` (and ``aff_link``); a URL the campaign does
not take lands in ``data.error_link`` or ``data.suspend_url``. Orders come from
``GET {base}/v1/order-list?since=...&until=...&page=N&limit=300`` (``{"data": [...], "total": n}``),
at most 10 requests a minute. HTTP 401/403 -> AuthError naming the key; 429 and 5xx ->
RetryableError; other refusals -> InputError.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from farm.errors import AuthError, InputError, RetryableError
from farm.platforms import Secret, with_retries
from farm.revenue._http import json_object, retry_after_s, send, snippet
from farm.revenue._networks import Network
from farm.revenue._rows import Commission
from farm.revenue._subid import check_sub_id

if TYPE_CHECKING:
    import httpx

# Tracking and short-link hosts of AccessTrade Vietnam links (go.isclix.com/deep_link/..., shorten.asia/...)
HOSTS = ("isclix.com", "accesstrade.vn", "accesstrade.me", "shorten.asia")
CREDENTIALS = "[affiliate] accesstrade_key (or FARM_ACCESSTRADE_KEY)"
CAMPAIGN = "the product's campaign_id or [affiliate] accesstrade_campaign_id"
ORDER_PAGE_ROWS = 300  # the most a page holds
# AccessTrade's order times carry no zone; its dashboard shows Vietnam time (UTC+7)
LOCAL_OFFSET = timedelta(hours=7)


def has_credentials(settings) -> bool:
    return bool(settings.accesstrade_key)


def missing(settings, *, campaign_id: str | None = None) -> str | None:
    """Why an AccessTrade link cannot carry a sub-id with these settings, or None."""
    if not has_credentials(settings):
        return f"no AccessTrade API key ({CREDENTIALS})"
    if not (campaign_id or settings.accesstrade_campaign_id):
        return f"no AccessTrade campaign ({CAMPAIGN})"
    return None


def _headers(key: Secret) -> dict[str, str]:
    return {"Authorization": f"Token {key.reveal()}", "Content-Type": "application/json",
            "Accept": "application/json"}


def _check(response: httpx.Response, *, what: str, key: Secret) -> dict:
    """The answer's JSON object, or the farm's error for what AccessTrade said."""
    status = response.status_code
    words = snippet(response.text, key) or f"HTTP {status}"
    if status == 429:
        raise RetryableError(f"{what}: AccessTrade's rate limit (HTTP 429)", retry_after_s=retry_after_s(response))
    if status >= 500:
        raise RetryableError(f"{what}: AccessTrade answered HTTP {status}", retry_after_s=retry_after_s(response))
    if status in (401, 403):
        raise AuthError(f"{what}: AccessTrade refused the access key (HTTP {status}: {words}); check {CREDENTIALS}")
    if status != 200:
        raise InputError(f"{what}: AccessTrade refused the request (HTTP {status}: {words})")
    body = json_object(response)
    if body.get("success") is False:
        raise InputError(f"{what}: AccessTrade refused the request ({snippet(body.get('message') or words, key)})")
    return body


def origin_of(url: str) -> str:
    """The shop URL inside an AccessTrade deep link (its ``url`` or base64 ``url_enc``), else ``url``."""
    parts = urlsplit(url)
    if not any(parts.hostname and (parts.hostname == h or parts.hostname.endswith("." + h)) for h in HOSTS):
        return url
    query = parse_qs(parts.query)
    if query.get("url"):
        return query["url"][0]
    if query.get("url_enc"):
        try:
            return base64.b64decode(query["url_enc"][0] + "==", validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return url
    return url


def make_link(origin_url: str, sub_id: str, *, settings, client: httpx.Client, campaign_id: str | None = None,
              sleep: Callable[[float], None] = time.sleep, now: Callable[[], float] = time.time) -> str:
    """An AccessTrade tracking link to ``origin_url`` in the campaign, ``utm_content`` = ``sub_id``.

    Raises:
        InputError: no key or campaign, or AccessTrade did not take the URL.
        AuthError: AccessTrade refused the key.
        RetryableError: still failing after ``[affiliate] max_retries`` retries.
    """
    check_sub_id(sub_id)
    why = missing(settings, campaign_id=campaign_id)
    if why:
        raise InputError(f"AccessTrade link: {why}")
    key = Secret(settings.accesstrade_key)
    body = {"campaign_id": str(campaign_id or settings.accesstrade_campaign_id), "urls": [origin_of(origin_url)],
            "utm_content": sub_id}
    url = settings.accesstrade_api_base.rstrip("/") + "/v1/product_link/create"
    what = "AccessTrade link"

    def call() -> dict:
        return _check(send(client, "POST", url, what=what, secrets=(key,), json=body, headers=_headers(key)),
                      what=what, key=key)

    data = with_retries(call, retries=int(settings.max_retries), sleep=sleep, what=what).get("data") or {}
    made = [r for r in (data.get("success_link") or []) if isinstance(r, dict)]
    link = (made[0].get("short_link") or made[0].get("aff_link")) if made else None
    if not isinstance(link, str) or not link.startswith(("https://", "http://")):
        refused = "suspended" if data.get("suspend_url") else "refused"
        raise InputError(f"{what}: AccessTrade {refused} the URL for campaign {body['campaign_id']} "
                         f"({snippet(data.get('error_link') or data.get('suspend_url') or data, key)})")
    return link


def _iso(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _local(text) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "")) - LOCAL_OFFSET if text else None
    except ValueError:
        return None


def _count(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _row(order: dict) -> Commission | None:
    """One order as one Commission (the order list is per order; item and model ids stay empty)."""
    if not order.get("order_id"):
        return None
    approved, pending, rejected = (_count(order.get(k)) for k in ("order_approved", "order_pending", "order_reject"))
    confirmed = _count(order.get("is_confirmed")) == 1
    if rejected and not approved and not pending:
        status, raw = "cancelled", "rejected"
    elif approved and confirmed:
        status, raw = "completed", "approved"
    else:
        status, raw = "pending", "approved" if approved else "pending"
    money = {k: (float(order[k]) if isinstance(order.get(k), (int, float)) else None)
             for k in ("billing", "pub_commission")}
    return Commission(  # type: ignore[arg-type]  (status is one of the three)
        network="accesstrade", order_id=str(order["order_id"]), item_id="", model_id="", status=status,
        raw_status=raw + (", confirmed" if confirmed else ""), currency="VND", order_value=money["billing"],
        commission=money["pub_commission"], net_commission=money["pub_commission"],
        sub_ids=(str(order["utm_content"]),) if order.get("utm_content") else (),
        ordered_at=_local(order.get("sales_time")), clicked_at=_local(order.get("click_time")),
        completed_at=_local(order.get("confirmed_time")) if status == "completed" else None,
        channel=order.get("merchant"), item_name=order.get("category_name") or order.get("product_category"))


def fetch_commissions(settings, *, since: datetime, until: datetime, client: httpx.Client, on_page=None,
                      sleep: Callable[[float], None] = time.sleep, now: Callable[[], float] = time.time,
                      page_rows: int = ORDER_PAGE_ROWS) -> Iterator[Commission]:
    """Every order between ``since`` and ``until`` (naive UTC), page by page.

    Raises:
        InputError: no key, or ``since`` not before ``until``.
        AuthError, RetryableError: as for :func:`make_link`.
    """
    if not has_credentials(settings):
        raise InputError(f"AccessTrade order list: {missing(settings)}")
    if until <= since:
        raise InputError(f"AccessTrade order list: since ({since}) must be before until ({until})")
    key = Secret(settings.accesstrade_key)
    url = settings.accesstrade_api_base.rstrip("/") + "/v1/order-list"
    what = "AccessTrade order list"
    page = 0
    while True:
        page += 1
        params = {"since": _iso(since), "until": _iso(until), "page": page, "limit": page_rows}
        body = with_retries(lambda p=params: _check(send(client, "GET", url, what=what, secrets=(key,), params=p,
                                                         headers=_headers(key)), what=what, key=key),
                            retries=int(settings.max_retries), sleep=sleep, what=what)
        orders = [o for o in (body.get("data") or []) if isinstance(o, dict)]
        if on_page:
            on_page("page", {"page": page, "rows": len(orders)})
        for order in orders:
            row = _row(order)
            if row is not None:
                yield row
        total = _count(body.get("total"))
        if len(orders) < page_rows or (total and page * page_rows >= total):
            return


ACCESSTRADE = Network(name="accesstrade", title="AccessTrade", hosts=HOSTS, tracking="accesstrade sub-id (utm_content)",
                      make_link=make_link, fetch_commissions=fetch_commissions, has_credentials=has_credentials,
                      missing=missing)
