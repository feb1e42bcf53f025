"""Depths of the suite's queues and dead-letter queues, read from the RabbitMQ management API."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests
from support_shared.config import ServiceSettings
from support_shared.events import EventType, utcnow
from support_shared.messaging.topology import Topology

logger = logging.getLogger(__name__)

# Who consumes what (docs/architecture.md, "Queues"); services never import each other, so the
# table is written out here. Queue names follow ServiceSettings.queue: <prefix><service>.<key>.
SUBSCRIPTIONS: tuple[tuple[str, str], ...] = (
    ("ai-categorization-service", EventType.TICKET_CREATED.value),
    ("ai-categorization-service", EventType.TICKET_ROUTED.value),   # agents' corrections
    ("routing-service", EventType.TICKET_CREATED.value),
    ("routing-service", EventType.TICKET_CATEGORIZED.value),
    ("ticket-service", EventType.TICKET_ROUTED.value),
    *(("analytics-service", event_type.value) for event_type in EventType),
)
COLUMNS = "name,messages,messages_ready,messages_unacknowledged,consumers"


@dataclass(frozen=True)
class WatchedQueue:
    service: str
    routing_key: str
    name: str

    @property
    def dlq(self) -> str:
        return Topology.dead_letter_queue(self.name)


def suite_queues(settings: ServiceSettings) -> list[WatchedQueue]:
    """Every consumer queue of the suite under ``settings``' queue prefix."""
    return [WatchedQueue(service, key, settings.queue(service, key)) for service, key in SUBSCRIPTIONS]


def vhost_of(amqp_url: str) -> str:
    """The virtual host an AMQP URL names (``/`` when the path is empty)."""
    path = urlsplit(amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


class ManagementUnavailable(Exception):
    """The management API could not give a usable queue list."""


class QueueDepths:
    """Reads the watched queues' depths in one management call, cached for ``cache_s`` seconds.

    Failures are cached too, so an unreachable broker costs one timeout per period, not one per
    dashboard poll.
    """

    def __init__(self, management_url: str, vhost: str, queues: list[WatchedQueue],
                 unroutable_queue: str, *, timeout_s: float = 2.0, cache_s: float = 3.0,
                 clock: Callable[[], float] = time.monotonic,
                 session: requests.Session | None = None) -> None:
        parts = urlsplit(management_url)
        self._auth = (
            (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
        )
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port is not None else host
        self._where = netloc  # for messages: never the credentials
        self._base = urlunsplit(parts._replace(netloc=netloc)).rstrip("/")
        self._vhost = vhost
        self._queues = queues
        self._unroutable = unroutable_queue
        self._timeout = (min(1.0, timeout_s), timeout_s)
        self._cache_s = cache_s
        self._clock = clock
        self._session = session or _session()
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

    def close(self) -> None:
        self._session.close()

    def _read(self) -> dict[str, Any]:
        checked_at = utcnow().isoformat()
        try:
            rows = self._list_queues()
        except ManagementUnavailable as exc:
            logger.warning("queue depths unavailable: %s", exc)
            return {"available": False, "reason": str(exc), "checked_at": checked_at}
        by_name = {row["name"]: row for row in rows if isinstance(row, dict) and "name" in row}
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

    def _list_queues(self) -> list[Any]:
        url = f"{self._base}/api/queues/{quote(self._vhost, safe='')}"
        try:
            resp = self._session.get(url, params={"columns": COLUMNS}, auth=self._auth,
                                     timeout=self._timeout)
        except requests.RequestException as exc:
            raise ManagementUnavailable(
                f"RabbitMQ management API at {self._where} unreachable ({type(exc).__name__})"
            ) from exc
        if resp.status_code != 200:
            raise ManagementUnavailable(
                f"RabbitMQ management API at {self._where} answered HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError as exc:
            raise ManagementUnavailable(
                f"RabbitMQ management API at {self._where} did not answer JSON") from exc
        if not isinstance(body, list):
            raise ManagementUnavailable(
                f"RabbitMQ management API at {self._where} did not answer a queue list")
        return body


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy or .netrc between the service and its broker
    return session


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
