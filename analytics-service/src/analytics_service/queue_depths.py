"""Depths of the suite's queues and dead-letter queues, for the dashboard's queue panel and
as Prometheus gauges."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from support_shared.events import utcnow
from support_shared.manifest import SUITE, dead_letter_queue, queue_name
from support_shared.messaging.dead_letters import Unavailable
from support_shared.messaging.management import Management
from support_shared.metrics import GaugeMetricFamily, Metric

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchedQueue:
    service: str
    routing_key: str
    name: str

    @property
    def dlq(self) -> str:
        return dead_letter_queue(self.name)


def suite_queues(queue_prefix: str) -> list[WatchedQueue]:
    """Every subscription's queue in the suite manifest, named under ``queue_prefix``."""
    return [WatchedQueue(service, c.routing_key, queue_name(queue_prefix, service, c.routing_key))
            for service, c in SUITE.subscriptions()]


class QueueDepths:
    """Reads the watched queues' depths in one management call, cached for ``cache_s`` seconds.

    Failures are cached too, so an unreachable broker costs one timeout per period, not one per
    dashboard poll.
    """

    def __init__(self, management: Management, queues: list[WatchedQueue],
                 unroutable_queue: str, *, cache_s: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._management = management
        self._queues = queues
        self._unroutable = unroutable_queue
        self._cache_s = cache_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: dict[str, Any] | None = None
        self._cached_at = 0.0

    def snapshot(self) -> dict[str, Any]:
        """The depths as the dashboard shows them, or ``{"available": false, ...}``."""
        with self._lock:  # one caller refreshes, the others wait and reuse its answer
            now = self._clock()
            if self._cached is None or now - self._cached_at >= self._cache_s:
                self._cached = self._read()
                self._cached_at = now
            return self._cached

    def _read(self) -> dict[str, Any]:
        checked_at = utcnow().isoformat()
        try:
            rows = self._management.queues()
        except Unavailable as exc:
            logger.warning("queue depths unavailable: %s", exc)
            return {"available": False, "reason": str(exc), "checked_at": checked_at}
        by_name = {row["name"]: row for row in rows if "name" in row}
        queues = [_queue_entry(q, by_name) for q in self._queues]
        unroutable = by_name.get(self._unroutable, {})
        return {
            "available": True,
            "checked_at": checked_at,
            "queues": queues,
            "totals": {
                "messages": sum(q["messages"] or 0 for q in queues),
                "dead_letters": sum(q["dead_letters"] or 0 for q in queues),
            },
            "unroutable": {"name": self._unroutable, "messages": _count(unroutable, "messages")},
        }


def _count(row: dict[str, Any], field: str) -> int | None:
    """A counter of a queue row; ``None`` until the broker has published stats for the queue."""
    value = row.get(field)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _queue_entry(queue: WatchedQueue, by_name: dict[str, dict[str, Any]]) -> dict[str, Any]:
    row = by_name.get(queue.name)
    dlq = by_name.get(queue.dlq, {})
    row_or_empty = row or {}
    return {
        "name": queue.name,
        "service": queue.service,
        "routing_key": queue.routing_key,
        "exists": row is not None,
        "messages": _count(row_or_empty, "messages"),
        "messages_ready": _count(row_or_empty, "messages_ready"),
        "messages_unacknowledged": _count(row_or_empty, "messages_unacknowledged"),
        "consumers": _count(row_or_empty, "consumers"),
        "dlq": queue.dlq,
        "dead_letters": _count(dlq, "messages"),
    }


class QueueCollector:
    """The queue depths as Prometheus gauges on analytics' ``/metrics`` (one management call per
    ``cache_s``, shared with the dashboard): work-queue messages and consumers, dead letters, the
    unroutable queue, and whether the management API answered (``queue_depths_available``)."""

    def __init__(self, depths: QueueDepths) -> None:
        self.depths = depths

    def collect(self) -> Iterator[Metric]:
        snapshot = self.depths.snapshot()
        yield GaugeMetricFamily("queue_depths_available",
                                "1 when the RabbitMQ management API answered the last read.",
                                value=1 if snapshot["available"] else 0)
        if not snapshot["available"]:
            return
        labels = ["queue", "service"]
        families = {
            "messages": GaugeMetricFamily("queue_messages",
                                          "Messages in a suite queue (ready + unacked).", labels=labels),
            "consumers": GaugeMetricFamily("queue_consumers",
                                           "Consumers attached to a suite queue.", labels=labels),
            "dead_letters": GaugeMetricFamily("queue_dead_letters",
                                              "Messages in a suite queue's DLQ.", labels=labels),
        }
        for queue in snapshot["queues"]:
            for field, family in families.items():
                if queue[field] is not None:
                    family.add_metric([queue["name"], queue["service"]], queue[field])
        yield from families.values()
        unroutable = snapshot["unroutable"]["messages"]
        if unroutable is not None:
            yield GaugeMetricFamily("queue_unroutable_messages",
                                    "Messages no queue was bound for (tickets.unroutable).",
                                    value=unroutable)
