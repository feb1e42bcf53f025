"""What one load run measured, whichever generator ran it, and the percentile arithmetic."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by the nearest-rank method; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize_ms(values_s: list[float], qs: tuple[float, ...] = (50, 90, 95, 99)) -> dict[str, Any]:
    """Percentiles (and mean/max) of durations in seconds, as milliseconds."""
    out: dict[str, Any] = {f"p{q:g}": _ms(percentile(values_s, q)) for q in qs}
    out["mean"] = _ms(sum(values_s) / len(values_s)) if values_s else None
    out["max"] = _ms(max(values_s)) if values_s else None
    out["count"] = len(values_s)
    return out


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


@dataclass
class LoadResult:
    """One closed- or open-loop run against one endpoint."""

    generator: str
    duration_s: float
    statuses: Counter = field(default_factory=Counter)
    socket_errors: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, Any] = field(default_factory=dict)
    created_ids: list[int] = field(default_factory=list)
    generator_cpu_s: float = 0.0
    # (wall time, latency s, status) of each answer, when the generator tells them (not wrk)
    answers: list[tuple[float, float, int]] = field(default_factory=list, repr=False)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= int(status) < 300)

    @property
    def non_2xx(self) -> int:
        return self.requests - self.ok

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())

    def as_dict(self) -> dict[str, Any]:
        rps = self.requests / self.duration_s if self.duration_s else 0.0
        return {
            "generator": self.generator,
            "duration_s": round(self.duration_s, 2),
            "requests": self.requests,
            "requests_per_s": round(rps, 1),
            "ok_per_s": round(self.ok / self.duration_s, 1) if self.duration_s else 0.0,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "non_2xx": self.non_2xx,
            "errors": self.errors,   # non-2xx answers + socket errors
            "socket_errors": self.socket_errors,
            "socket_error_total": sum(self.socket_errors.values()),
            "latency_ms": self.latency_ms,
            "created": len(self.created_ids),
            "generator_cpu_s": round(self.generator_cpu_s, 2),
            "generator_cpu_share": round(self.generator_cpu_s / self.duration_s, 3)
            if self.duration_s else None,
            "generator_cpu_ms_per_request": round(1000 * self.generator_cpu_s / self.requests, 3)
            if self.requests else None,
        }
