"""The suite at a glance: the gateway's health per service and every queue's depth and DLQ depth."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import pika
import requests

from support_shared.messaging.management import Management, error_reason
from support_shared.messaging.topology import Topology

from support_shared.messaging.dlq import DLQ_SUFFIX, original_queue_of, queue_depths

_NOT_CHECKS = frozenset({"status", "service", "services", "checks"})


@dataclass(frozen=True)
class GatewayHealth:
    url: str
    status: str                                  # healthy | unhealthy | unreachable | invalid
    http_status: int | None = None
    checks: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def reachable(self) -> bool:
        return self.status != "unreachable"

    @property
    def healthy(self) -> bool:
        return self.status == "healthy"


def _state(value: Any) -> str:
    """One service's entry in the health body, whatever its shape, as a short word."""
    if isinstance(value, bool):
        return "ok" if value else "down"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        inner = value.get("status") or value.get("state")
        if inner is None:
            return "unknown"
        checks = value.get("checks")
        failing = [f"{k}: {v}" for k, v in checks.items() if v != "ok"] \
            if isinstance(checks, Mapping) else []
        return f"{inner} ({', '.join(failing)})" if failing else str(inner)
    return "unknown"


def summarize_health(url: str, http_status: int, body: Any) -> GatewayHealth:
    """Read ``{"status", "postgresql": "ok", "rabbitmq": "ok", "services": {...}}`` tolerantly:
    each service may be a word or a nested health body with its own ``status``."""
    if not isinstance(body, Mapping):
        return GatewayHealth(url, "invalid", http_status, error="health body is not a JSON object")
    checks = {k: v for k, v in body.items() if k not in _NOT_CHECKS and isinstance(v, str)}
    for section in ("checks", "services"):
        entries = body.get(section) or {}
        if isinstance(entries, list):
            entries = {str(name): "listed" for name in entries}
        if isinstance(entries, Mapping):
            checks.update({str(k): _state(v) for k, v in entries.items()})
    default = "healthy" if http_status == 200 else "unhealthy"
    return GatewayHealth(url, str(body.get("status") or default), http_status, checks)


def fetch_gateway_health(gateway_url: str, timeout_s: float = 5.0) -> GatewayHealth:
    """GET ``/api/health`` (a 503 with a body is an answer, not a failure)."""
    url = gateway_url.rstrip("/") + "/api/health"
    try:
        resp = requests.get(url, timeout=(min(3.05, timeout_s), timeout_s))
    except requests.RequestException as exc:
        return GatewayHealth(url, "unreachable", error=error_reason(exc))
    try:
        body = resp.json()
    except ValueError:
        return GatewayHealth(url, "invalid", resp.status_code,
                             error=f"HTTP {resp.status_code} without a JSON body")
    return summarize_health(url, resp.status_code, body)


@dataclass(frozen=True)
class QueueRow:
    name: str
    messages: int | None
    consumers: int | None
    dlq: str | None = None
    dlq_messages: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {"queue": self.name, "messages": self.messages, "consumers": self.consumers,
                "dlq": self.dlq, "dlq_messages": self.dlq_messages}


def queue_overview(connection: pika.BlockingConnection, management: Management,
                   topology: Topology, queue_prefix: str = "") -> list[QueueRow]:
    """Each queue the exchange routes to or the DLX serves (names from the management API),
    with exact depth, consumers and DLQ depth; the unroutable queue last."""
    bound = management.queues_bound_to(topology.exchange)
    dead = management.queues_bound_to(topology.dead_letter_exchange)
    mains = {q for q in bound if not q.endswith(DLQ_SUFFIX)}
    mains |= {orig for q in dead if (orig := original_queue_of(q))}
    mains = {q for q in mains if q.startswith(queue_prefix) and q != topology.unroutable_queue}
    names = sorted(mains)
    depths = queue_depths(
        connection, names + [q + DLQ_SUFFIX for q in names] + [topology.unroutable_queue]
    )
    rows = []
    for name in names:
        main, dlq = depths.get(name), depths.get(name + DLQ_SUFFIX)
        rows.append(QueueRow(
            name, main.messages if main else None, main.consumers if main else None,
            dlq.name if dlq else None, dlq.messages if dlq else None,
        ))
    if (unroutable := depths.get(topology.unroutable_queue)) is not None:
        rows.append(QueueRow(unroutable.name, unroutable.messages, unroutable.consumers))
    return rows
