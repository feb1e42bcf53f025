"""The DLQ admin endpoints against the real RabbitMQ (suffixed names), like ``ticketctl dlq``."""
from __future__ import annotations

from typing import Iterator

import orjson
import pika
import pytest

from api_gateway.admin import AdminSettings, init_admin
from api_gateway.app import create_app
from api_gateway.auth import Principal
from api_gateway.config import GatewaySettings
from support_shared.messaging.connection import connect
from support_shared.messaging.topology import Topology
from support_shared.testing.helpers import MANAGEMENT_URL, delete_broker_objects, wait_until

pytestmark = pytest.mark.integration

ADMIN = Principal("default", frozenset({"read", "write", "admin"}))
OTHER_ADMIN = Principal("other", frozenset({"read", "write", "admin"}))
READER = Principal("default", frozenset({"read"}))
OPERATOR_TOKEN = "operator-" + "s" * 32
OPERATOR = {"X-Operator-Token": OPERATOR_TOKEN}
# msg-0 and msg-1 are tenant default's dead letters, msg-2 tenant other's.
TENANTS = ("default", "default", "other")


@pytest.fixture
def names(suffix: str) -> dict[str, str]:
    return {"exchange": f"tickets.{suffix}", "dlx": f"tickets.{suffix}.dlx",
            "prefix": f"{suffix}.", "queue": f"{suffix}.routing-service.ticket.created"}


@pytest.fixture
def broker(rabbitmq_url: str, names: dict[str, str], suffix: str) -> Iterator[pika.BlockingConnection]:
    connection = connect(rabbitmq_url, "test-admin-dlq", heartbeat=0)
    topology = Topology(names["exchange"], names["dlx"])
    channel = connection.channel()
    topology.declare_exchanges(channel)
    topology.declare_queue(channel, names["queue"], ["ticket.created"])
    channel.confirm_delivery()
    for n in range(3):
        body = orjson.dumps({"event_id": f"ev-{n}", "event_type": "ticket.created",
                             "ticket_id": n + 1, "tenant_id": TENANTS[n],
                             "data": {"title": "t"}})
        channel.basic_publish(names["dlx"], names["queue"], body, pika.BasicProperties(
            message_id=f"msg-{n}", delivery_mode=2, headers={
                "x-error-type": "PermanentError", "x-error-reason": f"reason {n}",
                "x-original-queue": names["queue"]}))
    yield connection
    connection.close()
    delete_broker_objects(f"{suffix}.", f"tickets.{suffix}")


def _client(rabbitmq_url: str, names: dict[str, str], who: Principal = ADMIN, **over):
    common = {"rabbitmq_url": rabbitmq_url, "exchange": names["exchange"],
              "dead_letter_exchange": names["dlx"], "queue_prefix": names["prefix"], **over}
    app = create_app(GatewaySettings(**common), authenticator=lambda _request: who)
    init_admin(app, AdminSettings(management_url=MANAGEMENT_URL, operator_token=OPERATOR_TOKEN,
                                  **common))
    return app.test_client()


def _operator(rabbitmq_url: str, names: dict[str, str], **over):
    """A client sending the operator credential (and no API key: the authenticator refuses)."""
    def no_key(_request):
        raise AssertionError("the operator's requests need no API key")

    common = {"rabbitmq_url": rabbitmq_url, "exchange": names["exchange"],
              "dead_letter_exchange": names["dlx"], "queue_prefix": names["prefix"], **over}
    app = create_app(GatewaySettings(**common), authenticator=no_key)
    init_admin(app, AdminSettings(management_url=MANAGEMENT_URL, operator_token=OPERATOR_TOKEN,
                                  **common))
    client = app.test_client()
    client.environ_base["HTTP_X_OPERATOR_TOKEN"] = OPERATOR_TOKEN
    return client


def _depth(broker: pika.BlockingConnection, queue: str) -> int:
    return broker.channel().queue_declare(queue, passive=True).method.message_count


def test_operator_lists_shows_replays_and_purges(rabbitmq_url, names, broker):
    client, dead = _operator(rabbitmq_url, names), names["queue"] + ".dlq"
    wait_until(lambda: _depth(broker, dead) == 3, timeout=5, message="dead messages in place")

    listed = client.get("/api/admin/dlq").json
    assert {"queue": dead, "messages": 3, "consumers": 0, "replays_to": names["queue"]} \
        in listed["queues"]

    shown = client.get(f"/api/admin/dlq/{dead}?limit=2").json
    assert [m["message_id"] for m in shown["messages"]] == ["msg-0", "msg-1"]
    assert shown["messages"][0]["error_reason"] == "reason 0"
    assert shown["messages"][0]["body"] is None and shown["messages"][0]["replays_to"] == names["queue"]
    with_body = client.get(f"/api/admin/dlq/{dead}?limit=1&body=true").json["messages"][0]
    assert with_body["body"]["event_type"] == "ticket.created"
    assert _depth(broker, dead) == 3, "show puts every message back"

    one = client.post(f"/api/admin/dlq/{dead}/replay", json={"message_id": "msg-1"})
    assert one.status_code == 200 and one.json["replayed"] == 1, one.json
    wait_until(lambda: _depth(broker, names["queue"]) == 1, timeout=5, message="replayed")
    missing = client.post(f"/api/admin/dlq/{dead}/replay", json={"message_id": "nope"})
    assert missing.status_code == 404

    refused = client.post(f"/api/admin/dlq/{dead}/purge", json={})
    assert refused.status_code == 400 and _depth(broker, dead) == 2
    purged = client.post(f"/api/admin/dlq/{dead}/purge", json={"confirm": True})
    assert purged.json == {"queue": dead, "purged": 2}


def test_replay_all_moves_every_message_back(rabbitmq_url, names, broker):
    client, dead = _operator(rabbitmq_url, names), names["queue"] + ".dlq"
    wait_until(lambda: _depth(broker, dead) == 3, timeout=5, message="dead messages in place")
    resp = client.post(f"/api/admin/dlq/{dead}/replay", json={"all": True})
    assert resp.json["replayed"] == 3 and {o["status"] for o in resp.json["outcomes"]} == {"replayed"}
    wait_until(lambda: _depth(broker, names["queue"]) == 3, timeout=5, message="all replayed")
    assert _depth(broker, dead) == 0


@pytest.mark.parametrize("body", [{}, {"all": True, "message_id": "x"}, {"limit": 0}])
def test_replay_needs_one_clear_choice(rabbitmq_url, names, broker, body):
    resp = _client(rabbitmq_url, names).post(f"/api/admin/dlq/{names['queue']}.dlq/replay",
                                              json=body)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "validation_error"


def test_live_and_unknown_queues_are_refused(rabbitmq_url, names, broker):
    client = _operator(rabbitmq_url, names)
    live = client.get(f"/api/admin/dlq/{names['queue']}")
    assert live.status_code == 409 and live.json["error"]["code"] == "not_a_dead_letter_queue"
    assert client.post(f"/api/admin/dlq/{names['queue']}/purge",
                       json={"confirm": True}).status_code == 409
    assert client.get(f"/api/admin/dlq/{names['prefix']}nothing.dlq").status_code == 404


def test_only_admin_keys_may_use_them(rabbitmq_url, names, broker):
    resp = _client(rabbitmq_url, names, READER).get(f"/api/admin/dlq/{names['queue']}.dlq")
    assert resp.status_code == 403 and resp.json["error"]["code"] == "forbidden"


def test_a_tenant_admin_sees_and_replays_only_its_own(rabbitmq_url, names, broker):
    dead = names["queue"] + ".dlq"
    wait_until(lambda: _depth(broker, dead) == 3, timeout=5, message="dead messages in place")
    other = _client(rabbitmq_url, names, OTHER_ADMIN)
    shown = other.get(f"/api/admin/dlq/{dead}?limit=10&body=true").json["messages"]
    assert [(m["message_id"], m["tenant_id"]) for m in shown] == [("msg-2", "other")]

    stolen = other.post(f"/api/admin/dlq/{dead}/replay", json={"message_id": "msg-0"})
    assert stolen.status_code == 404 and _depth(broker, dead) == 3
    every = other.post(f"/api/admin/dlq/{dead}/replay", json={"all": True}).json
    assert [o["message_id"] for o in every["outcomes"]] == ["msg-2"] and every["replayed"] == 1
    wait_until(lambda: _depth(broker, dead) == 2, timeout=5, message="only msg-2 moved")
    mine = _client(rabbitmq_url, names, ADMIN).get(f"/api/admin/dlq/{dead}").json["messages"]
    assert sorted(m["message_id"] for m in mine) == ["msg-0", "msg-1"]


@pytest.mark.parametrize("method,path,body", [
    ("get", "", None), ("post", "/{dead}/purge", {"confirm": True})])
def test_tenant_admins_neither_list_depths_nor_purge(rabbitmq_url, names, broker, method, path,
                                                   body):
    dead = names["queue"] + ".dlq"
    wait_until(lambda: _depth(broker, dead) == 3, timeout=5, message="dead messages in place")
    client = _client(rabbitmq_url, names, ADMIN)
    resp = client.open(f"/api/admin/dlq{path.format(dead=dead)}", method=method.upper(),
                       json=body)
    assert resp.status_code == 403 and resp.json["error"]["code"] == "operator_required"
    assert _depth(broker, dead) == 3


def test_a_wrong_operator_credential_is_a_401(rabbitmq_url, names, broker):
    client = _client(rabbitmq_url, names, ADMIN)
    resp = client.get("/api/admin/dlq", headers={"X-Operator-Token": OPERATOR_TOKEN + "x"})
    assert resp.status_code == 401 and resp.json["error"]["code"] == "unauthorized"


def test_unreachable_broker_is_a_503(rabbitmq_url, names):
    client = _operator("amqp://guest:guest@127.0.0.1:1/%2F", names)
    resp = client.get(f"/api/admin/dlq/{names['queue']}.dlq")
    assert resp.status_code == 503 and resp.json["error"]["details"] == {"service": "rabbitmq"}
