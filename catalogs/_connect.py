"""Opening the workspace's DuckDB file: short connections, lock waits, migrations, transactions.

DuckDB lets one process write a database file, and no other process may even read it
while a writer has it open. The farm therefore never keeps the file open: every
operation opens a connection, does its work in one transaction and closes it again
(about 20-40 ms). A batch that renders for minutes holds the file only for the
milliseconds it takes to record a state change, so ``farm queue list`` and friends get
in between, and a second writer waits for its turn instead of failing.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from catalogs._schema import MIGRATIONS, SCHEMA_VERSION
from farm.errors import BusyError, InputError

DEFAULT_WAIT_S = 10.0
_LOCK_PID = re.compile(r"\(PID (\d+)\)")


def utcnow() -> datetime:
    """The catalog's clock: naive UTC timestamps, microsecond precision."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _is_lock_error(err: Exception) -> bool:
    text = str(err)
    return "Could not set lock" in text or "Conflicting lock" in text


class Catalog:
    """The catalog file of one workspace.

    Args:
        path: the ``farm.duckdb`` file; created (with the current schema) by :meth:`create`.
        wait_s: how long to wait for another process that holds the file before giving up
            with :class:`~farm.errors.BusyError`.

    Example::

        cat = Catalog("ws/farm.duckdb")
        with cat.write() as con:
            con.execute("UPDATE jobs SET state = 'pending' WHERE id = ?", [7])
        with cat.read() as con:
            con.execute("SELECT count(*) FROM jobs").fetchone()
    """

    def __init__(self, path: str | os.PathLike, *, wait_s: float = DEFAULT_WAIT_S) -> None:
        self.path = Path(path)
        self.wait_s = float(wait_s)
        self._checked = False

    def __repr__(self) -> str:
        return f"Catalog({str(self.path)!r})"

    # -- connections ---------------------------------------------------------------
    def _connect(self, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        if not self.path.exists():
            raise InputError(f"{self.path}: no catalog here (run `farm init` to make a workspace)")
        deadline = time.monotonic() + self.wait_s
        delay = 0.01
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.IOException as err:
                if not _is_lock_error(err):
                    raise InputError(f"{self.path}: cannot open the catalog ({err})") from None
                if time.monotonic() >= deadline:
                    m = _LOCK_PID.search(str(err))
                    who = f" (PID {m.group(1)})" if m else ""
                    raise BusyError(
                        f"{self.path.parent}: another farm process{who} is using this workspace; "
                        f"waited {self.wait_s:g} s, try again when it has finished"
                    ) from None
            except duckdb.Error as err:
                raise InputError(f"{self.path}: not a usable farm catalog ({err})") from None
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)

    @contextlib.contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection (works beside other readers; waits out a writer)."""
        self.ensure_schema()
        con = self._connect(read_only=True)
        try:
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction: committed on success, rolled back on error."""
        self.ensure_schema()
        with self._write_raw() as con:
            yield con

    @contextlib.contextmanager
    def _write_raw(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self._connect(read_only=False)
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    # -- schema --------------------------------------------------------------------
    def create(self) -> int:
        """Create the file if missing and apply every migration it lacks; returns the version."""
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            duckdb.connect(str(self.path)).close()
        return self.migrate()

    def version(self) -> int:
        con = self._connect(read_only=True)
        try:
            return _version(con)
        finally:
            con.close()

    def ensure_schema(self) -> None:
        if self._checked:
            return
        have = self.version()
        if have > SCHEMA_VERSION:
            raise InputError(
                f"{self.path}: made by a newer farm (schema {have}, this release knows up to {SCHEMA_VERSION}); upgrade farm"
            )
        if have < SCHEMA_VERSION:
            self.migrate()
        self._checked = True

    def migrate(self, *, up_to: int | None = None) -> int:
        """Apply the missing migrations, each in its own transaction; returns the version."""
        target = SCHEMA_VERSION if up_to is None else up_to
        con = self._connect(read_only=False)
        try:
            have = _version(con)
            if have > SCHEMA_VERSION:
                raise InputError(f"{self.path}: made by a newer farm (schema {have} > {SCHEMA_VERSION}); upgrade farm")
            for version, description, sql in MIGRATIONS:
                if have < version <= target:
                    con.execute("BEGIN TRANSACTION")
                    try:
                        con.execute(sql)
                        con.execute(
                            "INSERT INTO schema_version VALUES (?, ?, ?)", [version, description, utcnow()]
                        )
                        con.execute("COMMIT")
                    except BaseException:
                        con.execute("ROLLBACK")
                        raise
                    have = version
            return have
        finally:
            con.close()


def _version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()[0]
    if not exists:
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def rows_as_dicts(cursor) -> list[dict]:
    """The result of the last query as a list of {column name: value} (any DB-API cursor)."""
    cols = [d[0] for d in cursor.description]
    return [dict(zip(cols, row)) for row in cursor.fetchall()]
