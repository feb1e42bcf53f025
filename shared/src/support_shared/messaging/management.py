"""The RabbitMQ management HTTP API, read-only: queues with their counters, and which queues an
exchange routes to (DLQ listing, the dashboard's queue panel)."""
from __future__ import annotations

from typing import Any, Sequence
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests

from .dead_letters import Unavailable


QUEUE_COLUMNS = ("name", "messages", "messages_ready", "messages_unacknowledged", "consumers")


def vhost_of(amqp_url: str) -> str:
    """The virtual host an AMQP URL (the first of a comma-separated list) names (``/`` when
    its path names none)."""
    path = urlsplit(amqp_url.split(",", 1)[0].strip()).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def direct_session() -> requests.Session:
    """A session that goes straight to the broker: no proxy or ``.netrc`` from the environment."""
    session = requests.Session()
    session.trust_env = False
    return session


def error_reason(exc: requests.RequestException) -> str:
    """The useful part of a requests error (the urllib3 cause, not the retry wrapper)."""
    inner = exc.args[0] if exc.args else exc
    return str(getattr(inner, "reason", inner))


class Management:
    """A client for ``/api/...`` of one vhost; credentials come from the URL's user info."""

    def __init__(self, url: str, vhost: str, timeout_s: float = 5.0,
                 session: requests.Session | None = None) -> None:
        parts = urlsplit(url)
        self.auth = (
            (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
        )
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port is not None else host
        self.base = urlunsplit(parts._replace(netloc=netloc)).rstrip("/")
        self.vhost = vhost
        self.timeout = (min(3.05, timeout_s), timeout_s)
        self.session = session or requests.Session()

    def _get(self, path: str) -> Any | None:
        """GET ``/api/<path>`` as JSON; ``None`` for 404; ``Unavailable`` for anything unusable."""
        url = f"{self.base}/api/{path}"
        try:
            resp = self.session.get(url, auth=self.auth, timeout=self.timeout)
        except requests.RequestException as exc:
            raise Unavailable(
                f"RabbitMQ management API at {self.base} unreachable: {error_reason(exc)}"
            ) from exc
        if resp.status_code == 404:
            return None
        if resp.status_code in (401, 403):
            raise Unavailable(f"RabbitMQ management API at {self.base} refused the login "
                              f"(HTTP {resp.status_code}); check RABBITMQ_MANAGEMENT_URL")
        if resp.status_code >= 400:
            raise Unavailable(f"RabbitMQ management API at {self.base} answered HTTP "
                              f"{resp.status_code} for /api/{path}")
        try:
            return resp.json()
        except ValueError as exc:
            raise Unavailable(f"{self.base} did not answer JSON for /api/{path}; "
                              "is RABBITMQ_MANAGEMENT_URL the management API?") from exc

    def queues_bound_to(self, exchange: str) -> list[str]:
        """Names of the queues ``exchange`` has bindings to (empty if the exchange is missing)."""
        vhost = quote(self.vhost, safe="")
        rows = self._get(f"exchanges/{vhost}/{quote(exchange, safe='')}/bindings/source") or []
        return sorted({
            row["destination"] for row in rows
            if isinstance(row, dict) and row.get("destination_type") == "queue"
        })

    def queues(self, columns: Sequence[str] = QUEUE_COLUMNS) -> list[dict[str, Any]]:
        """The vhost's queues in one call, each with ``columns`` (a counter is absent until the
        broker has published the queue's stats); ``Unavailable`` if no queue list comes back."""
        body = self._get(f"queues/{quote(self.vhost, safe='')}?columns={','.join(columns)}")
        if body is None:
            raise Unavailable(f"RabbitMQ management API at {self.base} has no vhost {self.vhost!r}")
        if not isinstance(body, list):
            raise Unavailable(f"RabbitMQ management API at {self.base} did not answer a queue list")
        return [row for row in body if isinstance(row, dict)]

    def close(self) -> None:
        self.session.close()
