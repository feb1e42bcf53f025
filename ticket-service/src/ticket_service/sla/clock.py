"""The clock process (``ticket-service clock``): fires ``sla.warning`` and ``sla.breached``.

It holds nothing of its own: the timers are rows written with each ticket change. Each tick
claims the timers due by now (``FOR UPDATE SKIP LOCKED``, so several clocks share the work),
marks what they fire and writes the events to the outbox in one transaction; the relay
publishes them. A crash before the commit leaves the timers due (the next tick fires them),
one after it leaves them marked (nothing fires twice). Between ticks it sleeps until the
earliest due moment, at most ``poll_seconds`` (timers created meanwhile are seen then).
"""
from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from typing import Any, Callable

from sqlalchemy.exc import InterfaceError, OperationalError
from support_shared.events import utcnow

from ..tickets.persistence import TicketUnitOfWork
from .handlers import fire_due

logger = logging.getLogger(__name__)

DB_ERRORS = (OperationalError, InterfaceError)


class SlaClock:
    def __init__(self, uow: Callable[[], TicketUnitOfWork], *, poll_seconds: float = 1.0,
                 batch_size: int = 200, now: Callable[[], datetime] = utcnow) -> None:
        self.uow = uow
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.now = now
        self.stopping = threading.Event()

    def tick(self) -> int:
        """Fire everything due by now, a batch per transaction; how many events were written."""
        fired = 0
        while True:
            events = fire_due(self.now(), self.batch_size, uow=self.uow())
            fired += len(events)
            if len(events) < self.batch_size:
                return fired

    def _sleep_s(self) -> float:
        with self.uow() as uow:
            upcoming = uow.sla.next_fire_at()
        if upcoming is None:
            return self.poll_seconds
        return max(0.0, min(self.poll_seconds, (upcoming - self.now()).total_seconds()))

    def run(self) -> None:
        logger.info("SLA clock started (poll %.1f s)", self.poll_seconds)
        while not self.stopping.is_set():
            try:
                self.tick()
                pause = self._sleep_s()
            except DB_ERRORS:
                logger.exception("SLA clock: database unavailable; retrying")
                pause = self.poll_seconds
            self.stopping.wait(pause)
        logger.info("SLA clock stopped")

    def stop(self, *_args: Any) -> None:
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
