"""`farm bench serve` runs end to end on a small workspace: every endpoint answers and is reported."""

from __future__ import annotations

from benchmarks.serve import run_serve_bench


def test_serve_bench_small(tmp_path):
    report = run_serve_bench(jobs=300, samples=5, workdir=str(tmp_path))
    assert {"jobs", "counts", "samples", "goal_p95_ms", "endpoints", "machine", "wall_s", "table"} <= set(report)
    assert report["counts"]["jobs"] == 300 and report["counts"]["accounts"] > 0 and report["counts"]["uploads"] > 0
    names = [r["endpoint"] for r in report["endpoints"]]
    assert any(n.startswith("jobs deep page") for n in names) and "preview first byte" in names
    assert "queue page (HTML)" in names and "accounts" in names and "media (default page of 100)" in names
    for row in report["endpoints"]:
        assert row["status"] and set(row["status"]) <= {200, 206}, row
        assert row["n"] >= 1 and 0 < row["p50_ms"] <= row["p95_ms"] <= row["max_ms"]
        assert row["endpoint"] in report["table"]
    preview = next(r for r in report["endpoints"] if r["endpoint"] == "preview first byte")
    assert preview["status"] == [206]  # the Range request was answered as a range
    assert all("peer" in r for r in report["endpoints"] if r["endpoint"].startswith("jobs "))
