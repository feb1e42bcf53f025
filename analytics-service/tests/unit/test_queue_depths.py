"""Queue depth reading: names, management API answers, caching; with a fake HTTP session."""
from __future__ import annotations

import pytest
import requests

from analytics_service.queue_depths import QueueDepths, WatchedQueue, suite_queues
from support_shared.manifest import SUITE
from support_shared.messaging.management import Management


class FakeResponse:
    def __init__(self, status: int, body: object) -> None:
        self.status_code = status
        self._body = body

    def json(self) -> object:
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


class FakeSession:
    """Answers every GET with the next of ``answers`` and records what was asked."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls: list[dict] = []

    def get(self, url: str, **kw) -> FakeResponse:
        self.calls.append({"url": url, **kw})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


QUEUES = [WatchedQueue("routing-service", "ticket.created", "p.routing-service.ticket.created"),
          WatchedQueue("ticket-service", "ticket.routed", "p.ticket-service.ticket.routed")]


def _depths(session: FakeSession, clock=lambda: 0.0, cache_s: float = 3.0) -> QueueDepths:
    management = Management("http://ops:s3cret@mq.local:15672/", "/", 2.0, session=session)
    return QueueDepths(management, QUEUES, "tickets.unroutable", cache_s=cache_s, clock=clock)


def test_suite_queues_are_the_manifests_subscriptions_under_the_prefix():
    queues = suite_queues("t1.")
    names = [q.name for q in queues]
    assert names == SUITE.queues("t1.") and len(set(names)) == len(names)
    assert "t1.ai-categorization-service.ticket.routed" in names
    assert "t1.ai-categorization-service.ticket.created" in names
    assert "t1.ai-categorization-service.department.changed" in names
    assert "t1.analytics-service.ticket.status.updated" in names
    assert {(q.service, q.routing_key) for q in queues} == {
        (service, c.routing_key) for service, c in SUITE.subscriptions()}
    assert all(q.dlq == q.name + ".dlq" for q in queues)


def test_rows_become_depths_and_totals():
    session = FakeSession(FakeResponse(200, [
        {"name": "p.routing-service.ticket.created", "messages": 3, "messages_ready": 2,
         "messages_unacknowledged": 1, "consumers": 1},
        {"name": "p.routing-service.ticket.created.dlq", "messages": 4},
        {"name": "p.ticket-service.ticket.routed"},  # declared, no stats published yet
        {"name": "tickets.unroutable", "messages": 1},
        {"name": "someone-else", "messages": 99},
    ]))
    body = _depths(session).snapshot()
    assert body["available"] is True
    assert body["totals"] == {"messages": 3, "dead_letters": 4}
    assert body["unroutable"] == {"name": "tickets.unroutable", "messages": 1}
    first, second = body["queues"]
    assert first["messages_ready"] == 2 and first["dead_letters"] == 4 and first["exists"] is True
    assert second["exists"] is True and second["messages"] is None and second["dead_letters"] is None
    call = session.calls[0]
    assert call["url"] == ("http://mq.local:15672/api/queues/%2F"
                           "?columns=name,messages,messages_ready,messages_unacknowledged,consumers")
    assert call["auth"] == ("ops", "s3cret") and call["timeout"]


def test_answers_are_cached_for_the_period():
    now = [100.0]
    session = FakeSession(FakeResponse(200, []), FakeResponse(200, []))
    depths = _depths(session, clock=lambda: now[0])
    first = depths.snapshot()
    now[0] += 2.9
    assert depths.snapshot() is first and len(session.calls) == 1
    now[0] += 0.2
    assert depths.snapshot() is not first and len(session.calls) == 2


@pytest.mark.parametrize("answer,reason", [
    (requests.ConnectTimeout("boom"), "unreachable: boom"),
    (FakeResponse(401, {}), "refused the login (HTTP 401)"),
    (FakeResponse(404, {}), "has no vhost '/'"),
    (FakeResponse(500, {}), "answered HTTP 500"),
    (FakeResponse(200, ValueError("not json")), "did not answer JSON"),
    (FakeResponse(200, {"error": "x"}), "did not answer a queue list"),
])
def test_failures_are_unavailable_without_credentials(answer, reason):
    body = _depths(FakeSession(answer), cache_s=0).snapshot()
    assert body["available"] is False
    assert reason in body["reason"] and "mq.local:15672" in body["reason"]
    assert "s3cret" not in body["reason"] and "ops" not in body["reason"]


def test_depths_are_exported_as_prometheus_gauges():
    from prometheus_client import CollectorRegistry, generate_latest

    from analytics_service.queue_depths import QueueCollector

    session = FakeSession(FakeResponse(200, [
        {"name": "p.routing-service.ticket.created", "messages": 3, "consumers": 0},
        {"name": "p.routing-service.ticket.created.dlq", "messages": 4},
        {"name": "tickets.unroutable", "messages": 1},
    ]), requests.ConnectionError("refused"))
    now = [0.0]
    registry = CollectorRegistry()
    registry.register(QueueCollector(_depths(session, clock=lambda: now[0])))
    text = generate_latest(registry).decode()
    labels = 'queue="p.routing-service.ticket.created",service="routing-service"'
    assert f"queue_messages{{{labels}}} 3.0" in text
    assert f"queue_consumers{{{labels}}} 0.0" in text
    assert f"queue_dead_letters{{{labels}}} 4.0" in text
    assert "queue_unroutable_messages 1.0" in text and "queue_depths_available 1.0" in text
    assert "p.ticket-service.ticket.routed" not in text        # no stats yet: no sample
    now[0] += 10
    text = generate_latest(registry).decode()
    assert "queue_depths_available 0.0" in text and "queue_messages{" not in text
