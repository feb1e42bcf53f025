"""Inbound webhooks: verified and stored by the web process (answered 202 at once), then
mapped and upserted by the worker like an item of a batch."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Callable

from .crypto import SecretBox
from .mapping import MappingError, map_record
from .persistence import IntegrationUnitOfWork
from .signing import SignatureError, verify
from .tickets import TicketBatch, TicketServiceError

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 10


class InboundRefusedError(Exception):
    """Unknown source, no secret configured, or a bad/old signature: 401, nothing stored."""


def accept(tenant_id: str, source: str, raw: bytes, signature: str, body: Any, *,
           uow: IntegrationUnitOfWork, box: SecretBox, tolerance_s: int,
           valid_json: bool = True) -> str:
    """Verify the signature with the source's secret, then store the body (a JSON object,
    else ``ValueError``); its id. The signature is checked first: a bad one is a 401."""
    with uow:
        row = uow.sources.get(tenant_id, source)
        secret = (box.open(row.secrets) or {}).get("webhook_secret") if row else None
        if not secret:
            raise InboundRefusedError("unknown source or no webhook secret")
        try:
            verify(secret, signature, raw, tolerance_s=tolerance_s)
        except SignatureError as exc:
            raise InboundRefusedError(str(exc)) from exc
        if not valid_json or not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        event_id = uow.inbound.add(tenant_id, source, body)
        uow.commit()
    return str(event_id)


def process_due(*, uow: Callable[[], IntegrationUnitOfWork], batch: TicketBatch,
                clock: Callable[[], datetime], limit: int = 100) -> int:
    """Upsert pending inbound events (one batch per tenant and source); how many were taken."""
    with uow() as work:
        rows = work.inbound.claim_due(clock(), limit, lease_s=60)
        configs = {(r.tenant_id, r.source): work.sources.get(r.tenant_id, r.source) for r in rows}
        work.commit()
    groups: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        groups.setdefault((row.tenant_id, row.source), []).append(row)
    for key, members in groups.items():
        _upsert_group(key, members, configs[key], uow=uow, batch=batch, clock=clock)
    return len(rows)


def _upsert_group(key: tuple[str, str], rows: list[Any], source: Any, *,
                  uow: Callable[[], IntegrationUnitOfWork], batch: TicketBatch,
                  clock: Callable[[], datetime]) -> None:
    results: dict[Any, dict[str, Any]] = {}
    items, owners = [], []
    for row in rows:
        if source is None:
            results[row.id] = {"status": "error", "error": "the source was deleted"}
            continue
        try:
            items.append(map_record(row.body, source=source.name, kind=source.kind,
                                    config=source.config))
            owners.append(row.id)
        except MappingError as exc:
            results[row.id] = {"status": "error", "error": str(exc)}
    retry = False
    try:
        answer = batch.upsert(key[0], items) if items else None
        for owner, outcome in zip(owners, answer.results if answer else []):
            results[owner] = outcome
    except TicketServiceError as exc:
        logger.warning("inbound upsert for %s/%s failed: %s", key[0], key[1], exc)
        retry = True
    with uow() as work:
        for row in rows:
            if row.id in results:
                work.inbound.finish(row.id, status="done", result=results[row.id])
            elif retry and row.attempts < MAX_ATTEMPTS:
                work.inbound.finish(row.id, next_attempt_at=clock() + timedelta(
                    seconds=min(300, 2 ** row.attempts)))
            else:
                work.inbound.finish(row.id, status="failed",
                                    result={"error": "ticket-service unavailable"})
        work.commit()
