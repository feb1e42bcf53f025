"""Settings from the environment, where outboxes live, URL handling and queue rules (no I/O)."""
import pytest

from support_shared.messaging.dead_letters import QueueRefused
from support_shared.messaging.management import Management
from support_shared.messaging.topology import Topology
from support_shared.messaging.dlq import redact
from ticketctl.config import CtlSettings
from ticketctl.database import DEFAULT_DATABASE_URL, targets
from support_shared.messaging.dlq import check_dead_letter_queue, original_queue_of


def test_settings_read_the_services_variables(monkeypatch):
    monkeypatch.setenv("RABBITMQ_URL", "amqp://u:p@broker:5672/support")
    monkeypatch.setenv("EVENT_EXCHANGE", "tickets.x")
    monkeypatch.setenv("DEAD_LETTER_EXCHANGE", "tickets.x.dlx")
    monkeypatch.setenv("QUEUE_PREFIX", "x.")
    monkeypatch.setenv("RABBITMQ_MANAGEMENT_URL", "http://u:p@broker:15672")
    monkeypatch.setenv("GATEWAY_URL", "http://gw:8000")
    s = CtlSettings()
    assert s.vhost == "support"
    assert (s.topology.exchange, s.topology.dead_letter_exchange) == ("tickets.x", "tickets.x.dlx")
    assert s.topology.unroutable_queue == "tickets.x.unroutable"
    assert (s.queue_prefix, s.management_url, s.gateway_url) == (
        "x.", "http://u:p@broker:15672", "http://gw:8000")


def test_defaults(monkeypatch):
    for name in ("RABBITMQ_URL", "RABBITMQ_MANAGEMENT_URL", "GATEWAY_URL", "EVENT_EXCHANGE"):
        monkeypatch.delenv(name, raising=False)
    s = CtlSettings()
    assert s.vhost == "/" and s.topology.exchange == "tickets"
    assert s.management_url == "http://guest:guest@127.0.0.1:15672"
    assert s.gateway_url == "http://127.0.0.1:5000"


def test_outbox_targets_use_the_service_prefixes_and_default_schemas():
    env = {"AI_SERVICE_DATABASE_URL": "postgresql+psycopg2://u:pw@db/ai",
           "ROUTING_SERVICE_DB_SCHEMA": "routing_x"}
    got = {t.service: (t.database_url, t.schema) for t in targets(env)}
    assert got == {
        "ticket-service": (DEFAULT_DATABASE_URL, "ticket_service"),
        "ai-categorization-service": ("postgresql+psycopg2://u:pw@db/ai", "ai_categorization"),
        "routing-service": (DEFAULT_DATABASE_URL, "routing_x"),
    }
    assert [t.service for t in targets(env, ["routing-service"])] == ["routing-service"]
    (ai,) = targets(env, ["ai-categorization-service"])
    assert ai.database == "postgresql+psycopg2://u:***@db/ai"


def test_redact_hides_only_the_password():
    assert redact("amqp://guest:secret@host:5672/%2F") == "amqp://guest:***@host:5672/%2F"
    assert redact("http://host:15672") == "http://host:15672"


def test_management_takes_credentials_out_of_the_url():
    m = Management("http://ops:p%40ss@rabbit:15672/", "/", timeout_s=4)
    assert m.auth == ("ops", "p@ss")
    assert m.base == "http://rabbit:15672"
    assert m.timeout == (3.05, 4)


@pytest.mark.parametrize("queue", ["svc.ticket.created.dlq", "tickets.unroutable"])
def test_dead_letter_queues_are_allowed(queue):
    check_dead_letter_queue(queue, Topology())


@pytest.mark.parametrize("queue", ["svc.ticket.created", "tickets.dlx", "x.dlq.old",
                                   "other.unroutable"])
def test_live_queues_are_refused(queue):
    with pytest.raises(QueueRefused, match="only dead-letter queues"):
        check_dead_letter_queue(queue, Topology())


def test_original_queue_of():
    assert original_queue_of("a.b.dlq") == "a.b"
    assert original_queue_of("tickets.unroutable") is None
