"""`farm bench catalog` runs end to end on a small catalog and reports every operation against SQLite."""

from __future__ import annotations

from benchmarks.catalog import run_catalog_bench


def test_catalog_bench_small(tmp_path):
    report = run_catalog_bench(rows=300, samples=3, workdir=str(tmp_path))
    ops = ("pick template", "enqueue", "state change", "queue stats")
    for op in ops:
        assert report["farm"][op]["median_ms"] > 0 and report["sqlite"][op]["median_ms"] > 0
        assert op in report["table"]
