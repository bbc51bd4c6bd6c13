"""`farm bench catalog`: latency of the catalog's everyday operations vs SQLite, same rows, same run."""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import duckdb

import catalogs
from farm.errors import InputError, RightsError
from farm.jobs import build_mashup, credits_line
from farm.jobs import MashupSpec
from benchmarks.mashup import cpu_model
from farm.workspace import MOODS, Workspace, init_workspace

# Bulk rows get ids from here up, so ids the sequences hand out (from 1) never collide.
BULK_ID0 = 1_000_001
OPS = ("pick template", "enqueue", "state change", "queue stats")
WARMUP = 2
PLATFORM = "tiktok"
BASE_TS = "TIMESTAMP '2025-06-01 00:00:00'"


def _lst(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


# -- bulk fill of the farm catalog (DuckDB, plain SQL over range(n)) --------------------
# h(i, salt, n): a reproducible pseudo-random integer in [0, n) per row and purpose.
_MACRO = "CREATE OR REPLACE TEMP MACRO h(i, salt, n) AS (hash(i, salt) % n)::BIGINT"

_MEDIA_SQL = """
INSERT INTO media (id, kind, path, sha256, size_bytes, duration_s, width, height, fps, has_audio, mood, category,
                   style, platform, license, creator, source_url, attribution, usage_count, last_used_at, created_at,
                   linked)
SELECT {id0} + i,
       ['template', 'source', 'audio'][i % 3 + 1],
       '/bench/' || ['templates', 'sources', 'audio'][i % 3 + 1] || '/m' || lpad(i::VARCHAR, 7, '0')
           || CASE WHEN i % 3 = 2 THEN '.m4a' ELSE '.mp4' END,
       md5(i::VARCHAR) || md5(i::VARCHAR),
       500000 + h(i, 'size', 200000000),
       3 + h(i, 'dur', 5700) / 100.0,
       CASE i % 3 WHEN 0 THEN 1080 WHEN 1 THEN 1920 END,
       CASE i % 3 WHEN 0 THEN 1920 WHEN 1 THEN 1080 END,
       CASE WHEN i % 3 = 2 THEN NULL WHEN h(i, 'fps', 4) = 0 THEN 60.0 ELSE 30.0 END,
       i % 3 <> 0 OR h(i, 'aud', 2) = 0,
       {moods}[h(i, 'mood', {n_moods}) + 1],
       CASE WHEN i % 3 = 1 THEN ['gaming', 'vlog', 'sport', 'cooking'][h(i, 'cat', 4) + 1] END,
       CASE WHEN i % 3 = 0 THEN ['split', 'frame', 'blur'][h(i, 'style', 3) + 1] END,
       CASE h(i, 'plat', 6) WHEN 0 THEN 'tiktok' WHEN 1 THEN 'youtube' WHEN 2 THEN 'facebook' END,
       {licenses}[h(i, 'lic', {n_licenses}) + 1],
       'creator ' || h(i, 'who', 500),
       'https://example.com/m/' || i,
       NULL,
       h(i, 'use', 20),
       CASE WHEN h(i, 'use', 20) > 0 THEN {base} + to_minutes(h(i, 'last', 525600)) END,
       {base} - to_minutes(h(i, 'made', 525600)),
       h(i, 'link', 10) = 0
FROM range({n}) t(i)
"""

# Job j takes main media 3*a+1 (a source) and template 3*b (a template), a, b < n // 3.
_JOB_ROWS = """
SELECT j, {id0} + j AS id,
       {id0} + 3 * h(j, 'main', {n3}) + 1 AS main_id,
       {id0} + 3 * h(j, 'tmpl', {n3}) AS template_id,
       CASE WHEN s < 20 THEN 'pending' WHEN s < 22 THEN 'rendering' WHEN s < 37 THEN 'ready'
            WHEN s < 39 THEN 'publishing' WHEN s < 82 THEN 'published' WHEN s < 95 THEN 'failed'
            ELSE 'cancelled' END AS state
FROM (SELECT j, h(j, 'state', 100) AS s FROM range({n}) t(j))
"""

_JOBS_SQL = """
INSERT INTO jobs (id, kind, spec, platform, state, attempts, error_class, error_message, output_path, output_sha256,
                  created_at, started_at, finished_at, output_size_bytes, frames, render_fps, encoder, worker,
                  batch_id, updated_at)
SELECT id,
       CASE WHEN h(j, 'kind', 10) = 0 THEN 'promo' ELSE 'mashup' END,
       json_object('mains', ['/bench/sources/m' || lpad((main_id - {id0})::VARCHAR, 7, '0') || '.mp4'],
                   'template', '/bench/templates/m' || lpad((template_id - {id0})::VARCHAR, 7, '0') || '.mp4',
                   'output', '/bench/out/job-' || id || '.mp4', 'layout', 'vertical', 'fit', 'cover',
                   'duration_s', NULL, 'fade_s', 0.5, 'music', NULL, 'music_volume', 0.3, 'caption', NULL,
                   'attribution', NULL, 'fps', 30, 'preset', 'veryfast', 'crf', 23, 'encoder', 'auto')::VARCHAR,
       CASE h(j, 'plat', 4) WHEN 0 THEN 'tiktok' WHEN 1 THEN 'youtube' WHEN 2 THEN 'facebook' END,
       state,
       CASE WHEN state = 'pending' THEN 0 WHEN state = 'failed' THEN 1 + h(j, 'att', 3) ELSE 1 END,
       CASE WHEN state = 'failed'
            THEN ['InputError', 'RenderError', 'InternalError', 'RightsError'][h(j, 'ec', 4) + 1] END,
       CASE WHEN state = 'failed' THEN ['decoder gave no frames', 'output is missing or incomplete',
                                        'licence unknown, cannot be published', 'CUDA out of memory',
                                        'ffmpeg exited with status 1', 'template is too short'][h(j, 'em', 6) + 1] END,
       CASE WHEN state IN ('ready', 'publishing', 'published') THEN '/bench/out/job-' || id || '.mp4' END,
       CASE WHEN state IN ('ready', 'publishing', 'published') THEN md5(id::VARCHAR) || md5(j::VARCHAR) END,
       {base} - to_minutes(h(j, 'made', 525600)),
       CASE WHEN state <> 'pending' THEN {base} - to_minutes(h(j, 'made', 525600)) + to_minutes(5) END,
       CASE WHEN state NOT IN ('pending', 'rendering')
            THEN {base} - to_minutes(h(j, 'made', 525600)) + to_minutes(7) END,
       CASE WHEN state IN ('ready', 'publishing', 'published') THEN 2000000 + h(j, 'osz', 40000000) END,
       CASE WHEN state IN ('ready', 'publishing', 'published') THEN 300 + h(j, 'fr', 1500) END,
       CASE WHEN state IN ('ready', 'publishing', 'published') THEN 40 + h(j, 'fps', 200) END,
       CASE WHEN state IN ('ready', 'publishing', 'published') THEN ['libx264', 'nvenc'][h(j, 'enc', 2) + 1] END,
       CASE WHEN state <> 'pending' THEN 'node' || h(j, 'wk', 8) || ':' || (1000 + h(j, 'pid', 9000)) END,
       'batch-' || (j // 20),
       {base} - to_minutes(h(j, 'made', 525600)) + to_minutes(9)
FROM ({job_rows})
"""

_JOB_MEDIA_SQL = """
INSERT INTO job_media
SELECT id, main_id, 'main', 0 FROM ({job_rows})
UNION ALL
SELECT id, template_id, 'template', 0 FROM ({job_rows})
"""

_LOG_SQL = """
INSERT INTO process_log (id, job_id, stage, status, duration_ms, detail, "at")
SELECT {id0} + k, {id0} + k,
       ['plan', 'claim', 'decode', 'encode', 'render'][h(k, 'stage', 5) + 1],
       CASE WHEN h(k, 'st', 10) = 0 THEN 'failed' WHEN h(k, 'st', 10) = 1 THEN 'retry' ELSE 'ok' END,
       h(k, 'ms', 9000000) / 100.0,
       'bench row ' || k,
       {base} - to_minutes(h(k, 'at', 525600))
FROM range({n}) t(k)
"""


def fill_catalog(ws: Workspace, *, rows: int) -> dict:
    """Bulk-insert ``rows`` media, ``rows`` jobs (with their job_media) and ``rows`` log rows."""
    fmt = {
        "id0": BULK_ID0, "n": int(rows), "n3": int(rows) // 3, "base": BASE_TS,
        "moods": _lst(MOODS), "n_moods": len(MOODS), "licenses": _lst(catalogs.LICENSES),
        "n_licenses": len(catalogs.LICENSES),
    }  # fmt: skip
    fmt["job_rows"] = _JOB_ROWS.format(**fmt)
    with ws.catalog.write() as con:
        con.execute(_MACRO)
        for sql in (_MEDIA_SQL, _JOBS_SQL, _JOB_MEDIA_SQL, _LOG_SQL):
            con.execute(sql.format(**fmt))
    with ws.catalog.read() as con:
        counts = {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                  for t in ("media", "jobs", "job_media", "process_log")}  # fmt: skip
    return counts


# -- the SQLite peer: equivalent schema, the indexes one would add, same rows -----------
_SQLITE_SCHEMA = f"""
CREATE TABLE media (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN {catalogs.sql_list(catalogs.MEDIA_KINDS)}),
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    size_bytes INTEGER, duration_s REAL, width INTEGER, height INTEGER, fps REAL, has_audio INTEGER,
    mood TEXT, category TEXT, style TEXT, platform TEXT,
    license TEXT NOT NULL DEFAULT 'unknown' CHECK (license IN {catalogs.sql_list(catalogs.LICENSES)}),
    creator TEXT, source_url TEXT, attribution TEXT,
    usage_count INTEGER NOT NULL DEFAULT 0,
    last_used_at TEXT,
    created_at TEXT NOT NULL,
    linked INTEGER DEFAULT 0
);
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN {catalogs.sql_list(catalogs.JOB_KINDS)}),
    spec TEXT NOT NULL,
    platform TEXT,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN {catalogs.sql_list(catalogs.JOB_STATES)}),
    attempts INTEGER NOT NULL DEFAULT 0,
    error_class TEXT, error_message TEXT, output_path TEXT, output_sha256 TEXT,
    created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT,
    output_size_bytes INTEGER, frames INTEGER, render_fps REAL, encoder TEXT, worker TEXT, batch_id TEXT,
    updated_at TEXT
);
CREATE TABLE job_media (
    job_id INTEGER NOT NULL, media_id INTEGER NOT NULL, role TEXT NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (job_id, role, position)
);
CREATE TABLE process_log (
    id INTEGER PRIMARY KEY,
    job_id INTEGER, stage TEXT NOT NULL, status TEXT NOT NULL, duration_ms REAL, detail TEXT, "at" TEXT NOT NULL
);
"""

_SQLITE_INDEXES = """
CREATE INDEX media_pick ON media (kind, usage_count, last_used_at);
CREATE INDEX jobs_state ON jobs (state, error_class, error_message);
CREATE INDEX jobs_platform_state ON jobs (platform, state);
CREATE INDEX job_media_media ON job_media (media_id);
CREATE INDEX process_log_job ON process_log (job_id);
ANALYZE;
"""

_COPY = {
    "media": ("id", "kind", "path", "sha256", "size_bytes", "duration_s", "width", "height", "fps", "has_audio", "mood",
              "category", "style", "platform", "license", "creator", "source_url", "attribution", "usage_count",
              "last_used_at", "created_at", "linked"),
    "jobs": ("id", "kind", "spec", "platform", "state", "attempts", "error_class", "error_message", "output_path",
             "output_sha256", "created_at", "started_at", "finished_at", "output_size_bytes", "frames", "render_fps",
             "encoder", "worker", "batch_id", "updated_at"),
    "job_media": ("job_id", "media_id", "role", "position"),
    "process_log": ("id", "job_id", "stage", "status", "duration_ms", "detail", "at"),
}  # fmt: skip
_TIMESTAMPS = {"last_used_at", "created_at", "started_at", "finished_at", "updated_at", "at"}


def _sqlite_connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    if read_only:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=catalogs.DEFAULT_WAIT_S, isolation_level=None)
    return sqlite3.connect(path, timeout=catalogs.DEFAULT_WAIT_S, isolation_level=None)


def fill_sqlite(ws: Workspace, path: Path) -> None:
    """Copy the farm catalog's rows into a new SQLite file (WAL mode), then index it."""
    con = _sqlite_connect(path, read_only=False)
    try:
        con.execute("PRAGMA journal_mode = WAL")
        con.executescript(_SQLITE_SCHEMA)
        con.execute("BEGIN")
        with ws.catalog.read() as src:
            for table, cols in _COPY.items():
                select = ", ".join(f'"{c}"::VARCHAR' if c in _TIMESTAMPS or c == "spec" else f'"{c}"' for c in cols)
                cur = src.execute(f"SELECT {select} FROM {table}")
                names = ", ".join(f'"{c}"' for c in cols)
                insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in cols)})"
                while chunk := cur.fetchmany(50_000):
                    con.executemany(insert, chunk)
        con.execute("COMMIT")
        con.executescript(_SQLITE_INDEXES)
    finally:
        con.close()


def _now() -> str:
    return catalogs.utcnow().isoformat(sep=" ")


def sqlite_pick(con: sqlite3.Connection, *, kind: str, platform: str, seed: int) -> list[dict]:
    """pick_media(for_publishing=True) in SQLite: least used, least recently used, ties by seed."""
    lic = catalogs.PUBLISHABLE_LICENSES
    sql = (
        f"SELECT * FROM media WHERE kind = ? AND (platform IS NULL OR platform = ?) "
        f"AND license IN ({', '.join('?' for _ in lic)}) "
        "ORDER BY usage_count, last_used_at NULLS FIRST, (id * 2654435761 + ?) % 4294967296, id LIMIT 1"
    )
    return catalogs.rows_as_dicts(con.execute(sql, [kind, platform, *lic, int(seed)]))


def _sqlite_need(con: sqlite3.Connection, media_id: int, kinds: tuple[str, ...], role: str) -> dict:
    rows = catalogs.rows_as_dicts(con.execute("SELECT * FROM media WHERE id = ?", [int(media_id)]))
    if not rows or rows[0]["kind"] not in kinds:
        raise InputError(f"media {media_id}: not usable as the {role}")
    return rows[0]


def sqlite_enqueue(
    ws: Workspace, con: sqlite3.Connection, *, main: int, template: int, platform: str, seed: int
) -> dict:
    """build_mashup + get_job in SQLite, inside one write transaction (the caller's connection)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        main_row = _sqlite_need(con, main, ("source", "template"), "main")
        template_row = _sqlite_need(con, template, ("template",), "template")
        used = [main_row, template_row]
        if any(r["license"] == "unknown" for r in used):
            raise RightsError(f"licence unknown, cannot be published on {platform}")
        job_id = int(con.execute("SELECT coalesce(max(id), 0) + 1 FROM jobs").fetchone()[0])
        r = ws.settings.render
        total_s = float(main_row["duration_s"] or 0)
        spec = MashupSpec(
            mains=(main_row["path"],), template=template_row["path"], output=str(ws.out_dir / f"job-{job_id:06d}.mp4"),
            layout=r.layout, fit=r.fit, duration_s=r.max_duration_s if total_s > r.max_duration_s else None,
            fade_s=r.fade_s, music=None, music_volume=r.music_volume, caption=None, attribution=credits_line(used),
            fps=r.fps, preset=r.preset, crf=r.crf, encoder=r.encoder, decoder=r.decoder,
        )  # fmt: skip
        now = _now()
        con.execute(
            "INSERT INTO jobs (id, kind, spec, platform, state, created_at, updated_at, batch_id) "
            "VALUES (?, 'mashup', ?, ?, 'pending', ?, ?, NULL)",
            [job_id, json.dumps(json.loads(spec.to_json()), ensure_ascii=False), platform, now, now],
        )
        con.executemany(
            "INSERT INTO job_media VALUES (?, ?, ?, ?)",
            [(job_id, main_row["id"], "main", 0), (job_id, template_row["id"], "template", 0)],
        )
        con.execute(
            'INSERT INTO process_log (job_id, stage, status, duration_ms, detail, "at") VALUES (?, ?, ?, ?, ?, ?)',
            [job_id, "plan", "ok", None, f"mains [{main_row['id']}] template {template_row['id']}", _now()],
        )
        row = catalogs.rows_as_dicts(con.execute("SELECT * FROM jobs WHERE id = ?", [job_id]))[0]
        row["spec"] = json.loads(row["spec"])
        con.execute("COMMIT")
        return row
    except BaseException:
        con.execute("ROLLBACK")
        raise


def sqlite_move(con: sqlite3.Connection, job_id: int, to: str) -> dict:
    """catalogs.move in SQLite, inside one write transaction (the caller's connection)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        row = con.execute("SELECT state FROM jobs WHERE id = ?", [int(job_id)]).fetchone()
        allowed = catalogs.TRANSITIONS[to]
        if row is None or row[0] not in allowed:
            raise catalogs.IllegalTransition(f"job {job_id} is {row and row[0]}; it cannot move to {to}")
        con.execute("UPDATE jobs SET state = ?, updated_at = ? WHERE id = ?", [to, _now(), int(job_id)])
        con.execute("COMMIT")
        return {"id": int(job_id), "state": row[0]}
    except BaseException:
        con.execute("ROLLBACK")
        raise


def sqlite_stats(con: sqlite3.Connection, *, top_failures: int = 5) -> dict:
    """catalogs.queue_stats in SQLite."""
    by_state = {s: 0 for s in catalogs.JOB_STATES}
    for state, n in con.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall():
        by_state[state] = int(n)
    by_platform = catalogs.rows_as_dicts(
        con.execute(
            "SELECT coalesce(platform, 'none') AS platform, state, count(*) AS jobs FROM jobs "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        )
    )
    failures = catalogs.rows_as_dicts(
        con.execute(
            "SELECT error_class, error_message, count(*) AS jobs FROM jobs WHERE state = 'failed' "
            "GROUP BY 1, 2 ORDER BY jobs DESC, error_class, error_message LIMIT ?",
            [int(top_failures)],
        )
    )
    return {"total": sum(by_state.values()), "by_state": by_state, "by_platform": by_platform, "failures": failures}


# -- the operations, each as one callable taking the sample index -----------------------
class _Toggle:
    """Pending jobs moved to cancelled and back, one move per call, so any row count suffices."""

    def __init__(self, ids: list[int]) -> None:
        if not ids:
            raise InputError("catalog bench: no pending jobs to move (use more rows)")
        self.ids = ids
        self.state = {i: "pending" for i in ids}
        self.n = 0

    def next(self) -> tuple[int, str]:
        job_id = self.ids[self.n % len(self.ids)]
        self.n += 1
        to = "cancelled" if self.state[job_id] == "pending" else "pending"
        self.state[job_id] = to
        return job_id, to


Ops = dict[str, Callable[[int], object]]


def _farm_ops(ws: Workspace, mains: list[int], templates: list[int], toggle: _Toggle) -> Ops:
    """The operations as the CLI does them: each opens (and closes) its own connection."""

    def pick(i: int) -> object:
        with ws.catalog.read() as con:
            return catalogs.pick_media(con, kind="template", platform=PLATFORM, for_publishing=True, seed=i)

    def enqueue(i: int) -> object:
        return _enqueue_farm(ws, None, mains, templates, i)

    def change(i: int) -> object:
        job_id, to = toggle.next()
        with ws.catalog.write() as con:
            return catalogs.move(con, job_id, to)

    def stats(i: int) -> object:
        with ws.catalog.read() as con:
            return catalogs.queue_stats(con)

    return dict(zip(OPS, (pick, enqueue, change, stats)))


def _enqueue_farm(ws: Workspace, con, mains: list[int], templates: list[int], i: int) -> dict:
    kw = {"mains": [mains[i % len(mains)]], "template": templates[i % len(templates)], "platform": PLATFORM, "seed": i}
    if con is None:
        from farm.jobs import enqueue_mashup

        return enqueue_mashup(ws, **kw)
    con.execute("BEGIN TRANSACTION")
    try:
        job = catalogs.get_job(con, build_mashup(ws, con, **kw))
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return job


def _held_ops(ws: Workspace, con, mains: list[int], templates: list[int], toggle: _Toggle) -> Ops:
    """The same operations and transactions on one connection kept open: the cost without open/close."""

    def pick(i: int) -> object:
        return catalogs.pick_media(con, kind="template", platform=PLATFORM, for_publishing=True, seed=i)

    def enqueue(i: int) -> object:
        return _enqueue_farm(ws, con, mains, templates, i)

    def change(i: int) -> object:
        job_id, to = toggle.next()
        con.execute("BEGIN TRANSACTION")
        try:
            row = catalogs.move(con, job_id, to)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        return row

    def stats(i: int) -> object:
        return catalogs.queue_stats(con)

    return dict(zip(OPS, (pick, enqueue, change, stats)))


def _sqlite_ops(ws: Workspace, path: Path, mains: list[int], templates: list[int], toggle: _Toggle) -> Ops:
    """The same operations on the SQLite peer, a connection opened and closed per operation."""

    def pick(i: int) -> object:
        con = _sqlite_connect(path, read_only=True)
        try:
            return sqlite_pick(con, kind="template", platform=PLATFORM, seed=i)
        finally:
            con.close()

    def enqueue(i: int) -> object:
        con = _sqlite_connect(path, read_only=False)
        try:
            main, template = mains[i % len(mains)], templates[i % len(templates)]
            return sqlite_enqueue(ws, con, main=main, template=template, platform=PLATFORM, seed=i)
        finally:
            con.close()

    def change(i: int) -> object:
        job_id, to = toggle.next()
        con = _sqlite_connect(path, read_only=False)
        try:
            return sqlite_move(con, job_id, to)
        finally:
            con.close()

    def stats(i: int) -> object:
        con = _sqlite_connect(path, read_only=True)
        try:
            return sqlite_stats(con)
        finally:
            con.close()

    return dict(zip(OPS, (pick, enqueue, change, stats)))


def _check_same(op: str, farm_result: object, sqlite_result: object) -> None:
    """Both sides must do real work: a pick finds a template, the stats count the same jobs."""
    if op == "pick template" and not (farm_result and sqlite_result):
        raise InputError("catalog bench: no template to pick (use more rows)")
    if op == "queue stats" and farm_result["total"] != sqlite_result["total"]:
        raise RuntimeError(f"catalog bench: farm counts {farm_result['total']} jobs, SQLite {sqlite_result['total']}")


def _timed_ms(fn: Callable[[int], object], i: int) -> float:
    t = time.perf_counter()
    fn(i)
    return (time.perf_counter() - t) * 1000.0


def _summary(times_ms: list[float]) -> dict:
    ordered = sorted(times_ms)
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    return {"median_ms": round(statistics.median(ordered), 3), "p99_ms": round(p99, 3)}


def _publishable(ws: Workspace, kind: str) -> list[int]:
    lic = catalogs.PUBLISHABLE_LICENSES
    with ws.catalog.read() as con:
        rows = con.execute(
            f"SELECT id FROM media WHERE kind = ? AND license IN ({', '.join('?' for _ in lic)}) ORDER BY id LIMIT 64",
            [kind, *lic],
        ).fetchall()
    return [int(r[0]) for r in rows]


def machine_info() -> dict:
    return {
        "platform": platform.platform(), "machine": platform.machine(), "cpu": cpu_model(), "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "duckdb": duckdb.__version__, "sqlite": sqlite3.sqlite_version,
    }  # fmt: skip


def run_catalog_bench(
    *,
    rows: int = 100_000,
    samples: int = 200,
    workdir: str | None = None,
    log: TextIO = sys.stderr,
) -> dict:
    """Time the catalog's everyday operations on a filled catalog vs SQLite; returns a report with a ``table``.

    Each farm operation opens its own connection through ``ws.catalog`` as the CLI does (one
    process keeps its Workspace, so the schema check runs once); "held connection" repeats the
    same transactions on one open connection, which isolates the cost of opening the file.
    The SQLite peer (WAL mode, synchronous=FULL, the same rows, the indexes one would add)
    also opens a connection per operation. Ratios are farm / SQLite medians.

    The files go in a new folder under ``workdir`` (kept), or in a temp folder removed at the end.
    """
    if rows < 30:
        raise InputError(f"Invalid rows ({rows}). Supported: 30 or more.")
    if samples < 1:
        raise InputError(f"Invalid samples ({samples}). Supported: 1 or more.")
    t_start = time.perf_counter()
    if workdir:
        Path(workdir).mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="farm-catalog-bench-", dir=workdir))
    try:
        ws, _ = init_workspace(root / "ws")
        t = time.perf_counter()
        counts = fill_catalog(ws, rows=rows)
        fill_s = time.perf_counter() - t
        size_mb = (ws.catalog.path.stat().st_size + sum(p.stat().st_size for p in root.glob("ws/*.wal"))) / 1e6
        print(f"farm catalog filled in {fill_s:.1f} s: {counts} ({size_mb:.1f} MB)", file=log)
        lite = root / "peer.sqlite"
        t = time.perf_counter()
        fill_sqlite(ws, lite)
        lite_fill_s = time.perf_counter() - t
        print(f"SQLite peer filled in {lite_fill_s:.1f} s ({lite.stat().st_size / 1e6:.1f} MB)", file=log)

        mains, templates = _publishable(ws, "source"), _publishable(ws, "template")
        if not mains or not templates:
            raise InputError("catalog bench: no publishable source or template media (use more rows)")
        with ws.catalog.read() as con:
            pending = [int(r[0]) for r in con.execute(
                "SELECT id FROM jobs WHERE state = 'pending' ORDER BY id LIMIT 1000").fetchall()]  # fmt: skip
        farm_toggle, lite_toggle = _Toggle(pending), _Toggle(list(pending))
        farm = _farm_ops(ws, mains, templates, farm_toggle)
        peer = _sqlite_ops(ws, lite, mains, templates, lite_toggle)

        # Farm (connection per op) and SQLite alternate sample by sample, so drift hits both.
        times: dict[str, dict[str, list[float]]] = {v: {op: [] for op in OPS} for v in ("farm", "held", "sqlite")}
        for op in OPS:
            for i in range(WARMUP):
                got = (farm[op](-1 - i), peer[op](-1 - i))
                _check_same(op, *got)
            for i in range(samples):
                pair = (("farm", farm), ("sqlite", peer)) if i % 2 == 0 else (("sqlite", peer), ("farm", farm))
                for variant, ops in pair:
                    times[variant][op].append(_timed_ms(ops[op], i))
            f, s = statistics.median(times["farm"][op]), statistics.median(times["sqlite"][op])
            print(f"{op}: farm {f:.2f} ms, SQLite {s:.2f} ms (median of {samples})", file=log)

        # Held connection: DuckDB allows one open configuration per file in a process, so
        # this runs after the per-op phase with nothing else holding the file.
        con = duckdb.connect(str(ws.catalog.path))
        try:
            held = _held_ops(ws, con, mains, templates, farm_toggle)
            for op in OPS:
                for i in range(WARMUP):
                    held[op](-1 - i)
                times["held"][op] = [_timed_ms(held[op], samples + i) for i in range(samples)]
                print(f"{op}: held connection {statistics.median(times['held'][op]):.2f} ms", file=log)
        finally:
            con.close()

        results = {v: {op: _summary(times[v][op]) for op in OPS} for v in times}
        ratios = {op: round(results["farm"][op]["median_ms"] / results["sqlite"][op]["median_ms"], 2) for op in OPS}
        wall_s = time.perf_counter() - t_start
        info = machine_info()
        report = {
            "rows": rows,
            "counts": counts,
            "samples": samples,
            "farm": results["farm"],
            "held_connection": results["held"],
            "sqlite": results["sqlite"],
            "ratios": ratios,
            "fill_s": {"farm": round(fill_s, 2), "sqlite": round(lite_fill_s, 2)},
            "machine": info,
            "wall_s": round(wall_s, 1),
        }
        lines = [
            f"machine: {info['platform']}, {info['cpu_count']} cores, {info['cpu']}, Python {info['python']}, "
            f"DuckDB {info['duckdb']}, SQLite {info['sqlite']}",
            f"catalog: {counts['media']} media, {counts['jobs']} jobs, {counts['job_media']} job inputs, "
            f"{counts['process_log']} log rows; median and p99 of {samples} samples per op",
            "",
            "| op | farm median ms | farm p99 ms | held-conn median ms | SQLite median ms | farm / SQLite |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for op in OPS:
            f, h, s = results["farm"][op], results["held"][op], results["sqlite"][op]
            lines.append(
                f"| {op} | {f['median_ms']:.2f} | {f['p99_ms']:.2f} | {h['median_ms']:.2f} | {s['median_ms']:.2f} "
                f"| {ratios[op]:.2f}x |"
            )
        report["table"] = "\n".join(lines)
        return report
    finally:
        if workdir is None:
            shutil.rmtree(root, ignore_errors=True)
