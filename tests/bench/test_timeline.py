"""bench/timeline.py: per-window series and the burst phase's recovery time."""
from __future__ import annotations

import pytest


@pytest.fixture
def timeline(bench_module):
    bench_module("results")
    return bench_module("timeline")


def stream(start: float, end: float, latency, rate: float = 20.0):
    """Samples of a low stream at ``rate``/s from ``start`` to ``end``; latency(t) in s."""
    n = round((end - start) * rate)
    return [(start + i / rate, latency(start + i / rate)) for i in range(n)]


BURST_END = 1000.0


def test_recovered_when_p95_stays_within_the_threshold(timeline):
    samples = stream(990, 1040, lambda t: 2.0 if t < 1012 else 0.05)
    assert timeline.recovery_s(samples, BURST_END, stream_end=1040) == 12.0


def test_a_relapse_restarts_the_hold(timeline):
    # healthy from 1005, a quarter second of slow tickets at 1008, healthy again
    samples = stream(990, 1030, lambda t: 0.5 if t < 1005 or 1008 <= t < 1008.25 else 0.05)
    assert timeline.recovery_s(samples, BURST_END, hold_s=5.0) == 8.5


def test_healthy_at_the_end_of_the_burst_is_zero(timeline):
    samples = stream(990, 1010, lambda t: 0.03)
    assert timeline.recovery_s(samples, BURST_END) == 0.0


def test_never_recovered_is_none(timeline):
    samples = stream(990, 1060, lambda t: 0.25)
    assert timeline.recovery_s(samples, BURST_END, threshold_s=0.2) is None


def test_unrouted_tickets_count_as_unbounded(timeline):
    # fast, but every 10th ticket never routed: the p95 of each window is unbounded
    samples = [(t, None if i % 10 == 0 else 0.01)
               for i, (t, _) in enumerate(stream(1000, 1030, lambda t: 0.0))]
    assert timeline.recovery_s(samples, BURST_END) is None


def test_recovery_needs_the_whole_hold_before_the_stream_ends(timeline):
    samples = stream(990, 1015, lambda t: 1.0 if t < 1012 else 0.05)
    assert timeline.recovery_s(samples, BURST_END, hold_s=5.0, stream_end=1015) is None


def test_no_samples_is_none(timeline):
    assert timeline.recovery_s([], BURST_END) is None


def test_a_gap_in_the_stream_is_not_healthy(timeline):
    samples = [s for s in stream(1000, 1020, lambda t: 0.01) if not 1002 <= s[0] < 1003.5]
    # the window from 1002.5 is empty; the one from 1003 has the tickets of its second half
    assert timeline.recovery_s(samples, BURST_END, hold_s=5.0) == 3.0


def test_phase_series_per_window(timeline):
    t0 = 500.0
    answers = [(500.2, 0.010, 201), (500.7, 0.030, 201), (501.5, 0.5, 503), (501.6, 2.0, 0)]
    server = {1: (500.1, 500.25), 2: (500.6, None), 3: (501.2, 502.4)}
    series = timeline.phase_series(t0, answers=answers, server=server, latency_ids=[1, 3])
    assert series["t_s"] == [0.0, 1.0, 2.0]
    assert series["answered_per_s"] == [2.0, 0.0, 0.0]
    assert series["latency_p95_ms"] == [30.0, 500.0, None]   # socket errors have no latency
    assert series["created_per_s"] == [2.0, 1.0, 0.0]
    assert series["routed_per_s"] == [1.0, 0.0, 1.0]
    assert series["created_to_routed_p95_ms"] == [150.0, 1200.0, None]


def test_phase_series_without_server_figures(timeline):
    series = timeline.phase_series(10.0, answers=[(10.5, 0.02, 200)])
    assert series["created_per_s"] is None and series["routed_per_s"] is None
    assert "created_to_routed_p95_ms" not in series
