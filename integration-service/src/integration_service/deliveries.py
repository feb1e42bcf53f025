"""Sending webhook deliveries: signed JSON POSTs with a timeout, never following redirects,
each failure rescheduled with exponential backoff (the same delivery id every time)."""
from __future__ import annotations

import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

import requests
from sqlalchemy.engine import Row

from . import signing
from .crypto import SecretBox, SecretsUnavailableError
from .persistence import IntegrationUnitOfWork
from .retry import RetryPolicy
from .targets import TargetPolicy, TargetRefusedError

logger = logging.getLogger(__name__)
USER_AGENT = "TicketTriage-Webhooks/1"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


class DeliverySender:
    """Sends claimed deliveries, ``concurrency`` at a time, and records each outcome."""

    def __init__(self, uow: Callable[[], IntegrationUnitOfWork], box: SecretBox,
                 targets: TargetPolicy, *, timeout: tuple[float, float], schedule: RetryPolicy,
                 lease_s: float, disable_after_s: float, concurrency: int,
                 clock: Callable[[], datetime]) -> None:
        self.uow = uow
        self.box = box
        self.targets = targets
        self.timeout = timeout
        self.schedule = schedule
        self.lease_s = lease_s
        self.disable_after_s = disable_after_s
        self.clock = clock
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=concurrency))
        self.session.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=concurrency))
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="delivery")
        self.concurrency = concurrency

    def run_once(self) -> int:
        """Claim due deliveries, send them concurrently, record the outcomes; how many."""
        with self.uow() as uow:
            claimed = uow.deliveries.claim_due(self.clock(), self.concurrency * 4, self.lease_s)
            subs = {row.subscription_id: uow.subscriptions.by_id(row.subscription_id)
                    for row in claimed}
            uow.commit()
        list(self.pool.map(lambda row: self._deliver(row, subs[row.subscription_id]), claimed))
        return len(claimed)

    def _deliver(self, row: Row, sub: Row) -> None:
        outcome = self.send(sub.url, self._secret(sub), row.payload, row.id, row.event_type)
        self.record(row, outcome)

    def _secret(self, sub: Row) -> str:
        try:
            return str(self.box.open(sub.secret))
        except SecretsUnavailableError:
            logger.exception("cannot decrypt the secret of subscription %s", sub.id)
            return ""

    def send(self, url: str, secret: str, payload: dict[str, Any], delivery_id: uuid.UUID,
             event_type: str) -> Outcome:
        if not secret:
            return Outcome(False, None, "signing secret unavailable")
        body = encode(payload)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   signing.DELIVERY_HEADER: str(delivery_id), signing.EVENT_HEADER: event_type,
                   signing.SIGNATURE_HEADER: signing.sign(secret, body, int(time.time()))}
        try:
            self.targets.check(url)
            response = self.session.post(url, data=body, headers=headers, timeout=self.timeout,
                                         allow_redirects=False)
        except TargetRefusedError as exc:
            return Outcome(False, None, f"target refused: {exc}")
        except requests.Timeout:
            return Outcome(False, None, "timeout")
        except requests.RequestException as exc:
            return Outcome(False, None, f"network error: {exc.__class__.__name__}")
        if 200 <= response.status_code < 300:
            return Outcome(True, response.status_code, None)
        return Outcome(False, response.status_code, f"HTTP {response.status_code}")

    def record(self, row: Row, outcome: Outcome) -> None:
        now = self.clock()
        with self.uow() as uow:
            if outcome.ok:
                uow.deliveries.finish(row.id, status="succeeded", delivered_at=now,
                                      next_attempt_at=None, last_status_code=outcome.status_code,
                                      last_error=None)
                uow.subscriptions.record_success(row.subscription_id)
            else:
                final = row.attempts >= self.schedule.attempts
                wait = timedelta(seconds=self.schedule.backoff(row.attempts))
                uow.deliveries.finish(row.id, status="failed" if final else "pending",
                                      next_attempt_at=None if final else now + wait,
                                      last_status_code=outcome.status_code,
                                      last_error=outcome.error)
                if uow.subscriptions.record_failure(row.subscription_id, now,
                                                    self.disable_after_s, str(outcome.error)):
                    logger.warning("webhook subscription %s disabled", row.subscription_id)
            uow.commit()
        logger.info("delivery %s attempt %d: %s", row.id, row.attempts,
                    "ok" if outcome.ok else outcome.error)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.session.close()
