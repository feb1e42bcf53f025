"""Operator and tenant powers apart (issue 12, High-1): dead letters, queue depths and purges.

A tenant admin key sees and replays only its own tenant's dead letters; it can neither list the
suite's DLQs, nor read queue depths, nor purge. The operator credential can do all of it, and
no API key can be made to hold it.
"""
from __future__ import annotations

from typing import Iterator

import orjson
import pika
import pytest
import requests
from click.testing import CliRunner

from support_shared.messaging.connection import connect
from support_shared.messaging.topology import Topology
from support_shared.testing.helpers import wait_until
from ticketctl.cli import cli as ticketctl_cli

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def dead_letters(running) -> Iterator[tuple[str, dict[str, str]]]:
    """A DLQ of this suite holding one dead ticket.created of tenant A and one of tenant B."""
    env = running.env
    tenants = {"a": running.tenant("read,write,admin"), "b": running.tenant("read,write,admin")}
    topology = Topology(env["EVENT_EXCHANGE"], env["DEAD_LETTER_EXCHANGE"])
    queue = f"{env['QUEUE_PREFIX']}security-check.never.published"
    connection = connect(env["RABBITMQ_URL"], "test-security", heartbeat=0)
    channel = connection.channel()
    topology.declare_queue(channel, queue, ["security-check.never.published"])
    channel.confirm_delivery()
    for name, client in tenants.items():
        body = orjson.dumps({"event_id": f"ev-{name}", "event_type": "ticket.created",
                             "ticket_id": 1, "tenant_id": client.tenant_id,
                             "data": {"title": f"secret of {name}",
                                      "user_email": f"{name}@example.com"}})
        channel.basic_publish(env["DEAD_LETTER_EXCHANGE"], queue, body, pika.BasicProperties(
            message_id=f"msg-{name}", delivery_mode=2, headers={
                "x-error-type": "PermanentError", "x-original-queue": queue}))
    dlq = topology.dead_letter_queue(queue)
    try:
        yield dlq, tenants
    finally:
        channel.queue_delete(queue)
        channel.queue_delete(dlq)
        connection.close()


def _ids(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return sorted(m["message_id"] for m in resp.json()["messages"])


def test_tenant_b_admin_cannot_see_replay_or_purge_tenant_a_dead_letters(running, dead_letters):
    dlq, tenants = dead_letters
    b = tenants["b"]
    shown = b.get(f"/api/admin/dlq/{dlq}?body=true&limit=100")
    assert _ids(shown) == ["msg-b"] and "secret of a" not in shown.text
    stolen = b.post(f"/api/admin/dlq/{dlq}/replay", json={"message_id": "msg-a"})
    assert stolen.status_code == 404
    purged = b.post(f"/api/admin/dlq/{dlq}/purge", json={"confirm": True})
    assert purged.status_code == 403 and purged.json()["error"]["code"] == "operator_required"
    listed = b.get("/api/admin/dlq")
    assert listed.status_code == 403 and listed.json()["error"]["code"] == "operator_required"
    assert _ids(running.operator().get(f"/api/admin/dlq/{dlq}")) == ["msg-a", "msg-b"]

    mine = b.post(f"/api/admin/dlq/{dlq}/replay", json={"all": True}).json()
    assert [o["message_id"] for o in mine["outcomes"]] == ["msg-b"]
    wait_until(lambda: _ids(running.operator().get(f"/api/admin/dlq/{dlq}")) == ["msg-a"],
               timeout=10, message="only B's dead letter replayed")


def test_the_operator_sees_replays_and_purges_everything(running, dead_letters):
    dlq, _tenants = dead_letters
    operator = running.operator()
    assert dlq in [q["queue"] for q in operator.get("/api/admin/dlq").json()["queues"]]
    assert _ids(operator.get(f"/api/admin/dlq/{dlq}")) == ["msg-a", "msg-b"]
    replayed = operator.post(f"/api/admin/dlq/{dlq}/replay", json={"message_id": "msg-a"})
    assert replayed.json()["replayed"] == 1
    purged = operator.post(f"/api/admin/dlq/{dlq}/purge", json={"confirm": True})
    assert purged.status_code == 200 and purged.json()["purged"] == 1
    assert operator.get("/api/dashboard/queues").status_code == 200


@pytest.mark.parametrize("scopes", ["read", "read,write", "read,write,admin"])
def test_no_tenant_key_reads_queue_depths(running, scopes):
    resp = running.tenant(scopes).get("/api/dashboard/queues")
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "operator_required"


def test_a_wrong_operator_credential_is_refused_everywhere(running, dead_letters):
    dlq, tenants = dead_letters
    forged = {"X-Operator-Token": running.env["GATEWAY_OPERATOR_TOKEN"] + "x"}
    for client in (running.anonymous(), tenants["a"]):
        for path in ("/api/admin/dlq", f"/api/admin/dlq/{dlq}", "/api/dashboard/queues"):
            resp = client.get(path, headers=forged)
            assert resp.status_code == 401, (path, resp.text)
    assert running.anonymous().get("/api/dashboard/queues").status_code == 401


def test_the_operator_power_cannot_be_granted_to_a_key(running):
    token = running.env["INTERNAL_API_TOKEN"]
    env = {"TICKET_SERVICE_URL": running.env["TICKET_SERVICE_URL"], "INTERNAL_API_TOKEN": token}
    tenant = running.tenant("read").tenant_id
    result = CliRunner().invoke(ticketctl_cli, ["keys", "create", "--tenant", tenant,
                                                "--scopes", "operator", "--json"], env=env)
    assert result.exit_code != 0 and "read, write, admin" in result.output
    # ticket-service itself refuses it too, whoever asks
    resp = requests.post(env["TICKET_SERVICE_URL"] + "/internal/keys", timeout=10,
                         headers={"X-Internal-Token": token},
                         json={"tenant_id": tenant, "scopes": ["operator"]})
    assert resp.status_code == 400, resp.text
