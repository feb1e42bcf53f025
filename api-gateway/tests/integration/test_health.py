"""GET /api/health against the fake services and the real RabbitMQ (or a closed port)."""
import time

import pytest

from support_shared.schemas import Health

pytestmark = pytest.mark.integration

DOWN = {"service": "x", "status": "unhealthy", "checks": {"database": "down", "rabbitmq": "ok"}}


@pytest.fixture
def healthy_gateway(make_gateway, rabbitmq_url):
    def factory(**overrides):
        return make_gateway(rabbitmq_url=rabbitmq_url, **overrides).test_client()

    return factory


def _health(client):
    resp = client.get("/api/health", headers={"X-Request-ID": "health-1"})
    assert resp.headers["X-Request-ID"] == "health-1"
    return resp.status_code, Health.model_validate(resp.json)


def test_everything_up_is_200_healthy(services, healthy_gateway):
    status, health = _health(healthy_gateway())

    assert status == 200
    assert health.status == "healthy"
    assert (health.postgresql, health.rabbitmq) == ("ok", "ok")
    assert set(health.services) == set(services)
    for svc in health.services.values():
        assert svc == {"status": "healthy", "checks": {"database": "ok", "rabbitmq": "ok"}}
    for server in services.values():
        [probe] = server.calls_to("/health")
        assert probe.headers["X-Request-Id"] == "health-1"
        assert "X-Tenant-Id" not in probe.headers            # public path: no tenant


def test_one_service_unreachable_is_503(services, healthy_gateway, closed_port_url):
    status, health = _health(healthy_gateway(analytics_service_url=closed_port_url))

    assert status == 503
    assert health.status == "unhealthy"
    assert health.services["analytics-service"] == {"status": "unreachable", "checks": {}}
    assert health.services["ticket-service"]["status"] == "healthy"
    assert (health.postgresql, health.rabbitmq) == ("ok", "ok")


def test_a_service_reporting_its_database_down_marks_postgresql_down(services, healthy_gateway):
    services["routing-service"].on("GET", "/health", 503, DOWN)

    status, health = _health(healthy_gateway())

    assert status == 503
    assert health.services["routing-service"] == {"status": "unhealthy", "checks": DOWN["checks"]}
    assert health.postgresql == "down"
    assert health.rabbitmq == "ok"


def test_rabbitmq_unreachable_is_503(services, make_gateway):
    status, health = _health(make_gateway().test_client())      # broker URL: a closed port

    assert status == 503
    assert health.rabbitmq == "down"
    assert health.postgresql == "ok"
    assert all(s["status"] == "healthy" for s in health.services.values())


def test_no_service_reachable_means_postgresql_down(services, healthy_gateway, closed_port_url):
    urls = {f"{k}_service_url": closed_port_url for k in ("ticket", "ai", "routing", "analytics", "integration")}

    status, health = _health(healthy_gateway(**urls))

    assert status == 503
    assert health.postgresql == "down"
    assert {s["status"] for s in health.services.values()} == {"unreachable"}


def test_services_are_probed_concurrently_and_slow_ones_time_out(services, healthy_gateway):
    for name, server in services.items():
        delay = 5 if name == "ai-categorization-service" else 0.5
        server.on("GET", "/health", 200, {"status": "healthy", "checks": {}}, delay=delay)
    client = healthy_gateway(health_timeout_s=1.0)

    started = time.monotonic()
    status, health = _health(client)
    elapsed = time.monotonic() - started

    assert elapsed < 1.8                     # one timeout, not 3 * 0.5 + 1 s one after another
    assert status == 503
    assert health.services["ai-categorization-service"]["status"] == "unreachable"
    assert health.services["ticket-service"]["status"] == "healthy"


def test_health_probes_bypass_an_open_breaker(services, healthy_gateway):
    client = healthy_gateway(breaker_fail_max=1)
    services["ticket-service"].on("GET", "/api/tickets", 500, {})
    client.get("/api/tickets")
    assert client.get("/api/tickets").status_code == 503          # circuit open

    status, health = _health(client)

    assert status == 200
    assert health.services["ticket-service"]["status"] == "healthy"
