"""Consumers built from the manifest: handlers resolved by name, dependencies injected."""
import inspect

import pytest

from support_shared.config import ServiceSettings
from support_shared.events import PAYLOAD_TYPES, EventType
from support_shared.manifest import SUITE, Consumes
from support_shared.messaging.wiring import WiringError, build_consumer, inject, resolve


def handler_with_deps(envelopes, *, uow, clock=None):
    uow.append((list(envelopes), clock))


def test_inject_gives_each_call_fresh_dependencies():
    made = []

    def new_uow():
        made.append([])
        return made[-1]

    handler = inject(handler_with_deps, {"uow": new_uow})
    handler(["a"])
    handler(["b", "c"])
    assert made == [[(["a"], None)], [(["b", "c"], None)]]


def test_a_dependency_the_service_does_not_provide_fails_at_build_time():
    with pytest.raises(WiringError, match="uow"):
        inject(handler_with_deps, {"clock": lambda: None})


def test_an_unknown_handler_name_fails_at_build_time():
    with pytest.raises(WiringError):
        resolve("support_shared.events:no_such_handler")


def test_every_handler_in_the_manifest_resolves_and_takes_a_batch():
    for _service, consumes in SUITE.subscriptions():
        params = list(inspect.signature(resolve(consumes.handler)).parameters.values())
        assert params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD     # the batch
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:])   # injected


def test_a_service_consumer_has_exactly_the_manifest_subscriptions():
    settings = ServiceSettings(queue_prefix="p.")
    spec = SUITE.service("routing-service")
    consumer = build_consumer("routing-service", settings, None, {"uow": list})
    assert consumer.queues == spec.queues("p.")
    assert [s.payload_type for s in consumer.subscriptions] == [
        PAYLOAD_TYPES[c.event] for c in spec.consumes]


def test_processes_and_queues_are_named_from_the_manifest():
    names = [p.name for p in SUITE.processes]
    assert "routing-consumer" in names and "gateway" in names and "analytics-relay" not in names
    assert SUITE.process("ai-consumer").service == "ai-categorization-service"
    assert Consumes(EventType.TICKET_ROUTED, "x:y").routing_key == "ticket.routed"
    assert "ai-categorization-service.ticket.routed" in SUITE.queues()
