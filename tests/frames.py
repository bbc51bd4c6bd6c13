"""The tests' one way to compare pictures: exact, within a tolerance, or by PSNR; region means.

Arrays are planes (or whole frames) of code values; tuples are region means. Each check
returns None when it holds and a sentence saying what differs when it does not, so a
test asserts ``not problem`` and shows the sentence.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

Mode = Literal["exact", "tolerance", "psnr"]


def region_means(planes, box) -> tuple[float, float, float]:
    """Mean (Y, Cb, Cr) over rectangle ``box`` = (x, y, w, h) in luma pixels, from 4:2:0
    planes (Y, U, V); the chroma rectangle is the luma one halved."""
    x, y, w, h = box
    Y, U, V = planes
    return (
        float(Y[y : y + h, x : x + w].mean()),
        float(U[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2].mean()),
        float(V[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2].mean()),
    )


def psnr(a, b, *, peak: float = 255.0) -> float:
    """PSNR in dB of ``a`` against ``b`` (inf when identical)."""
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {x.shape} and {y.shape}")
    mse = float(np.mean((x - y) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(peak**2 / mse)


def difference(a, b, *, mode: Mode = "exact", tol: float = 0.0, min_db: float = 40.0) -> str | None:
    """Why ``a`` and ``b`` do not match under ``mode`` (None: they match).

    - ``exact``: every value equal;
    - ``tolerance``: every value within ``tol`` (for region means: each channel);
    - ``psnr``: PSNR of at least ``min_db``.
    """
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.shape != y.shape:
        return f"shapes differ: {x.shape} and {y.shape}"
    if mode == "psnr":
        db = psnr(x, y)
        return None if db >= min_db else f"PSNR {db:.2f} dB, under {min_db} dB"
    worst = float(np.max(np.abs(x - y))) if x.size else 0.0
    limit = 0.0 if mode == "exact" else tol
    if worst <= limit:
        return None
    if x.ndim <= 1 and x.size <= 4:  # region means
        return f"{tuple(round(v, 1) for v in x.tolist())} vs {tuple(round(v, 1) for v in y.tolist())} (off by {worst:.1f}, allowed {limit:g})"
    return f"{int(np.count_nonzero(np.abs(x - y) > limit))} values differ, by up to {worst:g} (allowed {limit:g})"


def matches(a, b, *, mode: Mode = "exact", tol: float = 0.0, min_db: float = 40.0) -> bool:
    return difference(a, b, mode=mode, tol=tol, min_db=min_db) is None
