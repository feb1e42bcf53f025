"""Every event delivered three times to competing consumers, then a DLQ replayed: the final state
is the one a single delivery gives."""
from __future__ import annotations

from collections import Counter

import orjson
import pytest

from support_shared.db import make_engine
from support_shared.messaging.connection import connect
from support_shared.messaging.publisher import Publisher
from support_shared.messaging.topology import Topology
from support_shared.relay import OutboxRelay
from support_shared.testing.helpers import wait_until
from support_shared.testing.pipeline import PUBLISHERS, TEXTS
from support_shared.messaging import dlq

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

RELAYS = ["ticket-relay", "ai-relay", "routing-relay"]
DUPLICATE_DROPPED = ("already", "duplicate event")
COPIES = 3


class TriplingPublisher(Publisher):
    """The relay's publisher, publishing (and confirming) every outbox row three times."""

    def publish_many(self, messages):
        outcome = super().publish_many(messages)
        for _ in range(COPIES - 1):
            copy = super().publish_many(messages)
            if copy.error is not None or copy.refused:
                return copy
        return outcome


def _departments(suite, ids: list[int]) -> dict[int, str]:
    rows = suite.sql("ticket", "SELECT id, department FROM tickets WHERE id = ANY(:ids)",
                     ids=ids)
    return {r.id: r.department for r in rows}


def _text_of(n: int) -> str:
    return TEXTS[n % len(TEXTS)][0]


def _tripling_relays(suite) -> list[OutboxRelay]:
    topology = Topology(suite.env["EVENT_EXCHANGE"], suite.env["DEAD_LETTER_EXCHANGE"])
    return [OutboxRelay(make_engine(suite.database_url, suite.schema(short)),
                        TriplingPublisher(suite.rabbitmq_url, topology, "tripling-relay"),
                        schema=suite.schema(short)) for short in PUBLISHERS]


def _dead_letter_copies(suite, since) -> dict[str, int]:
    """Put a copy of every routed/categorized event of this test into its consumer's DLQ, the
    way the consumer dead-letters (DLX, key = queue, x-original-queue); returns counts."""
    injected: Counter = Counter()
    for short, key, consumer in (("ai", "ticket.categorized", "routing-service"),
                                 ("routing", "ticket.routed", "ticket-service")):
        queue = suite.queue(consumer, key)
        for row in suite.sql(short, "SELECT event_id, payload, headers FROM outbox WHERE "
                             "routing_key = :k AND (payload->>'ticket_id')::bigint > :i",
                             k=key, i=since.max_ticket_id):
            headers = {**row.headers, "x-error-type": "TransientError", "x-original-queue": queue,
                       "x-error-reason": "injected by the fault test"}
            suite.publish_raw(queue, orjson.dumps(row.payload), exchange=suite.env["DEAD_LETTER_EXCHANGE"],
                              message_id=str(row.event_id), headers=headers)
            injected[f"{queue}.dlq"] += 1
    return dict(injected)


def _control(suite) -> dict[str, str]:
    """Department per ticket text after a plain, single delivery."""
    ids = suite.create_tickets(25)
    wait_until(lambda: all(_departments(suite, ids).values()), timeout=60,
               message="control tickets routed")
    first = _departments(suite, ids)
    return {_text_of(n): first[tid] for n, tid in enumerate(ids)}


def _pump_tripled(suite, accepted: list[int]) -> None:
    """Run the tripling relays until every ticket is routed and every outbox is published."""
    relays = _tripling_relays(suite)

    def pump() -> bool:
        for relay in relays:
            relay.publish_pending()
        return all(_departments(suite, accepted).values()) and not any(suite.backlogs().values())

    try:
        wait_until(pump, timeout=120, interval=0.2, message="tripled events processed")
    finally:
        for relay in relays:
            relay.publisher.close()
            relay.engine.dispose()


def _replay_all(suite, queues: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """``ticketctl dlq replay --all`` on each queue: replayed counts, and what is left."""
    topology = Topology(suite.env["EVENT_EXCHANGE"], suite.env["DEAD_LETTER_EXCHANGE"])
    connection = connect(suite.rabbitmq_url, "fault-test-replay")
    try:
        replayed = {q: dlq.replay(connection, q, topology).replayed for q in queues}
        return replayed, suite.depths(queues)
    finally:
        connection.close()


def test_triple_delivery_and_a_dlq_replay_change_nothing(suite, figures):
    control = _control(suite)
    since, marks = suite.baseline(), suite.log_marks()
    for name in RELAYS:
        suite.suite.kill(name)
    for service in ("ai-categorization-service", "routing-service", "ticket-service",
                    "analytics-service"):
        suite.add_process(service, "consumer")   # duplicates now race on competing consumers
    accepted = suite.create_tickets(25)
    _pump_tripled(suite, accepted)
    injected = _dead_letter_copies(suite, since)
    replayed, left = _replay_all(suite, sorted(injected))
    for name in RELAYS:
        suite.suite.start_process(name)

    audit = suite.audit(accepted, since, timeout=60)
    after = _departments(suite, accepted)
    dropped = suite.grep_logs(*DUPLICATE_DROPPED, since=marks)
    figures("duplicate-delivery", sent=len(accepted), accepted=len(accepted), lost=len(audit.lost),
            duplicated=audit.duplicated, copies=COPIES, dlq_replayed=sum(replayed.values()),
            duplicate_deliveries_dropped=dropped)
    audit.assert_exactly_once()
    assert replayed == injected and not any(left.values()), (replayed, injected, left)
    assert {_text_of(n): after[i] for n, i in enumerate(accepted)} == control
    # 25 tickets x (ticket.created to 3 consumers + categorized to 2 + routed to 2) x 2 extra
    # copies, plus the replayed ones: every one of them found its inbox claim.
    assert dropped >= 2 * len(accepted) * 7 + sum(replayed.values())
