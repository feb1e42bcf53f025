"""The batch upsert's pure rules: rounds per key, staleness, differences, refusals."""
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from support_shared.exchange import TicketUpsert
from ticket_service.batch.domain import (ERROR, differences, item_error, new_ticket, refusal,
                                         stale)
from ticket_service.batch.handlers import rounds

NOW = datetime(2026, 12, 5, tzinfo=timezone.utc)


def upsert(n=1, **extra):
    return TicketUpsert.model_validate({
        "title": "VPN down", "description": "cannot connect", "user_name": "Ann",
        "user_email": "ann@example.com", "source": "zendesk", "external_id": f"Z-{n}",
        **extra})


def test_each_round_names_a_key_once_and_keeps_batch_order():
    bad = item_error(2, "validation_error", "bad")
    plain = TicketUpsert.model_validate({"title": "t", "description": "d", "user_name": "A",
                                         "user_email": "a@example.com"})
    items = [upsert(1), upsert(2), bad, upsert(1), plain, upsert(1), plain]
    assert rounds(items) == [[0, 1, 4, 6], [3], [5]]


def test_a_new_ticket_carries_its_external_identity():
    ticket = new_ticket("acme", upsert(7, tags=["vpn"], external_updated_at=NOW), NOW, 3)
    assert (ticket.source, ticket.external_id, ticket.external_updated_at) == \
        ("zendesk", "Z-7", NOW)
    assert (ticket.tags, ticket.version, ticket.requester_id) == (["vpn"], 1, 3)


def test_only_mapped_fields_that_differ_count():
    ticket = new_ticket("acme", upsert(), NOW, 1)
    assert differences(ticket, upsert(user_name="Someone Else")) == {}
    assert differences(ticket, upsert(priority="high", tags=["a"])) == {"priority": "high",
                                                                        "tags": ["a"]}


def test_an_item_not_newer_than_the_ticket_is_stale():
    ticket = new_ticket("acme", upsert(external_updated_at=NOW), NOW, 1)
    assert stale(ticket, upsert(external_updated_at=NOW))
    assert stale(ticket, upsert(external_updated_at=NOW - timedelta(seconds=1)))
    assert not stale(ticket, upsert(external_updated_at=NOW + timedelta(seconds=1)))
    assert not stale(ticket, upsert())                       # no clock: the content decides


def test_deleted_tickets_and_moved_versions_are_refused():
    ticket = new_ticket("acme", upsert(), NOW, 1)
    ticket.id = 5
    assert refusal(0, ticket, upsert()) is None
    assert refusal(0, ticket, upsert(expected_version=2)).error["code"] == "precondition_failed"
    ticket.deleted_at = NOW
    out = refusal(3, ticket, upsert())
    assert (out.index, out.status, out.error["code"]) == (3, ERROR, "ticket_deleted")


def test_item_validation_rules():
    for bad in ({"source": None}, {"external_id": None}, {"source": "Zen Desk"},
                {"tags": ["a", "a"]}, {"external_id": "x" * 201}):
        with pytest.raises(ValidationError):
            upsert(**bad)
