"""Dead-letter queue operations on the broker: list, peek, replay, purge (ticketctl, the gateway).

Every function takes an open ``pika.BlockingConnection`` (see ``broker_connection``) and the
``Topology`` naming the exchange, DLX and unroutable queue. Peek and replay never lose a
message: what they read and do not move is held unacked, then requeued in one ``basic.nack``.
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPConnectionError, ChannelClosedByBroker, NackError, UnroutableError

from ..manifest import DLQ_SUFFIX
from .connection import connect
from .dead_letters import (DeadMessage, QueueNotFound, QueueRefused, ReplayTarget, Unavailable,
                           replay_properties)
from .management import Management
from .topology import Topology

logger = logging.getLogger(__name__)

SETTLE_TIMEOUT_S = 3.0
MAX_SCAN = 100_000   # messages a selective removal holds at once, at most


def redact(url: str) -> str:
    """``url`` without its password, for messages shown to an operator."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else "***@"
    return urlunsplit(parts._replace(netloc=user + host))


@contextmanager
def broker_connection(url: str, name: str = "dead-letters") -> Iterator[pika.BlockingConnection]:
    """A connection (socket/handshake timeouts from the shared settings); ``Unavailable`` if the
    broker cannot be reached or the connection drops while in use."""
    try:
        connection = connect(url, name, heartbeat=30)
    except (AMQPConnectionError, OSError) as exc:
        raise Unavailable(f"RabbitMQ at {redact(url)} unreachable: {exc!r}") from exc
    try:
        yield connection
    except AMQPConnectionError as exc:
        raise Unavailable(f"lost the connection to RabbitMQ at {redact(url)}: {exc!r}") from exc
    finally:
        if connection.is_open:
            connection.close()


def is_dead_letter_queue(queue: str, topology: Topology) -> bool:
    return queue.endswith(DLQ_SUFFIX) or queue == topology.unroutable_queue


def check_dead_letter_queue(queue: str, topology: Topology) -> None:
    """Refuse anything but a ``*.dlq`` or the unroutable queue (live queues have consumers and a
    delivery limit that every requeue counts against)."""
    if not is_dead_letter_queue(queue, topology):
        raise QueueRefused(
            f"refusing {queue!r}: only dead-letter queues (*{DLQ_SUFFIX}) and "
            f"{topology.unroutable_queue!r} can be inspected, replayed or purged"
        )


def _declare_passive(channel: BlockingChannel, queue: str) -> pika.frame.Method:
    try:
        return channel.queue_declare(queue, passive=True)
    except ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            raise QueueNotFound(f"queue {queue!r} does not exist") from exc
        raise


@dataclass(frozen=True)
class QueueDepth:
    name: str
    messages: int
    consumers: int


def queue_depths(connection: pika.BlockingConnection, names: list[str]) -> dict[str, QueueDepth]:
    """Ready-message and consumer counts, exact (passive declares, not management statistics);
    queues that do not exist are left out."""
    channel = connection.channel()
    out: dict[str, QueueDepth] = {}
    for name in names:
        try:
            ok = _declare_passive(channel, name)
        except QueueNotFound:
            channel = connection.channel()  # the broker closed the channel with the 404
            continue
        out[name] = QueueDepth(name, ok.method.message_count, ok.method.consumer_count)
    if channel.is_open:
        channel.close()
    return out


def original_queue_of(dlq: str) -> str | None:
    return dlq[: -len(DLQ_SUFFIX)] if dlq.endswith(DLQ_SUFFIX) else None


def list_dead_letter_queues(connection: pika.BlockingConnection, management: Management,
                            topology: Topology, queue_prefix: str = "") -> list[QueueDepth]:
    """Every ``*.dlq`` bound to the DLX (and starting with ``queue_prefix``), then the unroutable
    queue, with their message counts."""
    names = [
        name for name in management.queues_bound_to(topology.dead_letter_exchange)
        if name.endswith(DLQ_SUFFIX) and name.startswith(queue_prefix)
    ]
    names.append(topology.unroutable_queue)
    depths = queue_depths(connection, names)
    return [depths[name] for name in names if name in depths]


def _requeue_held(channel: BlockingChannel, queue: str, expected: int,
                  timeout_s: float = SETTLE_TIMEOUT_S) -> None:
    """Give back every message this channel still holds unacked (delivery tag 0 = all), then wait
    until ``queue`` shows ``expected`` ready messages again: a quorum queue applies returns
    asynchronously, and the next command (another connection) must not find it empty."""
    if not channel.is_open:
        return  # the broker requeues what a closed channel held
    channel.basic_nack(delivery_tag=0, multiple=True, requeue=True)
    deadline = time.monotonic() + timeout_s
    while channel.queue_declare(queue, passive=True).method.message_count < expected:
        if time.monotonic() > deadline:
            logger.warning("%s shows fewer ready messages than expected (%d) after the requeue; "
                           "consumed meanwhile, or still settling", queue, expected)
            break
        channel.connection.sleep(0.01)
    channel.close()


def peek(connection: pika.BlockingConnection, queue: str, topology: Topology,
         limit: int = 10, *, tenant_id: str | None = None) -> list[DeadMessage]:
    """The first ``limit`` messages of a DLQ, all put back (``basic_get`` + ``basic_nack`` requeue).

    A quorum queue puts returned messages behind the ones still waiting and counts the return
    in ``x-delivery-count``; nothing is removed. With ``tenant_id`` only that tenant's messages
    (the dead envelope's ``tenant_id``) are shown, looking through the whole queue for them.
    """
    check_dead_letter_queue(queue, topology)
    channel = connection.channel()
    available = _declare_passive(channel, queue).method.message_count
    budget = max(0, limit) if tenant_id is None else available
    messages: list[DeadMessage] = []
    try:
        for _ in range(budget):
            if len(messages) >= limit:
                break
            method, props, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                break
            message = DeadMessage.from_delivery(queue, method.routing_key, props, body, topology)
            if message.belongs_to(tenant_id):
                messages.append(message)
    finally:
        _requeue_held(channel, queue, available)
    return messages


@dataclass(frozen=True)
class Outcome:
    message: DeadMessage
    status: str                     # "replayed" | "skipped" | "failed"
    target: ReplayTarget | None = None
    error: str | None = None


@dataclass
class ReplayResult:
    queue: str
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def replayed(self) -> int:
        return self.count("replayed")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def failed(self) -> int:
        return self.count("failed")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _replay_one(channel: BlockingChannel, tag: int, props: pika.BasicProperties, body: bytes,
                message: DeadMessage, now: datetime) -> Outcome:
    """Publish (confirmed, mandatory) to the target, then ack the dead one; else leave it held."""
    target = message.target
    if target is None:
        return Outcome(message, "skipped", None, "no original queue to send it to")
    try:
        channel.basic_publish(target.exchange, target.routing_key, body,
                              replay_properties(props, now), mandatory=True)
    except UnroutableError:
        logger.warning("replay of %s refused: %s does not route it", message.message_id,
                     target.describe())
        return Outcome(message, "failed", target,
                       f"{target.describe()} does not exist (unroutable)")
    except NackError:
        logger.warning("replay of %s nacked by the broker (%s)", message.message_id,
                     target.describe())
        return Outcome(message, "failed", target, "broker nacked the publish (queue full?)")
    channel.basic_ack(tag)
    logger.info("replayed %s (event %s) from %s to %s", message.message_id, message.event_id,
                message.queue, target.describe())
    return Outcome(message, "replayed", target)


def replay(connection: pika.BlockingConnection, queue: str, topology: Topology, *,
           message_id: str | None = None, limit: int | None = None,
           tenant_id: str | None = None, now: Callable[[], datetime] = _utcnow) -> ReplayResult:
    """Move dead messages back where they came from; ack each only after the broker's confirm.

    Looks at no more than the messages present at the start (so a message that fails again and
    comes back is not replayed twice in one run), at most ``limit``. With ``message_id`` only
    that message (AMQP message id or event id) moves; the others are requeued. With
    ``tenant_id`` other tenants' messages are neither moved nor reported (nor counted in
    ``limit``): a tenant admin replays only its own.
    """
    check_dead_letter_queue(queue, topology)
    channel = connection.channel()
    channel.confirm_delivery()
    available = _declare_passive(channel, queue).method.message_count
    budget = available if limit is None else min(limit, available)
    result = ReplayResult(queue)
    try:
        for _ in range(available):
            if len(result.outcomes) >= budget:
                break
            method, props, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                break
            message = DeadMessage.from_delivery(queue, method.routing_key, props, body, topology)
            if not message.belongs_to(tenant_id):
                continue
            if message_id is not None and not message.matches(message_id):
                result.outcomes.append(Outcome(message, "skipped", message.target, "not selected"))
                continue
            result.outcomes.append(_replay_one(channel, method.delivery_tag, props, body,
                                               message, now()))
            if message_id is not None:
                break
    finally:
        _requeue_held(channel, queue, available - result.replayed)
    return result


def purge(connection: pika.BlockingConnection, queue: str, topology: Topology) -> int:
    """Delete every ready message of a DLQ; return how many were removed."""
    check_dead_letter_queue(queue, topology)
    channel = connection.channel()
    _declare_passive(channel, queue)
    removed = channel.queue_purge(queue).method.message_count
    channel.close()
    logger.info("purged %d messages from %s", removed, queue)
    return removed


def remove_matching(connection: pika.BlockingConnection, queue: str, topology: Topology,
                    wanted: Callable[[DeadMessage], bool]) -> int:
    """Delete the dead messages of ``queue`` that ``wanted`` picks (acked), putting every other
    one back; return how many were removed. Takes every ready message once (held unacked until
    the end, so none comes round twice), not only as many as the queue's count said."""
    check_dead_letter_queue(queue, topology)
    channel = connection.channel()
    _declare_passive(channel, queue)
    removed = held = 0
    try:
        while held < MAX_SCAN:
            method, props, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                break
            message = DeadMessage.from_delivery(queue, method.routing_key, props, body, topology)
            if wanted(message):
                channel.basic_ack(method.delivery_tag)
                removed += 1
            else:
                held += 1
    finally:
        _requeue_held(channel, queue, held)
    if removed:
        logger.info("removed %d selected messages from %s", removed, queue)
    return removed

