"""Settings: defaults, the plain service URL names and the GATEWAY_ prefix."""
from api_gateway.config import GatewaySettings


def test_defaults(monkeypatch):
    for name in ("TICKET_SERVICE_URL", "AI_SERVICE_URL", "ROUTING_SERVICE_URL",
                 "ANALYTICS_SERVICE_URL", "GATEWAY_PORT"):
        monkeypatch.delenv(name, raising=False)

    s = GatewaySettings()

    assert s.port == 5000
    assert s.service_urls() == {
        "ticket-service": "http://127.0.0.1:5001",
        "ai-categorization-service": "http://127.0.0.1:5002",
        "routing-service": "http://127.0.0.1:5003",
        "analytics-service": "http://127.0.0.1:5004",
        "integration-service": "http://127.0.0.1:5005",
    }
    assert (s.connect_timeout_s, s.read_timeout_s, s.categorize_timeout_s) == (1.0, 5.0, 15.0)
    assert (s.breaker_fail_max, s.breaker_reset_s) == (5, 15.0)


def test_environment(monkeypatch):
    monkeypatch.setenv("TICKET_SERVICE_URL", "http://tickets:8001")
    monkeypatch.setenv("AI_SERVICE_URL", "http://ai:8002")
    monkeypatch.setenv("ROUTING_SERVICE_URL", "http://routing:8003")
    monkeypatch.setenv("ANALYTICS_SERVICE_URL", "http://analytics:8004")
    monkeypatch.setenv("INTEGRATION_SERVICE_URL", "http://integration:8005")
    monkeypatch.setenv("GATEWAY_PORT", "8080")
    monkeypatch.setenv("GATEWAY_READ_TIMEOUT_S", "2.5")
    monkeypatch.setenv("GATEWAY_BREAKER_FAIL_MAX", "9")
    monkeypatch.setenv("RABBITMQ_URL", "amqp://u:p@mq:5672/%2F")
    monkeypatch.setenv("PORT", "1")                     # not ours: the prefix is GATEWAY_

    s = GatewaySettings()

    assert list(s.service_urls().values()) == [
        "http://tickets:8001", "http://ai:8002", "http://routing:8003", "http://analytics:8004",
        "http://integration:8005"]
    assert (s.port, s.read_timeout_s, s.breaker_fail_max) == (8080, 2.5, 9)
    assert s.rabbitmq_url == "amqp://u:p@mq:5672/%2F"
