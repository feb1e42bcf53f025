"""Fixtures: real little HTTP services on loopback ports that stand in for the suite's services."""
from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
from flask import Flask, Request, Response, jsonify, request
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from api_gateway.app import create_app
from api_gateway.auth import ApiKeyAuthenticator, Principal
from api_gateway.config import SERVICES, GatewaySettings

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
Reply = Callable[[Request], Response]

# Keys the default test authenticator knows (the real verifier is tested in test_auth.py).
ADMIN_KEY = "tts_adm00001_" + "a" * 43
READ_KEY = "tts_read0001_" + "r" * 43
# What the gateway under test sends as X-Internal-Token to every fake service.
INTERNAL_TOKEN = "gateway-tests-internal-token"
TEST_KEYS = {
    ADMIN_KEY: Principal("default", frozenset({"read", "write", "admin"}), "1"),
    READ_KEY: Principal("default", frozenset({"read"}), "2"),
}


class StaticKeys:
    """A key verifier over a dict, counting lookups."""

    def __init__(self, keys: dict[str, Principal]) -> None:
        self.keys = dict(keys)
        self.lookups = 0

    def verify(self, key: str) -> Principal | None:
        self.lookups += 1
        return self.keys.get(key)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Call:
    method: str
    path: str            # decoded, as the service's Flask sees it
    raw_uri: str         # as sent on the wire
    query: str
    headers: dict[str, str]
    body: bytes


class Downstream:
    """A real HTTP server that records every request and answers as a test tells it to."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[Call] = []
        self.replies: dict[tuple[str, str], Reply] = {}
        self.release = threading.Event()
        self._lock = threading.Lock()
        app = Flask(__name__)
        app.add_url_rule("/", "any", self._handle, defaults={"path": ""}, methods=ALL_METHODS,
                         provide_automatic_options=False)
        app.add_url_rule("/<path:path>", "any", self._handle, methods=ALL_METHODS,
                         provide_automatic_options=False)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                        name=f"fake-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
        self.replies.clear()
        self.release.clear()

    def on(self, method: str, path: str, status: int = 200, body: Any = None,
           headers: dict[str, str] | None = None, delay: float = 0.0,
           raw: bytes | None = None) -> None:
        """Answer ``method path`` with ``status`` and a JSON ``body`` (or ``raw`` bytes)."""

        def reply(_req: Request) -> Response:
            if delay:
                self.release.wait(delay)
            if raw is not None:
                resp = Response(raw, status=status, mimetype="text/plain")
            else:
                resp = jsonify(body if body is not None else {})
                resp.status_code = status
            for name, value in (headers or {}).items():
                resp.headers[name] = value
            return resp

        self.replies[(method, path)] = reply

    def calls_to(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == path]

    def _handle(self, path: str) -> Response:
        call = Call(request.method, request.path, request.environ.get("REQUEST_URI", ""),
                    request.query_string.decode(), dict(request.headers), request.get_data())
        with self._lock:
            self.calls.append(call)
        reply = self.replies.get((request.method, request.path))
        if reply is not None:
            return reply(request)
        if request.path == "/health":
            return jsonify({"service": self.name, "status": "healthy",
                            "checks": {"database": "ok", "rabbitmq": "ok"}})
        return jsonify({"service": self.name, "method": request.method, "path": request.path})


@pytest.fixture(scope="session")
def _servers() -> Iterator[dict[str, Downstream]]:
    servers = {name: Downstream(name) for name in SERVICES}
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def services(_servers: dict[str, Downstream]) -> Iterator[dict[str, Downstream]]:
    """The four fake services, with no recorded calls and default answers."""
    for server in _servers.values():
        server.reset()
    yield _servers
    for server in _servers.values():
        server.release.set()  # wake any reply still sleeping


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def make_gateway(services: dict[str, Downstream],
                 closed_port_url: str) -> Iterator[Callable[..., Flask]]:
    """Build a gateway app pointing at the fake services; ``overrides`` adjust settings.

    Its test clients send ``key`` (default: an admin key of tenant "default"; None: no key).
    """
    apps: list[Flask] = []

    def factory(key: str | None = ADMIN_KEY, **overrides: Any) -> Flask:
        values: dict[str, Any] = {
            "ticket_service_url": services["ticket-service"].url,
            "ai_service_url": services["ai-categorization-service"].url,
            "routing_service_url": services["routing-service"].url,
            "analytics_service_url": services["analytics-service"].url,
            "integration_service_url": services["integration-service"].url,
            "connect_timeout_s": 0.5,
            "read_timeout_s": 0.5,
            "categorize_timeout_s": 2.0,
            "health_timeout_s": 1.0,
            "broker_check_ttl_s": 0,
            "rabbitmq_url": closed_port_url.replace("http://", "amqp://guest:guest@") + "/%2F",
            "rate_limit": "100000/minute",
            "ratelimit_storage_url": "memory://",     # unit level; Redis in test_rate_limits
            "internal_token": INTERNAL_TOKEN,
        }
        # Default: known keys from a dict; pass authenticator=None for the real HTTP verifier.
        authenticator = overrides.pop("authenticator", ApiKeyAuthenticator(StaticKeys(TEST_KEYS)))
        values.update(overrides)
        app = create_app(GatewaySettings(**values), authenticator=authenticator)
        if key is not None:
            app.test_client_class = _keyed_client_class(key)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["api_gateway"].close()


def _keyed_client_class(key: str) -> type[FlaskClient]:
    class KeyedClient(FlaskClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"

    return KeyedClient


@pytest.fixture
def client(make_gateway: Callable[..., Flask]) -> FlaskClient:
    """The gateway with an admin key of tenant "default" on every request."""
    return make_gateway().test_client()
