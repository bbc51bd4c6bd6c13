"""Metric history as Parquet files partitioned by date, read back through DuckDB views; `farm sql`."""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path

import duckdb

from catalogs._connect import rows_as_dicts, utcnow

# name -> (sub-folder, empty-table SQL giving the columns when no file exists yet)
METRIC_SETS = {
    "render_metrics": (
        "renders",
        "SELECT NULL::BIGINT AS job_id, NULL::TIMESTAMP AS at, NULL::VARCHAR AS worker, NULL::VARCHAR AS encoder, "
        "NULL::INTEGER AS frames, NULL::DOUBLE AS duration_s, NULL::DOUBLE AS render_fps, NULL::DOUBLE AS total_s, "
        "NULL::VARCHAR AS date WHERE false",
    ),
    "metrics": (
        "posts",
        "SELECT NULL::VARCHAR AS upload, NULL::TIMESTAMP AS at, NULL::BIGINT AS views, NULL::BIGINT AS likes, "
        "NULL::BIGINT AS comments, NULL::BIGINT AS shares, NULL::DOUBLE AS engagement_rate, NULL::BIGINT AS job_id, "
        "NULL::VARCHAR AS platform, NULL::BIGINT AS account_id, NULL::VARCHAR AS remote_id, NULL::BOOLEAN AS available, "
        "NULL::BOOLEAN AS shares_missing, NULL::VARCHAR AS note, NULL::VARCHAR AS date WHERE false",
    ),
}


def append_metrics(root: str | os.PathLike, name: str, rows: list[dict], *, at: datetime | None = None) -> Path | None:
    """Write ``rows`` as one Parquet file under ``<root>/<set>/date=YYYY-MM-DD/`` (atomically)."""
    if not rows:
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder, _ = METRIC_SETS[name]
    day = (at or utcnow()).strftime("%Y-%m-%d")
    out_dir = Path(root) / folder / f"date={day}"
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"part-{utcnow():%H%M%S}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = out_dir / f".{final.name}.part"
    pq.write_table(pa.Table.from_pylist(rows), tmp)
    os.replace(tmp, final)
    return final


def create_metric_views(con: duckdb.DuckDBPyConnection, root: str | os.PathLike) -> None:
    """Temp views ``render_metrics`` and ``metrics`` over the Parquet history (empty if none)."""
    for name, (folder, empty) in METRIC_SETS.items():
        pattern = Path(root) / folder / "date=*" / "*.parquet"
        files = list((Path(root) / folder).glob("date=*/*.parquet"))
        if files:
            lit = str(pattern).replace("'", "''")
            # by name, after the empty table: files written before a column existed read it as NULL
            sql = (f"{empty} UNION ALL BY NAME "
                   f"SELECT * FROM read_parquet('{lit}', hive_partitioning = true, union_by_name = true)")
        else:
            sql = empty
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")


def read_only_query(con: duckdb.DuckDBPyConnection, query: str, *, metrics_dir: str | os.PathLike,
                    timeout_s: float) -> list[dict]:
    """Run one user SELECT over the catalog and the metric history (`farm sql`), sandboxed.

    Exactly one SELECT statement; nothing outside the metric history is reachable (no
    files, no network, no extensions) and the query cannot change those settings back;
    it is interrupted after ``timeout_s`` (a reader holds writers off). Raises
    :class:`farm.errors.InputError` with a one-line reason.
    """
    import threading

    from farm.errors import InputError

    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as err:
        raise InputError(f"SQL: {str(err).splitlines()[0]}") from None
    if len(statements) != 1:
        raise InputError(f"SQL: give exactly one statement, not {len(statements)}")
    kind = statements[0].type.name
    if kind != "SELECT":
        raise InputError(f"SQL: only SELECT queries are allowed here, not {kind}")
    create_metric_views(con, metrics_dir)
    allowed = str(Path(metrics_dir).resolve()).replace("'", "''") + "/"
    for setting in (f"allowed_directories = ['{allowed}']", "enable_external_access = false",
                    "autoinstall_known_extensions = false", "autoload_known_extensions = false",
                    "lock_configuration = true"):
        con.execute(f"SET {setting}")
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.start()
    try:
        return rows_as_dicts(con.execute(query))
    except duckdb.InterruptException:
        raise InputError(f"SQL: stopped after {timeout_s:g} s (--timeout)") from None
    except duckdb.Error as err:
        raise InputError(f"SQL: {' '.join(str(err).split())}") from None
    finally:
        timer.cancel()
