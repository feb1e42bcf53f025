"""The consumer loop: decode, call the handler, ack after it returns; dead-letter what can't be done.

Outcomes per message:
- handler returns: ack.
- ``InvalidEventError`` / ``PermanentError``: republished to the DLQ with the reason in headers
  (publisher-confirmed), then acked.
- a transient error (``TransientError``, database unreachable): retried in place with backoff
  for up to ``transient_budget_s`` (the broker is not asked to redeliver while PostgreSQL
  restarts), then nacked with requeue; the quorum queue's delivery limit dead-letters it at last.
- anything else: nacked with requeue, so the delivery limit bounds a buggy handler.
"""
from __future__ import annotations

import contextvars
import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError
from sqlalchemy.exc import InterfaceError, OperationalError

from ..config import CommonSettings
from ..events import Envelope, InvalidEventError, decode
from ..logging import correlation_id
from ..metrics import record_consumed
from .connection import connect_with_retry
from .topology import Topology

logger = logging.getLogger(__name__)

Handler = Callable[[Envelope], None]


def _log_fields(envelope: Envelope, queue: str, routing_key: str) -> dict[str, object]:
    """Structured log fields of one delivery (the correlation id comes from the context)."""
    return {"event_id": str(envelope.event_id), "event_type": envelope.event_type.value,
            "ticket_id": envelope.ticket_id, "routing_key": routing_key, "queue": queue}


class PermanentError(Exception):
    """Processing this message can never succeed; send it to the DLQ now."""


class TransientError(Exception):
    """Processing failed for a reason that may pass (a dependency is down); retry later."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (TransientError, OperationalError, InterfaceError)


@dataclass(frozen=True)
class Subscription:
    routing_key: str
    handler: Handler


class Consumer:
    def __init__(
        self,
        settings: CommonSettings,
        service: str,
        subscriptions: list[Subscription],
        *,
        transient_budget_s: float = 60.0,
        offload: bool = False,
    ) -> None:
        """``offload`` runs handlers in a worker thread while this thread keeps servicing the
        connection: for handlers that may outlast the heartbeat timeout (a Claude call).
        Messages are still handled one at a time, and acked on the I/O thread."""
        self.settings = settings
        self.service = service
        self.subscriptions = subscriptions
        self.topology = Topology.from_settings(settings)
        self.transient_budget_s = transient_budget_s
        self._worker = (ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{service}-work")
                        if offload else None)
        self._stopping = False
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._dlq_channel: BlockingChannel | None = None

    def queue_for(self, routing_key: str) -> str:
        return f"{self.settings.queue_prefix}{self.service}.{routing_key}"

    @property
    def queues(self) -> list[str]:
        return [self.queue_for(s.routing_key) for s in self.subscriptions]

    def declare(self, channel: BlockingChannel) -> None:
        self.topology.declare_exchanges(channel)
        for sub in self.subscriptions:
            self.topology.declare_queue(channel, self.queue_for(sub.routing_key), [sub.routing_key])

    def run(self) -> None:
        """Consume until ``stop()``; reconnect with backoff whenever the broker goes away."""
        while not self._stopping:
            try:
                self._consume()
            except AMQPError as exc:
                if self._stopping:
                    break
                logger.warning("broker connection lost (%r); reconnecting", exc)
                time.sleep(1.0)
            finally:
                self._close()
        if self._worker is not None:
            self._worker.shutdown(wait=True)

    def _consume(self) -> None:
        self._connection = connect_with_retry(
            self.settings.rabbitmq_url, f"{self.service}-consumer", self.settings.heartbeat_seconds
        )
        channel = self._connection.channel()
        self._channel = channel
        self.declare(channel)
        self._dlq_channel = self._connection.channel()
        self._dlq_channel.confirm_delivery()
        channel.basic_qos(prefetch_count=self.settings.prefetch_count)
        for sub in self.subscriptions:
            queue = self.queue_for(sub.routing_key)
            channel.basic_consume(queue, self._callback(queue, sub.handler))
        if self._stopping:  # stop() came before the channel existed: it scheduled nothing
            return
        logger.info("consuming %s", ", ".join(self.queues))
        channel.start_consuming()

    def _callback(self, queue: str, handler: Handler):
        def on_message(ch: BlockingChannel, method, props, body: bytes) -> None:
            self._handle(ch, method, props, body, queue, handler)

        return on_message

    def _handle(self, ch, method, props, body: bytes, queue: str, handler: Handler) -> None:
        tag = method.delivery_tag
        try:
            envelope = decode(body)
        except InvalidEventError as exc:
            logger.error("invalid message on %s: %s", queue, exc, extra={
                "queue": queue, "routing_key": method.routing_key, "event_id": props.message_id,
                "correlation_id": props.correlation_id})
            self._dead_letter(ch, method, props, body, queue, exc)
            record_consumed(method.routing_key, "dead_lettered")
            return
        token = correlation_id.set(envelope.correlation_id)
        fields = _log_fields(envelope, queue, method.routing_key)
        started, outcome = time.perf_counter(), "requeued"
        try:
            self._call(handler, envelope)
        except PermanentError as exc:
            logger.error("event %s (%s) failed permanently: %s", envelope.event_id,
                         envelope.event_type, exc, extra=fields)
            self._dead_letter(ch, method, props, body, queue, exc)
            outcome = "dead_lettered"
        except TRANSIENT_ERRORS as exc:
            logger.warning("event %s still failing after retries (%s); requeued",
                           envelope.event_id, exc, extra=fields)
            ch.basic_nack(tag, requeue=True)
        except AMQPError:
            # The connection died while the handler ran (its retry sleep or an off-thread wait
            # services the connection): not the handler's fault, and nothing can be nacked on
            # a dead channel. The broker requeues the unacked delivery; reconnect.
            raise
        except Exception:  # outer boundary: log the traceback, let the delivery limit decide
            logger.exception("handler crashed on event %s (%s) ticket %s; requeued",
                             envelope.event_id, envelope.event_type, envelope.ticket_id,
                             extra=fields)
            ch.basic_nack(tag, requeue=True)
        else:
            ch.basic_ack(tag)
            outcome = "ack"
            logger.info("event %s (%s) handled", envelope.event_id, envelope.event_type,
                        extra=fields)
        finally:
            record_consumed(envelope.event_type.value, outcome, time.perf_counter() - started)
            correlation_id.reset(token)

    def _run_handler(self, handler: Handler, envelope: Envelope) -> None:
        if self._worker is None:
            handler(envelope)
            return
        # copy_context carries the correlation id set for this message into the worker.
        future = self._worker.submit(contextvars.copy_context().run, handler, envelope)
        while not future.done():
            # Returns the moment the handler is done: a fixed connection.sleep() here would
            # hold every delivery until the end of the poll (a cap of 20 messages/s).
            futures_wait([future], timeout=0.05)
            connection = self._connection
            if connection is not None and connection.is_open:
                connection.process_data_events(0)  # heartbeats go on; no nested dispatch
        future.result()

    def _call(self, handler: Handler, envelope: Envelope) -> None:
        """Run the handler, retrying transient failures in place with backoff."""
        deadline = time.monotonic() + self.transient_budget_s
        delay = 0.1
        while True:
            try:
                self._run_handler(handler, envelope)
                return
            except TRANSIENT_ERRORS as exc:
                if time.monotonic() + delay > deadline:
                    raise
                logger.warning("transient failure on event %s, retry in %.1fs: %s",
                               envelope.event_id, delay, exc)
                assert self._connection is not None
                self._connection.sleep(delay)  # keeps heartbeats going
                delay = min(delay * 2, 5.0)

    def _dead_letter(self, ch, method, props, body: bytes, queue: str, exc: BaseException) -> None:
        headers = dict(props.headers or {})
        headers.update(
            {
                "x-error-type": type(exc).__name__,
                "x-error-reason": str(exc)[:2000],
                "x-original-queue": queue,
                "x-failed-at": datetime.now(timezone.utc).isoformat(),
                "x-consumer": self.service,
            }
        )
        # A replayed message arrives by queue name: keep the topic key of its first failure.
        headers.setdefault("x-original-routing-key", method.routing_key)
        new_props = pika.BasicProperties(
            content_type=props.content_type,
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=props.message_id,
            correlation_id=props.correlation_id,
            type=props.type,
            headers=headers,
        )
        assert self._dlq_channel is not None
        self._dlq_channel.basic_publish(
            self.topology.dead_letter_exchange, queue, body, new_props, mandatory=True
        )
        ch.basic_ack(method.delivery_tag)

    def stop(self) -> None:
        self._stopping = True
        conn, channel = self._connection, self._channel
        if conn is not None and channel is not None and conn.is_open:
            conn.add_callback_threadsafe(channel.stop_consuming)

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())

    def _close(self) -> None:
        conn = self._connection
        self._connection = self._channel = self._dlq_channel = None
        if conn is not None and conn.is_open:
            try:
                conn.close()
            except AMQPError as exc:
                logger.debug("error while closing connection: %r", exc)
