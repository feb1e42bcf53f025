"""requester.erased on the real database: the event log loses the texts, counts stay."""
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from analytics_service.erasure import handle_requesters_erased
from analytics_service.persistence import AnalyticsUnitOfWork
from support_shared.events import EventType, RequesterErased, new_event

pytestmark = pytest.mark.integration
T0 = datetime(2025, 3, 1, 9, tzinfo=timezone.utc)


def _count(engine, sql):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def test_erased_tickets_lose_their_texts_in_the_event_log_and_every_count_stays(engine, feed,
                                                                                 events):
    ann, other = events(1, T0), events(2, T0)
    feed(ann.created("high"), ann.categorized(2, "high", 0.9, "keywords"), other.created())
    before = [_count(engine, f"SELECT count(*) FROM {t}") for t in ("event_log", "ticket_facts")]
    erased = new_event(EventType.REQUESTER_ERASED, RequesterErased(requester_id=5, ticket_ids=[1]),
                       tenant_id="acme", ticket_id=None, ticket_version=None)

    handle_requesters_erased([erased], uow=AnalyticsUnitOfWork(engine))

    with engine.connect() as conn:
        logged = dict(conn.execute(sa.text(
            "SELECT ticket_id, data FROM event_log WHERE event_type = 'ticket.created'")).all())
    assert logged[1]["title"] == logged[1]["user_email"] == "[erased]"
    assert logged[1]["priority"] == "high"
    assert logged[2]["user_email"] == "ann@example.com"   # another ticket: not this erasure's
    assert _count(engine, "SELECT count(*) FROM event_log WHERE data::text LIKE '%Printer%' "
                          "AND ticket_id = 1") == 0
    after = [_count(engine, f"SELECT count(*) FROM {t}") for t in ("event_log", "ticket_facts")]
    assert after == before
    assert _count(engine, "SELECT priority FROM ticket_facts WHERE ticket_id = 1") == "high"
