"""handle_events on a consumer batch gives the same facts as on one event at a time."""
import random
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from analytics_service.persistence import AnalyticsUnitOfWork
from analytics_service.projection import handle_events
from support_shared.db import drop_schema, migrate
from support_shared.events import InvalidEventError
from support_shared.service import engine_for

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 10, 8, 0, tzinfo=timezone.utc)


def _ticket_events(events, ticket_id, tenant="acme"):
    e = events(ticket_id, T0, tenant)
    return [e.created(priority="high"), e.categorized(1, "critical", 0.9, "local_model"),
            e.routed(2, "IT Support", 0.9), e.routed(3, "Facilities", None, version=2),
            e.status(4, "pending", "in_progress", 3), e.status(5, "in_progress", "resolved", 4)]


def _state(engine):
    with engine.connect() as conn:
        facts = conn.execute(sa.text(
            "SELECT * FROM ticket_facts ORDER BY tenant_id, ticket_id")).mappings().all()
        logged = conn.execute(sa.text("SELECT count(*) FROM event_log")).scalar()
        claimed = conn.execute(sa.text("SELECT count(*) FROM inbox")).scalar()
    return [dict(row) for row in facts], logged, claimed


@pytest.fixture
def other_engine(make_settings):
    from analytics_service.config import Settings
    settings = make_settings(Settings, schema="analytics_bulk_ref")
    engine = engine_for(settings)
    migrate(engine, settings.db_schema, "analytics_service")
    yield engine
    drop_schema(engine, settings.db_schema)
    engine.dispose()


def test_a_shuffled_batch_with_duplicates_ends_as_one_by_one(engine, other_engine, feed, events):
    stream = [ev for t in range(1, 9) for ev in _ticket_events(events, t)]
    stream += _ticket_events(events, 1, tenant="other")          # same ticket id, other tenant
    random.Random(7).shuffle(stream)
    stream += stream[:10]                                        # redelivered copies
    # Reference: every event alone (a batch of one), in the same order, in another schema.
    for envelope in stream:
        handle_events([envelope], uow=AnalyticsUnitOfWork(other_engine))
    reference = _state(other_engine)

    applied = sum(handle_events(stream[i:i + 17], uow=AnalyticsUnitOfWork(engine))
                  for i in range(0, len(stream), 17))
    assert applied == 54                                         # 9 tickets x 6 events, once
    assert _state(engine) == reference
    facts, logged, claimed = reference
    assert (logged, claimed, len(facts)) == (54, 54, 9)
    assert {f["status"] for f in facts} == {"resolved"}
    assert {f["department"] for f in facts} == {"Facilities"}    # the higher routing version


def test_a_batch_uses_the_same_few_statements_whatever_its_size(engine, events):
    statements = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda *args: statements.append(args[2]))
    batch = [ev for t in range(1, 31) for ev in _ticket_events(events, t)]
    handle_events(batch, uow=AnalyticsUnitOfWork(engine))
    writes = [s for s in statements if not s.lstrip().upper().startswith(("SELECT", "BEGIN"))]
    assert len(writes) == 4      # inbox claims, event log, lock facts, save facts: 180 events
    assert _state(engine)[1:] == (180, 180)


def test_an_unreadable_event_fails_the_batch_and_nothing_is_written(engine, events):
    good = _ticket_events(events, 1)
    bad = good[1].model_copy(update={"data": {"department": 5}})
    with pytest.raises(InvalidEventError):
        handle_events([good[0], bad], uow=AnalyticsUnitOfWork(engine))
    assert _state(engine) == ([], 0, 0)
