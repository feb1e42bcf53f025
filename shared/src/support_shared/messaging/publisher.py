"""Publishing persistent, mandatory messages and waiting for the broker's confirm."""
from __future__ import annotations

import logging

import pika
from pika.exceptions import NackError, UnroutableError

from .connection import connect_with_retry
from .topology import Topology

logger = logging.getLogger(__name__)


class PublishError(Exception):
    """The broker did not take the message (nacked or returned it)."""


class Publisher:
    """A confirm-mode channel on its own connection; not thread-safe (one per thread)."""

    def __init__(self, url: str, topology: Topology, name: str, heartbeat: int = 5) -> None:
        self.url = url
        self.topology = topology
        self.name = name
        self.heartbeat = heartbeat
        self._connection: pika.BlockingConnection | None = None
        self._channel = None

    def _ensure_channel(self):
        if self._channel is None or not self._channel.is_open:
            self.close()
            self._connection = connect_with_retry(self.url, self.name, self.heartbeat, 30)
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
            self.topology.declare_exchanges(self._channel)
        return self._channel

    def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        headers: dict[str, str] | None = None,
        exchange: str | None = None,
        correlation_id: str | None = None,
        event_type: str | None = None,
    ) -> None:
        """Publish and block until confirmed; raise ``PublishError`` if refused."""
        channel = self._ensure_channel()
        props = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message_id,
            correlation_id=correlation_id,
            type=event_type or routing_key,
            headers=headers or {},
        )
        try:
            channel.basic_publish(
                exchange=self.topology.exchange if exchange is None else exchange,
                routing_key=routing_key,
                body=body,
                properties=props,
                mandatory=True,
            )
        except (UnroutableError, NackError) as exc:
            raise PublishError(f"{routing_key} {message_id}: {exc}") from exc

    def process_events(self) -> None:
        """Service heartbeats while idle."""
        if self._connection is not None and self._connection.is_open:
            self._connection.process_data_events(0)

    def close(self) -> None:
        if self._connection is not None and self._connection.is_open:
            self._connection.close()
        self._connection = None
        self._channel = None
