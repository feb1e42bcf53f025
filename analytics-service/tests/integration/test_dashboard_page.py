"""The dashboard page, its local assets and /api/dashboard/queues on the real database and broker."""
import os
import re
import time
from urllib.parse import urlsplit

import pytest
import requests

from analytics_service.app import create_app
from analytics_service.queue_depths import suite_queues
from support_shared import dependencies
from support_shared.manifest import SUITE
from support_shared.messaging.topology import Topology
from support_shared.testing.clients import trusted
from support_shared.testing.helpers import MANAGEMENT_URL, wait_until

pytestmark = pytest.mark.integration

ASSETS = {
    "dashboard.css": "text/css",
    "dashboard.js": ("text/javascript", "application/javascript"),
    "charts.js": ("text/javascript", "application/javascript"),
    "favicon.svg": "image/svg+xml",
}
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


@pytest.fixture
def make_client(settings, engine, monkeypatch):
    """A test client of the real app; ``env`` sets the dashboard's variables first."""
    apps = []

    def factory(**env: str):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        app = trusted(create_app(settings))
        apps.append(app)
        return app.test_client()

    yield factory
    for app in apps:
        dependencies.of(app).close()


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def management_url() -> str:
    """The management API the tests read; skipped locally (failed in CI) when it is not up."""
    try:
        requests.get(f"{MANAGEMENT_URL.rstrip('/')}/api/overview", timeout=3).raise_for_status()
    except requests.RequestException as exc:
        if os.environ.get("CI"):
            pytest.fail(f"RabbitMQ management API unavailable: {exc}")
        pytest.skip(f"RabbitMQ management API unavailable: {exc}")
    return MANAGEMENT_URL


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username or 'guest'}:{password}@{parts.hostname}:{parts.port or 15672}"
    return parts._replace(netloc=netloc).geturl()


def test_page_is_html_linking_local_assets_only(client):
    resp = client.get("/dashboard")
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    links = re.findall(r'(?:href|src)="([^"]+)"', html)
    assert sorted(links) == sorted(f"/dashboard/static/{name}" for name in ASSETS)
    assert "http://" not in html and "https://" not in html
    policy = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    # the queue panel is the operator's: hidden until an operator credential is given
    assert re.search(r'id="panel-queues"[^>]*data-operator hidden', html)
    for metric in ("summary.total_tickets", "summary.needs_review", "routing.average_confidence",
                   "queues.totals.messages", "queues.totals.dead_letters"):
        assert f'data-metric="{metric}"' in html
    assert 'data-refresh-seconds="5"' in html


def test_refresh_period_comes_from_settings(make_client):
    html = make_client(ANALYTICS_SERVICE_DASHBOARD_REFRESH_S="2").get("/dashboard").get_data(as_text=True)
    assert 'data-refresh-seconds="2"' in html


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_assets_have_their_content_types_and_no_remote_urls(client, name):
    resp = client.get(f"/dashboard/static/{name}")
    assert resp.status_code == 200
    expected = ASSETS[name]
    assert resp.mimetype in (expected if isinstance(expected, tuple) else (expected,))
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    text = resp.get_data(as_text=True)
    assert len(text) > 100
    assert set(re.findall(r"https?://[^\s\"')]+", text)) <= {SVG_NAMESPACE}


def test_every_endpoint_the_page_reads_answers(client):
    script = client.get("/dashboard/static/dashboard.js").get_data(as_text=True)
    paths = re.findall(r'"(/api/[^"]+)"', script)
    assert sorted(paths) == sorted([
        "/api/dashboard/summary", "/api/dashboard/routing", "/api/analytics/performance",
        "/api/analytics/trends?days=14", "/api/dashboard/queues", "/api/analytics/agents",
        "/api/analytics/sla?days=30"])
    for path in paths:
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.get_json())


def test_unknown_asset_is_404_and_no_app_static_route(client):
    assert client.get("/dashboard/static/nope.js").status_code == 404
    assert client.get("/static/dashboard.js").status_code == 404


def _declare_suite_queues(channel, settings):
    topology = Topology.from_settings(settings)
    topology.declare_exchanges(channel)
    for queue in suite_queues(settings.queue_prefix):
        topology.declare_queue(channel, queue.name, [queue.routing_key])
    return topology


def test_queue_depths_from_the_management_api(make_client, settings, broker_probe, management_url):
    probe = broker_probe(settings.exchange)
    topology = _declare_suite_queues(probe.channel, settings)
    probe.publish("ticket.routed", b"{}")  # the ticket-, AI and analytics-service queues
    probe.publish("ticket.routed", b"{}")
    dead = settings.queue("routing-service", "ticket.categorized")
    probe.publish(dead, b"{}", exchange=topology.dead_letter_exchange)
    probe.publish("no.such.key", b"{}")  # to the alternate exchange: unroutable
    client = make_client(RABBITMQ_MANAGEMENT_URL=management_url, ANALYTICS_SERVICE_QUEUE_CACHE_S="0")

    def settled():  # the broker publishes queue stats every few seconds
        body = client.get("/api/dashboard/queues").get_json()
        ready = body["available"] and all(
            q["messages"] is not None and q["dead_letters"] is not None
            and q["consumers"] is not None for q in body["queues"])
        return body if ready and body["totals"] == {"messages": 6, "dead_letters": 1} else None

    body = wait_until(settled, timeout=30, interval=0.5, message="queue stats from the broker")
    by_name = {q["name"]: q for q in body["queues"]}
    watched = {q.name for q in suite_queues(settings.queue_prefix)}
    assert set(by_name) == watched and len(by_name) == len(SUITE.queues())
    routed = settings.queue("ticket-service", "ticket.routed")
    assert by_name[routed] == {
        "name": routed, "service": "ticket-service", "routing_key": "ticket.routed",
        "exists": True, "messages": 2, "messages_ready": 2, "messages_unacknowledged": 0,
        "consumers": 0, "dlq": routed + ".dlq", "dead_letters": 0,
    }
    assert by_name[settings.queue("analytics-service", "ticket.routed")]["messages"] == 2
    assert by_name[settings.queue("ai-categorization-service", "ticket.routed")]["messages"] == 2
    assert by_name[dead]["dead_letters"] == 1 and by_name[dead]["messages"] == 0
    assert body["unroutable"] == {"name": topology.unroutable_queue, "messages": 1}


def test_queue_depths_list_missing_queues_as_not_declared(make_client, settings, management_url):
    client = make_client(RABBITMQ_MANAGEMENT_URL=management_url, ANALYTICS_SERVICE_QUEUE_CACHE_S="0")
    body = client.get("/api/dashboard/queues").get_json()
    assert body["available"] is True
    assert [q["exists"] for q in body["queues"]] == [False] * len(SUITE.queues())
    assert all(q["messages"] is None and q["dead_letters"] is None for q in body["queues"])
    assert body["totals"] == {"messages": 0, "dead_letters": 0}


@pytest.mark.parametrize("where,reason", [("nowhere", "unreachable"), ("bad login", "HTTP 401")])
def test_queue_depths_unavailable_is_200_with_available_false(make_client, request, where, reason):
    if where == "nowhere":
        url = "http://guest:secret@127.0.0.1:1"
    else:
        url = _with_password(request.getfixturevalue("management_url"), "wrong-password")
    client = make_client(RABBITMQ_MANAGEMENT_URL=url)
    started = time.monotonic()
    resp = client.get("/api/dashboard/queues")
    assert time.monotonic() - started < 5
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["available"] is False and reason in body["reason"]
    assert "secret" not in body["reason"] and "wrong-password" not in body["reason"]
    # The failure is cached: the next poll answers at once with the same reading.
    assert client.get("/api/dashboard/queues").get_json()["checked_at"] == body["checked_at"]
