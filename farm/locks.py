"""Process locks on a workspace (one renderer or nightly batch at a time), released by the OS on death."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from farm.errors import BusyError


class WorkspaceLock:
    """An exclusive ``flock`` on ``path``; the holder's PID and command are written inside.

    The kernel drops the lock when the holder dies (``kill -9`` included), so a lock
    left by a dead process never blocks the next start: taking it over is the normal path.

    Example::

        with WorkspaceLock(ws.state_dir / "render.lock", what="farm render"):
            ...
    """

    def __init__(self, path: str | os.PathLike, *, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None

    def acquire(self, *, wait_s: float = 0.0) -> WorkspaceLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self.holder()
                    os.close(fd)
                    who = f" (PID {holder.get('pid')}, started {holder.get('started', '?')})" if holder else ""
                    raise BusyError(
                        f"{self.path.parent.parent}: another {self.what} is running on this workspace{who}; "
                        "wait for it to finish or stop it first"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "argv": sys.argv[:6],
        }
        os.write(fd, json.dumps(info).encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def holder(self) -> dict:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> WorkspaceLock:
        return self.acquire() if self._fd is None else self

    def __exit__(self, *exc) -> None:
        self.release()
