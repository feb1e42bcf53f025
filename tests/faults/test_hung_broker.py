"""A broker that hangs (sockets open, nothing answers): only AMQP heartbeats can tell, so the
relays and consumers must notice within two heartbeat periods (15 s at most with the default)
and carry on afterwards. And an
event no queue is bound for is kept in the unroutable queue, not dropped."""
from __future__ import annotations

import re
import time
from datetime import datetime

import orjson
import pytest

from support_shared.events import EventType, TicketStatusUpdated, new_event
from support_shared.messaging.connection import DEFAULT_HEARTBEAT_S
from support_shared.messaging.publisher import Publisher
from support_shared.messaging.topology import Topology
from support_shared.testing.helpers import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

HEARTBEAT_S = DEFAULT_HEARTBEAT_S  # the suite runs with the AMQP_HEARTBEAT default
LOST = {"ticket-relay": "broker unavailable", "ticket-consumer": "broker connection lost",
        "routing-consumer": "broker connection lost", "analytics-consumer": "broker connection lost"}
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")


def _first_at(text: str, needle: str) -> float | None:
    for line in text.splitlines():
        if needle in line and (m := _STAMP.match(line)):
            return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return None


def test_hung_broker_is_noticed_by_heartbeats_and_nothing_is_lost(suite, throwaway_rabbit,
                                                                   figures):
    since, marks = suite.baseline(), suite.log_marks()
    accepted = suite.create_tickets(10)
    frozen_at = time.time()
    throwaway_rabbit.freeze()             # SIGSTOP: no RST, no FIN, the kernel still ACKs
    try:
        # A process that (re)connects now gets TCP but never the AMQP handshake.
        suite.suite.restart("ai-relay")
        accepted += suite.create_tickets(20, start=10)   # their relay blocks awaiting confirms

        def noticed() -> dict[str, float]:
            logs = suite.logs(since=marks)
            seen = {n: _first_at(logs.get(f"{n}.log", ""), needle) for n, needle in LOST.items()}
            return seen if all(seen.values()) else {}

        seen = wait_until(noticed, timeout=4 * HEARTBEAT_S, interval=0.5,
                          message="every process noticed the hung broker")
        assert not suite.suite.dead(), "a process gave up on the hung broker"
    finally:
        throwaway_rabbit.thaw()
    audit = suite.audit(accepted, since, timeout=120)
    detection = {name: round(at - frozen_at, 1) for name, at in seen.items()}
    figures("hung-broker", sent=len(accepted), accepted=len(accepted), lost=len(audit.lost),
            duplicated=audit.duplicated, heartbeat_s=HEARTBEAT_S,
            noticed_after_s=max(detection.values()),
            **{f"noticed_{k.replace('-', '_')}": v for k, v in detection.items()})
    audit.assert_exactly_once()
    # The connections check every heartbeat whether anything arrived since the last check
    # (a live broker sends a frame every heartbeat / 2), so a silent peer is noticed at the
    # second check at the latest: 2 heartbeats, plus scheduling on a busy machine.
    assert max(detection.values()) <= 2 * HEARTBEAT_S + 5, detection
    assert 2 * HEARTBEAT_S + 5 <= 15


def test_event_nobody_consumes_is_kept_as_unroutable(suite, figures):
    topology = Topology(suite.env["EVENT_EXCHANGE"], suite.env["DEAD_LETTER_EXCHANGE"])
    event = new_event(EventType.TICKET_STATUS_UPDATED,
                      TicketStatusUpdated(old_status="pending", new_status="closed"),
                      tenant_id="default", ticket_id=1, ticket_version=9)
    before = suite.depths([topology.unroutable_queue])[topology.unroutable_queue]
    publisher = Publisher(suite.rabbitmq_url, topology, "fault-test-relay")
    try:  # what a relay does, with a routing key no queue is bound to: confirmed, not returned
        publisher.publish("ticket.merged", orjson.dumps(event.model_dump(mode="json")),
                          message_id=str(event.event_id))
    finally:
        publisher.close()
    wait_until(lambda: suite.depths([topology.unroutable_queue])[topology.unroutable_queue]
               == before + 1, timeout=5, message="event kept in the unroutable queue")
    figures("unroutable", sent=1, kept=1, lost=0, duplicated=0)
