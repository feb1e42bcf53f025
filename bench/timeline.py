"""A phase's figures per time window (throughput and p95 over 1 s windows) and the burst phase's
recovery time: pure functions over timestamped samples (wall-clock seconds since the epoch)."""
from __future__ import annotations

import bisect
import math
from typing import Any, Iterable

from results import percentile

# (when, seconds): a latency at a time; seconds None = never measured (not routed), which
# counts as unbounded, so a window with lost or late tickets cannot look healthy.
Sample = tuple[float, float | None]
MAX_SPAN_S = 900.0   # a series longer than this is cut (a phase is never that long)


def window_count(t0: float, end: float, width_s: float) -> int:
    return max(0, math.ceil(min(end - t0, MAX_SPAN_S) / width_s - 1e-9))


def rates(times: Iterable[float], t0: float, n: int, width_s: float = 1.0) -> list[float]:
    """Events per second in each of ``n`` windows of ``width_s`` from ``t0``."""
    counts = [0] * n
    for t in times:
        k = math.floor((t - t0) / width_s)
        if 0 <= k < n:
            counts[k] += 1
    return [round(c / width_s, 1) for c in counts]


def p_ms(values: list[float | None], q: float = 95) -> float | None:
    """The ``q``-th percentile in ms; None for no values or when it falls on an unmeasured one."""
    p = percentile([math.inf if v is None else v for v in values], q)
    return None if p is None or math.isinf(p) else round(p * 1000, 1)


def percentiles_ms(samples: Iterable[Sample], t0: float, n: int, width_s: float = 1.0,
                   q: float = 95) -> list[float | None]:
    """The ``q``-th percentile (ms) of the samples in each window, by the samples' time."""
    groups: list[list[float | None]] = [[] for _ in range(n)]
    for t, value in samples:
        k = math.floor((t - t0) / width_s)
        if 0 <= k < n:
            groups[k].append(value)
    return [p_ms(g, q) for g in groups]


def phase_series(t0: float, *, answers: list[tuple[float, float, int]] | None = None,
                 server: dict[int, tuple[float, float | None]] | None = None,
                 latency_ids: Iterable[int] | None = None, width_s: float = 1.0,
                 ) -> dict[str, Any]:
    """One phase's time series from ``t0``: client answers (wall time, latency s, status) give
    ``answered_per_s`` (2xx) and ``latency_p95_ms``; the server's (created_at, routed_at) per
    ticket give ``created_per_s`` and ``routed_per_s``; for ``latency_ids`` also
    ``created_to_routed_p95_ms`` by creation time. Series a phase cannot tell are None."""
    answers = answers or []
    server = server or {}
    routed = [r for _, r in server.values() if r is not None]
    ends = [t for t, _, _ in answers] + [c for c, _ in server.values()] + routed
    n = window_count(t0, max(ends, default=t0), width_s)
    out: dict[str, Any] = {"t0": round(t0, 3), "window_s": width_s,
                           "t_s": [round(k * width_s, 3) for k in range(n)]}
    ok = [t for t, _, status in answers if 200 <= status < 300]
    out["answered_per_s"] = rates(ok, t0, n, width_s) if answers else None
    out["latency_p95_ms"] = (percentiles_ms(((t, lat) for t, lat, status in answers if status),
                                            t0, n, width_s) if answers else None)
    out["created_per_s"] = rates((c for c, _ in server.values()), t0, n, width_s) \
        if server else None
    out["routed_per_s"] = rates(routed, t0, n, width_s) if server else None
    if latency_ids is not None:
        samples = [(server[i][0], None if server[i][1] is None else server[i][1] - server[i][0])
                   for i in latency_ids if i in server]
        out["created_to_routed_p95_ms"] = percentiles_ms(samples, t0, n, width_s)
    return out


def recovery_s(samples: list[Sample], burst_end: float, *, threshold_s: float = 0.2,
               window_s: float = 1.0, step_s: float = 0.5, hold_s: float = 5.0,
               stream_end: float | None = None) -> float | None:
    """Seconds from ``burst_end`` until the p95 latency of the samples, over windows of
    ``window_s`` sliding by ``step_s`` (by the samples' time), is at most ``threshold_s`` in
    every window for ``hold_s`` seconds: the start of the first such run of windows. Only whole
    windows before ``stream_end`` (default: the last sample) count, and an empty window is not
    healthy. None when that never happens (or there are no samples)."""
    if not samples:
        return None
    ordered = sorted(samples, key=lambda s: s[0])
    times = [t for t, _ in ordered]
    end = stream_end if stream_end is not None else times[-1]
    n = math.floor((end - burst_end - window_s) / step_s + 1e-9) + 1
    if n <= 0:
        return None
    healthy = []
    for k in range(n):
        lo = burst_end + k * step_s
        window = ordered[bisect.bisect_left(times, lo):bisect.bisect_left(times, lo + window_s)]
        p95 = percentile([math.inf if v is None else v for _, v in window], 95)
        healthy.append(p95 is not None and p95 <= threshold_s)
    needed = max(1, round((hold_s - window_s) / step_s) + 1)
    run = 0
    for k, ok in enumerate(healthy):
        run = run + 1 if ok else 0
        if run == needed:
            return round((k - needed + 1) * step_s, 2)
    return None
