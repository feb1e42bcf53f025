"""One ticket's request id, followed through the JSON logs of every process it passes."""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from support_shared.testing.helpers import wait_until
from tests.conftest import RunningSuite, start_suite

pytestmark = pytest.mark.e2e

# Every process a new ticket's chain of work passes through, in order.
TRACED = ("gateway", "ticket-web", "ticket-relay", "ai-consumer", "ai-relay",
          "routing-consumer", "routing-relay", "ticket-consumer", "analytics-consumer")


@pytest.fixture(scope="module")
def traced(tmp_path_factory, database_url, rabbitmq_url) -> Iterator[tuple[RunningSuite, Path]]:
    """A suite of its own: the shared one logs text, this one JSON lines."""
    tmp = tmp_path_factory.mktemp("traced")
    # Each message's own log line is DEBUG (one INFO line per batch): trace at DEBUG, with the
    # internal services' successful requests in their access logs too.
    for running in start_suite(tmp, database_url, rabbitmq_url, LOG_FORMAT="json",
                               LOG_LEVEL="DEBUG", WEB_ACCESS_LOG="all"):
        yield running, tmp / "logs"


def _records(log: Path, request_id: str) -> list[dict[str, Any]]:
    """The JSON records of ``log`` that carry ``request_id``; other output is skipped."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if request_id not in line or not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:   # a line cut by a concurrent write
            continue
        if record.get("correlation_id") == request_id:
            found.append(record)
    return found


def test_a_tickets_request_id_is_in_every_process_log(traced):
    running, logs = traced
    request_id = f"trace-{uuid.uuid4()}"
    resp = running.post("/api/tickets", headers={"X-Request-ID": request_id}, json={
        "title": "Cannot log in to VPN",
        "description": "My VPN client rejects my password and I cannot reach the network drive.",
        "user_name": "Dana Kim", "user_email": "dana.kim@example.com"})
    assert resp.status_code == 201, resp.text
    assert resp.headers["X-Request-ID"] == request_id
    ticket_id = resp.json()["id"]

    found: dict[str, list[dict[str, Any]]] = {}

    def everywhere() -> bool:
        found.update({name: _records(logs / f"{name}.log", request_id) for name in TRACED})
        return all(found.values())

    try:
        wait_until(everywhere, timeout=60, interval=0.5, message="the request id in every log")
    except AssertionError:
        missing = [name for name in TRACED if not found.get(name)]
        pytest.fail(f"no JSON line with correlation_id {request_id} in: {', '.join(missing)}")

    web = [r for r in found["ticket-web"] if r["logger"] == "gunicorn.access"]
    assert any(r["method"] == "POST" and r["path"] == "/api/tickets" and r["status"] == 201
               for r in web)
    for relay, key in (("ticket-relay", "ticket.created"), ("ai-relay", "ticket.categorized"),
                       ("routing-relay", "ticket.routed")):
        assert any(r.get("routing_key") == key and r.get("ticket_id") == ticket_id
                   and r.get("event_id") for r in found[relay]), relay
    consumed = {name: {r.get("event_type") for r in found[name] if r.get("ticket_id") == ticket_id}
                for name in ("ai-consumer", "routing-consumer", "ticket-consumer")}
    assert "ticket.created" in consumed["ai-consumer"]
    assert "ticket.categorized" in consumed["routing-consumer"]
    assert "ticket.routed" in consumed["ticket-consumer"]


def test_every_web_process_serves_metrics(traced):
    running, _logs = traced
    env = running.suite.env
    ports = {"gateway": env["GATEWAY_PORT"]}
    ports.update({prefix: env[f"{prefix}PORT"] for prefix in
                  ("TICKET_SERVICE_", "AI_SERVICE_", "ROUTING_SERVICE_", "ANALYTICS_SERVICE_")})
    scraped = {}
    # The gateway's port is public: its /metrics needs the scrape credential.
    assert requests.get(f"http://127.0.0.1:{ports['gateway']}/metrics",
                        timeout=5).status_code == 401
    scraper = {"gateway": {"Authorization": f"Bearer {env['GATEWAY_METRICS_TOKEN']}"}}
    for name, port in ports.items():
        resp = requests.get(f"http://127.0.0.1:{port}/metrics", headers=scraper.get(name),
                            timeout=5)
        assert resp.status_code == 200, name
        assert resp.headers["Content-Type"].startswith("text/plain"), name
        scraped[name] = resp.text
    assert all("http_requests_total{" in text for text in scraped.values())
    assert "outbox_backlog " in scraped["ROUTING_SERVICE_"]
