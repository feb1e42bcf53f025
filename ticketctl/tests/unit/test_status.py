"""Reading the gateway's health body whatever shape each service's entry has."""
from ticketctl.status import summarize_health

URL = "http://gw/api/health"


def test_words_and_nested_bodies():
    body = {
        "status": "unhealthy",
        "postgresql": "ok",
        "rabbitmq": "ok",
        "services": {
            "ticket-service": "ok",
            "routing-service": {"service": "routing-service", "status": "unhealthy",
                                "checks": {"database": "down"}},
            "analytics-service": False,
            "ai-categorization-service": {"weird": 1},
        },
    }
    health = summarize_health(URL, 503, body)
    assert health.status == "unhealthy" and not health.healthy and health.reachable
    assert health.checks == {
        "postgresql": "ok", "rabbitmq": "ok", "ticket-service": "ok",
        "routing-service": "unhealthy (database: down)", "analytics-service": "down",
        "ai-categorization-service": "unknown",
    }


def test_status_missing_falls_back_to_http_code():
    assert summarize_health(URL, 200, {"services": ["a"]}).status == "healthy"
    assert summarize_health(URL, 503, {}).status == "unhealthy"
    assert summarize_health(URL, 200, {"services": ["a"]}).checks == {"a": "listed"}


def test_service_health_shape_is_read_too():
    body = {"service": "x", "status": "healthy", "checks": {"database": "ok", "broker": "ok"}}
    assert summarize_health(URL, 200, body).checks == {"database": "ok", "broker": "ok"}


def test_not_an_object():
    health = summarize_health(URL, 200, ["ok"])
    assert health.status == "invalid" and health.error


def test_the_gateways_own_shape():
    """api-gateway's Health: services carry their status and their own /health checks."""
    body = {"status": "unhealthy", "postgresql": "down", "rabbitmq": "ok", "services": {
        "ticket-service": {"status": "healthy", "checks": {"database": "ok", "broker": "ok"}},
        "routing-service": {"status": "unhealthy", "checks": {"database": "down", "broker": "ok"}},
        "analytics-service": {"status": "unreachable", "checks": {}},
    }}
    health = summarize_health(URL, 503, body)
    assert health.checks == {
        "postgresql": "down", "rabbitmq": "ok", "ticket-service": "healthy",
        "routing-service": "unhealthy (database: down)", "analytics-service": "unreachable",
    }
