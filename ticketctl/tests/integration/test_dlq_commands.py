"""dlq list/show/replay/purge against the real RabbitMQ, through the CLI in-process."""
import json

import orjson
import pytest

from support_shared.testing.helpers import wait_until

pytestmark = pytest.mark.integration


def _ids(envelopes):
    return [str(e.event_id) for e in envelopes]


def test_list_shows_every_dlq_and_the_unroutable_queue_with_counts(
        ctl, make_queue, dead_letter, probe, topology):
    created, routed = make_queue(), make_queue("svc.ticket.routed", "ticket.routed")
    dead_letter(created, 3)
    dead_letter(routed, 1)
    probe.publish("ticket.nobody.listens", b"{}")            # -> alternate exchange
    result = ctl("dlq", "list", "--json")
    assert result.exit_code == 0, result.output
    got = {r["queue"]: (r["messages"], r["original_queue"]) for r in json.loads(result.stdout)}
    assert got == {
        f"{created}.dlq": (3, created),
        f"{routed}.dlq": (1, routed),
        topology.unroutable_queue: (1, None),
    }
    text = ctl("dlq", "list").stdout
    assert [f"{created}.dlq", "3", "0", created] in [line.split() for line in text.splitlines()]
    assert "5 dead message(s) in 3 queue(s)" in text


def test_show_prints_the_headers_and_removes_nothing(ctl, queue, dead_letter, depth):
    envelopes = dead_letter(queue, 3)
    result = ctl("dlq", "show", f"{queue}.dlq", "--limit", "2", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert [m["event_id"] for m in shown] == _ids(envelopes)[:2]
    first = shown[0]
    assert (first["event_type"], first["ticket_id"], first["tenant_id"]) == (
        "ticket.created", 100, "acme")
    assert first["x-error-type"] == "PermanentError"
    assert first["x-error-reason"] == "unknown department #0"
    assert first["x-original-queue"] == queue
    assert first["x-failed-at"] == "2026-03-01T11:00:00+00:00"
    assert first["replay_to"] == queue
    assert depth(f"{queue}.dlq") == 3
    again = json.loads(ctl("dlq", "show", f"{queue}.dlq", "--json").stdout)
    assert sorted(m["event_id"] for m in again) == sorted(_ids(envelopes))
    assert depth(f"{queue}.dlq") == 3
    text = ctl("dlq", "show", f"{queue}.dlq", "--limit", "1").stdout
    assert "x-error-reason" in text and "all were put back" in text


def test_show_reads_x_death_of_a_message_the_broker_dead_lettered(ctl, queue, probe, depth):
    """A consumer's reject (requeue=False) makes the broker dead-letter with x-death only."""
    probe.publish("ticket.created", b'{"event_id": "e-7", "ticket_id": 7}')
    method, _props, _body = wait_until(lambda: (r := probe.channel.basic_get(queue))[0] and r,
                                       message="message in the live queue")
    probe.channel.basic_reject(method.delivery_tag, requeue=False)
    wait_until(lambda: depth(f"{queue}.dlq") == 1, message="broker dead-lettering")
    shown = json.loads(ctl("dlq", "show", f"{queue}.dlq", "--json").stdout)
    assert shown[0]["event_id"] == "e-7"
    assert shown[0]["x-error-type"] is None
    assert shown[0]["x-death"] == [{"reason": "rejected", "count": 1, "queue": queue}]
    assert shown[0]["replay_to"] == queue


def test_replay_all_moves_every_message_back_once(ctl, queue, dead_letter, probe, depth):
    envelopes = dead_letter(queue, 4)
    result = ctl("dlq", "replay", f"{queue}.dlq", "--all")
    assert result.exit_code == 0, result.output
    assert "replayed 4, skipped 0, failed 0" in result.stdout
    assert depth(f"{queue}.dlq") == 0
    moved = probe.drain(queue)
    assert [orjson.loads(body)["event_id"] for _p, body in moved] == _ids(envelopes)
    for (props, body), env in zip(moved, envelopes):
        assert body == env.to_json()
        assert (props.message_id, props.type, props.correlation_id, props.content_type) == (
            str(env.event_id), "ticket.created", "req-1", "application/json")
        assert props.delivery_mode == 2
        headers = props.headers
        assert headers["x-replay-count"] == 1 and headers["x-replayed-at"]
        assert not [k for k in headers if k.startswith("x-error-")]
        assert "x-failed-at" not in headers
        assert headers["x-original-queue"] == queue and headers["x-request-id"] == "req-1"


def test_replay_count_grows_each_time_a_message_is_replayed(ctl, queue, dead_letter, probe):
    dead_letter(queue, 1, **{"x-replay-count": 2})
    assert ctl("dlq", "replay", f"{queue}.dlq", "--all").exit_code == 0
    (props, _body), = probe.drain(queue)
    assert props.headers["x-replay-count"] == 3


def test_replay_message_id_moves_only_that_message(ctl, queue, dead_letter, probe, depth):
    envelopes = dead_letter(queue, 3)
    wanted = str(envelopes[1].event_id)
    result = ctl("dlq", "replay", f"{queue}.dlq", "--message-id", wanted, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["replayed"], summary["skipped"], summary["failed"]) == (1, 1, 0)
    assert [orjson.loads(b)["event_id"] for _p, b in probe.drain(queue)] == [wanted]
    assert depth(f"{queue}.dlq") == 2
    left = json.loads(ctl("dlq", "show", f"{queue}.dlq", "--json").stdout)
    assert sorted(m["event_id"] for m in left) == sorted(_ids([envelopes[0], envelopes[2]]))


def test_replay_of_an_unknown_message_id_changes_nothing(ctl, queue, dead_letter, depth):
    dead_letter(queue, 2)
    result = ctl("dlq", "replay", f"{queue}.dlq", "--message-id", "no-such-id")
    assert result.exit_code == 1
    assert "message no-such-id not found" in result.stderr
    assert "replayed 0, skipped 2, failed 0" in result.stdout
    assert depth(f"{queue}.dlq") == 2


def test_replay_to_a_queue_that_is_gone_fails_and_keeps_the_message(
        ctl, queue, dead_letter, settings, depth):
    dead_letter(queue, 1, original_queue=f"{settings.queue_prefix}gone")
    result = ctl("dlq", "replay", f"{queue}.dlq", "--all")
    assert result.exit_code == 1
    assert "replayed 0, skipped 0, failed 1" in result.stdout
    assert "does not exist" in result.stdout
    assert depth(f"{queue}.dlq") == 1


def test_replay_limit(ctl, queue, dead_letter, probe, depth):
    envelopes = dead_letter(queue, 3)
    assert "replayed 2," in ctl("dlq", "replay", f"{queue}.dlq", "--limit", "2").stdout
    assert [orjson.loads(b)["event_id"] for _p, b in probe.drain(queue)] == _ids(envelopes)[:2]
    assert depth(f"{queue}.dlq") == 1


def test_unroutable_messages_go_back_through_the_exchange(ctl, make_queue, probe, topology, depth):
    probe.publish("ticket.created", b'{"event_id": "e-late"}')   # nobody bound yet
    wait_until(lambda: depth(topology.unroutable_queue) == 1, message="unroutable message")
    queue = make_queue()
    result = ctl("dlq", "replay", topology.unroutable_queue, "--all")
    assert result.exit_code == 0, result.output
    assert f"exchange {topology.exchange} key ticket.created" in result.stdout
    assert [b for _p, b in probe.drain(queue)] == [b'{"event_id": "e-late"}']
    assert depth(topology.unroutable_queue) == 0


def test_purge_requires_yes(ctl, queue, dead_letter, depth):
    dead_letter(queue, 3)
    refused = ctl("dlq", "purge", f"{queue}.dlq")
    assert refused.exit_code == 1 and "without --yes" in refused.stderr
    assert depth(f"{queue}.dlq") == 3
    done = ctl("dlq", "purge", f"{queue}.dlq", "--yes")
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == f"purged 3 message(s) from {queue}.dlq"
    assert depth(f"{queue}.dlq") == 0


@pytest.mark.parametrize("command", [("replay", "--all"), ("purge", "--yes"), ("show",)])
def test_live_queues_are_refused(ctl, queue, probe, depth, command):
    probe.publish("ticket.created", b"{}")
    wait_until(lambda: depth(queue) == 1, message="live message")
    result = ctl("dlq", command[0], queue, *command[1:])
    assert result.exit_code == 1
    assert "only dead-letter queues" in result.stderr
    assert depth(queue) == 1


def test_a_dlq_that_does_not_exist(ctl, settings):
    result = ctl("dlq", "show", f"{settings.queue_prefix}nothing.dlq")
    assert result.exit_code == 1
    assert "does not exist" in result.stderr


def test_replaying_still_unroutable_messages_ends(ctl, probe, topology, depth):
    """With still no queue bound they come straight back; each is replayed once, no loop."""
    probe.publish("ticket.created", b'{"event_id": "e-1"}')
    probe.publish("ticket.created", b'{"event_id": "e-2"}')
    wait_until(lambda: depth(topology.unroutable_queue) == 2, message="unroutable messages")
    result = ctl("dlq", "replay", topology.unroutable_queue, "--all")
    assert result.exit_code == 0, result.output
    assert "replayed 2, skipped 0, failed 0" in result.stdout
    assert "still has no binding" in result.stdout
    wait_until(lambda: depth(topology.unroutable_queue) == 2, message="messages back")
