"""Erasing a requester through the whole suite: afterwards no column of any table of any suite
schema, no dead-letter queue and no log line holds their address or name, and analytics'
counts are what they were.

The requester gets two tickets (one edited, commented by them and by an agent, one routed by
hand so the AI service keeps it as a training example), categorized, routed and counted; a
poison copy of an event about their ticket, holding their address and name, is dead-lettered by
every consumer of ``ticket.created``; a poison copy about another requester's ticket stays.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import orjson
import pika
import pytest
import sqlalchemy as sa

from support_shared.db import make_engine
from support_shared.events import EventType
from support_shared.manifest import SUITE, dead_letter_queue
from support_shared.messaging import dlq
from support_shared.messaging.connection import connect
from support_shared.messaging.dead_letters import tickets_filter
from support_shared.messaging.topology import Topology
from support_shared.testing.helpers import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("settle")]

CONSUMERS_OF_CREATED = [s.name for s in SUITE.services
                        if any(c.event is EventType.TICKET_CREATED for c in s.consumes)]
CONSUMERS_OF_ERASED = [s for s in SUITE.services
                       if any(c.event is EventType.REQUESTER_ERASED for c in s.consumes)]


@pytest.fixture
def engine(running, database_url) -> Iterator[sa.Engine]:
    eng = make_engine(database_url, "public")
    yield eng
    eng.dispose()


@pytest.fixture
def topology(running) -> Topology:
    return Topology(running.env["EVENT_EXCHANGE"], running.env["DEAD_LETTER_EXCHANGE"])


def _schemas(running) -> list[str]:
    return [running.env[f"{s.env_prefix}DB_SCHEMA"] for s in SUITE.with_schema]


def _dead_letter_queues(running, topology: Topology) -> list[str]:
    prefix = running.env["QUEUE_PREFIX"]
    return [dead_letter_queue(q) for q in SUITE.queues(prefix)] + [topology.unroutable_queue]


def _poison(running, tenant: str, ticket_id: int, data: dict[str, Any]) -> None:
    """An event about ``ticket_id`` every consumer refuses (unknown schema version), so each
    dead-letters a copy: through the exchange, as the relay would publish it."""
    body = orjson.dumps({"event_id": str(uuid.uuid4()), "event_type": "ticket.created",
                         "schema_version": 99, "occurred_at": "2026-01-01T00:00:00Z",
                         "tenant_id": tenant, "ticket_id": ticket_id, "ticket_version": 1,
                         "data": data})
    connection = connect(running.env["RABBITMQ_URL"], "test-erasure", heartbeat=0)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(running.env["EVENT_EXCHANGE"], "ticket.created", body,
                              pika.BasicProperties(delivery_mode=2, message_id=str(uuid.uuid4()),
                                                   headers={"x-tenant-id": tenant}),
                              mandatory=True)
    finally:
        connection.close()


def _dead_copies(running, topology: Topology, ticket_id: int) -> int:
    """How many dead letters of ``ticket_id`` the suite's DLQs hold (the operator sees all)."""
    operator, found = running.operator(), 0
    for queue in _dead_letter_queues(running, topology):
        resp = operator.get(f"/api/admin/dlq/{queue}", params={"limit": 1000})
        if resp.status_code == 200:
            found += sum(1 for m in resp.json()["messages"] if m["ticket_id"] == ticket_id)
    return found


def _dead_letters_mentioning(running, topology: Topology, needles: list[str]) -> list[str]:
    operator, hits = running.operator(), []
    for queue in _dead_letter_queues(running, topology):
        resp = operator.get(f"/api/admin/dlq/{queue}", params={"limit": 1000, "body": "true"})
        if resp.status_code == 200:
            text = resp.text.lower()
            hits += [f"{queue}: {n}" for n in needles if n.lower() in text]
    return hits


def _rows_mentioning(engine: sa.Engine, schemas: list[str], needles: list[str]
                     ) -> tuple[dict[str, int], int]:
    """Rows holding a needle anywhere in their text, per ``schema.table``; and how many tables
    were searched (every base table of ``schemas``, every column: the whole row as text)."""
    found: dict[str, int] = {}
    with engine.connect() as conn:
        tables = conn.execute(sa.text(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = ANY(:schemas) AND table_type = 'BASE TABLE'"),
            {"schemas": schemas}).all()
        for schema, table in tables:
            for needle in needles:
                count = conn.execute(sa.text(
                    f'SELECT count(*) FROM "{schema}"."{table}" AS t '
                    "WHERE strpos(lower(t::text), lower(:needle)) > 0"),
                    {"needle": needle}).scalar_one()
                if count:
                    found[f"{schema}.{table}.{needle}"] = count
    return found, len(tables)


def _counts(client) -> dict[str, Any]:
    return {"tickets": client.get("/api/analytics/tickets").json(),
            "summary": client.get("/api/dashboard/summary").json()}


def _requester_with_tickets(admin, name: str, email: str) -> tuple[int, list[int], int]:
    person = {"user_name": name, "user_email": email}
    user = admin.post("/api/users", json={"name": name, "email": email}).json()
    first = admin.post("/api/tickets", json={
        **person, "title": f"VPN fails for {name}", "priority": "high",
        "description": f"Please call {name} back at {email}; the VPN drops every minute."})
    second = admin.post("/api/tickets", json={
        **person, "title": "Printer jams on floor 3",
        "description": f"The printer near {name}'s desk jams on every page."})
    other = admin.post("/api/tickets", json={
        "user_name": "Other Person", "user_email": f"other.{uuid.uuid4().hex[:8]}@example.com",
        "title": "Invoice missing", "description": "Last month's invoice never arrived."})
    ids = [first.json()["id"], second.json()["id"]]
    admin.patch(f"/api/tickets/{ids[0]}", json={"title": f"VPN still fails for {name}"})
    admin.post(f"/api/tickets/{ids[0]}/comments",
               json={"author_name": name, "author_email": email, "body": "Still broken today."})
    admin.post(f"/api/tickets/{ids[0]}/comments", json={
        "author_name": "Agent Smith", "author_email": "agent@support.example",
        "body": f"Hello {name}, we are on it."})
    wait_until(lambda: admin.get(f"/api/routing/history/{ids[1]}").status_code == 200,
               timeout=60, message="the second ticket known to routing")
    routed = admin.post("/api/route", json={"ticket_id": ids[1], "department": "Facilities"})
    assert routed.status_code == 200, routed.text
    return user["id"], ids, other.json()["id"]


def _settled(running, admin, ids: list[int]) -> None:
    """Every ticket routed and applied, every event counted: nothing left in flight."""
    wait_until(lambda: all(admin.get(f"/api/tickets/{i}").json()["department"] for i in ids),
               timeout=90, message="the tickets routed")
    running.wait_idle()


def _erasure_consumed(engine: sa.Engine, running, event_id: str) -> bool:
    with engine.connect() as conn:
        return all(conn.execute(sa.text(
            f'SELECT count(*) FROM "{running.env[s.env_prefix + "DB_SCHEMA"]}".inbox '
            "WHERE event_id = :e"), {"e": event_id}).scalar_one() == 1
            for s in CONSUMERS_OF_ERASED)


def test_erasure_leaves_no_copy_in_any_table_dead_letter_or_log(running, engine, topology,
                                                                  record_property):
    admin = running.tenant("read,write,admin")
    # A webhook subscription: integration-service then holds copies of the events' texts too
    # (its receiver never answers; the deliveries stay queued for retries).
    hook = admin.post("/api/webhooks", json={
        "url": "http://127.0.0.1:9/hook",
        "event_types": ["ticket.created", "ticket.updated", "ticket.commented"]})
    assert hook.status_code == 201, hook.text
    unique = uuid.uuid4().hex[:12]
    name, email = f"Quinby Erasmo{unique}", f"quinby.erasmo.{unique}@example.com"
    user_id, ids, other_id = _requester_with_tickets(admin, name, email)
    _settled(running, admin, [*ids, other_id])
    _poison(running, admin.tenant_id, ids[0], {"user_email": email, "user_name": name})
    _poison(running, admin.tenant_id, other_id, {"title": "not the erased requester's"})
    wait_until(lambda: _dead_copies(running, topology, ids[0]) == len(CONSUMERS_OF_CREATED)
               and _dead_copies(running, topology, other_id) == len(CONSUMERS_OF_CREATED),
               timeout=60, message="every consumer dead-lettered both poison copies")
    found, _ = _rows_mentioning(engine, _schemas(running), [email, name])
    assert len({key.split(".")[0] for key in found}) == len(SUITE.with_schema)  # all held it
    before = _counts(admin)

    resp = admin.post(f"/api/users/{user_id}/erase", json={"dead_letters": True})

    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["ticket_ids"] == ids and body["user"]["name"] == "[erased]"
    assert body["dead_letters"]["removed"] == len(CONSUMERS_OF_CREATED)
    doc = running.get("/openapi.json").json()
    schema = doc["paths"]["/api/users/{user_id}/erase"]["post"]["responses"]["200"]
    jsonschema.Draft202012Validator({**schema["content"]["application/json"]["schema"],
                                     "components": doc["components"]}).validate(body)
    wait_until(lambda: _erasure_consumed(engine, running, body["event_id"]), timeout=60,
               message="every consumer of requester.erased handled it")
    found, tables = _rows_mentioning(engine, _schemas(running), [email, name, unique])
    record_property("tables_searched", tables)
    assert found == {}
    assert tables >= 25
    assert _dead_letters_mentioning(running, topology, [email, name, unique]) == []
    assert _dead_copies(running, topology, other_id) == len(CONSUMERS_OF_CREATED)
    assert _counts(admin) == before
    logs = "".join(p.read_text(errors="replace") for p in Path(running.suite.log_dir).glob("*"))
    assert email not in logs and name not in logs and unique not in logs
    ticket = admin.get(f"/api/tickets/{ids[0]}").json()
    assert (ticket["title"], ticket["user_name"], ticket["priority"]) == (
        "[erased]", "[erased]", "high")
    assert admin.get(f"/api/tickets/{other_id}").json()["title"] == "Invoice missing"
    _remove_dead_letters(running, topology, admin.tenant_id, other_id)


def test_erasing_again_is_fine_and_other_tenants_and_scopes_are_refused(running):
    admin = running.tenant("read,write,admin")
    user = admin.post("/api/users", json={"name": "Twice Erased",
                                          "email": f"twice.{uuid.uuid4().hex[:8]}@example.com"})
    user_id = user.json()["id"]
    writer = running.tenant("read,write", tenant_id=admin.tenant_id)
    assert writer.post(f"/api/users/{user_id}/erase").status_code == 403
    stranger = running.tenant("read,write,admin")
    assert stranger.post(f"/api/users/{user_id}/erase").status_code == 404
    first = admin.post(f"/api/users/{user_id}/erase")
    again = admin.post(f"/api/users/{user_id}/erase", json={})
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert again.json()["user"]["erased_at"] == first.json()["user"]["erased_at"]
    assert "dead_letters" not in again.json()
    assert admin.post(f"/api/users/{user_id}/erase", json={"dead_letters": 1}).status_code == 400


def _remove_dead_letters(running, topology: Topology, tenant: str, ticket_id: int) -> None:
    """Take this test's remaining poison copies out of the suite's DLQs."""
    with dlq.broker_connection(running.env["RABBITMQ_URL"], "test-erasure") as connection:
        for queue in _dead_letter_queues(running, topology):
            try:
                dlq.remove_matching(connection, queue, topology,
                                    tickets_filter(tenant, [ticket_id]))
            except dlq.QueueNotFound:
                continue
