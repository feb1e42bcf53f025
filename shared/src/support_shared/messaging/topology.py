"""Exchanges and queues: the topic exchange, its dead-letter exchange, quorum queues with DLQs.

Queue arguments are fixed here once: RabbitMQ refuses to redeclare a queue with other ones.
"""
from __future__ import annotations

from dataclasses import dataclass

from pika.adapters.blocking_connection import BlockingChannel

from ..config import CommonSettings
from ..manifest import dead_letter_queue


@dataclass(frozen=True)
class Topology:
    exchange: str = "tickets"
    dead_letter_exchange: str = "tickets.dlx"
    delivery_limit: int = 5
    # False: check that the objects exist (passive declares need no configure permission)
    # instead of declaring them; a missing one closes the channel with 404.
    declare: bool = True

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> "Topology":
        return cls(settings.exchange, settings.dead_letter_exchange, settings.delivery_limit,
                   settings.rabbitmq_declare)

    @property
    def unroutable_exchange(self) -> str:
        return f"{self.exchange}.unroutable"

    @property
    def unroutable_queue(self) -> str:
        return f"{self.exchange}.unroutable"

    @staticmethod
    def dead_letter_queue(queue: str) -> str:
        return dead_letter_queue(queue)

    def queue_arguments(self, queue: str) -> dict[str, object]:
        return {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-routing-key": queue,
            "x-delivery-limit": self.delivery_limit,
            # 3.10 defaults to at-most-once dead-lettering; at-least-once needs reject-publish.
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }

    def declare_exchanges(self, channel: BlockingChannel) -> None:
        if not self.declare:
            for exchange in (self.exchange, self.dead_letter_exchange):
                channel.exchange_declare(exchange, passive=True)
            return
        channel.exchange_declare(self.unroutable_exchange, "fanout", durable=True)
        channel.queue_declare(
            self.unroutable_queue, durable=True, arguments={"x-queue-type": "quorum"}
        )
        channel.queue_bind(self.unroutable_queue, self.unroutable_exchange)
        channel.exchange_declare(
            self.exchange,
            "topic",
            durable=True,
            arguments={"alternate-exchange": self.unroutable_exchange},
        )
        channel.exchange_declare(self.dead_letter_exchange, "direct", durable=True)

    def declare_queue(self, channel: BlockingChannel, queue: str, routing_keys: list[str]) -> None:
        """Declare ``queue`` bound to ``routing_keys`` and its ``.dlq`` on the DLX."""
        dlq = self.dead_letter_queue(queue)
        if not self.declare:
            channel.queue_declare(queue, passive=True)
            channel.queue_declare(dlq, passive=True)
            return
        channel.queue_declare(dlq, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(dlq, self.dead_letter_exchange, routing_key=queue)
        channel.queue_declare(queue, durable=True, arguments=self.queue_arguments(queue))
        for key in routing_keys:
            channel.queue_bind(queue, self.exchange, routing_key=key)

    def delete(self, channel: BlockingChannel, queues: list[str]) -> None:
        """Remove the given queues, their DLQs and the exchanges (used by test teardown)."""
        for queue in queues:
            channel.queue_delete(queue)
            channel.queue_delete(self.dead_letter_queue(queue))
        channel.queue_delete(self.unroutable_queue)
        for exchange in (self.exchange, self.dead_letter_exchange, self.unroutable_exchange):
            channel.exchange_delete(exchange)
