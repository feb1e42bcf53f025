"""Sampling a pipeline's progress in the background: how long it stood still after a fault,
and how fast it moved in a time window.

    with ProgressSampler(lambda: routed_count()) as progress:
        ... run the load, note ``fault_at = time.monotonic()`` ...
    progress.stall_after(fault_at)    # seconds until the count moved again, at the longest
    progress.rate(t0, t1)             # increase per second between t0 and t1
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from sqlalchemy.exc import SQLAlchemyError

logger = logging.getLogger(__name__)


class ProgressSampler:
    """Calls ``count()`` every ``interval`` seconds on a thread and keeps ``(time, count)``.

    A sample that fails (the database of the count is failing over) is skipped: the gap then
    shows as a stall, which is what it is."""

    def __init__(self, count: Callable[[], int], interval: float = 0.25) -> None:
        self.count = count
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), self.count()))
            except SQLAlchemyError as exc:
                logger.info("progress sample failed: %s", exc)
            self._stop.wait(self.interval)

    def __enter__(self) -> "ProgressSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def stall_after(self, since: float, until: float | None = None) -> float:
        """The longest time in ``[since, until]`` in which the count did not grow: from
        ``since`` (or the last growth) to the next growth."""
        window = [(t, n) for t, n in self.samples if t >= since and (until is None or t <= until)]
        before = [n for t, n in self.samples if t < since]
        last_t, last_n = since, (before[-1] if before else (window[0][1] if window else 0))
        longest = 0.0
        for t, n in window:
            if n > last_n:
                longest = max(longest, t - last_t)
                last_t, last_n = t, n
        if window:  # still standing at the end of the window
            longest = max(longest, window[-1][0] - last_t)
        return round(longest, 1)

    def rate(self, start: float, end: float) -> float:
        """Growth per second between the samples nearest ``start`` and ``end``."""
        window = [(t, n) for t, n in self.samples if start <= t <= end]
        if len(window) < 2 or window[-1][0] <= window[0][0]:
            return 0.0
        (t0, n0), (t1, n1) = window[0], window[-1]
        return round((n1 - n0) / (t1 - t0), 1)
