"""Queue depths of the pipeline sampled once a second during a phase (AMQP passive declares:
exact counts, unlike the management API's 5-second statistics), to see which stage lags."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pika
from pika.exceptions import AMQPError

from support_shared.manifest import SUITE

logger = logging.getLogger(__name__)


class QueueSampler:
    """Samples every pipeline queue's ready count in a background thread until ``stop()``."""

    def __init__(self, rabbitmq_url: str, prefix: str, interval_s: float = 1.0) -> None:
        self.url = rabbitmq_url
        self.names = SUITE.queues(prefix)
        self.prefix = prefix
        self.interval_s = interval_s
        self.samples: list[tuple[float, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="queue-sampler", daemon=True)

    def start(self) -> "QueueSampler":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            connection = pika.BlockingConnection(pika.URLParameters(self.url))
        except AMQPError as exc:
            logger.warning("no queue depths: %r", exc)
            return
        try:
            channel = connection.channel()
            started = time.monotonic()
            while not self._stop.is_set():
                depths = {}
                for name in self.names:
                    ok = channel.queue_declare(name, passive=True)
                    depths[name[len(self.prefix):]] = ok.method.message_count
                self.samples.append((round(time.monotonic() - started, 1), depths))
                self._stop.wait(self.interval_s)
        except AMQPError as exc:
            logger.warning("queue sampling stopped: %r", exc)
        finally:
            if connection.is_open:
                connection.close()

    def stop(self) -> dict[str, Any]:
        """Per queue: the largest backlog, when it peaked and when it was last non-empty."""
        self._stop.set()
        self._thread.join(timeout=10)
        out: dict[str, Any] = {}
        for name in (n[len(self.prefix):] for n in self.names):
            series = [(t, d.get(name, 0)) for t, d in self.samples]
            if not series:
                continue
            peak_t, peak = max(series, key=lambda s: s[1])
            busy = [t for t, depth in series if depth > 0]
            out[name] = {"max_ready": peak, "peak_at_s": peak_t,
                         "last_nonempty_at_s": busy[-1] if busy else None}
        return out
