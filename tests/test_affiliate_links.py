"""Sub-ids in every affiliate link: the format, Shopee short links and AccessTrade tracking links made by
strict fakes on loopback (signature, sub-id rules, token, campaign, utm_content), the {sub_id} template,
a network that is down (plain link, note, the job still made), the cache, `farm queue show`, `farm
products list`, and the networks' report APIs (Shopee's scrollId paging and its expiry, rate limits)."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from datetime import datetime, timedelta

import httpx
import pytest
import yaml
from PIL import Image

import catalogs
from fake_affiliate import FakeAccessTrade, FakeShopee, utc_now
from farm.cli import main as farm_main
from farm.errors import AuthError, InputError
from farm.platforms import platform_names
from farm.revenue import (
    ACCESSTRADE,
    SHOPEE,
    links_for_job,
    network_for,
    platform_codes,
    sub_id_for,
    sync_commissions,
)
from farm.settings import AffiliateSettings
from farm.workspace import Workspace, init_workspace

CAMPAIGN = "4751584435713464237"


@pytest.fixture(autouse=True)
def _no_affiliate_env(monkeypatch):
    for f in dataclasses.fields(AffiliateSettings):
        monkeypatch.delenv("FARM_" + f.name.upper(), raising=False)


def workspace(tmp_path, affiliate: str = "", name: str = "ws") -> Workspace:
    ws, _ = init_workspace(tmp_path / name)
    (ws.root / "farm.toml").write_text("[ai]\nenabled = false\n[affiliate]\nmax_retries = 0\n" + affiliate,
                                       encoding="utf-8")
    return Workspace(ws.root)


def settings(**kw) -> AffiliateSettings:
    return dataclasses.replace(AffiliateSettings(), **kw)


def no_sleep(log: list | None = None):
    return (lambda s: log.append(s)) if log is not None else (lambda s: None)


def product_file(tmp_path, name: str = "Áo thun cotton", **extra):
    Image.new("RGB", (320, 240), (200, 40, 40)).save(tmp_path / "img.jpg", quality=90)
    doc = {"name": name, "price": 129000, "currency": "VND", "images": ["img.jpg"], "call_to_action": "Mua ngay",
           "affiliate_url": "https://shopee.vn/product/123/456", "language": "vi",
           "platforms": ["tiktok", "youtube", "facebook"], **extra}
    path = tmp_path / f"p{abs(hash(name)) % 10_000}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def import_product(ws, path, capsys) -> dict:
    assert farm_main(["--workspace", str(ws.root), "products", "import", str(path), "--license", "owned",
                      "--json", "-q"]) == 0
    return json.loads(capsys.readouterr().out)["added"][0]


def cli_json(ws, capsys, *args) -> object:
    code = farm_main(["--workspace", str(ws.root), *args, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


# -- sub-ids -----------------------------------------------------------------------------------------
def test_sub_ids_are_short_plain_unique_and_stable():
    names = platform_names(outbox=True)
    jobs = (1, 9, 10, 11, 99, 100, 101, 1_234_567_890)
    ids = [sub_id_for(j, p, prefix="rf") for j in jobs for p in names]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9]{1,20}", s) for s in ids)
    assert sub_id_for(42, "tiktok", prefix="rf") == sub_id_for(42, "tiktok", prefix="rf") == "rf42ti"
    assert sub_id_for(42, "youtube", prefix="FarmB") == "FarmB42yo"
    # a prefix ending in a digit would run into the job id: "rf2" + job 1 would be "rf" + job 21
    with pytest.raises(InputError, match="ending in a letter"):
        sub_id_for(1, "tiktok", prefix="rf2")
    # codes come from the names, registration order decides: a later platform never changes an earlier code
    codes = platform_codes(["tiktok", "youtube", "facebook", "local", "tiktokshop", "tv1", "tv2", "x"])
    assert codes["tiktok"] == "ti" and codes["tiktokshop"] == "tik"
    assert len(set(codes.values())) == len(codes) and all(c.isalpha() and c.islower() for c in codes.values())
    for bad_prefix in ("r_f", "", "rf-1", "rfé", "abcdefghi"):
        with pytest.raises(InputError, match="sub-id prefix"):
            sub_id_for(1, "tiktok", prefix=bad_prefix)
    for bad_job in (0, -1, True, "3", 1.0):
        with pytest.raises(InputError, match="job id"):
            sub_id_for(bad_job, "tiktok", prefix="rf")
    with pytest.raises(InputError, match="Invalid platform.*Supported: tiktok"):
        sub_id_for(1, "myspace", prefix="rf")
    with pytest.raises(InputError, match="at most 20"):
        sub_id_for(12_345_678_901, "tiktok", prefix="abcdefgh")


def test_networks_are_told_by_host_or_by_the_product():
    assert network_for("https://s.shopee.vn/AbC") is SHOPEE and network_for("https://vn.shp.ee/x") is SHOPEE
    assert network_for("https://shope.ee/x1") is SHOPEE and network_for("https://shopee.vn/p-i.1.2") is SHOPEE
    assert network_for("https://go.isclix.com/deep_link/1/2?url=x") is ACCESSTRADE
    assert network_for("https://notshopee.vn/x") is None and network_for("https://example.com/x") is None
    assert network_for("https://shopee.vn/x", "accesstrade") is ACCESSTRADE
    assert network_for("https://shopee.vn/x", "other") is None


# -- the networks' link makers against strict fakes ------------------------------------------------
def test_shopee_signature_matches_the_docs_worked_example():
    from farm.revenue import shopee_signature as signature

    # Shopee's Authentication page: AppId 123456, secret "demo", timestamp 1577836800, this payload
    payload = '{"query":"{\\nbrandOffer{\\n    nodes{\\n        commissionRate\\n        offerName\\n    }\\n}\\n}"}'
    assert signature("123456", "1577836800", payload, "demo") == \
        "dc88d72feea70c80c52c3399751a7d34966763f51a7f056aa070a5e9df645412"


def test_shopee_short_link_is_signed_and_carries_the_sub_id():
    with FakeShopee() as fake, httpx.Client() as client:
        s = settings(shopee_app_id=fake.app_id, shopee_secret=fake.secret, shopee_affiliate_api=fake.url)
        link = SHOPEE.make_link("https://shopee.vn/product/123/456", "rf7yo", settings=s, client=client,
                                sleep=no_sleep())
        assert fake.links[link] == {"origin": "https://shopee.vn/product/123/456", "sub_ids": ["rf7yo"]}
        auth = fake.requests[-1]["headers"]["authorization"]
        assert re.fullmatch(r"SHA256 Credential=123456, Timestamp=\d+, Signature=[0-9a-f]{64}", auth)
        # a wrong secret: the fake refuses the signature; the error names the settings, never the secret
        wrong = settings(shopee_app_id=fake.app_id, shopee_secret="not-the-secret", shopee_affiliate_api=fake.url)
        with pytest.raises(AuthError, match="shopee_secret") as refused:
            SHOPEE.make_link("https://shopee.vn/product/1/2", "rf7yo", settings=wrong, client=client,
                             sleep=no_sleep())
        assert "Invalid Signature" in str(refused.value) and "not-the-secret" not in str(refused.value)
        # the fake refuses what Shopee refuses in sub-ids (ours never have it: checked before sending)
        from farm.revenue import shopee_signature

        for bad in ('["rf_7"]', '["rf-7"]', '["rf.7"]', '["rfé7"]', '["a","b","c","d","e","f"]'):
            query = ('mutation{generateShortLink(input:{originUrl:"https://shopee.vn/p",subIds:' + bad
                     + "}){shortLink}}")
            payload = json.dumps({"query": query}, separators=(",", ":"))
            stamp = str(int(fake.now()))
            signed = shopee_signature(fake.app_id, stamp, payload, fake.secret)
            answer = client.post(fake.url, content=payload.encode(), headers={
                "Content-Type": "application/json",
                "Authorization": f"SHA256 Credential={fake.app_id}, Timestamp={stamp}, Signature={signed}"}).json()
            assert answer["errors"][0]["extensions"]["code"] == 11001, answer
        with pytest.raises(InputError, match="Invalid sub-id"):
            SHOPEE.make_link("https://shopee.vn/p", "rf_7", settings=s, client=client)


def test_shopee_rate_limit_is_retried():
    with FakeShopee() as fake, httpx.Client() as client:
        s = settings(shopee_app_id=fake.app_id, shopee_secret=fake.secret, shopee_affiliate_api=fake.url,
                     max_retries=2)
        fake.rate_limit(2)
        waits: list[float] = []
        link = SHOPEE.make_link("https://shopee.vn/p", "rf1ti", settings=s, client=client, sleep=no_sleep(waits))
        assert link in fake.links and len(waits) == 2 and all(0 < w <= 3600 for w in waits)


def test_accesstrade_link_with_the_sub_id_as_utm_content():
    with FakeAccessTrade() as fake, httpx.Client() as client:
        s = settings(accesstrade_key=fake.key, accesstrade_api_base=fake.base_url)
        assert ACCESSTRADE.missing(s) is not None  # no campaign anywhere
        link = ACCESSTRADE.make_link("https://shopee.vn/product/1/2", "rf9fa", settings=s, client=client,
                                     campaign_id=CAMPAIGN, sleep=no_sleep())
        assert link.startswith("https://shorten.asia/")
        sent = fake.made[-1]
        assert sent["campaign_id"] == CAMPAIGN and sent["utm_content"] == "rf9fa"
        assert sent["urls"] == ["https://shopee.vn/product/1/2"]
        assert fake.requests[-1]["headers"]["authorization"] == f"Token {fake.key}"
        # a deep link's own shop URL is what the campaign gets
        ACCESSTRADE.make_link(f"https://go.isclix.com/deep_link/5000/{CAMPAIGN}?url=https%3A%2F%2Fshopee.vn%2Fp%2F9",
                              "rf9yo", settings=s, client=client, campaign_id=CAMPAIGN)
        assert fake.made[-1]["urls"] == ["https://shopee.vn/p/9"]
        with pytest.raises(InputError, match="refused the URL"):  # the campaign does not cover the host
            ACCESSTRADE.make_link("https://lazada.vn/p/1", "rf9ti", settings=s, client=client, campaign_id=CAMPAIGN)
        bad = settings(accesstrade_key="wrong-key-1", accesstrade_api_base=fake.base_url)
        with pytest.raises(AuthError, match="accesstrade_key") as refused:
            ACCESSTRADE.make_link("https://shopee.vn/p", "rf9ti", settings=bad, client=client, campaign_id=CAMPAIGN)
        assert "wrong-key-1" not in str(refused.value)


# -- links for a job: template, cache, a network down ------------------------------------------------
def test_template_link_is_filled_without_a_request(tmp_path):
    ws = workspace(tmp_path)
    product = {"id": 5, "affiliate_url": "https://example.com/go?aff=me&sub={sub_id}", "network": None}
    links = links_for_job(ws, job_id=12, product=product, platforms=["tiktok", "youtube"])
    assert links["youtube"].url == "https://example.com/go?aff=me&sub=rf12yo" and links["youtube"].tracked
    assert links["tiktok"].sub_id == "rf12ti" and links["tiktok"].note is None
    with ws.catalog.read() as con:
        assert catalogs.job_for_sub_id(con, "rf12yo")["job_id"] == 12
    # unknown network, no template: the plain link, untracked, and the reason
    plain = links_for_job(ws, job_id=13, product={"id": 6, "affiliate_url": "https://example.com/p"},
                          platforms=["youtube"])["youtube"]
    assert plain.url == "https://example.com/p" and not plain.tracked and "unknown network" in plain.note


def test_links_are_made_once_and_cached(tmp_path):
    with FakeShopee() as fake:
        ws = workspace(tmp_path, fake.toml())
        product = {"id": 1, "affiliate_url": "https://shopee.vn/product/1/2"}
        first = links_for_job(ws, job_id=3, product=product, platforms=["tiktok", "youtube"])
        asked = len(fake.requests)
        assert asked == 2 and all(link.tracked for link in first.values())
        assert {fake.links[link.url]["sub_ids"][0] for link in first.values()} == {"rf3ti", "rf3yo"}
        again = links_for_job(ws, job_id=3, product=product, platforms=["youtube", "tiktok"])
        assert again == first and len(fake.requests) == asked
        more = links_for_job(ws, job_id=3, product=product, platforms=["tiktok", "facebook"])
        assert more["tiktok"] == first["tiktok"] and len(fake.requests) == asked + 1  # only facebook's is new


def test_a_network_down_gives_the_plain_link_and_a_note_and_the_job_is_made(tmp_path, capsys):
    from farm.jobs import enqueue_promo

    with FakeShopee() as fake:
        ws = workspace(tmp_path, fake.toml())
        pid = import_product(ws, product_file(tmp_path), capsys)["id"]
        fake.fail(503, times=20)
        job_id = enqueue_promo(ws, pid)
        assert len(fake.requests) == 1  # down once: the other posts do not wait on it again
    with ws.catalog.read() as con:
        job = catalogs.get_job(con, job_id)
        links = catalogs.get_links(con, job_id)
        log = [r for r in catalogs.job_log(con, job_id) if r["stage"] == "link"]
    assert job["state"] == "pending" and set(job["post_metadata"]) == {"tiktok", "youtube", "facebook"}
    assert job["post_metadata"]["youtube"]["link"] == "https://shopee.vn/product/123/456"
    assert job["post_metadata"]["youtube"]["sub_id"] is None
    assert [r["tracked"] for r in links] == [False] * 3 and all("503" in r["note"] for r in links)
    assert len(log) == 3 and {r["status"] for r in log} == {"failed"} and "plain link" in log[0]["detail"]


# -- the CLI: queue show, products list and show ------------------------------------------------------
def test_queue_show_has_the_sub_id_its_link_carries(tmp_path, capsys):
    with FakeShopee() as fake, FakeAccessTrade() as at:
        ws = workspace(tmp_path, fake.toml() + at.toml())
        root = str(ws.root)
        pid = import_product(ws, product_file(tmp_path), capsys)["id"]
        job = cli_json(ws, capsys, "queue", "add", "promo", str(pid), "--platform", "youtube")
        shown = cli_json(ws, capsys, "queue", "show", str(job["id"]))
        sub_id = f"rf{job['id']}yo"
        assert shown["sub_id"] == sub_id and shown["sub_ids"] == {"youtube": sub_id}
        post = shown["post_metadata"]["youtube"]
        assert post["sub_id"] == sub_id and fake.links[post["link"]]["sub_ids"] == [sub_id]
        assert post["link"] in post["description"]
        assert farm_main(["--workspace", root, "queue", "show", str(job["id"])]) == 0
        text = capsys.readouterr().out
        assert f"sub-id [youtube]: {sub_id}" in text and f"(sub-id {sub_id})" in text
        # an AccessTrade product on every platform: one sub-id each, in utm_content
        at_pid = import_product(ws, product_file(tmp_path, "Quạt mini", network="accesstrade",
                                                 campaign_id=int(CAMPAIGN)), capsys)["id"]
        at_job = cli_json(ws, capsys, "queue", "add", "promo", str(at_pid))
        shown = cli_json(ws, capsys, "queue", "show", str(at_job["id"]))
        assert set(shown["sub_ids"]) == {"tiktok", "youtube", "facebook"}
        first = next(iter(shown["post_metadata"]))  # a job for several platforms: the first one's
        assert shown["sub_id"] == shown["sub_ids"][first] == shown["post_metadata"][first]["sub_id"]
        assert sorted(m["utm_content"] for m in at.made) == sorted(shown["sub_ids"].values())
        assert {m["campaign_id"] for m in at.made} == {CAMPAIGN}
        for platform, post in shown["post_metadata"].items():
            assert post["sub_id"] == shown["sub_ids"][platform] and post["link"].startswith("https://shorten.asia/")


def test_products_list_and_show_say_how_links_are_tracked(tmp_path, capsys):
    with FakeShopee() as fake:
        ws = workspace(tmp_path, fake.toml())
        Image.new("RGB", (320, 240), (20, 160, 40)).save(tmp_path / "img.jpg")
        rows = [("Shopee", "https://shope.ee/abc", "", ""), ("Template", "https://x.example/p?s={sub_id}", "", ""),
                ("Unknown", "https://x.example/p", "", ""), ("AT", "https://shopee.vn/p/1", "accesstrade", CAMPAIGN),
                ("Other", "https://shopee.vn/p/2", "other", "")]
        with (tmp_path / "products.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["name", "price", "currency", "images", "affiliate_url", "network", "campaign_id"])
            for name, url, network, campaign in rows:
                w.writerow([name, "1000", "VND", "img.jpg", url, network, campaign])
        assert farm_main(["--workspace", str(ws.root), "products", "import", str(tmp_path / "products.csv"),
                          "-q", "--json"]) == 0
        capsys.readouterr()
        listed = {r["name"]: r for r in cli_json(ws, capsys, "products", "list")}
        assert listed["Shopee"]["tracking"] == "shopee sub-id" and listed["Shopee"]["tracked"] is True
        assert listed["Template"]["tracking"] == "{sub_id} template"
        assert listed["Unknown"]["tracking"].startswith("no per-video tracking (unknown network")
        assert listed["AT"]["tracking"].startswith("no per-video tracking (no AccessTrade API key")
        assert listed["AT"]["network"] == "accesstrade" and listed["AT"]["campaign_id"] == CAMPAIGN
        assert "network 'other'" in listed["Other"]["tracking"] and listed["Other"]["tracked"] is False
        assert farm_main(["--workspace", str(ws.root), "products", "list"]) == 0
        assert "shopee sub-id" in capsys.readouterr().out
        shown = cli_json(ws, capsys, "products", "show", str(listed["Template"]["id"]))
        assert shown["tracking"] == "{sub_id} template"
        # a network that is not one: refused, naming the file and the row, nothing imported
        bad = tmp_path / "bad.csv"
        bad.write_text("name,price,currency,images,network\nX,1,VND,img.jpg,lazada\n", encoding="utf-8")
        assert farm_main(["--workspace", str(ws.root), "products", "import", str(bad), "-q"]) == 2
        err = capsys.readouterr().err
        assert "bad.csv:2" in err and "Invalid network ('lazada')" in err


# -- the report APIs -------------------------------------------------------------------------------------
def test_shopee_report_pages_and_a_lapsed_scroll_id_restarts_the_window():
    with FakeShopee() as fake, httpx.Client() as client:
        s = settings(shopee_app_id=fake.app_id, shopee_secret=fake.secret, shopee_affiliate_api=fake.url)
        statuses = ["PENDING", "COMPLETED", "CANCELLED", "UNPAID", "PENDING", "COMPLETED", "PENDING"]
        for k, status in enumerate(statuses):
            fake.add_conversion(f"O{k}", sub_ids=(f"rf{k}yo", "x"), status=status, items=2 if k == 1 else 1,
                                complete_time=int(fake.now()) - 60 if status == "COMPLETED" else 0,
                                fraud="FRAUD" if k == 6 else "VERIFIED")
        events: list[tuple[str, dict]] = []
        waits: list[float] = []

        def on_page(name, data):
            events.append((name, data))
            if name == "page" and len(events) == 1:
                fake.advance(31)  # a slow page: the cursor lapses before the next request

        rows = list(SHOPEE.fetch_commissions(s, since=utc_now() - timedelta(days=1),
                                             until=utc_now() + timedelta(hours=1), client=client, on_page=on_page,
                                             sleep=no_sleep(waits), now=fake.now, page_rows=3))
    assert [name for name, _ in events].count("restart") == 1
    # purchase window: page 1 (4 items), its cursor lapses, page 1 again, pages 2 and 3; complete window: 1 page
    assert [d["rows"] for n, d in events if n == "page"] == [4, 4, 3, 1, 3]
    assert len(rows) == 8 and len({r.key for r in rows}) == 8
    by_order = {r.order_id: r for r in rows}
    assert [by_order[f"O{k}"].status for k in range(7)] == ["pending", "completed", "cancelled", "pending", "pending",
                                                           "completed", "cancelled"]
    assert by_order["O3"].sub_ids == ("rf3yo", "x") and by_order["O0"].item_id == "20000"
    assert by_order["O0"].model_id == "30000" and by_order["O0"].commission == 1500.0
    assert by_order["O1"].completed_at is not None and by_order["O0"].ordered_at is not None
    assert waits and max(waits) <= 30  # the second window waited out Shopee's 30 s between new queries
    queries = [q for q in fake.report_queries if "scrollId" not in q]
    assert {"purchaseTimeStart", "completeTimeStart"} <= {k for q in queries for k in q}


def test_accesstrade_orders_page_and_rate_limit(tmp_path):
    with FakeAccessTrade() as fake, httpx.Client() as client:
        s = settings(accesstrade_key=fake.key, accesstrade_api_base=fake.base_url, max_retries=2)
        fake.add_order("A1", utm_content="rf1yo", approved=1, pending=0, confirmed=1)
        fake.add_order("A2", utm_content="rf2ti", rejected=1, pending=0)
        fake.add_order("A3")
        fake.add_order("A4", approved=1, pending=0)
        fake.add_order("A5", utm_content="rf5fa", sales_time="2026-12-06T23:00:00")
        fake.fail(429, times=1)
        waits: list[float] = []
        rows = list(ACCESSTRADE.fetch_commissions(s, since=datetime(2026, 12, 1), until=datetime(2026, 12, 7),
                                                  client=client, sleep=no_sleep(waits), page_rows=2))
    assert waits == [0.0]  # Retry-After: 0
    assert [r.order_id for r in rows] == ["A1", "A2", "A3", "A4", "A5"]
    assert [r.status for r in rows] == ["completed", "cancelled", "pending", "pending", "pending"]
    assert rows[0].sub_ids == ("rf1yo",) and rows[2].sub_ids == () and rows[0].commission == 2208.0
    assert rows[4].ordered_at == datetime(2026, 12, 6, 16, 0)  # Vietnam time to UTC


def test_sync_stores_every_network_idempotently(tmp_path, monkeypatch):
    store: dict[tuple, object] = {}

    def upsert_commissions(con, rows, *, source):  # stand-in until catalogs.upsert_commissions is used here
        new = sum(1 for r in rows if r.key not in store)
        store.update({r.key: r for r in rows})
        return {"new": new, "updated": len(rows) - new, "source": source}

    monkeypatch.setattr(catalogs, "upsert_commissions", upsert_commissions, raising=False)
    with FakeShopee() as fake, FakeAccessTrade() as at:
        ws = workspace(tmp_path, fake.toml() + at.toml())
        fake.add_conversion("S1", sub_ids=("rf1yo",))
        fake.add_conversion("S2", sub_ids=("rf2ti",), status="COMPLETED", complete_time=int(fake.now()) - 5)
        vietnam_now = (utc_now() + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%S")  # an hour ago, UTC+7
        at.add_order("A1", utm_content="rf3fa", sales_time=vietnam_now)
        events: list[tuple[str, dict]] = []
        window = dict(since=utc_now() - timedelta(days=2), until=utc_now() + timedelta(hours=1))
        first = sync_commissions(ws, **window, on_event=lambda n, d: events.append((n, d)), sleep=no_sleep())
        again = sync_commissions(ws, **window, networks=["shopee", "accesstrade"], sleep=no_sleep())
    assert first["rows"] == 3 and len(store) == 3
    assert first["networks"]["shopee"]["stored"] == {"new": 2, "updated": 0, "source": "shopee api"}
    assert again["networks"]["shopee"]["stored"]["new"] == 0
    assert again["networks"]["accesstrade"]["stored"]["updated"] == 1
    pages = [d for n, d in events if n == "page"]
    assert {d["network"] for d in pages} == {"shopee", "accesstrade"} and all("rows" in d for d in pages)
    with pytest.raises(InputError, match="Invalid affiliate network"):
        sync_commissions(ws, **window, networks=["lazada"])
    bare = workspace(tmp_path, name="bare")
    with pytest.raises(InputError, match="no affiliate API credentials"):
        sync_commissions(bare, **window)


def test_sync_into_the_catalog_joins_sales_to_posts(tmp_path):
    try:
        catalogs.upsert_commissions  # noqa: B018  (written with the revenue import; skip until it is there)
    except (AttributeError, ImportError):
        pytest.skip("catalogs.upsert_commissions is not written yet")
    with FakeShopee() as fake:
        ws = workspace(tmp_path, fake.toml())
        link = links_for_job(ws, job_id=1, product={"id": 1, "affiliate_url": "https://shopee.vn/p/1"},
                             platforms=["youtube"])["youtube"]
        fake.add_conversion("S1", sub_ids=(link.sub_id,), items=2)
        fake.add_conversion("S2", sub_ids=("someoneelse",))
        window = dict(since=utc_now() - timedelta(days=1), until=utc_now() + timedelta(hours=1))
        sync_commissions(ws, **window, sleep=no_sleep(), networks=["shopee"])
        fake.conversions[0]["orders"][0]["orderStatus"] = "COMPLETED"
        again = sync_commissions(ws, **window, sleep=no_sleep(), networks=["shopee"])
    assert again["networks"]["shopee"]["rows"] == 3
    with ws.catalog.read() as con:
        rows = con.execute("SELECT order_id, status, job_id, platform FROM commissions "
                           "ORDER BY order_id, item_id").fetchall()
    assert rows == [("S1", "completed", 1, "youtube"), ("S1", "completed", 1, "youtube"), ("S2", "pending", None, None)]
