"""The SLA report on the real database: warnings and breaches kept once, compliance per
department and priority, first-response and resolution times (p50/p90), one tenant only."""
from datetime import datetime, timedelta, timezone

import pytest

from analytics_service.app import create_app
from analytics_service.persistence import AnalyticsUnitOfWork
from analytics_service.sla import handle_sla_events
from support_shared import dependencies
from support_shared.events import (EventType, SlaBreached, SlaWarning, TicketCommented,
                                   new_event)
from support_shared.testing.clients import trusted

pytestmark = pytest.mark.integration

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)


def _sla(event_type, ticket_id, at, tenant="acme", kind="first_response"):
    fields = dict(ticket_id=ticket_id, kind=kind, target_minutes=15, due_at=at,
                  department="IT Support", priority="high")
    payload = (SlaBreached(**fields) if event_type == EventType.SLA_BREACHED
               else SlaWarning(**fields, warning_at=at - timedelta(minutes=3)))
    return new_event(event_type, payload, tenant_id=tenant, ticket_id=None, ticket_version=None,
                     occurred_at=at)


def _commented(t, seconds, version, kind="agent"):
    return new_event(EventType.TICKET_COMMENTED, TicketCommented(comment_id=version,
                                                                 author_kind=kind),
                     tenant_id=t.tenant, ticket_id=t.ticket_id, ticket_version=version,
                     occurred_at=t.created_at + timedelta(seconds=seconds))


@pytest.fixture
def client(settings, engine):
    app = trusted(create_app(settings, clock=lambda: NOW))
    yield app.test_client()
    dependencies.of(app).close()


def test_compliance_breaches_and_times_per_department_and_priority(client, engine, feed, events):
    t1 = events(1, datetime(2025, 3, 10, 8, tzinfo=timezone.utc))
    t2 = events(2, datetime(2025, 3, 10, 9, tzinfo=timezone.utc))
    t3 = events(3, datetime(2025, 3, 9, 10, tzinfo=timezone.utc))
    other = events(9, datetime(2025, 3, 10, 9, tzinfo=timezone.utc), tenant="globex")
    assert all(feed(
        t1.created("high"), t1.routed(5, "IT Support", 0.9),
        _commented(t1, 300, 3, "internal"), _commented(t1, 600, 4),       # reply after 10 min
        t1.status(1200, "pending", "in_progress", 5), t1.status(3600, "in_progress", "resolved", 6),
        t2.created("high"), t2.routed(5, "IT Support", 0.9),
        _commented(t2, 120, 3, "requester"), _commented(t2, 1800, 4),     # reply after 30 min
        t3.created("low"), t3.routed(5, "HR", 0.9),
        t3.status(600, "pending", "in_progress", 3), t3.status(7200, "in_progress", "resolved", 4),
        other.created("high"), other.routed(5, "IT Support", 0.9),
    ))
    breach = _sla(EventType.SLA_BREACHED, 2, t2.created_at + timedelta(minutes=15))
    sla_events = [_sla(EventType.SLA_WARNING, 2, t2.created_at + timedelta(minutes=12)), breach,
                  breach, _sla(EventType.SLA_BREACHED, 9, other.created_at, tenant="globex")]
    assert handle_sla_events(sla_events, uow=AnalyticsUnitOfWork(engine)) == 3   # a duplicate
    assert handle_sla_events([breach], uow=AnalyticsUnitOfWork(engine)) == 0

    resp = client.get("/api/analytics/sla?days=7", headers={"X-Tenant-ID": "acme"})
    assert resp.status_code == 200, resp.get_json()
    report = resp.get_json()
    assert report["days"] == 7
    assert report["total"] == {
        "tickets": 3, "breached_tickets": 1, "compliance": 0.6667,
        "breaches": {"first_response": 1, "resolution": 0}, "warnings": 1,
        "first_response_minutes": {"p50": 20.0, "p90": 28.0},      # of 10 and 30
        "resolution_minutes": {"p50": 90.0, "p90": 114.0}}         # of 60 and 120
    groups = {(g.pop("department"), g.pop("priority")): g for g in report["groups"]}
    assert set(groups) == {("HR", "low"), ("IT Support", "high")}
    assert groups[("IT Support", "high")]["compliance"] == 0.5
    assert groups[("IT Support", "high")]["resolution_minutes"] == {"p50": 60.0, "p90": 60.0}
    assert groups[("HR", "low")]["compliance"] == 1.0
    assert groups[("HR", "low")]["first_response_minutes"] == {"p50": None, "p90": None}


def test_a_tenant_without_tickets_gets_an_empty_report(client, engine):
    resp = client.get("/api/analytics/sla", headers={"X-Tenant-ID": "nobody"})
    report = resp.get_json()
    assert report["days"] == 30 and report["groups"] == []
    assert report["total"]["tickets"] == 0 and report["total"]["compliance"] is None
    assert client.get("/api/analytics/sla?days=0",
                      headers={"X-Tenant-ID": "nobody"}).status_code == 400
