"""Start the whole suite (every process, real PostgreSQL and RabbitMQ) once per e2e session.

The suite gets a development tenant "default" and an admin key the way ``make run`` does
(``ticketctl keys ensure-dev``); ``running`` sends that key on every request. Tests make more
tenants and keys with ``running.tenant(...)`` / ``running.ctl(...)``.
"""
from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from click.testing import CliRunner

from support_shared.manifest import SUITE
from support_shared.suite import Suite, migrate_all
from support_shared.testing.helpers import MANAGEMENT_URL, unique_suffix
from support_shared.testing.isolated import isolated_env, remove_isolated
from ticketctl.cli import cli as ticketctl_cli

def suite_env(suffix: str, database_url: str, rabbitmq_url: str, **extra: str) -> dict[str, str]:
    settings = {
        "LOG_FORMAT": "text", "WEB_WORKERS": "1",
        # Every e2e test shares few keys and polls quickly: limits are tested on their own.
        "GATEWAY_RATE_LIMIT": "1000000/minute", "GATEWAY_AUTH_CACHE_TTL_S": "1",
        "GATEWAY_OPERATOR_TOKEN": secrets.token_urlsafe(32),
        "GATEWAY_METRICS_TOKEN": secrets.token_urlsafe(32),
        "GATEWAY_AUTH_FAILURE_LIMIT": "1000000/minute",
        # integration-service: a key for secrets at rest; local fakes listen on 127.0.0.1
        "INTEGRATION_SERVICE_CREDENTIALS_KEY": base64.urlsafe_b64encode(
            secrets.token_bytes(32)).decode(),
        "INTEGRATION_SERVICE_ALLOW_PRIVATE_TARGETS": "127.0.0.1",
        "INTEGRATION_SERVICE_WORKER_POLL_SECONDS": "0.2",
        **{f"{s.env_prefix}RELAY_POLL_SECONDS": "0.5" for s in SUITE.with_schema}}
    return isolated_env(suffix, database_url, rabbitmq_url, **{**settings, **extra})


class ApiClient:
    """Requests to the gateway with one API key (or none)."""

    def __init__(self, base_url: str, key: str | None = None, key_id: int | None = None,
                 tenant_id: str | None = None) -> None:
        self.base_url = base_url
        self.key = key
        self.key_id = key_id
        self.tenant_id = tenant_id
        self.http = requests.Session()
        if key:
            self.http.headers["Authorization"] = f"Bearer {key}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 20 if method.upper() == "POST" else 10)
        return self.http.request(method, self.url(path), **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PATCH", path, **kw)


class RunningSuite(ApiClient):
    """The running suite, seen with the development admin key of tenant "default"."""

    def __init__(self, suite: Suite, base_url: str, started_in: float, key: str) -> None:
        super().__init__(base_url, key, tenant_id="default")
        self.suite = suite
        self.started_in = started_in
        self.env = suite.env

    def ctl(self, *args: str) -> Any:
        """``ticketctl ARGS --json`` in-process against this suite's ticket-service."""
        env = {"TICKET_SERVICE_URL": self.env["TICKET_SERVICE_URL"],
               "INTERNAL_API_TOKEN": self.env["INTERNAL_API_TOKEN"]}
        result = CliRunner().invoke(ticketctl_cli, [*args, "--json"], env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def tenant(self, scopes: str = "read,write", tenant_id: str | None = None) -> ApiClient:
        """A client with a new key (of a new tenant unless ``tenant_id`` is given)."""
        if tenant_id is None:
            tenant_id = f"t-{uuid.uuid4().hex[:10]}"
            self.ctl("tenants", "create", tenant_id)
        issued = self.ctl("keys", "create", "--tenant", tenant_id, "--scopes", scopes)
        return ApiClient(self.base_url, issued["key"], issued["id"], tenant_id)

    def anonymous(self) -> ApiClient:
        return ApiClient(self.base_url)

    def operator(self) -> ApiClient:
        """The suite operator: the gateway's operator credential, no API key."""
        client = ApiClient(self.base_url)
        client.http.headers["X-Operator-Token"] = self.env["GATEWAY_OPERATOR_TOKEN"]
        return client

    def wait_idle(self, timeout: float = 120.0, quiet_polls: int = 4) -> None:
        """Wait until every queue of this suite has stayed empty for ``quiet_polls`` polls
        (0.5 s apart, longer than the relays' poll), so a module that made many tickets does not
        leave a backlog that slows the next module's deadlines. No management API: no wait."""
        prefix = self.env["QUEUE_PREFIX"]
        url = f"{MANAGEMENT_URL.rstrip('/')}/api/queues/%2F?columns=name,messages"
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < quiet_polls:
            try:
                queues = requests.get(url, timeout=5).json()
            except (requests.RequestException, ValueError):
                return
            busy = sum(q.get("messages") or 0 for q in queues
                       if q["name"].startswith(prefix) and not q["name"].endswith(".dlq"))
            quiet = quiet + 1 if busy == 0 else 0
            if time.monotonic() > deadline:
                raise AssertionError(f"suite still busy after {timeout:.0f}s ({busy} messages)")
            time.sleep(0.5)


def provision_dev_key(env: dict[str, str], path: Path) -> str:
    """What ``make run`` does after start-up: the installed ticketctl writes the dev key."""
    ticketctl = str(Path(sys.executable).parent / "ticketctl")
    subprocess.run([ticketctl, "keys", "ensure-dev", "--file", str(path)], env=env, check=True,
                   timeout=60, capture_output=True)
    return path.read_text().strip()


def start_suite(tmp: Path, database_url: str, rabbitmq_url: str, **extra: str) -> Iterator[RunningSuite]:
    suffix = unique_suffix()
    env = suite_env(suffix, database_url, rabbitmq_url, **extra)
    migrate_all(env)
    suite = Suite(env=env, log_dir=tmp / "logs")
    suite.start()
    try:
        took = suite.wait_healthy(timeout=90)
        key = provision_dev_key(env, tmp / "dev-api-key")
        yield RunningSuite(suite, f"http://127.0.0.1:{env['GATEWAY_PORT']}", took, key)
    except RuntimeError:
        for log in sorted((tmp / "logs").glob("*.log")):
            print(f"==== {log.name}\n{log.read_text()[-3000:]}")
        raise
    finally:
        suite.stop()
        remove_isolated(env, database_url, suffix)


@pytest.fixture(scope="module")
def settle(running) -> Iterator[None]:
    """Use in a module that makes many tickets: at its end, wait for the pipeline to drain."""
    yield
    running.wait_idle()


@pytest.fixture(scope="session")
def running(tmp_path_factory, database_url, rabbitmq_url) -> Iterator[RunningSuite]:
    yield from start_suite(tmp_path_factory.mktemp("suite"), database_url, rabbitmq_url)
