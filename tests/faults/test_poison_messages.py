"""Ten poison messages among a thousand good ones: each poison copy lands in its queue's DLQ with
the reason, within the delivery limit; every good one is processed."""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timezone

import orjson
import pytest

from support_shared.messaging import dlq
from support_shared.messaging.connection import connect
from support_shared.messaging.dead_letters import DeadMessage
from support_shared.messaging.topology import Topology
from support_shared.testing.helpers import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

STATUSES = ("in_progress", "resolved", "closed", "in_progress")
TOO_BIG = 2**63  # passes the envelope's validation, fails every bigint column: a crash, not a reject


def _envelope(event_type: str, ticket_id: int, data: dict, **over) -> dict:
    env = {"event_id": str(uuid.uuid4()), "event_type": event_type, "schema_version": 1,
           "occurred_at": datetime.now(timezone.utc).isoformat(), "tenant_id": "default",
           "ticket_id": ticket_id, "ticket_version": 1, "data": data}
    env.update(over)
    return env


def _status(ticket_id: int, version: int, new: str) -> dict:
    return _envelope("ticket.status.updated", ticket_id,
                     {"old_status": "pending", "new_status": new}, ticket_version=version)


def _categorized(ticket_id: int, **over) -> dict:
    return _envelope("ticket.categorized", ticket_id, {"department": "HR", "priority": "low",
                     "confidence": 0.9, "method": "keywords"}, **over)


def _poisons(real_id: int) -> list[tuple[str, str, bytes | dict, dict[str, str]]]:
    """(name, routing key, body, {consumer service whose queue gets it: who dead-letters it})."""
    created = {"title": "t", "description": "d", "user_name": "u", "user_email": "u@example.com",
               "priority": "low", "created_at": datetime.now(timezone.utc).isoformat()}
    no_title = {k: v for k, v in created.items() if k != "title"}
    a, r, t, n = ("ai-categorization-service", "routing-service", "ticket-service",
                  "analytics-service")
    c, b = "consumer", "broker"  # who dead-letters it: the consumer at once, or the delivery limit
    return [
        ("not-json", "ticket.status.updated", b"{not json", {r: c, n: c}),
        ("json-array", "ticket.status.updated", b"[1, 2]", {r: c, n: c}),
        ("no-event-id", "ticket.routed", {"event_type": "ticket.routed"}, {t: c, n: c}),
        ("future-schema", "ticket.created", _envelope("ticket.created", real_id, created,
                                                       schema_version=99), {a: c, r: c, n: c}),
        ("bad-status", "ticket.status.updated", _status(real_id, 50, "exploded"),
         {r: c, n: c}),
        ("no-title", "ticket.created", _envelope("ticket.created", real_id, no_title),
         {a: c, r: c, n: c}),
        ("unknown-ticket", "ticket.routed", _envelope("ticket.routed", 999_999_999, {
            "department": "HR", "method": "auto", "routing_version": 1}), {t: c}),
        ("bigint-status", "ticket.status.updated", _status(TOO_BIG, 2, "closed"),
         {r: b, n: b}),
        ("bigint-categorized", "ticket.categorized", _categorized(TOO_BIG),
         {r: b, n: b}),
        ("long-tenant", "ticket.categorized", _categorized(real_id, tenant_id="x" * 65),
         {r: c, n: c}),
    ]


def _good_events(ids: list[int]) -> tuple[list[tuple], dict[int, str]]:
    """20 status updates per ticket, versions rising; and each ticket's last status."""
    good, final = [], {}
    for k in range(20):
        for tid in ids:
            status = STATUSES[k % len(STATUSES)]
            env = _status(tid, 100 + k, status)
            good.append(("ticket.status.updated", orjson.dumps(env), env["event_id"], None))
            final[tid] = status
    return good, final


def _mixed(good: list[tuple], poisons: list[tuple]) -> list[tuple]:
    messages = list(good)
    for i, (name, key, body, _where) in enumerate(poisons):
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        messages.insert(50 + i * 100, (key, raw, f"poison-{name}", None))
    return messages


def test_poison_messages_go_to_their_dlqs_and_good_ones_through(suite, figures):
    since, marks = suite.baseline(), suite.log_marks()
    ids = suite.create_tickets(50)
    wait_until(lambda: all(suite.stored(since).values()), timeout=60, message="tickets routed")
    good, final = _good_events(ids)
    poisons = _poisons(ids[0])
    suite.publish_batch(_mixed(good, poisons))

    expected = Counter(f"{suite.queue(service, key)}.dlq"
                       for _name, key, _body, where in poisons for service in where)
    wait_until(lambda: suite.depths(sorted(expected)) == dict(expected), timeout=90,
               interval=0.5, message="every poison copy dead-lettered")
    suite.wait_drained(timeout=60)

    found = _dead_letters(suite, sorted(expected))
    logged = {r[0] for r in suite.sql("analytics", "SELECT event_id::text FROM event_log WHERE "
                                      "event_id::text = ANY(:ids)", ids=[g[2] for g in good])}
    statuses = dict(suite.sql("analytics", "SELECT ticket_id, status FROM ticket_facts "
                              "WHERE ticket_id = ANY(:ids)", ids=ids))
    crashes = {name: suite.grep_logs(f"handler crashed on event {body['event_id']}", since=marks)
               for name, _key, body, where in poisons if "broker" in where.values()}
    figures("poison", sent=len(good) + len(poisons), good=len(good), poison=len(poisons),
            good_processed=len(logged), lost=len(good) - len(logged), duplicated=0,
            dead_lettered=sum(expected.values()), crash_deliveries=sum(crashes.values()))
    assert len(logged) == len(good)
    assert statuses == final
    _assert_dead_lettered_with_reason(suite, poisons, found, crashes)


def _assert_dead_lettered_with_reason(suite, poisons, found, crashes) -> None:
    limit = int(suite.env.get("DELIVERY_LIMIT", 5))
    for name, key, _body, where in poisons:
        for service, by in where.items():
            message = found[(f"{suite.queue(service, key)}.dlq", f"poison-{name}")]
            if by == "consumer":   # the consumer gave up at once and said why
                assert message.error_type and message.error_reason, (name, message.headers)
            else:                  # the handler crashed each time: the delivery limit ended it
                assert message.deaths and message.deaths[0].reason == "delivery_limit", name
        if name in crashes:        # per consumer: the first delivery + `limit` redeliveries
            assert len(where) <= crashes[name] <= len(where) * (limit + 1), (name, crashes[name])


def _dead_letters(suite, dlqs: list[str]) -> dict[tuple[str, str], DeadMessage]:
    topology = Topology(suite.env["EVENT_EXCHANGE"], suite.env["DEAD_LETTER_EXCHANGE"])
    connection = connect(suite.rabbitmq_url, "fault-test-peek")
    try:
        return {(q, m.message_id): m for q in dlqs
                for m in dlq.peek(connection, q, topology, limit=100)}
    finally:
        connection.close()
