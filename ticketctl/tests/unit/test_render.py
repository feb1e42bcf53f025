"""Text and JSON output of every command, from hand-built results (no I/O)."""
import json

import pika

from support_shared.commands import to_json
from support_shared.messaging.topology import Topology
from support_shared.relay import OutboxStatus
from ticketctl import render
from support_shared.messaging.dlq import Outcome, QueueDepth, ReplayResult
from support_shared.messaging.dead_letters import DeadMessage, ReplayTarget
from ticketctl.outbox import OutboxReport
from ticketctl.status import GatewayHealth, QueueRow

TOPOLOGY = Topology(exchange="tickets", dead_letter_exchange="tickets.dlx")


def _message(**headers):
    body = (b'{"event_id": "e-1", "event_type": "ticket.created", "ticket_id": 7,'
            b' "tenant_id": "acme"}')
    props = pika.BasicProperties(message_id="e-1", headers=headers)
    return DeadMessage.from_delivery("svc.ticket.created.dlq", "svc.ticket.created", props, body,
                                     TOPOLOGY)


def test_table_aligns_columns_and_right_aligns_numbers():
    out = render.table(("NAME", "N"), [("a", 5), ("longer", 123), ("none", None)], numeric=(1,))
    assert out.splitlines() == [
        "NAME      N",
        "a         5",
        "longer  123",
        "none      -",
    ]


def test_dlq_list_shows_counts_origin_and_total():
    out = render.render_dlq_list([QueueDepth("svc.ticket.created.dlq", 3, 0),
                                  QueueDepth("tickets.unroutable", 1, 0)])
    lines = out.splitlines()
    assert lines[0].split() == ["QUEUE", "MESSAGES", "CONSUMERS", "FROM"]
    assert lines[1].split() == ["svc.ticket.created.dlq", "3", "0", "svc.ticket.created"]
    assert lines[2].split() == ["tickets.unroutable", "1", "0", "(unroutable)"]
    assert lines[-1] == "4 dead message(s) in 2 queue(s)"
    assert render.render_dlq_list([]) == "no dead-letter queues found"
    assert render.depth_dict(QueueDepth("x.dlq", 2, 1)) == {
        "queue": "x.dlq", "messages": 2, "consumers": 1, "original_queue": "x"}


def test_show_prints_every_header_an_operator_needs():
    msg = _message(**{
        "x-error-type": "PermanentError", "x-error-reason": "no such department",
        "x-original-queue": "svc.ticket.created", "x-failed-at": "2026-03-01T11:00:00+00:00",
        "x-death": [{"reason": "rejected", "count": 2, "queue": "svc.ticket.created"}],
        "x-replay-count": 1,
    })
    out = render.render_messages("svc.ticket.created.dlq", [msg])
    assert out.splitlines()[0] == "[1] event e-1  ticket.created  ticket 7  tenant acme"
    for expected in ("x-error-type      PermanentError", "x-error-reason    no such department",
                     "x-original-queue  svc.ticket.created",
                     "x-failed-at       2026-03-01T11:00:00+00:00",
                     "x-death           rejected x2 from svc.ticket.created",
                     "x-replay-count    1", "replay to         svc.ticket.created"):
        assert expected in out
    assert out.endswith("1 message(s) shown from svc.ticket.created.dlq; all were put back")
    assert render.render_messages("q.dlq", []) == "q.dlq: no messages"


def test_show_marks_missing_headers_with_a_dash():
    out = render.render_message(1, _message())
    assert "x-error-type      -" in out and "x-death           -" in out


def test_replay_summary_and_json():
    target = ReplayTarget("", "svc.ticket.created")
    result = ReplayResult("svc.ticket.created.dlq", [
        Outcome(_message(), "replayed", target),
        Outcome(_message(), "failed", target, "svc.ticket.created does not exist (unroutable)"),
        Outcome(_message(), "skipped", target, "not selected"),
    ])
    out = render.render_replay(result).splitlines()
    assert out[0] == "replayed  e-1 -> svc.ticket.created"
    assert out[1] == ("failed    e-1 -> svc.ticket.created"
                      "  (svc.ticket.created does not exist (unroutable))")
    assert out[-1] == "replayed 1, skipped 1, failed 1 (from svc.ticket.created.dlq)"
    data = render.replay_dict(result)
    assert (data["replayed"], data["skipped"], data["failed"]) == (1, 1, 1)
    assert data["messages"][1]["error"].startswith("svc.ticket.created does not exist")
    json.loads(to_json(data))


def test_outbox_table():
    reports = [
        OutboxReport("ticket-service", "postgresql://db", "ticket_service",
                     OutboxStatus(4, 61.25, 1)),
        OutboxReport("routing-service", "postgresql://db", "routing", OutboxStatus(0, None, 0)),
        OutboxReport("ai-categorization-service", "postgresql://db", "ai",
                     error="database unavailable: x", unreachable=True),
    ]
    lines = render.render_outbox(reports).splitlines()
    assert lines[0].split() == ["SERVICE", "SCHEMA", "BACKLOG", "OLDEST_AGE_S", "FAILING", "ERROR"]
    assert lines[1].split() == ["ticket-service", "ticket_service", "4", "61.2", "1", "-"]
    assert lines[2].split() == ["routing-service", "routing", "0", "-", "0", "-"]
    assert lines[3].split()[:5] == ["ai-categorization-service", "ai", "-", "-", "-"]
    assert lines[3].endswith("database unavailable: x")
    assert reports[0].to_dict()["oldest_unpublished_age_s"] == 61.25


def test_status_has_the_three_parts():
    health = GatewayHealth("http://gw/api/health", "unhealthy", 503,
                           {"postgresql": "ok", "rabbitmq": "ok", "routing-service": "down"})
    rows = [QueueRow("svc.ticket.created", 2, 1, "svc.ticket.created.dlq", 5),
            QueueRow("tickets.unroutable", 0, 0)]
    out = render.render_status(health, rows, None, [])
    assert out.startswith("Gateway http://gw/api/health: unhealthy (HTTP 503)\n")
    assert "  routing-service  down" in out
    assert "svc.ticket.created  2  1  5".split() in [line.split() for line in out.splitlines()]
    assert "tickets.unroutable  0  0  -".split() in [line.split() for line in out.splitlines()]
    gone = GatewayHealth("http://gw/api/health", "unreachable", error="refused")
    down = render.render_status(gone, None, "RabbitMQ unreachable", [])
    assert "Gateway http://gw/api/health: unreachable: refused" in down
    assert "Queues\nunavailable: RabbitMQ unreachable" in down
