"""A batch ends as its events handled one at a time (the same handler, batches of one), in a
few statements."""
import functools
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from routing_service.cli import seed
from routing_service.config import Settings
from routing_service.handlers import handle_tickets_categorized, handle_tickets_created
from routing_service.persistence import unit_of_work
from support_shared.db import drop_schema, migrate
from support_shared.messaging.errors import PermanentError
from support_shared.service import engine_for

pytestmark = pytest.mark.integration

NOW = datetime(2025, 1, 2, 4, 0, tzinfo=timezone.utc)


@pytest.fixture
def reference(make_settings):
    """A second schema where the same events are applied one at a time."""
    settings = make_settings(Settings, schema="routing_ref")
    engine = engine_for(settings)
    migrate(engine, settings.db_schema, "routing_service")
    seed(engine, settings)
    yield engine, functools.partial(unit_of_work, engine, settings.db_schema)
    drop_schema(engine, settings.db_schema)
    engine.dispose()


def _state(engine):
    with engine.connect() as conn:
        tickets = conn.execute(sa.text(
            "SELECT tenant_id, ticket_id, title, department, routing_version, last_method, "
            "confidence, priority, needs_review, ticket_version, categorized_version "
            "FROM routed_tickets ORDER BY 1, 2")).all()
        history = conn.execute(sa.text(
            "SELECT tenant_id, ticket_id, department, method, needs_review, routing_version "
            "FROM routing_history ORDER BY 1, 2, routing_version")).all()
        events = conn.execute(sa.text(
            "SELECT payload->>'ticket_id', payload->'data'->>'department', "
            "headers->>'x-request-id' FROM outbox ORDER BY 1")).all()
        claims = conn.execute(sa.text("SELECT count(*) FROM inbox")).scalar()
    return tickets, history, events, claims


def _handle(batch, uow):
    if batch[0].event_type.value == "ticket.created":
        handle_tickets_created(batch, uow=uow)
    else:
        handle_tickets_categorized(batch, uow=uow, clock=lambda: NOW)


def _batches(events):
    created = [events.created(i, title=f"t{i}") for i in range(1, 13)]
    created.append(events.created(3, tenant="acme", title="acme t3"))    # a tenant without seed
    categorized = [events.categorized(i, "IT Support" if i % 3 else "Facilities",
                                      0.9 if i % 4 else 0.2) for i in range(1, 13)]
    categorized.append(events.categorized(3, "HR", 0.95, tenant="acme"))
    late = [events.categorized(5, "HR", 0.99, version=1)]                 # same version: applied
    same_ticket = [events.categorized(7, "HR", version=3),
                   events.categorized(7, "Finance", version=2),              # stale: dropped
                   events.categorized(10, "HR", version=2),
                   events.categorized(10, "Finance", version=3)]             # both applied
    return [created[:7], created[7:] + created[:2],                    # redelivered creates
            categorized[6:], categorized[:6] + [categorized[0]], late, same_ticket]


def test_batches_end_as_one_event_at_a_time(engine, new_uow, reference, events):
    ref_engine, ref_uow = reference
    batches = _batches(events)
    for batch in batches:
        for envelope in batch:
            _handle([envelope], ref_uow())
    for batch in batches:
        _handle(batch, new_uow())
    tickets, history, published, claims = _state(engine)
    assert (tickets, history, published, claims) == _state(ref_engine)
    assert len(tickets) == 13 and claims == 31
    assert [(h.ticket_id, h.department, h.routing_version) for h in history
            if h.ticket_id in (7, 10) and h.tenant_id == "default"] == [
        (7, "IT Support", 1), (7, "HR", 2), (10, "IT Support", 1), (10, "HR", 2),
        (10, "Finance", 3)]
    assert sum(1 for t in tickets if t.needs_review) == 3                 # 0.2 < min confidence
    # ticket 3 of the default tenant and of acme
    assert {row[1] for row in published if row[0] == "3"} == {"HR", "Facilities"}


def test_a_batch_writes_with_a_few_statements(engine, new_uow, events):
    statements = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    handle_tickets_created([events.created(i) for i in range(1, 41)], uow=new_uow())
    created = len(statements)
    handle_tickets_categorized([events.categorized(i) for i in range(1, 41)], uow=new_uow())
    assert created <= 4                           # claims, defaults check, upsert (+ BEGIN)
    # 40 routed tickets, whatever the count; 4 of them assignment: the tenant lock, its
    # tickets' assignments read and written, its agents (none: no queue is drained)
    assert len(statements) - created <= 14
    assert _state(engine)[3] == 80


def test_a_failing_batch_leaves_nothing(engine, new_uow, events, query):
    query("UPDATE departments SET active = false WHERE is_triage")
    with pytest.raises(PermanentError):
        handle_tickets_categorized([events.categorized(1), events.categorized(2, "Legal")],
                                   uow=new_uow())
    assert _state(engine) == ([], [], [], 0)        # the claims were rolled back with it
