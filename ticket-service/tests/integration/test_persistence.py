"""Migrations, the repository and the unit of work on the real PostgreSQL."""
import threading
from datetime import timedelta, timezone

import pytest
import sqlalchemy as sa

from support_shared.db import migrate
from support_shared.events import utcnow
from support_shared.testing.helpers import wait_until
from ticket_service.tickets.domain import Ticket
from ticket_service.tickets.handlers import CreateTicket, create_ticket
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
                "tenants", "api_keys"}
    assert _tables(engine, settings.db_schema) == expected
    migrate(engine, settings.db_schema, "ticket_service")
    assert _tables(engine, settings.db_schema) == expected
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0002_accounts"


def test_repository_round_trip_is_tenant_scoped_and_in_utc(make_uow):
    with make_uow() as uow:
        ticket = Ticket.open("a", FIELDS, utcnow(), idempotency_key="k1")
        assert uow.tickets.add(ticket)
        other = Ticket.open("b", FIELDS, utcnow())
        assert uow.tickets.add(other)
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


def test_duplicate_key_insert_returns_false(make_uow):
    with make_uow() as uow:
        assert uow.tickets.add(Ticket.open("a", FIELDS, utcnow(), idempotency_key="k"))
        assert not uow.tickets.add(Ticket.open("a", FIELDS, utcnow(), idempotency_key="k"))
        assert uow.tickets.add(Ticket.open("a", FIELDS, utcnow()))   # no key: never conflicts
        assert uow.tickets.add(Ticket.open("a", FIELDS, utcnow()))
        uow.commit()
    with make_uow() as uow:
        assert len(uow.tickets.list("a", TicketFilter(), 10)) == 3


def test_unit_of_work_rolls_back_unless_committed(make_uow):
    with make_uow() as uow:
        uow.tickets.add(Ticket.open("a", FIELDS, utcnow()))
    with pytest.raises(RuntimeError):
        with make_uow() as uow:
            uow.tickets.add(Ticket.open("a", FIELDS, utcnow()))
            raise RuntimeError("boom")
    with make_uow() as uow:
        assert uow.tickets.list("a", TicketFilter(), 10) == []


def _blocked_by(engine, pid):
    with engine.connect() as conn:
        return conn.scalar(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
            {"pid": pid})


def test_racing_create_waits_for_the_winner_and_replays_it(make_uow, engine):
    results = []
    with make_uow() as first:
        winner = Ticket.open("a", FIELDS, utcnow(), idempotency_key="race")
        first.tickets.add(winner)
        first_pid = first.conn.scalar(sa.text("SELECT pg_backend_pid()"))
        # The loser looks the key up (not visible yet), then blocks on the insert.
        thread = threading.Thread(target=lambda: results.append(
            create_ticket(CreateTicket("a", FIELDS, "race", "r2"), uow=make_uow())))
        thread.start()
        wait_until(lambda: _blocked_by(engine, first_pid) > 0, message="second insert to block")
        first.commit()
    thread.join(10)
    [result] = results
    assert result.replayed is True and result.ticket.id == winner.id
    assert result.ticket.created_at.tzinfo is not None
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM tickets")) == 1
        assert conn.scalar(sa.text("SELECT count(*) FROM outbox")) == 0
    assert winner.created_at.tzinfo == timezone.utc
