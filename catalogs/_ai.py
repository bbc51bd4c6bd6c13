"""The AI answer cache: one row per question asked (a hash of model, kind and request), so the
same question is never paid for twice."""

from __future__ import annotations

import duckdb

from catalogs._connect import utcnow


def ai_cache_get(con: duckdb.DuckDBPyConnection, request_sha256: str) -> dict | None:
    """The cached answer (``answer`` as bytes, tokens, model) or None."""
    row = con.execute(
        "SELECT request_sha256, kind, model, answer, prompt_tokens, completion_tokens, created_at FROM ai_cache "
        "WHERE request_sha256 = ?", [request_sha256]).fetchone()
    if row is None:
        return None
    keys = ("request_sha256", "kind", "model", "answer", "prompt_tokens", "completion_tokens", "created_at")
    out = dict(zip(keys, row))
    out["answer"] = bytes(out["answer"])
    return out


def ai_cache_put(con: duckdb.DuckDBPyConnection, *, request_sha256: str, kind: str, model: str, answer: bytes,
                 prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
    """Store an answer; a second store of the same request keeps the first."""
    con.execute(
        "INSERT INTO ai_cache (request_sha256, kind, model, answer, prompt_tokens, completion_tokens, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [request_sha256, kind, model, answer, int(prompt_tokens), int(completion_tokens), utcnow()])


def ai_cache_stats(con: duckdb.DuckDBPyConnection) -> dict:
    n, p, c = con.execute(
        "SELECT count(*), coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0) FROM ai_cache"
    ).fetchone()
    return {"answers": int(n), "prompt_tokens": int(p), "completion_tokens": int(c)}
