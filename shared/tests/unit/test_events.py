import uuid

import orjson
import pytest

from support_shared.events import (
    EventType, InvalidEventError, TicketCreated, TicketStatusUpdated, decode, new_event, utcnow,
)


def _created(**kw):
    data = dict(title="VPN down", description="no VPN", user_name="Ann", user_email="ann@example.com",
                priority="high", created_at=utcnow())
    data.update(kw)
    return TicketCreated(**data)


def test_round_trip_keeps_every_envelope_field():
    env = new_event(EventType.TICKET_CREATED, _created(), tenant_id="acme", ticket_id=7,
                    ticket_version=1, correlation_id="req-1")
    back = decode(env.to_json())
    assert back == env
    assert back.routing_key == "ticket.created"
    assert isinstance(back.payload(), TicketCreated)
    assert back.payload().title == "VPN down"


def test_payload_type_must_match_event_type():
    with pytest.raises(TypeError):
        new_event(EventType.TICKET_ROUTED, _created(), tenant_id="t", ticket_id=1, ticket_version=1)


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b"{}", b'{"event_type": "ticket.created"}'])
def test_malformed_bodies_are_invalid(body):
    with pytest.raises(InvalidEventError):
        decode(body)


def test_wrong_data_is_invalid():
    env = new_event(EventType.TICKET_STATUS_UPDATED,
                    TicketStatusUpdated(old_status="pending", new_status="in_progress"),
                    tenant_id="t", ticket_id=1, ticket_version=2)
    raw = orjson.loads(env.to_json())
    raw["data"]["new_status"] = "exploded"
    with pytest.raises(InvalidEventError):
        decode(orjson.dumps(raw))


def test_future_schema_version_is_refused():
    env = new_event(EventType.TICKET_CREATED, _created(), tenant_id="t", ticket_id=1, ticket_version=1)
    raw = orjson.loads(env.to_json())
    raw["schema_version"] = 99
    with pytest.raises(InvalidEventError):
        decode(orjson.dumps(raw))


def test_event_ids_are_unique():
    ids = {new_event(EventType.TICKET_CREATED, _created(), tenant_id="t", ticket_id=1,
                     ticket_version=1).event_id for _ in range(100)}
    assert len(ids) == 100 and all(isinstance(i, uuid.UUID) for i in ids)
