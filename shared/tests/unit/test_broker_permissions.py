"""Broker users derived from the suite manifest, and the shipped definitions file."""
import json
import re
from pathlib import Path

from support_shared.events import EventType
from support_shared.manifest import SUITE, Consumes, Service, Suite
from support_shared.messaging import permissions

DEFINITIONS = Path(__file__).resolve().parents[3] / "deploy" / "rabbitmq" / "definitions.json"


def _by_name(users):
    return {u.name: u for u in users}


def _matches(pattern: str, name: str) -> bool:
    return re.fullmatch(pattern, name) is not None


def test_every_service_on_the_broker_gets_one_user_and_the_gateway_none():
    names = set(_by_name(permissions.users()))
    assert names == {s.name for s in SUITE.services if s.consumes or s.publishes} | {
        "operator", "monitoring", "admin"}
    assert "api-gateway" not in names and "guest" not in names


def test_a_service_reads_only_its_own_queues_and_configures_nothing():
    users = _by_name(permissions.users(queue_prefix="staging."))
    for service in SUITE.consumers:
        user = users[service.name]
        assert user.configure == permissions.NOTHING and user.tags == ""
        for name in SUITE.queues("staging."):
            assert _matches(user.read, name) == (name in service.queues("staging."))
            assert not _matches(user.read, name + ".dlq")
        assert not _matches(user.read, "tickets") and not _matches(user.write, "amq.default")
        assert _matches(user.write, "tickets.dlx")              # dead-letters its poison messages
        assert _matches(user.write, "tickets") == service.publishes   # only a relay publishes


def test_operator_reads_only_dead_letters_and_replays_through_the_default_exchange():
    operator = _by_name(permissions.users())["operator"]
    assert operator.configure == permissions.NOTHING
    for queue in SUITE.queues():
        assert _matches(operator.read, queue + ".dlq") and not _matches(operator.read, queue)
    assert _matches(operator.read, "tickets.unroutable")
    assert _matches(operator.write, "amq.default") and _matches(operator.write, "tickets")


def test_a_service_added_to_the_manifest_gets_its_user():
    extra = Service("billing-service", "billing_service", "billing", "BILLING_", 5009,
                    schema="billing", commands=("web", "relay", "consumer"),
                    consumes=(Consumes(EventType.TICKET_CREATED, "billing_service.h:handle"),))
    users = _by_name(permissions.users(Suite(services=(*SUITE.services, extra))))
    assert _matches(users["billing-service"].read, "billing-service.ticket.created")
    assert not _matches(users["routing-service"].read, "billing-service.ticket.created")
    assert _matches(users["operator"].read, "billing-service.ticket.created.dlq")


def test_password_hash_is_rabbitmqs_salted_sha256():
    # The example of RabbitMQ's "passwords" guide: salt 908D C60A, password "test12".
    assert permissions.password_hash("test12", bytes.fromhex("908DC60A")) == \
        "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"


def test_shipped_definitions_match_the_manifest():
    shipped = json.loads(DEFINITIONS.read_text())
    expected = permissions.definitions(permissions.users())
    assert shipped["vhosts"] == expected["vhosts"]
    assert shipped["permissions"] == expected["permissions"], (
        "regenerate: python -m support_shared.messaging.permissions --out " + str(DEFINITIONS))
    strip = [{k: v for k, v in u.items() if k != "password_hash"} for u in shipped["users"]]
    assert strip == [{k: v for k, v in u.items() if k != "password_hash"}
                     for u in expected["users"]]
    for user in shipped["users"]:   # the development passwords compose and docs name
        assert permissions.hash_matches(user["password_hash"],
                                        permissions.dev_password(user["name"])), user["name"]
