"""Replay target resolution, header cleaning and reading a dead message, without a broker."""
from datetime import datetime, timezone

import orjson
import pika
import pytest
from pika.compat import long

from support_shared.messaging.topology import Topology
from support_shared.messaging.dead_letters import (
    DeadMessage, ReplayTarget, plain, replay_headers, replay_properties, replay_target,
)

TOPOLOGY = Topology(exchange="tickets.t1", dead_letter_exchange="tickets.t1.dlx")
DLQ = "t1.routing-service.ticket.created.dlq"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _death(queue, reason="rejected", count=1):
    return {"queue": queue, "reason": reason, "count": long(count), "exchange": "tickets.t1",
            "routing-keys": [b"ticket.created"], "time": datetime(2026, 3, 1, 11, 0)}


class TestReplayTarget:
    def test_original_queue_header_wins_over_x_death_and_the_name(self):
        headers = {"x-original-queue": "t1.a", "x-death": [_death("t1.b")]}
        assert replay_target(DLQ, headers, DLQ[:-4], TOPOLOGY) == ReplayTarget("", "t1.a")

    def test_bytes_header_value_is_decoded(self):
        target = replay_target(DLQ, {"x-original-queue": b"t1.a"}, None, TOPOLOGY)
        assert target.routing_key == "t1.a"

    def test_most_recent_x_death_queue_when_no_original_queue_header(self):
        headers = {"x-death": [_death("t1.newest", "delivery_limit"), _death("t1.older")]}
        assert replay_target(DLQ, headers, None, TOPOLOGY) == ReplayTarget("", "t1.newest")

    def test_dlq_name_minus_suffix_as_last_resort(self):
        assert replay_target(DLQ, {}, None, TOPOLOGY) == ReplayTarget(
            "", "t1.routing-service.ticket.created")
        assert replay_target(DLQ, None, None, TOPOLOGY).routing_key == DLQ[: -len(".dlq")]

    def test_empty_header_falls_through(self):
        assert replay_target(DLQ, {"x-original-queue": ""}, None, TOPOLOGY).routing_key == DLQ[:-4]

    def test_nothing_for_a_queue_that_names_no_origin(self):
        assert replay_target("t1.somewhere", {}, None, TOPOLOGY) is None

    def test_never_back_into_the_dlq_itself(self):
        assert replay_target(DLQ, {"x-original-queue": DLQ}, None, TOPOLOGY) is None

    def test_unroutable_messages_go_back_to_the_exchange_with_their_routing_key(self):
        target = replay_target(TOPOLOGY.unroutable_queue, {}, "ticket.created", TOPOLOGY)
        assert target == ReplayTarget("tickets.t1", "ticket.created")
        assert target.describe() == "exchange tickets.t1 key ticket.created"
        assert replay_target(TOPOLOGY.unroutable_queue, {}, None, TOPOLOGY) is None


class TestReplayHeaders:
    HEADERS = {
        "x-error-type": "PermanentError", "x-error-reason": "boom", "x-error-extra": "x",
        "x-failed-at": "2026-03-01T11:00:00+00:00", "x-delivery-count": long(3),
        "x-original-queue": "t1.a", "x-original-routing-key": "ticket.created",
        "x-consumer": "routing-service", "x-request-id": "r1", "x-tenant-id": "acme",
        "x-death": [_death("t1.a")],
    }

    def test_drops_failure_annotations_and_keeps_the_rest(self):
        out = replay_headers(self.HEADERS, NOW)
        assert not [k for k in out if k.startswith("x-error-")]
        assert "x-failed-at" not in out and "x-delivery-count" not in out
        for kept in ("x-original-queue", "x-original-routing-key", "x-consumer", "x-request-id",
                     "x-tenant-id", "x-death"):
            assert out[kept] == self.HEADERS[kept]

    def test_notes_the_replay(self):
        out = replay_headers(self.HEADERS, NOW)
        assert out["x-replay-count"] == 1
        assert out["x-replayed-at"] == "2026-03-01T12:00:00+00:00"

    @pytest.mark.parametrize("before,after", [(None, 1), (0, 1), (long(1), 2), (b"4", 5),
                                              ("junk", 1), (-3, 1)])
    def test_replay_count_increments(self, before, after):
        headers = {} if before is None else {"x-replay-count": before}
        assert replay_headers(headers, NOW)["x-replay-count"] == after

    def test_does_not_change_the_input(self):
        headers = dict(self.HEADERS)
        replay_headers(headers, NOW)
        assert headers == self.HEADERS

    def test_no_headers(self):
        assert replay_headers(None, NOW) == {"x-replayed-at": NOW.isoformat(), "x-replay-count": 1}


def test_replay_properties_keep_identity_and_become_persistent():
    props = pika.BasicProperties(content_type="application/json", message_id="m1",
                                 correlation_id="c1", type="ticket.created", user_id="someone",
                                 headers={"x-error-type": "E", "a": 1})
    out = replay_properties(props, NOW)
    assert (out.content_type, out.message_id, out.correlation_id, out.type) == (
        "application/json", "m1", "c1", "ticket.created")
    assert out.delivery_mode == 2
    assert out.user_id is None
    assert out.headers == {"a": 1, "x-replayed-at": NOW.isoformat(), "x-replay-count": 1}


def test_dead_message_reads_the_envelope_and_the_headers():
    body = orjson.dumps({"event_id": "e-1", "event_type": "ticket.created", "ticket_id": 42,
                         "tenant_id": "acme", "data": {}})
    props = pika.BasicProperties(message_id="e-1", headers={
        "x-error-type": b"PermanentError", "x-error-reason": "unknown department",
        "x-original-queue": "t1.a", "x-failed-at": "2026-03-01T11:00:00+00:00",
        "x-death": [_death("t1.a", "delivery_limit", 2)], "x-delivery-count": long(1)})
    msg = DeadMessage.from_delivery(DLQ, DLQ[:-4], props, body, TOPOLOGY)
    assert (msg.event_id, msg.event_type, msg.ticket_id, msg.tenant_id) == (
        "e-1", "ticket.created", 42, "acme")
    assert (msg.error_type, msg.error_reason, msg.original_queue) == (
        "PermanentError", "unknown department", "t1.a")
    assert [(d.reason, d.count, d.queue) for d in msg.deaths] == [("delivery_limit", 2, "t1.a")]
    assert msg.delivery_count == 1 and msg.replay_count == 0
    assert msg.target == ReplayTarget("", "t1.a")
    assert msg.matches("e-1") and not msg.matches("e-2")
    out = msg.to_dict()
    assert out["x-death"] == [{"reason": "delivery_limit", "count": 2, "queue": "t1.a"}]
    assert out["headers"]["x-death"][0]["time"] == "2026-03-01T11:00:00+00:00"
    assert orjson.dumps(out)  # JSON-ready
    assert msg.to_dict(include_body=True)["body"]["ticket_id"] == 42


def test_dead_message_with_a_body_that_is_not_an_envelope():
    props = pika.BasicProperties(message_id="m9", type="ticket.routed", headers=None)
    msg = DeadMessage.from_delivery(DLQ, None, props, b"\xff not json", TOPOLOGY)
    assert msg.event_id is None and msg.event_type == "ticket.routed"
    assert msg.matches("m9")
    assert msg.to_dict(include_body=True)["body"].endswith("not json")


def test_plain_turns_pika_values_into_json_values():
    assert plain(long(5)) == 5 and type(plain(long(5))) is int
    assert plain(True) is True
    assert plain(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05+00:00"
    assert plain({"a": [b"x", long(1)]}) == {"a": ["x", 1]}
