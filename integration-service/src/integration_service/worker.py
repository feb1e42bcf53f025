"""The worker process (``integration-service worker``): runs ingestion jobs, sends webhook
deliveries, upserts inbound webhooks and starts scheduled syncs, each in its own loop so a
long job never delays a delivery, and a slow receiver never delays anything but itself.

Work is claimed from PostgreSQL (``FOR UPDATE SKIP LOCKED``), so any number of workers can
run side by side.
"""
from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from datetime import datetime
from typing import Any, Callable

from sqlalchemy.engine import Engine
from support_shared.events import utcnow

from . import inbound
from .config import Settings
from .crypto import SecretBox
from .deliveries import DeliverySender
from .ingestion import JobRunner, JobRunningError, SourceNotFoundError, start_job
from .persistence import unit_of_work
from .retry import RetryPolicy
from .targets import TargetPolicy
from .tickets import HttpTicketBatch, TicketBatch

logger = logging.getLogger(__name__)


def delivery_schedule(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.delivery_max_attempts, settings.delivery_backoff_s,
                       settings.delivery_backoff_cap_s)


def fetch_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.fetch_max_attempts, settings.fetch_backoff_s,
                       settings.fetch_backoff_cap_s)


class Worker:
    def __init__(self, settings: Settings, engine: Engine, *, batch: TicketBatch | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.uow = functools.partial(unit_of_work, engine)
        self.clock = clock
        timeout = (settings.http_connect_timeout_s, settings.http_read_timeout_s)
        box = SecretBox(settings.credentials_key)
        targets = TargetPolicy(settings.allow_private_targets)
        self.batch = batch or HttpTicketBatch(settings.ticket_service_url,
                                              settings.internal_token, timeout=timeout,
                                              policy=fetch_policy(settings), sleep=sleep)
        self.jobs = JobRunner(self.uow, self.batch, box, targets, fetch_policy(settings),
                              timeout, settings.job_lock_seconds, clock, sleep)
        self.sender = DeliverySender(
            self.uow, box, targets, timeout=timeout, schedule=delivery_schedule(settings),
            lease_s=settings.delivery_lease_s, disable_after_s=settings.disable_after_s,
            concurrency=settings.worker_concurrency, clock=clock)

    def start_scheduled(self) -> int:
        """Queue a job for every scheduled source that is due (skipped while one runs)."""
        with self.uow() as uow:
            due = uow.sources.claim_due(self.clock(), 100)
            uow.commit()
        for tenant_id, name in due:
            try:
                start_job(tenant_id, name, uow=self.uow(), now=self.clock(),
                          lock_s=self.settings.job_lock_seconds, trigger="schedule")
            except (JobRunningError, SourceNotFoundError) as exc:
                logger.info("scheduled sync of %s/%s skipped: %r", tenant_id, name, exc)
        return len(due)

    def housekeeping(self) -> int:
        return self.start_scheduled() + inbound.process_due(uow=self.uow, batch=self.batch,
                                                            clock=self.clock)

    def _loop(self, name: str, step: Callable[[], Any]) -> None:
        while not self.stop.is_set():
            try:
                busy = step()
            except Exception:  # the loop's outer boundary: log the traceback, keep serving
                logger.exception("worker loop %s failed; retrying", name)
                busy = False
            if not busy:
                self.stop.wait(self.settings.worker_poll_seconds)

    def run(self) -> None:
        loops = {"jobs": self.jobs.run_next, "deliveries": self.sender.run_once,
                 "housekeeping": self.housekeeping}
        threads = [threading.Thread(target=self._loop, args=item, name=item[0], daemon=True)
                   for item in loops.items()]
        for thread in threads:
            thread.start()
        logger.info("worker started: %s", ", ".join(loops))
        while any(t.is_alive() for t in threads) and not self.stop.is_set():
            self.stop.wait(1.0)
        for thread in threads:
            thread.join(timeout=30)
        self.sender.close()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
