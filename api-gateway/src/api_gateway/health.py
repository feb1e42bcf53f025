"""The suite's health: every service's /health, probed concurrently, plus the broker itself."""
from __future__ import annotations

import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from urllib3.exceptions import HTTPError

from support_shared.messaging.connection import broker_reachable
from support_shared.schemas import Health
from support_shared.web import CachedCheck

from .clients import ServiceClient

logger = logging.getLogger(__name__)

# The name under which a service's /health (support_shared.web.register_health) reports PostgreSQL.
DATABASE_CHECK = "database"


def _service_status(client: ServiceClient, timeout_s: float,
                    headers: dict[str, str]) -> dict[str, Any]:
    try:
        resp = client.probe("/health", timeout_s, headers)
    except HTTPError as exc:
        logger.warning("health: %s unreachable: %r", client.name, exc)
        return {"status": "unreachable", "checks": {}}
    try:
        body = resp.json()
    except ValueError:
        body = None
    checks = body.get("checks") if isinstance(body, dict) else None
    checks = checks if isinstance(checks, dict) else {}
    healthy = resp.status_code == 200 and isinstance(body, dict) and body.get("status") == "healthy"
    return {"status": "healthy" if healthy else "unhealthy", "checks": checks}


def database_state(services: dict[str, dict[str, Any]]) -> str:
    """``down`` if a reachable service says its database is down, or if none is reachable."""
    reachable = [s for s in services.values() if s["status"] != "unreachable"]
    if not reachable:
        return "down"
    if any(svc["checks"].get(DATABASE_CHECK, "ok") != "ok" for svc in reachable):
        return "down"
    return "ok"


class HealthChecker:
    def __init__(self, clients: dict[str, ServiceClient], rabbitmq_url: str, *,
                 timeout_s: float = 2.0, broker_ttl_s: float = 2.0) -> None:
        self.clients = clients
        self.timeout_s = timeout_s
        self.broker = CachedCheck(lambda: broker_reachable(rabbitmq_url, timeout_s),
                                  ttl_s=broker_ttl_s)
        self._pool = ThreadPoolExecutor(max_workers=len(clients) + 1,
                                        thread_name_prefix="gateway-health")

    def check(self, headers: dict[str, str]) -> tuple[Health, int]:
        """The aggregate health and its HTTP status: 200 only when everything is ok.

        ``headers`` (request id, tenant) go with every probe, so service logs can be joined.
        """
        # Each probe runs in a copy of this request's context, so its logs keep the request id.
        broker = self._pool.submit(contextvars.copy_context().run, self.broker)
        futures = {name: self._pool.submit(contextvars.copy_context().run, _service_status,
                                           client, self.timeout_s, headers)
                   for name, client in self.clients.items()}
        services = {name: f.result() for name, f in futures.items()}
        rabbitmq = "ok" if broker.result() else "down"
        postgresql = database_state(services)
        healthy = (rabbitmq == "ok" and postgresql == "ok"
                   and all(s["status"] == "healthy" for s in services.values()))
        health = Health(status="healthy" if healthy else "unhealthy", services=services,
                        postgresql=postgresql, rabbitmq=rabbitmq)
        return health, 200 if healthy else 503

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
