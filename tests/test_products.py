"""Products for promos: YAML, JSON and CSV files, every image format phones and shops use, EXIF
orientation, URLs on loopback, refusals that name the file and leave nothing behind."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image

import catalogs
from conftest import run_farm
from farm.errors import InputError
from farm.library import import_products, parse_product, read_products
from farm.media import load_image_rgb, probe_image
from farm.text import format_price
from farm.workspace import init_workspace


pillow_heif.register_heif_opener()  # the tests write HEIC like a phone does


@pytest.fixture
def ws(tmp_path):
    return init_workspace(tmp_path / "ws")[0]


def quadrants(width: int, height: int) -> Image.Image:
    """Four saturated quadrants (red, green / blue, white): any rotation or flip moves them."""
    a = np.zeros((height, width, 3), np.uint8)
    a[: height // 2, : width // 2] = (255, 0, 0)
    a[: height // 2, width // 2:] = (0, 255, 0)
    a[height // 2:, : width // 2] = (0, 0, 255)
    a[height // 2:, width // 2:] = (255, 255, 255)
    return Image.fromarray(a)


def save(img: Image.Image, path: Path, **kw) -> Path:
    img.save(path, **kw)
    return path


def product_yaml(path: Path, images: list[str], **extra) -> Path:
    import yaml

    doc = {"name": "Áo thun cotton Việt Nam", "price": 1290000, "currency": "VND", "images": images,
           "selling_points": ["Vải mát, thấm hút mồ hôi", "Giao hàng miễn phí"],
           "affiliate_url": "https://shope.ee/abc123", "call_to_action": "Mua ngay hôm nay",
           "language": "vi", "platforms": ["tiktok", "youtube"], "mood": "upbeat", **extra}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def _nothing_imported(ws) -> None:
    with ws.catalog.read() as con:
        assert catalogs.list_products(con) == []
        assert catalogs.list_media(con) == []
    assert not [p for p in (ws.root / "products").iterdir()]


def test_local_prices():
    assert format_price(1290000, "VND") == "1.290.000₫"
    assert format_price(19.99, "USD") == "$19.99"
    assert format_price(19.99, "EUR") == "19,99 €"
    assert format_price(590, "THB") == "฿590"
    assert format_price(1234.5, "XYZ") == "1,234.50 XYZ"
    assert format_price(0.1 + 0.2, "usd") == "$0.30"
    with pytest.raises(InputError, match="Invalid price"):
        format_price(float("nan"), "USD")


def test_every_image_format_upright(tmp_path):
    """JPEG with EXIF orientation 6 (a phone held upright), PNG with alpha, WebP, HEIC: all
    read as a viewer shows them, compared with the quadrant picture turned by numpy."""
    src = quadrants(64, 48)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    jpeg = save(src, tmp_path / "phone.jpg", exif=exif, quality=95)
    png = save(src.convert("RGBA"), tmp_path / "a.png")
    webp = save(src, tmp_path / "a.webp", lossless=True)
    heic = save(src, tmp_path / "a.heic", quality=95)
    want = np.asarray(src)
    turned = np.rot90(want, k=-1)  # clockwise
    info = probe_image(jpeg)
    assert (info.format, info.width, info.height, info.orientation) == ("JPEG", 48, 64, 6)
    got = load_image_rgb(jpeg).astype(int)
    assert got.shape == turned.shape
    # quadrant centres, away from JPEG's edges: red top-right after a clockwise turn
    for (y, x) in ((12, 12), (12, 36), (52, 12), (52, 36)):
        assert np.abs(got[y, x] - turned[y, x]).max() <= 12, (y, x, got[y, x], turned[y, x])
    assert np.array_equal(load_image_rgb(png), want) and np.array_equal(load_image_rgb(webp), want)
    assert probe_image(heic).format == "HEIF" and np.abs(load_image_rgb(heic).astype(int) - want).max() <= 40
    assert np.abs(load_image_rgb(heic).astype(int) - want)[4:20, 4:28].max() <= 12


def test_tiny_and_huge_images_import(ws, tmp_path):
    tiny = save(quadrants(48, 64), tmp_path / "tiny.png")
    huge = save(quadrants(6000, 4000), tmp_path / "huge.jpg", quality=60)
    defn = product_yaml(tmp_path / "p.yaml", ["tiny.png", "huge.jpg"])
    report = import_products(ws, [str(defn)])
    assert report.ok, report.failed
    row = report.added[0]
    assert [(i["width"], i["height"]) for i in row["images"]] == [(48, 64), (6000, 4000)]
    assert all(Path(i["path"]).parent == ws.root / "products" for i in row["images"])
    assert row["selling_points"][0] == "Vải mát, thấm hút mồ hôi" and row["platforms"] == ["tiktok", "youtube"]
    assert tiny.exists() and huge.exists()  # copied in, the user's files untouched


def test_reimport_is_a_duplicate_and_shared_images_are_stored_once(ws, tmp_path):
    save(quadrants(80, 80), tmp_path / "a.png")
    first = product_yaml(tmp_path / "one.yaml", ["a.png"])
    second = product_yaml(tmp_path / "two.yaml", ["a.png"], name="Another product", price=99.5, currency="USD",
                          language="en")
    r1 = import_products(ws, [str(first), str(second)])
    r2 = import_products(ws, [str(first)])
    assert len(r1.added) == 2 and r2.duplicates and r2.duplicates[0]["id"] == r1.added[0]["id"]
    assert r1.added[0]["images"][0]["id"] == r1.added[1]["images"][0]["id"]
    with ws.catalog.read() as con:
        assert len(catalogs.list_media(con, kind="image")) == 1
        assert len(catalogs.list_products(con)) == 2


@pytest.mark.parametrize("damage", ["truncated", "missing", "not-an-image"])
def test_a_bad_image_refuses_the_whole_product(ws, tmp_path, damage):
    save(quadrants(64, 64), tmp_path / "good.png")
    bad = tmp_path / "bad.jpg"
    if damage == "truncated":
        data = (save(quadrants(640, 480), tmp_path / "full.jpg", quality=90)).read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "not-an-image":
        bad.write_text("hello, I am text")
    defn = product_yaml(tmp_path / "p.yaml", ["good.png", "bad.jpg"])
    report = import_products(ws, [str(defn)])
    assert not report.ok and not report.added
    (item, message), = report.failed
    assert str(bad) in message and "\n" not in message
    _nothing_imported(ws)


def test_csv_bulk_and_a_bad_row_named(ws, tmp_path):
    save(quadrants(64, 64), tmp_path / "a.webp", lossless=True)
    save(quadrants(32, 48), tmp_path / "b.png")
    csv_path = tmp_path / "products.csv"
    csv_path.write_text(
        "name,price,currency,images,selling_points,affiliate_url,call_to_action,language,platforms,mood\n"
        "Nồi chiên không dầu,1590000,VND,a.webp|b.png,Tiết kiệm điện|Dễ vệ sinh,https://s.lazada.vn/x,Mua ngay,vi,"
        "tiktok|facebook,upbeat\n"
        "Phone stand,19.99,usd,b.png,,,,en,youtube,\n", encoding="utf-8")
    report = import_products(ws, [str(csv_path)])
    assert report.ok, report.failed
    a, b = report.added
    assert a["name"] == "Nồi chiên không dầu" and a["selling_points"] == ["Tiết kiệm điện", "Dễ vệ sinh"]
    assert len(a["images"]) == 2 and a["platforms"] == ["tiktok", "facebook"]
    assert b["currency"] == "USD" and b["affiliate_url"] is None and b["language"] == "en" and b["mood"] is None
    broken = tmp_path / "broken.csv"
    broken.write_text("name,price,currency,images\nA,1,VND,a.webp\nB,cheap,VND,a.webp\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.csv:3 \(B\): price must be a plain number"):
        read_products(broken)


@pytest.mark.parametrize("raw, message", [
    ({"name": "X", "price": 1, "currency": "VND"}, "missing images"),
    ({"name": "X", "price": 1, "currency": "VND", "images": ["a.png"], "colour": "red"}, "unknown key 'colour'"),
    ({"name": "X", "price": -1, "currency": "VND", "images": ["a.png"]}, "price must be a number"),
    ({"name": "X", "price": True, "currency": "VND", "images": ["a.png"]}, "price must be a number"),
    ({"name": "X", "price": 1, "currency": "dong", "images": ["a.png"]}, "ISO 4217"),
    ({"name": "X", "price": 1, "currency": "VND", "images": []}, "0 images; a product has 1 to 10"),
    ({"name": "X", "price": 1, "currency": "VND", "images": [f"{k}.png" for k in range(11)]}, "11 images"),
    ({"name": "X", "price": 1, "currency": "VND", "images": ["a.png"], "language": "fr"}, "Invalid language"),
    ({"name": "X", "price": 1, "currency": "VND", "images": ["a.png"], "platforms": ["myspace"]}, "Invalid platform"),
    ({"name": "X", "price": 1, "currency": "VND", "images": ["a.png"], "affiliate_url": "shope.ee/x"}, "http"),
    ({"name": "X", "price": 1, "currency": "VND", "images": ["a.png"], "mood": "Very Happy"}, "Invalid mood"),
    ({"name": "", "price": 1, "currency": "VND", "images": ["a.png"]}, "name must be non-empty"),
])
def test_each_field_is_checked(raw, message):
    with pytest.raises(InputError, match=message):
        parse_product(raw, source="p.yaml")


def test_names_are_nfc():
    decomposed = "A\u0301o thun"  # "Áo" written as A + combining acute, as some keyboards do
    p = parse_product({"name": decomposed, "price": 1, "currency": "VND", "images": ["a.png"]}, source="p.yaml")
    assert p.name == "Áo thun" and len(p.name) == 7


class _Images(http.server.BaseHTTPRequestHandler):
    blobs: dict[str, tuple[bytes, str]] = {}

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        body, ctype = self.blobs.get(self.path, (b"", ""))
        if not body:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def image_server(tmp_path):
    jpg = save(quadrants(120, 90), tmp_path / "served.jpg", quality=90).read_bytes()
    _Images.blobs = {"/shop/photo.jpg": (jpg, "image/jpeg")}
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_image_urls_download_and_a_404_leaves_nothing(ws, tmp_path, image_server):
    good = product_yaml(tmp_path / "good.yaml", [f"{image_server}/shop/photo.jpg"])
    report = import_products(ws, [str(good)])
    assert report.ok, report.failed
    img = report.added[0]["images"][0]
    assert (img["width"], img["height"]) == (120, 90) and Path(img["path"]).exists()
    with ws.catalog.read() as con:
        assert catalogs.get_media(con, img["id"])["source_url"] == f"{image_server}/shop/photo.jpg"
    ws2 = init_workspace(tmp_path / "ws2")[0]
    bad = product_yaml(tmp_path / "bad.yaml", [f"{image_server}/shop/photo.jpg", f"{image_server}/gone.jpg"])
    report = import_products(ws2, [str(bad)])
    assert not report.ok and "gone.jpg" in report.failed[0][1]
    _nothing_imported(ws2)
    assert not list((ws2.state_dir / "downloads").glob("*"))


def test_cli_import_list_show(tmp_path):
    root = tmp_path / "ws"
    assert run_farm("init", str(root)).returncode == 0
    save(quadrants(64, 64), tmp_path / "a.png")
    defn = product_yaml(tmp_path / "p.yaml", ["a.png"])
    r = run_farm("--workspace", str(root), "products", "import", str(defn), "--json")
    assert r.returncode == 0, r.stderr
    added = json.loads(r.stdout)["added"][0]
    assert added["price_shown"] == "1.290.000₫"
    r = run_farm("--workspace", str(root), "products", "list")
    assert r.returncode == 0 and "Áo thun cotton Việt Nam" in r.stdout and "1.290.000₫" in r.stdout
    r = run_farm("--workspace", str(root), "products", "show", str(added["id"]), "--json")
    shown = json.loads(r.stdout)
    assert shown["name"] == "Áo thun cotton Việt Nam" and shown["images"][0]["width"] == 64
    r = run_farm("--workspace", str(root), "media", "remove", str(shown["images"][0]["id"]))
    assert r.returncode == 2 and "image of product" in r.stderr
    # a corrupt image: one line naming it, exit 2, nothing half-imported
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    bad = product_yaml(tmp_path / "bad.yaml", ["broken.png"], name="Other")
    r = run_farm("--workspace", str(root), "products", "import", str(bad), "-q")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "broken.png" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_farm("--workspace", str(root), "products", "list", "--json")
    assert [p["name"] for p in json.loads(r.stdout)] == ["Áo thun cotton Việt Nam"]
    r = run_farm("--workspace", str(root), "products", "show", "99")
    assert r.returncode == 2 and "no such product" in r.stderr
