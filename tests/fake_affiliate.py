"""Fake Shopee Affiliate Open API and AccessTrade publisher API on loopback: real HTTP, as strict as docs/affiliate.md.

Each fake is a ``ThreadingHTTPServer`` on 127.0.0.1 (port chosen by the OS) in a daemon thread, its
state behind one lock. Usage::

    with FakeShopee() as shopee, FakeAccessTrade() as at:
        (ws.root / "farm.toml").write_text(shopee.toml() + at.toml_lines())
        ...
        shopee.links      # {short link: {"origin": url, "sub_ids": [...]}}
        shopee.requests   # [{"path", "headers", "body"}] as received

``FakeShopee``: ``POST /graphql`` only. Every request must carry
``Authorization: SHA256 Credential=A, Timestamp=T, Signature=S`` (components in any order) with
``S = sha256(A + T + body + secret)`` over the exact bytes received, lower-case hex, and ``T`` within
10 minutes of the fake's real clock; else error 10020. Errors are HTTP 200 with
``{"data": null, "errors": [{"message", "path", "extensions": {"code", "message"}}]}``.
``generateShortLink(input:{originUrl:"...",subIds:["..."]}){shortLink}``: the origin must be a
Shopee URL, at most 5 sub-ids, each ASCII letters and digits (11001 otherwise).
``conversionReport(purchaseTimeStart/End | completeTimeStart/End, limit, scrollId)``: at most 500 a
page, the range within the last 90 days, a ``scrollId`` is good for one use and 30 seconds of
``fake.now()`` (``fake.advance(s)`` moves that clock on; 11001 once lapsed or used).
``add_conversion(...)`` adds report data; ``rate_limit(n)`` answers the next n requests with 10030;
``fail(status, times=1)`` answers the next requests with that HTTP status.

``FakeAccessTrade``: ``Authorization: Token KEY`` on every request (401 otherwise).
``POST /v1/product_link/create`` with JSON ``campaign_id`` (a known campaign, else 400), ``urls``
(each http(s); a host the campaign does not cover goes to ``error_link``) and optional ``utm_*``;
``data.success_link[]`` holds ``aff_link`` (a go.isclix.com deep link with the utm parameters) and
``short_link``. ``GET /v1/order-list?since&until&page&limit``: since and until ISO with ``Z``
(400 otherwise), limit capped at 300, at most ``order_list_per_minute`` (10) calls a minute (429 with
``Retry-After`` beyond), ``{"data": [...], "total": n}``. ``add_order(...)``, ``rate_limit(n)``,
``fail(status, times=1)`` as above.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import traceback
from collections import deque
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlencode, urlsplit


class _Fake:
    """A loopback HTTP server whose answers come from ``self.answer(method, path, headers, body)``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[dict] = []
        self.errors: list[str] = []
        self.faults: deque[int] = deque()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    with fake.lock:
                        fake.requests.append({"method": method, "path": self.path, "headers": headers, "body": body})
                        if fake.faults:
                            status = fake.faults.popleft()
                            out = (status, {"Retry-After": "0"} if status == 429 else {}, {"message": f"HTTP {status}"})
                        else:
                            out = fake.answer(method, self.path, headers, body)
                except Exception:  # a bug in the fake itself
                    fake.errors.append(traceback.format_exc())
                    out = (500, {}, {"message": "fake bug"})
                status, extra, doc = out
                data = json.dumps(doc).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                self._serve("GET")

            def do_POST(self):  # noqa: N802
                self._serve("POST")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def fail(self, status: int, times: int = 1) -> None:
        with self.lock:
            self.faults.extend([status] * times)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
        assert not self.errors, "bugs in the fake:\n" + "\n".join(self.errors)


# -- Shopee ----------------------------------------------------------------------------------------
SHOPEE_HOSTS = ("shopee.vn", "shope.ee", "shp.ee")
_STRING = r'"(?:[^"\\]|\\.)*"'


def _shopee_error(code: int, message: str, path: str | None = None) -> tuple[int, dict, dict]:
    # the error shape of the docs' "Request and Response" page: HTTP 200, data null, errors[0].extensions.code
    return 200, {}, {"data": None, "errors": [{"message": message, "path": path,
                                               "extensions": {"code": code, "message": message}}]}


class FakeShopee(_Fake):
    def __init__(self, *, app_id: str = "123456", secret: str = "shopee-secret-1") -> None:
        self.app_id, self.secret = app_id, secret
        self.offset_s = 0.0
        self.conversions: list[dict] = []
        self.links: dict[str, dict] = {}
        self.scrolls: dict[str, dict] = {}
        self.rate_limited = 0
        self.report_queries: list[dict] = []
        super().__init__()

    # -- helpers for tests
    @property
    def url(self) -> str:
        return self.base_url + "/graphql"

    def toml(self, *, secret: str | None = None) -> str:
        return (f'shopee_app_id = "{self.app_id}"\nshopee_secret = "{secret or self.secret}"\n'
                f'shopee_affiliate_api = "{self.url}"\n')

    def now(self) -> float:
        return time.time() + self.offset_s

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.offset_s += seconds

    def rate_limit(self, times: int) -> None:
        with self.lock:
            self.rate_limited += times

    def add_conversion(self, order_id: str, *, sub_ids: tuple[str, ...] = (), status: str = "PENDING",
                       items: int = 1, purchase_time: int | None = None, complete_time: int = 0,
                       commission: str = "1500", net_commission: str | None = None, fraud: str = "UNVERIFIED") -> dict:
        purchase = int(purchase_time if purchase_time is not None else self.now() - 3600)
        total = float(commission) * items
        node = {
            "purchaseTime": purchase, "clickTime": purchase - 600, "conversionId": 9_000_000 + len(self.conversions),
            "checkoutId": 9_000_000 + len(self.conversions),
            "utmContent": "-".join(list(sub_ids) + [""] * (5 - len(sub_ids))),  # Sub_id1..5 joined with '-'
            "totalCommission": f"{total:g}",
            "netCommission": net_commission if net_commission is not None else f"{total:g}",
            "orders": [{"orderId": order_id, "orderStatus": status, "shopType": "C2C_NON_CB", "items": [
                {"itemId": 20_000 + k, "itemName": f"Item {k}", "modelId": 30_000 + k, "completeTime": complete_time,
                 "actualAmount": "129000", "itemTotalCommission": commission, "displayItemStatus": status.title(),
                 "fraudStatus": fraud, "channelType": "Websites"} for k in range(items)]}],
        }
        with self.lock:
            self.conversions.append(node)
        return node

    # -- the server
    def _auth(self, headers: dict, body: bytes) -> tuple[int, dict, dict] | None:
        raw = headers.get("authorization", "")
        m = re.fullmatch(r"SHA256 (.+)", raw)
        if not m:
            return _shopee_error(10020, "Invalid Authorization Header")
        parts = dict(p.strip().split("=", 1) for p in m.group(1).split(",") if "=" in p)
        if set(parts) != {"Credential", "Timestamp", "Signature"}:
            return _shopee_error(10020, "Invalid Authorization Header")
        if parts["Credential"] != self.app_id:
            return _shopee_error(10020, "Invalid Credential")
        if not parts["Timestamp"].isdigit():
            return _shopee_error(10020, "Invalid Timestamp")
        if abs(time.time() - int(parts["Timestamp"])) > 600:  # docs: within 10 minutes of Shopee's time
            return _shopee_error(10020, "Request Expired")
        # docs: SHA256(Credential + Timestamp + Payload + Secret), 64 lower-case hex characters
        want = hashlib.sha256(self.app_id.encode() + parts["Timestamp"].encode() + body + self.secret.encode())
        if parts["Signature"] != want.hexdigest():
            return _shopee_error(10020, "Invalid Signature")
        return None

    def answer(self, method: str, path: str, headers: dict, body: bytes):
        if urlsplit(path).path != "/graphql":
            return 404, {}, {"message": "not found"}
        if method != "POST" or not headers.get("content-type", "").startswith("application/json"):
            return _shopee_error(10010, "Request parsing error: POST application/json only")
        refused = self._auth(headers, body)
        if refused:
            return refused
        if self.rate_limited:
            self.rate_limited -= 1
            return _shopee_error(10030, "Rate limit exceeded")
        try:
            query = json.loads(body)["query"]
        except (ValueError, KeyError, TypeError):
            return _shopee_error(10010, "Request parsing error")
        if "generateShortLink" in query:
            return self._short_link(query)
        if "conversionReport" in query:
            return self._report(query)
        return _shopee_error(10010, "Request parsing error: API not found")

    def _short_link(self, query: str):
        m = re.search(rf"generateShortLink\s*\(\s*input\s*:\s*\{{\s*originUrl\s*:\s*({_STRING})"
                      rf"(?:\s*,\s*subIds\s*:\s*\[((?:\s*{_STRING}\s*,?)*)\])?\s*\}}\s*\)"
                      rf"\s*\{{\s*shortLink\s*\}}", query)
        if not m:
            return _shopee_error(10010, "Request parsing error", "generateShortLink")
        origin = json.loads(m.group(1))
        sub_ids = [json.loads(s) for s in re.findall(_STRING, m.group(2) or "")]
        host = (urlsplit(origin).hostname or "").lower()
        if not any(host == h or host.endswith("." + h) for h in SHOPEE_HOSTS):
            return _shopee_error(11001, "Params Error: originUrl is not a Shopee link", "generateShortLink")
        # docs: up to 5 sub ids; Shopee refuses '_', '-', '.', accents (issue 20; third-party docs: letters and
        # digits only, error 11001)
        if len(sub_ids) > 5 or not all(re.fullmatch(r"[A-Za-z0-9]*", s) for s in sub_ids):
            return _shopee_error(11001, "Params Error: invalid subIds", "generateShortLink")
        short = f"https://s.shopee.vn/fk{len(self.links) + 1:05d}"
        self.links[short] = {"origin": origin, "sub_ids": sub_ids}
        return 200, {}, {"data": {"generateShortLink": {"shortLink": short}}}

    def _report(self, query: str):
        m = re.search(r"conversionReport\s*\(([^)]*)\)", query)
        if not m:
            return _shopee_error(10010, "Request parsing error", "conversionReport")
        args = {k: json.loads(v) for k, v in re.findall(rf"(\w+)\s*:\s*({_STRING}|-?\d+)", m.group(1))}
        self.report_queries.append(args)
        limit = int(args.get("limit", 20))
        if not 1 <= limit <= 500:  # docs: at most 500 a page
            return _shopee_error(11001, "Params Error: limit", "conversionReport")
        if "scrollId" in args:
            scroll = self.scrolls.pop(args["scrollId"], None)  # docs: one use only
            if scroll is None or self.now() - scroll["issued"] > 30:  # docs: valid for 30 seconds
                return _shopee_error(11001, "Params Error: scrollId is invalid or expired", "conversionReport")
            nodes, start = scroll["nodes"], scroll["offset"]
        else:
            nodes = self._window(args)
            if isinstance(nodes, tuple):
                return nodes
            start = 0
        page = nodes[start:start + limit]
        more = start + limit < len(nodes)
        scroll_id = None
        if more:
            scroll_id = hashlib.sha1(f"{time.time_ns()}-{len(self.scrolls)}".encode()).hexdigest()
            self.scrolls[scroll_id] = {"nodes": nodes, "offset": start + limit, "issued": self.now()}
        return 200, {}, {"data": {"conversionReport": {"nodes": page, "pageInfo": {
            "limit": limit, "hasNextPage": more, "scrollId": scroll_id}}}}

    def _window(self, args: dict):
        for field in ("purchaseTime", "completeTime"):
            if f"{field}Start" in args and f"{field}End" in args:
                start, end = int(args[f"{field}Start"]), int(args[f"{field}End"])
                break
        else:
            return _shopee_error(11001, "Params Error: a time range is required", "conversionReport")
        if start > end or start < self.now() - 90 * 86400:  # docs: only the recent 3 months
            return _shopee_error(11001, "Params Error: time range", "conversionReport")
        if field == "purchaseTime":
            return [n for n in self.conversions if start <= n["purchaseTime"] <= end]
        return [n for n in self.conversions
                if any(start <= i["completeTime"] <= end for o in n["orders"] for i in o["items"] if i["completeTime"])]


# -- AccessTrade -----------------------------------------------------------------------------------
class FakeAccessTrade(_Fake):
    def __init__(self, *, key: str = "at-key-1", campaigns: dict[str, str] | None = None) -> None:
        self.key = key
        self.campaigns = campaigns or {"4751584435713464237": "shopee.vn"}  # campaign id -> merchant host
        self.made: list[dict] = []
        self.orders: list[dict] = []
        self.rate_limited = 0
        self.order_list_per_minute = 10
        self.order_list_calls: list[float] = []
        super().__init__()

    def toml(self, *, key: str | None = None, campaign_id: str | None = None) -> str:
        lines = f'accesstrade_key = "{key or self.key}"\naccesstrade_api_base = "{self.base_url}"\n'
        return lines + (f'accesstrade_campaign_id = "{campaign_id}"\n' if campaign_id else "")

    def rate_limit(self, times: int) -> None:
        with self.lock:
            self.rate_limited += times

    def add_order(self, order_id: str, *, utm_content: str | None = None, approved: int = 0, pending: int = 1,
                  rejected: int = 0, confirmed: int = 0, sales_time: str = "2026-12-05T10:00:00",
                  commission: float = 2208.0, billing: float = 69000.0) -> dict:
        order = {"at_product_link": "https://shopee.vn/universal-link/product/1/2", "billing": billing,
                 "browser": "Mobile Safari", "category_name": "Fashion_Accessories", "click_time": sales_time,
                 "client_platform": "mobile", "confirmed_time": sales_time if confirmed else None,
                 "conversion_platform": None, "customer_type": None, "is_confirmed": confirmed,
                 "landing_page": "https://www.tiktok.com/", "merchant": "shopee", "order_id": order_id,
                 "order_pending": pending, "order_reject": rejected, "order_approved": approved,
                 "product_category": "Phu_Kien", "products_count": 1, "pub_commission": commission,
                 "sales_time": sales_time, "update_time": sales_time, "utm_campaign": None,
                 "utm_content": utm_content, "utm_medium": None, "utm_source": None}
        with self.lock:
            self.orders.append(order)
        return order

    def answer(self, method: str, path: str, headers: dict, body: bytes):
        # docs (Authentication): "Authorization: Token <access_key>"; the create-link example writes "token"
        m = re.fullmatch(r"(?i)token (\S+)", headers.get("authorization", ""))
        if not m or m.group(1) != self.key:
            return 401, {}, {"message": "Unauthorized: invalid access key"}
        if self.rate_limited:
            self.rate_limited -= 1
            return 429, {"Retry-After": "0"}, {"message": "Too many requests"}
        route = urlsplit(path).path
        if route == "/v1/product_link/create" and method == "POST":
            return self._create(body)
        if route == "/v1/order-list" and method == "GET":
            return self._order_list(parse_qs(urlsplit(path).query))
        return 404, {}, {"message": "not found"}

    def _create(self, body: bytes):
        try:
            doc = json.loads(body)
        except ValueError:
            return 400, {}, {"success": False, "message": "body is not JSON"}
        campaign = doc.get("campaign_id")
        if not isinstance(campaign, str) or campaign not in self.campaigns:  # docs: campaign_id required
            return 400, {}, {"success": False, "message": "campaign_id is required or unknown"}
        urls = doc.get("urls") or []
        if not isinstance(urls, list) or not all(isinstance(u, str) and u.startswith(("http://", "https://"))
                                                 for u in urls):
            return 400, {}, {"success": False, "message": "urls must be a list of links"}
        self.made.append(doc)
        utm = {k: doc[k] for k in ("utm_source", "utm_medium", "utm_campaign", "utm_content") if doc.get(k)}
        ok, bad = [], []
        for u in urls:
            host = (urlsplit(u).hostname or "").lower()
            merchant = self.campaigns[campaign]
            if host != merchant and not host.endswith("." + merchant):
                bad.append(u)
                continue
            n = len(self.made)
            ok.append({"aff_link": f"https://go.isclix.com/deep_link/5000/{campaign}?"
                                   + urlencode({**utm, "url": u}, quote_via=quote),
                       "first_link": None, "short_link": f"https://shorten.asia/fk{n:04d}", "url_origin": u})
        return 200, {}, {"data": {"error_link": bad, "success_link": ok, "suspend_url": []}, "success": True}

    def _order_list(self, query: dict):
        now = time.time()
        self.order_list_calls = [t for t in self.order_list_calls if now - t < 60] + [now]
        if len(self.order_list_calls) > self.order_list_per_minute:  # docs: limit 10 requests a minute
            return 429, {"Retry-After": "0"}, {"message": "Too many requests"}
        try:  # docs: since and until required, ISO like 2021-01-01T00:00:00Z
            since, until = (datetime.strptime(query[k][0], "%Y-%m-%dT%H:%M:%SZ") for k in ("since", "until"))
        except (KeyError, ValueError):
            return 400, {}, {"success": False, "message": "since and until are required (ISO format)"}
        page = int(query.get("page", ["1"])[0])
        limit = min(int(query.get("limit", ["30"])[0]), 300)  # docs: default 30, at most 300
        local = timedelta(hours=7)
        found = [o for o in self.orders
                 if since <= datetime.fromisoformat(o["sales_time"]) - local <= until]
        return 200, {}, {"data": found[(page - 1) * limit: page * limit], "total": len(found)}


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
