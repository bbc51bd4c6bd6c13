"""A long-lived worker's memory-bounded cache of fitted template frames and decoded music."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

DEFAULT_CACHE_BYTES = 1024 * 1024 * 1024
# Music is cached up to this length (a bed for short videos); longer needs decode directly.
MUSIC_CACHE_S = 600.0


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    bytes: int = 0
    entries: int = 0


def file_key(path: str) -> tuple:
    """Identity of a file's content for caching: path, inode, size, mtime and ctime.

    ctime cannot be set back by a user (unlike mtime), so a file rewritten in place
    never matches its old entry.
    """
    st = os.stat(path)
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class RenderCache:
    """LRU over template frame passes and music tracks, bounded by ``max_bytes``.

    A batch that reuses a template decodes and scales it once per worker, not once per
    job; a music track is decoded once. Entries are keyed by the file's identity (path,
    size, mtime) and, for frames, by the box and fit they were scaled for.

    Example::

        cache = RenderCache(max_bytes=512 << 20)
        render_mashup(spec, cache=cache)   # first job fills it
        render_mashup(spec2, cache=cache)  # same template: no decoding
    """

    def __init__(self, *, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[tuple, tuple[object, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def __repr__(self) -> str:
        s = self.stats
        return f"RenderCache({s.entries} entries, {s.bytes >> 20} MiB of {self.max_bytes >> 20} MiB)"

    def get(self, key: tuple):
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.stats.misses += 1
                return None
            self._items.move_to_end(key)
            self.stats.hits += 1
            return item[0]

    def put(self, key: tuple, value, *, size_bytes: int) -> bool:
        """Keep ``value``; evicts least recently used entries. False when it can never fit."""
        if size_bytes > self.max_bytes:
            return False
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.stats.bytes -= old[1]
            while self._items and self.stats.bytes + size_bytes > self.max_bytes:
                _, (_, size) = self._items.popitem(last=False)
                self.stats.bytes -= size
                self.stats.evictions += 1
            self._items[key] = (value, size_bytes)
            self.stats.bytes += size_bytes
            self.stats.entries = len(self._items)
        return True

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.stats.bytes = 0
            self.stats.entries = 0

    # -- music ----------------------------------------------------------------------
    def music(self, path: str, max_s: float) -> np.ndarray:
        """The whole track decoded at 48 kHz stereo (cut to ``max_s`` by the caller's fit)."""
        from farm.media import SAMPLE_RATE, decode_audio

        key = ("music", *file_key(path))
        samples = self.get(key)
        if samples is None:
            samples = decode_audio(path, max_s=max(max_s, MUSIC_CACHE_S))
            samples.setflags(write=False)
            self.put(key, samples, size_bytes=samples.nbytes)
        if samples.shape[1] < int(max_s * SAMPLE_RATE) and samples.shape[1] >= int(MUSIC_CACHE_S * SAMPLE_RATE):
            return decode_audio(path, max_s=max_s)  # longer than what is kept
        return samples

    # -- template frames -----------------------------------------------------------
    def frames_key(self, path: str, *, box_width: int, box_height: int, fit: str) -> tuple:
        return ("frames", *file_key(path), int(box_width), int(box_height), fit)

    def as_dict(self) -> dict:
        s = self.stats
        return {"hits": s.hits, "misses": s.misses, "evictions": s.evictions, "bytes": s.bytes,
                "entries": s.entries, "max_bytes": self.max_bytes}
