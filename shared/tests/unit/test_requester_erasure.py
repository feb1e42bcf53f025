"""The requester-erasure pieces every service shares: scrubbing event data, the consumers'
handler body, the dead-letter filter."""
from __future__ import annotations

import uuid

import orjson

from support_shared.erasure import ERASED, erase_requesters, scrub_json
from support_shared.events import (EventType, RequesterErased, TicketCreated, decode, new_event,
                                   utcnow)
from support_shared.messaging.dead_letters import DeadMessage, tickets_filter
from support_shared.testing.fakes import FakeUnitOfWork


def erased(ticket_ids, tenant="acme", requester=7):
    return new_event(EventType.REQUESTER_ERASED,
                     RequesterErased(requester_id=requester, ticket_ids=ticket_ids),
                     tenant_id=tenant, ticket_id=None, ticket_version=None)


def test_the_event_is_a_tenant_event_with_ids_only():
    event = decode(erased([3, 4]).to_json())
    assert event.ticket_id is None and event.ticket_version is None
    assert event.data == {"requester_id": 7, "ticket_ids": [3, 4], "dead_letters": False}


def test_scrub_json_blanks_every_personal_text_and_keeps_the_rest():
    created = TicketCreated(title="Laptop", description="dead", user_name="Ann Lee",
                            user_email="ann@example.com", priority="high",
                            created_at=utcnow()).model_dump(mode="json")
    envelope = {"tenant_id": "acme", "ticket_id": 3, "data": created}
    out = scrub_json(envelope)
    assert out["data"]["title"] == out["data"]["user_email"] == ERASED
    assert out["data"]["priority"] == "high" and out["ticket_id"] == 3
    assert "ann" not in orjson.dumps(out).decode().lower()


def test_scrub_json_blanks_both_sides_of_an_edit_and_is_idempotent():
    details = {"changes": {"title": {"old": "Ann's laptop", "new": "laptop"},
                           "priority": {"old": "low", "new": "high"}}}
    once = scrub_json(details)
    assert once["changes"]["title"] == {"old": ERASED, "new": ERASED}
    assert once["changes"]["priority"] == {"old": "low", "new": "high"}
    assert scrub_json(once) == once


def test_handler_body_scrubs_each_fresh_event_once_in_one_commit():
    uow = FakeUnitOfWork()
    first, other_tenant = erased([1, 2]), erased([9], tenant="globex")
    erase_requesters([first, first, other_tenant], uow)
    assert uow.erasure.erased == {"acme": {1, 2}, "globex": {9}}
    assert len(uow.erasure.calls) == 2 and uow.commits == 1
    erase_requesters([first], uow)          # redelivered: the inbox drops it
    assert len(uow.erasure.calls) == 2


def test_handler_body_rolls_back_when_the_scrub_fails():
    uow = FakeUnitOfWork()

    def boom(tenant_id, ticket_ids):
        raise RuntimeError("database gone")

    uow.erasure.erase_tickets = boom
    try:
        erase_requesters([erased([1])], uow)
    except RuntimeError:
        pass
    assert uow.commits == 0 and not uow.inbox.seen


def _dead(body: dict, headers: dict | None = None) -> DeadMessage:
    return DeadMessage(queue="q.dlq", routing_key="q", message_id=str(uuid.uuid4()),
                       event_id=None, event_type=body.get("event_type"),
                       ticket_id=body.get("ticket_id"), tenant_id=body.get("tenant_id"),
                       error_type=None, error_reason=None, original_queue=None, failed_at=None,
                       deaths=(), replay_count=0, delivery_count=None, target=None,
                       headers=headers or {}, body=orjson.dumps(body))


def test_dead_letter_filter_picks_the_tenants_messages_of_those_tickets_only():
    wanted = tickets_filter("acme", [3, 4])
    assert wanted(_dead({"tenant_id": "acme", "ticket_id": 3}))
    assert not wanted(_dead({"tenant_id": "acme", "ticket_id": 5}))
    assert not wanted(_dead({"tenant_id": "globex", "ticket_id": 3}))
    assert wanted(_dead({"tenant_id": "acme", "ticket_id": None, "data": {"ticket_id": 4}}))
    assert not wanted(_dead({"tenant_id": "acme", "ticket_id": True}))
