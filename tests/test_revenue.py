"""Commission reports into the catalog and what each video earned out: `farm revenue import`, `farm revenue`,
`farm revenue sync`'s command line and the report's revenue section.

The CSV files are written here as the dashboards export them (docs/revenue.md says where their
columns were read): Shopee's 47 columns with Vietnamese and with English headers, and
AccessTrade's order report. Expected sums are counted from the rows written, not from the code.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import catalogs
from farm.cli import main
from farm.errors import InputError
from farm.revenue import Commission, read_commission_csv
from farm.workspace import init_workspace

VIET_ACCOUNT = "Cửa hàng Hoa Mai"
SHOPEE_VI = [
    "ID đơn hàng", "Trạng thái đặt hàng", "Checkout id", "Thời Gian Đặt Hàng", "Thời gian hoàn thành",
    "Thời gian Click", "Tên Shop", "Shop id", "Loại Shop", "Item id", "Tên Item", "ID Model", "Loại sản phẩm",
    "Promotion id", "L1 Danh mục toàn cầu", "L2 Danh mục toàn cầu", "L3 Danh mục toàn cầu", "Giá(₫)", "Số lượng",
    "Loại Hoa hồng", "Đối tác chiến dịch", "Giá trị đơn hàng (₫)", "Số tiền hoàn trả (₫)",
    "Tỷ lệ sản phẩm hoa hồng Shopee", "Hoa hồng Shopee trên sản phẩm(₫)", "Tỷ lệ sản phẩm hoa hồng người bán",
    "Hoa hồng Xtra trên sản phẩm(₫)", "Tổng hoa hồng sản phẩm(₫)", "Hoa hồng đơn hàng từ Shopee(₫)",
    "Hoa hồng đơn hàng từ Người bán(₫)", "Tổng hoa hồng đơn hàng(₫)", "Tên MNC đã liên kết", "Mã hợp đồng MCN",
    "Mức phí quản lý MCN", "Phí quản lý MCN(₫)", "Mức hoa hồng tiếp thị liên kết theo thỏa thuận",
    "Hoa hồng ròng tiếp thị liên kết(₫)", "Trạng thái sản phẩm liên kết", "Ghi chú sản phẩm", "Loại thuộc tính",
    "Trạng thái người mua", "Sub_id1", "Sub_id2", "Sub_id3", "Sub_id4", "Sub_id5", "Kênh",
]
SHOPEE_EN = [
    "Order id", "Order Status", "Conversion id", "Order Time", "Complete Time", "Click Time", "Shop Name", "Shop id",
    "Shop Type", "Item id", "Item Name", "Model id", "Product Type", "Promotion id", "L1 Global Category",
    "L2 Global Category", "L3 Global Category", "Price(₫)", "Qty", "Offer Type", "Campaign Partner",
    "Purchase Value(₫)", "Refund Amount(₫)", "Item Shopee Commission Rate", "Item Shopee Commission(₫)",
    "Item Seller Commission Rate", "Item Seller Commission(₫)", "Item Total Commission(₫)",
    "Order Shopee Commission(₫)", "Order Seller Commission(₫)", "Total Order Commission(₫)", "Linked MCN Name",
    "MCN Contract id", "MCN Management Fee Rate", "MCN Management Fee(₫)", "Affiliate Agreement Fee Rate",
    "Affiliate Net Commission(₫)", "Affiliate Item Status", "Item Note", "Attribution Type", "Buyer Status",
    "Sub_id1", "Sub_id2", "Sub_id3", "Sub_id4", "Sub_id5", "Channel",
]
VN = timezone(timedelta(hours=7))


def vn_time(days_back: float, hour: int = 21) -> str:
    """A time as the dashboards print it (Vietnam time), ``days_back`` days ago."""
    day = datetime.now(VN) - timedelta(days=days_back)
    return day.replace(hour=hour, minute=14, second=5, microsecond=0).strftime("%Y-%m-%d %H:%M:%S")


def utc_of(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S") - timedelta(hours=7)


def write_csv(path: Path, headers: list[str], rows: list[dict], *, delimiter: str = ",", encoding: str = "utf-8",
              bom: bool = False) -> Path:
    with open(path, "w", newline="", encoding=encoding) as f:
        if bom:
            f.write("\ufeff")
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(headers)
        for r in rows:
            unknown = set(r) - set(headers)
            assert not unknown, unknown
            w.writerow([r.get(h, "") for h in headers])
    return path


def vi_row(order: str, item: str, status: str, net: str, *, model: str = "0", subs=("", "", "", "", ""),
           value: str = "129.000", total: str = "", days_back: float = 2, completed: str = "--", item_status: str = "",
           channel: str = "Others") -> dict:
    row = {"ID đơn hàng": order, "Trạng thái đặt hàng": status, "Checkout id": f"9{order[-3:]}",
           "Thời Gian Đặt Hàng": vn_time(days_back), "Thời gian hoàn thành": completed,
           "Thời gian Click": vn_time(days_back, hour=20), "Tên Shop": "Shop Gốm", "Shop id": "83496725",
           "Loại Shop": "Preferred(Non-CB)", "Item id": item, "Tên Item": "Bát gốm Bát Tràng", "ID Model": model,
           "Giá(₫)": value, "Số lượng": "1", "Giá trị đơn hàng (₫)": value, "Tổng hoa hồng sản phẩm(₫)": total or net,
           "Hoa hồng ròng tiếp thị liên kết(₫)": net, "Trạng thái sản phẩm liên kết": item_status or status,
           "Kênh": channel}
    row.update({f"Sub_id{k}": s for k, s in enumerate(subs, start=1)})
    return row


# -- a small farm: three posts with sub-ids, their accounts, products, templates and views -----
def make_farm(ws) -> dict:
    """Jobs 1-3 posted on tiktok (account 1), youtube (account 2) and tiktok (account 1), each with a
    sub-id in ``affiliate_links``; products 1 and 2; templates 1 and 2; views in the metric history."""
    now = catalogs.utcnow()
    with ws.catalog.write() as con:
        con.execute("INSERT INTO accounts (id, platform, username, created_at) VALUES "
                    "(1, 'tiktok', ?, ?), (2, 'youtube', 'reelfarm-yt', ?)", [VIET_ACCOUNT, now, now])
        for mid, name in ((1, "gom-xoay.mp4"), (2, "bat-trang-pan.mp4")):
            con.execute("INSERT INTO media (id, kind, path, sha256, created_at) VALUES (?, 'template', ?, ?, ?)",
                        [mid, f"/ws/templates/{name}", f"sha{mid}", now])
        for pid, name in ((1, "Bát gốm Bát Tràng"), (2, "Ấm trà men lam")):
            con.execute("INSERT INTO products (id, definition_sha256, name, price, currency, selling_points, language,"
                        " platforms, created_at) VALUES (?, ?, ?, 129000, 'VND', '[]', 'vi', '[\"tiktok\"]', ?)",
                        [pid, f"def{pid}", name, now])
        posts = [(1, "tiktok", 1, 1, 1, "sidTT1"), (2, "youtube", 2, 1, 2, "sidYT2"), (3, "tiktok", 1, 2, 1, "sidTT3")]
        for job, platform, account, product, template, sub_id in posts:
            meta = json.dumps({platform: {"title": f"Gốm đẹp số {job}"}}, ensure_ascii=False)
            con.execute("INSERT INTO jobs (id, kind, spec, state, product_id, post_metadata, created_at) "
                        "VALUES (?, 'promo', '{}', 'published', ?, ?, ?)", [job, product, meta, now])
            con.execute("INSERT INTO job_media VALUES (?, ?, 'template', 0)", [job, template])
            con.execute("INSERT INTO uploads (job_id, account_id, platform, state, created_at, published_at) "
                        "VALUES (?, ?, ?, 'published', ?, ?)", [job, account, platform, now - timedelta(days=3),
                                                                 now - timedelta(days=3)])
            con.execute("INSERT INTO affiliate_links (job_id, platform, sub_id, product_id, network, tracked, "
                        "created_at) VALUES (?, ?, ?, ?, 'shopee', true, ?)", [job, platform, sub_id, product, now])
    views = {1: 5000, 2: 2000, 3: 800}
    for step, share in ((2, 0.2), (1, 1.0)):  # an older, smaller snapshot first: the latest one counts
        at = now - timedelta(days=step)
        rows = [dict(upload=f"{job}:{platform}", at=at, views=int(views[job] * share), likes=1, comments=0, shares=0,
                     engagement_rate=0.01, job_id=job, platform=platform, account_id=account, remote_id=f"r{job}",
                     available=True, shares_missing=False, note=None)
                for job, platform, account, *_ in posts]
        catalogs.append_metrics(ws.metrics_dir, "metrics", rows, at=at)
    return {"views": views}


@pytest.fixture
def ws(tmp_path):
    return init_workspace(tmp_path / "ws")[0]


@pytest.fixture
def farm_ws(ws):
    make_farm(ws)
    return ws


def farm(ws, *args: str) -> int:
    return main(["--workspace", str(ws.root), *args])


def run_json(ws, capsys, *args: str):
    capsys.readouterr()
    assert farm(ws, *args, "--json") == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def stored(ws) -> list[dict]:
    with ws.catalog.read() as con:
        return catalogs.rows_as_dicts(con.execute("SELECT * FROM commissions ORDER BY order_id, item_id, model_id"))


# -- Shopee, Vietnamese headers ------------------------------------------------------------
def first_report(tmp_path: Path) -> Path:
    """Four rows: a pending sale of video 1 (and the same row again), a completed one of video 2
    named in Sub_id3, and an order whose sub-id names no farm post."""
    rows = [
        vi_row("261130AAA", "100", "Đang chờ xử lý", "11.610", subs=("sidTT1", "", "", "", "")),
        vi_row("261130AAA", "100", "Đang chờ xử lý", "11.610", subs=("sidTT1", "", "", "", "")),
        vi_row("261201BBB", "200", "Hoàn thành", "₫25,000", model="7", subs=("web", "", "sidYT2", "", ""),
               completed=vn_time(1)),
        vi_row("261202CCC", "300", "Đang chờ xử lý", "4.000", subs=("someoneelse", "", "", "", "")),
    ]
    return write_csv(tmp_path / "AffiliateCommissionReport.csv", SHOPEE_VI, rows)


def test_vietnamese_report_is_imported_once_and_joined_to_videos(farm_ws, tmp_path, capsys):
    report = first_report(tmp_path)
    doc = run_json(farm_ws, capsys, "revenue", "import", str(report), "--network", "shopee")
    assert {k: doc[k] for k in ("rows", "new", "updated", "unchanged", "matched", "unmatched")} == \
        {"rows": 4, "new": 3, "updated": 0, "unchanged": 1, "matched": 2, "unmatched": 1}
    rows = stored(farm_ws)
    assert [(r["order_id"], r["item_id"], r["model_id"], r["status"], r["job_id"], r["platform"], r["sub_id"])
            for r in rows] == [("261130AAA", "100", "", "pending", 1, "tiktok", "sidTT1"),  # model 0: none
                               ("261201BBB", "200", "7", "completed", 2, "youtube", "sidYT2"),
                               ("261202CCC", "300", "", "pending", None, None, "someoneelse")]
    a = rows[0]
    assert a["net_commission"] == 11610 and a["order_value"] == 129000 and a["raw_status"] == "Đang chờ xử lý"
    assert a["ordered_at"] == utc_of(vn_time(2)) and a["clicked_at"] == utc_of(vn_time(2, hour=20))
    assert a["completed_at"] is None and a["source"] == "AffiliateCommissionReport.csv"
    assert json.loads(rows[1]["sub_ids"]) == ["web", "sidYT2"]

    out = run_json(farm_ws, capsys, "revenue", "--by", "video")
    videos = [r for r in out if not r["unmatched"]]
    for r in out:  # the contract
        assert {"job_id", "platform", "account", "sub_id", "orders", "commission_pending", "commission_validated",
                "currency"} <= set(r)
    assert [(v["job_id"], v["platform"], v["account"], v["sub_id"], v["orders"], v["commission_pending"],
             v["commission_validated"], v["currency"], v["views"]) for v in videos] == [
        (2, "youtube", "reelfarm-yt", "sidYT2", 1, 0.0, 25000.0, "VND", 2000),
        (1, "tiktok", VIET_ACCOUNT, "sidTT1", 1, 11610.0, 0.0, "VND", 5000)]
    assert videos[0]["commission_per_1000_views"] == 12500.0 and videos[1]["commission_per_1000_views"] == 2322.0
    assert videos[1]["title"] == "Gốm đẹp số 1" and videos[1]["product_id"] == 1
    (other,) = [r for r in out if r["unmatched"]]  # not lost: a totals line of its own
    assert other["job_id"] is None and other["orders"] == 1 and other["commission_pending"] == 4000.0


def test_a_newer_file_updates_the_status_and_an_older_one_does_not_downgrade(farm_ws, tmp_path, capsys):
    older = first_report(tmp_path)
    assert farm(farm_ws, "revenue", "import", str(older)) == 0
    newer = write_csv(tmp_path / "newer.csv", SHOPEE_VI, [
        vi_row("261130AAA", "100", "Hoàn thành", "11.610", subs=("sidTT1", "", "", "", ""), completed=vn_time(0.5)),
        vi_row("261202CCC", "300", "Đã hủy", "0", subs=("someoneelse", "", "", "", "")),
    ])
    doc = run_json(farm_ws, capsys, "revenue", "import", str(newer))
    assert (doc["new"], doc["updated"], doc["unchanged"]) == (0, 2, 0)
    again = run_json(farm_ws, capsys, "revenue", "import", str(older))  # the older export, imported last
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, 4)
    rows = {r["order_id"]: r for r in stored(farm_ws)}
    assert len(rows) == 3 and rows["261130AAA"]["status"] == "completed"
    assert rows["261130AAA"]["completed_at"] == utc_of(vn_time(0.5)) and rows["261202CCC"]["status"] == "cancelled"

    (v1,) = [r for r in run_json(farm_ws, capsys, "revenue", "--by", "video") if r["job_id"] == 1]
    assert (v1["orders"], v1["commission_pending"], v1["commission_validated"]) == (1, 0.0, 11610.0)


def test_newer_wins_decides_by_the_rows_own_times():
    from catalogs import newer_wins

    t = datetime(2026, 12, 1)
    assert not newer_wins({"status": "completed", "completed_at": t}, {"status": "pending", "completed_at": None})
    assert not newer_wins({"status": "cancelled"}, {"status": "pending"})
    assert newer_wins({"status": "pending"}, {"status": "completed", "completed_at": t})
    assert newer_wins({"status": "completed", "completed_at": t}, {"status": "cancelled", "completed_at": t})
    assert not newer_wins({"status": "cancelled", "completed_at": t},
                          {"status": "completed", "completed_at": t - timedelta(days=1)})


def test_english_export_with_semicolons_a_bom_or_utf16(tmp_path):
    rows = [{"Order id": "26120EN1", "Order Status": status, "Conversion id": "555", "Order Time": vn_time(1),
             "Complete Time": "", "Click Time": vn_time(1, hour=3), "Item id": item, "Model id": "9",
             "Item Name": "Tea pot", "Purchase Value(₫)": "250000", "Item Total Commission(₫)": "30000",
             "Affiliate Net Commission(₫)": "27.000", "Affiliate Item Status": status, "Sub_id1": "sidTT3",
             "Channel": "Websites"} for item, status in (("1", "Pending"), ("2", "Completed"), ("3", "Cancelled"))]
    variants = (("semi.csv", dict(delimiter=";", bom=True)), ("excel.txt", dict(delimiter="\t", encoding="utf-16")))
    for name, kw in variants:
        path = write_csv(tmp_path / name, SHOPEE_EN, rows, **kw)
        got = read_commission_csv(path)  # auto: told from the headers
        assert [(c.network, c.item_id, c.model_id, c.status, c.net_commission, c.commission, c.checkout_id)
                for c in got] == [("shopee", "1", "9", "pending", 27000, 30000, "555"),
                                  ("shopee", "2", "9", "completed", 27000, 30000, "555"),
                                  ("shopee", "3", "9", "cancelled", 27000, 30000, "555")]
        assert got[0].sub_ids == ("sidTT3",) and got[0].ordered_at == utc_of(vn_time(1))
        assert got[0].channel == "Websites" and got[0].currency == "VND"


def test_accesstrade_export_joins_by_utm_content(farm_ws, tmp_path, capsys):
    headers = ["order_id", "merchant", "status", "billing", "pub_commission", "sales_time", "click_time",
               "confirmed_time", "utm_source", "utm_content", "product_id", "product_name"]
    rows = [{"order_id": "AT1", "merchant": "shopee", "status": "Tạm duyệt", "billing": "300.000",
             "pub_commission": "15.000", "sales_time": vn_time(3), "utm_content": "sidTT3", "product_id": "p1"},
            {"order_id": "AT2", "merchant": "lazada", "status": "Đã duyệt", "billing": "100000",
             "pub_commission": "5000", "sales_time": vn_time(3), "confirmed_time": vn_time(1), "utm_content": "sidTT3"},
            {"order_id": "AT3", "merchant": "tiki", "status": "Hủy", "billing": "80000", "pub_commission": "4000",
             "sales_time": vn_time(3), "utm_content": "nobody"}]
    path = write_csv(tmp_path / "accesstrade.csv", headers, rows)
    doc = run_json(farm_ws, capsys, "revenue", "import", str(path))
    assert (doc["network"], doc["new"], doc["matched"], doc["unmatched"]) == ("accesstrade", 3, 2, 1)
    got = {r["order_id"]: r for r in stored(farm_ws)}
    assert [got[o]["status"] for o in ("AT1", "AT2", "AT3")] == ["pending", "completed", "cancelled"]
    # one row per order: keyed on the order alone, as the order-list API sync keys it
    assert (got["AT1"]["item_id"], got["AT1"]["model_id"], got["AT2"]["item_id"]) == ("", "", "")
    (v3,) = [r for r in run_json(farm_ws, capsys, "revenue") if r["job_id"] == 3]
    assert (v3["orders"], v3["commission_pending"], v3["commission_validated"]) == (2, 15000.0, 5000.0)

    counters = write_csv(tmp_path / "order-list.csv",
                         ["order_id", "order_pending", "order_approved", "order_reject", "pub_commission",
                          "sales_time", "utm_content"],
                         [{"order_id": "X", "order_pending": "0", "order_approved": "1", "order_reject": "0",
                           "pub_commission": "1200", "sales_time": "2026-12-01T10:00:00", "utm_content": "a"}])
    (c,) = read_commission_csv(counters, network="accesstrade")
    assert (c.status, c.commission, c.ordered_at) == ("completed", 1200, datetime(2026, 12, 1, 3, 0))
    products = write_csv(tmp_path / "products.csv", ["order_id", "status", "pub_commission", "sales_time",
                                                       "product_id", "utm_content"],
                         [{"order_id": "Y", "status": "0", "pub_commission": "100", "sales_time": vn_time(1),
                           "product_id": p} for p in ("p1", "p2")])
    # an order on one row per product is one order, as the API (farm revenue sync) keys it: never counted twice
    [(y)] = read_commission_csv(products)
    assert (y.order_id, y.item_id, y.commission, y.status) == ("Y", "", 200, "pending")
    labels = write_csv(tmp_path / "vi.csv", ["Mã đơn hàng", "Chiến dịch", "Trạng thái", "Hoa hồng (VNĐ)",
                                             "Thời gian đặt hàng", "utm_content"],
                       [{"Mã đơn hàng": "Z", "Chiến dịch": "Tiki", "Trạng thái": "Từ chối", "Hoa hồng (VNĐ)": "1.500",
                         "Thời gian đặt hàng": "01/12/2026 10:00", "utm_content": "sidTT1"}])
    (c,) = read_commission_csv(labels)
    assert (c.network, c.status, c.commission, c.currency, c.ordered_at, c.sub_ids) == \
        ("accesstrade", "cancelled", 1500, "VND", datetime(2026, 12, 1, 3, 0), ("sidTT1",))


@pytest.mark.parametrize("case", ["number", "date", "column", "binary", "xlsx", "missing", "empty_id", "short"])
def test_a_bad_file_names_file_row_and_column_and_imports_nothing(farm_ws, tmp_path, capsys, case):
    rows = [vi_row(f"2612000{k}", str(k), "Đang chờ xử lý", "1.000") for k in range(8)]
    path, expect = tmp_path / "orders.csv", ""
    if case == "number":
        rows[5]["Giá trị đơn hàng (₫)"] = "12,3x"
        expect = 'orders.csv: row 7, column "Giá trị đơn hàng (₫)": not a number (\'12,3x\')'
    elif case == "date":
        rows[2]["Thời Gian Đặt Hàng"] = "2026-13-45 25:00:00"
        expect = 'orders.csv: row 4, column "Thời Gian Đặt Hàng": not a date and time'
    elif case == "empty_id":
        rows[0]["ID đơn hàng"] = ""
        expect = 'orders.csv: row 2, column "ID đơn hàng": empty'
    if case in ("number", "date", "empty_id"):
        write_csv(path, SHOPEE_VI, rows)
    elif case == "column":
        write_csv(path, [h for h in SHOPEE_VI if h != "Thời Gian Đặt Hàng"],
                  [{k: v for k, v in r.items() if k != "Thời Gian Đặt Hàng"} for r in rows])
        expect = 'orders.csv: not a Shopee commission report: no "Thời Gian Đặt Hàng" or "Order Time" column'
    elif case == "short":  # a row cut short: its money would be missing
        write_csv(path, SHOPEE_VI, rows)
        lines = path.read_text(encoding="utf-8").splitlines()
        lines[3] = ",".join(lines[3].split(",")[:10])
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        expect = f"orders.csv: row 4: 10 cells, the header has {len(SHOPEE_VI)} columns"
    elif case == "binary":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
        expect = "orders.csv: not a CSV file"
    elif case == "xlsx":
        path.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
        expect = "orders.csv: an Excel workbook (.xlsx), not CSV"
    else:
        path = tmp_path / "nowhere" / "orders.csv"
        expect = "orders.csv: cannot read it"
    capsys.readouterr()
    assert farm(farm_ws, "revenue", "import", str(path), "--network", "shopee") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"farm: error: {path.parent}"), err
    assert expect in err, err
    assert stored(farm_ws) == []


@pytest.mark.parametrize("text, value", [
    ("123456", 123456), ("123.456", 123456), ("₫123,456", 123456), ("1.234.567", 1234567), ("1,234.50", 1234.5),
    ("1.234,5", 1234.5), ("12,3", 12.3), ("12.5", 12.5), ("(1.000)", -1000), ("-2500", -2500), ("25.000 ₫", 25000),
    ("", None), ("--", None)])
def test_amounts_as_dashboards_write_them(text, value):
    from farm.revenue import parse_amount

    assert parse_amount(text) == value


@pytest.mark.parametrize("text", ["12,3x", "1.23.4", "abc", "1,2,3"])
def test_amounts_that_are_not_numbers(text):
    from farm.revenue import parse_amount

    with pytest.raises(ValueError):
        parse_amount(text)


def test_every_grouping_and_one_row_per_currency(farm_ws, tmp_path, capsys):
    assert farm(farm_ws, "revenue", "import", str(first_report(tmp_path))) == 0
    at = catalogs.utcnow() - timedelta(days=1)
    with farm_ws.catalog.write() as con:  # the same video also sold through a network paying in USD
        catalogs.upsert_commissions(con, [Commission(network="other", order_id="US1", item_id="", model_id="",
                                                     status="completed", raw_status="approved", currency="USD",
                                                     commission=3.5, sub_ids=("sidTT1",), ordered_at=at)],
                                    source="test")
    video = [r for r in run_json(farm_ws, capsys, "revenue", "--by", "video") if r["job_id"] == 1]
    assert sorted((r["currency"], r["commission_validated"], r["commission_pending"]) for r in video) == \
        [("USD", 3.5, 0.0), ("VND", 0.0, 11610.0)]

    def by(grouping):
        return [r for r in run_json(farm_ws, capsys, "revenue", "--by", grouping) if not r["unmatched"]
                and r["currency"] == "VND"]

    assert [(r["account_id"], r["account"], r["platform"], r["commission_pending"], r["commission_validated"],
             r["views"]) for r in by("account")] == [(2, "reelfarm-yt", "youtube", 0.0, 25000.0, 2000),
                                                      (1, VIET_ACCOUNT, "tiktok", 11610.0, 0.0, 5800)]
    assert [(r["product_id"], r["product"], r["orders"], r["commission_pending"] + r["commission_validated"])
            for r in by("product")] == [(1, "Bát gốm Bát Tràng", 2, 36610.0)]
    assert [(r["template_id"], r["template"], r["commission_validated"]) for r in by("template")] == [
        (2, "bat-trang-pan.mp4", 25000.0), (1, "gom-xoay.mp4", 0.0)]
    assert [(r["platform"], r["orders"]) for r in by("platform")] == [("youtube", 1), ("tiktok", 1)]
    before = {r["platform"]: r["commission_per_1000_views"] for r in by("platform")}
    with farm_ws.catalog.write() as con:  # a tiktok post with no view count yet sells something
        now = catalogs.utcnow()
        con.execute("INSERT INTO jobs (id, kind, spec, state, created_at) VALUES (4, 'promo', '{}', 'published', ?)",
                    [now])
        con.execute("INSERT INTO uploads (job_id, account_id, platform, state, created_at, published_at) "
                    "VALUES (4, 1, 'tiktok', 'published', ?, ?)", [now, now])
        con.execute("INSERT INTO affiliate_links (job_id, platform, sub_id, network, tracked, created_at) "
                    "VALUES (4, 'tiktok', 'sidTT4', 'shopee', true, ?)", [now])
        catalogs.upsert_commissions(con, [Commission(network="shopee", order_id="N4", item_id="1", model_id="",
                                                     status="completed", raw_status="done", net_commission=90000.0,
                                                     sub_ids=("sidTT4",), ordered_at=at)], source="test")
    after = {r["platform"]: r for r in by("platform")}
    # its money is in the totals, but not over views it has none of
    assert after["tiktok"]["commission_validated"] == 90000.0
    assert after["tiktok"]["commission_per_1000_views"] == before["tiktok"]


def test_table_output_and_bad_options(farm_ws, tmp_path, capsys):
    assert farm(farm_ws, "revenue") == 0
    assert "no commissions in the last 30 days" in capsys.readouterr().out
    assert farm(farm_ws, "revenue", "import", str(first_report(tmp_path))) == 0
    line = capsys.readouterr().out
    assert "3 new, 0 updated, 1 unchanged; 2 from farm videos, 1 not from a farm video" in line
    assert farm(farm_ws, "revenue", "--by", "account", "--days", "7") == 0
    out = capsys.readouterr().out
    assert VIET_ACCOUNT in out and "commission_validated" in out and "not from a farm video: 1 order(s)" in out
    assert farm(farm_ws, "revenue", "--days", "0") == 2
    assert "--days must be a whole number" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        farm(farm_ws, "revenue", "--by", "colour")


def test_sync_without_credentials_says_which_settings(ws, capsys, monkeypatch):
    for name in ("FARM_SHOPEE_APP_ID", "FARM_SHOPEE_SECRET", "FARM_ACCESSTRADE_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert farm(ws, "revenue", "sync") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "shopee_app_id" in err and "accesstrade_key" in err
    assert farm(ws, "revenue", "sync", "--network", "shopee") == 2
    assert "FARM_SHOPEE_SECRET" in capsys.readouterr().err


def test_sync_calls_the_networks_with_the_window_and_prints_one_document(ws, capsys, monkeypatch):
    import farm.revenue as revenue_package

    calls = []

    result = {"rows": 32, "networks": {
        "accesstrade": {"rows": 32, "stored": {"new": 30, "updated": 2, "unchanged": 0, "matched": 5, "unmatched": 27}},
        "shopee": {"skipped": "no Shopee Affiliate API credentials"}}}

    def fake_sync(w, *, since, until, networks, on_event):
        calls.append((since, until, networks))
        on_event("network", {"network": "accesstrade"})
        on_event("page", {"network": "accesstrade", "rows": 30})
        on_event("page", {"network": "accesstrade", "rows": 2})
        return result

    monkeypatch.setenv("FARM_ACCESSTRADE_KEY", "k-123")
    monkeypatch.delenv("FARM_SHOPEE_APP_ID", raising=False)
    monkeypatch.setattr(revenue_package, "sync_commissions", fake_sync)
    capsys.readouterr()
    assert farm(ws, "revenue", "sync", "--days", "7", "--json") == 0
    assert json.loads(capsys.readouterr().out) == result
    (since, until, networks), = calls
    assert networks == ["accesstrade"] and until - since == timedelta(days=7)
    assert farm(ws, "revenue", "sync", "--network", "accesstrade") == 0
    out = capsys.readouterr().out
    assert "accesstrade: 32 row(s) (30 new, 2 updated, 0 unchanged); 5 from farm videos" in out
    assert "shopee: skipped" in out


def test_report_has_a_revenue_section(farm_ws, tmp_path):
    from farm.report import write_report

    empty = write_report(farm_ws, tmp_path / "before.html", days=14)
    page = (tmp_path / "before.html").read_text(encoding="utf-8")
    assert 'id="revenue"' in page and "farm revenue import FILE.csv" in page and "chart-revenue" not in page
    assert "revenue" not in empty.charts

    assert main(["--workspace", str(farm_ws.root), "revenue", "import", str(first_report(tmp_path))]) == 0
    result = write_report(farm_ws, tmp_path / "after.html", days=14)
    page = (tmp_path / "after.html").read_text(encoding="utf-8")
    assert result.charts[-1] == "revenue" and 'id="chart-revenue"' in page
    section = page[page.index('id="revenue"'):page.index("<footer>")]
    assert "Best videos" in section and "Gốm đẹp số 1" in section and VIET_ACCOUNT in section
    assert "25,000 VND" in section and "Not from a farm video" in section and "4,000 VND pending" in section
    figures = json.loads(page[page.index('id="report-figures">') + len('id="report-figures">'):].split("</script>")[0])
    (fig,) = [f for f in figures if f["id"] == "revenue"]
    assert {t["name"] for t in fig["data"]} == {"validated", "pending"}
    assert sum(sum(t["y"]) for t in fig["data"]) == 11610 + 25000 + 4000


def test_read_commission_csv_refuses_an_unknown_network(tmp_path):
    with pytest.raises(InputError, match="Supported: shopee, accesstrade, auto"):
        read_commission_csv(tmp_path / "x.csv", network="lazada")


def test_the_command_lines_choices_are_the_packages():
    import argparse

    from farm.cli import build_parser
    from farm.revenue import REVENUE_GROUPINGS, network_names

    def sub(parser, name):
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return action.choices[name]

    def choices(parser, dest):
        return next(a for a in parser._actions if a.dest == dest).choices

    revenue = sub(build_parser(), "revenue")
    assert tuple(choices(revenue, "by")) == REVENUE_GROUPINGS
    assert set(choices(sub(revenue, "sync"), "network")) - {"all"} == set(network_names())
