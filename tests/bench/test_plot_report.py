"""bench/plot.py writes a PNG from saved results; bench/report.py has the issue's targets."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _series(n: int, **extra):
    return {"t0": 0.0, "window_s": 1.0, "t_s": [float(k) for k in range(n)],
            "answered_per_s": [100.0 + k for k in range(n)],
            "latency_p95_ms": [20.0 + k for k in range(n)],
            "created_per_s": [90.0] * n, "routed_per_s": [80.0] * n, **extra}


RUN = {
    "started_at": "2025-01-01T00:00:00+00:00", "label": "test",
    "results": {
        "create": {"ok_per_s": 300.0, "latency_ms": {"p99": 90.0}, "timeseries": _series(5)},
        "reads": {"get_by_id": {"ok_per_s": 500.0, "latency_ms": {"p99": 9.0},
                                "timeseries": _series(3, created_per_s=None,
                                                      routed_per_s=None)}},
        "burst": {"recovery": "4.5 s after the burst", "recovery_s": 4.5,
                  "burst": {"ok_per_s": 300.0}, "settings": {"threshold_ms": 200},
                  "timeseries": _series(8, created_to_routed_p95_ms=[50, 900, 3000, 800, 150,
                                                                    120, None, 110],
                                        burst_end_s=2.0, recovered_at_s=6.5)},
        "drain": {"tickets_per_s": 120.0, "timeseries": _series(0)},
        "memory": {"max_process_rss_mb": 180.0},
    },
}


def test_plot_writes_a_png_of_saved_results(bench_module, tmp_path):
    plot = bench_module("plot")
    saved = tmp_path / "latest.json"
    saved.write_text(json.dumps(RUN))
    out = tmp_path / "out.png"
    assert plot.main([str(saved), str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000
    assert [name for name, _ in plot.panels(RUN["results"])] == [
        "create", "reads: get_by_id", "burst"]   # the drain's series has no samples


def test_plot_of_a_run_without_series(bench_module, tmp_path):
    plot = bench_module("plot")
    out = plot.write_png({"results": {"memory": {}}}, tmp_path / "empty.png")
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_targets_table_has_the_issue_rows(bench_module):
    report = bench_module("report")
    rows = {r["key"]: r for r in report.rows(RUN["results"] | {
        "burst": {"recovery_s": None, "recovery": "not recovered within 61.0 s after the burst"}})}
    for key in ("drain.resources.cpu_ms_per_ticket_total", "drain.tickets_per_s",
                "create.ok_per_s", "create.latency_ms.p99", "create.errors", "create.lost",
                "steady.latency_ms.p50", "steady.latency_ms.p95",
                "steady.created_to_routed_ms.p95", "burst.recovery_s",
                "memory.max_process_rss_mb", "memory.max_rss_mb_but_ai_consumer"):
        assert rows[key]["target"] != "-"
    burst = rows["burst.recovery_s"]
    assert burst["result"] == "FAIL" and burst["note"].startswith("not recovered within")
    assert "not recovered within 61.0 s" in report.table(list(rows.values()))
    assert rows["steady.latency_ms.p50"]["result"] == "not run"
