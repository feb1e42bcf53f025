"""The consumer loop: decode, call the subscription's handler, ack after it returns.

Every subscription has one set-based handler: it receives the envelopes of a batch (a single
delivery is a batch of one). Outcomes per message:
- handler returns: ack (in batches, one ``basic_ack(multiple=True)`` after the commit).
- not decodable, a payload of another type than the subscription's, or ``PermanentError``:
  republished to the DLQ with the reason in headers (publisher-confirmed), then acked.
- a transient error (``TransientError``, database unreachable): retried in place with backoff
  for up to ``transient_budget_s`` (the broker is not asked to redeliver while PostgreSQL
  restarts), then nacked with requeue; the quorum queue's delivery limit dead-letters it at last.
- anything else: nacked with requeue, so the delivery limit bounds a buggy handler; the
  process never exits for it.

Batches (an engine and ``batch_size`` > 1): what has arrived, up to ``batch_size``, runs in
one database transaction (``batches.apply_batch``: optimistic, then isolated per message
when a handler fails). A transient failure, a commit that fails or anything unexpected sends
the batch through the one-at-a-time path.
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
from typing import Any, Callable, Sequence

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from ..config import CommonSettings
from ..events import Envelope, EventType, InvalidEventError, decode, routing_keys
from ..logging import correlation_id
from ..manifest import queue_name
from ..metrics import record_consumed
from .batches import BatchHandler, Delivery, apply_batch
from .connection import connect_with_retry
from .errors import TRANSIENT_ERRORS, PermanentError, TransientError
from .topology import Topology

__all__ = ["Consumer", "PermanentError", "Subscription", "TransientError", "TRANSIENT_ERRORS"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Subscription:
    """``routing_key``'s queue feeds ``handler``; a message whose payload is not a
    ``payload_type`` (when given) is dead-lettered before any handler sees it."""

    routing_key: str
    handler: BatchHandler
    payload_type: type[BaseModel] | None = None
    # The topic keys the queue is bound to; empty: every key the event type travels under.
    bindings: tuple[str, ...] = ()

    @property
    def binding_keys(self) -> list[str]:
        if self.bindings:
            return list(self.bindings)
        try:
            return list(routing_keys(EventType(self.routing_key)))
        except ValueError:   # a key of no suite event (tests, tools)
            return [self.routing_key]


def _log_fields(envelope: Envelope, queue: str, routing_key: str) -> dict[str, object]:
    """Structured log fields of one delivery (the correlation id comes from the context)."""
    return {"event_id": str(envelope.event_id), "event_type": envelope.event_type.value,
            "ticket_id": envelope.ticket_id, "routing_key": routing_key, "queue": queue}


class Consumer:
    def __init__(
        self,
        settings: CommonSettings,
        service: str,
        subscriptions: list[Subscription],
        *,
        transient_budget_s: float = 60.0,
        offload: bool = False,
        engine: Engine | None = None,
        batch_size: int = 1,
    ) -> None:
        """``offload`` runs handlers in a worker thread while this thread keeps servicing the
        connection: for handlers that may outlast the heartbeat timeout (a Claude call).
        Messages are acked on the I/O thread. ``engine`` and ``batch_size`` > 1 turn on
        batches: up to ``batch_size`` messages per transaction on ``engine``."""
        self.settings = settings
        self.service = service
        self.subscriptions = subscriptions
        self.topology = Topology.from_settings(settings)
        self.transient_budget_s = transient_budget_s
        self._worker = (ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{service}-work")
                        if offload else None)
        self.engine = engine
        self.batch_size = batch_size if engine is not None else 1
        self._pending: list[Delivery] = []
        self._stopping = False
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._dlq_channel: BlockingChannel | None = None

    def queue_for(self, routing_key: str) -> str:
        return queue_name(self.settings.queue_prefix, self.service, routing_key)

    @property
    def queues(self) -> list[str]:
        return [self.queue_for(s.routing_key) for s in self.subscriptions]

    def declare(self, channel: BlockingChannel) -> None:
        self.topology.declare_exchanges(channel)
        for sub in self.subscriptions:
            self.topology.declare_queue(channel, self.queue_for(sub.routing_key), sub.binding_keys)

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
        self._pending = []
        for sub in self.subscriptions:
            channel.basic_consume(self.queue_for(sub.routing_key), self._collector(sub))
        if self._stopping:  # stop() came before the channel existed: it scheduled nothing
            return
        logger.info("consuming %s", ", ".join(self.queues))
        while not self._stopping:
            self._connection.process_data_events(time_limit=1.0)
            while 0 < len(self._pending) < self.batch_size:
                before = len(self._pending)
                self._connection.process_data_events(0)  # deliveries already on the socket
                if len(self._pending) == before:
                    break
            if self._pending:
                batch, self._pending = self._pending, []
                self._handle_batch(channel, batch)

    def _collector(self, subscription: Subscription):
        queue = self.queue_for(subscription.routing_key)

        def on_message(ch: BlockingChannel, method, props, body: bytes) -> None:
            self._pending.append(Delivery(queue, subscription, method, props, body))

        return on_message

    def _decode(self, ch: BlockingChannel, d: Delivery) -> bool:
        """Decode ``d`` and check its payload type; dead-letter it (False) if it can't be."""
        try:
            envelope = decode(d.body)
            expected = d.subscription.payload_type
            if expected is not None and not isinstance(envelope.payload(), expected):
                raise InvalidEventError(f"{d.queue} takes {expected.__name__}, "
                                        f"got {envelope.event_type}")
        except InvalidEventError as exc:
            logger.error("invalid message on %s: %s", d.queue, exc, extra={
                "queue": d.queue, "routing_key": d.method.routing_key,
                "event_id": d.props.message_id, "correlation_id": d.props.correlation_id})
            self._dead_letter(ch, d, exc)
            record_consumed(d.method.routing_key, "dead_lettered")
            return False
        d.envelope = envelope
        return True

    def _handle_batch(self, ch: BlockingChannel, batch: list[Delivery]) -> None:
        ready = [d for d in batch if self._decode(ch, d)]
        if not ready:
            return
        if self.engine is None or self.batch_size == 1 or len(ready) == 1:
            for d in ready:
                self._handle_one(ch, d)
            return
        started = time.perf_counter()
        try:
            self._run_handler(apply_batch, self.engine, ready)
        except AMQPError:
            raise
        except TRANSIENT_ERRORS as exc:
            # The database went away mid-batch or at the commit: nothing of the batch is
            # committed. One at a time, each message gets the in-place retries.
            logger.warning("batch of %d failed (%s); handling one at a time", len(ready), exc)
            self._one_at_a_time(ch, ready)
            return
        except Exception:  # outer boundary: nothing committed; each message gets its outcome
            logger.exception("batch of %d failed; handling one at a time", len(ready))
            self._one_at_a_time(ch, ready)
            return
        elapsed = (time.perf_counter() - started) / len(ready)
        # Requeues and dead letters first, then one ack for all the rest: with multiple=True
        # it covers every delivery of this channel up to the highest tag still unsettled, and
        # every earlier batch was settled before this one was handled.
        acked = [d for d in ready if d.outcome == "ack"]
        for d in ready:
            if d.outcome != "ack":
                self._settle(ch, d, elapsed)
        if acked:
            ch.basic_ack(max(d.method.delivery_tag for d in acked), multiple=True)
            self._settle_acked(acked, elapsed)
        logger.info("batch of %d handled", len(ready))

    def _settle_acked(self, acked: list[Delivery], elapsed: float) -> None:
        """Count a batch's acks; each message's own line is DEBUG (one INFO line per batch)."""
        tracing = logger.isEnabledFor(logging.DEBUG)
        counts: dict[str, int] = {}
        for d in acked:
            envelope = d.envelope
            assert envelope is not None
            event_type = envelope.event_type.value
            counts[event_type] = counts.get(event_type, 0) + 1
            if tracing:
                token = correlation_id.set(envelope.correlation_id)
                try:
                    logger.debug("event %s (%s) handled", envelope.event_id, event_type,
                                 extra=_log_fields(envelope, d.queue, d.method.routing_key))
                finally:
                    correlation_id.reset(token)
        for event_type, n in counts.items():
            record_consumed(event_type, "ack", elapsed, n)

    def _one_at_a_time(self, ch: BlockingChannel, batch: list[Delivery]) -> None:
        for d in batch:
            d.outcome, d.error = "ack", None
            self._handle_one(ch, d)

    def _handle_one(self, ch: BlockingChannel, d: Delivery) -> None:
        """A batch of one, with in-place retries of transient failures; acked on its own."""
        envelope = d.envelope
        assert envelope is not None
        token = correlation_id.set(envelope.correlation_id)
        started = time.perf_counter()
        try:
            self._call(d.subscription.handler, envelope)
        except PermanentError as exc:
            d.outcome, d.error = "dead_lettered", exc
        except TRANSIENT_ERRORS as exc:
            logger.warning("event %s still failing after retries (%s); requeued",
                           envelope.event_id, exc,
                           extra=_log_fields(envelope, d.queue, d.method.routing_key))
            ch.basic_nack(d.method.delivery_tag, requeue=True)
            d.outcome = "requeued"
        except AMQPError:
            # The connection died while the handler ran (its retry sleep or an off-thread wait
            # services the connection): not the handler's fault, and nothing can be nacked on
            # a dead channel. The broker requeues the unacked delivery; reconnect.
            raise
        except Exception as exc:  # outer boundary: logged with its traceback in _settle
            d.outcome, d.error = "crashed", exc
        else:
            ch.basic_ack(d.method.delivery_tag)
        finally:
            correlation_id.reset(token)
        self._settle(ch, d, time.perf_counter() - started)

    def _settle(self, ch: BlockingChannel, d: Delivery, elapsed: float) -> None:
        """Dead-letter or requeue one handled message, or log its ack."""
        envelope = d.envelope
        assert envelope is not None
        token = correlation_id.set(envelope.correlation_id)
        fields = _log_fields(envelope, d.queue, d.method.routing_key)
        try:
            if d.outcome == "dead_lettered":
                logger.error("event %s (%s) failed permanently: %s", envelope.event_id,
                             envelope.event_type, d.error, extra=fields)
                self._dead_letter(ch, d, d.error)
            elif d.outcome == "crashed":
                logger.error("handler crashed on event %s (%s) ticket %s; requeued",
                             envelope.event_id, envelope.event_type, envelope.ticket_id,
                             exc_info=d.error, extra=fields)
                ch.basic_nack(d.method.delivery_tag, requeue=True)
                d.outcome = "requeued"
            elif d.outcome == "ack":
                logger.debug("event %s (%s) handled", envelope.event_id, envelope.event_type,
                             extra=fields)
        finally:
            record_consumed(envelope.event_type.value, d.outcome, elapsed)
            correlation_id.reset(token)

    def _run_handler(self, function: Callable[..., None], *args: Any) -> None:
        if self._worker is None:
            function(*args)
            return
        # copy_context carries the correlation id set for this message into the worker.
        future = self._worker.submit(contextvars.copy_context().run, function, *args)
        while not future.done():
            # Returns the moment the handler is done: a fixed connection.sleep() here would
            # hold every delivery until the end of the poll (a cap of 20 messages/s).
            futures_wait([future], timeout=0.05)
            connection = self._connection
            if connection is not None and connection.is_open:
                connection.process_data_events(0)  # heartbeats go on; no nested dispatch
        future.result()

    def _call(self, handler: BatchHandler, envelope: Envelope) -> None:
        """Run the handler on a batch of one, retrying transient failures in place."""
        deadline = time.monotonic() + self.transient_budget_s
        delay = 0.1
        batch: Sequence[Envelope] = [envelope]
        while True:
            try:
                self._run_handler(handler, batch)
                return
            except TRANSIENT_ERRORS as exc:
                if time.monotonic() + delay > deadline:
                    raise
                logger.warning("transient failure on event %s, retry in %.1fs: %s",
                               envelope.event_id, delay, exc)
                assert self._connection is not None
                self._connection.sleep(delay)  # keeps heartbeats going
                delay = min(delay * 2, 5.0)

    def _dead_letter(self, ch: BlockingChannel, d: Delivery, exc: BaseException | None) -> None:
        props = d.props
        headers = dict(props.headers or {})
        headers.update(
            {
                "x-error-type": type(exc).__name__,
                "x-error-reason": str(exc)[:2000],
                "x-original-queue": d.queue,
                "x-failed-at": datetime.now(timezone.utc).isoformat(),
                "x-consumer": self.service,
            }
        )
        # A replayed message arrives by queue name: keep the topic key of its first failure.
        headers.setdefault("x-original-routing-key", d.method.routing_key)
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
            self.topology.dead_letter_exchange, d.queue, d.body, new_props, mandatory=True
        )
        ch.basic_ack(d.method.delivery_tag)

    def stop(self) -> None:
        self._stopping = True
        conn, channel = self._connection, self._channel
        if conn is not None and channel is not None and conn.is_open:
            # Wakes process_data_events; the loop then sees _stopping.
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
