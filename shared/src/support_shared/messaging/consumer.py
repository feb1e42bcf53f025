"""The consumer loop: decode, call the handler, ack after it returns; dead-letter what can't be done.

Outcomes per message:
- handler returns: ack.
- ``InvalidEventError`` / ``PermanentError``: republished to the DLQ with the reason in headers
  (publisher-confirmed), then acked.
- a transient error (``TransientError``, database unreachable): retried in place with backoff
  for up to ``transient_budget_s`` (the broker is not asked to redeliver while PostgreSQL
  restarts), then nacked with requeue; the quorum queue's delivery limit dead-letters it at last.
- anything else: nacked with requeue, so the delivery limit bounds a buggy handler.

Batches: given the service's engine and ``batch_size`` > 1, the consumer takes what has
arrived (up to ``batch_size`` deliveries, bounded by the prefetch) and runs their handlers in
one database transaction (``db.shared_transaction``), commits once, then acks them with one
``basic_ack(multiple=True)``. The first try is optimistic: the handlers' units of work share
the transaction without savepoints. When a handler raises, or leaves its unit of work
uncommitted after writing, that try is rolled back and the batch runs again with a savepoint
per unit of work, so each message gets its own outcome. The outcomes per message stay those
above; a transient failure, or a commit that fails, sends the batch through the
one-at-a-time path.
"""
from __future__ import annotations

import contextvars
import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from ..config import CommonSettings
from ..db import shared_transaction
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
    """In batches only, two optional speed-ups:

    - ``prepare`` is called with the batch's envelopes of this subscription before their
      handlers run one by one (work that is cheaper in bulk, e.g. predictions);
    - ``batch_handler`` handles all of them at once, set-based, instead of ``handler``. It
      must have the same effects; if it raises, its changes are rolled back and ``handler``
      handles each message, which then gets its own outcome (ack, dead letter, requeue).
    """

    routing_key: str
    handler: Handler
    prepare: Callable[[list[Envelope]], None] | None = None
    batch_handler: Callable[[list[Envelope]], None] | None = None


@dataclass
class _Delivery:
    queue: str
    subscription: Subscription
    method: Any
    props: Any
    body: bytes
    envelope: Envelope | None = None
    outcome: str = "ack"
    error: BaseException | None = field(default=None, repr=False)


class _NeedsIsolation(Exception):
    """An optimistic batch must be rolled back and run again with a savepoint per message."""


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
        self._pending: list[_Delivery] = []
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
        self._pending = []
        for sub in self.subscriptions:
            queue = self.queue_for(sub.routing_key)
            callback = (self._collector(queue, sub) if self.batch_size > 1
                        else self._callback(queue, sub.handler))
            channel.basic_consume(queue, callback)
        if self._stopping:  # stop() came before the channel existed: it scheduled nothing
            return
        logger.info("consuming %s", ", ".join(self.queues))
        if self.batch_size > 1:
            self._consume_batches(self._connection, channel)
        else:
            channel.start_consuming()

    def _callback(self, queue: str, handler: Handler):
        def on_message(ch: BlockingChannel, method, props, body: bytes) -> None:
            self._handle(ch, method, props, body, queue, handler)

        return on_message

    def _collector(self, queue: str, subscription: Subscription):
        def on_message(ch: BlockingChannel, method, props, body: bytes) -> None:
            self._pending.append(_Delivery(queue, subscription, method, props, body))

        return on_message

    def _consume_batches(self, connection: pika.BlockingConnection, ch: BlockingChannel) -> None:
        """Gather what has arrived (up to ``batch_size``), handle it as one batch, repeat."""
        while not self._stopping:
            connection.process_data_events(time_limit=1.0)
            while 0 < len(self._pending) < self.batch_size:
                before = len(self._pending)
                connection.process_data_events(0)  # deliveries already on the socket
                if len(self._pending) == before:
                    break
            if self._pending:
                batch, self._pending = self._pending, []
                self._handle_batch(ch, batch)

    def _handle_batch(self, ch: BlockingChannel, batch: list[_Delivery]) -> None:
        ready: list[_Delivery] = []
        for d in batch:
            try:
                d.envelope = decode(d.body)
            except InvalidEventError as exc:
                logger.error("invalid message on %s: %s", d.queue, exc, extra={
                    "queue": d.queue, "routing_key": d.method.routing_key,
                    "event_id": d.props.message_id, "correlation_id": d.props.correlation_id})
                self._dead_letter(ch, d.method, d.props, d.body, d.queue, exc)
                record_consumed(d.method.routing_key, "dead_lettered")
                continue
            ready.append(d)
        if not ready:
            return
        started = time.perf_counter()
        try:
            self._run_handler(self._apply_batch, ready)
        except TRANSIENT_ERRORS as exc:
            # The database went away mid-batch or at the commit: nothing of the batch is
            # committed. One at a time, each message gets the in-place retries.
            logger.warning("batch of %d failed (%s); handling one at a time", len(ready), exc)
            for d in ready:
                self._handle(ch, d.method, d.props, d.body, d.queue, d.subscription.handler)
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
            for d in acked:
                self._settle(ch, d, elapsed)
        logger.debug("batch of %d handled", len(ready))

    def _apply_batch(self, batch: list[_Delivery]) -> None:
        """Every handler of the batch in one transaction; raises only what fails them all."""
        assert self.engine is not None
        for sub in self.subscriptions:
            if sub.prepare is not None:
                envelopes = [d.envelope for d in batch if d.subscription is sub and d.envelope]
                if envelopes:
                    sub.prepare(envelopes)
        try:
            with shared_transaction(self.engine, savepoints=False) as shared:
                done = self._apply_batch_handlers(shared.conn, batch, isolated=False)
                self._apply_handlers(batch, done, isolated=False)
                if shared.dirty:
                    raise _NeedsIsolation("a unit of work left uncommitted after writing")
            return
        except _NeedsIsolation as exc:
            logger.debug("batch of %d again with savepoints: %s", len(batch), exc)
        for d in batch:
            d.outcome, d.error = "ack", None
        with shared_transaction(self.engine) as shared:
            done = self._apply_batch_handlers(shared.conn, batch, isolated=True)
            self._apply_handlers(batch, done, isolated=True)

    def _apply_handlers(self, batch: list[_Delivery], done: set[int], isolated: bool) -> None:
        """Each delivery's handler, unless its batch handler did it. Not ``isolated``, any
        failure but a transient one ends the try (``_NeedsIsolation``); ``isolated``, it
        becomes the delivery's outcome."""
        for d in batch:
            assert d.envelope is not None
            if id(d) in done:
                continue
            token = correlation_id.set(d.envelope.correlation_id)
            try:
                d.subscription.handler(d.envelope)
            except TRANSIENT_ERRORS:
                raise
            except AMQPError:
                raise
            except PermanentError as exc:
                if not isolated:
                    raise _NeedsIsolation(repr(exc)) from exc
                d.outcome, d.error = "dead_lettered", exc
            except Exception as exc:  # outer boundary: logged in _settle with its traceback
                if not isolated:
                    raise _NeedsIsolation(repr(exc)) from exc
                d.outcome, d.error = "crashed", exc
            finally:
                correlation_id.reset(token)

    def _apply_batch_handlers(self, conn: Any, batch: list[_Delivery],
                              isolated: bool) -> set[int]:
        """Run each subscription's ``batch_handler`` (``isolated``: in a savepoint, and on a
        failure its messages are left to their own handlers); the deliveries it did."""
        done: set[int] = set()
        for sub in self.subscriptions:
            mine = [d for d in batch if d.subscription is sub and d.envelope is not None]
            if sub.batch_handler is None or not mine:
                continue
            savepoint = conn.begin_nested() if isolated else None
            try:
                sub.batch_handler([d.envelope for d in mine])
            except TRANSIENT_ERRORS:
                raise
            except AMQPError:
                raise
            except Exception as exc:  # not swallowed: logged, and each message is handled again
                if savepoint is None:
                    raise _NeedsIsolation(repr(exc)) from exc
                savepoint.rollback()
                logger.warning("batch handler for %s failed on %d messages; handling them one "
                               "at a time", sub.routing_key, len(mine), exc_info=True)
                continue
            if savepoint is not None:
                savepoint.commit()
            done.update(id(d) for d in mine)
        return done

    def _settle(self, ch: BlockingChannel, d: _Delivery, elapsed: float) -> None:
        """Dead-letter or requeue one message of a committed batch, or log its ack."""
        envelope = d.envelope
        assert envelope is not None
        token = correlation_id.set(envelope.correlation_id)
        fields = _log_fields(envelope, d.queue, d.method.routing_key)
        try:
            if d.outcome == "dead_lettered":
                logger.error("event %s (%s) failed permanently: %s", envelope.event_id,
                             envelope.event_type, d.error, extra=fields)
                self._dead_letter(ch, d.method, d.props, d.body, d.queue, d.error)
            elif d.outcome == "crashed":
                logger.error("handler crashed on event %s (%s) ticket %s; requeued",
                             envelope.event_id, envelope.event_type, envelope.ticket_id,
                             exc_info=d.error, extra=fields)
                ch.basic_nack(d.method.delivery_tag, requeue=True)
                d.outcome = "requeued"
            else:   # acked by the caller, with the rest of its batch
                logger.info("event %s (%s) handled", envelope.event_id, envelope.event_type,
                            extra=fields)
        finally:
            record_consumed(envelope.event_type.value, d.outcome, elapsed)
            correlation_id.reset(token)

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

    def _run_handler(self, handler: Callable[[Any], None], argument: Any) -> None:
        if self._worker is None:
            handler(argument)
            return
        # copy_context carries the correlation id set for this message into the worker.
        future = self._worker.submit(contextvars.copy_context().run, handler, argument)
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
            # Batches: wakes process_data_events; the loop then sees _stopping.
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
