"""Real processes for the security tests: the gateway (``api-gateway web``) in front of a stub
ticket-service that verifies keys, and a real ``ticket-service web`` on a throwaway schema."""
from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import Iterator

import pytest
import requests
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from support_shared.testing.helpers import unique_suffix, wait_until

KEY = "tts_secu0001_" + "s" * 43
RATE_KEY = "tts_secu0002_" + "r" * 43      # its own rate-limit counter (key id 8)
INTERNAL_TOKEN = "security-tests-internal-token"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
DATABASE_URL = os.environ.get("DATABASE_URL",
                              "postgresql+psycopg2://postgres@127.0.0.1:5432/ticket_triage")


@pytest.fixture(scope="session", autouse=True)
def _many_descriptors() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 8192 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (8192, hard))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class StubTickets:
    """Stands in for ticket-service behind the gateway: one valid key, counted verify calls."""

    verify_calls: int = 0
    verified: dict[str, int] = field(default_factory=dict)   # verify calls per valid key
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Flask:
        app = Flask("stub-tickets")

        @app.post("/internal/keys/verify")
        def verify():
            with self._lock:
                self.verify_calls += 1
            key = (request.get_json(silent=True) or {}).get("key")
            if key not in (KEY, RATE_KEY):
                return jsonify({"error": {"code": "invalid_api_key"}}), 401
            with self._lock:
                self.verified[key] = self.verified.get(key, 0) + 1
            return jsonify({"tenant_id": "sec", "scopes": ["read", "write"],
                            "key_id": 7 if key == KEY else 8})

        @app.route("/api/tickets", methods=["GET", "POST"])
        def tickets():
            return jsonify({"items": [], "next_cursor": None})

        @app.get("/health")
        def health():
            return jsonify({"status": "healthy", "checks": {}})

        return app


@pytest.fixture(scope="session")
def stub_tickets() -> Iterator[StubTickets]:
    stub = StubTickets()
    server = make_server("127.0.0.1", 0, stub.app(), threaded=True)
    stub.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stub
    server.shutdown()


def _ready(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


@dataclass
class Served:
    base: str
    proc: subprocess.Popen
    env: dict[str, str]


def serve(command: str, port: int, env: dict[str, str], probe: str) -> Served:
    exe = shutil.which(command, path=os.path.dirname(sys.executable))
    assert exe, f"{command} is not installed"
    proc = subprocess.Popen([exe, "web"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: proc.poll() is not None or _ready(base + probe), timeout=30,
               message=f"{command} listening")
    if proc.poll() is not None:
        pytest.fail(f"{command} web exited {proc.returncode}")
    return Served(base, proc, env)


def stop(served: Served) -> None:
    served.proc.send_signal(signal.SIGTERM)
    try:
        served.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        served.proc.wait()


def gateway_env(stub: StubTickets, port: int, **extra: str) -> dict[str, str]:
    return {**os.environ, "GATEWAY_PORT": str(port), "BIND_HOST": "127.0.0.1",
            "WEB_WORKERS": "2", "LOG_FORMAT": "text", "LOG_LEVEL": "WARNING",
            "TICKET_SERVICE_URL": stub.url, "INTERNAL_API_TOKEN": INTERNAL_TOKEN,
            "GATEWAY_RATELIMIT_STORAGE_URL": REDIS_URL,
            "GATEWAY_RATELIMIT_KEY_PREFIX": f"sec-{unique_suffix()}",
            "GATEWAY_RATE_LIMIT": "100000/minute", **extra}


@pytest.fixture(scope="session")
def gateway(stub_tickets: StubTickets) -> Iterator[Served]:
    """``api-gateway web`` (2 workers) in front of the stub, rate limits in Redis."""
    port = free_port()
    served = serve("api-gateway", port, gateway_env(stub_tickets, port), "/openapi.json")
    yield served
    stop(served)


@pytest.fixture(scope="session")
def ticket_web() -> Iterator[Served]:
    """A real ``ticket-service web`` (2 workers) on its own schema."""
    port = free_port()
    env = {**os.environ, "TICKET_SERVICE_PORT": str(port), "BIND_HOST": "127.0.0.1",
           "WEB_WORKERS": "2", "LOG_FORMAT": "text", "LOG_LEVEL": "WARNING",
           "TICKET_SERVICE_DATABASE_URL": DATABASE_URL,
           "TICKET_SERVICE_DB_SCHEMA": f"sec_{unique_suffix()}",
           "INTERNAL_API_TOKEN": INTERNAL_TOKEN}
    exe = shutil.which("ticket-service", path=os.path.dirname(sys.executable))
    assert exe
    subprocess.run([exe, "migrate"], env=env, check=True, timeout=120,
                   stdout=subprocess.DEVNULL)
    served = serve("ticket-service", port, env, "/health")
    yield served
    stop(served)


@pytest.fixture
def api_key() -> str:
    return KEY


@pytest.fixture
def internal_token() -> str:
    return INTERNAL_TOKEN
