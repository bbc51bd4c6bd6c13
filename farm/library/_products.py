"""Products for promos: read YAML, JSON or CSV definitions, check every field, import each product
with its images whole or not at all."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import catalogs
from farm.errors import FarmError, InputError
from farm.library._import import ImportReport, OnItem, _place, check_mood
from farm.platforms import platform_names
from farm.workspace import Workspace

# exactly the keys a product file uses (tools outside the farm write them too)
PRODUCT_KEYS = ("name", "price", "currency", "images", "selling_points", "affiliate_url", "call_to_action",
                "language", "platforms", "mood", "network", "campaign_id")
REQUIRED_KEYS = ("name", "price", "currency", "images")
MAX_IMAGES = 10
MAX_SELLING_POINTS = 10
MAX_NAME_CHARS = 200
MAX_POINT_CHARS = 200
# a CSV cell holds a list as items separated by "|" (a JSON array is accepted too)
CSV_LIST_SEPARATOR = "|"
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
# keys added after products were first imported: left out of a definition's hash while unset, so a
# product imported before them is still the same product
_LATER_KEYS = ("network", "campaign_id")
Language = Literal["vi", "en"]


@dataclass(frozen=True)
class ProductDefinition:
    """One product as written in a file, checked; ``source`` says where (``file`` or ``file:row``)."""

    name: str
    price: float
    currency: str
    images: tuple[str, ...]
    selling_points: tuple[str, ...] = ()
    affiliate_url: str | None = None
    call_to_action: str | None = None
    language: Language = "vi"
    platforms: tuple[str, ...] = field(default_factory=platform_names)
    mood: str | None = None
    network: str | None = None  # the affiliate link's network (shopee, accesstrade, other); None: from its host
    campaign_id: str | None = None  # the network's campaign (AccessTrade's campaign_id)
    source: str = ""
    base_dir: str = "."  # relative image paths are relative to the definition's file

    def image_path(self, item: str) -> Path:
        """Where a local image of the definition is: relative paths from the file's folder."""
        path = Path(item).expanduser()
        return path if path.is_absolute() else Path(self.base_dir) / path


def _text(value: Any, *, what: str, where: str, max_chars: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: {what} must be non-empty text, not {value!r}")
    text = unicodedata.normalize("NFC", " ".join(value.split()))
    if len(text) > max_chars:
        raise InputError(f"{where}: {what} is {len(text)} characters; at most {max_chars}")
    return text


def _list(value: Any, *, what: str, where: str, csv_cell: bool) -> list:
    if csv_cell and isinstance(value, str):
        cell = value.strip()
        if cell.startswith("["):
            try:
                value = json.loads(cell)
            except ValueError:
                raise InputError(f"{where}: {what} is not a valid JSON list ({cell[:60]!r})") from None
        else:
            value = [part.strip() for part in cell.split(CSV_LIST_SEPARATOR) if part.strip()]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise InputError(f"{where}: {what} must be a list, not {type(value).__name__}")
    return value


def _url(value: str, *, where: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InputError(f"{where}: {what} must be an http(s) URL, not {value!r}")
    return value


def parse_product(raw: dict, *, source: str, base_dir: str | Path = ".", csv_row: bool = False) -> ProductDefinition:
    """Check one product's fields; :class:`InputError` names ``source`` and the bad field."""
    if not isinstance(raw, dict):
        raise InputError(f"{source}: a product must be a mapping of {', '.join(PRODUCT_KEYS)}")
    # an empty CSV cell is an absent value
    raw = {str(k).strip(): v for k, v in raw.items() if k is not None and not (csv_row and (v is None or v == ""))}
    unknown = sorted(set(raw) - set(PRODUCT_KEYS))
    if unknown:
        raise InputError(f"{source}: unknown key {unknown[0]!r}; the keys are: {', '.join(PRODUCT_KEYS)}")
    missing = [k for k in REQUIRED_KEYS if k not in raw or raw[k] is None]
    if missing:
        raise InputError(f"{source}: missing {', '.join(missing)} (required: {', '.join(REQUIRED_KEYS)})")
    name = _text(raw["name"], what="name", where=source, max_chars=MAX_NAME_CHARS)
    where = f"{source} ({name})"
    price = raw["price"]
    if isinstance(price, str) and csv_row:
        try:
            price = float(price.strip())
        except ValueError:
            raise InputError(f"{where}: price must be a plain number such as 1290000 or 19.99, not {price!r}") from None
    if isinstance(price, bool) or not isinstance(price, (int, float)) or not math.isfinite(price) or price < 0:
        raise InputError(f"{where}: price must be a number, 0 or more, not {raw['price']!r}")
    currency = raw["currency"]
    if not isinstance(currency, str) or not _CURRENCY.match(currency.strip().upper()):
        raise InputError(f"{where}: currency must be an ISO 4217 code such as VND or USD, not {currency!r}")
    currency = currency.strip().upper()
    images = _list(raw["images"], what="images", where=where, csv_cell=csv_row)
    if not 1 <= len(images) <= MAX_IMAGES:
        raise InputError(f"{where}: {len(images)} images; a product has 1 to {MAX_IMAGES}")
    for img in images:
        if not isinstance(img, str) or not img.strip():
            raise InputError(f"{where}: an image must be a path or an http(s) URL, not {img!r}")
    images = [i.strip() for i in images]
    for img in images:
        if "://" in img:
            _url(img, where=where, what="an image URL")
    points = _list(raw.get("selling_points", []), what="selling_points", where=where, csv_cell=csv_row)
    if len(points) > MAX_SELLING_POINTS:
        raise InputError(f"{where}: {len(points)} selling points; at most {MAX_SELLING_POINTS}")
    points = [_text(p, what="a selling point", where=where, max_chars=MAX_POINT_CHARS) for p in points]
    url = raw.get("affiliate_url")
    if url is not None:
        if not isinstance(url, str):
            raise InputError(f"{where}: affiliate_url must be an http(s) URL, not {url!r}")
        url = _url(url.strip(), where=where, what="affiliate_url") if url.strip() else None
    cta = raw.get("call_to_action")
    if cta is not None:
        cta = _text(cta, what="call_to_action", where=where, max_chars=MAX_POINT_CHARS)
    language = raw.get("language", "vi")
    if language not in catalogs.LANGUAGES:
        raise InputError(f"{where}: Invalid language ({language!r}). Supported: {', '.join(catalogs.LANGUAGES)}.")
    platforms = raw.get("platforms", list(platform_names()))
    if csv_row and isinstance(platforms, str) and CSV_LIST_SEPARATOR not in platforms:
        platforms = platforms.replace(",", CSV_LIST_SEPARATOR)
    platforms = _list(platforms, what="platforms", where=where, csv_cell=csv_row)
    bad = [p for p in platforms if p not in platform_names()]
    if bad or not platforms:
        raise InputError(f"{where}: Invalid platform ({bad[0] if bad else 'none'!r}). "
                         f"Supported: {', '.join(platform_names())}.")
    mood = raw.get("mood")
    if mood is not None:
        try:
            mood = check_mood(str(mood).strip())
        except InputError as err:
            raise InputError(f"{where}: {err}") from None
    network, campaign_id = _affiliate_network(raw, where=where)
    return ProductDefinition(
        name=name, price=float(price), currency=currency, images=tuple(images), selling_points=tuple(points),
        affiliate_url=url, call_to_action=cta, language=language,
        platforms=tuple(dict.fromkeys(platforms)), mood=mood, network=network, campaign_id=campaign_id,
        source=source, base_dir=str(base_dir),
    )


def _affiliate_network(raw: dict, *, where: str) -> tuple[str | None, str | None]:
    """The product's ``network`` (one of catalogs.AFFILIATE_NETWORKS) and ``campaign_id`` (letters and
    digits: AccessTrade's are long numbers, which YAML reads as numbers)."""
    network = raw.get("network")
    if network is not None:
        network = str(network).strip().lower() or None
        if network is not None and network not in catalogs.AFFILIATE_NETWORKS:
            raise InputError(f"{where}: Invalid network ({raw['network']!r}). "
                             f"Supported: {', '.join(catalogs.AFFILIATE_NETWORKS)}.")
    campaign = raw.get("campaign_id")
    if campaign is not None:
        if isinstance(campaign, bool) or not isinstance(campaign, (str, int)):
            raise InputError(f"{where}: campaign_id must be the network's campaign id, not {campaign!r}")
        campaign = str(campaign).strip() or None
        if campaign is not None and not _CAMPAIGN_ID.match(campaign):
            raise InputError(f"{where}: Invalid campaign_id ({raw['campaign_id']!r}). Supported: 1 to 64 ASCII "
                             "letters and digits, such as 4751584435713464237.")
    return network, campaign


def read_products(path: str | Path) -> list[ProductDefinition]:
    """Every product in a YAML or JSON file (one product, or a list) or a CSV (a row each).

    The whole file is checked before anything is imported: one bad row refuses the file,
    naming the row.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    suffix = p.suffix.lower()
    base = p.resolve().parent
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{p}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames:
            raise InputError(f"{p}: an empty CSV; the header names the keys: {', '.join(PRODUCT_KEYS)}")
        out = []
        for k, row in enumerate(reader, start=2):
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue  # a blank line
            if None in row:
                raise InputError(f"{p}:{k}: more cells than the header has columns")
            out.append(parse_product(row, source=f"{p}:{k}", base_dir=base, csv_row=True))
        if not out:
            raise InputError(f"{p}: no products (a header and no rows)")
        return out
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            at = f" at line {mark.line + 1}" if mark is not None else ""
            raise InputError(f"{p}: not valid YAML{at} ({getattr(err, 'problem', None) or err})") from None
    elif suffix == ".json":
        try:
            doc = json.loads(text)
        except ValueError as err:
            raise InputError(f"{p}: not valid JSON ({err})") from None
    else:
        raise InputError(f"{p}: Invalid product file type ({suffix or 'none'!r}). Supported: .yaml, .yml, .json, .csv.")
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise InputError(f"{p}: no products")
    if len(items) == 1:
        return [parse_product(items[0], source=str(p), base_dir=base)]
    return [parse_product(it, source=f"{p}[{k}]", base_dir=base) for k, it in enumerate(items)]


def definition_sha256(defn: ProductDefinition, image_shas: list[str]) -> str:
    """What makes two imports the same product: every field, and the images' content."""
    doc = {k: v for k, v in asdict(defn).items()
           if k not in ("images", "source", "base_dir") and not (k in _LATER_KEYS and v is None)}
    doc["images"] = image_shas
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass
class _Image:
    label: str
    path: Path
    downloaded: bool
    sha256: str = ""
    width: int = 0
    height: int = 0
    name: str = ""


def _fetch_images(ws: Workspace, defn: ProductDefinition, *, max_bytes: int | None, progress) -> list[_Image]:
    from farm.library._download import download
    from farm.media import probe_image, sha256_file

    got: list[_Image] = []
    try:
        for item in defn.images:
            if "://" in item:
                cap = max_bytes or ws.settings.media.max_download_bytes
                d = download(item, ws.state_dir / "downloads", max_bytes=cap,
                             timeout_s=ws.settings.media.download_timeout_s, progress=progress)
                img = _Image(item, d.path, True, name=d.filename)
            else:
                path = defn.image_path(item)
                img = _Image(item if Path(item).is_absolute() else str(path), path, False, name=path.name)
            got.append(img)
            if not img.path.is_file():
                raise InputError(f"{img.label}: no such file")
            info = probe_image(img.path, label=img.label)
            img.width, img.height = info.width, info.height
            img.sha256 = sha256_file(img.path)
    except FarmError as err:
        _drop_downloads(got)
        raise type(err)(f"{defn.source} ({defn.name}): image {err}") from None
    except BaseException:
        _drop_downloads(got)
        raise
    return got


def _drop_downloads(images: list[_Image]) -> None:
    for img in images:
        if img.downloaded:
            img.path.unlink(missing_ok=True)


def import_product(ws: Workspace, defn: ProductDefinition, *, license: str | None = None,
                   max_bytes: int | None = None, progress=None) -> tuple[str, dict]:
    """Import one product and its images in one transaction: ("added" | "duplicate", row).

    Every image is fetched, decoded whole and hashed before anything is written; an image
    already in the library (same sha256) is reused. On any failure nothing of the product
    stays: no row, no copied file.
    """
    images = _fetch_images(ws, defn, max_bytes=max_bytes, progress=progress)
    placed: list[Path] = []
    try:
        key = definition_sha256(defn, [i.sha256 for i in images])
        with ws.catalog.read() as con:
            existing = catalogs.product_by_definition(con, key)
            known = {i.sha256 for i in images if catalogs.media_by_sha(con, i.sha256) is not None}
        if existing is not None:
            return "duplicate", existing
        new_paths: dict[str, Path] = {}
        for img in images:
            if img.sha256 not in known and img.sha256 not in new_paths:
                dest = _place(ws, img.path, "image", None, img.sha256, move=img.downloaded, name=img.name)
                img.downloaded = False  # moved into the workspace: no longer ours to delete
                placed.append(dest)
                new_paths[img.sha256] = dest
        spare: list[Path] = []
        with ws.catalog.write() as con:
            dup = catalogs.product_by_definition(con, key)
            if dup is not None:  # another import got there first
                spare = placed
                result = ("duplicate", dup)
            else:
                ids = []
                for img in images:
                    row = catalogs.media_by_sha(con, img.sha256)
                    if row is None:
                        dest = new_paths[img.sha256]
                        row = {"kind": "image", "path": str(dest), "sha256": img.sha256,
                               "size_bytes": dest.stat().st_size, "width": img.width, "height": img.height,
                               "has_audio": False, "license": license or ws.settings.media.default_license,
                               "source_url": img.label if "://" in img.label else None, "linked": False}
                        row["id"] = catalogs.insert_media(con, row)
                    elif img.sha256 in new_paths and Path(row["path"]) != new_paths[img.sha256]:
                        spare.append(new_paths.pop(img.sha256))  # raced with another import of this image
                    ids.append(int(row["id"]))
                fields = {k: v for k, v in asdict(defn).items() if k in catalogs.PRODUCT_COLUMNS}
                fields.update(definition_sha256=key, selling_points=list(defn.selling_points),
                              platforms=list(defn.platforms), source=defn.source)
                product_id = catalogs.insert_product(con, fields, ids)
                catalogs.log_stage(con, None, "import", detail=f"product {product_id} {defn.name} ({len(ids)} images)")
                result = ("added", catalogs.get_product(con, product_id))
        for path in spare:
            path.unlink(missing_ok=True)
        return result
    except BaseException:
        for path in placed:
            path.unlink(missing_ok=True)
        raise
    finally:
        _drop_downloads(images)


def import_products(ws: Workspace, items: Iterable[str], *, license: str | None = None, max_bytes: int | None = None,
                    on_item: OnItem | None = None, download_progress=None) -> ImportReport:
    """Import product files (YAML, JSON, CSV); a bad file or product is reported and skipped,
    the others go on. ``on_item(outcome, what, detail)`` as in :func:`import_media`."""
    report = ImportReport(on_item=on_item)
    for item in items:
        try:
            definitions = read_products(item)
        except FarmError as err:
            report.fail(item, str(err))
            continue
        for defn in definitions:
            report.attempt(defn.source, lambda d=defn: import_product(ws, d, license=license, max_bytes=max_bytes,
                                                                      progress=download_progress),
                           shown=defn.name, noun="product")
    return report
