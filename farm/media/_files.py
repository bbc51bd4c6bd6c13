"""Files that never appear half-written: temp names beside the target, fsync, rename; sha256."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path


def temp_path_for(output: Path) -> Path:
    """A hidden temp name beside ``output``, so the final rename stays on one filesystem."""
    return output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.part")


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (best effort: some filesystems refuse)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_file(temp: Path, output: Path) -> None:
    """fsync ``temp``, rename it to ``output`` and fsync the folder. Raises OSError."""
    with open(temp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(temp, output)
    fsync_dir(output.parent)


def sha256_file(path: str | os.PathLike) -> str:
    """The file's SHA-256, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
