"""Printing catalog rows: aligned text tables for people, one JSON document for programs."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from decimal import Decimal


def _default(value):
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    return str(value)


def print_json(doc, *, file=None) -> None:
    """One JSON document on stdout (dates as ISO 8601 strings)."""
    print(json.dumps(doc, default=_default, ensure_ascii=False), file=file or sys.stdout)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    text = str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def format_table(rows: list[dict], columns: list[str] | None = None) -> str:
    """An aligned plain-text table of ``rows`` (all columns of the first row by default)."""
    if not rows:
        return "(no rows)"
    columns = columns or list(rows[0])
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)
