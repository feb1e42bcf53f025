"""The port to ticket-service's batch upsert (the only way this service writes tickets) and
its HTTP adapter: ``POST /api/tickets/batch`` with the internal credential and the tenant header,
items upserted on (tenant, source, external_id); see docs/integrations.md."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable

import requests
from support_shared.internal import TOKEN_HEADER
from support_shared.web import TENANT_HEADER

from .retry import RetryPolicy, call_with_retries

BATCH_PATH = "/api/tickets/batch"
MAX_BATCH = 1000


class TicketServiceError(RuntimeError):
    """ticket-service refused the batch as a whole or could not be reached."""


class BatchEndpointMissingError(TicketServiceError):
    """ticket-service has no batch endpoint (404): it predates the batch upsert."""


@dataclass
class BatchResult:
    results: list[dict[str, Any]]
    counts: dict[str, int] = field(default_factory=dict)


class TicketBatch(ABC):
    @abstractmethod
    def upsert(self, tenant_id: str, items: list[dict[str, Any]]) -> BatchResult:
        """Upsert up to 1000 items for ``tenant_id``: one result per item, in order."""


class HttpTicketBatch(TicketBatch):
    def __init__(self, base_url: str, token: str, *, timeout: tuple[float, float],
                 policy: RetryPolicy, sleep: Callable[[float], None] | None = None,
                 on_retry: Callable[[str], None] = lambda _m: None) -> None:
        self.url = base_url.rstrip("/") + BATCH_PATH
        self.session = requests.Session()
        self.session.trust_env = False
        if token:
            self.session.headers[TOKEN_HEADER] = token
        self.timeout = timeout
        self.policy = policy
        self.sleep = sleep
        self.on_retry = on_retry

    def upsert(self, tenant_id: str, items: list[dict[str, Any]]) -> BatchResult:
        if not items:
            return BatchResult([], {"created": 0, "updated": 0, "unchanged": 0, "failed": 0})

        def send() -> requests.Response:
            return self.session.post(self.url, json={"tickets": items}, timeout=self.timeout,
                                     headers={TENANT_HEADER: tenant_id})

        kwargs = {"sleep": self.sleep} if self.sleep else {}
        try:
            response = call_with_retries(send, self.policy, on_retry=self.on_retry, **kwargs)
        except RuntimeError as exc:
            raise TicketServiceError(f"ticket-service batch upsert failed: {exc}") from exc
        if response.status_code == 404:
            raise BatchEndpointMissingError("ticket-service has no POST /api/tickets/batch")
        if response.status_code != 200:
            raise TicketServiceError(f"ticket-service refused the batch: HTTP "
                                     f"{response.status_code} {response.text[:300]}")
        try:
            body = response.json()
            return BatchResult(list(body["results"]), dict(body.get("counts") or {}))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise TicketServiceError("ticket-service answered a batch result it does not "
                                     "document") from exc
