"""Edits and deletes through the real projection and queries (PostgreSQL)."""
from datetime import datetime, timedelta, timezone

import pytest

from analytics_service.app import create_app
from support_shared import dependencies
from support_shared.events import EventType, FieldChange, TicketDeleted, TicketUpdated, new_event
from support_shared.testing.clients import trusted

pytestmark = pytest.mark.integration

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)
ACME = {"X-Tenant-ID": "acme"}


@pytest.fixture
def client(settings):
    app = trusted(create_app(settings, clock=lambda: NOW))
    yield app.test_client()
    dependencies.of(app).close()


def _get(client, path):
    resp = client.get(path, headers=ACME)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_an_edited_priority_moves_the_counts_and_a_deleted_ticket_leaves_them(
        client, feed, events):
    kept, gone = events(1, NOW - timedelta(hours=2)), events(2, NOW - timedelta(hours=1))
    assert all(feed(kept.created("low"), kept.categorized(10, "low", 0.9, "claude"),
                    kept.routed(20, "HR", 0.9), gone.created("high"),
                    gone.categorized(10, "high", 0.8, "claude"), gone.routed(20, "HR", 0.8),
                    gone.status(30, "pending", "resolved", 3)))
    edit = new_event(EventType.TICKET_UPDATED,
                     TicketUpdated(changes={"priority": FieldChange(old="low", new="critical")}),
                     tenant_id="acme", ticket_id=1, ticket_version=3, occurred_at=NOW)
    delete = new_event(EventType.TICKET_DELETED, TicketDeleted(deleted_at=NOW),
                       tenant_id="acme", ticket_id=2, ticket_version=4, occurred_at=NOW)
    assert feed(edit, delete, delete) == [True, True, False]

    summary = _get(client, "/api/dashboard/summary")
    assert summary["total_tickets"] == 1 and summary["resolved_last_24h"] == 0
    assert summary["by_priority"] == {"low": 0, "medium": 0, "high": 0, "critical": 1}
    assert summary["by_department"] == {"HR": 1}
    assert _get(client, "/api/dashboard/routing")["total_routed"] == 1
    tickets = _get(client, "/api/analytics/tickets")
    assert (tickets["total"], tickets["events_processed"]["ticket.deleted"]) == (1, 1)
    assert _get(client, "/api/analytics/department/HR")["total"] == 1
    assert _get(client, "/api/analytics/performance")["time_to_resolve"]["count"] == 0
    trends = _get(client, "/api/analytics/trends?days=1")["trends"]
    assert (trends[-1]["created"], trends[-1]["resolved"]) == (1, 0)
