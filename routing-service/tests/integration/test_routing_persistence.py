"""Migrations, seeding, repositories and the unit of work on the real PostgreSQL."""
import threading

import pytest
import sqlalchemy as sa

from routing_service.cli import seed
from routing_service.domain import RoutingRecord
from routing_service.repositories import CreatedTicket, SeenTicket
from support_shared.db import migrate
from support_shared.events import utcnow

pytestmark = pytest.mark.integration


def test_migrate_and_seed_twice_is_idempotent(engine, settings, query):
    migrate(engine, settings.db_schema, "routing_service")
    seed(engine, settings)
    assert query("SELECT version_num FROM alembic_version") == [("0006_agents",)]
    rows = query("SELECT name, min_confidence, is_triage, active FROM departments"
                 " WHERE tenant_id = 'default' ORDER BY id")
    assert rows == [("IT Support", 0.5, False, True), ("HR", 0.5, False, True),
                    ("Facilities", 0.5, False, True), ("Finance", 0.5, False, True),
                    ("General", 0.0, True, True)]
    assert query("SELECT description FROM departments WHERE name = 'HR'") == [
        ("leave, benefits, hiring, contracts, training",)]


def test_department_names_are_unique_per_tenant_ignoring_case(query):
    with pytest.raises(sa.exc.IntegrityError):
        query("INSERT INTO departments (tenant_id, name) VALUES ('default', 'it support')")
    query("INSERT INTO departments (tenant_id, name) VALUES ('other', 'it support')")
    with pytest.raises(sa.exc.IntegrityError):    # one triage department per tenant
        query("INSERT INTO departments (tenant_id, name, is_triage) VALUES ('default', 'X', true)")


def test_concurrent_first_requests_of_a_tenant_copy_defaults_once(new_uow, query):
    first = new_uow()
    with first:
        assert first.departments.ensure_defaults("acme") == 5
        results = []
        # The second transaction blocks on the unique index until the first commits.
        worker = threading.Thread(target=lambda: results.append(_ensure(new_uow, "acme")))
        worker.start()
        worker.join(0.3)
        first.commit()
    worker.join(10)
    assert results == [0]
    assert query("SELECT count(*) FROM departments WHERE tenant_id = 'acme'") == [(5,)]


def _ensure(new_uow, tenant):
    with new_uow() as uow:
        added = uow.departments.ensure_defaults(tenant)
        uow.commit()
    return added


def test_unit_of_work_rolls_back_unless_committed(new_uow, events, query):
    with new_uow() as uow:
        uow.tickets.record_created_many([CreatedTicket("default", 1, "t", utcnow(), 1)])
        uow.history.add_many([RoutingRecord("default", 1, "HR", None, "manual", None, None, None,
                                            False, "test", 1, utcnow())])
        uow.idempotency.claim("default", "k1", "fingerprint")
        uow.outbox.add(events.created())
        uow.inbox.claim(events.created().event_id)
    for table in ("routed_tickets", "routing_history", "outbox", "inbox", "idempotency_keys"):
        assert query(f"SELECT count(*) FROM {table}") == [(0,)], table


def test_created_never_touches_routing_fields_and_versions_only_grow(new_uow):
    with new_uow() as uow:
        [ticket] = uow.tickets.touch_many([SeenTicket("default", 9, 3, None)]).values()
        ticket.department, ticket.routing_version, ticket.last_method = "HR", 1, "auto"
        uow.tickets.save_many([ticket])
        uow.tickets.record_created_many([CreatedTicket("default", 9, "Printer", utcnow(), 1)])
        uow.commit()
    with new_uow() as uow:
        stored = uow.tickets.get("default", 9)
    assert (stored.title, stored.department, stored.routing_version) == ("Printer", "HR", 1)
    assert stored.ticket_version == 3
