"""Opening AMQP connections with heartbeats, timeouts and a name the management console shows."""
from __future__ import annotations

import logging
import os
import socket

import pika
from pika.adapters.utils.connection_workflow import AMQPConnectorException
from pika.exceptions import AMQPConnectionError, AMQPError
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

logger = logging.getLogger(__name__)

RETRYABLE = (AMQPError, OSError)


def connection_parameters(url: str, name: str, heartbeat: int = 10) -> pika.URLParameters:
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


def _open(params: pika.URLParameters) -> pika.BlockingConnection:
    try:
        return pika.BlockingConnection(params)
    except AMQPConnectorException as exc:
        # When TCP connects but the AMQP handshake times out (a hung or overloaded broker),
        # pika raises its connector's error, which is no AMQPError: retry it like the others
        # instead of letting it end the relay or consumer process.
        raise AMQPConnectionError(repr(exc)) from exc


def connect(url: str, name: str, heartbeat: int = 10) -> pika.BlockingConnection:
    return _open(connection_parameters(url, name, heartbeat))


def connect_with_retry(
    url: str, name: str, heartbeat: int = 10, give_up_after_s: float | None = None
) -> pika.BlockingConnection:
    """Connect, retrying with capped exponential backoff while the broker is unreachable."""

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
    """Open and close one connection: the broker health check."""
    params = connection_parameters(url, "health-check", heartbeat=0)
    params.socket_timeout = timeout_s
    params.stack_timeout = timeout_s
    params.blocked_connection_timeout = timeout_s
    try:
        conn = _open(params)
    except RETRYABLE:
        return False
    conn.close()
    return True
