"""Several broker addresses in ``RABBITMQ_URL``, tried in turn; heartbeats checked every period."""
from __future__ import annotations

import pytest

from support_shared.messaging import connection
from support_shared.messaging.management import vhost_of

CLUSTER = ("amqp://u:p@10.0.0.1:5672/%2F, amqp://u:p@10.0.0.2:5673/%2F,"
           "amqp://u:p@10.0.0.3:5674/%2F")


def test_one_url_is_a_cluster_of_one() -> None:
    assert connection.amqp_urls("amqp://guest:guest@127.0.0.1:5672/%2F") == [
        "amqp://guest:guest@127.0.0.1:5672/%2F"]


def test_comma_separated_urls_name_every_node() -> None:
    assert [u.split("@")[1] for u in connection.amqp_urls(CLUSTER)] == [
        "10.0.0.1:5672/%2F", "10.0.0.2:5673/%2F", "10.0.0.3:5674/%2F"]


def test_empty_url_is_refused() -> None:
    with pytest.raises(ValueError):
        connection.amqp_urls(" , ")


def test_every_attempt_starts_one_node_further() -> None:
    firsts = [connection.cluster_parameters(CLUSTER, "t")[0].port for _ in range(6)]
    assert sorted(firsts[:3]) == [5672, 5673, 5674]
    assert firsts[:3] == firsts[3:]
    for params in connection.cluster_parameters(CLUSTER, "t", heartbeat=7):
        assert params.heartbeat == 7 and params.connection_attempts == 1


def test_vhost_comes_from_the_first_url() -> None:
    assert vhost_of("amqp://a/tickets,amqp://b/tickets") == "tickets"


class _FakeConnection:
    """What pika's heartbeat checker needs of a connection: timers and a byte count."""

    def __init__(self) -> None:
        self.bytes_received = self.bytes_sent = 0
        self.timers: list[tuple[float, object]] = []
        self.terminated: list[Exception] = []

    def _adapter_call_later(self, delay: float, callback: object) -> object:
        self.timers.append((delay, callback))
        return callback

    def _adapter_remove_timeout(self, _timer: object) -> None:
        pass

    def _send_frame(self, _frame: object) -> None:
        pass

    def _terminate_stream(self, exc: Exception) -> None:
        self.terminated.append(exc)


def test_a_silent_broker_is_noticed_within_two_heartbeats() -> None:
    conn = _FakeConnection()
    checker = connection._EveryHeartbeatChecker(conn, 5)
    check_delays = [d for d, cb in conn.timers if cb == checker._check_heartbeat]
    assert check_delays == [5]            # pika's own checker waits heartbeat + 5 s
    conn.bytes_received = 10              # the broker spoke in the first window
    checker._check_heartbeat()
    assert not conn.terminated
    checker._check_heartbeat()            # then nothing for a whole window
    assert conn.terminated
