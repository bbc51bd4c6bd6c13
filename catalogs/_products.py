"""Typed access to the ``products`` table and its images (``product_media``)."""

from __future__ import annotations

import json

import duckdb

from catalogs._connect import rows_as_dicts, utcnow

PRODUCT_COLUMNS = (
    "definition_sha256", "name", "price", "currency", "selling_points", "affiliate_url", "call_to_action",
    "language", "platforms", "mood", "source", "network", "campaign_id",
)
_JSON_COLUMNS = ("selling_points", "platforms")


def _decoded(row: dict) -> dict:
    for c in _JSON_COLUMNS:
        if isinstance(row.get(c), str):
            row[c] = json.loads(row[c])
    return row


def insert_product(con: duckdb.DuckDBPyConnection, row: dict, image_ids: list[int]) -> int:
    """Insert a product (keys from PRODUCT_COLUMNS) and its images in order; returns its id."""
    cols = [c for c in PRODUCT_COLUMNS if c in row]
    values = [json.dumps(row[c], ensure_ascii=False) if c in _JSON_COLUMNS else row[c] for c in cols]
    sql = (f"INSERT INTO products ({', '.join(cols)}, created_at) VALUES ({', '.join('?' for _ in cols)}, ?) "
           "RETURNING id")
    product_id = int(con.execute(sql, [*values, utcnow()]).fetchone()[0])
    con.executemany("INSERT INTO product_media (product_id, media_id, position) VALUES (?, ?, ?)",
                    [(product_id, media_id, k) for k, media_id in enumerate(image_ids)])
    return product_id


def product_by_definition(con: duckdb.DuckDBPyConnection, sha256: str) -> dict | None:
    rows = rows_as_dicts(con.execute("SELECT * FROM products WHERE definition_sha256 = ?", [sha256]))
    return _with_images(con, _decoded(rows[0])) if rows else None


def get_product(con: duckdb.DuckDBPyConnection, product_id: int) -> dict | None:
    """A product with ``images``: its image media rows (id, path, width, height, sha256) in order."""
    rows = rows_as_dicts(con.execute("SELECT * FROM products WHERE id = ?", [product_id]))
    return _with_images(con, _decoded(rows[0])) if rows else None


def _with_images(con: duckdb.DuckDBPyConnection, row: dict) -> dict:
    row["images"] = rows_as_dicts(con.execute(
        "SELECT m.id, m.path, m.width, m.height, m.sha256 FROM product_media pm JOIN media m ON m.id = pm.media_id "
        "WHERE pm.product_id = ? ORDER BY pm.position", [row["id"]]))
    return row


def list_products(con: duckdb.DuckDBPyConnection, *, language: str | None = None) -> list[dict]:
    """Every product with its image count, least promoted first (the order promos are planned in)."""
    where, params = ("WHERE p.language = ?", [language]) if language else ("", [])
    rows = rows_as_dicts(con.execute(
        "SELECT p.*, (SELECT count(*) FROM product_media pm WHERE pm.product_id = p.id) AS image_count "
        f"FROM products p {where} ORDER BY p.times_promoted, p.last_promoted_at NULLS FIRST, p.id", params))
    return [_decoded(r) for r in rows]


def products_using(con: duckdb.DuckDBPyConnection, media_id: int) -> list[int]:
    return [r[0] for r in con.execute(
        "SELECT DISTINCT product_id FROM product_media WHERE media_id = ? ORDER BY 1", [media_id]).fetchall()]


def mark_promoted(con: duckdb.DuckDBPyConnection, product_ids: list[int], *, at=None) -> None:
    at = at or utcnow()
    for pid in product_ids:
        con.execute("UPDATE products SET times_promoted = times_promoted + 1, last_promoted_at = ? WHERE id = ?",
                    [at, pid])
