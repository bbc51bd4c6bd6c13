"""JSON round trips for the farm's frozen dataclasses (render specs and results, texts, post metadata), and
the one way the farm writes a document as JSON for people and programs (`--json`, the web API)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from farm.errors import InputError


def _json_value(value):
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    return str(value)


def dumps_document(doc) -> str:
    """``doc`` as the farm prints it: keys in their order, dates as ISO 8601, bytes as their size."""
    return json.dumps(doc, default=_json_value, ensure_ascii=False)


class JsonRecord:
    """Mixin for a frozen dataclass: ``to_json`` and back. Lists come back as tuples (a frozen
    record keeps tuples); anything that is not such a record is an :class:`InputError` naming
    the class and the problem."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, text: str):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{cls.__name__}: not JSON ({exc})") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        if not isinstance(data, Mapping):
            raise InputError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - known
        if unknown:
            raise InputError(f"{cls.__name__}: unknown fields {sorted(unknown)}. "
                             f"Supported: {', '.join(sorted(known))}.")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
