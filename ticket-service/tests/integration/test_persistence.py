"""Migrations, the repository and the unit of work on the real PostgreSQL."""
from datetime import timedelta, timezone

import pytest
import sqlalchemy as sa

from support_shared.db import migrate
from support_shared.events import utcnow
from ticket_service.tickets.domain import IdempotencyKeyInFlightError, Ticket
from ticket_service.tickets.handlers import CreateTicket, create_tickets, single
from ticket_service.tickets.persistence import TicketFilter

pytestmark = pytest.mark.integration

FIELDS = {"title": "VPN down", "description": "cannot connect", "user_name": "Ann",
          "user_email": "ann@example.com", "priority": "high"}


def _tables(engine, schema):
    with engine.connect() as conn:
        return set(conn.scalars(sa.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
            {"s": schema}))


def test_migration_creates_every_table_and_is_repeatable(engine, settings):
    expected = {"alembic_version", "outbox", "inbox", "tickets", "users", "comments", "audit",
                "tenants", "api_keys", "tenant_settings",
                "sla_policies", "sla_calendars", "sla_timers"}
    assert _tables(engine, settings.db_schema) == expected
    migrate(engine, settings.db_schema, "ticket_service")
    assert _tables(engine, settings.db_schema) == expected
    with engine.connect() as conn:
        head = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
        assert head == "0011_sla"


def test_repository_round_trip_is_tenant_scoped_and_in_utc(make_uow):
    with make_uow() as uow:
        ticket = Ticket.open("a", FIELDS, utcnow(), idempotency_key="k1")
        other = Ticket.open("b", FIELDS, utcnow())
        uow.tickets.add_many([ticket, other])
        assert ticket.id is not None and other.id is not None
        uow.commit()
    with make_uow() as uow:
        loaded = uow.tickets.get("a", ticket.id, for_update=True)
        assert loaded == ticket
        assert loaded.created_at.utcoffset() == timedelta(0)
        assert uow.tickets.get("b", ticket.id) is None
        assert uow.tickets.get_by_idempotency_key("a", "k1").id == ticket.id
        assert uow.tickets.get_by_idempotency_key("b", "k1") is None
        loaded.change_status("in_progress", utcnow())
        uow.tickets.save(loaded)
        uow.commit()
    with make_uow() as uow:
        assert uow.tickets.get("a", ticket.id).status == "in_progress"
        assert [t.id for t in uow.tickets.list("a", TicketFilter(), 10)] == [ticket.id]
        assert uow.tickets.list("a", TicketFilter(status="pending"), 10) == []


def test_a_taken_idempotency_key_fails_the_insert(make_uow):
    with make_uow() as uow:
        uow.tickets.add_many([Ticket.open("a", FIELDS, utcnow(), idempotency_key="k"),
                              Ticket.open("a", FIELDS, utcnow()),   # no key: never conflicts
                              Ticket.open("a", FIELDS, utcnow())])
        uow.commit()
    with pytest.raises(sa.exc.IntegrityError):
        with make_uow() as uow:
            uow.tickets.add_many([Ticket.open("a", FIELDS, utcnow(), idempotency_key="k")])
    with make_uow() as uow:
        assert len(uow.tickets.list("a", TicketFilter(), 10)) == 3


def test_unit_of_work_rolls_back_unless_committed(make_uow):
    with make_uow() as uow:
        uow.tickets.add_many([Ticket.open("a", FIELDS, utcnow())])
    with pytest.raises(RuntimeError):
        with make_uow() as uow:
            uow.tickets.add_many([Ticket.open("a", FIELDS, utcnow())])
            raise RuntimeError("boom")
    with make_uow() as uow:
        assert uow.tickets.list("a", TicketFilter(), 10) == []


def test_a_create_racing_the_holder_of_its_key_is_refused_then_replays(make_uow, engine):
    cmd = CreateTicket("a", FIELDS, "race", "r2")
    with make_uow() as first:
        assert first.tickets.claim_idempotency_key("a", "race")
        winner = Ticket.open("a", FIELDS, utcnow(), idempotency_key="race")
        first.tickets.add_many([winner])
        [in_flight] = create_tickets([cmd], uow=make_uow())
        assert isinstance(in_flight, IdempotencyKeyInFlightError)
        first.commit()
    result = single(create_tickets([cmd], uow=make_uow()))
    assert result.replayed is True and result.ticket.id == winner.id
    assert result.ticket.created_at.tzinfo is not None
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM tickets")) == 1
        assert conn.scalar(sa.text("SELECT count(*) FROM outbox")) == 0
    assert winner.created_at.tzinfo == timezone.utc
