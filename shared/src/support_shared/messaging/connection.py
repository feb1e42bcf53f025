"""Opening AMQP connections with heartbeats, timeouts and a name the management console shows.

``RABBITMQ_URL`` may hold several comma-separated AMQP URLs, one per node of a cluster: a
connection tries them in turn (pika's list of connection parameters), starting one node
further along on every attempt (the first at a random one), so a process whose node died
reconnects to another one and a cluster's connections spread over its nodes.
"""
from __future__ import annotations

import itertools
import logging
import os
import random
import socket
from typing import Sequence

import pika
from pika.adapters.select_connection import SelectConnection
from pika.adapters.utils.connection_workflow import AMQPConnectorException
from pika.exceptions import AMQPConnectionError, AMQPError
from pika.heartbeat import HeartbeatChecker
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

logger = logging.getLogger(__name__)

RETRYABLE = (AMQPError, OSError)
# The AMQP_HEARTBEAT default: with checks every heartbeat (below), a hung broker is noticed
# within two of them (5-10 s); a live broker sends a frame every heartbeat / 2.
DEFAULT_HEARTBEAT_S = 5
# Each process starts at a random node, so a cluster's connections spread over its nodes.
_rotation = itertools.count(random.randrange(1 << 16))


def amqp_urls(url: str) -> list[str]:
    """The node URLs of a (possibly comma-separated) ``RABBITMQ_URL``."""
    urls = [part.strip() for part in url.split(",") if part.strip()]
    if not urls:
        raise ValueError("RABBITMQ_URL names no broker")
    return urls


class _EveryHeartbeatChecker(HeartbeatChecker):
    """pika checks for received bytes every heartbeat + 5 s, so a silent broker is noticed
    only after 2 x (heartbeat + 5) s; this checks every heartbeat (the RabbitMQ Java client's
    window): the broker sends a frame at least every heartbeat / 2, so a window without any
    byte means it hangs."""

    def _start_check_timer(self) -> None:
        self._check_interval = self._timeout
        super()._start_check_timer()


class _Connection(SelectConnection):
    def _create_heartbeat_checker(self) -> HeartbeatChecker | None:
        if self.params.heartbeat is not None and self.params.heartbeat > 0:
            return _EveryHeartbeatChecker(self, self.params.heartbeat)
        return None


def connection_parameters(url: str, name: str, heartbeat: int = DEFAULT_HEARTBEAT_S
                          ) -> pika.URLParameters:
    """The parameters of one node's URL."""
    params = pika.URLParameters(url)
    params.heartbeat = heartbeat
    params.blocked_connection_timeout = 30
    params.socket_timeout = 5
    params.stack_timeout = 10
    params.connection_attempts = 1
    params.client_properties = {
        "connection_name": f"{name}@{socket.gethostname()}:{os.getpid()}",
    }
    return params


def cluster_parameters(url: str, name: str, heartbeat: int = DEFAULT_HEARTBEAT_S
                       ) -> list[pika.URLParameters]:
    """One parameter set per node, rotated one node further on each call."""
    params = [connection_parameters(u, name, heartbeat) for u in amqp_urls(url)]
    start = next(_rotation) % len(params)
    return params[start:] + params[:start]


def _open(params: Sequence[pika.URLParameters]) -> pika.BlockingConnection:
    try:
        return pika.BlockingConnection(list(params), _impl_class=_Connection)
    except AMQPConnectorException as exc:
        # When TCP connects but the AMQP handshake times out (a hung or overloaded broker),
        # pika raises its connector's error, which is no AMQPError: retry it like the others
        # instead of letting it end the relay or consumer process.
        raise AMQPConnectionError(repr(exc)) from exc


def connect(url: str, name: str, heartbeat: int = DEFAULT_HEARTBEAT_S) -> pika.BlockingConnection:
    """A connection to the first node of ``url`` (comma-separated for a cluster) that answers."""
    return _open(cluster_parameters(url, name, heartbeat))


def connect_with_retry(
    url: str, name: str, heartbeat: int = DEFAULT_HEARTBEAT_S,
    give_up_after_s: float | None = None
) -> pika.BlockingConnection:
    """Connect, retrying with capped exponential backoff while no node is reachable."""

    def _log(state: object) -> None:
        outcome = getattr(state, "outcome", None)  # a Future: log its exception, not the Future
        logger.warning("broker unreachable, retrying (%r)",
                       outcome.exception() if outcome is not None else None)

    retrying = Retrying(
        retry=retry_if_exception_type(RETRYABLE),
        wait=wait_exponential(multiplier=0.2, max=5),
        stop=stop_after_delay(give_up_after_s) if give_up_after_s else (lambda _s: False),
        before_sleep=_log,
        reraise=True,
    )
    return retrying(connect, url, name, heartbeat)


def broker_reachable(url: str, timeout_s: float = 2.0) -> bool:
    """Open and close one connection to any node: the broker health check."""
    params = cluster_parameters(url, "health-check", heartbeat=0)
    for p in params:
        p.socket_timeout = p.stack_timeout = p.blocked_connection_timeout = timeout_s
    try:
        conn = _open(params)
    except RETRYABLE:
        return False
    conn.close()
    return True
