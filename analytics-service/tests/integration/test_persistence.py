"""Migrations, the projection's unit of work and its locking on the real PostgreSQL."""
import threading
from dataclasses import replace
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from analytics_service.persistence import AnalyticsUnitOfWork, SqlFactsRepository
from analytics_service.projection import handle_events
from support_shared.db import migrate

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 10, 8, 0, tzinfo=timezone.utc)


def _count(engine, table):
    with engine.connect() as conn:
        return conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))


def test_migration_creates_the_schema_and_can_run_again(engine, settings):
    migrate(engine, settings.db_schema, "analytics_service")
    inspector = sa.inspect(engine)
    tables = set(inspector.get_table_names(schema=settings.db_schema))
    assert {"inbox", "event_log", "ticket_facts", "sla_events", "alembic_version"} <= tables
    assert "outbox" not in tables
    indexes = {ix["name"] for ix in inspector.get_indexes("ticket_facts", schema=settings.db_schema)}
    assert {"ix_ticket_facts_tenant_created", "ix_ticket_facts_tenant_department",
            "ix_ticket_facts_tenant_status"} <= indexes
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0004_sla"


def test_event_is_logged_and_projected_once(engine, feed, events):
    created = events(7, T0).created(priority="high")
    assert feed(created, created) == [True, False]
    assert _count(engine, "inbox") == 1
    with engine.connect() as conn:
        log = conn.execute(sa.text("SELECT event_type, ticket_id, ticket_version, data FROM event_log")).one()
        facts = conn.execute(sa.text(
            "SELECT tenant_id, priority, status, status_version, created_at FROM ticket_facts")).one()
    assert (log.event_type, log.ticket_id, log.ticket_version) == ("ticket.created", 7, 1)
    assert log.data["priority"] == "high"
    assert tuple(facts) == ("acme", "high", "pending", 1, T0)


class _BrokenFacts(SqlFactsRepository):
    def save_many(self, facts):
        raise RuntimeError("disk full")


class _BrokenUnitOfWork(AnalyticsUnitOfWork):
    def _start(self, conn):
        super()._start(conn)
        self.facts = _BrokenFacts(conn)


def test_failure_rolls_back_inbox_log_and_facts(engine, feed, events):
    event = events(8, T0).created()
    with pytest.raises(RuntimeError):
        handle_events([event], uow=_BrokenUnitOfWork(engine))
    assert [_count(engine, t) for t in ("inbox", "event_log", "ticket_facts")] == [0, 0, 0]
    assert feed(event) == [True]      # the redelivery is applied
    assert _count(engine, "ticket_facts") == 1


def test_first_events_of_a_ticket_serialize_on_its_row(engine, feed, events):
    ticket = events(9, T0)
    first, second = ticket.status(60, "pending", "in_progress", 2), ticket.routed(30, "HR", 0.7)
    with AnalyticsUnitOfWork(engine) as uow:
        assert uow.inbox.claim(first.event_id)
        facts = uow.facts.lock_many([("acme", 9)])[("acme", 9)]
        worker = threading.Thread(target=feed, args=(second,), daemon=True)
        worker.start()
        worker.join(0.5)
        assert worker.is_alive()                 # waits on the row lock, no duplicate-key error
        uow.facts.save_many([replace(facts, status="in_progress", status_version=2)])
        uow.commit()
    worker.join(10)
    assert not worker.is_alive()
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT status, status_version, department FROM ticket_facts WHERE ticket_id = 9")).one()
    assert tuple(row) == ("in_progress", 2, "HR")
